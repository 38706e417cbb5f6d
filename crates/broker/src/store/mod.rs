//! The message store: commit log, consume queues, flushing, checkpoint, recovery and retention,
//! as synchronous code with its own threads and no async runtime.
//!
//! ```text
//! <root>/lock                       flock held while open (a second process is refused)
//! <root>/abort                      exists while open; found at start => the last run crashed
//! <root>/checkpoint                 how far commit log and consume queues are durable
//! <root>/commitlog/<20-digit start> records back to back, fillers at file ends
//! <root>/consumequeue/<topic>/<queueId>/<20-digit start>  20-byte entries
//! <root>/index/<yyyyMMddHHmmssSSS>  key index files (see [`index`])
//! ```
//!
//! # Durability contract
//!
//! * [`MessageStore::append`] returns once the record is copied into the mapped commit log and
//!   its consume-queue entry written: from then on readers see it, and it survives the death of
//!   the process (the page cache is the kernel's), but not a power loss.
//! * It survives a power loss once [`MessageStore::flushed_offset`] passes its end
//!   ([`AppendResult::next_offset`]). With `SYNC_FLUSH` the caller waits for that with
//!   [`MessageStore::wait_flushed`] (blocking; run it on a blocking thread) or
//!   [`MessageStore::on_flushed`] (callback from the flush thread); concurrent waiters share one
//!   `fdatasync` (group commit). A wait longer than `sync_flush_timeout` ends in
//!   [`StoreError::FlushTimeout`], which the broker answers with FLUSH_DISK_TIMEOUT: the record
//!   is stored and will be flushed later. With `ASYNC_FLUSH` a background flush runs every
//!   `flush_interval`, so a power loss loses at most that much.
//! * Order on disk: record bytes are synced before the checkpoint that covers them is written;
//!   consume queues are synced before the checkpoint records their progress; new files are
//!   created under a temporary name, sized and renamed, and their directory synced.
//! * After a crash, recovery scans the commit log from the last checkpoint (at least the whole
//!   last file), checks each record's layout, body CRC and position, cuts at the first bad one
//!   and zeroes what follows; consume queues lose entries pointing past the cut and regain
//!   missing ones by replaying the scanned records. Every record that was flushed (in
//!   particular every acknowledged `SYNC_FLUSH` record) is kept, byte for byte. The body CRC
//!   does not cover header fields, so a flipped bit there is caught only where it breaks the
//!   layout or the position check (the wire format has no header checksum).
//! * A slave appends the master's raw bytes with [`MessageStore::append_raw_at`] and dispatches
//!   them exactly like its own, so its commit log is byte-identical (same file size required).

mod allocator;
mod append;
pub mod checkpoint;
pub mod commit_log;
pub mod config;
pub mod consume_queue;
pub mod dispatch;
pub mod error;
pub mod file_queue;
pub mod flush;
pub mod index;
pub mod lock;
pub mod mapped_file;
pub mod open_files;
mod progress;
pub mod queues;
mod read;
pub mod recovery;
pub mod reserve;
pub mod retention;
pub mod space;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

pub use append::{AppendResult, BatchAppendResult};
pub use config::{FlushDiskType, StoreConfig};
pub use error::StoreError;
pub use flush::FlushCallback;
pub use index::query::QueryResult;
pub use read::{GetResult, GetStatus, BATCH_MAX_BYTES, BATCH_MAX_MESSAGES, CQ_SCAN_MIN_BYTES};
pub use recovery::{Arrivals, RecoveryMode, RecoveryReport};

/// Called after a slave's raw append with the queues that got entries; must be quick.
pub type ArrivalListener = Box<dyn Fn(&Arrivals) + Send + Sync>;

/// The store's arrival listener, once set.
struct ListenerSlot(std::sync::OnceLock<ArrivalListener>);

impl std::fmt::Debug for ListenerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "ArrivalListener"
        } else {
            "none"
        })
    }
}
pub use retention::RetentionReport;

use checkpoint::CheckpointFile;
use commit_log::{CommitLog, WriteState};
use error::Result;
use flush::GroupCommit;
use lock::StoreLock;
use queues::QueueTable;

/// Counters for the broker's stats.
#[derive(Debug)]
pub struct StoreStats {
    /// Messages appended since open.
    pub messages_put: AtomicU64,
    /// Record bytes appended since open.
    pub bytes_put: AtomicU64,
    /// Sync-flush waits that timed out.
    pub flush_timeouts: AtomicU64,
    /// Commit-log syncs done (with `messages_put`, the group-commit batch size).
    pub commit_log_syncs: AtomicU64,
    /// How long each commit-log sync took (recorded by the flush thread).
    pub flush_latency: rmq_metrics::Histogram,
}

impl Default for StoreStats {
    fn default() -> Self {
        StoreStats {
            messages_put: AtomicU64::new(0),
            bytes_put: AtomicU64::new(0),
            flush_timeouts: AtomicU64::new(0),
            commit_log_syncs: AtomicU64::new(0),
            flush_latency: rmq_metrics::Histogram::new(rmq_metrics::Buckets::FLUSH_LATENCY_MS),
        }
    }
}

