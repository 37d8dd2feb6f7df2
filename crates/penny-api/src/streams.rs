//! Open event streams per user: every WebSocket and every SSE response holds a
//! [`StreamSlot`] for as long as it is open, and a user may hold at most
//! `max_streams_per_user` of them on one instance. A socket has one subscription at a time
//! (a `resume` replaces it), so this bounds what one user's streams cost the instance.
//!
//! The count is per instance: a user's limit across N API instances is N times it. That
//! is the bound that protects an instance's memory, which is what the limit is for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use penny_store::UserId;

use crate::error::ApiError;

pub(crate) struct StreamSlots {
    max: usize,
    open: Mutex<HashMap<UserId, usize>>,
}

/// One open stream of a user; dropping it gives the slot back.
pub(crate) struct StreamSlot {
    slots: Arc<StreamSlots>,
    user: UserId,
}

impl StreamSlots {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more stream of `user`, or `too_many_streams` when they hold all.
    pub(crate) fn acquire(self: &Arc<Self>, user: UserId) -> Result<StreamSlot, ApiError> {
        let mut open = self.lock();
        let n = open.entry(user).or_insert(0);
        if *n >= self.max {
            return Err(ApiError::TooManyStreams { max: self.max });
        }
        *n += 1;
        Ok(StreamSlot {
            slots: self.clone(),
            user,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, usize>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        if let Some(n) = open.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_user_and_given_back() {
        let slots = StreamSlots::new(2);
        let (a, b) = (UserId(uuid::Uuid::new_v4()), UserId(uuid::Uuid::new_v4()));
        let first = slots.acquire(a).unwrap();
        let _second = slots.acquire(a).unwrap();
        assert!(slots.acquire(a).is_err());
        assert!(
            slots.acquire(b).is_ok(),
            "another user has slots of their own"
        );
        drop(first);
        assert!(slots.acquire(a).is_ok());
    }
}
