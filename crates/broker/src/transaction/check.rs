//! The check-back service (features.md §1.6–1.7): every `transactionCheckInterval` (master only)
//! one round walks the half queue from the `CID_RMQ_SYS_TRANS` offset and asks the producer
//! group about each half message left open past its immunity time.
//!
//! Per half message, in Apache's order ([`judge`], pure):
//! 1. settled by an op marker ⇒ skip;
//! 2. checked `transactionCheckMax` times already, or born before `fileReservedTime` ⇒ discard
//!    (copied to `TRANS_CHECK_MAX_TIME_TOPIC`);
//! 3. stored after the round began (a copy made by this round) ⇒ the round ends;
//! 4. with `CHECK_IMMUNITY_TIME_IN_SECONDS` and still immune ⇒ settled if the marker of its
//!    `TRAN_PREPARED_QUEUE_OFFSET` exists, else re-parked as a copy carrying that offset;
//!    without it, younger than `transactionTimeOut` ⇒ the round ends (later ones are younger);
//! 5. otherwise ⇒ a copy with `TRANSACTION_CHECK_TIMES` + 1 is appended to the half queue and
//!    CHECK_TRANSACTION_STATE about the copy goes to one producer channel of its `PGROUP`.
//!
//! Differs from Apache on purpose: when no producer of the group has a live channel (it is
//! restarting, or has not sent its first 30 s heartbeat to a restarted broker), the copy keeps
//! its `TRANSACTION_CHECK_TIMES`. Apache counts the round anyway, so a producer away for longer
//! than `transactionCheckMax` rounds has its open transactions discarded unasked.
//!
//! The round then commits the half offset (first message not dealt with) and the op offset
//! (past the markers of offsets below it) under `CID_RMQ_SYS_TRANS`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_remoting::headers::transaction::CheckTransactionStateRequestHeader;
use rmq_remoting::message::properties::keys;
use rmq_remoting::message::MessageRecord;
use rmq_remoting::{RemotingCommand, RequestCode};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::op::{read_ops, SettledOps};
use super::{CHECK_MAX_TIME_TOPIC, HALF_TOPIC, OP_TOPIC, SYS_TRANS_GROUP};
use crate::msg::rewrite_properties;
use crate::state::{now_ms, BrokerState};
use crate::store::{GetStatus, StoreError};
use crate::topics::perm;

/// Longest a round spends on the half queue (Apache: 60 s per queue).
const ROUND_BUDGET: Duration = Duration::from_secs(60);

/// What a round does with one half message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Settled (via its `TRAN_PREPARED_QUEUE_OFFSET`): move on.
    Settled,
    /// Checked too often or too old: copy to `TRANS_CHECK_MAX_TIME_TOPIC`, move on.
    Discard,
    /// Too young, or made by this round: the round ends here.
    Stop,
    /// Immune for now: re-park a copy carrying `TRAN_PREPARED_QUEUE_OFFSET`, move on.
    Repark,
    /// Ask the producer.
    Check,
}

/// The facts [`judge`] needs about one half message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HalfFacts {
    /// Born timestamp (producer clock), ms.
    pub born_ms: i64,
    /// Store timestamp, ms.
    pub store_ms: i64,
    /// `TRANSACTION_CHECK_TIMES` (0 when absent).
    pub check_times: i32,
    /// `CHECK_IMMUNITY_TIME_IN_SECONDS`, if set.
    pub immunity_secs: Option<i64>,
    /// `TRAN_PREPARED_QUEUE_OFFSET`, if set.
    pub prepared_offset: Option<i64>,
}

impl HalfFacts {
    /// Reads the facts of a stored half record.
    pub fn of(r: &MessageRecord) -> HalfFacts {
        let num = |k| r.property(k).and_then(|v| v.trim().parse::<i64>().ok());
        HalfFacts {
            born_ms: r.born_timestamp,
            store_ms: r.store_timestamp,
            check_times: num(keys::TRANSACTION_CHECK_TIMES).unwrap_or(0) as i32,
            immunity_secs: num(keys::CHECK_IMMUNITY_TIME_IN_SECONDS),
            prepared_offset: num(keys::TRAN_PREPARED_QUEUE_OFFSET),
        }
    }
}

/// The broker keys a round obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `transactionTimeOut`, ms.
    pub timeout_ms: i64,
    /// `transactionCheckMax`.
    pub check_max: i32,
    /// `fileReservedTime`, ms.
    pub reserved_ms: i64,
}

