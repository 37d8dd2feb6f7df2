//! Concurrency bounds within one process: at most `max` things held at once per key
//! (a user's open streams, a tenant's running answers). A [`Slot`] is held for as long as
//! the thing lives and gives itself back when dropped, however that thing ends.
//!
//! The count is per process: across N instances the bound is N times it. That is the bound
//! that protects an instance, which is what these limits are for.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

pub struct Slots<K: Eq + Hash + Clone> {
    max: usize,
    held: Mutex<HashMap<K, usize>>,
}

/// One held slot of a key; dropping it gives the slot back.
pub struct Slot<K: Eq + Hash + Clone> {
    slots: Arc<Slots<K>>,
    key: K,
}

impl<K: Eq + Hash + Clone> Slots<K> {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            held: Mutex::new(HashMap::new()),
        })
    }

    /// The most slots one key may hold.
    pub fn max(&self) -> usize {
        self.max
    }

    /// One more slot for `key`, or `None` when it holds `max` already.
    pub fn acquire(self: &Arc<Self>, key: K) -> Option<Slot<K>> {
        let mut held = self.lock();
        let n = held.entry(key.clone()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: self.clone(),
            key,
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, usize>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<K: Eq + Hash + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut held = self.slots.lock();
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_key_and_given_back() {
        let slots = Slots::new(2);
        let first = slots.acquire("a").unwrap();
        let _second = slots.acquire("a").unwrap();
        assert!(slots.acquire("a").is_none());
        assert!(
            slots.acquire("b").is_some(),
            "another key has slots of its own"
        );
        drop(first);
        assert!(slots.acquire("a").is_some());
    }
}
