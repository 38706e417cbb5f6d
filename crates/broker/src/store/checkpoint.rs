//! The checkpoint file `<root>/checkpoint` and the abort marker `<root>/abort`.
//!
//! ```text
//! checkpoint, 4 KiB, big-endian (the first 24 bytes are Java's StoreCheckpoint layout):
//!   0  8  physicMsgTimestamp   store time of the last flushed commit-log record
//!   8  8  logicsMsgTimestamp   store time of the last record whose CQ entry is flushed
//!  16  8  indexMsgTimestamp    end time of the newest synced index file
//!  24  8  commit-log flushed offset: every byte below is on disk
//!  32  8  logics offset: every CQ entry for a record below it is on disk
//!  40  8  magic "RMQCKPT1"
//!  48  4  CRC32 of bytes 0..48
//! ```
//!
//! The file is rewritten in place and `fdatasync`ed after each flush. A torn or missing
//! checkpoint fails its CRC and is treated as "nothing known", which makes recovery scan the
//! whole commit log: slower, never wrong, and logged as a warning (a garbled file, or a missing
//! one next to an existing commit log), so an operator sees why a start takes long. The abort file exists while the store is open and is
//! removed after a clean shutdown has flushed everything and written the final checkpoint; its
//! presence at open means the previous run crashed.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tracing::warn;

use super::error::{Result, StoreError};
use super::mapped_file::sync_dir;

const MAGIC: &[u8; 8] = b"RMQCKPT1";
const FILE_SIZE: usize = 4096;

/// The recorded progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// Store time of the last flushed commit-log record.
    pub physic_timestamp: i64,
    /// Store time of the last record whose CQ entry is flushed.
    pub logics_timestamp: i64,
    /// End time of the newest synced index file (`indexMsgTimestamp`).
    pub index_timestamp: i64,
    /// Commit-log bytes below this are durable.
    pub flushed_offset: u64,
    /// CQ entries for records below this commit-log offset are durable.
    pub logics_offset: u64,
}

impl Checkpoint {
    fn encode(&self) -> [u8; FILE_SIZE] {
        let mut b = [0u8; FILE_SIZE];
        b[0..8].copy_from_slice(&self.physic_timestamp.to_be_bytes());
        b[8..16].copy_from_slice(&self.logics_timestamp.to_be_bytes());
        b[16..24].copy_from_slice(&self.index_timestamp.to_be_bytes());
        b[24..32].copy_from_slice(&self.flushed_offset.to_be_bytes());
        b[32..40].copy_from_slice(&self.logics_offset.to_be_bytes());
        b[40..48].copy_from_slice(MAGIC);
        let crc = crc32(&b[0..48]);
        b[48..52].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Checkpoint> {
        if b.len() < 52 || &b[40..48] != MAGIC {
            return None;
        }
        let u64_at = |at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            u64::from_be_bytes(x)
        };
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&b[48..52]);
        if u32::from_be_bytes(crc) != crc32(&b[0..48]) {
            return None;
        }
        Some(Checkpoint {
            physic_timestamp: u64_at(0) as i64,
            logics_timestamp: u64_at(8) as i64,
            index_timestamp: u64_at(16) as i64,
            flushed_offset: u64_at(24),
            logics_offset: u64_at(32),
        })
    }
}

fn crc32(b: &[u8]) -> u32 {
    // The record module's CRC is masked to 31 bits; that is as good for a checkpoint.
    rmq_remoting::message::record::body_crc(b)
}

/// The open checkpoint file.
#[derive(Debug)]
pub struct CheckpointFile {
    path: PathBuf,
    file: File,
}

impl CheckpointFile {
    /// Opens `root/checkpoint` and returns it with its content, `None` when missing or invalid.
    pub fn open(root: &Path) -> Result<(CheckpointFile, Option<Checkpoint>)> {
        let path = root.join("checkpoint");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf).map_err(|e| StoreError::io(&path, e))?;
        let checkpoint = Checkpoint::decode(&buf);
        if checkpoint.is_none() {
            let has_log = fs::read_dir(root.join("commitlog")).is_ok_and(|mut d| d.next().is_some());
            if !buf.is_empty() {
                warn!(path = %path.display(), bytes = buf.len(), "checkpoint is garbled (bad magic or CRC); recovery replays the whole commit log");
            } else if has_log {
                warn!(path = %path.display(), "checkpoint is missing or empty next to a commit log; recovery replays the whole commit log");
            }
        }
        Ok((CheckpointFile { path, file }, checkpoint))
    }

    /// Writes and syncs `cp`.
    pub fn write(&mut self, cp: &Checkpoint) -> Result<()> {
        let io = |e| StoreError::io(&self.path, e);
        self.file.seek(SeekFrom::Start(0)).map_err(io)?;
        self.file.write_all(&cp.encode()).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

/// Path of the abort marker.
pub fn abort_path(root: &Path) -> PathBuf {
    root.join("abort")
}

/// Whether the previous run ended without a clean shutdown.
pub fn was_aborted(root: &Path) -> bool {
    abort_path(root).exists()
}

/// Creates the abort marker (at open) durably.
pub fn create_abort(root: &Path) -> Result<()> {
    let path = abort_path(root);
    File::create(&path).map_err(|e| StoreError::io(&path, e))?;
    sync_dir(root)
}

/// Removes the abort marker (last step of a clean shutdown) durably.
pub fn remove_abort(root: &Path) -> Result<()> {
    let path = abort_path(root);
    match fs::remove_file(&path) {
        Ok(()) => sync_dir(root),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_torn_file() {
        let dir = tempfile::tempdir().unwrap();
        let (mut f, cp) = CheckpointFile::open(dir.path()).unwrap();
        assert_eq!(cp, None);
        let want = Checkpoint {
            physic_timestamp: 5,
            logics_timestamp: 4,
            index_timestamp: 3,
            flushed_offset: 1000,
            logics_offset: 900,
        };
        f.write(&want).unwrap();
        drop(f);
        assert_eq!(CheckpointFile::open(dir.path()).unwrap().1, Some(want));
        let path = dir.path().join("checkpoint");
        let mut bytes = fs::read(&path).unwrap();
        bytes[30] ^= 1;
        fs::write(&path, bytes).unwrap();
        assert_eq!(
            CheckpointFile::open(dir.path()).unwrap().1,
            None,
            "CRC catches a torn write"
        );
        assert!(!was_aborted(dir.path()));
        create_abort(dir.path()).unwrap();
        assert!(was_aborted(dir.path()));
        remove_abort(dir.path()).unwrap();
        remove_abort(dir.path()).unwrap();
        assert!(!was_aborted(dir.path()));
    }
}