impl Limits {
    /// The limits of `state`'s config.
    pub fn of(state: &BrokerState) -> Limits {
        let c = &state.config;
        Limits {
            timeout_ms: c.transaction_timeout.as_millis() as i64,
            check_max: c.transaction_check_max,
            reserved_ms: c.file_reserved_time_hours as i64 * 3_600_000,
        }
    }
}

/// Decides what a round started at `round_start` does now with a half message not settled by
/// an op marker of its own offset.
pub fn judge(h: &HalfFacts, now: i64, round_start: i64, limits: &Limits, ops: &SettledOps) -> Verdict {
    if h.check_times >= limits.check_max || now - h.born_ms > limits.reserved_ms {
        return Verdict::Discard;
    }
    if h.store_ms >= round_start {
        return Verdict::Stop;
    }
    let age = now - h.born_ms;
    let immunity = match h.immunity_secs {
        Some(-1) | None => limits.timeout_ms,
        Some(s) => s.saturating_mul(1000),
    };
    if h.immunity_secs.is_some() && (0..immunity).contains(&age) {
        return match h.prepared_offset {
            Some(p) if p >= 0 && ops.is_settled(p as u64) => Verdict::Settled,
            _ => Verdict::Repark,
        };
    }
    if age < 0 || age > immunity {
        Verdict::Check
    } else {
        Verdict::Stop
    }
}

/// Runs a round every `transactionCheckInterval` until `cancel` (the first one period after
/// start, as Apache's first round comes one period after becoming master).
pub async fn run(state: Arc<BrokerState>, cancel: CancellationToken) {
    let period = state.config.transaction_check_interval;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        let s = state.clone();
        match tokio::task::spawn_blocking(move || round(&s, now_ms())).await {
            Ok(report) => {
                if report.created_topic {
                    crate::tables::persist_topics(&state).await;
                    state.request_register();
                }
                if report.checked + report.discarded + report.reparked > 0 {
                    info!(
                        checked = report.checked,
                        discarded = report.discarded,
                        reparked = report.reparked,
                        half_offset = report.half_offset,
                        "transaction check round"
                    );
                }
            }
            Err(e) => warn!(error = %e, "transaction check round failed"),
        }
    }
}

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoundReport {
    /// CHECK_TRANSACTION_STATE requests sent.
    pub checked: u32,
    /// Half messages given up on.
    pub discarded: u32,
    /// Half messages re-parked without a check (immune, or no producer online).
    pub reparked: u32,
    /// Half offset committed.
    pub half_offset: u64,
    /// Whether `TRANS_CHECK_MAX_TIME_TOPIC` was created (the table must be written).
    pub created_topic: bool,
}

/// One check round over half queue 0 (blocking: reads and appends).
pub fn round(state: &BrokerState, round_start: i64) -> RoundReport {
    let store = &state.store;
    let mut report = RoundReport::default();
    let end = store.max_offset(HALF_TOPIC, 0);
    if end == 0 {
        return report;
    }
    let ops = read_ops(state);
    let limits = Limits::of(state);
    let min = store.min_offset(HALF_TOPIC, 0);
    let mut i = state
        .offsets
        .query(SYS_TRANS_GROUP, HALF_TOPIC, 0)
        .map_or(min, |o| (o.max(0) as u64).max(min));
    let budget = Instant::now() + ROUND_BUDGET;
    'walk: while i < end && Instant::now() < budget {
        if ops.is_settled(i) {
            i += 1;
            continue;
        }
        let r = store.get_messages(HALF_TOPIC, 0, i, 32, &|_| true);
        match r.status {
            GetStatus::Found => {}
            GetStatus::OffsetTooSmall | GetStatus::OffsetFoundNull | GetStatus::MessageWasRemoving
                if r.next_begin_offset > i =>
            {
                i = r.next_begin_offset;
                continue;
            }
            _ => break,
        }
        for bytes in &r.messages {
            let half = match MessageRecord::decode_bytes(bytes, false) {
                Ok((h, _)) => h,
                Err(e) => {
                    warn!(offset = i, error = %e, "skipping an undecodable half message");
                    i += 1;
                    continue;
                }
            };
            i = half.queue_offset.max(0) as u64;
            if ops.is_settled(i) {
                i += 1;
                continue;
            }
            let outcome = match judge(&HalfFacts::of(&half), now_ms(), round_start, &limits, &ops) {
                Verdict::Settled => Ok(()),
                Verdict::Stop => break 'walk,
                Verdict::Discard => discard(state, &half, &mut report),
                Verdict::Repark => repark_immune(state, &half, &mut report),
                Verdict::Check => check(state, &half, &mut report),
            };
            if let Err(e) = outcome {
                warn!(offset = i, error = %e, "transaction check stopped by a store error; next round retries");
                break 'walk;
            }
            i += 1;
        }
    }
    state.offsets.commit(SYS_TRANS_GROUP, HALF_TOPIC, 0, i as i64);
    state
        .offsets
        .commit(SYS_TRANS_GROUP, OP_TOPIC, 0, ops.processed_up_to(i) as i64);
    report.half_offset = i;
    report
}

