//! The commit log: every record of every topic, back to back, in [`MappedFile`]s named by their
//! start offset under `<root>/commitlog`.
//!
//! A record never spans two files: when `size + 8` bytes do not fit in what is left of a file,
//! the rest of the file gets a filler (`i32 remaining | i32 BLANK_MAGIC`, remaining bytes zero)
//! and the record goes to the start of the next file.
//!
//! Invariants: bytes below [`CommitLog::max_offset`] are complete copies (records, fillers,
//! and on a slave possibly a partial last record) and never change until retention deletes
//! their file; bytes above it are zero in the current file. Only the holder of the store's put
//! lock (the `&mut WriteState`) writes, so `max_offset` moves only forward, under that lock.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rmq_remoting::message::record::{BLANK_MAGIC, MESSAGE_MAGIC};

use super::allocator::Allocator;
use super::error::{Result, StoreError};
use super::file_queue::FileQueue;
use super::mapped_file::MappedFile;
use super::reserve::{Reserve, LOG_RESERVE_CHUNK};

/// Bytes a filler needs at least, so every record leaves room for one.
pub const FILLER_MIN: u64 = 8;
/// Smallest valid message record (IPv4 hosts, empty body, topic and properties).
pub const MIN_RECORD_SIZE: usize = 91;

/// The writer's position; lives inside the store's put lock.
#[derive(Debug)]
pub struct WriteState {
    /// End of the written bytes (== [`CommitLog::max_offset`]).
    pub wrote: u64,
    /// End of the last record handed to the consume queues; below `wrote` only while a slave
    /// holds a partial record.
    pub dispatched: u64,
    /// The file holding `wrote` (its end when `wrote` is at a file boundary).
    current: Option<Arc<MappedFile>>,
}

/// The commit log.
#[derive(Debug)]
pub struct CommitLog {
    files: FileQueue,
    allocator: Option<Allocator>,
    max: AtomicU64,
    /// Write records with `pwrite` instead of through the mapping (SYNC_FLUSH).
    write_through: bool,
}

impl CommitLog {
    /// Loads the files of `<root>/commitlog` without deciding where the log ends (recovery does).
    pub fn load(root: &Path, file_size: u64) -> Result<CommitLog> {
        let files = FileQueue::load(&root.join("commitlog"), file_size)?;
        Ok(CommitLog {
            files,
            allocator: None,
            max: AtomicU64::new(0),
            write_through: false,
        })
    }

    /// Writes records with `pwrite` rather than through the mapping, which makes each
    /// `fdatasync` of a SYNC_FLUSH store several times cheaper ([`MappedFile::write_through`]).
    pub fn set_write_through(&mut self, on: bool) {
        self.write_through = on;
    }

    /// Writes `data` into `file` at file position `pos`; false when it does not fit.
    fn put(&self, file: &MappedFile, pos: usize, data: &[u8]) -> Result<bool> {
        if self.write_through {
            file.write_through(pos, data)
        } else {
            file.write(pos, data)
        }
    }

    /// Starts preallocating files (after recovery, so it never races the cut).
    pub fn start_allocator(&mut self, touch: bool, warm: bool) -> Result<()> {
        let end = self.max_offset();
        self.allocator = Some(Allocator::start(
            self.files.dir(),
            self.files.file_size(),
            touch,
            warm,
            end,
            self.files.find(end),
        )?);
        Ok(())
    }

    /// Asks the allocator for the file that the writer at `end` needs next: the one after the
    /// file holding `end`, or that file itself when it does not exist yet.
    pub fn request_next(&self, end: u64) {
        if let Some(a) = &self.allocator {
            match self.files.find(end) {
                Some(f) => a.request(f.end()),
                None => a.request(self.file_start(end)),
            }
        }
    }

    /// Stops the allocator thread.
    pub fn stop_allocator(&self) {
        if let Some(a) = &self.allocator {
            a.stop();
        }
    }

    /// The files.
    pub fn files(&self) -> &FileQueue {
        &self.files
    }

    /// Size of one file.
    pub fn file_size(&self) -> u64 {
        self.files.file_size()
    }

