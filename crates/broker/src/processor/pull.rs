//! PULL_MESSAGE (11) with long polling.
//!
//! A pull is checked in Apache's order (broker readable, group, topic, queue, subscription from
//! the request or from the group's heartbeat), read from the store, and its status mapped to the
//! response code (protocol.md §2.4). A pull that finds nothing (PULL_NOT_FOUND) and carries the
//! SUSPEND bit is held: it registers with [`crate::long_poll::HeldPulls`], re-reads once, and
//! then sleeps until a message is appended to its queue or its suspend time ends, when it is
//! answered by one more read. Every response carries the four header fields.
//!
//! A SQL92 subscription (with `enablePropertyFilter`) reads every entry's record and keeps
//! those whose properties its compiled selector holds TRUE for; skipped records count as scanned.

use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::body::MessageModel;
use rmq_remoting::headers::pull::PullMessageRequestHeader;
use rmq_remoting::message::record::properties_of;
use rmq_remoting::net::{Connection, HandlerError};
use rmq_remoting::{RemotingCommand, ResponseCode};

use super::FAQ_URL;
use crate::clients::{SubFilter, Subscription};
use crate::filter::{is_tag_type, Selector, EXPRESSION_TYPE_TAG};
use crate::state::{now_ms, BrokerState};
use crate::store::GetStatus;
use crate::topics::perm;

/// What one execution of a pull produced.
enum Outcome {
    /// Send this.
    Reply(RemotingCommand),
    /// Nothing yet; hold for this long (the reply to send if nothing comes is attached).
    Hold(Duration),
}

/// Handles PULL_MESSAGE; sets `long_polling` when the pull was held.
pub async fn handle(
    state: &Arc<BrokerState>,
    conn: &Connection,
    req: RemotingCommand,
    long_polling: &mut bool,
) -> Result<Option<RemotingCommand>, HandlerError> {
    let h: PullMessageRequestHeader = req.decode_header()?;
    let outcome = execute(state, conn, &req, &h, true);
    let hold_for = match outcome {
        Outcome::Reply(r) => return Ok(Some(r)),
        Outcome::Hold(d) => d,
    };
    let Some(hold) = state.held.hold(&h.topic, h.queue_id) else {
        return Ok(Some(req.reply(
            ResponseCode::SYSTEM_BUSY,
            Some("[PCBUSY_CLEAN_QUEUE]broker busy, too many held pulls; try again later".to_string()),
        )));
    };
    *long_polling = true;
    let deadline = tokio::time::Instant::now() + hold_for;
    loop {
        let notified = hold.notify().notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // Re-read after registering, so an append that raced the first read is not missed.
        if let Outcome::Reply(r) = execute(state, conn, &req, &h, false) {
            if r.code != ResponseCode::PULL_NOT_FOUND.code() {
                return Ok(Some(r));
            }
        }
        tokio::select! {
            _ = &mut notified => continue,
            _ = tokio::time::sleep_until(deadline) => break,
            _ = conn.closed() => return Ok(None),
            _ = state.shutdown.cancelled() => break,
        }
    }
    drop(hold);
    Ok(Some(match execute(state, conn, &req, &h, false) {
        Outcome::Reply(r) => r,
        Outcome::Hold(_) => unreachable_hold(state, &req, &h),
    }))
}

/// A pull without suspension never asks to hold; answer PULL_NOT_FOUND should it happen.
fn unreachable_hold(
    state: &BrokerState,
    req: &RemotingCommand,
    h: &PullMessageRequestHeader,
) -> RemotingCommand {
    let max = state.store.max_offset(&h.topic, h.queue_id) as i64;
    let min = state.store.min_offset(&h.topic, h.queue_id) as i64;
    pull_reply(
        req,
        ResponseCode::PULL_NOT_FOUND,
        "OFFSET_OVERFLOW_ONE",
        h.queue_offset,
        min,
        max,
    )
}

fn pull_reply(
    req: &RemotingCommand,
    code: ResponseCode,
    remark: &str,
    next: i64,
    min: i64,
    max: i64,
) -> RemotingCommand {
    req.reply(code, Some(remark.to_string()))
        .with_ext("suggestWhichBrokerId", 0)
        .with_ext("nextBeginOffset", next)
        .with_ext("minOffset", min)
        .with_ext("maxOffset", max)
}

