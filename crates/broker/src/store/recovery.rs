//! Recovery at open, and the replay of commit-log bytes into consume queues that recovery and
//! a slave's raw appends share.
//!
//! * Clean start (no abort file, valid checkpoint): the commit log ends at the checkpoint's
//!   flushed offset (everything was flushed at shutdown); the replay from there normally finds
//!   nothing, and consume queues are trusted.
//! * After a crash: replay starts at the earliest of the checkpoint's flushed offset, its
//!   consume-queue offset and the start of the last file (the whole log without a checkpoint).
//!   Every record is checked ([`dispatch::parse`]); the log ends at the first record that fails,
//!   and the rest of that file is zeroed and later files removed, so a stale record can never
//!   reappear behind a later, shorter tail.
//!
//! Consume queues are then made to agree with the log: an entry that differs from its replayed
//! record is rewritten (with everything after it), entries pointing past the end are cut, and
//! a queue found missing entries from before the replay start (a gap) triggers a second replay
//! from the first file.

use std::time::{Duration, Instant};

use super::checkpoint::Checkpoint;
use super::commit_log::CommitLog;
use super::dispatch::{self, DispatchEntry, Parsed};
use super::error::Result;
use super::progress::Progress;
use super::queues::QueueTable;

/// How the store was recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryMode {
    /// After a clean shutdown.
    Clean,
    /// After a crash (abort file present, or no valid checkpoint).
    Crash,
}

/// What recovery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Clean or crash.
    pub mode: RecoveryMode,
    /// Commit-log offset the replay started at.
    pub scanned_from: u64,
    /// Recovered end of the commit log.
    pub end: u64,
    /// Records replayed (checked and dispatched).
    pub records_replayed: u64,
    /// Why the log was cut, when it ended on something other than zeroes.
    pub cut_reason: Option<String>,
    /// Consume queues that lost entries pointing past the end.
    pub queues_trimmed: usize,
    /// Whether a queue gap forced a replay from the first file.
    pub full_replay: bool,
    /// Store timestamp of the last record.
    pub last_store_timestamp: i64,
    /// Wall time spent.
    pub duration: Duration,
}

/// The result of one replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayOutcome {
    /// Offset after the last complete, valid record (or filler).
    pub end: u64,
    /// Why it stopped before `to`, unless it stopped at an incomplete record.
    pub stopped: Option<String>,
    /// Records dispatched.
    pub records: u64,
    /// Some queue lacked entries below a replayed record's queue offset.
    pub gap: bool,
    /// Store timestamp of the last record.
    pub last_store_timestamp: i64,
    /// The queues that got entries.
    pub arrivals: Arrivals,
}

/// The queues a replay gave new entries (a slave wakes the pulls held on them). Past
/// [`Arrivals::MAX_QUEUES`] distinct queues it only records that there were many.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arrivals {
    /// Distinct (topic, queue id) pairs, in order of first arrival; empty when `many`.
    pub queues: Vec<(String, i32)>,
    /// More queues than are listed: treat every queue as woken.
    pub many: bool,
}

impl Arrivals {
    /// Most queues listed one by one.
    pub const MAX_QUEUES: usize = 64;

    fn note(&mut self, topic: &str, queue_id: i32) {
        if self.many || self.queues.iter().any(|(t, q)| *q == queue_id && t == topic) {
            return;
        }
        if self.queues.len() == Self::MAX_QUEUES {
            self.many = true;
            self.queues = Vec::new();
            return;
        }
        self.queues.push((topic.to_string(), queue_id));
    }

    /// Whether no queue got anything.
    pub fn is_empty(&self) -> bool {
        !self.many && self.queues.is_empty()
    }
}

/// Checks and dispatches the records in `[from, to)`; `fill_gaps` writes placeholders for
/// missing queue entries instead of reporting a gap.
pub fn replay(
    cl: &CommitLog,
    queues: &QueueTable,
    from: u64,
    to: u64,
    fill_gaps: bool,
) -> Result<ReplayOutcome> {
    let mut out = ReplayOutcome {
        end: from,
        ..Default::default()
    };
    let mut at = from;
    while at < to {
        let Some(file) = cl.files().find(at) else { break };
        let avail_end = file.end().min(to);
        let at_file_end = avail_end == file.end();
        let pos = (at - file.start()) as usize;
        let Some(parsed) = file.with_slice(pos, (avail_end - at) as usize, |b| {
            dispatch::parse(b, at, at_file_end)
        }) else {
            break;
        };
        match parsed {
            Parsed::Message(d) => {
                out.gap |= dispatch_one(queues, &d, fill_gaps)?;
                out.arrivals.note(&d.topic, d.queue_id);
                at += d.entry.size as u64;
                out.records += 1;
                out.last_store_timestamp = d.store_timestamp;
            }
            Parsed::Blank => at = file.end(),
            Parsed::Incomplete => break,
            Parsed::End(reason) => {
                out.stopped = Some(reason);
                break;
            }
        }
        out.end = at;
    }
    Ok(out)
}

