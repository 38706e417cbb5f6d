//! The budget of open consume-queue files: each open one costs a file descriptor and a
//! mapping, and a broker with thousands of queues must not spend the descriptors its commit
//! log and listener need.
//!
//! [`OpenFiles`] lists the closable files that are open. Opening one past the cap closes the
//! least recently used others first; a sweep (every consume-queue flush) closes files idle for
//! longer than the idle time. A closed file keeps its name, size and reservation and is opened
//! again by its next access ([`super::mapped_file::MappedFile`], the one [`Closable`]).
//!
//! Time is a coarse tick advanced by the sweep, so an access costs one relaxed store. Lock
//! order: a file's mapping lock may be held while this list's lock is taken, never the reverse
//! (files are closed after the list's lock is released).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// A file the budget may close: [`super::mapped_file::MappedFile`]. It tells the budget when it
/// opens ([`OpenFiles::opened`]) and when it closes or drops ([`OpenFiles::closed`]).
pub trait Closable: Send + Sync {
    /// Budget tick of the last access ([`OpenFiles::now`] when it was used).
    fn last_used(&self) -> u64;
    /// Closes the file; its next access opens it again.
    fn close(&self);
}

/// The open closable files and their cap.
#[derive(Debug)]
pub struct OpenFiles {
    cap: usize,
    idle_ticks: u64,
    tick: AtomicU64,
    open: Mutex<Vec<Weak<dyn Closable>>>,
}

impl OpenFiles {
    /// At most `cap` files open at once (at least 1); a file untouched for `idle_ticks` sweeps
    /// is closed.
    pub fn new(cap: usize, idle_ticks: u64) -> Arc<OpenFiles> {
        Arc::new(OpenFiles {
            cap: cap.max(1),
            idle_ticks: idle_ticks.max(1),
            tick: AtomicU64::new(0),
            open: Mutex::new(Vec::new()),
        })
    }

    fn list(&self) -> MutexGuard<'_, Vec<Weak<dyn Closable>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current tick (what a file records as its last use).
    pub fn now(&self) -> u64 {
        self.tick.load(Ordering::Relaxed)
    }

    /// How many files are open.
    pub fn open_count(&self) -> usize {
        self.list().len()
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Records that `file` was opened and closes the least recently used others while more
    /// than the cap are open. Call without holding `file`'s mapping lock.
    pub fn opened(&self, file: Weak<dyn Closable>) {
        // Upgraded `Arc`s are dropped only after the list's lock is released: dropping the last
        // one runs the file's `Drop` (`MappedFile::drop`), which takes it.
        let (excess, mut others) = {
            let mut list = self.list();
            list.retain(|w| w.strong_count() > 0);
            if !list.iter().any(|w| w.ptr_eq(&file)) {
                list.push(file.clone());
            }
            let excess = list.len().saturating_sub(self.cap);
            if excess == 0 {
                return;
            }
            let others: Vec<Arc<dyn Closable>> = list
                .iter()
                .filter(|w| !w.ptr_eq(&file))
                .filter_map(Weak::upgrade)
                .collect();
            (excess, others)
        };
        others.sort_by_key(|f| f.last_used());
        for f in others.iter().take(excess) {
            f.close();
        }
    }

    /// Forgets `file` (it was closed or dropped), known by its address.
    pub fn closed(&self, file: *const ()) {
        self.list()
            .retain(|w| w.strong_count() > 0 && w.as_ptr().cast::<()>() != file);
    }

    /// Advances the clock and closes every file not used for the idle time; returns how many.
    pub fn sweep(&self) -> usize {
        let now = self.tick.fetch_add(1, Ordering::Relaxed) + 1;
        let open: Vec<Arc<dyn Closable>> = self.list().iter().filter_map(Weak::upgrade).collect();
        let mut n = 0;
        for f in open.iter().filter(|f| f.last_used() + self.idle_ticks <= now) {
            f.close();
            n += 1;
        }
        n
    }
}
