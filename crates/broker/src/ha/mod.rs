//! Master/slave replication of the commit log (RocketMQ 4.x classic HA, protocol.md §5).
//!
//! The master runs [`service::HaService`]: an accept loop on the HA port (listenPort + 1) and one
//! connection per slave ([`connection`]) with a reader for the slave's reports and a writer that
//! streams commit-log bytes. Sends on a SYNC_MASTER wait in [`group_transfer::GroupTransfer`] until
//! a slave acknowledged them. The slave runs [`client::HaClient`], which appends what arrives to
//! its own commit log at the same physical offsets (its store dispatches consume queues from those
//! bytes), and [`slave_sync`], which copies topic configs and consumer offsets over remoting.
//!
//! Plain TCP, no RemotingCommand framing, all integers big-endian:
//!
//! ```text
//! slave -> master, the only message: the slave's max commit-log offset (the next byte it needs)
//!   +--------------------------------+
//!   | i64 slave max physical offset  |   8 bytes; sent on connect, after every appended batch
//!   +--------------------------------+   and every 5 s (haSendHeartbeatInterval)
//!
//! master -> slave: a transfer
//!   +--------------------------------+----------------+------------------------------+
//!   | i64 physical offset of body[0] | i32 body size  | body: raw commit-log bytes   |
//!   +--------------------------------+----------------+------------------------------+
//!     12-byte header; size <= haTransferBatchSize (32 KiB); size 0 = heartbeat, sent after 5 s
//!     idle, whose offset is the master's next transfer offset
//! ```
//!
//! Invariants: the master starts a slave at the offset it reported (a report of 0 from an empty
//! slave starts at the master's oldest retained byte, so a new slave holds everything consumers
//! can still read); every frame's offset equals the slave's max offset when it is applied, and a
//! slave that sees anything else (a gap, an overlap, a master behind it) stops replicating and
//! logs an error instead of writing; a report beyond the master's max offset makes the master
//! send one heartbeat (so the slave sees the mismatch) and close.
//!
//! The store is reached through [`ReplicaLog`], so the protocol, both loops and their failure
//! handling are tested against an in-memory log as well as the real store.

pub mod client;
pub mod connection;
pub mod group_transfer;
pub mod protocol;
pub mod read_advice;
pub mod replication;
pub mod role;
pub mod service;
mod shared;

use std::time::Duration;

use bytes::Bytes;

use crate::store::{MessageStore, StoreError};

pub use client::{HaClient, SlaveState};
pub use group_transfer::{GroupTransfer, ReplicaStatus};
pub use role::Replication;
pub use service::{HaService, MasterStatus, SlaveStatus};

impl ReplicaLog for MessageStore {
    fn end_offset(&self) -> u64 {
        self.max_physical_offset()
    }

    fn start_offset(&self) -> u64 {
        self.commit_log_min_offset()
    }

    fn read(&self, from: u64, max_len: usize) -> Result<Bytes, LogError> {
        Ok(self.read_commit_log(from, max_len).unwrap_or_default())
    }

    fn append_at(&self, offset: u64, bytes: &[u8]) -> Result<(), LogError> {
        self.append_raw_at(offset, bytes).map_err(|e| match e {
            StoreError::OffsetMismatch { offset, expected } => LogError::Mismatch { offset, expected },
            StoreError::Corrupt(why) => LogError::Corrupt(why),
            other => LogError::Store(other.to_string()),
        })
    }
}

/// Why the log refused a replication read or append.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// A raw append did not start where the log ends: the slave's data does not line up with the
    /// master's. Replication stops rather than corrupt the log.
    #[error("raw append at {offset} but the commit log ends at {expected}")]
    Mismatch {
        /// Offset of the append.
        offset: u64,
        /// The log's max offset.
        expected: u64,
    },
    /// The received bytes do not parse as records where they should (the store cut them off
    /// again). Replication stops rather than retry into the same data.
    #[error("replicated bytes are not valid records: {0}")]
    Corrupt(String),
    /// Any other store failure (IO, disk full, shut down); replication retries after a pause.
    #[error("{0}")]
    Store(String),
}

