//! Free space on the store's file system: the used ratio the retention guard compares with
//! `disk_full_ratio`, the check made before each new store file, and the mapping of "no space
//! left" errors to [`StoreError::DiskFull`].
//!
//! Store files are written through memory mappings, where a page the file system cannot back
//! kills the process with SIGBUS instead of returning an error. So every mapped byte gets real
//! blocks (`fallocate`) before it is written ([`super::mapped_file`]), and a file is created only
//! when the file system has room for it; both failures surface here as `DiskFull`, which the
//! broker answers with SERVICE_NOT_AVAILABLE and which ends by itself once space returns.

use std::path::Path;

use super::error::{Result, StoreError};

/// Bytes a new file may take from the file system holding `dir` (`None` when it cannot be read).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Used ratio of the file system holding `root`, `None` when it cannot be read.
pub fn used_ratio(root: &Path) -> Option<f64> {
    let st = rustix::fs::statvfs(root).ok()?;
    if st.f_blocks == 0 {
        return None;
    }
    // Like `df`: blocks in use over blocks usable by us (free to unprivileged users).
    let used = st.f_blocks.saturating_sub(st.f_bfree);
    Some(used as f64 / (used + st.f_bavail) as f64)
}

/// `n` bytes in MiB, rounded down, for messages.
pub fn mib(n: u64) -> u64 {
    n >> 20
}

/// Fails with [`StoreError::DiskFull`] unless the file system holding `dir` has `need` bytes free.
pub fn ensure_room(dir: &Path, need: u64) -> Result<()> {
    match free_bytes(dir) {
        Some(free) if free < need => Err(StoreError::DiskFull {
            detail: format!(
                "{} has {} MiB free, a new store file there needs {} MiB",
                dir.display(),
                mib(free),
                mib(need).max(1)
            ),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn reads_the_file_system_and_refuses_impossible_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).expect("statvfs works on a temp dir");
        let ratio = used_ratio(dir.path()).unwrap();
        assert!((0.0..=1.0).contains(&ratio));
        ensure_room(dir.path(), 1).unwrap();
        let err = ensure_room(dir.path(), free.saturating_add(1 << 40)).unwrap_err();
        assert!(
            err.to_string().contains("disk is full") && err.to_string().contains("MiB free"),
            "{err}"
        );
        assert!(super::super::error::is_no_space(&io::Error::from_raw_os_error(
            28
        )));
        assert!(!super::super::error::is_no_space(&io::Error::from_raw_os_error(
            5
        )));
    }
}
