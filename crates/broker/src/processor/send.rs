//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320).
//!
//! Flow: checks in Apache's order (role, broker permission, topic name, forbidden topics, topic
//! lookup or auto-creation from the template, queue id, sizes), then one synchronous store
//! append (two memcpys under the store's put lock), a wake-up of the pulls held on that queue,
//! and, when the message asks to wait (`WAIT` not `false`), the sync-flush and sync-replication
//! waits, which hold no lock. Every reply carries `MSG_REGION` and `TRACE_ON`. A half message
//! (`TRAN_MSG=true` or the prepared sysFlag bit) is stored in the half topic instead
//! ([`crate::transaction::park`]); its reply names the real queue and the half-queue offset.

use std::sync::Arc;

use bytes::Bytes;
use rmq_remoting::headers::send::{decode_send_request_header, SendMessageRequestHeader};
use rmq_remoting::message::properties::{self, keys};
use rmq_remoting::message::record::MAX_PROPERTIES_LEN;
use rmq_remoting::message::{batch, sys_flag, MessageRecord};
use rmq_remoting::net::{Connection, HandlerError};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use super::FAQ_URL;
use crate::metrics::MessageType;
use crate::msg::rewrite_properties;
use crate::schedule;
use crate::state::{now_ms, BrokerState, ReplicaOutcome};
use crate::store::{FlushDiskType, StoreError};
use crate::tables::persist_topics;
use crate::topics::{self, perm, TopicInfo, DLQ_PREFIX, RETRY_PREFIX, SCHEDULE_TOPIC};
use crate::transaction;

/// Topics producers may never send to directly.
const NOT_ALLOWED_SEND: &[&str] = &[
    SCHEDULE_TOPIC,
    transaction::HALF_TOPIC,
    transaction::OP_TOPIC,
    transaction::CHECK_MAX_TIME_TOPIC,
];

fn reply(
    state: &BrokerState,
    req: &RemotingCommand,
    code: ResponseCode,
    remark: Option<String>,
) -> RemotingCommand {
    let mut reply = req.reply(code, remark);
    // Room for the five fields of a send reply without growing the map.
    reply.ext_fields.reserve(8);
    reply
        .with_ext(keys::MSG_REGION, &state.config.region_id)
        .with_ext(
            keys::TRACE_ON,
            if state.config.trace_on { "true" } else { "false" },
        )
}

/// Handles the three send codes.
pub async fn handle(
    state: &Arc<BrokerState>,
    conn: &Connection,
    req: RemotingCommand,
) -> Result<Option<RemotingCommand>, HandlerError> {
    let header = decode_send_request_header(&req)?;
    let is_batch = req.code == RequestCode::SEND_BATCH_MESSAGE.code();
    Ok(Some(match prepare(state, &req, &header, conn).await {
        Err(rejection) => *rejection,
        Ok(target) => store_and_reply(state, conn, &req, header, target, is_batch).await,
    }))
}

/// Where the message goes after the checks.
struct Target {
    topic: String,
    queue_id: i32,
    reconsume_times: i32,
}