/// Makes the record's queue hold its entry; returns true for a gap left unfilled.
fn dispatch_one(queues: &QueueTable, d: &DispatchEntry, fill_gaps: bool) -> Result<bool> {
    let cq = queues.get_or_create(&d.topic, d.queue_id)?;
    let max = cq.max_offset();
    if d.queue_offset < max {
        if d.queue_offset < cq.min_offset() || cq.entry(d.queue_offset) == Some(d.entry) {
            return Ok(false);
        }
        cq.truncate(d.queue_offset)?;
    } else if d.queue_offset > max && !fill_gaps {
        return Ok(true);
    }
    cq.put(d.queue_offset, d.entry)?;
    Ok(false)
}

/// Recovers the commit log's end and makes the consume queues agree with it.
pub fn recover(
    cl: &CommitLog,
    queues: &QueueTable,
    ckpt: Option<Checkpoint>,
    clean: bool,
) -> Result<RecoveryReport> {
    let t0 = Instant::now();
    let mode = if clean {
        RecoveryMode::Clean
    } else {
        RecoveryMode::Crash
    };
    let (Some(first), Some(last)) = (cl.files().first(), cl.files().last()) else {
        // No commit log: no queue may point anywhere.
        let mut trimmed = 0;
        for cq in queues.all() {
            if cq.max_offset() > 0 {
                cq.truncate(0)?;
                trimmed += 1;
            }
        }
        return Ok(RecoveryReport {
            mode,
            scanned_from: 0,
            end: 0,
            records_replayed: 0,
            cut_reason: None,
            queues_trimmed: trimmed,
            full_replay: false,
            last_store_timestamp: ckpt.map_or(0, |c| c.physic_timestamp),
            duration: t0.elapsed(),
        });
    };
    let min = first.start();
    let start = match ckpt {
        Some(c) if clean && c.flushed_offset <= last.end() => c.flushed_offset.min(c.logics_offset).max(min),
        Some(c) => c.flushed_offset.min(c.logics_offset).min(last.start()).max(min),
        None => min,
    };
    let mut outcome = replay(cl, queues, start, u64::MAX, false)?;
    let full_replay = outcome.gap;
    if outcome.gap {
        tracing::warn!(
            "consume queues miss entries from before the replay start; replaying the whole commit log"
        );
        let second = replay(cl, queues, min, outcome.end, true)?;
        outcome.records += second.records;
    }
    let end = outcome.end;
    let ends_in_zeroes = cl
        .files()
        .find(end)
        .and_then(|f| f.with_slice((end - f.start()) as usize, 8, |b| b == [0u8; 8]))
        .unwrap_or(true);
    let cut_reason = outcome.stopped.filter(|_| !ends_in_zeroes);
    if let Some(reason) = &cut_reason {
        tracing::warn!(offset = end, reason = %reason, "commit log cut at a torn or corrupt record");
    }

    // Cut: nothing after `end` may survive to be misread by a later recovery.
    cl.files().remove_from(cl.file_start(end) + cl.file_size())?;
    if !clean || cut_reason.is_some() {
        if let Some(f) = cl.files().find(end) {
            f.zero_from((end - f.start()) as usize)?;
            f.sync()?;
        }
    }

    let mut trimmed = 0;
    let log_min = cl.files().min_offset();
    let all = queues.all();
    let mut progress = Progress::new("checking consume queues against the commit log", all.len());
    for (done, cq) in all.iter().enumerate() {
        if cq.trim_past(end)? {
            trimmed += 1;
        }
        cq.correct_min(log_min);
        progress.tick(done + 1);
    }
    let last_store_timestamp = outcome
        .last_store_timestamp
        .max(ckpt.map_or(0, |c| c.physic_timestamp));
    let report = RecoveryReport {
        mode,
        scanned_from: start,
        end,
        records_replayed: outcome.records,
        cut_reason,
        queues_trimmed: trimmed,
        full_replay,
        last_store_timestamp,
        duration: t0.elapsed(),
    };
    tracing::info!(?report, "message store recovered");
    Ok(report)
}

#[cfg(test)]
mod arrival_tests {
    use super::Arrivals;

    #[test]
    fn arrivals_are_distinct_and_bounded() {
        let mut a = Arrivals::default();
        assert!(a.is_empty());
        a.note("T", 0);
        a.note("T", 1);
        a.note("T", 0);
        a.note("U", 0);
        assert_eq!(
            a.queues,
            vec![("T".to_string(), 0), ("T".to_string(), 1), ("U".to_string(), 0)]
        );
        for q in 0..100 {
            a.note("V", q);
        }
        assert!(a.many && a.queues.is_empty() && !a.is_empty());
    }
}