/// A copy of `half` for another topic or a later check, with `properties`.
fn copy_of(state: &BrokerState, half: &MessageRecord, topic: &str, properties: String) -> MessageRecord {
    MessageRecord {
        topic: topic.to_string(),
        queue_id: 0,
        properties,
        store_host: state.store_host,
        queue_offset: 0,
        physical_offset: 0,
        ..half.clone()
    }
}

fn discard(state: &BrokerState, half: &MessageRecord, report: &mut RoundReport) -> Result<(), StoreError> {
    let (_, created) =
        state
            .topics
            .get_or_create(CHECK_MAX_TIME_TOPIC, 1, perm::READ | perm::WRITE, now_ms());
    report.created_topic |= created;
    let copy = copy_of(state, half, CHECK_MAX_TIME_TOPIC, half.properties.clone());
    state.store.append(&copy)?;
    state.notify_appended();
    report.discarded += 1;
    warn!(
        uniq_key = half.property(keys::UNIQ_KEY).unwrap_or(""),
        group = half.property(keys::PGROUP).unwrap_or(""),
        half_offset = half.queue_offset,
        "half message given up after transactionCheckMax checks (or older than fileReservedTime); moved to TRANS_CHECK_MAX_TIME_TOPIC"
    );
    Ok(())
}

fn repark_immune(
    state: &BrokerState,
    half: &MessageRecord,
    report: &mut RoundReport,
) -> Result<(), StoreError> {
    let prepared = half
        .property(keys::TRAN_PREPARED_QUEUE_OFFSET)
        .map_or_else(|| half.queue_offset.to_string(), str::to_string);
    let props = rewrite_properties(
        &half.properties,
        &[],
        &[(keys::TRAN_PREPARED_QUEUE_OFFSET, &prepared)],
    );
    state.store.append(&copy_of(state, half, HALF_TOPIC, props))?;
    state.notify_appended();
    report.reparked += 1;
    Ok(())
}

fn check(state: &BrokerState, half: &MessageRecord, report: &mut RoundReport) -> Result<(), StoreError> {
    let group = half.property(keys::PGROUP).unwrap_or("");
    let channel = producer_channel(state, group);
    // Only a check that reaches a producer counts against transactionCheckMax (see the module
    // doc); without one the copy keeps the count and the next round asks again.
    let props = match channel {
        Some(_) => {
            let times = HalfFacts::of(half).check_times.saturating_add(1).to_string();
            rewrite_properties(&half.properties, &[], &[(keys::TRANSACTION_CHECK_TIMES, &times)])
        }
        None => half.properties.clone(),
    };
    let mut copy = copy_of(state, half, HALF_TOPIC, props);
    let r = state.store.append(&copy)?;
    state.notify_appended();
    let Some(conn) = channel else {
        debug!(
            group,
            "no producer of the group is online; the half message is checked next round"
        );
        report.reparked += 1;
        return Ok(());
    };
    report.checked += 1;
    copy.queue_offset = r.queue_offset as i64;
    copy.physical_offset = r.physical_offset as i64;
    copy.store_timestamp = r.store_timestamp;
    send_check(state, &conn, copy);
    Ok(())
}

/// One live producer connection of `group`, round-robin among those that heart-beat.
fn producer_channel(state: &BrokerState, group: &str) -> Option<rmq_remoting::net::Connection> {
    let channels: Vec<_> = state
        .clients
        .producer_channels(group)
        .into_iter()
        .filter(|c| !c.conn.is_closed())
        .collect();
    if channels.is_empty() {
        return None;
    }
    Some(
        channels[state.transactions.next_pick() % channels.len()]
            .conn
            .clone(),
    )
}

