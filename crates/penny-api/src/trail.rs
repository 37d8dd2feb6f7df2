//! Writes an admin change to the audit log inside the change's own transaction, so a
//! change and its record commit (or roll back) together.

use penny_store::{audit, TenantTx};

use crate::error::ApiResult;
use crate::extract::{ClientMeta, Principal};

pub struct Change<'a> {
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: String,
    pub payload_sha256: Option<&'a [u8]>,
    pub details: serde_json::Value,
}

pub async fn record(
    tx: &mut TenantTx,
    who: &Principal,
    meta: &ClientMeta,
    c: Change<'_>,
) -> ApiResult<()> {
    audit::append(
        tx,
        who.tenant,
        audit::Entry {
            actor: Some(who.user),
            action: c.action,
            target_type: Some(c.target_type),
            target_id: Some(c.target_id),
            ip: meta.ip_string(),
            user_agent: meta.user_agent.clone(),
            payload_sha256: c.payload_sha256.map(<[u8]>::to_vec),
            details: c.details,
        },
    )
    .await?;
    Ok(())
}
