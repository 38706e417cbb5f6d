//! Flushing the commit log: the group commit shared by sync-flush writers, the periodic async
//! flush, and (on a thread of its own, `store-cq-flusher`) the periodic consume-queue flush
//! that moves the checkpoint forward.
//!
//! One thread (`store-flusher`) does every `fdatasync` of the commit log. A writer that needs
//! its record on disk registers the offset it needs and waits ([`GroupCommit::wait`]) or leaves
//! a callback ([`GroupCommit::on_flushed`]); the thread flushes everything written so far,
//! which covers every writer that arrived meanwhile, so N concurrent writers share one sync.
//! No lock is held across a sync: the put lock is never touched here, and the group-commit
//! mutex is released while syncing.
//!
//! Invariant: `flushed` only grows and every commit-log byte below it has been synced.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::error::{Result, StoreError};
use super::Inner;

/// Called once with the outcome of a flush wait.
pub type FlushCallback = Box<dyn FnOnce(Result<()>) + Send>;

struct Pending {
    offset: u64,
    deadline: Instant,
    callback: FlushCallback,
}

#[derive(Default)]
struct State {
    /// Highest offset some writer is waiting for.
    requested: u64,
    pending: Vec<Pending>,
    stop: bool,
}

/// The group-commit rendezvous between writers and the flush thread.
pub struct GroupCommit {
    state: Mutex<State>,
    /// Wakes the flush thread.
    wake: Condvar,
    /// Wakes waiting writers after each flush.
    done: Condvar,
    flushed: AtomicU64,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("flushed", &self.flushed())
            .finish()
    }
}