/// Sends CHECK_TRANSACTION_STATE about the stored copy `copy` on `conn`.
fn send_check(state: &BrokerState, conn: &rmq_remoting::net::Connection, mut copy: MessageRecord) {
    let physical = copy.physical_offset as u64;
    let uniq = copy.property(keys::UNIQ_KEY).map(str::to_string);
    let header = CheckTransactionStateRequestHeader {
        tran_state_table_offset: copy.queue_offset,
        commit_log_offset: copy.physical_offset,
        msg_id: uniq.clone(),
        transaction_id: uniq,
        offset_msg_id: Some(state.offset_msg_id(physical)),
        bname: None,
    };
    if let (Some(topic), Some(qid)) = (
        copy.property(keys::REAL_TOPIC).map(str::to_string),
        copy.property(keys::REAL_QID).and_then(|q| q.parse().ok()),
    ) {
        copy.topic = topic;
        copy.queue_id = qid;
    }
    let body = match copy.to_bytes() {
        Ok(b) => b,
        Err(e) => {
            warn!(error = %e, "cannot encode a half message for its check");
            return;
        }
    };
    let request =
        RemotingCommand::request_with(RequestCode::CHECK_TRANSACTION_STATE, &header).with_body(body);
    if !conn.send_oneway(request) {
        debug!(peer = %conn.peer(), "could not send a transaction check");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        timeout_ms: 6_000,
        check_max: 15,
        reserved_ms: 72 * 3_600_000,
    };
    const NOW: i64 = 1_000_000_000;

    fn facts(age_ms: i64) -> HalfFacts {
        HalfFacts {
            born_ms: NOW - age_ms,
            store_ms: NOW - age_ms,
            check_times: 0,
            immunity_secs: None,
            prepared_offset: None,
        }
    }

    fn judge_now(h: HalfFacts, ops: &SettledOps) -> Verdict {
        judge(&h, NOW, NOW, &LIMITS, ops)
    }

    #[test]
    fn young_messages_end_the_round_and_old_ones_are_checked() {
        let ops = SettledOps::default();
        assert_eq!(judge_now(facts(1_000), &ops), Verdict::Stop);
        assert_eq!(judge_now(facts(6_001), &ops), Verdict::Check);
        let skewed = HalfFacts {
            born_ms: NOW + 5_000,
            ..facts(10_000)
        };
        assert_eq!(
            judge_now(skewed, &ops),
            Verdict::Check,
            "a producer clock ahead is checked"
        );
    }

    #[test]
    fn checks_stop_at_the_maximum_and_very_old_messages_are_discarded() {
        let ops = SettledOps::default();
        let h = HalfFacts {
            check_times: 14,
            ..facts(10_000)
        };
        assert_eq!(judge_now(h, &ops), Verdict::Check);
        let h = HalfFacts {
            check_times: 15,
            ..facts(10_000)
        };
        assert_eq!(judge_now(h, &ops), Verdict::Discard);
        assert_eq!(judge_now(facts(73 * 3_600_000), &ops), Verdict::Discard);
    }

    #[test]
    fn copies_made_by_this_round_end_it() {
        let h = HalfFacts {
            store_ms: NOW + 1,
            ..facts(10_000)
        };
        assert_eq!(
            judge(&h, NOW + 5, NOW, &LIMITS, &SettledOps::default()),
            Verdict::Stop
        );
    }

    #[test]
    fn immunity_time_replaces_the_timeout() {
        let mut ops = SettledOps::default();
        let immune = HalfFacts {
            immunity_secs: Some(60),
            ..facts(10_000)
        };
        assert_eq!(judge_now(immune, &ops), Verdict::Repark);
        let copy = HalfFacts {
            prepared_offset: Some(4),
            ..immune
        };
        assert_eq!(judge_now(copy, &ops), Verdict::Repark);
        ops.push(Some(4));
        assert_eq!(judge_now(copy, &ops), Verdict::Settled);
        let expired = HalfFacts {
            immunity_secs: Some(5),
            ..facts(10_000)
        };
        assert_eq!(judge_now(expired, &ops), Verdict::Check);
        let default = HalfFacts {
            immunity_secs: Some(-1),
            ..facts(3_000)
        };
        assert_eq!(
            judge_now(default, &ops),
            Verdict::Repark,
            "-1 means transactionTimeOut"
        );
    }
}