async fn prepare(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
    h: &SendMessageRequestHeader,
    conn: &Connection,
) -> Result<Target, Box<RemotingCommand>> {
    let fail = |code, remark: String| Box::new(reply(state, req, code, Some(remark)));
    if state.is_slave() {
        return Err(fail(
            ResponseCode::SERVICE_NOT_AVAILABLE,
            "service not available now: this broker is a SLAVE and does not accept messages".into(),
        ));
    }
    if let Err(e) = state.store.check_writable() {
        return Err(fail(
            ResponseCode::SERVICE_NOT_AVAILABLE,
            format!("service not available now: {e}"),
        ));
    }
    if !perm::writeable(state.permission()) {
        return Err(fail(
            ResponseCode::NO_PERMISSION,
            format!(
                "the broker[{}] sending message is forbidden",
                state.config.broker_ip1
            ),
        ));
    }
    if let Err(remark) = topics::validate_topic_name(&h.topic) {
        return Err(fail(ResponseCode::SYSTEM_ERROR, remark));
    }
    if NOT_ALLOWED_SEND.contains(&h.topic.as_str()) {
        return Err(fail(
            ResponseCode::NO_PERMISSION,
            format!("Sending message to topic[{}] is forbidden.", h.topic),
        ));
    }
    let half = transaction::is_half_send(h.sys_flag, h.properties.as_deref());
    if half && state.config.reject_transaction_message {
        return Err(fail(
            ResponseCode::NO_PERMISSION,
            format!(
                "the broker[{}] sending transaction message is forbidden",
                state.config.broker_ip1
            ),
        ));
    }
    // Apache's dispatcher gives a ROLLBACK-typed record no consume-queue entry; no client may
    // send one (transactions end through END_TRANSACTION), so it is refused here rather than
    // stored where consumers would read it.
    if sys_flag::transaction_type(h.sys_flag) == sys_flag::TRANSACTION_ROLLBACK {
        return Err(fail(
            ResponseCode::MESSAGE_ILLEGAL,
            format!(
                "the message's sysFlag {} carries the transaction type ROLLBACK, which is never stored for consumers",
                h.sys_flag
            ),
        ));
    }
    if half && req.code == RequestCode::SEND_BATCH_MESSAGE.code() {
        return Err(fail(
            ResponseCode::MESSAGE_ILLEGAL,
            "transaction messages cannot be sent as a batch".into(),
        ));
    }
    let info = match lookup_or_create(state, h).await {
        Ok(info) => info,
        Err(r) => return Err(fail(r.0, r.1)),
    };
    if !perm::writeable(info.perm) {
        return Err(fail(
            ResponseCode::NO_PERMISSION,
            format!("the topic[{}] sending message is forbidden", h.topic),
        ));
    }
    if h.queue_id >= info.write_queue_nums.max(info.read_queue_nums) {
        return Err(fail(
            ResponseCode::SYSTEM_ERROR,
            format!(
                "request queueId[{}] is illegal, topic:[{}] topicConfig.writeQueueNums:[{}] producer:[{}]",
                h.queue_id,
                h.topic,
                info.write_queue_nums,
                conn.peer()
            ),
        ));
    }
    let queue_id = if h.queue_id < 0 {
        state.pick_queue(info.write_queue_nums)
    } else {
        h.queue_id
    };
    let mut target = Target {
        topic: h.topic.clone(),
        queue_id,
        reconsume_times: h.reconsume_times.unwrap_or(0),
    };
    if let Some(group) = h.topic.strip_prefix(RETRY_PREFIX) {
        // A consumer re-sent a failed message itself; past its retries it goes to the DLQ.
        let Some(gc) = state.groups.find_or_create(group, now_ms()) else {
            return Err(fail(
                ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("subscription group not exist, {group} {FAQ_URL}"),
            ));
        };
        let max = h.max_reconsume_times.unwrap_or(gc.retry_max_times);
        if target.reconsume_times >= max {
            let dlq = format!("{DLQ_PREFIX}{group}");
            let (_, created) = state
                .topics
                .get_or_create(&dlq, 1, perm::READ | perm::WRITE, now_ms());
            if created {
                persist_topics(state).await;
                state.request_register();
            }
            target.topic = dlq;
            target.queue_id = 0;
        }
    }
    Ok(target)
}

