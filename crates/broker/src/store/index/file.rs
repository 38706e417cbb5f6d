//! One index file in Apache's `IndexFile` layout: a hash table of key chains mapped from disk.
//!
//! ```text
//! <root>/index/<yyyyMMddHHmmssSSS>   (creation time, UTC), big-endian
//!   0   8  beginTimestamp   store time of entry 1 (inherited from the previous file until then)
//!   8   8  endTimestamp     store time of the newest entry
//!  16   8  beginPhyOffset   commit-log offset of entry 1
//!  24   8  endPhyOffset     commit-log offset of the newest entry
//!  32   4  hashSlotCount    slots in use
//!  36   4  indexCount       next entry number, from 1 (0 in a fresh file reads as 1)
//!  40   4 x maxHashSlotNum  slot: number of the newest entry of its chain, 0 = empty
//!  ..  20 x maxIndexNum     entry n at 40 + 4*slots + 20*n (entry 0 unused):
//!                             keyHash i32 | phyOffset i64 | timeDiff i32 (s since begin) | prevIndex i32
//! ```
//!
//! With Apache's defaults (5,000,000 slots, 20,000,000 entries) a file is 420,000,040 bytes,
//! sparse until written. A file is full at `indexCount >= maxIndexNum`. One thread writes
//! (the index follower); queries read concurrently through the mapping's lock. The header is
//! kept in memory and written through after each entry, after the entry and slot, so a reader
//! or a crash sees the header describe only entries that are complete.
//!
//! Lookups walk a chain from its slot towards older entries; every link must point to a
//! smaller entry number, so a corrupt file can end a walk early but never loop.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::super::error::{Result, StoreError};
use super::super::mapped_file::MappedFile;
use super::super::reserve::{Reserve, RESERVE_CHUNK};
use super::keys::key_hash;

/// Header bytes.
pub const HEADER_SIZE: usize = 40;
/// Bytes per slot.
pub const SLOT_SIZE: usize = 4;
/// Bytes per entry.
pub const ENTRY_SIZE: usize = 20;

/// The header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexHeader {
    /// Store time of entry 1, ms.
    pub begin_timestamp: i64,
    /// Store time of the newest entry, ms.
    pub end_timestamp: i64,
    /// Commit-log offset of entry 1.
    pub begin_phy_offset: i64,
    /// Commit-log offset of the newest entry.
    pub end_phy_offset: i64,
    /// Slots in use.
    pub hash_slot_count: i32,
    /// Next entry number (1 in an empty file).
    pub index_count: i32,
}

impl IndexHeader {
    fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..8].copy_from_slice(&self.begin_timestamp.to_be_bytes());
        b[8..16].copy_from_slice(&self.end_timestamp.to_be_bytes());
        b[16..24].copy_from_slice(&self.begin_phy_offset.to_be_bytes());
        b[24..32].copy_from_slice(&self.end_phy_offset.to_be_bytes());
        b[32..36].copy_from_slice(&self.hash_slot_count.to_be_bytes());
        b[36..40].copy_from_slice(&self.index_count.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> IndexHeader {
        let i64_at = |at: usize| i64::from_be_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
        let i32_at = |at: usize| i32::from_be_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]));
        IndexHeader {
            begin_timestamp: i64_at(0),
            end_timestamp: i64_at(8),
            begin_phy_offset: i64_at(16),
            end_phy_offset: i64_at(24),
            hash_slot_count: i32_at(32),
            index_count: i32_at(36).max(1),
        }
    }

    /// Whether any entry was written.
    pub fn has_entries(&self) -> bool {
        self.index_count > 1
    }
}

/// The size of an index file with these dimensions.
pub fn file_size(slots: u32, max_index: u32) -> u64 {
    HEADER_SIZE as u64 + slots as u64 * SLOT_SIZE as u64 + max_index as u64 * ENTRY_SIZE as u64
}

/// An open index file.
#[derive(Debug)]
pub struct IndexFile {
    file: Arc<MappedFile>,
    slots: u32,
    max_index: u32,
    /// The header as last written; its lock also serializes the (single) writer's steps
    /// against readers that need a consistent entry count.
    header: Mutex<IndexHeader>,
}

