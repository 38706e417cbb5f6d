//! Appends: the encode outside the put lock, the copy and consume-queue write inside it, and
//! a slave's raw appends.
//!
//! A record is encoded (with its body CRC) before the put lock is taken; under the lock only
//! the queue offset, physical offset and store timestamp are patched into the buffer, which is
//! then copied into the mapping in one piece, and the consume-queue entries are written. So the
//! lock is held for two memcpys, and a reader that finds a consume-queue entry always finds the
//! whole record behind it.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use rmq_remoting::message::record::{
    store_timestamp_pos, PHYSICAL_OFFSET_POS, QUEUE_OFFSET_POS, SYS_FLAG_POS,
};
use rmq_remoting::message::tags::tags_code;
use rmq_remoting::message::MessageRecord;

use super::consume_queue::CqEntry;
use super::error::{Result, StoreError};
use super::{recovery, retention, space, MessageStore};

/// Where an appended record (or the first of a batch) went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    /// Commit-log offset of the (first) record.
    pub physical_offset: u64,
    /// Bytes written (all records of a batch; fillers not counted).
    pub wrote_bytes: u64,
    /// Logical offset of the (first) record in its consume queue.
    pub queue_offset: u64,
    /// Number of records.
    pub message_count: u32,
    /// Store timestamp (ms) given to every record.
    pub store_timestamp: i64,
}

impl AppendResult {
    /// The commit-log offset right after the last record: what a durable append waits for.
    pub fn next_offset(&self) -> u64 {
        self.physical_offset + self.wrote_bytes
    }
}

/// A batch append: the summary plus each record's commit-log offset (for offset message ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchAppendResult {
    /// Totals and first offsets.
    pub summary: AppendResult,
    /// Commit-log offset of each record, in order.
    pub physical_offsets: Vec<u64>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn put_i64(buf: &mut [u8], at: usize, v: i64) {
    buf[at..at + 8].copy_from_slice(&v.to_be_bytes());
}

/// One encoded record's place in the batch buffer.
struct Encoded {
    start: usize,
    len: usize,
    store_ts_pos: usize,
    tags_code: i64,
}

impl MessageStore {
    /// Appends one record. The store sets its queue offset, physical offset, store timestamp and
    /// body CRC; everything else is stored as given. Visible to readers on return; durable once
    /// [`Self::flushed_offset`] reaches [`AppendResult::next_offset`].
    pub fn append(&self, record: &MessageRecord) -> Result<AppendResult> {
        self.append_records(std::slice::from_ref(record), false)
            .map(|(r, _)| r)
    }

    /// Appends records of one topic and queue with consecutive queue and physical offsets, in
    /// one copy (never split across commit-log files).
    pub fn append_batch(&self, records: &[MessageRecord]) -> Result<BatchAppendResult> {
        let (summary, physical_offsets) = self.append_records(records, true)?;
        Ok(BatchAppendResult {
            summary,
            physical_offsets,
        })
    }

    /// Why an append would be refused now: [`StoreError::ShutDown`], or
    /// [`StoreError::DiskFull`] while disk usage is above `disk_full_ratio` (re-read at most
    /// once a second while full, so sends resume soon after space returns).
    pub fn check_writable(&self) -> Result<()> {
        let inner = &self.inner;
        if !inner.running.load(Ordering::Acquire) {
            return Err(StoreError::ShutDown);
        }
        if inner.disk_full.load(Ordering::Acquire) && retention::recheck_full_disk(inner) {
            return Err(StoreError::DiskFull {
                detail: format!(
                    "{:.1}% of the disk holding {} is used, {} MiB free; sends are refused above {:.0}% \
                     (diskSpaceWarningLevelRatio) or when a new store file does not fit",
                    self.disk_used_ratio() * 100.0,
                    inner.config.root.display(),
                    space::free_bytes(&inner.config.root).map_or(0, space::mib),
                    inner.config.disk_full_ratio * 100.0
                ),
            });
        }
        Ok(())
    }