/// Resolves the subscription the pull is filtered with, or the error reply.
fn subscription(
    state: &BrokerState,
    req: &RemotingCommand,
    h: &PullMessageRequestHeader,
) -> Result<Arc<Subscription>, Box<RemotingCommand>> {
    if h.has_subscription() {
        let expr = h.subscription.as_deref().unwrap_or("*");
        let kind = h.expression_type.as_deref().unwrap_or(EXPRESSION_TYPE_TAG);
        if !is_tag_type(Some(kind)) && !state.config.enable_property_filter {
            return Err(Box::new(filter_off(req, kind)));
        }
        let sub = Subscription::new(&h.topic, expr, h.sub_version, kind, &state.selectors);
        if let SubFilter::Invalid(why) = &sub.filter {
            tracing::warn!(group = %h.consumer_group, topic = %h.topic, expression = expr, error = %why,
                "pull subscription does not compile");
            return Err(Box::new(req.reply(
                ResponseCode::SUBSCRIPTION_PARSE_FAILED,
                Some(format!("parse the consumer's subscription failed: {why}")),
            )));
        }
        return Ok(Arc::new(sub));
    }
    let Some((message_model, topic_sub)) = state.clients.pull_view(&h.consumer_group, &h.topic) else {
        return Err(Box::new(req.reply(
            ResponseCode::SUBSCRIPTION_NOT_EXIST,
            Some(format!("the consumer's group info not exist {FAQ_URL}")),
        )));
    };
    if message_model == MessageModel::BROADCASTING
        && state
            .groups
            .get(&h.consumer_group)
            .is_some_and(|g| !g.consume_broadcast_enable)
    {
        return Err(Box::new(req.reply(
            ResponseCode::NO_PERMISSION,
            Some(format!(
                "the consumer group[{}] can not consume by broadcast way",
                h.consumer_group
            )),
        )));
    }
    let Some(sub) = topic_sub else {
        return Err(Box::new(req.reply(
            ResponseCode::SUBSCRIPTION_NOT_EXIST,
            Some(format!("the consumer's subscription not exist {FAQ_URL}")),
        )));
    };
    if sub.sub_version < h.sub_version {
        return Err(Box::new(req.reply(
            ResponseCode::SUBSCRIPTION_NOT_LATEST,
            Some("the consumer's subscription not latest".to_string()),
        )));
    }
    // The heartbeat's compiled selector is Apache's "consumer filter data": one that did not
    // compile was never registered.
    match &sub.filter {
        SubFilter::Invalid(why) => Err(Box::new(req.reply(
            ResponseCode::FILTER_DATA_NOT_EXIST,
            Some(format!(
                "The broker's consumer filter data is not exist!Your expression may be wrong! ({why})"
            )),
        ))),
        SubFilter::Sql(_) if !state.config.enable_property_filter => {
            Err(Box::new(filter_off(req, &sub.expression_type)))
        }
        SubFilter::Sql(_) | SubFilter::Tag(_) => Ok(sub),
    }
}

/// The answer to a property-filter subscription while `enablePropertyFilter` is off.
fn filter_off(req: &RemotingCommand, kind: &str) -> RemotingCommand {
    req.reply(
        ResponseCode::SYSTEM_ERROR,
        Some(format!(
            "The broker does not support consumer to filter message by {kind}"
        )),
    )
}

/// Whether a stored record passes a SQL92 selector (a record whose properties cannot be
/// located does not).
fn record_matches(selector: &Selector, record: &[u8]) -> bool {
    match properties_of(record) {
        None => false,
        Some(raw) => match std::str::from_utf8(raw) {
            Ok(props) => selector.matches(props),
            Err(_) => selector.matches(&String::from_utf8_lossy(raw)),
        },
    }
}

