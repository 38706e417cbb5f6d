//! Unit tests of [`MappedFile`]: bounds, reservation ahead of the writer, a full disk, and
//! closing and reopening under an [`OpenFiles`] budget.

use super::super::space;
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
    let f = MappedFile::create(dir.path(), 4096, 4096, Reserve::Whole).unwrap();
    assert!(f.write(4090, b"abcdef").unwrap());
    assert!(!f.write(4091, b"abcdef").unwrap(), "past the end is refused");
    assert_eq!(f.read(4090, 6).unwrap(), b"abcdef");
    assert!(f.read(4095, 2).is_none());
    assert!(f.touch_range(0, 4096) || cfg!(not(target_os = "linux")));
    f.zero_from(4092).unwrap();
    assert_eq!(f.read(4090, 6).unwrap(), b"ab\0\0\0\0");
    f.sync().unwrap();
    let path = f.path().to_path_buf();
    drop(f);
    let f = MappedFile::open(&path, 4096, 4096, Reserve::Whole).unwrap();
    assert!(
        MappedFile::open(&path, 4096, 8192, Reserve::Whole).is_err(),
        "size mismatch is corruption"
    );
    f.delete_on_drop();
    drop(f);
    assert!(!path.exists());
}

fn allocated(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).unwrap().blocks() * 512
}

#[test]
fn blocks_are_reserved_before_bytes_are_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let size = 4 * RESERVE_CHUNK;
    let whole = MappedFile::create(dir.path(), 0, size, Reserve::Whole).unwrap();
    assert!(
        allocated(whole.path()) >= size,
        "a warmed commit-log file is reserved whole"
    );
    let chunks = MappedFile::create(dir.path(), size, size, Reserve::Chunks(RESERVE_CHUNK)).unwrap();
    let first = allocated(chunks.path());
    assert!(
        (RESERVE_CHUNK..size).contains(&first),
        "one chunk reserved: {first}"
    );
    assert!(chunks.write((RESERVE_CHUNK + 10) as usize, b"entry").unwrap());
    assert!(
        allocated(chunks.path()) >= 2 * RESERVE_CHUNK,
        "the next chunk is reserved by the write"
    );
    chunks.reserve(0, size as usize).unwrap();
    assert!(allocated(chunks.path()) >= size);
    // A punched tail is reserved again by the next write into it.
    whole.zero_from(100).unwrap();
    assert!(whole.reserved.load(Ordering::Acquire) < size);
    assert!(whole.write(size as usize - 4, b"tail").unwrap());
    assert_eq!(whole.reserved.load(Ordering::Acquire), size);
}

#[test]
fn a_file_too_big_for_the_disk_is_refused_and_left_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let free = space::free_bytes(dir.path()).unwrap();
    let size = (free + (1 << 30)).next_multiple_of(4096);
    let err = MappedFile::create(dir.path(), 0, size, Reserve::Whole).unwrap_err();
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err}");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file or temp file left"
    );
}

#[test]
fn budgeted_files_close_when_over_the_cap_or_idle_and_reopen_on_use() {
    let dir = tempfile::tempdir().unwrap();
    let budget = OpenFiles::new(2, 3);
    let files: Vec<_> = (0..3u64)
        .map(|i| {
            MappedFile::create_unsynced(
                dir.path(),
                i * 4096,
                4096,
                Reserve::Chunks(RESERVE_CHUNK),
                Some(budget.clone()),
            )
            .unwrap()
        })
        .collect();
    assert_eq!(budget.open_count(), 2, "the cap holds");
    assert!(!files[0].is_open(), "the least recently used was closed");
    assert!(files[2].is_open());
    assert!(files[0].write(8, b"written while closed").unwrap());
    assert!(files[0].is_open());
    assert_eq!(budget.open_count(), 2);
    files[0].close();
    assert!(!files[0].is_open());
    assert_eq!(
        files[0].read(8, 20).unwrap(),
        b"written while closed",
        "a dirty file is synced and closed, its bytes kept"
    );
    // Idle files close after three sweeps without use.
    for _ in 0..3 {
        budget.sweep();
    }
    assert_eq!(budget.open_count(), 0);
    assert!(files.iter().all(|f| !f.is_open()));
    assert_eq!(files[0].read(8, 7).unwrap(), b"written");
    drop(files);
    assert_eq!(budget.open_count(), 0, "dropped files leave the list");
}
