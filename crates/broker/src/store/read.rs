//! Reads: pulls by topic, queue and logical offset (`DefaultMessageStore.getMessage`), offset
//! and time queries, single records by physical offset, and the raw replication reads.
//!
//! A pull scans at most `max(800, max_count)` consume-queue entries (16,000 bytes) and stops
//! after `max_count` records, 32 records or 256 KiB (RocketMQ's in-memory transfer limits),
//! always returning at least one record when one matches. Records are copied out of the
//! mapping, once, into one buffer that is the pull body ([`GetResult::body`]); each
//! [`GetResult::messages`] entry is a slice of it. A result stays valid after retention deletes
//! the file.

use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use rmq_remoting::message::record::{store_timestamp_pos, SYS_FLAG_POS};

use super::consume_queue::{ConsumeQueue, ENTRY_SIZE};
use super::MessageStore;

/// Most bytes one pull returns (`maxTransferBytesOnMessageInMemory`).
pub const BATCH_MAX_BYTES: u64 = 256 * 1024;
/// Most records one pull returns (`maxTransferCountOnMessageInMemory`).
pub const BATCH_MAX_MESSAGES: usize = 32;
/// Least consume-queue bytes one pull scans.
pub const CQ_SCAN_MIN_BYTES: usize = 16_000;

/// `GetMessageStatus`, with RocketMQ's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetStatus {
    /// At least one record matched.
    Found,
    /// Entries were scanned, none matched the filter.
    NoMatchedMessage,
    /// The queue exists but holds nothing.
    NoMessageInQueue,
    /// No such queue.
    NoMatchedLogicQueue,
    /// Offset below the queue's min.
    OffsetTooSmall,
    /// Offset equals the queue's max (nothing new yet: long-poll).
    OffsetOverflowOne,
    /// Offset beyond the queue's max.
    OffsetOverflowBadly,
    /// The consume-queue file for the offset is gone.
    OffsetFoundNull,
    /// The records' commit-log file was deleted.
    MessageWasRemoving,
}

impl GetStatus {
    /// The Java enum name (the pull response's remark).
    pub fn name(&self) -> &'static str {
        match self {
            GetStatus::Found => "FOUND",
            GetStatus::NoMatchedMessage => "NO_MATCHED_MESSAGE",
            GetStatus::NoMessageInQueue => "NO_MESSAGE_IN_QUEUE",
            GetStatus::NoMatchedLogicQueue => "NO_MATCHED_LOGIC_QUEUE",
            GetStatus::OffsetTooSmall => "OFFSET_TOO_SMALL",
            GetStatus::OffsetOverflowOne => "OFFSET_OVERFLOW_ONE",
            GetStatus::OffsetOverflowBadly => "OFFSET_OVERFLOW_BADLY",
            GetStatus::OffsetFoundNull => "OFFSET_FOUND_NULL",
            GetStatus::MessageWasRemoving => "MESSAGE_WAS_REMOVING",
        }
    }
}

/// What a pull found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetResult {
    /// Outcome.
    pub status: GetStatus,
    /// Where the consumer continues.
    pub next_begin_offset: u64,
    /// Queue's min offset.
    pub min_offset: u64,
    /// Queue's max offset.
    pub max_offset: u64,
    /// Raw records, each a slice of `body`.
    pub messages: Vec<Bytes>,
    /// The records back to back: the pull body.
    pub body: Bytes,
    /// Sum of the records' sizes.
    pub bytes_total: u64,
}

impl GetResult {
    fn empty(status: GetStatus, next: u64, min: u64, max: u64) -> GetResult {
        GetResult {
            status,
            next_begin_offset: next,
            min_offset: min,
            max_offset: max,
            messages: Vec::new(),
            body: Bytes::new(),
            bytes_total: 0,
        }
    }
}

