//! The store's error type. Variants exist where a caller branches on them: the broker maps
//! them to wire codes in its dispatcher (e.g. `DiskFull`/`ShutDown` to SERVICE_NOT_AVAILABLE,
//! `MessageTooLarge` to MESSAGE_ILLEGAL, `FlushTimeout` to FLUSH_DISK_TIMEOUT).

use std::io;
use std::path::PathBuf;

use rmq_remoting::message::RecordError;
use rustix::io::Errno;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An IO error on a store file.
    #[error("io error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The configuration is invalid.
    #[error("invalid store config: {0}")]
    Config(String),
    /// Another process holds the store's lock file.
    #[error("store directory {0} is locked by another process")]
    Locked(PathBuf),
    /// Files on disk are inconsistent in a way recovery does not repair (missing or
    /// mis-sized files in the middle of the commit log).
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    /// The record cannot be encoded (topic or properties too long).
    #[error("bad message: {0}")]
    BadMessage(#[from] RecordError),
    /// The message (or batch) is larger than `max_message_size` or a commit-log file.
    #[error("message of {size} bytes exceeds the limit of {limit}")]
    MessageTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A batch mixes topics or queues, or is empty.
    #[error("invalid batch: {0}")]
    BadBatch(&'static str),
    /// The store's disk is full: usage is above `disk_full_ratio`, a new file does not fit, or
    /// the file system refused blocks. Nothing was written; appends succeed again once there is
    /// room (no restart needed).
    #[error(
        "the broker's disk is full ({detail}); free space on that disk or lower fileReservedTime \
         so old commit-log files are deleted, and sends are accepted again by themselves"
    )]
    DiskFull {
        /// What was short, and where.
        detail: String,
    },
    /// The store is shut down.
    #[error("store is shut down")]
    ShutDown,
    /// A raw replication append did not start at the current end.
    #[error("raw append at {offset} but the commit log ends at {expected}")]
    OffsetMismatch {
        /// Offset asked for.
        offset: u64,
        /// Current max offset.
        expected: u64,
    },
    /// The record was stored but not flushed within the sync-flush timeout.
    #[error("flush did not reach the record within the timeout (the record is stored)")]
    FlushTimeout,
}

impl StoreError {
    /// An IO error on `path`; "no space left" becomes [`StoreError::DiskFull`].
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> StoreError {
        let path = path.into();
        if is_no_space(&source) {
            return StoreError::DiskFull {
                detail: format!("no space left writing {}", path.display()),
            };
        }
        StoreError::Io { path, source }
    }
}

/// Whether `e` says the file system (or the user's quota) has no room left.
pub fn is_no_space(e: &io::Error) -> bool {
    matches!(
        Errno::from_io_error(e),
        Some(errno) if errno == Errno::NOSPC || errno == Errno::DQUOT
    )
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