/// Finds the topic, creating it from the template (or as a retry topic) when allowed.
async fn lookup_or_create(
    state: &Arc<BrokerState>,
    h: &SendMessageRequestHeader,
) -> Result<TopicInfo, (ResponseCode, String)> {
    if let Some(info) = state.topics.get(&h.topic) {
        return Ok(info);
    }
    let now = now_ms();
    let created = if let Some(group) = h.topic.strip_prefix(RETRY_PREFIX) {
        let queues = state
            .groups
            .find_or_create(group, now)
            .map_or(1, |g| g.retry_queue_nums.max(1));
        Some(
            state
                .topics
                .get_or_create(&h.topic, queues, perm::READ | perm::WRITE, now),
        )
    } else {
        let held = state.topics.len();
        let limit = state.config.auto_create_topic_max_nums;
        if held >= limit {
            tracing::warn!(topic = %h.topic, held, limit, "topic auto-creation refused: autoCreateTopicMaxNums reached");
            return Err((
                ResponseCode::TOPIC_NOT_EXIST,
                format!(
                    "topic[{}] not exist and not auto-created: this broker holds {held} topics, the \
                     autoCreateTopicMaxNums limit is {limit}; create the topic with mqadmin updateTopic \
                     or raise the limit",
                    h.topic
                ),
            ));
        }
        state
            .topics
            .create_from_template(&h.topic, &h.default_topic, h.default_topic_queue_nums, 0, now)
            .map(|(tc, created)| ((&tc).into(), created))
    };
    match created {
        Some((info, true)) => {
            tracing::info!(topic = %h.topic, queues = info.write_queue_nums, "auto-created topic");
            persist_topics(state).await;
            state.request_register();
            Ok(info)
        }
        Some((info, false)) => Ok(info),
        None => Err((
            ResponseCode::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist, apply first please! {FAQ_URL}", h.topic),
        )),
    }
}

/// The stored properties: the producer's, minus `WAIT`, plus `CLUSTER` (and for a delayed
/// message, the real destination).
fn stored_properties(state: &BrokerState, raw: &str, extra: &[(&str, &str)]) -> String {
    let mut add: Vec<(&str, &str)> = Vec::with_capacity(extra.len() + 1);
    add.extend_from_slice(extra);
    add.push((keys::CLUSTER, &state.config.broker_cluster_name));
    rewrite_properties(raw, &[keys::WAIT], &add)
}

async fn store_and_reply(
    state: &Arc<BrokerState>,
    conn: &Connection,
    req: &RemotingCommand,
    h: SendMessageRequestHeader,
    target: Target,
    is_batch: bool,
) -> RemotingCommand {
    let raw_props = h.properties.as_deref().unwrap_or("");
    let wait = properties::find(raw_props, keys::WAIT) != Some("false");
    let max_size = state.config.max_message_size;
    if req.body.len() > max_size {
        return reply(
            state,
            req,
            ResponseCode::MESSAGE_ILLEGAL,
            Some(format!("the message body size over max value, MAX: {max_size}")),
        );
    }
    if raw_props.len() > MAX_PROPERTIES_LEN {
        return reply(
            state,
            req,
            ResponseCode::MESSAGE_ILLEGAL,
            Some(format!(
                "the message property length {} over max value {MAX_PROPERTIES_LEN}",
                raw_props.len()
            )),
        );
    }
    let template = MessageRecord {
        queue_id: target.queue_id,
        flag: h.flag,
        sys_flag: h.sys_flag,
        born_timestamp: h.born_timestamp,
        born_host: conn.peer(),
        store_host: state.store_host,
        reconsume_times: target.reconsume_times,
        topic: target.topic,
        ..MessageRecord::default()
    };
    let half = !is_batch && transaction::is_half_send(h.sys_flag, h.properties.as_deref());
    if half {
        transaction::ensure_system_topic(state, transaction::HALF_TOPIC).await;
    }
    let outcome = if is_batch {
        store_batch(state, req, raw_props, template)
    } else {
        store_single(state, req.body.clone(), raw_props, template, half)
    };
    let stored = match outcome {
        Ok(s) => s,
        Err(rejection) => return reply(state, req, rejection.0, Some(rejection.1)),
    };
    let mut code = ResponseCode::SUCCESS;
    if wait {
        code = wait_durable(state, stored.next_offset).await;
    }
    reply(state, req, code, None)
        .with_ext("msgId", stored.msg_ids)
        .with_ext("queueId", stored.queue_id)
        .with_ext("queueOffset", stored.queue_offset)
}

struct Stored {
    msg_ids: String,
    queue_id: i32,
    queue_offset: u64,
    next_offset: u64,
}

