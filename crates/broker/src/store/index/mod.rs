//! The message index: Apache's index files (`<root>/index/`, layout in [`file`]) that find a
//! message by `topic#key` and `topic#UNIQ_KEY`, kept by a thread that follows the commit log.
//!
//! * **Writing.** The follower thread ([`follow`]) reads every record the store has dispatched
//!   (`Inner::dispatched`, which covers a slave's replicated records too) and adds one entry per
//!   key to the newest file, creating the next file when that one is full. Appends never wait for
//!   it: the put lock does not know the index exists. A query right after a send may therefore
//!   miss the message for a moment, as in Apache, where the index is built by the same thread
//!   that builds consume queues.
//! * **Durability.** A full file is synced and its end time becomes the checkpoint's
//!   `indexMsgTimestamp`; the active file is synced only at a clean shutdown (then the
//!   timestamp is its end time). After a crash the files that end later than the checkpoint's
//!   timestamp are deleted at open, as Apache does, and the follower rebuilds them from the
//!   commit log, starting right after the newest entry of the newest file kept (its
//!   `endPhyOffset`), or at the commit log's first byte when no file is left. Apache restarts
//!   the index where the commit-log recovery starts instead and loses the keys in between
//!   unless `messageIndexSafe` is set; here nothing retained is lost either way.
//! * **Retention.** When commit-log files are deleted, every index file but the newest whose
//!   `endPhyOffset` lies below the commit log's new first byte is deleted too.
//! * **Reading.** [`MessageIndex::lookup`] walks files newest first, as Apache's
//!   `IndexService.queryOffset` does; the store reads the records ([`query`]).

pub mod file;
pub(super) mod follow;
pub mod keys;
pub mod query;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use super::commit_log::CommitLog;
use super::error::{Result, StoreError};
use file::IndexFile;
use keys::Scanned;

/// Where the index stands, for the checkpoint and for queries.
#[derive(Debug)]
pub struct MessageIndex {
    dir: PathBuf,
    slots: u32,
    max_index: u32,
    /// Oldest first. Replaced only by the follower (new file) and retention (front removal).
    files: RwLock<Vec<Arc<IndexFile>>>,
    /// Commit-log offset of the next record to index.
    next: AtomicU64,
    /// End time of the newest synced file: the checkpoint's `indexMsgTimestamp`.
    durable_timestamp: AtomicI64,
}

