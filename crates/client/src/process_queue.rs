//! [`ProcessQueue`]: the messages of one assigned queue that were pulled and not yet consumed.
//!
//! Invariant: the offset a consumer may commit for the queue is the smallest offset still in
//! flight, or one past the largest offset ever pulled when nothing is in flight. Messages can
//! complete in any order under concurrent consumption, so committing anything larger could skip
//! an unconsumed message after a restart or a rebalance.
//!
//! It also carries the queue's drop flag (the queue was given away) and, for ordered
//! consumption, the broker lock state and the consume lock: held while a callback of the queue
//! runs and its offset is recorded, so a rebalance can wait for the queue to be idle before it
//! hands the queue (and its broker lock) to another member.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex as AsyncMutex, MutexGuard as AsyncMutexGuard};
use tokio_util::sync::CancellationToken;

/// A broker lock older than this is not trusted (`REBALANCE_LOCK_MAX_LIVE_TIME`, 30 s).
pub(crate) const LOCK_MAX_LIVE: Duration = Duration::from_secs(30);

#[derive(Default)]
struct InFlight {
    // queue offset → present; values are not needed, only the order.
    offsets: BTreeMap<i64, ()>,
    max_pulled: Option<i64>,
}

/// One assigned queue's in-flight messages and state.
pub(crate) struct ProcessQueue {
    // Guards the in-flight set only.
    in_flight: Mutex<InFlight>,
    dropped: CancellationToken,
    // Cancelled when the queue's pull loop has ended.
    stopped: CancellationToken,
    locked: AtomicBool,
    // Guards the last successful lock time only.
    last_lock: Mutex<Option<Instant>>,
    // Held across an ordered callback and its offset update (an async lock: it spans the
    // callback's `.await`).
    consume_lock: AsyncMutex<()>,
}

impl ProcessQueue {
    pub(crate) fn new(cancel_parent: &CancellationToken) -> Self {
        ProcessQueue {
            in_flight: Mutex::new(InFlight::default()),
            dropped: cancel_parent.child_token(),
            stopped: CancellationToken::new(),
            locked: AtomicBool::new(false),
            last_lock: Mutex::new(None),
            consume_lock: AsyncMutex::new(()),
        }
    }

    /// Taken by ordered consumption around each callback and its offset update.
    pub(crate) async fn consume_lock(&self) -> AsyncMutexGuard<'_, ()> {
        self.consume_lock.lock().await
    }

    /// The consume lock if it comes free within `wait`: no callback of the queue is running.
    pub(crate) async fn try_consume_lock(&self, wait: Duration) -> Option<AsyncMutexGuard<'_, ()>> {
        tokio::time::timeout(wait, self.consume_lock.lock()).await.ok()
    }

    /// Records pulled offsets.
    pub(crate) fn put(&self, offsets: impl IntoIterator<Item = i64>) {
        let mut f = self.in_flight.lock().expect("in-flight lock");
        for o in offsets {
            f.offsets.insert(o, ());
            f.max_pulled = Some(f.max_pulled.map_or(o, |m| m.max(o)));
        }
    }

    /// Marks offsets consumed; returns the offset that may now be committed, if any message was
    /// ever pulled.
    pub(crate) fn remove(&self, offsets: impl IntoIterator<Item = i64>) -> Option<i64> {
        let mut f = self.in_flight.lock().expect("in-flight lock");
        for o in offsets {
            f.offsets.remove(&o);
        }
        match f.offsets.keys().next() {
            Some(first) => Some(*first),
            None => f.max_pulled.map(|m| m + 1),
        }
    }

    /// Forgets every in-flight message (ordered consumption lost its lock).
    pub(crate) fn clear(&self) {
        let mut f = self.in_flight.lock().expect("in-flight lock");
        f.offsets.clear();
        f.max_pulled = None;
    }

    /// Messages in flight.
    pub(crate) fn count(&self) -> usize {
        self.in_flight.lock().expect("in-flight lock").offsets.len()
    }

    /// Cancelled when the queue is given away or the consumer stops.
    pub(crate) fn dropped(&self) -> &CancellationToken {
        &self.dropped
    }

    /// Cancelled once the pull loop of the queue has ended (it touches the offsets no more).
    pub(crate) fn stopped(&self) -> &CancellationToken {
        &self.stopped
    }

    pub(crate) fn is_dropped(&self) -> bool {
        self.dropped.is_cancelled()
    }

    /// Records the outcome of a lock attempt at `now`.
    pub(crate) fn set_locked(&self, locked: bool, now: Instant) {
        self.locked.store(locked, Ordering::Relaxed);
        if locked {
            *self.last_lock.lock().expect("lock time lock") = Some(now);
        }
    }

    /// Whether the broker lock is held and recent enough to trust at `now`.
    pub(crate) fn holds_lock(&self, now: Instant) -> bool {
        self.locked.load(Ordering::Relaxed)
            && self
                .last_lock
                .lock()
                .expect("lock time lock")
                .is_some_and(|t| now.saturating_duration_since(t) < LOCK_MAX_LIVE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_offset_is_the_smallest_in_flight() {
        let pq = ProcessQueue::new(&CancellationToken::new());
        assert_eq!(pq.remove([]), None);
        pq.put([10, 11, 12, 13]);
        assert_eq!(pq.count(), 4);
        // Out-of-order completion does not move past 10.
        assert_eq!(pq.remove([12]), Some(10));
        assert_eq!(pq.remove([11]), Some(10));
        assert_eq!(pq.remove([10]), Some(13));
        assert_eq!(pq.remove([13]), Some(14));
        pq.put([14]);
        assert_eq!(pq.remove([14]), Some(15));
        pq.put([20]);
        pq.clear();
        assert_eq!(pq.count(), 0);
        assert_eq!(pq.remove([]), None);
    }

    #[test]
    fn lock_expires_after_30s_and_drop_follows_parent() {
        let parent = CancellationToken::new();
        let pq = ProcessQueue::new(&parent);
        let t0 = Instant::now();
        assert!(!pq.holds_lock(t0));
        pq.set_locked(true, t0);
        assert!(pq.holds_lock(t0 + Duration::from_secs(29)));
        assert!(!pq.holds_lock(t0 + Duration::from_secs(31)));
        pq.set_locked(false, t0);
        assert!(!pq.holds_lock(t0));
        parent.cancel();
        assert!(pq.is_dropped());
    }

    #[tokio::test]
    async fn consume_lock_waits_for_a_running_callback() {
        let pq = std::sync::Arc::new(ProcessQueue::new(&CancellationToken::new()));
        assert!(pq.try_consume_lock(Duration::ZERO).await.is_some());
        let guard = pq.consume_lock().await;
        assert!(pq.try_consume_lock(Duration::from_millis(20)).await.is_none());
        let pq2 = pq.clone();
        let waiter =
            tokio::spawn(async move { pq2.try_consume_lock(Duration::from_secs(5)).await.is_some() });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(guard);
        assert!(waiter.await.unwrap());
    }
}
