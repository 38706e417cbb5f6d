//! An ordered run of equally sized [`MappedFile`]s in one directory (`MappedFileQueue`): the
//! commit log and each consume queue are one of these.
//!
//! Invariants: files are contiguous (each starts where the previous ends) and all have
//! `file_size` bytes; the list only grows at the back (append) and shrinks at the front
//! (retention) or back (recovery truncation).
//!
//! Two flavours. [`FileQueue::load`] (the commit log) opens every file, reserves each new file's
//! blocks whole and syncs a new file's directory as the file is created.
//! [`FileQueue::load_deferring_dir_sync`] (a consume queue, whose files are created by the writer
//! holding the put lock) leaves existing files closed until first used, counts open files
//! against an [`OpenFiles`] budget, reserves blocks in chunks ahead of the writer, and only
//! records that its directories need a sync: [`FileQueue::sync_dirs`] does it before the
//! queue's data is flushed and checkpointed.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use super::error::{Result, StoreError};
use super::mapped_file::{parse_file_name, sync_dir, MappedFile};
use super::open_files::OpenFiles;
use super::reserve::{Reserve, LOG_RESERVE_CHUNK, RESERVE_CHUNK};

/// The files of one log.
#[derive(Debug)]
pub struct FileQueue {
    dir: PathBuf,
    file_size: u64,
    /// Held only to clone `Arc`s in or out; never across IO.
    files: RwLock<Vec<Arc<MappedFile>>>,
    /// New files leave their directory sync to [`Self::sync_dirs`].
    defer_dir_sync: bool,
    /// How new files get their blocks.
    reserve: Reserve,
    /// The budget of a queue whose files may be closed while idle.
    budget: Option<Arc<OpenFiles>>,
    /// A file was created and `dir` has not been synced since.
    dir_unsynced: AtomicBool,
    /// `dir` itself was created (by this load) and its two parents have not been synced since.
    parents_unsynced: AtomicBool,
}

impl FileQueue {
    /// Loads the files of `dir` (created if missing), removing leftover `.tmp` files.
    pub fn load(dir: &Path, file_size: u64) -> Result<FileQueue> {
        Self::load_with(dir, file_size, None)
    }

    /// [`Self::load`] for a consume queue: directory syncs wait for [`Self::sync_dirs`], files
    /// are opened lazily under `budget` and reserved in chunks.
    pub fn load_deferring_dir_sync(dir: &Path, file_size: u64, budget: Arc<OpenFiles>) -> Result<FileQueue> {
        Self::load_with(dir, file_size, Some(budget))
    }

