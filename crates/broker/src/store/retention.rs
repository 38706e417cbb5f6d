//! Retention and disk space: deletes commit-log files older than `file_reserved_time` (the
//! oldest ones first, even younger ones while disk usage is above `disk_max_used_ratio`), then
//! the consume-queue and index files that only point into deleted commit log, and refuses appends while
//! usage is above `disk_full_ratio`.
//!
//! Invariants: the file being written is never deleted, nor any file holding unflushed bytes;
//! a deleted file is only removed from the store's lists here, and unlinked when the last
//! reader holding it lets go ([`super::mapped_file::MappedFile::delete_on_drop`]).

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use super::error::StoreError;
use super::{space, Inner};

/// What a retention pass did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RetentionReport {
    /// Commit-log files removed.
    pub commit_log_files: usize,
    /// Consume-queue files removed.
    pub consume_queue_files: usize,
    /// Index files removed (those only pointing into deleted commit log).
    pub index_files: usize,
    /// Disk usage ratio after the pass.
    pub disk_used_ratio: f64,
}

/// Re-reads disk usage and sets the store's "disk full" flag; returns the ratio.
pub(super) fn refresh_disk_status(inner: &Inner) -> f64 {
    inner
        .disk_checked_ms
        .store(inner.opened_at.elapsed().as_millis() as u64, Ordering::Release);
    let Some(ratio) = space::used_ratio(&inner.config.root) else {
        return 0.0;
    };
    inner
        .disk_used_ratio_bits
        .store(ratio.to_bits(), Ordering::Release);
    let full = ratio > inner.config.disk_full_ratio;
    if inner.disk_full.swap(full, Ordering::AcqRel) != full {
        if full {
            tracing::error!(
                ratio,
                limit = inner.config.disk_full_ratio,
                "disk is full: refusing appends until there is room again"
            );
        } else {
            tracing::info!(ratio, "disk has room again: accepting appends");
        }
    }
    ratio
}

/// After a failed write: a full disk flags the store full (so further sends are refused
/// before they take the put lock, until a re-read finds room) and is logged once.
pub(super) fn note_write_error(inner: &Inner, e: &StoreError) {
    if let StoreError::DiskFull { detail } = e {
        inner
            .disk_checked_ms
            .store(inner.opened_at.elapsed().as_millis() as u64, Ordering::Release);
        if !inner.disk_full.swap(true, Ordering::AcqRel) {
            tracing::error!(%detail, "disk is full: refusing appends until there is room again");
        }
    }
}

/// For the append path while the disk is flagged full: re-reads the status when the last read
/// is more than a second old; returns whether the disk is still full.
pub(super) fn recheck_full_disk(inner: &Inner) -> bool {
    let now = inner.opened_at.elapsed().as_millis() as u64;
    let last = inner.disk_checked_ms.load(Ordering::Acquire);
    if now.saturating_sub(last) >= 1000
        && inner
            .disk_checked_ms
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    {
        refresh_disk_status(inner);
    }
    inner.disk_full.load(Ordering::Acquire)
}

/// One retention pass as of `now`.
pub(super) fn clean(inner: &Inner, now: SystemTime) -> RetentionReport {
    let ratio = refresh_disk_status(inner);
    let force = ratio > inner.config.disk_max_used_ratio;
    let flushed = inner.group_commit.flushed();
    let files = inner.commit_log.files().files();
    let mut n = 0;
    // Never the last file (being written), never one with unflushed bytes.
    for f in files.iter().take(files.len().saturating_sub(1)) {
        if f.end() > flushed {
            break;
        }
        let expired = f
            .modified()
            .is_some_and(|m| m + inner.config.file_reserved_time <= now);
        // Under disk pressure, one extra (unexpired) file per pass, oldest first.
        let forced = force && n == 0;
        if !(expired || forced) {
            break;
        }
        n += 1;
    }
    drop(files);
    let mut report = RetentionReport {
        disk_used_ratio: ratio,
        ..Default::default()
    };
    if n > 0 {
        report.commit_log_files = inner.commit_log.files().remove_front(n).len();
        tracing::info!(files = n, force, "deleted expired commit-log files");
    }
    let log_min = inner.commit_log.min_offset();
    for cq in inner.queues.all() {
        report.consume_queue_files += cq.delete_files_before(log_min);
    }
    report.index_files = inner.index.delete_before(log_min);
    if n > 0 {
        report.disk_used_ratio = refresh_disk_status(inner);
    }
    report
}

/// The retention thread: a pass every `clean_interval` until shutdown.
pub(super) fn run(inner: &Inner) {
    while inner.sleep_unless_stopped(inner.config.clean_interval) {
        clean(inner, SystemTime::now());
    }
}
