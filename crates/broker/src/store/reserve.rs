//! Disk blocks for store files: when a file gets them ([`Reserve`]) and the `fallocate` calls
//! that reserve them ([`allocate`]) and free them ([`punch_hole`]).
//!
//! Why: a store through a mapping into a hole of a sparse file on a full disk raises SIGBUS and
//! kills the process, so no byte is written through a mapping before the file system has given
//! it a block ([`super::mapped_file`] reserves ahead of its writer). Where the file system
//! cannot reserve blocks at all, reserving is a no-op and a full disk can still raise SIGBUS
//! (said once per process).

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{fallocate, FallocateFlags};
use rustix::io::Errno;

/// Reservation step of consume-queue and index files.
pub const RESERVE_CHUNK: u64 = 64 * 1024;

/// Reservation step of commit-log files: one `fallocate` per 8 MiB appended (a few
/// microseconds each), and a broker that has stored little holds little disk.
pub const LOG_RESERVE_CHUNK: u64 = 8 << 20;

/// When a file gets its disk blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// All of it before it is mapped (a commit-log file that is warmed: every page is written).
    Whole,
    /// This many bytes at a time, ahead of the writer.
    Chunks(u64),
}

impl Reserve {
    /// Bytes reserved when a file of `size` bytes is created.
    pub fn first(self, size: u64) -> u64 {
        match self {
            Reserve::Whole => size,
            Reserve::Chunks(step) => step.min(size),
        }
    }

    /// Where a reservation covering `[0, end)` of a file of `size` bytes ends: the whole file,
    /// or the next chunk boundary.
    pub fn cover(self, end: u64, size: u64) -> u64 {
        match self {
            Reserve::Whole => size,
            Reserve::Chunks(step) => end.div_ceil(step).saturating_mul(step).min(size),
        }
    }
}

/// Gives `[offset, offset + len)` of `file` real blocks. `Ok(false)` when the file system
/// cannot reserve blocks at all.
pub(super) fn allocate(file: &File, offset: u64, len: u64) -> io::Result<bool> {
    match fallocate(file, FallocateFlags::empty(), offset, len) {
        Ok(()) => Ok(true),
        Err(e) if unsupported(e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Frees the blocks of `[offset, offset + len)` of `file`, which reads as zeroes afterwards and
/// keeps its size; false where the file system cannot punch holes.
pub(super) fn punch_hole(file: &File, offset: u64, len: u64) -> bool {
    let punch = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
    fallocate(file, punch, offset, len).is_ok()
}

/// Whether the file system cannot reserve blocks at all (then a full disk can still raise
/// SIGBUS; said once per process).
fn unsupported(e: Errno) -> bool {
    if e == Errno::OPNOTSUPP || e == Errno::NOSYS {
        static WARNED: AtomicBool = AtomicBool::new(false);
        if !WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the store's file system cannot reserve blocks (fallocate); a full disk may stop the broker"
            );
        }
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_up_to_a_boundary_and_never_past_the_file() {
        let size = 4 * RESERVE_CHUNK;
        assert_eq!(Reserve::Whole.first(size), size);
        assert_eq!(Reserve::Chunks(RESERVE_CHUNK).first(size), RESERVE_CHUNK);
        assert_eq!(Reserve::Chunks(LOG_RESERVE_CHUNK).first(size), size);
        assert_eq!(Reserve::Whole.cover(1, size), size);
        assert_eq!(
            Reserve::Chunks(RESERVE_CHUNK).cover(RESERVE_CHUNK + 1, size),
            2 * RESERVE_CHUNK
        );
        assert_eq!(
            Reserve::Chunks(RESERVE_CHUNK).cover(2 * RESERVE_CHUNK, size),
            2 * RESERVE_CHUNK
        );
        assert_eq!(Reserve::Chunks(LOG_RESERVE_CHUNK).cover(1, size), size);
    }
}
