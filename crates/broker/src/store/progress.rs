//! Progress lines for long passes over every consume queue at start (loading them, checking
//! them against the recovered commit log): one info line every two seconds while the pass
//! runs, so a start with thousands of queues is visibly busy rather than silent.

use std::time::{Duration, Instant};

/// How often a long pass says how far it got.
const EVERY: Duration = Duration::from_secs(2);

/// One pass over `total` items.
#[derive(Debug)]
pub struct Progress {
    what: &'static str,
    total: usize,
    started: Instant,
    said: Instant,
}

impl Progress {
    /// Starts timing a pass called `what` over `total` items.
    pub fn new(what: &'static str, total: usize) -> Progress {
        let now = Instant::now();
        Progress {
            what,
            total,
            started: now,
            said: now,
        }
    }

    /// Notes that `done` items are finished; logs when the last line is two seconds old.
    pub fn tick(&mut self, done: usize) {
        if self.said.elapsed() >= EVERY {
            self.said = Instant::now();
            tracing::info!(done, total = self.total, "{}", self.what);
        }
    }

    /// Time since the pass started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}
