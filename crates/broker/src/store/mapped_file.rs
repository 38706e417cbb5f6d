//! One memory-mapped store file (a commit-log or consume-queue segment), named by the 20-digit
//! decimal offset of its first byte.
//!
//! Invariants:
//! * the file always has its full size: it is created as `<name>.tmp`, sized, then renamed, so a
//!   file under its final name is never short, and it is never truncated while mapped;
//! * no byte is written through the mapping before the file system has given it a block: a
//!   write into a hole of a sparse file on a full disk raises SIGBUS and kills the process, so
//!   files are `fallocate`d in chunks ahead of the writer ([`Reserve::Chunks`]: 64 KiB for
//!   consume-queue and index files, which are mostly empty,
//!   [`LOG_RESERVE_CHUNK`](super::reserve::LOG_RESERVE_CHUNK) for commit-log files, so an idle
//!   broker holds a few MiB of disk, not two 1 GiB files), or whole before they are mapped
//!   ([`Reserve::Whole`]: a warmed commit-log file, whose every page is written at once); a
//!   refused reservation is [`StoreError::DiskFull`], never a crash (the policy and the
//!   `fallocate` call are in [`super::reserve`]);
//! * writes go through the `RwLock`ed mapping, so a reader copying bytes out never races a
//!   writer (both commit log and consume queue have a single writer, the put lock holder);
//! * a file with an [`OpenFiles`] budget (a consume-queue file) may be closed (unmapped, its
//!   descriptor closed, after an `fdatasync` when it was written) and is opened again by its
//!   next access; other files stay open;
//! * a file removed by retention is unlinked only when the last `Arc` to it drops, so a reader
//!   holding it keeps a valid mapping ([`MappedFile::delete_on_drop`]).
//!
//! The constructors ([`MappedFile::create`], [`MappedFile::open`], [`MappedFile::closed`] and
//! their variants) are in `mapped_file/create.rs`, the unit tests in `mapped_file/tests.rs`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::SystemTime;

use memmap2::{Advice, MmapMut};

use super::error::{Result, StoreError};
use super::open_files::{Closable, OpenFiles};
use super::reserve::{allocate, punch_hole, Reserve, RESERVE_CHUNK};

mod create;

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

/// Bytes faulted in under one hold of the mapping's read lock.
const POPULATE_STEP: usize = 64 * 1024;

/// An open file and its mapping.
#[derive(Debug)]
struct Open {
    /// Shared so a sync can run on it without holding the lock.
    file: Arc<File>,
    map: MmapMut,
}

/// A mapped segment file.
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    start: u64,
    size: u64,
    reserve: Reserve,
    /// Bytes below this have blocks on disk (only grows, except when a tail is punched out).
    reserved: AtomicU64,
    /// Orders reservations. Not the mapping lock: `fallocate` may wait for the disk (to read a
    /// block bitmap, behind a flush's writeback: 165 ms seen under load), and neither the
    /// writer's copy nor a reader may wait for that.
    reserving: Mutex<()>,
    /// Guards the bytes: the writer takes it for a memcpy, readers to copy out. `None` while
    /// closed (only files with a budget are ever closed).
    state: RwLock<Option<Open>>,
    /// Written since the last sync: closing syncs first.
    dirty: AtomicBool,
    /// Budget tick of the last access.
    last_used: AtomicU64,
    budget: Option<Arc<OpenFiles>>,
    me: Weak<MappedFile>,
    delete_on_drop: AtomicBool,
}

