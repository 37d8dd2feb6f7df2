//! Open event streams per user: every WebSocket and every SSE response holds a
//! [`StreamSlot`] for as long as it is open, and a user may hold at most
//! `max_streams_per_user` of them on one instance. A socket has one subscription at a time
//! (a `resume` replaces it), so this bounds what one user's streams cost the instance.

use std::sync::Arc;

use penny_limits::{Slot, Slots};
use penny_store::UserId;

use crate::error::ApiError;

pub(crate) struct StreamSlots(Arc<Slots<UserId>>);

/// One open stream of a user; dropping it gives the slot back.
pub(crate) type StreamSlot = Slot<UserId>;

impl StreamSlots {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self(Slots::new(max)))
    }

    /// A slot for one more stream of `user`, or `too_many_streams` when they hold all.
    pub(crate) fn acquire(&self, user: UserId) -> Result<StreamSlot, ApiError> {
        self.0
            .acquire(user)
            .ok_or(ApiError::TooManyStreams { max: self.0.max() })
    }
}