/// State shared with the store's threads.
#[derive(Debug)]
pub(crate) struct Inner {
    config: StoreConfig,
    commit_log: CommitLog,
    queues: QueueTable,
    /// The key index, written by its own thread following `dispatched`.
    index: index::MessageIndex,
    /// The put lock: held for the copy into the mapping and the consume-queue write, never
    /// across a sync.
    put: Mutex<WriteState>,
    /// Commit-log offset below which every record has its consume-queue entry.
    dispatched: AtomicU64,
    group_commit: GroupCommit,
    checkpoint: Mutex<CheckpointFile>,
    last_store_timestamp: AtomicI64,
    flushed_timestamp: AtomicI64,
    stats: StoreStats,
    /// Disk usage above `disk_full_ratio` at the last check.
    disk_full: AtomicBool,
    /// When the disk status was last read (ms since open), so a full disk is re-read at most
    /// once a second by the append path.
    disk_checked_ms: AtomicU64,
    /// The clock `disk_checked_ms` counts on.
    opened_at: std::time::Instant,
    disk_used_ratio_bits: AtomicU64,
    running: AtomicBool,
    /// Sleeps of the retention thread; notified on shutdown.
    stop: (Mutex<bool>, Condvar),
    recovery: RecoveryReport,
    /// Told which queues a slave's raw append filled (see [`MessageStore::set_arrival_listener`]).
    arrival_listener: ListenerSlot,
    _lock: StoreLock,
}