impl MessageStore {
    /// Pulls up to `max_count` records from `offset`, keeping those whose tags code passes
    /// `filter` (see `TagFilter::matches_code`).
    pub fn get_messages(
        &self,
        topic: &str,
        queue_id: i32,
        offset: u64,
        max_count: usize,
        filter: &dyn Fn(i64) -> bool,
    ) -> GetResult {
        self.get_messages_filtered(topic, queue_id, offset, max_count, filter, &|_| true)
    }

    /// [`MessageStore::get_messages`] with a second stage: a record whose tags code passed
    /// `filter` is returned only if `record_filter` accepts its bytes (SQL92 property filters).
    /// A record refused by either stage counts as scanned.
    pub fn get_messages_filtered(
        &self,
        topic: &str,
        queue_id: i32,
        offset: u64,
        max_count: usize,
        filter: &dyn Fn(i64) -> bool,
        record_filter: &dyn Fn(&[u8]) -> bool,
    ) -> GetResult {
        let Some(cq) = self.inner.queues.get(topic, queue_id) else {
            return GetResult::empty(GetStatus::NoMatchedLogicQueue, 0, 0, 0);
        };
        let (min, max) = (cq.min_offset(), cq.max_offset());
        if max == 0 {
            return GetResult::empty(GetStatus::NoMessageInQueue, 0, min, max);
        }
        if offset < min {
            return GetResult::empty(GetStatus::OffsetTooSmall, min, min, max);
        }
        if offset == max {
            return GetResult::empty(GetStatus::OffsetOverflowOne, offset, min, max);
        }
        if offset > max {
            return GetResult::empty(GetStatus::OffsetOverflowBadly, max, min, max);
        }
        let max_count = max_count.max(1);
        let scan = (CQ_SCAN_MIN_BYTES / ENTRY_SIZE).max(max_count);
        let entries = cq.entries(offset, scan);
        if entries.is_empty() {
            return GetResult::empty(GetStatus::OffsetFoundNull, cq.next_file_offset(offset), min, max);
        }
        let log_min = self.inner.commit_log.min_offset();
        let mut result = GetResult::empty(GetStatus::NoMatchedMessage, offset, min, max);
        let mut scanned = 0u64;
        // Where each kept record lies in `body`.
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let expected: usize = entries
            .iter()
            .take(max_count.min(BATCH_MAX_MESSAGES))
            .map(|e| e.size.max(0) as usize)
            .sum();
        let mut body = BytesMut::with_capacity(expected.min(BATCH_MAX_BYTES as usize));
        for e in &entries {
            let count = spans.len();
            let full = count > 0
                && (count >= max_count
                    || result.bytes_total + e.size.max(0) as u64 > BATCH_MAX_BYTES
                    || count >= BATCH_MAX_MESSAGES);
            if full {
                break;
            }
            scanned += 1;
            if !e.is_real() {
                continue;
            }
            if e.phys < log_min {
                result.status = GetStatus::MessageWasRemoving;
                continue;
            }
            if !filter(e.tags_code) {
                continue;
            }
            let at = body.len();
            match self.inner.commit_log.read_record_into(e.phys, &mut body) {
                Some(size) if size == e.size as usize => {
                    if !record_filter(&body[at..]) {
                        body.truncate(at);
                        continue;
                    }
                    result.bytes_total += size as u64;
                    spans.push((at, size));
                }
                other => {
                    if other.is_some() {
                        body.truncate(at);
                    }
                    result.status = GetStatus::MessageWasRemoving;
                }
            }
        }
        if !spans.is_empty() {
            result.status = GetStatus::Found;
            let body = body.freeze();
            result.messages = spans.iter().map(|&(at, n)| body.slice(at..at + n)).collect();
            result.body = body;
        }
        result.next_begin_offset = offset + scanned;
        result
    }

    /// The queue's min offset (0 for an unknown queue).
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> u64 {
        self.inner
            .queues
            .get(topic, queue_id)
            .map_or(0, |cq| cq.min_offset())
    }

    /// The queue's max offset: the next offset to be written (0 for an unknown queue).
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> u64 {
        self.inner
            .queues
            .get(topic, queue_id)
            .map_or(0, |cq| cq.max_offset())
    }