    fn load_with(dir: &Path, file_size: u64, budget: Option<Arc<OpenFiles>>) -> Result<FileQueue> {
        let defer_dir_sync = budget.is_some();
        let reserve = if defer_dir_sync {
            Reserve::Chunks(RESERVE_CHUNK)
        } else {
            Reserve::Chunks(LOG_RESERVE_CHUNK)
        };
        let created = !dir.exists();
        fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let mut starts = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
            let entry = entry.map_err(|e| StoreError::io(dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                // A crash between create and rename: the file never held data.
                fs::remove_file(entry.path()).map_err(|e| StoreError::io(entry.path(), e))?;
            } else if let Some(start) = parse_file_name(&name) {
                starts.push(start);
            }
        }
        starts.sort_unstable();
        let mut files = Vec::with_capacity(starts.len());
        for start in starts {
            if start % file_size != 0 {
                return Err(StoreError::Corrupt(format!(
                    "{}: file start {start} is not a multiple of the file size {file_size}",
                    dir.display()
                )));
            }
            if let Some(prev) = files.last().map(|f: &Arc<MappedFile>| f.end()) {
                if prev != start {
                    return Err(StoreError::Corrupt(format!(
                        "{}: gap between files ending at {prev} and starting at {start}",
                        dir.display()
                    )));
                }
            }
            let path = dir.join(super::mapped_file::file_name(start));
            files.push(match &budget {
                Some(b) => MappedFile::closed(&path, start, file_size, reserve, Some(b.clone()))?,
                None => MappedFile::open(&path, start, file_size, reserve)?,
            });
        }
        Ok(FileQueue {
            dir: dir.to_path_buf(),
            file_size,
            files: RwLock::new(files),
            defer_dir_sync,
            reserve,
            budget,
            dir_unsynced: AtomicBool::new(false),
            parents_unsynced: AtomicBool::new(created && defer_dir_sync),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Size of every file.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<MappedFile>>> {
        self.files.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<MappedFile>>> {
        self.files.write().unwrap_or_else(|p| p.into_inner())
    }

    /// A snapshot of the files.
    pub fn files(&self) -> Vec<Arc<MappedFile>> {
        self.read().clone()
    }

    /// The file holding `offset`.
    pub fn find(&self, offset: u64) -> Option<Arc<MappedFile>> {
        let files = self.read();
        let first = files.first()?.start();
        let idx = offset.checked_sub(first)? / self.file_size;
        files.get(usize::try_from(idx).ok()?).cloned()
    }

    /// The first file.
    pub fn first(&self) -> Option<Arc<MappedFile>> {
        self.read().first().cloned()
    }

    /// The last file.
    pub fn last(&self) -> Option<Arc<MappedFile>> {
        self.read().last().cloned()
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Start of the first file (0 when empty).
    pub fn min_offset(&self) -> u64 {
        self.first().map_or(0, |f| f.start())
    }

    /// Appends a file that must start where the last one ends (or anywhere aligned when empty).
    pub fn push(&self, file: Arc<MappedFile>) -> Result<()> {
        let mut files = self.write();
        if let Some(last) = files.last() {
            if last.end() != file.start() {
                return Err(StoreError::Corrupt(format!(
                    "new file at {} does not follow {}",
                    file.start(),
                    last.end()
                )));
            }
        }
        files.push(file);
        Ok(())
    }

    /// Creates and appends the file starting at `start`.
    pub fn create(&self, start: u64) -> Result<Arc<MappedFile>> {
        let file = if self.defer_dir_sync {
            let file = MappedFile::create_unsynced(
                &self.dir,
                start,
                self.file_size,
                self.reserve,
                self.budget.clone(),
            )?;
            self.dir_unsynced.store(true, Ordering::Release);
            file
        } else {
            MappedFile::create(&self.dir, start, self.file_size, self.reserve)?
        };
        self.push(file.clone())?;
        Ok(file)
    }

    /// Syncs the directories whose syncs were deferred: the queue's directory after a file was
    /// created, and its parent and grandparent (`<topic>` and `consumequeue`) after the load
    /// created the directory. A failed sync is tried again next time.
    pub fn sync_dirs(&self) -> Result<()> {
        if self.parents_unsynced.swap(false, Ordering::AcqRel) {
            let mut parents = self.dir.ancestors().skip(1).take(2);
            if let Err(e) = parents.try_for_each(sync_dir) {
                self.parents_unsynced.store(true, Ordering::Release);
                return Err(e);
            }
        }
        if self.dir_unsynced.swap(false, Ordering::AcqRel) {
            if let Err(e) = sync_dir(&self.dir) {
                self.dir_unsynced.store(true, Ordering::Release);
                return Err(e);
            }
        }
        Ok(())
    }

    /// The file holding `offset`, creating it (and any before it, when the queue is empty) as
    /// needed; `offset` must be within or right after the last file.
    pub fn find_or_create(&self, offset: u64) -> Result<Arc<MappedFile>> {
        if let Some(f) = self.find(offset) {
            return Ok(f);
        }
        let start = offset - offset % self.file_size;
        match self.last() {
            Some(last) if last.end() != start => Err(StoreError::Corrupt(format!(
                "{}: offset {offset} is not next to the last file ending at {}",
                self.dir.display(),
                last.end()
            ))),
            _ => self.create(start),
        }
    }

    /// Removes every file starting at or after `offset` (recovery cut); they are unlinked once
    /// unreferenced.
    pub fn remove_from(&self, offset: u64) -> Result<()> {
        let removed: Vec<_> = {
            let mut files = self.write();
            let keep = files.iter().take_while(|f| f.start() < offset).count();
            files.split_off(keep)
        };
        if !removed.is_empty() {
            for f in &removed {
                f.delete_on_drop();
            }
            drop(removed);
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Removes the first `n` files (retention); they are unlinked once no reader holds them.
    pub fn remove_front(&self, n: usize) -> Vec<Arc<MappedFile>> {
        let removed: Vec<_> = {
            let mut files = self.write();
            let n = n.min(files.len());
            files.drain(..n).collect()
        };
        for f in &removed {
            f.delete_on_drop();
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_creates_and_trims() {
        let dir = tempfile::tempdir().unwrap();
        let q = FileQueue::load(dir.path(), 4096).unwrap();
        assert!(q.find(0).is_none());
        q.find_or_create(0).unwrap();
        q.find_or_create(5000).unwrap();
        assert!(q.find_or_create(20_000).is_err(), "a gap is refused");
        assert_eq!(q.find(4096).unwrap().start(), 4096);
        assert_eq!(q.find(8191).unwrap().start(), 4096);
        assert!(q.find(8192).is_none());
        drop(q);
        std::fs::write(dir.path().join("00000000000000008192.tmp"), b"x").unwrap();
        let q = FileQueue::load(dir.path(), 4096).unwrap();
        assert_eq!(q.len(), 2);
        assert!(!dir.path().join("00000000000000008192.tmp").exists());
        q.remove_from(4096).unwrap();
        assert_eq!(q.len(), 1);
        assert!(!dir.path().join("00000000000000004096").exists());
        let gone = q.remove_front(1);
        assert!(dir.path().join("00000000000000000000").exists(), "held by `gone`");
        drop(gone);
        assert!(!dir.path().join("00000000000000000000").exists());
    }

    #[test]
    fn deferred_directory_syncs_wait_for_sync_dirs() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("consumequeue").join("T").join("0");
        let budget = OpenFiles::new(8, 60);
        let q = FileQueue::load_deferring_dir_sync(&dir, 4096, budget.clone()).unwrap();
        assert!(
            q.parents_unsynced.load(Ordering::Acquire),
            "a new directory needs its parents synced"
        );
        assert!(!q.dir_unsynced.load(Ordering::Acquire));
        q.find_or_create(0).unwrap();
        assert!(dir.join("00000000000000000000").exists());
        assert!(
            q.dir_unsynced.load(Ordering::Acquire),
            "the new file's name is not synced yet"
        );
        q.sync_dirs().unwrap();
        assert!(!q.dir_unsynced.load(Ordering::Acquire));
        assert!(!q.parents_unsynced.load(Ordering::Acquire));
        // Reloading an existing directory owes nothing; a queue that syncs at once never owes.
        let again = FileQueue::load_deferring_dir_sync(&dir, 4096, budget).unwrap();
        assert!(!again.parents_unsynced.load(Ordering::Acquire));
        let eager = FileQueue::load(&root.path().join("commitlog"), 4096).unwrap();
        eager.find_or_create(0).unwrap();
        assert!(!eager.dir_unsynced.load(Ordering::Acquire));
    }

    #[test]
    fn a_gap_on_disk_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let q = FileQueue::load(dir.path(), 4096).unwrap();
        q.create(0).unwrap();
        drop(q);
        MappedFile::create(dir.path(), 8192, 4096, Reserve::Whole).unwrap();
        assert!(matches!(
            FileQueue::load(dir.path(), 4096),
            Err(StoreError::Corrupt(_))
        ));
    }
}
