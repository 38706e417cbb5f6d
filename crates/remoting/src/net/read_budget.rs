//! The server-wide budget for request bytes that sit in read buffers waiting for the rest of
//! their frame.
//!
//! Each connection holds a [`BudgetShare`]: how many bytes its read buffer holds and since when
//! it last completed a frame. A connection whose read takes the server's total past the limit
//! calls [`ReadBudget::shed`], which closes the slowest peers first (those whose last complete
//! frame is oldest: a slowloris peer never completes one, a fast sender of a large frame just
//! did) until the bytes they hold bring the total back under the limit. The victims see their
//! `evict` token cancelled, log a line and close. Invariant: `total` is the sum of `held` over
//! every registered share (each update adjusts both by the same delta, and dropping a share
//! takes its bytes out).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tracing::warn;

/// The shared total and the connections that count towards it.
pub(super) struct ReadBudget {
    limit: usize,
    total: AtomicUsize,
    epoch: Instant,
    /// Connection id to its share; locked to register, unregister and pick victims, never on the
    /// hot path of a connection that only updates its own counts.
    peers: Mutex<HashMap<u64, Arc<Share>>>,
}

/// One connection's part of the budget.
struct Share {
    peer: SocketAddr,
    held: AtomicUsize,
    /// Milliseconds since the budget's epoch at which the connection last completed a frame
    /// (or opened).
    progress_ms: AtomicU64,
    doomed: AtomicBool,
    evict: CancellationToken,
}

/// A connection's handle on the budget; dropping it takes the connection's bytes out.
pub(super) struct BudgetShare {
    budget: Arc<ReadBudget>,
    id: u64,
    share: Arc<Share>,
}

impl ReadBudget {
    /// A budget of `limit` buffered bytes for one server.
    pub(super) fn new(limit: usize) -> Arc<ReadBudget> {
        Arc::new(ReadBudget {
            limit,
            total: AtomicUsize::new(0),
            epoch: Instant::now(),
            peers: Mutex::new(HashMap::new()),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Registers connection `id`; its `evict` token is cancelled when it is chosen as a victim.
    pub(super) fn join(self: &Arc<Self>, id: u64, peer: SocketAddr) -> BudgetShare {
        let share = Arc::new(Share {
            peer,
            held: AtomicUsize::new(0),
            progress_ms: AtomicU64::new(self.now_ms()),
            doomed: AtomicBool::new(false),
            evict: CancellationToken::new(),
        });
        self.lock_peers().insert(id, share.clone());
        BudgetShare {
            budget: self.clone(),
            id,
            share,
        }
    }

    fn lock_peers(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Share>>> {
        // A panic elsewhere while holding the lock leaves the map itself consistent.
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes the slowest peers until the bytes they hold bring the total under the limit.
    fn shed(&self) {
        let peers = self.lock_peers();
        // Bytes of peers already told to close are on their way out: they do not count again.
        let leaving: usize = peers
            .values()
            .filter(|s| s.doomed.load(Ordering::Relaxed))
            .map(|s| s.held.load(Ordering::Relaxed))
            .sum();
        let total = self.total.load(Ordering::Relaxed).saturating_sub(leaving);
        if total <= self.limit {
            return;
        }
        let mut candidates: Vec<&Arc<Share>> = peers
            .values()
            .filter(|s| !s.doomed.load(Ordering::Relaxed) && s.held.load(Ordering::Relaxed) > 0)
            .collect();
        candidates.sort_by_key(|s| s.progress_ms.load(Ordering::Relaxed));
        let now = self.now_ms();
        let mut freed = 0usize;
        let mut closed = 0usize;
        for victim in candidates {
            if total - freed <= self.limit {
                break;
            }
            let held = victim.held.load(Ordering::Relaxed);
            victim.doomed.store(true, Ordering::Relaxed);
            victim.evict.cancel();
            freed += held;
            closed += 1;
            warn!(
                peer = %victim.peer,
                held,
                stalled_ms = now.saturating_sub(victim.progress_ms.load(Ordering::Relaxed)),
                "buffered request bytes over the server's budget; closing this slowest peer"
            );
        }
        warn!(
            limit = self.limit,
            total, closed, freed, "read buffer budget exceeded"
        );
    }
}

impl BudgetShare {
    /// Records that the read buffer now holds `held` bytes; `completed` says a frame was
    /// completed since the last update. Past the budget the slowest peers are closed (this one
    /// included, if it is among the slowest).
    pub(super) fn update(&self, held: usize, completed: bool) {
        let before = self.share.held.swap(held, Ordering::Relaxed);
        if completed || before == 0 {
            self.share
                .progress_ms
                .store(self.budget.now_ms(), Ordering::Relaxed);
        }
        if held > before {
            let total = self.budget.total.fetch_add(held - before, Ordering::Relaxed) + (held - before);
            if total > self.budget.limit {
                self.budget.shed();
            }
        } else if held < before {
            self.budget.total.fetch_sub(before - held, Ordering::Relaxed);
        }
    }

    /// Cancelled when this connection is chosen to be closed.
    pub(super) fn evicted(&self) -> &CancellationToken {
        &self.share.evict
    }
}

impl Drop for BudgetShare {
    fn drop(&mut self) {
        self.budget.lock_peers().remove(&self.id);
        let held = self.share.held.swap(0, Ordering::Relaxed);
        self.budget.total.fetch_sub(held, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn the_slowest_peers_are_closed_first_and_totals_follow_the_shares() {
        let budget = ReadBudget::new(100);
        let slow = budget.join(1, addr(1));
        slow.update(40, false);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let fast = budget.join(2, addr(2));
        fast.update(40, false);
        assert!(!slow.evicted().is_cancelled());
        // `fast` completes a frame and keeps buffering: it pushes the total past 100, and the
        // peer that made no progress for longest (`slow`) is the one closed.
        std::thread::sleep(std::time::Duration::from_millis(5));
        fast.update(70, true);
        assert!(slow.evicted().is_cancelled());
        assert!(!fast.evicted().is_cancelled());
        assert_eq!(budget.total.load(Ordering::Relaxed), 110);
        drop(slow);
        assert_eq!(budget.total.load(Ordering::Relaxed), 70);
        fast.update(0, true);
        assert_eq!(budget.total.load(Ordering::Relaxed), 0);
        drop(fast);
        assert!(budget.lock_peers().is_empty());
    }
}
