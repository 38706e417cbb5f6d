//! The store's configuration: a plain struct with RocketMQ's defaults (`MessageStoreConfig`),
//! filled by `bin/` from flags or the broker's properties file and checked by
//! [`StoreConfig::validate`] before the store opens.

use std::path::PathBuf;
use std::time::Duration;

use super::error::StoreError;

/// When an append becomes durable (`flushDiskType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushDiskType {
    /// `ASYNC_FLUSH`: a background thread flushes every [`StoreConfig::flush_interval`].
    #[default]
    Async,
    /// `SYNC_FLUSH`: writers wait (via [`crate::store::MessageStore::wait_flushed`]) for a group
    /// commit that covers their record.
    Sync,
}

/// Where and how the message store keeps its files.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Store root (`storePathRootDir`); holds `commitlog/`, `consumequeue/`, `checkpoint`,
    /// `abort` and `lock`.
    pub root: PathBuf,
    /// Size of one commit-log file (`mappedFileSizeCommitLog`, 1 GiB). A slave must use its
    /// master's size so that both commit logs are byte-identical.
    pub commit_log_file_size: u64,
    /// Entries per consume-queue file (300,000 entries of 20 bytes).
    pub consume_queue_entries_per_file: usize,
    /// Async or sync flushing of the commit log.
    pub flush_disk_type: FlushDiskType,
    /// Period of the async commit-log flush (`flushIntervalCommitLog`, 500 ms).
    pub flush_interval: Duration,
    /// Period of the consume-queue flush and checkpoint (`flushIntervalConsumeQueue`, 1 s).
    pub consume_queue_flush_interval: Duration,
    /// How long a sync-flush writer waits before `FLUSH_DISK_TIMEOUT` (`syncFlushTimeout`, 5 s).
    pub sync_flush_timeout: Duration,
    /// Age after which commit-log and consume-queue files are deleted (`fileReservedTime`, 72 h).
    pub file_reserved_time: Duration,
    /// Period of the retention pass (`cleanResourceInterval`, 10 s).
    pub clean_interval: Duration,
    /// Disk usage ratio above which retention deletes the oldest files even before they expire
    /// (`diskMaxUsedSpaceRatio`, 0.75).
    pub disk_max_used_ratio: f64,
    /// Disk usage ratio above which appends are refused with [`StoreError::DiskFull`]
    /// (`diskSpaceWarningLevelRatio`, 0.90).
    pub disk_full_ratio: f64,
    /// Largest accepted body, or whole batch (`maxMessageSize`, 4 MiB).
    pub max_message_size: usize,
    /// Create and touch the next commit-log file in the background before it is needed.
    pub preallocate: bool,
    /// `warmMapedFileEnable` (false): hand a preallocated file to the writer only once all
    /// its pages are faulted in, so appends never fault (the writer waits at a file boundary
    /// instead when it outruns the preparation). Without it the file is handed over at once and
    /// touched while the writer appends, which a fast writer overtakes.
    pub warm_mapped_file: bool,
    /// Most consume-queue files open (each one descriptor and one mapping) at once; opening
    /// one more closes the least recently used. The broker sets it to a fraction of its
    /// descriptor limit so the commit log and the listener always find descriptors.
    pub max_open_queue_files: usize,
    /// A consume-queue file unused this long is closed (reopened by its next use).
    pub queue_file_idle: Duration,
    /// `messageIndexEnable` (true): index every message by its keys and unique key.
    pub message_index_enable: bool,
    /// `maxHashSlotNum` (5,000,000): hash slots per index file.
    pub max_hash_slot_num: u32,
    /// `maxIndexNum` (20,000,000): entries per index file.
    pub max_index_num: u32,
    /// `maxMsgsNumBatch` (64): most messages one key query returns.
    pub max_msgs_num_batch: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            root: PathBuf::from("store"),
            commit_log_file_size: 1 << 30,
            consume_queue_entries_per_file: 300_000,
            flush_disk_type: FlushDiskType::Async,
            flush_interval: Duration::from_millis(500),
            consume_queue_flush_interval: Duration::from_secs(1),
            sync_flush_timeout: Duration::from_secs(5),
            file_reserved_time: Duration::from_secs(72 * 3600),
            clean_interval: Duration::from_secs(10),
            disk_max_used_ratio: 0.75,
            disk_full_ratio: 0.90,
            max_message_size: 4 << 20,
            preallocate: true,
            warm_mapped_file: false,
            max_open_queue_files: 4096,
            queue_file_idle: Duration::from_secs(60),
            message_index_enable: true,
            max_hash_slot_num: 5_000_000,
            max_index_num: 20_000_000,
            max_msgs_num_batch: 64,
        }
    }
}

/// Smallest commit-log file: must hold a maximal record header plus the 8-byte filler.
const MIN_FILE_SIZE: u64 = 4096;

impl StoreConfig {
    /// Checks the values; the store refuses to open with an invalid config.
    pub fn validate(&self) -> Result<(), StoreError> {
        let bad = |what: &str| Err(StoreError::Config(what.to_string()));
        if self.root.as_os_str().is_empty() {
            return bad("root is empty");
        }
        if self.commit_log_file_size < MIN_FILE_SIZE || self.commit_log_file_size > i32::MAX as u64 + 1 {
            return bad("commit_log_file_size must be within [4096, 2 GiB]");
        }
        if self.consume_queue_entries_per_file == 0 || self.consume_queue_entries_per_file > 50_000_000 {
            return bad("consume_queue_entries_per_file must be within [1, 50,000,000]");
        }
        if self.max_message_size == 0 {
            return bad("max_message_size must be positive");
        }
        // A record must fit in one file with room for the filler (appends check the exact
        // size; tiny test files use small bodies).
        if self.max_message_size as u64 + 8 > self.commit_log_file_size {
            return bad("max_message_size must fit in one commit-log file");
        }
        if self.flush_interval.is_zero() || self.consume_queue_flush_interval.is_zero() {
            return bad("flush intervals must be positive");
        }
        if self.max_open_queue_files == 0 {
            return bad("max_open_queue_files must be positive");
        }
        if self.clean_interval.is_zero() {
            return bad("clean_interval must be positive");
        }
        if self.max_hash_slot_num == 0 || self.max_index_num < 2 {
            return bad("max_hash_slot_num must be positive and max_index_num at least 2");
        }
        if self.max_hash_slot_num > 100_000_000 || self.max_index_num > 100_000_000 {
            return bad("max_hash_slot_num and max_index_num must be at most 100,000,000");
        }
        let ratio_ok = |r: f64| r > 0.0 && r <= 1.0;
        if !ratio_ok(self.disk_max_used_ratio) || !ratio_ok(self.disk_full_ratio) {
            return bad("disk ratios must be within (0, 1]");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_rocketmq_like() {
        let c = StoreConfig::default();
        c.validate().unwrap();
        assert_eq!(c.commit_log_file_size, 1_073_741_824);
        assert_eq!(
            c.consume_queue_entries_per_file * super::super::consume_queue::ENTRY_SIZE,
            6_000_000
        );
    }

    #[test]
    fn rejects_bad_values() {
        let c = StoreConfig {
            commit_log_file_size: 100,
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c = StoreConfig {
            disk_full_ratio: 1.5,
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c = StoreConfig {
            commit_log_file_size: 1 << 20,
            ..Default::default()
        };
        assert!(c.validate().is_err(), "4 MiB messages cannot fit in 1 MiB files");
        let c = StoreConfig {
            commit_log_file_size: 4096,
            max_message_size: 1024,
            ..Default::default()
        };
        c.validate().unwrap();
    }
}
