//! The SYNC_MASTER wait (RocketMQ's `GroupTransferService`): a send is acknowledged only when a
//! slave has acknowledged the end of its record.
//!
//! [`Waiters`] is the pure table (waiters keyed by the offset they need, released when the acked
//! offset passes them) and [`slave_ok`] the pure admission check; [`GroupTransfer`] wraps both with
//! a lock and one-shot channels. Invariants: the acked offset (`push2SlaveMaxOffset`) only grows;
//! every waiter is either released by an ack or removed by its own timeout, so the table never
//! holds a waiter nobody listens to.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

/// Outcome of waiting for a slave, mapped to a send response by the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaStatus {
    /// A slave holds the record: SEND_OK.
    Replicated,
    /// No slave acknowledged within the slave timeout: FLUSH_SLAVE_TIMEOUT (the record is stored).
    Timeout,
    /// No slave connected, or the slaves are too far behind: SLAVE_NOT_AVAILABLE.
    SlaveNotAvailable,
}

/// Whether a synchronous send may wait for a slave at all (RocketMQ's `isSlaveOK`): at least one
/// slave connected and the best slave less than `fall_behind_max` bytes behind `put_where`.
pub fn slave_ok(slaves: usize, put_where: u64, acked: u64, fall_behind_max: u64) -> bool {
    slaves > 0 && put_where.saturating_sub(acked) < fall_behind_max
}

/// Waiters keyed by the offset they need; `T` is whatever wakes them.
#[derive(Debug)]
pub struct Waiters<T> {
    by_offset: BTreeMap<(u64, u64), T>,
    next_id: u64,
}

impl<T> Default for Waiters<T> {
    fn default() -> Self {
        Waiters {
            by_offset: BTreeMap::new(),
            next_id: 0,
        }
    }
}

/// Handle of one waiter, to remove it on timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaiterKey(u64, u64);

impl<T> Waiters<T> {
    /// Adds a waiter needing the acked offset to reach `offset`.
    pub fn insert(&mut self, offset: u64, waiter: T) -> WaiterKey {
        let key = (offset, self.next_id);
        self.next_id += 1;
        self.by_offset.insert(key, waiter);
        WaiterKey(key.0, key.1)
    }

    /// Removes every waiter whose offset is `<= acked`, in offset order.
    pub fn release(&mut self, acked: u64) -> Vec<T> {
        let rest = self.by_offset.split_off(&(acked.saturating_add(1), 0));
        let done = std::mem::replace(&mut self.by_offset, rest);
        done.into_values().collect()
    }

    /// Removes one waiter (after its timeout); `None` if an ack already released it.
    pub fn remove(&mut self, key: WaiterKey) -> Option<T> {
        self.by_offset.remove(&(key.0, key.1))
    }

    /// Waiters still pending.
    pub fn len(&self) -> usize {
        self.by_offset.len()
    }

    /// Whether none is pending.
    pub fn is_empty(&self) -> bool {
        self.by_offset.is_empty()
    }
}

#[derive(Debug, Default)]
struct State {
    acked: u64,
    slaves: usize,
    waiters: Waiters<oneshot::Sender<()>>,
}

/// The master's table of sends waiting for slaves.
#[derive(Debug)]
pub struct GroupTransfer {
    // One lock for the acked offset, the slave count and the waiters: an ack must see every
    // waiter registered before it, and a waiter must not register after the ack that covers it.
    state: Mutex<State>,
    fall_behind_max: u64,
    timeout: Duration,
}