fn execute(
    state: &BrokerState,
    conn: &Connection,
    req: &RemotingCommand,
    h: &PullMessageRequestHeader,
    allow_suspend: bool,
) -> Outcome {
    let fail = |code, remark: String| Outcome::Reply(req.reply(code, Some(remark)));
    if !perm::readable(state.permission()) {
        return fail(
            ResponseCode::NO_PERMISSION,
            format!(
                "the broker[{}] pulling message is forbidden",
                state.config.broker_ip1
            ),
        );
    }
    let Some(group) = state.groups.find_or_create(&h.consumer_group, now_ms()) else {
        return fail(
            ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!(
                "subscription group [{}] does not exist, {FAQ_URL}",
                h.consumer_group
            ),
        );
    };
    if !group.consume_enable {
        return fail(
            ResponseCode::NO_PERMISSION,
            format!("subscription group no permission, {}", h.consumer_group),
        );
    }
    let Some(topic) = state.topics.get(&h.topic) else {
        return fail(
            ResponseCode::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist, apply first please! {FAQ_URL}", h.topic),
        );
    };
    if !perm::readable(topic.perm) {
        return fail(
            ResponseCode::NO_PERMISSION,
            format!("the topic[{}] pulling message is forbidden", h.topic),
        );
    }
    if h.queue_id < 0 || h.queue_id >= topic.read_queue_nums {
        return fail(
            ResponseCode::SYSTEM_ERROR,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}] consumer:[{}]",
                h.queue_id,
                h.topic,
                topic.read_queue_nums,
                conn.peer()
            ),
        );
    }
    let sub = match subscription(state, req, h) {
        Ok(s) => s,
        Err(r) => return Outcome::Reply(*r),
    };
    // A slave serves what it holds whatever `slaveReadEnable` says (Apache 4.9.7's status switch
    // overwrites the slave branch's PULL_RETRY_IMMEDIATELY); the key only steers
    // `suggestWhichBrokerId`. This is what lets consumers drain a slave whose master died.
    let reply = read(state, req, h, &sub.filter);
    if allow_suspend && h.has_commit_offset() && !state.is_slave() {
        state
            .offsets
            .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
    }
    if allow_suspend && h.has_suspend() && reply.code == ResponseCode::PULL_NOT_FOUND.code() {
        let hold = if state.config.long_polling_enable {
            Duration::from_millis(h.suspend_timeout_millis.max(0) as u64)
        } else {
            state.config.short_polling_time
        };
        if !hold.is_zero() {
            return Outcome::Hold(hold);
        }
    }
    Outcome::Reply(reply)
}

/// Reads from the store and maps the status (protocol.md §2.4 table).
fn read(
    state: &BrokerState,
    req: &RemotingCommand,
    h: &PullMessageRequestHeader,
    filter: &SubFilter,
) -> RemotingCommand {
    let offset = h.queue_offset.max(0) as u64;
    let max_msgs = h.max_msg_nums.clamp(1, 1024) as usize;
    let (topic, queue) = (&h.topic, h.queue_id);
    let r = match filter {
        SubFilter::Sql(sel) => {
            state
                .store
                .get_messages_filtered(topic, queue, offset, max_msgs, &|_| true, &|rec| {
                    record_matches(sel, rec)
                })
        }
        other => state
            .store
            .get_messages(topic, queue, offset, max_msgs, &|code| other.matches_code(code)),
    };
    let (min, max) = (r.min_offset as i64, r.max_offset as i64);
    let next = r.next_begin_offset as i64;
    let slave = state.is_slave();
    let (code, next) = match r.status {
        GetStatus::Found => (ResponseCode::SUCCESS, next),
        GetStatus::NoMatchedMessage | GetStatus::MessageWasRemoving => {
            (ResponseCode::PULL_RETRY_IMMEDIATELY, next)
        }
        GetStatus::NoMessageInQueue | GetStatus::NoMatchedLogicQueue => {
            if h.queue_offset != 0 {
                (ResponseCode::PULL_OFFSET_MOVED, next)
            } else {
                (ResponseCode::PULL_NOT_FOUND, next)
            }
        }
        GetStatus::OffsetTooSmall | GetStatus::OffsetOverflowBadly => (ResponseCode::PULL_OFFSET_MOVED, next),
        GetStatus::OffsetOverflowOne | GetStatus::OffsetFoundNull => (ResponseCode::PULL_NOT_FOUND, next),
    };
    // A slave does not correct offsets: its data may simply be behind the master's.
    let (code, next) = if slave && code == ResponseCode::PULL_OFFSET_MOVED {
        (ResponseCode::PULL_RETRY_IMMEDIATELY, h.queue_offset)
    } else {
        (code, next)
    };
    let mut reply = pull_reply(req, code, r.status.name(), next, min, max);
    // HA (slaveReadEnable): which broker the consumer should pull from next.
    let suggest = crate::ha::replication::suggest_broker_id(state, &h.consumer_group, &r);
    reply = reply.with_ext("suggestWhichBrokerId", suggest);
    if code == ResponseCode::SUCCESS {
        state.stats.add_get(r.messages.len() as u64);
        if state.metrics.enabled() {
            state
                .metrics
                .record_out(topic, &h.consumer_group, r.messages.len() as u64, r.bytes_total);
        }
        // The records were gathered back to back by the store: no copy here.
        reply.body = r.body;
    }
    reply
}