impl GroupCommit {
    pub(super) fn new(flushed: u64) -> GroupCommit {
        GroupCommit {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            done: Condvar::new(),
            flushed: AtomicU64::new(flushed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commit-log bytes below this are on disk.
    pub fn flushed(&self) -> u64 {
        self.flushed.load(Ordering::Acquire)
    }

    /// Blocks until `offset` is flushed, or fails with [`StoreError::FlushTimeout`].
    pub fn wait(&self, offset: u64, timeout: Duration) -> Result<()> {
        if self.flushed() >= offset {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        if st.requested < offset {
            st.requested = offset;
            self.wake.notify_one();
        }
        loop {
            if self.flushed() >= offset {
                return Ok(());
            }
            if st.stop {
                return Err(StoreError::ShutDown);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::FlushTimeout);
            }
            st = self
                .done
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Calls `callback` from the flush thread once `offset` is flushed or `timeout` passed.
    /// The callback must be quick (e.g. complete a oneshot channel).
    pub fn on_flushed(&self, offset: u64, timeout: Duration, callback: FlushCallback) {
        if self.flushed() >= offset {
            return callback(Ok(()));
        }
        let mut st = self.lock();
        if st.stop {
            drop(st);
            return callback(Err(StoreError::ShutDown));
        }
        st.requested = st.requested.max(offset);
        st.pending.push(Pending {
            offset,
            deadline: Instant::now() + timeout,
            callback,
        });
        self.wake.notify_one();
    }

    /// Stops the flush thread and fails everyone still waiting.
    pub(super) fn stop(&self) {
        let pending = {
            let mut st = self.lock();
            st.stop = true;
            self.wake.notify_all();
            self.done.notify_all();
            std::mem::take(&mut st.pending)
        };
        for p in pending {
            (p.callback)(if self.flushed() >= p.offset {
                Ok(())
            } else {
                Err(StoreError::ShutDown)
            });
        }
    }

    /// Waits until a writer asks for a flush, `until` passes, or the store stops. Returns false
    /// on stop.
    fn idle(&self, until: Instant) -> bool {
        let mut st = self.lock();
        loop {
            if st.stop {
                return false;
            }
            if st.requested > self.flushed() {
                return true;
            }
            let now = Instant::now();
            let next = st
                .pending
                .iter()
                .map(|p| p.deadline)
                .min()
                .map_or(until, |d| d.min(until));
            if now >= next {
                return true;
            }
            st = self
                .wake
                .wait_timeout(st, next - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Publishes a completed flush and settles callbacks that are done or late.
    fn publish(&self, flushed: u64) {
        self.flushed.fetch_max(flushed, Ordering::AcqRel);
        let now = Instant::now();
        let settled: Vec<Pending> = {
            let mut st = self.lock();
            self.done.notify_all();
            let flushed = self.flushed();
            let (ready, keep) = std::mem::take(&mut st.pending)
                .into_iter()
                .partition(|p: &Pending| p.offset <= flushed || p.deadline <= now);
            st.pending = keep;
            ready
        };
        let flushed = self.flushed();
        for p in settled {
            (p.callback)(if p.offset <= flushed {
                Ok(())
            } else {
                Err(StoreError::FlushTimeout)
            });
        }
    }
}

/// The flush thread: group commits on demand and the commit log every `flush_interval`. It
/// does nothing else, so a writer waiting for a group commit never waits behind the
/// consume-queue flush ([`run_queue_flusher`]).
pub(super) fn run(inner: &Inner) {
    let cfg = &inner.config;
    let mut next_log_flush = Instant::now() + cfg.flush_interval;
    loop {
        if !inner.group_commit.idle(next_log_flush) {
            return;
        }
        if let Err(e) = flush_commit_log(inner) {
            tracing::error!(error = %e, "commit-log flush failed");
        }
        let now = Instant::now();
        if now >= next_log_flush {
            next_log_flush = now + cfg.flush_interval;
        }
    }
}

/// The consume-queue flush thread: every `consume_queue_flush_interval`, syncs the consume
/// queues and moves the checkpoint forward, then closes queue files idle for
/// `queue_file_idle`, until the store stops.
pub(super) fn run_queue_flusher(inner: &Inner) {
    while inner.sleep_unless_stopped(inner.config.consume_queue_flush_interval) {
        if let Err(e) = flush_queues_and_checkpoint(inner) {
            tracing::error!(error = %e, "consume-queue flush or checkpoint failed");
        }
        let closed = inner.queues.budget().sweep();
        if closed > 0 {
            tracing::debug!(closed, "closed idle consume-queue files");
        }
    }
}

/// Syncs the commit log up to what is written now and wakes the writers it covers.
pub(super) fn flush_commit_log(inner: &Inner) -> Result<()> {
    let target = inner.commit_log.max_offset();
    let from = inner.group_commit.flushed();
    if target > from {
        let ts = inner.last_store_timestamp.load(Ordering::Acquire);
        let started = Instant::now();
        inner.commit_log.sync_range(from, target)?;
        inner.stats.flush_latency.record_duration(started.elapsed());
        inner.stats.commit_log_syncs.fetch_add(1, Ordering::Relaxed);
        inner.flushed_timestamp.fetch_max(ts, Ordering::AcqRel);
    }
    inner.group_commit.publish(target);
    Ok(())
}

/// Syncs every consume queue, then records in the checkpoint how far both logs are durable.
/// Calls are serialized by the checkpoint lock, taken first, so the last call to finish also
/// read the newest offsets: a stale checkpoint never overwrites a fresher one.
pub(super) fn flush_queues_and_checkpoint(inner: &Inner) -> Result<()> {
    let mut checkpoint = inner.checkpoint.lock().unwrap_or_else(|p| p.into_inner());
    // Read before flushing: every CQ entry for a record below `logics` exists by now.
    let logics = inner.dispatched.load(Ordering::Acquire);
    let logics_ts = inner.last_store_timestamp.load(Ordering::Acquire);
    for cq in inner.queues.all() {
        cq.flush()?;
    }
    let flushed = inner.group_commit.flushed();
    let cp = super::checkpoint::Checkpoint {
        physic_timestamp: inner.flushed_timestamp.load(Ordering::Acquire),
        logics_timestamp: logics_ts,
        index_timestamp: inner.index.durable_timestamp(),
        flushed_offset: flushed,
        logics_offset: logics,
    };
    checkpoint.write(&cp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn waiters_share_a_flush_and_time_out() {
        let gc = Arc::new(GroupCommit::new(0));
        let waiter = {
            let gc = gc.clone();
            std::thread::spawn(move || gc.wait(100, Duration::from_secs(5)))
        };
        let (tx, rx) = std::sync::mpsc::channel();
        gc.on_flushed(
            50,
            Duration::from_secs(5),
            Box::new(move |r| tx.send(r.is_ok()).unwrap()),
        );
        assert!(
            gc.idle(Instant::now() + Duration::from_secs(5)),
            "a request wakes the flusher"
        );
        gc.publish(120);
        assert!(waiter.join().unwrap().is_ok());
        assert!(rx.recv().unwrap());
        assert!(matches!(
            gc.wait(200, Duration::from_millis(20)),
            Err(StoreError::FlushTimeout)
        ));
        let (tx, rx) = std::sync::mpsc::channel();
        gc.on_flushed(
            300,
            Duration::ZERO,
            Box::new(move |r| tx.send(r.is_ok()).unwrap()),
        );
        gc.publish(120);
        assert!(!rx.recv().unwrap(), "late callback gets a timeout");
        gc.stop();
        assert!(!gc.idle(Instant::now() + Duration::from_secs(5)));
    }
}