    fn append_records(&self, records: &[MessageRecord], offsets: bool) -> Result<(AppendResult, Vec<u64>)> {
        self.check_writable()?;
        let first = records.first().ok_or(StoreError::BadBatch("empty batch"))?;
        if records
            .iter()
            .any(|r| r.topic != first.topic || r.queue_id != first.queue_id)
        {
            return Err(StoreError::BadBatch(
                "records of one batch must share topic and queue",
            ));
        }
        let limit = self.inner.config.max_message_size;
        let mut buf = BytesMut::with_capacity(records.iter().map(MessageRecord::encoded_len).sum());
        let mut encoded = Vec::with_capacity(records.len());
        for r in records {
            if r.body.len() > limit {
                return Err(StoreError::MessageTooLarge {
                    size: r.body.len(),
                    limit,
                });
            }
            let start = buf.len();
            r.encode(&mut buf)?;
            let sys_flag = i32::from_be_bytes([
                buf[start + SYS_FLAG_POS],
                buf[start + SYS_FLAG_POS + 1],
                buf[start + SYS_FLAG_POS + 2],
                buf[start + SYS_FLAG_POS + 3],
            ]);
            encoded.push(Encoded {
                start,
                len: buf.len() - start,
                store_ts_pos: store_timestamp_pos(sys_flag),
                tags_code: tags_code(r.tags()),
            });
        }
        // A batch is bounded by max_message_size as a whole; a single record by its body.
        if records.len() > 1 && buf.len() > limit {
            return Err(StoreError::MessageTooLarge {
                size: buf.len(),
                limit,
            });
        }

        let inner = &self.inner;
        let mut w = inner.lock_put();
        if !inner.running.load(Ordering::Acquire) {
            return Err(StoreError::ShutDown);
        }
        if w.dispatched != w.wrote {
            return Err(StoreError::Corrupt(
                "a partial replicated record is pending; local appends refused".into(),
            ));
        }
        let cq = inner.queues.get_or_create(&first.topic, first.queue_id)?;
        // Room for the entries first: a full disk refuses the append before the commit log
        // holds a record its queue could not index.
        cq.reserve(records.len() as u64)
            .inspect_err(|e| retention::note_write_error(inner, e))?;
        let queue_offset = cq.max_offset();
        let store_ts = now_ms().max(inner.last_store_timestamp.load(Ordering::Relaxed));
        let phys = inner
            .commit_log
            .append(&mut w, &mut buf, |buf, phys| {
                for (i, e) in encoded.iter().enumerate() {
                    let rec = &mut buf[e.start..e.start + e.len];
                    put_i64(rec, QUEUE_OFFSET_POS, (queue_offset + i as u64) as i64);
                    put_i64(rec, PHYSICAL_OFFSET_POS, (phys + e.start as u64) as i64);
                    put_i64(rec, e.store_ts_pos, store_ts);
                }
            })
            .inspect_err(|e| retention::note_write_error(inner, e))?;
        for (i, e) in encoded.iter().enumerate() {
            let entry = CqEntry {
                phys: phys + e.start as u64,
                size: e.len as i32,
                tags_code: e.tags_code,
            };
            if let Err(err) = cq.put(queue_offset + i as u64, entry) {
                // The record is in the commit log without its entry; recovery would add it, but
                // a running store must not hand out a queue with a hole, so stop writing.
                inner.running.store(false, Ordering::Release);
                return Err(err);
            }
        }
        inner.dispatched.store(w.wrote, Ordering::Release);
        inner.last_store_timestamp.store(store_ts, Ordering::Relaxed);
        drop(w);
        inner
            .stats
            .messages_put
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        inner
            .stats
            .bytes_put
            .fetch_add(buf.len() as u64, Ordering::Relaxed);
        let result = AppendResult {
            physical_offset: phys,
            wrote_bytes: buf.len() as u64,
            queue_offset,
            message_count: records.len() as u32,
            store_timestamp: store_ts,
        };
        let offsets = if offsets {
            encoded.iter().map(|e| phys + e.start as u64).collect()
        } else {
            Vec::new()
        };
        Ok((result, offsets))
    }

    /// A slave's append of raw master bytes at `offset`, which must equal
    /// [`Self::max_physical_offset`]. Complete records are dispatched to consume queues exactly
    /// as the master did; a partial last record waits for the next chunk. Bytes that do not
    /// parse as records are cut off again and reported as [`StoreError::Corrupt`]. The arrival
    /// listener, if set, hears of the queues that got entries once the put lock is released.
    pub fn append_raw_at(&self, offset: u64, bytes: &[u8]) -> Result<()> {
        self.check_writable()?;
        let inner = &self.inner;
        let mut w = inner.lock_put();
        if w.wrote == 0 && offset != 0 {
            // An empty slave starts wherever the master begins sending (the master's oldest
            // retained byte when the slave reported 0).
            inner.commit_log.start_empty_at(&mut w, offset)?;
        }
        if offset != w.wrote {
            return Err(StoreError::OffsetMismatch {
                offset,
                expected: w.wrote,
            });
        }
        inner
            .commit_log
            .append_raw(&mut w, bytes)
            .inspect_err(|e| retention::note_write_error(inner, e))?;
        let from = w.dispatched;
        // A slave that started mid-stream has no entries before its first record: fill, do not stop.
        let outcome = recovery::replay(&inner.commit_log, &inner.queues, from, w.wrote, true)?;
        w.dispatched = outcome.end;
        if let Some(reason) = outcome.stopped {
            let at = outcome.end;
            inner.commit_log.cut(&mut w, at)?;
            inner.dispatched.store(at, Ordering::Release);
            return Err(StoreError::Corrupt(format!("replicated data at {at}: {reason}")));
        }
        if outcome.last_store_timestamp > 0 {
            inner
                .last_store_timestamp
                .store(outcome.last_store_timestamp, Ordering::Relaxed);
        }
        inner.dispatched.store(w.dispatched, Ordering::Release);
        inner
            .stats
            .messages_put
            .fetch_add(outcome.records, Ordering::Relaxed);
        inner
            .stats
            .bytes_put
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        drop(w);
        if let Some(listen) = inner.arrival_listener.0.get() {
            if !outcome.arrivals.is_empty() {
                listen(&outcome.arrivals);
            }
        }
        Ok(())
    }
}
