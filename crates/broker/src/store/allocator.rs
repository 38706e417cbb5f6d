//! Creates the next commit-log file ahead of need, on its own thread, and faults pages in a
//! window ahead of the writer, so that an append crossing into a new file never waits for file
//! creation and, while the writer is slower than the toucher, pays no page fault per 4 KiB
//! (fresh mapped pages take writes at ~0.75 GB/s here, touched ones at ~4.4 GB/s).
//!
//! The same thread reserves the file's blocks (`fallocate`) for the window before it faults
//! pages in, since `fallocate` may wait for the disk and the writer should not.
//!
//! Touching is bounded: pages are faulted in at most [`TOUCH_AHEAD`] bytes past the writer,
//! across the end of the current file into the prepared one. Each touched page is a zeroed
//! page-cache page, so touching whole 1 GiB files made every idle broker hold 1 GiB of page
//! cache; a laptop cluster of twelve brokers then filled a 24 GiB machine within a minute, and
//! reclaim stalled brokers for seconds (sends timed out in the drills). With
//! `warmMapedFileEnable` the prepared file is still warmed whole before it is handed over, as
//! Apache does.
//!
//! Invariants: at most one file is being prepared, and it is claimed (`preparing`) under the
//! lock, so a writer asking for it waits instead of creating it a second time, and a writer
//! that creates a file itself first withdraws the request; a prepared file that is never used is
//! deleted (at stop, or when a different start is taken), and one left by a crash is an empty
//! segment after the log's end, which recovery drops. Touching changes no byte, so it goes on
//! while the writer appends to the same file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::error::{Result, StoreError};
use super::mapped_file::MappedFile;
use super::reserve::{Reserve, LOG_RESERVE_CHUNK};

/// How far past the writer blocks are reserved and pages faulted in: at 300 MB/s of appends,
/// 50 ms of lead, refreshed each time the writer has used half of it. Also what an idle broker
/// holds beyond its data, in page cache and in disk blocks.
pub const TOUCH_AHEAD: u64 = 16 << 20;

/// Pages are faulted in this many bytes at a time, so stop is noticed quickly.
const TOUCH_CHUNK: u64 = 1 << 20;

#[derive(Default)]
struct State {
    /// Start of the file wanted next.
    want: Option<u64>,
    /// The file being prepared, while the thread works on it.
    preparing: Option<u64>,
    ready: Option<Result<Arc<MappedFile>>>,
    /// The file the writer appends to, as handed over last.
    current: Option<Arc<MappedFile>>,
    stop: bool,
}

struct Shared {
    dir: PathBuf,
    file_size: u64,
    touch: bool,
    /// Touch the whole file before handing it over.
    warm: bool,
    state: Mutex<State>,
    changed: Condvar,
    /// End of the writer's bytes, as last reported.
    writer: AtomicU64,
    /// Pages below this log offset are faulted in (or written).
    touched: AtomicU64,
    /// The writer wakes the sleeping thread once it reaches this offset (`u64::MAX`: the thread
    /// is busy, or waits for something else).
    wake_at: AtomicU64,
}

impl Shared {
    /// Warm files are written whole at once, so they get all their blocks first; others get
    /// them as the writer comes.
    fn reserve(&self) -> Reserve {
        if self.touch && self.warm {
            Reserve::Whole
        } else {
            Reserve::Chunks(LOG_RESERVE_CHUNK)
        }
    }