    /// End of the written bytes.
    pub fn max_offset(&self) -> u64 {
        self.max.load(Ordering::Acquire)
    }

    /// Start of the first file still on disk.
    pub fn min_offset(&self) -> u64 {
        self.files.first().map_or(self.max_offset(), |f| f.start())
    }

    /// Sets the end after recovery and returns the writer's state for it.
    pub fn set_recovered_end(&self, end: u64) -> WriteState {
        self.max.store(end, Ordering::Release);
        WriteState {
            wrote: end,
            dispatched: end,
            current: self.files.find(end),
        }
    }

    /// Publishes a new end of the written bytes (and moves the allocator's touch window).
    fn set_end(&self, end: u64) {
        self.max.store(end, Ordering::Release);
        if let Some(a) = &self.allocator {
            a.advanced(end);
        }
    }

    /// Start of the file that would hold `offset`.
    pub fn file_start(&self, offset: u64) -> u64 {
        offset - offset % self.file_size()
    }

    fn next_file(&self, start: u64) -> Result<Arc<MappedFile>> {
        if let Some(f) = self.files.find(start) {
            return Ok(f);
        }
        let file = match &self.allocator {
            Some(a) => a.take(start)?,
            None => MappedFile::create(
                self.files.dir(),
                start,
                self.file_size(),
                Reserve::Chunks(LOG_RESERVE_CHUNK),
            )?,
        };
        self.files.push(file.clone())?;
        if let Some(a) = &self.allocator {
            a.request(start + self.file_size());
        }
        Ok(file)
    }

    /// The file to write `len` bytes of records to, writing a filler and moving to the next
    /// file when they do not fit. Returns the file and the offset to write at.
    fn room_for(&self, w: &mut WriteState, len: u64) -> Result<Arc<MappedFile>> {
        if len + FILLER_MIN > self.file_size() {
            return Err(StoreError::MessageTooLarge {
                size: len as usize,
                limit: (self.file_size() - FILLER_MIN) as usize,
            });
        }
        let file = match w.current.take() {
            Some(f) if f.start() <= w.wrote && w.wrote < f.end() => f,
            _ => self.next_file(self.file_start(w.wrote))?,
        };
        let remaining = file.end() - w.wrote;
        if len + FILLER_MIN <= remaining {
            w.current = Some(file.clone());
            return Ok(file);
        }
        let mut filler = [0u8; 8];
        filler[0..4].copy_from_slice(&(remaining as i32).to_be_bytes());
        filler[4..8].copy_from_slice(&BLANK_MAGIC.to_be_bytes());
        if !self.put(&file, (w.wrote - file.start()) as usize, &filler)? {
            return Err(StoreError::Corrupt(format!("filler at {} does not fit", w.wrote)));
        }
        w.wrote = file.end();
        w.dispatched = w.dispatched.max(w.wrote);
        self.set_end(w.wrote);
        let next = self.next_file(w.wrote)?;
        w.current = Some(next.clone());
        Ok(next)
    }

    /// Appends `buf` (one or more whole records) as one copy. `prepare` is called with the
    /// physical offset the first record gets, before the copy, to patch offsets and timestamps
    /// into `buf`, so the mapping only ever sees complete records.
    pub fn append(
        &self,
        w: &mut WriteState,
        buf: &mut [u8],
        prepare: impl FnOnce(&mut [u8], u64),
    ) -> Result<u64> {
        let file = self.room_for(w, buf.len() as u64)?;
        let phys = w.wrote;
        prepare(buf, phys);
        if !self.put(&file, (phys - file.start()) as usize, buf)? {
            return Err(StoreError::Corrupt(format!("append at {phys} does not fit")));
        }
        w.wrote += buf.len() as u64;
        w.dispatched = w.wrote;
        self.set_end(w.wrote);
        Ok(phys)
    }

