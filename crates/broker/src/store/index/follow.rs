//! The index follower thread: indexes what the store has dispatched, a batch at a time, and
//! sleeps when it has caught up: a millisecond (Apache's reput interval) right after work,
//! doubling to 16 ms while nothing comes, so an idle broker wakes 60 times a second, not 1,000
//! (a laptop cluster runs a dozen). At shutdown it indexes what is left and syncs every file
//! before the store writes its final checkpoint.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::super::Inner;

/// Records indexed between two looks at the stop flag.
const BATCH: usize = 4096;

/// Pause when there is nothing to index, right after work.
const IDLE: Duration = Duration::from_millis(1);

/// The longest pause when nothing has come for a while.
const IDLE_MAX: Duration = Duration::from_millis(16);

/// Pause after an error (a file that could not be created, a failed sync).
const RETRY: Duration = Duration::from_secs(1);

/// The thread body: runs until the store stops.
pub(in crate::store) fn run(inner: &Inner) {
    let index = &inner.index;
    let mut idle = IDLE;
    while inner.running.load(Ordering::Acquire) {
        let to = inner.dispatched.load(Ordering::Acquire);
        let pause = match index.build(&inner.commit_log, to, BATCH) {
            Ok(0) => {
                let pause = idle;
                idle = (idle * 2).min(IDLE_MAX);
                pause
            }
            Ok(_) => {
                idle = IDLE;
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, offset = index.indexed_offset(), "message index write failed; retrying");
                RETRY
            }
        };
        if !inner.sleep_unless_stopped(pause) {
            break;
        }
    }
    finish(inner);
}

/// Indexes everything dispatched so far and syncs the files (clean shutdown).
pub(in crate::store) fn finish(inner: &Inner) {
    let index = &inner.index;
    let to = inner.dispatched.load(Ordering::Acquire);
    while index.indexed_offset() < to {
        match index.build(&inner.commit_log, to, usize::MAX) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "message index incomplete at shutdown; the next open rebuilds it");
                return;
            }
        }
    }
    if let Err(e) = index.sync_all() {
        tracing::error!(error = %e, "message index sync failed at shutdown");
    }
}