impl Inner {
    fn lock_put(&self) -> MutexGuard<'_, WriteState> {
        self.put.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleeps for `period` or until the store stops; false once it has stopped. The periodic
    /// threads (retention, consume-queue flush) wait here between rounds.
    fn sleep_unless_stopped(&self, period: Duration) -> bool {
        let deadline = std::time::Instant::now() + period;
        let (lock, cv) = &self.stop;
        let mut stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
        // Check the flag before each wait: shutdown may have set it before this thread slept.
        while !*stopped {
            let now = std::time::Instant::now();
            if now >= deadline {
                break;
            }
            stopped = cv
                .wait_timeout(stopped, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        !*stopped
    }
}

/// The message store. Open with [`MessageStore::open`]; dropping it shuts it down cleanly.
#[derive(Debug)]
pub struct MessageStore {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The index follower, joined at shutdown before the final checkpoint names its files.
    index_thread: Mutex<Option<JoinHandle<()>>>,
}

impl MessageStore {
    /// Takes the lock, recovers, and starts the flush, retention and allocation threads.
    pub fn open(config: StoreConfig) -> Result<Arc<MessageStore>> {
        config.validate()?;
        std::fs::create_dir_all(&config.root).map_err(|e| StoreError::io(&config.root, e))?;
        let lock = StoreLock::acquire(&config.root)?;
        let (ckpt_file, ckpt) = CheckpointFile::open(&config.root)?;
        let clean = !checkpoint::was_aborted(&config.root) && ckpt.is_some();
        let mut commit_log = CommitLog::load(&config.root, config.commit_log_file_size)?;
        commit_log.set_write_through(config.flush_disk_type == FlushDiskType::Sync);
        // The idle time counts consume-queue flushes, which run the sweep.
        let idle_ticks = (config.queue_file_idle.as_millis()
            / config.consume_queue_flush_interval.as_millis().max(1)) as u64;
        let budget = open_files::OpenFiles::new(config.max_open_queue_files, idle_ticks);
        let queues = QueueTable::load(
            &config.root,
            config.consume_queue_entries_per_file,
            !clean,
            budget,
        )?;
        let report = recovery::recover(&commit_log, &queues, ckpt, clean)?;
        checkpoint::create_abort(&config.root)?;
        let index = index::MessageIndex::open(
            &config.root,
            config.max_hash_slot_num,
            config.max_index_num,
            &commit_log,
            index::OpenState {
                crashed: !clean,
                checkpoint_timestamp: ckpt.map_or(0, |c| c.index_timestamp),
                log_end: report.end,
            },
        )?;
        let write_state = commit_log.set_recovered_end(report.end);
        if config.preallocate {
            commit_log.start_allocator(true, config.warm_mapped_file)?;
            commit_log.request_next(report.end);
        }
        let inner = Arc::new(Inner {
            commit_log,
            queues,
            index,
            put: Mutex::new(write_state),
            dispatched: AtomicU64::new(report.end),
            // Recovery only keeps bytes it read back from the files, and a clean shutdown
            // synced them; after a crash, the kept tail may still be in the page cache only.
            group_commit: GroupCommit::new(if clean { report.end } else { report.scanned_from }),
            checkpoint: Mutex::new(ckpt_file),
            last_store_timestamp: AtomicI64::new(report.last_store_timestamp),
            flushed_timestamp: AtomicI64::new(ckpt.map_or(0, |c| c.physic_timestamp)),
            stats: StoreStats::default(),
            disk_full: AtomicBool::new(false),
            disk_checked_ms: AtomicU64::new(0),
            opened_at: std::time::Instant::now(),
            disk_used_ratio_bits: AtomicU64::new(0),
            running: AtomicBool::new(true),
            stop: (Mutex::new(false), Condvar::new()),
            recovery: report,
            arrival_listener: ListenerSlot(std::sync::OnceLock::new()),
            _lock: lock,
            config,
        });
        retention::refresh_disk_status(&inner);
        let store = Arc::new(MessageStore {
            inner: inner.clone(),
            threads: Mutex::new(Vec::new()),
            index_thread: Mutex::new(None),
        });
        store.spawn("store-flusher", flush::run)?;
        store.spawn("store-cq-flusher", flush::run_queue_flusher)?;
        store.spawn("store-retention", retention::run)?;
        if store.inner.config.message_index_enable {
            let handle = store.start_thread("store-indexer", index::follow::run)?;
            *store.index_thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        }
        Ok(store)
    }

    fn start_thread(&self, name: &str, f: fn(&Inner)) -> Result<JoinHandle<()>> {
        let inner = self.inner.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || f(&inner))
            .map_err(|e| StoreError::io(&self.inner.config.root, e))
    }

    fn spawn(&self, name: &str, f: fn(&Inner)) -> Result<()> {
        let handle = self.start_thread(name, f)?;
        self.threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(handle);
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// What recovery found at open.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// Counters.
    pub fn stats(&self) -> &StoreStats {
        &self.inner.stats
    }

    /// Whether appends are accepted (open, and the disk not full at the last check, which a
    /// full disk repeats at most once a second).
    pub fn is_writable(&self) -> bool {
        self.check_writable().is_ok()
    }

    /// Open consume-queue files now, and their cap.
    pub fn open_queue_files(&self) -> (usize, usize) {
        let b = self.inner.queues.budget();
        (b.open_count(), b.cap())
    }

    /// Disk usage ratio of the store's file system at the last check.
    pub fn disk_used_ratio(&self) -> f64 {
        f64::from_bits(self.inner.disk_used_ratio_bits.load(Ordering::Acquire))
    }

    /// Commit-log bytes below this are on disk.
    pub fn flushed_offset(&self) -> u64 {
        self.inner.group_commit.flushed()
    }

    /// Blocks until the commit log is flushed up to `offset` (normally
    /// [`AppendResult::next_offset`]), asking for a flush now. Fails with
    /// [`StoreError::FlushTimeout`] after `timeout` (the record stays stored).
    pub fn wait_flushed(&self, offset: u64, timeout: Duration) -> Result<()> {
        let r = self.inner.group_commit.wait(offset, timeout);
        if matches!(r, Err(StoreError::FlushTimeout)) {
            self.inner.stats.flush_timeouts.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// Installs the listener told of the queues each [`Self::append_raw_at`] filled (a slave
    /// wakes the pulls held on them). Only the first call takes effect.
    pub fn set_arrival_listener(&self, listener: ArrivalListener) {
        let _ = self.inner.arrival_listener.0.set(listener);
    }

    /// Like [`Self::wait_flushed`] without blocking: `callback` runs on the flush thread once
    /// the offset is flushed or the timeout passed. Keep it short (complete a oneshot).
    pub fn on_flushed(&self, offset: u64, timeout: Duration, callback: FlushCallback) {
        self.inner.group_commit.on_flushed(offset, timeout, callback)
    }

    /// Flushes the commit log now (blocking) and returns the flushed offset.
    pub fn flush(&self) -> Result<u64> {
        let end = self.max_physical_offset();
        self.wait_flushed(end, self.inner.config.sync_flush_timeout)?;
        Ok(self.flushed_offset())
    }

    /// Runs a retention pass as of `now` (the background thread calls this every
    /// `clean_interval` with the wall clock).
    pub fn clean_expired(&self, now: SystemTime) -> RetentionReport {
        retention::clean(&self.inner, now)
    }

    /// Clean shutdown: stops the threads, flushes commit log and consume queues, writes the
    /// checkpoint and removes the abort file. Idempotent; later appends fail with
    /// [`StoreError::ShutDown`].
    pub fn shutdown(&self) -> Result<()> {
        let inner = &self.inner;
        if !inner.running.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        {
            let mut stopped = inner.stop.0.lock().unwrap_or_else(|p| p.into_inner());
            *stopped = true;
            inner.stop.1.notify_all();
        }
        // Take the put lock so no append is mid-copy while the last flush runs.
        let _put = inner.lock_put();
        inner.commit_log.stop_allocator();
        // No append runs now: the indexer indexes the rest, syncs its files and exits, so the
        // final checkpoint's index timestamp covers them.
        let indexer = self.index_thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = indexer {
            let _ = t.join();
        }
        let result = flush::flush_commit_log(inner).and_then(|()| flush::flush_queues_and_checkpoint(inner));
        inner.group_commit.stop();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        drop(_put);
        for t in threads {
            let _ = t.join();
        }
        result?;
        checkpoint::remove_abort(&inner.config.root)
    }
}

impl Drop for MessageStore {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "message store shutdown failed; the next open recovers as after a crash");
        }
    }
}
