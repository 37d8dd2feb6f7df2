//! A few seconds of memory for per-tenant facts read on every request (status, rate
//! limit), so the hot path does not query the tenants table each time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use penny_store::{tenants, Store, TenantId};

use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct TenantFacts {
    pub active: bool,
    pub rate_limit_per_minute: Option<u64>,
}

pub struct TenantCache {
    ttl: Duration,
    entries: Mutex<HashMap<TenantId, (TenantFacts, Instant)>>,
}

impl TenantCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub async fn get(&self, store: &Store, id: TenantId) -> Result<TenantFacts, ApiError> {
        if let Some((facts, at)) = self.lock().get(&id) {
            if at.elapsed() < self.ttl {
                return Ok(facts.clone());
            }
        }
        let tenant = tenants::by_id(store.pool(), id)
            .await?
            .ok_or(ApiError::Unauthenticated(
                "the tenant of this credential no longer exists",
            ))?;
        let facts = TenantFacts {
            active: tenant.status == "active",
            rate_limit_per_minute: tenant.rate_limit_per_minute.map(|n| n.max(1) as u64),
        };
        self.lock().insert(id, (facts.clone(), Instant::now()));
        Ok(facts)
    }

    /// Drops what is known of `id`, so this instance sees a change at once (others within
    /// the TTL).
    pub fn forget(&self, id: TenantId) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, (TenantFacts, Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