/// What [`MessageIndex::open`] needs to know about the rest of the store.
#[derive(Debug, Clone, Copy)]
pub struct OpenState {
    /// The last run ended without a clean shutdown.
    pub crashed: bool,
    /// `indexMsgTimestamp` of the checkpoint (0 when unknown).
    pub checkpoint_timestamp: i64,
    /// The recovered end of the commit log.
    pub log_end: u64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl MessageIndex {
    /// Loads `root/index/`, drops what a crash may have left half-written, and decides where
    /// the follower resumes.
    pub fn open(
        root: &Path,
        slots: u32,
        max_index: u32,
        cl: &CommitLog,
        state: OpenState,
    ) -> Result<MessageIndex> {
        let dir = root.join("index");
        let mut files = Vec::new();
        if dir.exists() {
            let entries = std::fs::read_dir(&dir).map_err(|e| StoreError::io(&dir, e))?;
            let mut names = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|e| StoreError::io(&dir, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if file::is_index_name(&name) {
                    names.push(name);
                } else if name.ends_with(".tmp") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
            names.sort();
            for name in names {
                let path = dir.join(&name);
                match IndexFile::open(&path, slots, max_index) {
                    Ok(f) => files.push(Arc::new(f)),
                    Err(e) => {
                        // Derived data: the follower rebuilds what the commit log still holds.
                        tracing::warn!(path = %path.display(), error = %e, "index file unusable (were maxHashSlotNum/maxIndexNum changed?); deleting it");
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
        }
        let mut dropped = 0;
        if state.crashed {
            files.retain(|f| {
                let keep = f.header().end_timestamp <= state.checkpoint_timestamp;
                if !keep {
                    f.delete_on_drop();
                    dropped += 1;
                }
                keep
            });
        }
        // Entries past the recovered end of the log point at records that no longer exist.
        while files
            .last()
            .is_some_and(|f| f.header().has_entries() && f.header().end_phy_offset as u64 >= state.log_end)
        {
            if let Some(f) = files.pop() {
                f.delete_on_drop();
                dropped += 1;
            }
        }
        let log_min = cl.min_offset();
        let next = match files.iter().rev().map(|f| f.header()).find(|h| h.has_entries()) {
            Some(h) if h.end_phy_offset as u64 >= log_min => {
                let at = h.end_phy_offset as u64;
                match read_at(cl, at) {
                    Some(Ok(Scanned::Message { size, .. })) => at + size as u64,
                    _ => log_min,
                }
            }
            _ => log_min,
        };
        if dropped > 0 || state.crashed {
            tracing::info!(
                files_dropped = dropped,
                resume_at = next,
                "message index loaded after a crash; the follower rebuilds from the commit log"
            );
        }
        Ok(MessageIndex {
            dir,
            slots,
            max_index,
            files: RwLock::new(files),
            next: AtomicU64::new(next),
            durable_timestamp: AtomicI64::new(state.checkpoint_timestamp),
        })
    }

    fn read_files(&self) -> RwLockReadGuard<'_, Vec<Arc<IndexFile>>> {
        self.files.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_files(&self) -> RwLockWriteGuard<'_, Vec<Arc<IndexFile>>> {
        self.files.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Commit-log offset below which every record is indexed.
    pub fn indexed_offset(&self) -> u64 {
        self.next.load(Ordering::Acquire)
    }

    /// The checkpoint's `indexMsgTimestamp`.
    pub fn durable_timestamp(&self) -> i64 {
        self.durable_timestamp.load(Ordering::Acquire)
    }

    /// Number of index files.
    pub fn file_count(&self) -> usize {
        self.read_files().len()
    }

    /// The newest file's end (timestamp, phy offset): QUERY_MESSAGE's `indexLastUpdate*`.
    pub fn last_update(&self) -> (i64, i64) {
        self.read_files().last().map_or((0, 0), |f| {
            let h = f.header();
            (h.end_timestamp, h.end_phy_offset)
        })
    }

    /// Commit-log offsets of records indexed under `key` (`topic#key`) stored within
    /// `[begin, end]`, at most `max`, ascending and without repeats. Files are searched
    /// newest first; the search stops at a file that starts before `begin`.
    pub fn lookup(&self, key: &str, max: usize, begin: i64, end: i64) -> Vec<u64> {
        let files: Vec<Arc<IndexFile>> = self.read_files().clone();
        let mut out = Vec::new();
        for f in files.iter().rev() {
            if out.len() >= max {
                break;
            }
            if f.overlaps(begin, end) {
                f.lookup(key, begin, end, max, &mut out);
            }
            if f.header().begin_timestamp < begin {
                break;
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Adds `key` for the record at `phy`; creates the next file when there is none or the
    /// newest is full (syncing the full one and advancing the durable timestamp).
    fn put(&self, key: &str, phy: u64, store_timestamp: i64) -> Result<()> {
        let last = self.read_files().last().cloned();
        if let Some(f) = &last {
            if f.put(key, phy, store_timestamp)? {
                return Ok(());
            }
        }
        let begin = match &last {
            Some(f) => {
                let h = f.header();
                // A full file is complete: make it durable before the checkpoint names it.
                f.sync()?;
                self.durable_timestamp
                    .fetch_max(h.end_timestamp, Ordering::AcqRel);
                (h.end_timestamp, h.end_phy_offset)
            }
            None => (0, 0),
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| StoreError::io(&self.dir, e))?;
        let (_, name) = file::fresh_path(&self.dir, now_ms());
        let f = Arc::new(IndexFile::create(
            &self.dir,
            &name,
            self.slots,
            self.max_index,
            begin,
        )?);
        tracing::info!(file = %f.path().display(), "new index file");
        if !f.put(key, phy, store_timestamp)? {
            return Err(StoreError::Config(
                "maxIndexNum leaves no room for an entry".into(),
            ));
        }
        self.write_files().push(f);
        Ok(())
    }

    /// Indexes the records in `[indexed_offset, to)`, at most `limit` of them; returns how
    /// many it read.
    pub(super) fn build(&self, cl: &CommitLog, to: u64, limit: usize) -> Result<usize> {
        let mut at = self.next.load(Ordering::Acquire);
        let mut done = 0;
        while at < to && done < limit {
            let Some(scanned) = read_at(cl, at) else {
                let min = cl.min_offset();
                if at < min {
                    // Retention removed what was not indexed yet (the index was far behind).
                    at = min;
                    continue;
                }
                break;
            };
            match scanned {
                Ok(Scanned::Blank) => at = cl.file_start(at) + cl.file_size(),
                Ok(Scanned::Message {
                    size,
                    store_timestamp,
                    keys,
                }) => {
                    for key in &keys {
                        if let Err(e) = self.put(key, at, store_timestamp) {
                            self.next.store(at, Ordering::Release);
                            return Err(e);
                        }
                    }
                    at += size as u64;
                    done += 1;
                }
                Err(reason) => {
                    // Dispatched records were all checked; this should not happen. Skip the
                    // rest of the file rather than stop indexing for good.
                    let skip_to = cl.file_start(at) + cl.file_size();
                    tracing::error!(offset = at, skip_to, reason = %reason, "index follower cannot read a dispatched record; skipping to the next file");
                    at = skip_to;
                }
            }
        }
        self.next.store(at, Ordering::Release);
        Ok(done)
    }

    /// Syncs every file and makes the newest end time the durable timestamp (clean shutdown).
    pub(super) fn sync_all(&self) -> Result<()> {
        let files: Vec<Arc<IndexFile>> = self.read_files().clone();
        for f in &files {
            f.sync()?;
        }
        if let Some(f) = files.last() {
            self.durable_timestamp
                .fetch_max(f.header().end_timestamp, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Deletes every file but the newest whose newest entry lies below `log_min`; returns how
    /// many went.
    pub(super) fn delete_before(&self, log_min: u64) -> usize {
        let mut files = self.write_files();
        let keep_last = files.len().saturating_sub(1);
        let n = files
            .iter()
            .take(keep_last)
            .take_while(|f| (f.header().end_phy_offset.max(0) as u64) < log_min)
            .count();
        for f in files.drain(..n) {
            f.delete_on_drop();
        }
        if n > 0 {
            tracing::info!(files = n, "deleted index files of deleted commit-log files");
        }
        n
    }
}

/// What the record at `at` is, `None` when no file holds `at`.
fn read_at(cl: &CommitLog, at: u64) -> Option<std::result::Result<Scanned, String>> {
    let f = cl.files().find(at)?;
    let pos = (at - f.start()) as usize;
    f.with_slice(pos, (f.size() as usize).saturating_sub(pos), keys::scan)
}
