//! One memory-mapped store file (a commit-log or consume-queue segment), named by the 20-digit
//! decimal offset of its first byte.
//!
//! Invariants:
//! * the file always has its full size: it is created as `<name>.tmp`, sized, then renamed, so a
//!   file under its final name is never short, and it is never truncated while mapped;
//! * writes go through the `RwLock`ed mapping, so a reader copying bytes out never races a
//!   writer (both commit log and consume queue have a single writer, the put lock holder);
//! * a file removed by retention is unlinked only when the last `Arc` to it drops, so a reader
//!   holding it keeps a valid mapping ([`MappedFile::delete_on_drop`]).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use memmap2::{Advice, MmapMut};
use rustix::fs::{fallocate, FallocateFlags};

use super::error::{Result, StoreError};

/// The file name for a segment starting at `start`.
pub fn file_name(start: u64) -> String {
    format!("{start:020}")
}

/// Parses a segment file name; `None` for anything else (temp files, strangers).
pub fn parse_file_name(name: &str) -> Option<u64> {
    (name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()))
        .then(|| name.parse().ok())
        .flatten()
}

/// Maps the whole file read-write.
#[allow(unsafe_code)]
fn map(file: &File) -> io::Result<MmapMut> {
    // SAFETY: memmap2 requires that nobody else modifies or truncates the file while it is
    // mapped. Store files are only written by this process (the store's lock file keeps other
    // brokers out of the directory), never truncated (they are created at full size and only
    // unlinked, which keeps the mapping valid), and all access from this process goes through
    // the `RwLock` around the mapping, so no `&[u8]` aliases bytes being written.
    unsafe { MmapMut::map_mut(file) }
}

/// A mapped segment file.
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    start: u64,
    size: u64,
    file: File,
    /// Guards the bytes: the writer takes it for a memcpy, readers to copy out.
    map: RwLock<MmapMut>,
    delete_on_drop: AtomicBool,
}

impl MappedFile {
    /// Creates `dir/<start>` of `size` bytes, zero-filled and sparse, and syncs `dir` so the new
    /// name survives a crash.
    pub fn create(dir: &Path, start: u64, size: u64) -> Result<MappedFile> {
        let file = Self::create_unsynced(dir, start, size)?;
        // The rename must survive a crash before data written to the file is relied on.
        sync_dir(dir)?;
        Ok(file)
    }