pub(crate) fn store_error(e: StoreError) -> (ResponseCode, String) {
    match e {
        StoreError::MessageTooLarge { size, limit } => (
            ResponseCode::MESSAGE_ILLEGAL,
            format!("the message size {size} over max value, MAX: {limit}"),
        ),
        StoreError::BadMessage(e) => (
            ResponseCode::MESSAGE_ILLEGAL,
            format!("the message is illegal: {e}"),
        ),
        StoreError::BadBatch(why) => (
            ResponseCode::MESSAGE_ILLEGAL,
            format!("the batch is illegal: {why}"),
        ),
        e @ (StoreError::DiskFull { .. } | StoreError::ShutDown) => (
            ResponseCode::SERVICE_NOT_AVAILABLE,
            format!("service not available now: {e}"),
        ),
        e => (ResponseCode::SYSTEM_ERROR, format!("store error: {e}")),
    }
}

fn store_single(
    state: &BrokerState,
    body: Bytes,
    raw_props: &str,
    mut record: MessageRecord,
    half: bool,
) -> Result<Stored, (ResponseCode, String)> {
    let delay = properties::find(raw_props, keys::DELAY)
        .and_then(|d| d.parse::<i32>().ok())
        .unwrap_or(0);
    record.body = body;
    let real_qid = record.queue_id;
    // Parking renames the topic; the metrics count the one the producer addressed. The copy is
    // made only then, and only with metrics on.
    let parked_topic = (state.metrics.enabled() && (half || delay > 0)).then(|| record.topic.clone());
    if half {
        // Apache re-serializes a half message's properties, `WAIT` included.
        record.properties = rewrite_properties(
            raw_props,
            &[],
            &[(keys::CLUSTER, &state.config.broker_cluster_name)],
        );
        transaction::park(&mut record);
    } else {
        record.properties = stored_properties(state, raw_props, &[]);
        if delay > 0 {
            schedule::park(state, &mut record, delay);
        }
    }
    let r = schedule::append_and_wake(state, &record).map_err(store_error)?;
    if state.metrics.enabled() {
        let topic = parked_topic.as_deref().unwrap_or(&record.topic);
        let kind = MessageType::of(raw_props, half);
        state
            .metrics
            .record_in(topic, kind, std::iter::once(record.body.len() as u64));
    }
    Ok(Stored {
        msg_ids: state.offset_msg_id(r.physical_offset),
        queue_id: real_qid,
        queue_offset: r.queue_offset,
        next_offset: r.next_offset(),
    })
}

fn store_batch(
    state: &BrokerState,
    req: &RemotingCommand,
    raw_props: &str,
    template: MessageRecord,
) -> Result<Stored, (ResponseCode, String)> {
    if template.topic.starts_with(RETRY_PREFIX) {
        return Err((
            ResponseCode::MESSAGE_ILLEGAL,
            "Retry Group is not supported for batching".into(),
        ));
    }
    let batch_props = stored_properties(state, raw_props, &[]);
    // What each member costs once stored beyond its own body and properties: the record
    // layout with the topic and the batch-level properties (plus their separator).
    let overhead = MessageRecord {
        properties: format!("{batch_props}{}", properties::PROPERTY_SEPARATOR),
        body: Bytes::new(),
        ..template.clone()
    }
    .encoded_len();
    let limit = state.config.max_message_size;
    let items = batch::decode_bounded(&req.body, overhead, limit).map_err(|e| match e {
        batch::BatchError::TooLarge { .. } => (
            ResponseCode::MESSAGE_ILLEGAL,
            format!("the message size over max value, MAX: {limit}: {e}"),
        ),
        batch::BatchError::Malformed(e) => (
            ResponseCode::MESSAGE_ILLEGAL,
            format!("the batch body is malformed: {e}"),
        ),
    })?;
    if items.is_empty() {
        return Err((ResponseCode::MESSAGE_ILLEGAL, "the batch is empty".into()));
    }
    let records: Vec<MessageRecord> = items
        .into_iter()
        .map(|item| {
            // The batch-level properties are appended to each member's own.
            let mut props = item
                .properties
                .trim_end_matches(properties::PROPERTY_SEPARATOR)
                .to_string();
            if !batch_props.is_empty() {
                if !props.is_empty() {
                    props.push(properties::PROPERTY_SEPARATOR);
                }
                props.push_str(&batch_props);
            }
            MessageRecord {
                flag: item.flag,
                body: item.body,
                properties: props,
                ..template.clone()
            }
        })
        .collect();
    if records
        .iter()
        .any(|r| properties::find(&r.properties, keys::DELAY).is_some_and(|d| d != "0"))
    {
        return Err((
            ResponseCode::MESSAGE_ILLEGAL,
            "delayed messages are not supported for batching".into(),
        ));
    }
    let r = state.store.append_batch(&records).map_err(store_error)?;
    state.notify_appended();
    state.held.wake(&template.topic, template.queue_id);
    state.stats.add_put(r.summary.message_count as u64);
    if state.metrics.enabled() {
        let kind = MessageType::of(raw_props, false);
        state
            .metrics
            .record_in(&template.topic, kind, records.iter().map(|r| r.body.len() as u64));
    }
    let ids: Vec<String> = r
        .physical_offsets
        .iter()
        .map(|p| state.offset_msg_id(*p))
        .collect();
    Ok(Stored {
        msg_ids: ids.join(","),
        queue_id: template.queue_id,
        queue_offset: r.summary.queue_offset,
        next_offset: r.summary.next_offset(),
    })
}

