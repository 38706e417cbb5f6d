//! One consume queue: the index of one topic's queue into the commit log, kept in
//! `consumequeue/<topic>/<queueId>/<20-digit byte offset>` files.
//!
//! ```text
//! entry N at byte N*20 of the concatenated files (big-endian):
//!   0  8  commit-log physical offset
//!   8  4  record size
//!  12  8  tags code (Java String.hashCode of TAGS, 0 without a tag)
//! ```
//!
//! Invariants: entries `[min, max)` are written and point at increasing physical offsets;
//! bytes past `max` are zero (truncation zeroes them, so a later recovery that stops at the first
//! zero entry never resurrects a stale one); a placeholder `(0, i32::MAX, 0)` stands for an
//! entry whose record is gone. Only the put-lock holder (or recovery, before the store is
//! shared) writes.
//!
//! Files are opened when first used and closed again when idle or when the store's budget of
//! open queue files is spent ([`OpenFiles`]); their blocks are reserved ahead of the writer, and
//! [`ConsumeQueue::reserve`] lets an append claim the room for its entries before it writes the
//! commit log, so a full disk refuses the append instead of leaving a record without its entry.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::error::{Result, StoreError};
use super::file_queue::FileQueue;
use super::mapped_file::sync_dir;
use super::open_files::OpenFiles;

/// Bytes per entry (`CQ_STORE_UNIT_SIZE`).
pub const ENTRY_SIZE: usize = 20;
/// Size field of a placeholder entry.
pub const PLACEHOLDER_SIZE: i32 = i32::MAX;

/// One consume-queue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CqEntry {
    /// Commit-log offset of the record.
    pub phys: u64,
    /// Record size.
    pub size: i32,
    /// Tags hash code.
    pub tags_code: i64,
}

impl CqEntry {
    const PLACEHOLDER: CqEntry = CqEntry {
        phys: 0,
        size: PLACEHOLDER_SIZE,
        tags_code: 0,
    };