/// The commit log as replication sees it. The real store implements it; tests also use an
/// in-memory log. Every method is synchronous and may touch the disk: async callers go through
/// `spawn_blocking`.
pub trait ReplicaLog: Send + Sync + 'static {
    /// The offset of the next byte to be written (the commit log's max physical offset).
    fn end_offset(&self) -> u64;
    /// The oldest byte still retained.
    fn start_offset(&self) -> u64;
    /// Up to `max_len` bytes starting at `from`, fewer at the end of a file or of the log; empty
    /// when `from` is at the end.
    fn read(&self, from: u64, max_len: usize) -> Result<Bytes, LogError>;
    /// Appends raw commit-log bytes received from the master at exactly `offset` (which must be
    /// the current max offset, or anything when the log is empty) and builds consume queues from
    /// them as for normal appends.
    fn append_at(&self, offset: u64, bytes: &[u8]) -> Result<(), LogError>;
}

/// Replication settings (RocketMQ's `ha*` and `slaveTimeout` store config).
#[derive(Debug, Clone)]
pub struct HaConfig {
    /// Largest commit-log chunk in one transfer (`haTransferBatchSize`, 32 KiB).
    pub transfer_batch_size: usize,
    /// Idle time after which the master sends a heartbeat and the slave re-reports its offset
    /// (`haSendHeartbeatInterval`, 5 s).
    pub heartbeat_interval: Duration,
    /// Silence after which either side drops the connection (`haHousekeepingInterval`, 20 s).
    pub housekeeping_interval: Duration,
    /// Lag at which SYNC_MASTER sends get SLAVE_NOT_AVAILABLE (`haSlaveFallbehindMax`, 256 MiB).
    pub slave_fall_behind_max: u64,
    /// How long a SYNC_MASTER send waits for a slave (`slaveTimeout`, 3 s).
    pub slave_timeout: Duration,
    /// How often the master's writer looks for new data when nobody wakes it (100 ms, as Java).
    pub poll_interval: Duration,
    /// First delay before the slave reconnects; doubled after each failure.
    pub reconnect_min: Duration,
    /// Longest delay between reconnect attempts (5 s, Java's fixed reconnect pause).
    pub reconnect_max: Duration,
    /// Largest transfer body a slave accepts (its receive buffer in Java, 4 MiB).
    pub max_transfer_body: usize,
    /// How often the master logs each slave's acknowledged offset and lag.
    pub progress_log_interval: Duration,
}

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig {
            transfer_batch_size: 32 * 1024,
            heartbeat_interval: Duration::from_secs(5),
            housekeeping_interval: Duration::from_secs(20),
            slave_fall_behind_max: 256 * 1024 * 1024,
            slave_timeout: Duration::from_secs(3),
            poll_interval: Duration::from_millis(100),
            reconnect_min: Duration::from_millis(200),
            reconnect_max: Duration::from_secs(5),
            max_transfer_body: 4 * 1024 * 1024,
            progress_log_interval: Duration::from_secs(30),
        }
    }
}

/// A replication config that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid HA config: {0}")]
pub struct HaConfigError(pub &'static str);

impl HaConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), HaConfigError> {
        if self.transfer_batch_size == 0 || self.transfer_batch_size > self.max_transfer_body {
            return Err(HaConfigError(
                "transfer_batch_size must be within [1, max_transfer_body]",
            ));
        }
        if self.max_transfer_body > i32::MAX as usize {
            return Err(HaConfigError("max_transfer_body must fit in an i32"));
        }
        let intervals = [
            self.heartbeat_interval,
            self.housekeeping_interval,
            self.slave_timeout,
            self.poll_interval,
            self.reconnect_min,
            self.progress_log_interval,
        ];
        if intervals.iter().any(Duration::is_zero) {
            return Err(HaConfigError("intervals and timeouts must be positive"));
        }
        if self.housekeeping_interval <= self.heartbeat_interval {
            return Err(HaConfigError(
                "housekeeping_interval must exceed heartbeat_interval",
            ));
        }
        if self.reconnect_max < self.reconnect_min {
            return Err(HaConfigError("reconnect_max must be at least reconnect_min"));
        }
        if self.slave_fall_behind_max == 0 {
            return Err(HaConfigError("slave_fall_behind_max must be positive"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_rocketmq_defaults_and_valid() {
        let c = HaConfig::default();
        c.validate().unwrap();
        assert_eq!(c.transfer_batch_size, 32768);
        assert_eq!(c.slave_fall_behind_max, 268_435_456);
        assert_eq!(c.slave_timeout, Duration::from_millis(3000));
    }

    #[test]
    fn bad_values_are_refused() {
        let bad = HaConfig {
            transfer_batch_size: 0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = HaConfig {
            housekeeping_interval: Duration::from_secs(1),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
