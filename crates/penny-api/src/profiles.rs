//! What `GET /api/v1/me` answers, kept per user for at most [`ACCESS_TTL`], so the call
//! most clients make on every page load costs no database round trip. A change of the
//! user or of their tenant made through the API is announced like a change of access
//! ([`crate::access::changed`]) and forgotten at once on every instance; a change made
//! elsewhere (the CLI) shows within the TTL, as it does for access.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use penny_store::users::User;
use penny_store::{tenants, users, Store, StoreError, TenantId, UserId};

use crate::access::ACCESS_TTL;
use crate::error::ApiError;

/// A user and the names of their tenant, as read together.
#[derive(Debug)]
pub(crate) struct Profile {
    pub user: User,
    pub tenant_slug: String,
    pub tenant_name: String,
}

type Entries = HashMap<(TenantId, UserId), (Arc<Profile>, Instant)>;

#[derive(Default)]
pub(crate) struct Profiles {
    entries: Mutex<Entries>,
}

impl Profiles {
    /// `user`'s profile, at most [`ACCESS_TTL`] old.
    pub(crate) async fn get(
        &self,
        store: &Store,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Arc<Profile>, ApiError> {
        if let Some((p, at)) = self.lock().get(&(tenant, user)) {
            if at.elapsed() < ACCESS_TTL {
                return Ok(p.clone());
            }
        }
        let mut tx = store.tenant(tenant).await?;
        let found = users::by_id(&mut tx, user)
            .await?
            .ok_or(ApiError::Unauthenticated("this user no longer exists"))?;
        let t = tenants::by_id(&mut *tx, tenant)
            .await?
            .ok_or(ApiError::NotFound)?;
        tx.commit().await.map_err(StoreError::from)?;
        let profile = Arc::new(Profile {
            user: found,
            tenant_slug: t.slug,
            tenant_name: t.name,
        });
        let mut entries = self.lock();
        // As in the access cache: old entries go as new ones come.
        entries.retain(|_, (_, at)| at.elapsed() < ACCESS_TTL);
        entries.insert((tenant, user), (profile.clone(), Instant::now()));
        Ok(profile)
    }

    /// Forgets `user` (with `None`: everyone of `tenant`).
    pub(crate) fn forget(&self, tenant: TenantId, user: Option<UserId>) {
        self.lock()
            .retain(|(t, u), _| *t != tenant || user.is_some_and(|user| *u != user));
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