    /// Copies raw bytes at the end (a slave's replication), crossing into the next file where
    /// the master's did. The caller dispatches what became complete.
    pub fn append_raw(&self, w: &mut WriteState, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            let file = match w.current.take() {
                Some(f) if f.start() <= w.wrote && w.wrote < f.end() => f,
                _ => self.next_file(self.file_start(w.wrote))?,
            };
            let n = ((file.end() - w.wrote) as usize).min(bytes.len());
            if !self.put(&file, (w.wrote - file.start()) as usize, &bytes[..n])? {
                return Err(StoreError::Corrupt(format!(
                    "raw append at {} does not fit",
                    w.wrote
                )));
            }
            w.wrote += n as u64;
            self.set_end(w.wrote);
            w.current = Some(file);
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Moves an empty log's start to `offset`, which must be a file start; files holding no
    /// data (the first, preallocated one) are removed.
    pub fn start_empty_at(&self, w: &mut WriteState, offset: u64) -> Result<()> {
        if self.file_start(offset) != offset || w.wrote != 0 {
            return Err(StoreError::OffsetMismatch {
                offset,
                expected: w.wrote,
            });
        }
        self.files.remove_from(0)?;
        w.wrote = offset;
        w.dispatched = offset;
        w.current = None;
        self.set_end(offset);
        Ok(())
    }

    /// Drops everything from `offset` on (a slave's corrupt raw data): zeroes the tail of its
    /// file and removes later files.
    pub fn cut(&self, w: &mut WriteState, offset: u64) -> Result<()> {
        self.files
            .remove_from(self.file_start(offset) + self.file_size())?;
        if let Some(f) = self.files.find(offset) {
            f.zero_from((offset - f.start()) as usize)?;
        }
        w.wrote = offset;
        w.dispatched = w.dispatched.min(offset);
        w.current = self.files.find(offset);
        self.set_end(offset);
        Ok(())
    }

    /// Copies `len` bytes at `offset`, which must lie below the max offset and in one file.
    pub fn read(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        if offset.checked_add(len as u64)? > self.max_offset() {
            return None;
        }
        let file = self.files.find(offset)?;
        file.read((offset - file.start()) as usize, len)
    }

    /// The file and position of the message record at `offset`, and its size (`None` when
    /// there is no message record there).
    fn locate_record(&self, offset: u64) -> Option<(Arc<MappedFile>, usize, usize)> {
        let max = self.max_offset();
        let file = self.files.find(offset)?;
        let pos = (offset - file.start()) as usize;
        let (size, magic) = file.with_slice(pos, 8, |b| {
            (
                i32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                i32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            )
        })?;
        if magic != MESSAGE_MAGIC || size < MIN_RECORD_SIZE as i32 || offset + size as u64 > max {
            return None;
        }
        Some((file, pos, size as usize))
    }

    /// The whole record at `offset` (`None` when there is no message record there).
    pub fn read_record(&self, offset: u64) -> Option<Vec<u8>> {
        let (file, pos, size) = self.locate_record(offset)?;
        file.read(pos, size)
    }

    /// Appends the whole record at `offset` to `out` and returns its size (`None`, with `out`
    /// unchanged, when there is no message record there). A pull gathers its records this way
    /// into one buffer: one copy out of the mapping per record and no allocation of its own.
    pub fn read_record_into(&self, offset: u64, out: &mut bytes::BytesMut) -> Option<usize> {
        let (file, pos, size) = self.locate_record(offset)?;
        file.with_slice(pos, size, |b| out.extend_from_slice(b))?;
        Some(size)
    }

    /// Raw bytes from `offset`, at most `max_len`, stopping at the end of the file holding
    /// `offset` and at the max offset (replication reads).
    pub fn read_raw(&self, offset: u64, max_len: usize) -> Option<Vec<u8>> {
        let max = self.max_offset();
        if offset >= max {
            return None;
        }
        let file = self.files.find(offset)?;
        let len = (max.min(file.end()) - offset).min(max_len as u64) as usize;
        file.read((offset - file.start()) as usize, len)
    }

    /// Syncs every file overlapping `[from, to)`.
    pub fn sync_range(&self, from: u64, to: u64) -> Result<()> {
        for f in self.files.files() {
            if f.end() > from && f.start() < to {
                f.sync()?;
            }
        }
        Ok(())
    }
}
