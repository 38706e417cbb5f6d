//! Making a [`MappedFile`]: a new segment, created at full size under a temporary name and
//! renamed (so a file under its final name is never short) with its first blocks reserved, or
//! an existing one, opened now or left closed until its first access. A creation refused for
//! want of room leaves no file behind.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

use super::super::error::{Result, StoreError};
use super::super::open_files::OpenFiles;
use super::super::reserve::{allocate, Reserve};
use super::super::space;
use super::{file_name, sync_dir, MappedFile};

impl MappedFile {
    /// Creates `dir/<start>` of `size` bytes (blocks reserved as `reserve` says), zero-filled,
    /// and syncs `dir` so the new name survives a crash. Fails with [`StoreError::DiskFull`]
    /// when the file system lacks the room, leaving nothing behind.
    pub fn create(dir: &Path, start: u64, size: u64, reserve: Reserve) -> Result<Arc<MappedFile>> {
        let file = Self::create_unsynced(dir, start, size, reserve, None)?;
        // The rename must survive a crash before data written to the file is relied on.
        sync_dir(dir)?;
        Ok(file)
    }

    /// [`Self::create`] without the directory sync: the caller syncs `dir` before it relies on
    /// the file (a consume queue does at its next flush, off the put lock). With a `budget` the
    /// file may be closed while idle.
    pub fn create_unsynced(
        dir: &Path,
        start: u64,
        size: u64,
        reserve: Reserve,
        budget: Option<Arc<OpenFiles>>,
    ) -> Result<Arc<MappedFile>> {
        Self::create_at(dir, &file_name(start), start, size, reserve, budget)
    }

    /// Creates `dir/<name>` (a file not named by an offset, such as an index file) like
    /// [`Self::create`]; its `start` is 0.
    pub fn create_named(dir: &Path, name: &str, size: u64, reserve: Reserve) -> Result<Arc<MappedFile>> {
        let file = Self::create_at(dir, name, 0, size, reserve, None)?;
        sync_dir(dir)?;
        Ok(file)
    }

    fn create_at(
        dir: &Path,
        name: &str,
        start: u64,
        size: u64,
        reserve: Reserve,
        budget: Option<Arc<OpenFiles>>,
    ) -> Result<Arc<MappedFile>> {
        let first = reserve.first(size);
        space::ensure_room(dir, first)?;
        let path = dir.join(name);
        let tmp = dir.join(format!("{name}.tmp"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| StoreError::io(&tmp, e))?;
        let sized = file.set_len(size).map_err(|e| StoreError::io(&tmp, e));
        let reserved = sized.and_then(|()| match allocate(&file, 0, first) {
            Ok(true) => Ok(first),
            Ok(false) => Ok(size),
            Err(e) => Err(StoreError::io(&tmp, e)),
        });
        let reserved = match reserved {
            Ok(r) => r,
            Err(e) => {
                drop(file);
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e))?;
        let mf = Self::build(path, start, size, reserve, reserved, budget);
        mf.install(file)?;
        Ok(mf)
    }

    /// Opens an existing segment, which must be exactly `size` bytes. Its blocks are reserved
    /// by the first write (a file of an earlier run may be sparse).
    pub fn open(path: &Path, start: u64, size: u64, reserve: Reserve) -> Result<Arc<MappedFile>> {
        let mf = Self::closed(path, start, size, reserve, None)?;
        let file = mf.open_file()?;
        mf.install(file)?;
        Ok(mf)
    }

    /// An existing segment left closed until its first access (which counts against `budget`).
    /// Its size is checked now, without opening it.
    pub fn closed(
        path: &Path,
        start: u64,
        size: u64,
        reserve: Reserve,
        budget: Option<Arc<OpenFiles>>,
    ) -> Result<Arc<MappedFile>> {
        let len = fs::metadata(path).map_err(|e| StoreError::io(path, e))?.len();
        if len != size {
            return Err(StoreError::Corrupt(format!(
                "{} is {len} bytes, expected {size} (was the file size changed?)",
                path.display()
            )));
        }
        Ok(Self::build(path.to_path_buf(), start, size, reserve, 0, budget))
    }

    fn build(
        path: PathBuf,
        start: u64,
        size: u64,
        reserve: Reserve,
        reserved: u64,
        budget: Option<Arc<OpenFiles>>,
    ) -> Arc<MappedFile> {
        let now = budget.as_ref().map_or(0, |b| b.now());
        Arc::new_cyclic(|me| MappedFile {
            path,
            start,
            size,
            reserve,
            reserved: AtomicU64::new(reserved),
            reserving: Mutex::new(()),
            state: RwLock::new(None),
            dirty: AtomicBool::new(false),
            last_used: AtomicU64::new(now),
            budget,
            me: me.clone(),
            delete_on_drop: AtomicBool::new(false),
        })
    }
}