impl IndexFile {
    /// Creates `dir/<name>`; `begin` carries the previous file's end (timestamp, phy offset)
    /// so the first entry's time difference has a base, as Apache does.
    pub fn create(
        dir: &Path,
        name: &str,
        slots: u32,
        max_index: u32,
        begin: (i64, i64),
    ) -> Result<IndexFile> {
        let file = MappedFile::create_named(
            dir,
            name,
            file_size(slots, max_index),
            // Slots are written anywhere in the first 20 MB and entries front to back: blocks
            // are reserved as the writes reach them, not for the whole (mostly empty) file.
            Reserve::Chunks(RESERVE_CHUNK),
        )?;
        let header = IndexHeader {
            begin_timestamp: begin.0.max(0),
            end_timestamp: begin.0.max(0),
            begin_phy_offset: begin.1.max(0),
            end_phy_offset: begin.1.max(0),
            hash_slot_count: 0,
            index_count: 1,
        };
        file.write(0, &header.encode())?;
        Ok(IndexFile {
            file,
            slots,
            max_index,
            header: Mutex::new(header),
        })
    }

    /// Opens an existing file, which must have the size these dimensions give.
    pub fn open(path: &Path, slots: u32, max_index: u32) -> Result<IndexFile> {
        let file = MappedFile::open(
            path,
            0,
            file_size(slots, max_index),
            Reserve::Chunks(RESERVE_CHUNK),
        )?;
        let header = file
            .with_slice(0, HEADER_SIZE, IndexHeader::decode)
            .ok_or_else(|| StoreError::Corrupt(format!("{} has no header", path.display())))?;
        Ok(IndexFile {
            file,
            slots,
            max_index,
            header: Mutex::new(header),
        })
    }

