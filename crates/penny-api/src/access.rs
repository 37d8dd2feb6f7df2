//! Access ends when access ends. An access token says who logged in; whether they may
//! still act — the user active, the login not ended, and with which role — is read from
//! the database and kept for at most [`ACCESS_TTL`], so a logout, deactivation, demotion
//! or password reset takes effect within seconds, not when the token expires.
//!
//! The same announcement makes every instance forget what `/me` answers for that user
//! ([`crate::profiles`]).
//!
//! A change is announced on the bus topic [`TOPIC`] (`{"tenant", "user"}`; no `user`: the
//! whole tenant), and every instance forgets what it knew at once; the TTL bounds the rest
//! (a missed message, a change made by the CLI).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use penny_bus::Bus;
use penny_store::sessions::{self, Access};
use penny_store::{Store, StoreError, TenantId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

/// Longest time a change of access may go unseen by an instance.
pub(crate) const ACCESS_TTL: Duration = Duration::from_secs(5);
/// The bus topic on which changes of access are announced.
pub(crate) const TOPIC: &str = "penny:access";

type Key = (TenantId, UserId, Uuid);

pub(crate) struct AccessCache {
    entries: Mutex<HashMap<Key, (Option<Access>, Instant)>>,
}

/// A change of access, as it travels on the bus.
#[derive(Serialize, Deserialize)]
struct Changed {
    tenant: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<Uuid>,
}

impl AccessCache {
    pub(crate) fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The access of `user`'s login `family`, at most [`ACCESS_TTL`] old.
    pub(crate) async fn get(
        &self,
        store: &Store,
        tenant: TenantId,
        user: UserId,
        family: Uuid,
    ) -> Result<Option<Access>, ApiError> {
        let key = (tenant, user, family);
        if let Some((access, at)) = self.lock().get(&key) {
            if at.elapsed() < ACCESS_TTL {
                return Ok(access.clone());
            }
        }
        let mut tx = store.tenant(tenant).await?;
        let access = sessions::access(&mut tx, user, family).await?;
        tx.commit().await.map_err(StoreError::from)?;
        let mut entries = self.lock();
        // Entries past their time go as new ones come: the map holds about as many
        // logins as were active in the last few seconds.
        entries.retain(|_, (_, at)| at.elapsed() < ACCESS_TTL);
        entries.insert(key, (access.clone(), Instant::now()));
        Ok(access)
    }

    fn forget(&self, tenant: TenantId, user: Option<UserId>) {
        self.lock()
            .retain(|(t, u, _), _| *t != tenant || user.is_some_and(|user| *u != user));
    }

    fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (Option<Access>, Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Says that the access of `user` (or, with `None`, of everyone in `tenant`) changed:
/// this instance forgets it now, the others when the bus tells them. Call it after the
/// change committed.
pub(crate) async fn changed(state: &crate::AppState, tenant: TenantId, user: Option<UserId>) {
    forget(&state.access, &state.tenants, &state.profiles, tenant, user);
    let msg = Changed {
        tenant: tenant.0,
        user: user.map(|u| u.0),
    };
    let payload = match serde_json::to_vec(&msg) {
        Ok(p) => Bytes::from(p),
        Err(_) => return,
    };
    if let Err(e) = state.engine.bus().publish(TOPIC, payload).await {
        // The other instances see the change when their entries expire.
        tracing::warn!(error = %e, "announcing a change of access failed");
    }
}

/// Forgets what this instance knew of `user` (with `None`: of all of `tenant`).
fn forget(
    access: &AccessCache,
    tenants: &crate::tenant_cache::TenantCache,
    profiles: &crate::profiles::Profiles,
    tenant: TenantId,
    user: Option<UserId>,
) {
    access.forget(tenant, user);
    profiles.forget(tenant, user);
    if user.is_none() {
        tenants.forget(tenant);
    }
}

/// Listens for changes announced by other instances, for as long as the bus runs.
pub(crate) fn listen(
    bus: Arc<dyn Bus>,
    access: Arc<AccessCache>,
    tenants: Arc<crate::tenant_cache::TenantCache>,
    profiles: Arc<crate::profiles::Profiles>,
) {
    tokio::spawn(async move {
        loop {
            let mut sub = match bus.subscribe(TOPIC).await {
                Ok(sub) => sub,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot hear changes of access; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            loop {
                match sub.recv().await {
                    Ok(Some(payload)) => {
                        let Ok(msg) = serde_json::from_slice::<Changed>(&payload) else {
                            continue;
                        };
                        let (tenant, user) = (TenantId(msg.tenant), msg.user.map(UserId));
                        forget(&access, &tenants, &profiles, tenant, user);
                    }
                    // Missed messages: forget everything rather than guess.
                    Err(_) => {
                        access.clear();
                        profiles.clear();
                    }
                    Ok(None) => return,
                }
            }
        }
    });
}