    /// Store timestamp of the record behind a queue entry.
    fn entry_store_time(&self, cq: &ConsumeQueue, offset: u64) -> Option<i64> {
        let e = cq.entry(offset).filter(|e| e.is_real())?;
        let flag = self.inner.commit_log.read(e.phys + SYS_FLAG_POS as u64, 4)?;
        let sys_flag = i32::from_be_bytes([flag[0], flag[1], flag[2], flag[3]]);
        let ts = self
            .inner
            .commit_log
            .read(e.phys + store_timestamp_pos(sys_flag) as u64, 8)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(&ts);
        Some(i64::from_be_bytes(b))
    }

    /// Store timestamp of the record at a queue offset.
    pub fn message_store_time(&self, topic: &str, queue_id: i32, offset: u64) -> Option<i64> {
        let cq = self.inner.queues.get(topic, queue_id)?;
        self.entry_store_time(&cq, offset)
    }

    /// Store timestamp of the queue's first available record.
    pub fn earliest_store_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        let cq = self.inner.queues.get(topic, queue_id)?;
        self.entry_store_time(&cq, cq.min_offset())
    }

    /// SEARCH_OFFSET_BY_TIMESTAMP: the first offset stored at `timestamp`, else the closer of
    /// the two neighbours (the earlier on a tie; the first or last when all are after or
    /// before); 0 for an empty or unknown queue.
    pub fn offset_by_timestamp(&self, topic: &str, queue_id: i32, timestamp: i64) -> u64 {
        let Some(cq) = self.inner.queues.get(topic, queue_id) else {
            return 0;
        };
        let (min, max) = (cq.min_offset(), cq.max_offset());
        if min >= max {
            return 0;
        }
        // Unreadable entries (records being deleted) count as earlier than anything.
        let ts = |o: u64| self.entry_store_time(&cq, o).unwrap_or(i64::MIN);
        let (mut lo, mut hi) = (min, max);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if ts(mid) < timestamp {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == max {
            return max - 1;
        }
        let right = ts(lo);
        if right == timestamp || lo == min {
            return lo;
        }
        let left = ts(lo - 1);
        if timestamp.abs_diff(left) <= right.abs_diff(timestamp) {
            lo - 1
        } else {
            lo
        }
    }

    /// The record at a commit-log offset (VIEW_MESSAGE_BY_ID, CONSUMER_SEND_MSG_BACK).
    pub fn read_record(&self, physical_offset: u64) -> Option<Bytes> {
        self.inner
            .commit_log
            .read_record(physical_offset)
            .map(Bytes::from)
    }

    /// Raw commit-log bytes from `from` (replication): at most `max_len`, never past the end
    /// of the file holding `from` or the max offset. `None` when there is nothing there.
    pub fn read_commit_log(&self, from: u64, max_len: usize) -> Option<Bytes> {
        self.inner.commit_log.read_raw(from, max_len).map(Bytes::from)
    }

    /// End of the commit log (including a slave's partial record).
    pub fn max_physical_offset(&self) -> u64 {
        self.inner.commit_log.max_offset()
    }

    /// Start of the commit log's first file.
    pub fn commit_log_min_offset(&self) -> u64 {
        self.inner.commit_log.min_offset()
    }

    /// Every `(topic, queue id)` with a consume queue, sorted.
    pub fn queues(&self) -> Vec<(String, i32)> {
        self.inner.queues.list()
    }

    /// Deletes a topic's consume queues (its records stay in the commit log until retention).
    /// Returns whether the topic had queues.
    pub fn delete_topic(&self, topic: &str) -> super::error::Result<bool> {
        // Under the put lock so no append recreates a queue half-way through.
        let _w = self.inner.lock_put();
        self.inner.queues.remove_topic(topic)
    }

    /// Commit-log offset below which every record has its consume-queue entry.
    pub fn dispatched_offset(&self) -> u64 {
        self.inner.dispatched.load(Ordering::Acquire)
    }
}