/// The answer to a SYNC_FLUSH send once its flush callback reports, or FLUSH_DISK_TIMEOUT when
/// it has not within `timeout`. The flush thread checks deadlines only between syncs, so an
/// `fdatasync` that hangs would otherwise hold the reply for as long as the disk does.
async fn flush_outcome(
    rx: tokio::sync::oneshot::Receiver<crate::store::error::Result<()>>,
    timeout: std::time::Duration,
) -> ResponseCode {
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(Ok(()))) => ResponseCode::SUCCESS,
        _ => ResponseCode::FLUSH_DISK_TIMEOUT,
    }
}

/// Waits for the sync flush and the slave, as the config requires; the worst outcome wins.
pub(crate) async fn wait_durable(state: &BrokerState, next_offset: u64) -> ResponseCode {
    let flush = async {
        if state.config.flush_disk_type != FlushDiskType::Sync {
            return ResponseCode::SUCCESS;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        state.store.on_flushed(
            next_offset,
            state.config.sync_flush_timeout,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        flush_outcome(rx, state.config.sync_flush_timeout).await
    };
    let replica = async {
        if state.config.broker_role != crate::config::BrokerRole::SyncMaster {
            return ResponseCode::SUCCESS;
        }
        let Some(waiter) = state.replica_waiter() else {
            return ResponseCode::SLAVE_NOT_AVAILABLE;
        };
        match waiter
            .wait_for_slave(next_offset, state.config.slave_timeout)
            .await
        {
            ReplicaOutcome::Acked => ResponseCode::SUCCESS,
            ReplicaOutcome::SlaveNotAvailable => ResponseCode::SLAVE_NOT_AVAILABLE,
            ReplicaOutcome::Timeout => ResponseCode::FLUSH_SLAVE_TIMEOUT,
        }
    };
    let (f, r) = tokio::join!(flush, replica);
    if r != ResponseCode::SUCCESS {
        r
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_flush_that_never_reports_times_out() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let code = flush_outcome(rx, Duration::from_secs(5)).await;
        assert_eq!(code, ResponseCode::FLUSH_DISK_TIMEOUT);
        drop(tx);
        let (tx, rx) = tokio::sync::oneshot::channel();
        tx.send(Ok(())).unwrap();
        assert_eq!(
            flush_outcome(rx, Duration::from_secs(5)).await,
            ResponseCode::SUCCESS
        );
        let (tx, rx) = tokio::sync::oneshot::channel();
        tx.send(Err(crate::store::StoreError::FlushTimeout)).unwrap();
        assert_eq!(
            flush_outcome(rx, Duration::from_secs(5)).await,
            ResponseCode::FLUSH_DISK_TIMEOUT
        );
    }
}