    fn lock(&self) -> MutexGuard<'_, IndexHeader> {
        self.header.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The header now.
    pub fn header(&self) -> IndexHeader {
        *self.lock()
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The file name (its creation time).
    pub fn name(&self) -> String {
        self.file
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Whether no entry fits any more.
    pub fn is_full(&self) -> bool {
        self.lock().index_count as i64 >= self.max_index as i64
    }

    fn slot_pos(&self, hash: i32) -> usize {
        HEADER_SIZE + (hash as u32 % self.slots) as usize * SLOT_SIZE
    }

    fn entry_pos(&self, n: i32) -> usize {
        HEADER_SIZE + self.slots as usize * SLOT_SIZE + n as usize * ENTRY_SIZE
    }

    fn read_i32(&self, pos: usize) -> i32 {
        self.file
            .with_slice(pos, 4, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or(0)
    }

    /// Adds `key` for the record at `phy` stored at `store_timestamp`; false when the file is
    /// full (nothing written). A full disk is an error that leaves the entry count as it was.
    pub fn put(&self, key: &str, phy: u64, store_timestamp: i64) -> Result<bool> {
        let mut h = self.lock();
        if h.index_count as i64 >= self.max_index as i64 {
            return Ok(false);
        }
        let hash = key_hash(key);
        let slot_pos = self.slot_pos(hash);
        let mut prev = self.read_i32(slot_pos);
        let new_slot = prev <= 0 || prev > h.index_count;
        if new_slot {
            prev = 0;
        }
        let n = h.index_count;
        if n <= 1 {
            // Set before the time difference is taken, so entry 1 reads back at its own time
            // (Apache takes it against the inherited begin, then moves begin).
            h.begin_phy_offset = phy as i64;
            h.begin_timestamp = store_timestamp;
        }
        let time_diff = if h.begin_timestamp <= 0 {
            0
        } else {
            ((store_timestamp - h.begin_timestamp) / 1000).clamp(0, i32::MAX as i64) as i32
        };
        let mut entry = [0u8; ENTRY_SIZE];
        entry[0..4].copy_from_slice(&hash.to_be_bytes());
        entry[4..12].copy_from_slice(&(phy as i64).to_be_bytes());
        entry[12..16].copy_from_slice(&time_diff.to_be_bytes());
        entry[16..20].copy_from_slice(&prev.to_be_bytes());
        self.file.write(self.entry_pos(n), &entry)?;
        self.file.write(slot_pos, &n.to_be_bytes())?;
        if new_slot {
            h.hash_slot_count += 1;
        }
        h.index_count += 1;
        h.end_phy_offset = phy as i64;
        h.end_timestamp = store_timestamp;
        self.file.write(0, &h.encode())?;
        Ok(true)
    }

    /// Whether the file's time range meets `[begin, end]`.
    pub fn overlaps(&self, begin: i64, end: i64) -> bool {
        let h = self.header();
        h.has_entries() && h.begin_timestamp <= end && begin <= h.end_timestamp
    }

    /// Appends to `out` the commit-log offsets of entries whose key hash equals that of `key`
    /// (the hash only: callers filter collisions by reading the records) with a store time in
    /// `[begin, end]`, newest first, until `out` holds `max`.
    pub fn lookup(&self, key: &str, begin: i64, end: i64, max: usize, out: &mut Vec<u64>) {
        let h = self.header();
        let hash = key_hash(key);
        let mut n = self.read_i32(self.slot_pos(hash));
        while out.len() < max && n > 0 && n < h.index_count {
            let Some((entry_hash, phy, diff, prev)) =
                self.file.with_slice(self.entry_pos(n), ENTRY_SIZE, |b| {
                    (
                        i32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                        i64::from_be_bytes([b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]]),
                        i32::from_be_bytes([b[12], b[13], b[14], b[15]]),
                        i32::from_be_bytes([b[16], b[17], b[18], b[19]]),
                    )
                })
            else {
                break;
            };
            if diff < 0 {
                break;
            }
            let time = h.begin_timestamp + diff as i64 * 1000;
            if entry_hash == hash && begin <= time && time <= end && phy >= 0 {
                out.push(phy as u64);
            }
            // Chains only point to older entries; anything else is the end (or corruption).
            if prev <= 0 || prev >= n || time < begin {
                break;
            }
            n = prev;
        }
    }

    /// `fdatasync`s the file.
    pub fn sync(&self) -> Result<()> {
        self.file.sync()
    }

    /// Unlinks the file once the last reader lets go.
    pub fn delete_on_drop(&self) {
        self.file.delete_on_drop()
    }
}

/// The name of a file created at `ms` (epoch milliseconds, UTC): `yyyyMMddHHmmssSSS`.
pub fn name_for(ms: i64) -> String {
    let ms = ms.max(0);
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}{m:02}{d:02}{h:02}{mi:02}{s:02}{milli:03}")
}

/// Whether `name` looks like an index file name (17 digits).
pub fn is_index_name(name: &str) -> bool {
    name.len() == 17 && name.bytes().all(|b| b.is_ascii_digit())
}

/// `dir/<name>` for a new file at `ms`, moved forward a millisecond at a time past names
/// already taken (files filled within one millisecond in tests).
pub fn fresh_path(dir: &Path, ms: i64) -> (PathBuf, String) {
    let mut ms = ms;
    loop {
        let name = name_for(ms);
        let path = dir.join(&name);
        if !path.exists() {
            return (path, name);
        }
        ms += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_utc_timestamps() {
        assert_eq!(name_for(0), "19700101000000000");
        assert_eq!(name_for(1_700_000_000_123), "20231114221320123");
        assert_eq!(name_for(951_782_400_000), "20000229000000000");
        assert!(is_index_name("20231114221320123"));
        assert!(!is_index_name("20231114221320123.tmp"));
    }

    #[test]
    fn apache_default_size_and_slot_position() {
        assert_eq!(file_size(5_000_000, 20_000_000), 420_000_040);
        let dir = tempfile::tempdir().unwrap();
        let f = IndexFile::create(dir.path(), "a", 5_000_000, 4, (0, 0)).unwrap();
        // features.md §2.2: "TopicTest#key1" lands in slot 984460 at byte 3,937,880.
        assert_eq!(f.slot_pos(key_hash("TopicTest#key1")), 3_937_880);
    }

    #[test]
    fn chains_time_ranges_and_full_file() {
        let dir = tempfile::tempdir().unwrap();
        // 2 slots force collisions between different keys.
        let f = IndexFile::create(dir.path(), "f", 2, 6, (0, 0)).unwrap();
        let t0 = 1_700_000_000_000;
        assert!(f.put("T#a", 100, t0).unwrap());
        assert!(f.put("T#b", 200, t0 + 5_000).unwrap());
        assert!(f.put("T#a", 300, t0 + 10_000).unwrap());
        assert!(f.put("T#a", 400, t0 + 20_000).unwrap());
        assert!(f.put("T#c", 500, t0 + 30_000).unwrap());
        assert!(f.is_full(), "entries 1..=5 of 6 numbers");
        assert!(!f.put("T#a", 600, t0 + 40_000).unwrap());
        let find = |key: &str, b: i64, e: i64, max: usize| {
            let mut out = Vec::new();
            f.lookup(key, b, e, max, &mut out);
            out
        };
        assert_eq!(find("T#a", 0, i64::MAX, 64), vec![400, 300, 100]);
        assert_eq!(find("T#a", 0, i64::MAX, 2), vec![400, 300]);
        assert_eq!(find("T#a", t0 + 10_000, t0 + 15_000, 64), vec![300]);
        assert_eq!(find("T#zz", 0, i64::MAX, 64), Vec::<u64>::new());
        let h = f.header();
        assert_eq!(
            (h.begin_phy_offset, h.end_phy_offset, h.index_count),
            (100, 500, 6)
        );
        assert_eq!((h.begin_timestamp, h.end_timestamp), (t0, t0 + 30_000));
        assert!(f.overlaps(t0 + 1, t0 + 2) && !f.overlaps(t0 + 30_001, i64::MAX));

        // Reopened from disk: the same header and answers.
        let path = f.path().to_path_buf();
        drop(f);
        let f = IndexFile::open(&path, 2, 6).unwrap();
        assert_eq!(f.header(), h);
        let mut out = Vec::new();
        f.lookup("T#a", 0, i64::MAX, 64, &mut out);
        assert_eq!(out, vec![400, 300, 100]);
        assert!(
            IndexFile::open(&path, 3, 6).is_err(),
            "other dimensions are refused"
        );
    }

    #[test]
    fn a_corrupt_chain_ends_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        let f = IndexFile::create(dir.path(), "f", 1, 10, (0, 0)).unwrap();
        for i in 1..=3u64 {
            assert!(f.put("T#k", i * 100, 1_700_000_000_000).unwrap());
        }
        // Entry 2 made to point at itself and entry 3 at a later number.
        f.file.write(f.entry_pos(2) + 16, &2i32.to_be_bytes()).unwrap();
        let mut out = Vec::new();
        f.lookup("T#k", 0, i64::MAX, 64, &mut out);
        assert_eq!(out, vec![300, 200]);
        f.file.write(f.entry_pos(3) + 16, &7i32.to_be_bytes()).unwrap();
        out.clear();
        f.lookup("T#k", 0, i64::MAX, 64, &mut out);
        assert_eq!(out, vec![300]);
    }

    #[test]
    fn a_new_file_inherits_the_previous_end() {
        let dir = tempfile::tempdir().unwrap();
        let f = IndexFile::create(dir.path(), "g", 4, 8, (1_700_000_000_000, 4242)).unwrap();
        let h = f.header();
        assert_eq!(
            (h.begin_timestamp, h.end_phy_offset, h.index_count),
            (1_700_000_000_000, 4242, 1)
        );
        assert!(!h.has_entries());
        assert!(f.put("T#k", 5000, 1_700_000_003_000).unwrap());
        let mut out = Vec::new();
        f.lookup("T#k", 1_700_000_003_000, 1_700_000_003_000, 64, &mut out);
        assert_eq!(out, vec![5000], "entry 1 reads back at its own store time");
    }
}