impl GroupTransfer {
    /// A table whose waits time out after `timeout` (`slaveTimeout`) and refuse sends when the
    /// slaves are `fall_behind_max` bytes behind (`haSlaveFallbehindMax`).
    pub fn new(fall_behind_max: u64, timeout: Duration) -> Self {
        GroupTransfer {
            state: Mutex::new(State::default()),
            fall_behind_max,
            timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain numbers behind, which stay valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The highest offset any slave acknowledged (`push2SlaveMaxOffset`).
    pub fn acked(&self) -> u64 {
        self.lock().acked
    }

    /// Slaves currently connected.
    pub fn slaves(&self) -> usize {
        self.lock().slaves
    }

    /// Records a connected slave.
    pub fn slave_connected(&self) {
        self.lock().slaves += 1;
    }

    /// Records a disconnected slave.
    pub fn slave_disconnected(&self) {
        let mut s = self.lock();
        s.slaves = s.slaves.saturating_sub(1);
    }

    /// Records a slave's acknowledged offset and wakes the sends it covers.
    pub fn on_ack(&self, offset: u64) {
        let released = {
            let mut s = self.lock();
            if offset <= s.acked {
                return;
            }
            s.acked = offset;
            s.waiters.release(offset)
        };
        for tx in released {
            // The waiter may have timed out in the meantime; nothing to do then.
            let _ = tx.send(());
        }
    }

    /// Waits until a slave acknowledged `next_offset` (the end of the send's record), at most
    /// `timeout` (normally the table's slave timeout, [`Self::timeout`]).
    pub async fn wait(&self, next_offset: u64, timeout: Duration) -> ReplicaStatus {
        let (key, rx) = {
            let mut s = self.lock();
            if !slave_ok(s.slaves, next_offset, s.acked, self.fall_behind_max) {
                return ReplicaStatus::SlaveNotAvailable;
            }
            if s.acked >= next_offset {
                return ReplicaStatus::Replicated;
            }
            let (tx, rx) = oneshot::channel();
            (s.waiters.insert(next_offset, tx), rx)
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(_) => ReplicaStatus::Replicated,
            Err(_) => {
                let mut s = self.lock();
                // Lost the race to an ack that came exactly at the deadline: it was replicated.
                if s.waiters.remove(key).is_none() || s.acked >= next_offset {
                    ReplicaStatus::Replicated
                } else {
                    ReplicaStatus::Timeout
                }
            }
        }
    }

    /// The slave timeout this table was made with.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends still waiting (for runtime info and tests).
    pub fn pending(&self) -> usize {
        self.lock().waiters.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn slave_ok_needs_a_slave_and_a_small_lag() {
        assert!(!slave_ok(0, 10, 10, 100));
        assert!(slave_ok(1, 10, 0, 100));
        assert!(slave_ok(1, 99, 0, 100));
        assert!(!slave_ok(1, 100, 0, 100), "256 MiB behind is already too far");
        assert!(slave_ok(1, 5, 50, 100), "a slave ahead of the record is fine");
    }

    #[test]
    fn waiters_release_in_offset_order_up_to_the_ack() {
        let mut w = Waiters::default();
        w.insert(30, "c");
        w.insert(10, "a");
        let k = w.insert(20, "b");
        w.insert(20, "b2");
        assert_eq!(w.release(9), Vec::<&str>::new());
        assert_eq!(w.release(20), ["a", "b", "b2"]);
        assert_eq!(w.remove(k), None, "already released");
        assert_eq!(w.len(), 1);
        assert_eq!(w.release(u64::MAX), ["c"]);
        assert!(w.is_empty());
    }

    #[tokio::test]
    async fn no_slave_means_slave_not_available() {
        let g = GroupTransfer::new(1 << 28, Duration::from_secs(3));
        assert_eq!(g.wait(100, g.timeout()).await, ReplicaStatus::SlaveNotAvailable);
    }

    #[tokio::test]
    async fn far_behind_slave_means_slave_not_available() {
        let g = GroupTransfer::new(1000, Duration::from_secs(3));
        g.slave_connected();
        g.on_ack(10);
        assert_eq!(g.wait(1010, g.timeout()).await, ReplicaStatus::SlaveNotAvailable);
        assert_eq!(g.wait(10, g.timeout()).await, ReplicaStatus::Replicated);
    }

    #[tokio::test(start_paused = true)]
    async fn an_ack_wakes_exactly_the_covered_waiters() {
        let g = Arc::new(GroupTransfer::new(1 << 28, Duration::from_secs(3)));
        g.slave_connected();
        let low = tokio::spawn({
            let g = g.clone();
            async move { g.wait(100, g.timeout()).await }
        });
        let high = tokio::spawn({
            let g = g.clone();
            async move { g.wait(200, g.timeout()).await }
        });
        while g.pending() < 2 {
            tokio::task::yield_now().await;
        }
        g.on_ack(150);
        assert_eq!(low.await.unwrap(), ReplicaStatus::Replicated);
        assert_eq!(g.pending(), 1);
        g.on_ack(120);
        assert_eq!(g.acked(), 150, "acked offset never goes back");
        assert_eq!(high.await.unwrap(), ReplicaStatus::Timeout);
        assert_eq!(g.pending(), 0, "a timed-out waiter leaves the table");
    }

    #[tokio::test(start_paused = true)]
    async fn the_timeout_is_the_slave_timeout() {
        let g = Arc::new(GroupTransfer::new(1 << 28, Duration::from_secs(3)));
        g.slave_connected();
        let start = tokio::time::Instant::now();
        let status = g.wait(1, g.timeout()).await;
        assert_eq!(status, ReplicaStatus::Timeout);
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        g.slave_disconnected();
        g.slave_disconnected();
        assert_eq!(g.slaves(), 0);
    }
}
