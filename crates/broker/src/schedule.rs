//! Delayed delivery: a message with `DELAY=<level>` is parked in `SCHEDULE_TOPIC_XXXX`, queue
//! `level − 1`, with its real topic and queue in `REAL_TOPIC` / `REAL_QID`; one task per level
//! moves it to its real queue once `storeTimestamp + delay(level)` has passed. Retries use the
//! same path (CONSUMER_SEND_MSG_BACK sets a delay level).
//!
//! Every message of one level has the same delay, so each level's queue is in due order and its
//! task only ever waits for the head: it sleeps until the head is due, or, when the queue is
//! empty, until a send parks a message at that level (`BrokerState::schedule_wake`). Progress is
//! kept in [`crate::offsets::DelayOffsets`] (`delayOffset.json`); a crash between delivery and
//! persistence delivers a message again (at least once, as in Apache RocketMQ).

use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::message::properties::{self, keys};
use rmq_remoting::message::MessageRecord;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::msg::rewrite_properties;
use crate::state::{now_ms, BrokerState};
use crate::store::{AppendResult, GetStatus, StoreError};
use crate::topics::SCHEDULE_TOPIC;

/// Messages read per step.
const BATCH: usize = 32;
/// Wait before retrying after a store error.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// Rewrites `record` to wait at `level` in the schedule topic (level clamped to the table).
pub fn park(state: &BrokerState, record: &mut MessageRecord, level: i32) {
    let level = level.clamp(1, state.max_delay_level());
    let qid = record.queue_id.to_string();
    let lvl = level.to_string();
    record.properties = rewrite_properties(
        &record.properties,
        &[],
        &[
            (keys::DELAY, &lvl),
            (keys::REAL_TOPIC, &record.topic),
            (keys::REAL_QID, &qid),
        ],
    );
    record.topic = SCHEDULE_TOPIC.to_string();
    record.queue_id = level - 1;
}

/// Appends a record and wakes whoever waits for it: the level's task for a parked message, the
/// held pulls of its queue otherwise.
pub fn append_and_wake(state: &BrokerState, record: &MessageRecord) -> Result<AppendResult, StoreError> {
    let r = state.store.append(record)?;
    state.notify_appended();
    if record.topic == SCHEDULE_TOPIC {
        if let Some(n) = state.schedule_wake.get(record.queue_id as usize) {
            n.notify_one();
        }
    } else {
        state.held.wake(&record.topic, record.queue_id);
    }
    state.stats.add_put(1);
    Ok(r)
}

/// The message restored to its real topic and queue, or `None` if its properties are broken.
fn restore(state: &BrokerState, parked: MessageRecord) -> Option<MessageRecord> {
    let topic = properties::find(&parked.properties, keys::REAL_TOPIC)?.to_string();
    let queue_id = properties::find(&parked.properties, keys::REAL_QID)?
        .parse::<i32>()
        .ok()?;
    let props = rewrite_properties(&parked.properties, &[keys::DELAY], &[]);
    Some(MessageRecord {
        topic,
        queue_id,
        properties: props,
        store_host: state.store_host,
        queue_offset: 0,
        physical_offset: 0,
        ..parked
    })
}

/// Runs the delivery of one level until `cancel`.
pub async fn run_level(state: Arc<BrokerState>, level: i32, cancel: CancellationToken) {
    let queue_id = level - 1;
    let delay = state.delay_of(level) as i64;
    let Some(wake) = state.schedule_wake.get(queue_id as usize) else {
        return;
    };
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let offset = state.delay_offsets.get(level).max(0) as u64;
        let r = state
            .store
            .get_messages(SCHEDULE_TOPIC, queue_id, offset, BATCH, &|_| true);
        let wait = match r.status {
            GetStatus::Found => deliver_due(&state, level, delay, r.messages),
            GetStatus::OffsetTooSmall | GetStatus::OffsetOverflowBadly | GetStatus::NoMatchedMessage => {
                state.delay_offsets.set(level, r.next_begin_offset as i64);
                continue;
            }
            _ => None,
        };
        match wait {
            Some(d) if d.is_zero() => continue,
            Some(d) => {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(d) => {}
                }
            }
            None => {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = wake.notified() => {}
                    // A safety net only: parking a message always notifies.
                    _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                }
            }
        }
    }
}

/// Delivers the due messages at the head of `messages`; returns how long to wait before the
/// next one is due, or zero when the whole batch was delivered (read on).
fn deliver_due(state: &BrokerState, level: i32, delay: i64, messages: Vec<bytes::Bytes>) -> Option<Duration> {
    for bytes in messages {
        let parked = match MessageRecord::decode_bytes(&bytes, false) {
            Ok((r, _)) => r,
            Err(e) => {
                warn!(level, error = %e, "skipping an undecodable delayed message");
                state.delay_offsets.set(level, state.delay_offsets.get(level) + 1);
                continue;
            }
        };
        let due = parked.store_timestamp + delay;
        let now = now_ms();
        if now < due {
            return Some(Duration::from_millis((due - now) as u64));
        }
        let next = parked.queue_offset + 1;
        match restore(state, parked) {
            Some(real) => match append_and_wake(state, &real) {
                Ok(_) => debug!(level, topic = %real.topic, "delivered a delayed message"),
                Err(e) => {
                    warn!(level, error = %e, "cannot deliver a delayed message; will retry");
                    return Some(ERROR_BACKOFF);
                }
            },
            None => warn!(level, "skipping a delayed message without REAL_TOPIC/REAL_QID"),
        }
        state.delay_offsets.set(level, next);
    }
    Some(Duration::ZERO)
}
