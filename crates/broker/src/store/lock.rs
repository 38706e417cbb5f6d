//! The store's process lock: an exclusive `flock` on `<root>/lock`, held for the store's
//! lifetime, so a second broker opening the same directory is refused instead of corrupting it.
//! The kernel drops the lock when the process dies, so a crash never leaves a stale lock.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use rustix::fs::{flock, FlockOperation};

use super::error::{Result, StoreError};

/// Held while the store is open.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the lock on `root/lock`, failing with [`StoreError::Locked`] if another process
    /// (or another open store in this process) holds it.
    pub fn acquire(root: &Path) -> Result<StoreLock> {
        let path = root.join("lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(StoreLock { _file: file }),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(StoreError::Locked(root.to_path_buf())),
            Err(e) => Err(StoreError::io(&path, io::Error::from(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_release() {
        let dir = tempfile::tempdir().unwrap();
        let lock = StoreLock::acquire(dir.path()).unwrap();
        // flock locks belong to the open file description, so a second open conflicts even
        // within one process.
        assert!(matches!(
            StoreLock::acquire(dir.path()),
            Err(StoreError::Locked(_))
        ));
        drop(lock);
        StoreLock::acquire(dir.path()).unwrap();
    }
}