    /// [`Self::create`] without the directory sync: the caller syncs `dir` before it relies on
    /// the file (a consume queue does at its next flush, off the put lock).
    pub fn create_unsynced(dir: &Path, start: u64, size: u64) -> Result<MappedFile> {
        let path = dir.join(file_name(start));
        let tmp = dir.join(format!("{}.tmp", file_name(start)));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| StoreError::io(&tmp, e))?;
        file.set_len(size).map_err(|e| StoreError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e))?;
        Self::from_file(path, file, start, size)
    }

    /// Opens an existing segment, which must be exactly `size` bytes.
    pub fn open(path: &Path, start: u64, size: u64) -> Result<MappedFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| StoreError::io(path, e))?;
        let len = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
        if len != size {
            return Err(StoreError::Corrupt(format!(
                "{} is {len} bytes, expected {size} (was the file size changed?)",
                path.display()
            )));
        }
        Self::from_file(path.to_path_buf(), file, start, size)
    }

    fn from_file(path: PathBuf, file: File, start: u64, size: u64) -> Result<MappedFile> {
        let map = map(&file).map_err(|e| StoreError::io(&path, e))?;
        Ok(MappedFile {
            path,
            start,
            size,
            file,
            map: RwLock::new(map),
            delete_on_drop: AtomicBool::new(false),
        })
    }

    /// Offset of the first byte.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Offset one past the last byte.
    pub fn end(&self) -> u64 {
        self.start + self.size
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_map(&self) -> RwLockReadGuard<'_, MmapMut> {
        // A poisoned lock only means a thread panicked mid-copy; the bytes are still the file's.
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_map(&self) -> RwLockWriteGuard<'_, MmapMut> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Copies `data` to `pos`; false (and nothing written) when it does not fit.
    pub fn write(&self, pos: usize, data: &[u8]) -> bool {
        let mut map = self.write_map();
        match pos.checked_add(data.len()).and_then(|end| map.get_mut(pos..end)) {
            Some(dst) => {
                dst.copy_from_slice(data);
                true
            }
            None => false,
        }
    }

    /// Writes `data` at `pos` with `pwrite` rather than a copy into the mapping; false when it
    /// does not fit. Readers of the mapping see the bytes at once (one page cache). Used under
    /// SYNC_FLUSH: on ext4 a store through the mapping makes the next `fdatasync` commit the
    /// journal (the page-fault path joins a transaction), about 1 ms here, while after a
    /// `pwrite` it only writes the data, about 0.25 ms.
    pub fn write_through(&self, pos: usize, data: &[u8]) -> Result<bool> {
        use std::os::unix::fs::FileExt;
        // The write lock keeps readers from copying a half-written record.
        let map = self.write_map();
        if pos.checked_add(data.len()).is_none_or(|end| end > map.len()) {
            return Ok(false);
        }
        self.file
            .write_all_at(data, pos as u64)
            .map_err(|e| StoreError::io(&self.path, e))?;
        Ok(true)
    }

    /// Runs `f` over `len` bytes at `pos`, or returns `None` when out of range.
    pub fn with_slice<R>(&self, pos: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let map = self.read_map();
        pos.checked_add(len).and_then(|end| map.get(pos..end)).map(f)
    }

    /// Copies `len` bytes at `pos`.
    pub fn read(&self, pos: usize, len: usize) -> Option<Vec<u8>> {
        self.with_slice(pos, len, <[u8]>::to_vec)
    }

    /// Zeroes everything from `pos` to the end. Punching a hole frees the blocks at once (a
    /// cut 1 GiB tail costs nothing); where the file system cannot punch, chunks that are not
    /// already zero are overwritten, so a sparse tail costs reads, not page allocations.
    pub fn zero_from(&self, pos: usize) {
        const CHUNK: usize = 64 * 1024;
        // The write lock keeps every reader off the bytes while the kernel zeroes them.
        let mut map = self.write_map();
        if pos >= map.len() {
            return;
        }
        let punch = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
        if fallocate(&self.file, punch, pos as u64, (map.len() - pos) as u64).is_ok() {
            return;
        }
        let mut at = pos;
        while at < map.len() {
            let end = (at + CHUNK).min(map.len());
            let chunk = &mut map[at..end];
            if chunk.iter().any(|b| *b != 0) {
                chunk.fill(0);
            }
            at = end;
        }
    }

    /// Faults the pages of `[pos, pos + len)` in (`MADV_POPULATE_READ`), so the page cache holds
    /// them zero-filled and mapped before the writer gets there: an append then takes at most a
    /// cheap write-protect fault per page instead of allocating and zeroing it. Read-populating
    /// keeps the pages clean, so a flush never writes zeroes the writer has not reached (a
    /// write-populate would dirty the whole file and make the first `fdatasync` write all of
    /// it). It changes no byte, so it may run while the writer appends to the same file; it
    /// holds the mapping's read lock for one range. Returns false where the kernel lacks the
    /// advice (Linux < 5.14).
    pub fn touch_range(&self, pos: usize, len: usize) -> bool {
        self.populate(pos, len, Advice::PopulateRead)
    }

    /// Faults the pages of `[pos, pos + len)` in writable (`MADV_POPULATE_WRITE`), for a file
    /// no writer holds yet (warm preparation): appends then take no fault at all. The pages
    /// are dirty zeroes, so a flush may write them before the writer fills them, as Apache's
    /// warm-up writes do.
    pub fn warm_range(&self, pos: usize, len: usize) -> bool {
        self.populate(pos, len, Advice::PopulateWrite)
    }

    fn populate(&self, pos: usize, len: usize, advice: Advice) -> bool {
        let map = self.read_map();
        let end = pos.saturating_add(len).min(map.len());
        pos >= end || map.advise_range(advice, pos, end - pos).is_ok()
    }

    /// `fdatasync`: on Linux this writes back pages dirtied through the mapping too.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| StoreError::io(&self.path, e))
    }

    /// Last modification time (retention compares it with the reserved time).
    pub fn modified(&self) -> Option<SystemTime> {
        self.file.metadata().and_then(|m| m.modified()).ok()
    }

    /// Unlinks the file when the last reference drops (used by retention and truncation).
    pub fn delete_on_drop(&self) {
        self.delete_on_drop.store(true, Ordering::Release);
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        if self.delete_on_drop.load(Ordering::Acquire) {
            if let Err(e) = fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "could not delete store file");
            }
        }
    }
}

/// Makes directory entry changes (create, rename, delete) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(file_name(1_073_741_824), "00000000001073741824");
        assert_eq!(parse_file_name("00000000001073741824"), Some(1_073_741_824));
        assert_eq!(parse_file_name("00000000001073741824.tmp"), None);
        assert_eq!(parse_file_name("lock"), None);
    }

    #[test]
    fn write_read_bounds_and_delete_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let f = MappedFile::create(dir.path(), 4096, 4096).unwrap();
        assert!(f.write(4090, b"abcdef"));
        assert!(!f.write(4091, b"abcdef"), "past the end is refused");
        assert_eq!(f.read(4090, 6).unwrap(), b"abcdef");
        assert!(f.read(4095, 2).is_none());
        assert!(f.touch_range(0, 4096) || cfg!(not(target_os = "linux")));
        f.zero_from(4092);
        assert_eq!(f.read(4090, 6).unwrap(), b"ab\0\0\0\0");
        f.sync().unwrap();
        let path = f.path().to_path_buf();
        drop(f);
        let f = MappedFile::open(&path, 4096, 4096).unwrap();
        assert!(
            MappedFile::open(&path, 4096, 8192).is_err(),
            "size mismatch is corruption"
        );
        f.delete_on_drop();
        drop(f);
        assert!(!path.exists());
    }
}