    /// Touching follows the writer (warm files are touched whole when prepared instead).
    fn follows_writer(&self) -> bool {
        self.touch && !self.warm
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The allocation thread and its hand-over slot.
pub struct Allocator {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Allocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Allocator")
            .field("dir", &self.shared.dir)
            .finish()
    }
}

impl Allocator {
    /// Starts the thread for a log whose writer is at `end`, appending to `current` (None
    /// before the file holding `end` exists); `touch` faults pages in ahead of the writer, or,
    /// with `warm`, each prepared file whole before it is handed over.
    pub fn start(
        dir: &Path,
        file_size: u64,
        touch: bool,
        warm: bool,
        end: u64,
        current: Option<Arc<MappedFile>>,
    ) -> Result<Allocator> {
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            file_size,
            touch,
            warm,
            state: Mutex::new(State {
                current,
                ..State::default()
            }),
            changed: Condvar::new(),
            writer: AtomicU64::new(end),
            touched: AtomicU64::new(end),
            wake_at: AtomicU64::new(u64::MAX),
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("store-allocator".into())
            .spawn(move || run(&worker))
            .map_err(|e| StoreError::io(dir, e))?;
        Ok(Allocator {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Asks for the file starting at `start` to be prepared.
    pub fn request(&self, start: u64) {
        let mut st = self.shared.lock();
        if st.stop || st.want == Some(start) {
            return;
        }
        st.want = Some(start);
        self.shared.changed.notify_all();
    }

    /// The writer's bytes now end at `end`. Costs two atomic operations unless the touch
    /// window needs moving and the thread sleeps.
    pub fn advanced(&self, end: u64) {
        let shared = &self.shared;
        shared.writer.store(end, Ordering::SeqCst);
        if end >= shared.wake_at.load(Ordering::SeqCst) {
            let _st = shared.lock();
            shared.wake_at.store(u64::MAX, Ordering::SeqCst);
            shared.changed.notify_all();
        }
    }

    /// The file starting at `start`: the prepared one (waiting if it is still being prepared),
    /// or a fresh untouched one created here when nothing was prepared for it.
    pub fn take(&self, start: u64) -> Result<Arc<MappedFile>> {
        let file = self.take_file(start)?;
        let mut st = self.shared.lock();
        st.current = Some(file.clone());
        self.shared.changed.notify_all();
        Ok(file)
    }

    fn take_file(&self, start: u64) -> Result<Arc<MappedFile>> {
        let mut st = self.shared.lock();
        loop {
            if let Some(ready) = st.ready.take() {
                match ready {
                    Ok(f) if f.start() == start => {
                        st.want = None;
                        return Ok(f);
                    }
                    // Prepared for a start the log no longer wants (a slave moved its start).
                    Ok(other) => other.delete_on_drop(),
                    Err(e) if st.want == Some(start) => {
                        st.want = None;
                        return Err(e);
                    }
                    Err(_) => {}
                }
            }
            // Warm files are touched before they are handed over, and the thread does nothing
            // else, so a requested file is coming: wait for it rather than take a cold one.
            let coming = st.preparing == Some(start) || (self.shared.warm && st.want == Some(start));
            if !coming || st.stop {
                break;
            }
            // The thread is creating this very file: wait rather than create it twice.
            st = self.shared.changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        // Not prepared (nothing was requested, or the thread could not keep up): claim it so
        // the thread will not create it too, and create it here.
        if st.want == Some(start) {
            st.want = None;
        }
        drop(st);
        MappedFile::create(
            &self.shared.dir,
            start,
            self.shared.file_size,
            self.shared.reserve(),
        )
    }

    /// Stops the thread (idempotent).
    pub fn stop(&self) {
        {
            let mut st = self.shared.lock();
            st.stop = true;
            st.current = None;
            self.shared.changed.notify_all();
        }
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        // An unused prepared file is removed so the directory holds only the log's files.
        if let Some(Ok(f)) = self.shared.lock().ready.take() {
            f.delete_on_drop();
        }
    }

    /// Pages below this log offset are faulted in.
    #[cfg(test)]
    pub fn touched(&self) -> u64 {
        self.shared.touched.load(Ordering::Acquire)
    }
}

impl Drop for Allocator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One unit of the thread's work, chosen under the lock and done without it.
enum Work {
    /// Create (or reopen) the file starting here.
    Prepare(u64),
    /// Fault in `[from, to)` (log offsets) of this file.
    Touch(Arc<MappedFile>, u64, u64),
}

fn run(shared: &Shared) {
    loop {
        let work = {
            let mut st = shared.lock();
            loop {
                if st.stop {
                    return;
                }
                if let Some(work) = next_work(shared, &mut st) {
                    break work;
                }
                st = shared.changed.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        };
        match work {
            Work::Prepare(start) => prepare(shared, start),
            Work::Touch(file, from, to) => touch_window(shared, &file, from, to),
        }
    }
}

/// Preparing comes first (a writer may be waiting for the file); then the touch window. When
/// there is nothing to do, sets the offset at which the writer wakes the thread.
fn next_work(shared: &Shared, st: &mut State) -> Option<Work> {
    // An error waits in the slot for `take` so a failing disk is not retried in a loop.
    let done = match &st.ready {
        Some(Ok(f)) => Some(f.start()) == st.want,
        Some(Err(_)) => true,
        None => false,
    };
    if let (Some(w), false) = (st.want, done) {
        // Claimed in the same critical section as chosen, so `take` never creates this file
        // concurrently.
        st.preparing = Some(w);
        return Some(Work::Prepare(w));
    }
    if !shared.follows_writer() {
        return None;
    }
    // Store the wake-up point first, then read the writer: an advance after the read sees it.
    shared.wake_at.store(u64::MAX, Ordering::SeqCst);
    let writer = shared.writer.load(Ordering::SeqCst);
    let touched = shared.touched.load(Ordering::Acquire);
    let from = touched.max(writer);
    let target = writer.saturating_add(TOUCH_AHEAD);
    if from < target {
        let ready = match &st.ready {
            Some(Ok(f)) => Some(f),
            _ => None,
        };
        if let Some(f) = [st.current.as_ref(), ready]
            .into_iter()
            .flatten()
            .find(|f| f.start() <= from && from < f.end())
        {
            return Some(Work::Touch(f.clone(), from, target.min(f.end())));
        }
        // The window runs past the known files: a request or a hand-over wakes the thread.
        return None;
    }
    // Window full: come back when the writer has used half of it.
    shared
        .wake_at
        .store(touched.saturating_sub(TOUCH_AHEAD / 2), Ordering::SeqCst);
    // A writer that advanced before the store above did not see it; look once more.
    if shared.writer.load(Ordering::SeqCst) >= touched.saturating_sub(TOUCH_AHEAD / 2) {
        shared.wake_at.store(u64::MAX, Ordering::SeqCst);
        return next_work(shared, st);
    }
    None
}

fn prepare(shared: &Shared, start: u64) {
    let path = shared.dir.join(super::mapped_file::file_name(start));
    let result = if path.exists() {
        // Left by an earlier run (recovery keeps an empty next file); reuse it.
        MappedFile::open(&path, start, shared.file_size, shared.reserve())
    } else {
        MappedFile::create(&shared.dir, start, shared.file_size, shared.reserve())
    };
    if let (Ok(file), true) = (&result, shared.touch && shared.warm) {
        // Still `preparing`: a writer that needs this file waits for the last page.
        warm(shared, file);
    }
    let mut st = shared.lock();
    st.preparing = None;
    if let Err(e) = &result {
        tracing::warn!(error = %e, "could not preallocate the next commit-log file");
    }
    st.ready = Some(result);
    shared.changed.notify_all();
}

/// Faults `[from, to)` of `file` in readable, chunk by chunk, skipping what the writer has
/// already passed, until done or the store stops.
fn touch_window(shared: &Shared, file: &MappedFile, from: u64, to: u64) {
    let mut pos = from;
    while pos < to {
        pos = pos.max(shared.writer.load(Ordering::Acquire));
        let end = (pos + TOUCH_CHUNK).min(to);
        if pos >= end {
            break;
        }
        let rel = (pos - file.start()) as usize;
        // Blocks first, off the writer's path: `fallocate` can wait for the disk. A full disk
        // is the writer's to report, when it gets there.
        if let Err(e) = file.reserve(rel, (end - pos) as usize) {
            tracing::debug!(error = %e, "cannot reserve blocks ahead of the commit-log writer");
        }
        if !file.touch_range(rel, (end - pos) as usize) {
            // The kernel lacks the advice or the file is gone: stop following this window.
            shared.touched.fetch_max(to, Ordering::AcqRel);
            return;
        }
        shared.touched.fetch_max(end, Ordering::AcqRel);
        if shared.lock().stop {
            return;
        }
        pos = end;
    }
}

/// Faults `file` in writable, whole, before anyone has it (`warmMapedFileEnable`).
fn warm(shared: &Shared, file: &MappedFile) {
    let mut pos = 0u64;
    while pos < file.size() {
        if !file.warm_range(pos as usize, TOUCH_CHUNK as usize) || shared.lock().stop {
            return;
        }
        pos += TOUCH_CHUNK;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepares_hands_over_and_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let a = Allocator::start(dir.path(), 4096, true, false, 0, None).unwrap();
        a.request(4096);
        assert_eq!(a.take(4096).unwrap().start(), 4096);
        // Nothing requested for 8192: created on the spot.
        assert_eq!(a.take(8192).unwrap().start(), 8192);
        a.request(12288);
        a.stop();
        assert!(a.take(16384).is_ok());
    }

    /// Waits until the allocator has touched up to `want`, or 10 s.
    fn touched_reaches(a: &Allocator, want: u64) -> u64 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while a.touched() < want && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        a.touched()
    }

    #[test]
    fn touching_follows_the_writer_a_window_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let size = 4 * TOUCH_AHEAD;
        let a = Allocator::start(dir.path(), size, true, false, 0, None).unwrap();
        let f = a.take(0).unwrap();
        a.request(size);
        assert_eq!(touched_reaches(&a, TOUCH_AHEAD), TOUCH_AHEAD);
        // The writer takes less than half the window: nothing moves.
        assert!(f.write(0, b"x").unwrap());
        a.advanced(TOUCH_AHEAD / 4);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(a.touched(), TOUCH_AHEAD);
        // Past half of it: the window moves to a full TOUCH_AHEAD past the writer, no further.
        let end = size - TOUCH_AHEAD / 2;
        a.advanced(end);
        assert_eq!(touched_reaches(&a, end + TOUCH_AHEAD), end + TOUCH_AHEAD);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(
            a.touched(),
            end + TOUCH_AHEAD,
            "the window crosses into the prepared file and stops"
        );
        a.stop();
    }

    #[test]
    fn warm_files_are_waited_for_not_created_cold() {
        let dir = tempfile::tempdir().unwrap();
        let a = Allocator::start(dir.path(), 1 << 20, true, true, 0, None).unwrap();
        for start in [0, 1 << 20, 2 << 20] {
            a.request(start);
            let f = a.take(start).unwrap();
            assert_eq!(f.start(), start);
            // Handed over warm: every page is already writable, and writing changes the file.
            assert!(f.write((1 << 20) - 4, b"tail").unwrap());
            assert_eq!(f.read((1 << 20) - 4, 4).unwrap(), b"tail");
        }
        a.stop();
        // After stop nothing waits: a file is created on the spot.
        assert_eq!(a.take(3 << 20).unwrap().start(), 3 << 20);
    }
}