impl MappedFile {
    fn open_file(&self) -> Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| StoreError::io(&self.path, e))
    }

    /// Maps `file`.
    fn mapped(&self, file: File) -> Result<Open> {
        let map = map(&file).map_err(|e| StoreError::io(&self.path, e))?;
        Ok(Open {
            file: Arc::new(file),
            map,
        })
    }

    /// The open file's handle (opening a closed file), for work done without the mapping lock.
    fn handle(&self) -> Result<Arc<File>> {
        self.with_read(|open| open.file.clone())
    }

    /// Maps `file` into a closed slot and tells the budget.
    fn install(&self, file: File) -> Result<()> {
        *self.write_state() = Some(self.mapped(file)?);
        if let Some(b) = &self.budget {
            b.opened(self.me.clone());
        }
        Ok(())
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

    /// Budget tick of the last access.
    pub fn last_used(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }

    /// Whether the file is open (mapped) now.
    pub fn is_open(&self) -> bool {
        self.read_state().is_some()
    }

    fn read_state(&self) -> RwLockReadGuard<'_, Option<Open>> {
        // A poisoned lock only means a thread panicked mid-copy; the bytes are still the file's.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, Option<Open>> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn touch(&self) {
        if let Some(b) = &self.budget {
            self.last_used.store(b.now(), Ordering::Relaxed);
        }
    }

    /// Runs `f` on the open file under the read lock, opening it first when closed (then under
    /// the write lock). The budget hears of a reopen after the lock is released.
    fn with_read<R>(&self, f: impl FnOnce(&Open) -> R) -> Result<R> {
        self.touch();
        {
            let st = self.read_state();
            if let Some(open) = st.as_ref() {
                return Ok(f(open));
            }
        }
        let mut st = self.write_state();
        let reopened = st.is_none();
        let r = f(self.ensure_open(&mut st)?);
        drop(st);
        self.after_reopen(reopened);
        Ok(r)
    }

    /// Runs `f` on the open file under the write lock, opening it first when closed.
    fn with_write<R>(&self, f: impl FnOnce(&mut Open) -> Result<R>) -> Result<R> {
        self.touch();
        let mut st = self.write_state();
        let reopened = st.is_none();
        let r = f(self.ensure_open(&mut st)?);
        drop(st);
        self.after_reopen(reopened);
        r
    }

    fn ensure_open<'a>(&self, st: &'a mut Option<Open>) -> Result<&'a mut Open> {
        if st.is_none() {
            *st = Some(self.mapped(self.open_file()?)?);
        }
        st.as_mut()
            .ok_or_else(|| StoreError::Corrupt(format!("{} could not be opened", self.path.display())))
    }

    fn after_reopen(&self, reopened: bool) {
        if let (true, Some(b)) = (reopened, &self.budget) {
            b.opened(self.me.clone());
        }
    }

    /// Gives `[0, end)` real blocks (`fallocate`), as `reserve` says: the whole file, or up to
    /// the next chunk boundary. The `reserving` lock keeps reservations ordered.
    fn reserve_in(&self, file: &File, end: u64) -> Result<()> {
        if end <= self.reserved.load(Ordering::Acquire) {
            return Ok(());
        }
        let _order = self.reserving.lock().unwrap_or_else(|p| p.into_inner());
        let have = self.reserved.load(Ordering::Acquire);
        if end <= have {
            return Ok(());
        }
        let to = self.reserve.cover(end, self.size);
        allocate(file, have, to - have).map_err(|e| StoreError::io(&self.path, e))?;
        self.reserved.store(to, Ordering::Release);
        Ok(())
    }

    /// Makes sure `[pos, pos + len)` has blocks, so a later [`Self::write`] there cannot fail
    /// for want of space (a consume queue reserves before the commit-log append it indexes;
    /// the allocator thread reserves ahead of the commit-log writer). Holds no mapping lock
    /// while the file system allocates.
    pub fn reserve(&self, pos: usize, len: usize) -> Result<()> {
        let end = (pos as u64).saturating_add(len as u64).min(self.size);
        if end <= self.reserved.load(Ordering::Acquire) {
            return Ok(());
        }
        self.reserve_in(&*self.handle()?, end)
    }

    /// Copies `data` to `pos`; false (and nothing written) when it does not fit. Blocks are
    /// reserved first: [`StoreError::DiskFull`] when the file system has none left.
    pub fn write(&self, pos: usize, data: &[u8]) -> Result<bool> {
        let Some(end) = pos.checked_add(data.len()).filter(|e| *e as u64 <= self.size) else {
            return Ok(false);
        };
        self.reserve(pos, data.len())?;
        self.with_write(|open| match open.map.get_mut(pos..end) {
            Some(dst) => {
                dst.copy_from_slice(data);
                self.dirty.store(true, Ordering::Release);
                Ok(true)
            }
            None => Ok(false),
        })
    }

    /// Writes `data` at `pos` with `pwrite` rather than a copy into the mapping; false when it
    /// does not fit. Readers of the mapping see the bytes at once (one page cache). Used under
    /// SYNC_FLUSH: on ext4 a store through the mapping makes the next `fdatasync` commit the
    /// journal (the page-fault path joins a transaction), about 1 ms here, while after a
    /// `pwrite` it only writes the data, about 0.25 ms. A full disk is an error here, not a
    /// signal.
    pub fn write_through(&self, pos: usize, data: &[u8]) -> Result<bool> {
        use std::os::unix::fs::FileExt;
        if pos
            .checked_add(data.len())
            .is_none_or(|end| end as u64 > self.size)
        {
            return Ok(false);
        }
        // Reserved like a mapped write, so a full disk refuses the whole record up front
        // rather than part-way through a short `pwrite`.
        self.reserve(pos, data.len())?;
        // The write lock keeps readers from copying a half-written record.
        self.with_write(|open| {
            open.file
                .write_all_at(data, pos as u64)
                .map_err(|e| StoreError::io(&self.path, e))?;
            self.dirty.store(true, Ordering::Release);
            Ok(true)
        })
    }

    /// Runs `f` over `len` bytes at `pos`, or returns `None` when out of range (or when a closed
    /// file cannot be opened again, which is logged).
    pub fn with_slice<R>(&self, pos: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        self.try_with_slice(pos, len, f).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot reopen a store file to read it");
            None
        })
    }

    /// [`Self::with_slice`] that tells a closed file that cannot be opened again (an error)
    /// from a range outside the file (`Ok(None)`).
    pub fn try_with_slice<R>(&self, pos: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        let Some(end) = pos.checked_add(len).filter(|e| *e as u64 <= self.size) else {
            return Ok(None);
        };
        self.with_read(|open| open.map.get(pos..end).map(f))
    }

    /// Copies `len` bytes at `pos`.
    pub fn read(&self, pos: usize, len: usize) -> Option<Vec<u8>> {
        self.with_slice(pos, len, <[u8]>::to_vec)
    }

    /// Zeroes everything from `pos` to the end. Punching a hole frees the blocks at once (a
    /// cut 1 GiB tail costs nothing; the next write reserves them again); where the file system
    /// cannot punch, chunks that are not already zero are overwritten, so a sparse tail costs
    /// reads, not page allocations.
    pub fn zero_from(&self, pos: usize) -> Result<()> {
        const CHUNK: usize = 64 * 1024;
        if pos as u64 >= self.size {
            return Ok(());
        }
        // The write lock keeps every reader off the bytes while the kernel zeroes them.
        self.with_write(|open| {
            let len = open.map.len();
            let punched = {
                let _order = self.reserving.lock().unwrap_or_else(|p| p.into_inner());
                let punched = punch_hole(&open.file, pos as u64, (len - pos) as u64);
                if punched {
                    let kept = (pos as u64 / RESERVE_CHUNK) * RESERVE_CHUNK;
                    self.reserved.fetch_min(kept, Ordering::AcqRel);
                }
                punched
            };
            if punched {
                self.dirty.store(true, Ordering::Release);
                return Ok(());
            }
            let mut at = pos;
            while at < len {
                let end = (at + CHUNK).min(len);
                if open.map[at..end].iter().any(|b| *b != 0) {
                    self.reserve_in(&open.file, end as u64)?;
                    open.map[at..end].fill(0);
                    self.dirty.store(true, Ordering::Release);
                }
                at = end;
            }
            Ok(())
        })
    }

    /// Faults the pages of `[pos, pos + len)` in, so the page cache holds them zero-filled and
    /// mapped before the writer gets there: an append then takes at most a cheap
    /// write-protect fault per page instead of allocating and zeroing it. The pages are first
    /// read into the page cache through the file (`POSIX_FADV_WILLNEED`, no lock held: that is
    /// the costly part, a fresh zeroed page each), then mapped (`MADV_POPULATE_READ`, in steps
    /// under the read lock). Read-populating keeps the pages clean, so a flush never writes
    /// zeroes the writer has not reached (a write-populate would dirty the whole file and make
    /// the first `fdatasync` write all of it). It changes no byte, so it may run while the
    /// writer appends to the same file. Returns false where the kernel lacks the advice
    /// (Linux < 5.14).
    pub fn touch_range(&self, pos: usize, len: usize) -> bool {
        let Ok(file) = self.handle() else {
            return false;
        };
        let n = std::num::NonZeroU64::new(len as u64);
        let _ = rustix::fs::fadvise(&*file, pos as u64, n, rustix::fs::Advice::WillNeed);
        self.populate(pos, len, Advice::PopulateRead)
    }

    /// Faults the pages of `[pos, pos + len)` in writable (`MADV_POPULATE_WRITE`), for a file
    /// no writer holds yet (warm preparation): appends then take no fault at all. The pages
    /// are dirty zeroes, so a flush may write them before the writer fills them, as Apache's
    /// warm-up writes do. Only reserved bytes are populated.
    pub fn warm_range(&self, pos: usize, len: usize) -> bool {
        let reserved = self.reserved.load(Ordering::Acquire) as usize;
        let len = len.min(reserved.saturating_sub(pos));
        self.populate(pos, len, Advice::PopulateWrite)
    }

    /// Populates in steps of [`POPULATE_STEP`], each under its own read lock: faulting a fresh
    /// page in costs microseconds (on this VM ~5 µs), and the writer's next copy must wait for
    /// the read lock to be released (1 MiB at once held it up for milliseconds).
    fn populate(&self, pos: usize, len: usize, advice: Advice) -> bool {
        let end = pos.saturating_add(len).min(self.size as usize);
        let mut at = pos;
        while at < end {
            let step = POPULATE_STEP.min(end - at);
            let done = self.with_read(|open| {
                let to = (at + step).min(open.map.len());
                at >= to || open.map.advise_range(advice, at, to - at).is_ok()
            });
            if !done.unwrap_or(false) {
                return false;
            }
            at += step;
        }
        true
    }

    /// `fdatasync`: on Linux this writes back pages dirtied through the mapping too. A closed
    /// file was synced when it was closed. The lock is not held across the sync: a sync under
    /// load takes hundreds of milliseconds, and the writer's next copy (which takes the write
    /// lock), and every reader queued behind it, would wait for all of it.
    pub fn sync(&self) -> Result<()> {
        let file = match self.read_state().as_ref() {
            Some(open) => open.file.clone(),
            None => return Ok(()),
        };
        self.dirty.store(false, Ordering::Release);
        file.sync_data().map_err(|e| {
            self.dirty.store(true, Ordering::Release);
            StoreError::io(&self.path, e)
        })
    }

    /// Unmaps and closes the file (syncing it first when written since the last sync); the next
    /// access opens it again. A file whose sync fails stays open (the error is logged).
    pub fn close(&self) {
        let mut st = self.write_state();
        let Some(open) = st.as_ref() else { return };
        if self.dirty.load(Ordering::Acquire) {
            if let Err(e) = open.file.sync_data() {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot sync an idle store file; it stays open");
                return;
            }
            self.dirty.store(false, Ordering::Release);
        }
        *st = None;
        drop(st);
        if let Some(b) = &self.budget {
            b.closed((self as *const MappedFile).cast());
        }
    }

    /// Last modification time (retention compares it with the reserved time).
    pub fn modified(&self) -> Option<SystemTime> {
        fs::metadata(&self.path).and_then(|m| m.modified()).ok()
    }

    /// Unlinks the file when the last reference drops (used by retention and truncation).
    pub fn delete_on_drop(&self) {
        self.delete_on_drop.store(true, Ordering::Release);
    }
}

impl Closable for MappedFile {
    fn last_used(&self) -> u64 {
        MappedFile::last_used(self)
    }

    fn close(&self) {
        MappedFile::close(self)
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.closed((self as *const MappedFile).cast());
        }
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
mod tests;
