//! Config-file persistence the way Apache's `MixAll.string2File` does it, plus an fsync: the new
//! text goes to `<file>.tmp` (synced), the previous file is copied to `<file>.bak`, then the tmp
//! file is renamed over the target and the directory synced. A crash at any point leaves either
//! the old or the new complete file, never a torn one.
//!
//! These are blocking calls; async callers go through `spawn_blocking`. [`DirtyFlag`] tells the
//! periodic savers which tables changed since their last write.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// "Changed since the last save", for a table that is persisted in the background.
#[derive(Debug, Default)]
pub struct DirtyFlag(AtomicBool);

impl DirtyFlag {
    /// Records a change.
    pub fn mark(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Clears the flag; true when something changed since the last call.
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }

    /// Runs `save` when the flag was set. Cleared before `save` runs, so a change made during
    /// the save marks it again; set again when `save` fails, so the next round retries.
    pub fn save_if_dirty<E>(&self, save: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        if !self.take() {
            return Ok(());
        }
        save().inspect_err(|_| self.mark())
    }

    /// Runs `save` whatever the flag says (a write before an acknowledgement), with the same
    /// clearing and retry rules as [`Self::save_if_dirty`].
    pub fn save_now<E>(&self, save: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        self.take();
        save().inspect_err(|_| self.mark())
    }
}

/// Atomically replaces `path` with `text`.
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(ext_with(path, "tmp"));
    {
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    if path.exists() {
        // The backup is a convenience for operators; failing to make it must not block the write.
        let _ = fs::copy(path, path.with_extension(ext_with(path, "bak")));
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Reads `path`, falling back to `<file>.bak` when the main file is missing or empty.
pub fn read_with_backup(path: &Path) -> io::Result<Option<String>> {
    for candidate in [path.to_path_buf(), path.with_extension(ext_with(path, "bak"))] {
        match fs::read_to_string(&candidate) {
            Ok(text) if !text.trim().is_empty() => return Ok(Some(text)),
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

fn ext_with(path: &Path, suffix: &str) -> String {
    match path.extension() {
        Some(ext) => format!("{}.{suffix}", ext.to_string_lossy()),
        None => suffix.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_flag_saves_once_and_retries_failures() {
        let flag = DirtyFlag::default();
        let mut saves = 0;
        flag.save_if_dirty(|| -> io::Result<()> {
            saves += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(saves, 0, "nothing changed");
        flag.mark();
        assert!(flag
            .save_if_dirty(|| Err::<(), _>(io::Error::other("disk")))
            .is_err());
        flag.save_if_dirty(|| -> io::Result<()> {
            saves += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(saves, 1, "a failed save is retried");
        assert!(!flag.take());
    }

    #[test]
    fn replaces_and_keeps_backup() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config").join("topics.json");
        write_atomic(&p, "one").unwrap();
        write_atomic(&p, "two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(
            fs::read_to_string(dir.path().join("config/topics.json.bak")).unwrap(),
            "one"
        );
        assert!(!dir.path().join("config/topics.json.tmp").exists());
        fs::write(&p, "").unwrap();
        assert_eq!(read_with_backup(&p).unwrap().as_deref(), Some("one"));
        assert_eq!(read_with_backup(&dir.path().join("none.json")).unwrap(), None);
    }
}