    fn encode(&self) -> [u8; ENTRY_SIZE] {
        let mut b = [0u8; ENTRY_SIZE];
        b[0..8].copy_from_slice(&(self.phys as i64).to_be_bytes());
        b[8..12].copy_from_slice(&self.size.to_be_bytes());
        b[12..20].copy_from_slice(&self.tags_code.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> CqEntry {
        let mut phys = [0u8; 8];
        let mut size = [0u8; 4];
        let mut tags = [0u8; 8];
        phys.copy_from_slice(&b[0..8]);
        size.copy_from_slice(&b[8..12]);
        tags.copy_from_slice(&b[12..20]);
        CqEntry {
            phys: i64::from_be_bytes(phys).max(0) as u64,
            size: i32::from_be_bytes(size),
            tags_code: i64::from_be_bytes(tags),
        }
    }

    /// Whether this entry points at a record (not a placeholder, not unwritten).
    pub fn is_real(&self) -> bool {
        self.size > 0 && self.size != PLACEHOLDER_SIZE
    }

    /// One past the record's last byte.
    pub fn end(&self) -> u64 {
        self.phys + self.size.max(0) as u64
    }
}

/// One topic queue's index.
#[derive(Debug)]
pub struct ConsumeQueue {
    topic: String,
    queue_id: i32,
    files: FileQueue,
    /// Next logical offset to write.
    max: AtomicU64,
    /// First logical offset whose record may still exist.
    min: AtomicU64,
    /// Entries below this are on disk.
    flushed: AtomicU64,
    /// The commit-log minimum of the last [`Self::delete_files_before`] that found nothing to
    /// do, so an idle queue is not opened again by every retention pass (`u64::MAX`: none yet).
    retention_seen: AtomicU64,
}

impl ConsumeQueue {
    /// Opens (or creates) the queue under `dir` (`consumequeue/<topic>/<queueId>`), its files
    /// counted against `budget`. With `scan_tail` (crash recovery) the end is found by scanning
    /// the last two files for the first empty entry and everything after it is zeroed;
    /// otherwise the zero suffix is trusted. Only the files read to find the end are opened.
    pub fn open(
        dir: &Path,
        topic: &str,
        queue_id: i32,
        entries_per_file: usize,
        scan_tail: bool,
        budget: Arc<OpenFiles>,
    ) -> Result<Self> {
        let file_size = (entries_per_file * ENTRY_SIZE) as u64;
        let files = FileQueue::load_deferring_dir_sync(dir, file_size, budget)?;
        let cq = ConsumeQueue {
            topic: topic.to_string(),
            queue_id,
            files,
            max: AtomicU64::new(0),
            min: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            retention_seen: AtomicU64::new(u64::MAX),
        };
        let first = cq.files.min_offset() / ENTRY_SIZE as u64;
        let end = cq.find_end(scan_tail);
        cq.min.store(first, Ordering::Relaxed);
        cq.max.store(end.max(first), Ordering::Relaxed);
        cq.flushed.store(end.max(first), Ordering::Relaxed);
        if scan_tail {
            cq.truncate(end.max(first))?;
        }
        Ok(cq)
    }

    /// Logical offset of the first empty entry.
    fn find_end(&self, scan_tail: bool) -> u64 {
        let files = self.files.files();
        let per_file = self.files.file_size() / ENTRY_SIZE as u64;
        let Some(last) = files.last() else { return 0 };
        let empty_at = |f: &super::mapped_file::MappedFile, i: u64| {
            f.with_slice((i as usize) * ENTRY_SIZE, ENTRY_SIZE, |b| {
                CqEntry::decode(b).size <= 0
            })
            .unwrap_or(true)
        };
        if scan_tail {
            let from = files.len().saturating_sub(2);
            for f in &files[from..] {
                if let Some(i) = (0..per_file).find(|i| empty_at(f, *i)) {
                    return f.start() / ENTRY_SIZE as u64 + i;
                }
            }
            return last.end() / ENTRY_SIZE as u64;
        }
        // Clean state: written entries are a prefix, so binary search the last non-empty file.
        let file = if empty_at(last, 0) && files.len() > 1 {
            &files[files.len() - 2]
        } else {
            last
        };
        let (mut lo, mut hi) = (0u64, per_file);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if empty_at(file, mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        file.start() / ENTRY_SIZE as u64 + lo
    }

    /// Topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Queue id.
    pub fn queue_id(&self) -> i32 {
        self.queue_id
    }

    /// Next logical offset (number of entries ever written).
    pub fn max_offset(&self) -> u64 {
        self.max.load(Ordering::Acquire)
    }

    /// First logical offset still available.
    pub fn min_offset(&self) -> u64 {
        self.min.load(Ordering::Acquire).min(self.max_offset())
    }

    /// Entries per file.
    pub fn entries_per_file(&self) -> u64 {
        self.files.file_size() / ENTRY_SIZE as u64
    }

    /// Writes the entry for `queue_offset`, which must be `>= max`; a gap is filled with
    /// placeholders (only recovery of a damaged queue produces one).
    pub fn put(&self, queue_offset: u64, entry: CqEntry) -> Result<()> {
        let mut max = self.max_offset();
        if max == 0 && queue_offset > 0 && self.files.is_empty() {
            // A queue that starts mid-stream (a slave that began at the master's last file):
            // only the first file is front-filled, as RocketMQ does.
            max = queue_offset - queue_offset % self.entries_per_file();
            self.min.store(queue_offset, Ordering::Release);
        }
        if queue_offset < max {
            return Err(StoreError::Corrupt(format!(
                "{}/{}: entry {queue_offset} written below max {max}",
                self.topic, self.queue_id
            )));
        }
        for gap in max..queue_offset {
            self.write_entry(gap, &CqEntry::PLACEHOLDER)?;
        }
        self.write_entry(queue_offset, &entry)?;
        self.max.store(queue_offset + 1, Ordering::Release);
        Ok(())
    }

    /// Creates the files and reserves the blocks that entries `[max, max + count)` need, so
    /// writing them cannot fail for want of space ([`super::error::StoreError::DiskFull`] here
    /// instead, before anything is written).
    pub fn reserve(&self, count: u64) -> Result<()> {
        let from = self.max_offset() * ENTRY_SIZE as u64;
        let to = from + count * ENTRY_SIZE as u64;
        let mut pos = from;
        while pos < to {
            let file = self.files.find_or_create(pos)?;
            let end = to.min(file.end());
            file.reserve((pos - file.start()) as usize, (end - pos) as usize)?;
            pos = end;
        }
        Ok(())
    }

    fn write_entry(&self, queue_offset: u64, entry: &CqEntry) -> Result<()> {
        let pos = queue_offset * ENTRY_SIZE as u64;
        let file = self.files.find_or_create(pos)?;
        if !file.write((pos - file.start()) as usize, &entry.encode())? {
            return Err(StoreError::Corrupt(format!(
                "{}/{}: entry {queue_offset} out of file",
                self.topic, self.queue_id
            )));
        }
        Ok(())
    }

    /// The entry at `queue_offset`, if written and its file still exists.
    pub fn entry(&self, queue_offset: u64) -> Option<CqEntry> {
        if queue_offset >= self.max_offset() {
            return None;
        }
        let pos = queue_offset * ENTRY_SIZE as u64;
        let file = self.files.find(pos)?;
        file.with_slice((pos - file.start()) as usize, ENTRY_SIZE, CqEntry::decode)
    }

    /// Up to `max_entries` entries from `from`, stopping at `max` or a missing file.
    pub fn entries(&self, from: u64, max_entries: usize) -> Vec<CqEntry> {
        let end = self.max_offset().min(from.saturating_add(max_entries as u64));
        let mut out = Vec::with_capacity(end.saturating_sub(from) as usize);
        let mut at = from;
        while at < end {
            let pos = at * ENTRY_SIZE as u64;
            let Some(file) = self.files.find(pos) else { break };
            let in_file = ((file.end() - pos) / ENTRY_SIZE as u64).min(end - at);
            let read = file.with_slice(
                (pos - file.start()) as usize,
                in_file as usize * ENTRY_SIZE,
                |b| {
                    out.extend(b.chunks_exact(ENTRY_SIZE).map(CqEntry::decode));
                },
            );
            if read.is_none() {
                break;
            }
            at += in_file;
        }
        out
    }

    /// Logical offset where the file after the one holding `queue_offset` starts (where a
    /// reader resumes when a file is missing: `OFFSET_FOUND_NULL`).
    pub fn next_file_offset(&self, queue_offset: u64) -> u64 {
        let per_file = self.entries_per_file();
        (queue_offset / per_file + 1) * per_file
    }

    /// Drops entries from `queue_offset` on (recovery: entries pointing past the commit log).
    pub fn truncate(&self, queue_offset: u64) -> Result<()> {
        let pos = queue_offset * ENTRY_SIZE as u64;
        self.files
            .remove_from(pos.div_ceil(self.files.file_size()) * self.files.file_size())?;
        if let Some(file) = self.files.find(pos) {
            file.zero_from((pos - file.start()) as usize)?;
        }
        self.max.store(
            queue_offset.max(self.min.load(Ordering::Acquire)),
            Ordering::Release,
        );
        self.flushed.fetch_min(queue_offset, Ordering::AcqRel);
        Ok(())
    }

    /// Cuts every entry whose record ends past `log_end`; returns whether any was cut.
    pub fn trim_past(&self, log_end: u64) -> Result<bool> {
        let past = |qo: u64| match self.entry(qo) {
            Some(e) => e.is_real() && e.end() > log_end,
            None => true,
        };
        let (mut lo, hi) = (self.files.min_offset() / ENTRY_SIZE as u64, self.max_offset());
        let mut hi_search = hi;
        while lo < hi_search {
            let mid = lo + (hi_search - lo) / 2;
            if past(mid) {
                hi_search = mid;
            } else {
                lo = mid + 1;
            }
        }
        if lo < hi {
            self.truncate(lo)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Moves `min` to the first entry whose record is at or after `commit_log_min`. Returns
    /// false, leaving `min` alone, when a closed file could not be opened again to look (out
    /// of descriptors): an unreadable entry must not hide the entries after it.
    pub fn correct_min(&self, commit_log_min: u64) -> bool {
        let below = |qo: u64| -> Result<bool> {
            if qo >= self.max_offset() {
                return Ok(true);
            }
            let pos = qo * ENTRY_SIZE as u64;
            let Some(file) = self.files.find(pos) else {
                return Ok(true);
            };
            let e = file.try_with_slice((pos - file.start()) as usize, ENTRY_SIZE, CqEntry::decode)?;
            Ok(e.is_none_or(|e| !e.is_real() || e.phys < commit_log_min))
        };
        let (mut lo, mut hi) = (self.files.min_offset() / ENTRY_SIZE as u64, self.max_offset());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match below(mid) {
                Ok(true) => lo = mid + 1,
                Ok(false) => hi = mid,
                Err(e) => {
                    tracing::warn!(topic = %self.topic, queue = self.queue_id, error = %e, "cannot read a consume queue to move its minimum; kept");
                    return false;
                }
            }
        }
        self.min.store(lo, Ordering::Release);
        true
    }

    /// Retention: removes leading files whose last entry points below `commit_log_min`, always
    /// keeping the file being written. Returns how many were removed.
    pub fn delete_files_before(&self, commit_log_min: u64) -> usize {
        if self.retention_seen.load(Ordering::Acquire) == commit_log_min {
            // Nothing changed below this queue since the last pass: no file to open.
            return 0;
        }
        let files = self.files.files();
        let max_pos = self.max_offset() * ENTRY_SIZE as u64;
        let mut n = 0;
        for f in files.iter().take(files.len().saturating_sub(1)) {
            if f.end() > max_pos {
                break;
            }
            let last = f.with_slice(f.size() as usize - ENTRY_SIZE, ENTRY_SIZE, CqEntry::decode);
            if last.is_some_and(|e| e.end() <= commit_log_min) {
                n += 1;
            } else {
                break;
            }
        }
        if n > 0 {
            drop(self.files.remove_front(n));
            let first = self.files.min_offset() / ENTRY_SIZE as u64;
            self.min.fetch_max(first, Ordering::AcqRel);
        }
        if self.correct_min(commit_log_min) && n == 0 {
            self.retention_seen.store(commit_log_min, Ordering::Release);
        }
        n
    }

    /// Flushes written entries to disk.
    pub fn flush(&self) -> Result<()> {
        // New files' directory entries first: the checkpoint this flush precedes relies on them.
        self.files.sync_dirs()?;
        let max = self.max_offset();
        let flushed = self.flushed.load(Ordering::Acquire);
        if flushed >= max {
            return Ok(());
        }
        for f in self.files.files() {
            let (from, to) = (f.start() / ENTRY_SIZE as u64, f.end() / ENTRY_SIZE as u64);
            if to > flushed && from < max {
                f.sync()?;
            }
        }
        self.flushed.fetch_max(max, Ordering::AcqRel);
        Ok(())
    }

    /// Unlinks every file and the queue's directory (topic deletion).
    pub fn destroy(&self) -> Result<()> {
        self.files.remove_from(0)?;
        self.max.store(0, Ordering::Release);
        self.min.store(0, Ordering::Release);
        let dir = self.files.dir();
        let _ = std::fs::remove_dir(dir);
        if let Some(parent) = dir.parent() {
            let _ = std::fs::remove_dir(parent);
            if let Some(root) = parent.parent() {
                sync_dir(root)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Arc<OpenFiles> {
        OpenFiles::new(64, 60)
    }

    fn e(phys: u64) -> CqEntry {
        CqEntry {
            phys,
            size: 100,
            tags_code: phys as i64 % 3,
        }
    }

    #[test]
    fn put_read_across_files_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let cq = ConsumeQueue::open(dir.path(), "T", 0, 4, false, budget()).unwrap();
        for i in 0..10 {
            cq.put(i, e(i * 100)).unwrap();
        }
        assert!(cq.put(3, e(1)).is_err());
        assert_eq!(cq.max_offset(), 10);
        assert_eq!(cq.entry(4), Some(e(400)), "first entry of the second file");
        assert_eq!(cq.entry(3), Some(e(300)), "last entry of the first file");
        assert_eq!(cq.entry(10), None);
        let all = cq.entries(2, 100);
        assert_eq!(all.len(), 8);
        assert_eq!(all[7], e(900));
        assert_eq!(cq.next_file_offset(5), 8);
        drop(cq);
        for scan in [false, true] {
            let cq = ConsumeQueue::open(dir.path(), "T", 0, 4, scan, budget()).unwrap();
            assert_eq!(cq.max_offset(), 10, "scan_tail={scan}");
        }
    }

    #[test]
    fn truncate_gap_and_retention() {
        let dir = tempfile::tempdir().unwrap();
        let cq = ConsumeQueue::open(dir.path(), "T", 1, 4, false, budget()).unwrap();
        for i in 0..10 {
            cq.put(i, e(i * 100)).unwrap();
        }
        cq.truncate(5).unwrap();
        assert_eq!(cq.max_offset(), 5);
        assert_eq!(cq.entry(5), None);
        cq.put(7, e(700)).unwrap();
        assert_eq!(
            cq.entry(5).map(|x| x.is_real()),
            Some(false),
            "gap is filled with placeholders"
        );
        drop(cq);
        let cq = ConsumeQueue::open(dir.path(), "T", 1, 4, true, budget()).unwrap();
        assert_eq!(cq.max_offset(), 8);
        assert_eq!(
            cq.delete_files_before(450),
            1,
            "first file's last record ends at 400"
        );
        assert_eq!(
            cq.min_offset(),
            7,
            "entry 4 (starts at 400) and the placeholders are skipped"
        );
        assert_eq!(cq.entries(4, 10).len(), 4, "entries below min are still readable");
    }
}
