//! CONSUMER_SEND_MSG_BACK (36): a consumer failed a message (RECONSUME_LATER). The broker reads
//! the original record by its commit-log offset and stores a copy in `%RETRY%<group>` behind a
//! delay level (`3 + reconsumeTimes` unless the consumer chose one), or in `%DLQ%<group>` once
//! the group's maximum reconsume times is reached (or the consumer asked with a negative level).

use std::sync::Arc;

use rmq_remoting::headers::client::ConsumerSendMsgBackRequestHeader;
use rmq_remoting::message::properties::{self, keys};
use rmq_remoting::message::MessageRecord;
use rmq_remoting::net::HandlerError;
use rmq_remoting::{RemotingCommand, ResponseCode};

use super::FAQ_URL;
use crate::groups::validate_group_name;
use crate::msg::{retry_target, rewrite_properties, RetryTarget};
use crate::processor::send::wait_durable;
use crate::schedule;
use crate::state::{now_ms, BrokerState};
use crate::tables::persist_topics;
use crate::topics::{perm, validate_topic_name, DLQ_PREFIX, RETRY_PREFIX};

/// Handles CONSUMER_SEND_MSG_BACK.
pub async fn handle(state: &Arc<BrokerState>, req: RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let h: ConsumerSendMsgBackRequestHeader = req.decode_header()?;
    let fail = |code, remark: String| Ok(req.reply(code, Some(remark)));
    // The group names the retry and dead-letter topics: check it before anything is created.
    if let Err(remark) = validate_group_name(&h.group) {
        return fail(ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST, remark);
    }
    for prefix in [RETRY_PREFIX, DLQ_PREFIX] {
        if let Err(remark) = validate_topic_name(&format!("{prefix}{}", h.group)) {
            return fail(
                ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("the group's retry or dead-letter topic would be illegal: {remark}"),
            );
        }
    }
    let now = now_ms();
    let Some(group) = state.groups.find_or_create(&h.group, now) else {
        return fail(
            ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group not exist, {} {FAQ_URL}", h.group),
        );
    };
    if state.is_slave() || !perm::writeable(state.permission()) {
        return fail(
            ResponseCode::NO_PERMISSION,
            format!(
                "the broker[{}] sending message is forbidden",
                state.config.broker_ip1
            ),
        );
    }
    if group.retry_queue_nums <= 0 {
        return Ok(req.reply(ResponseCode::SUCCESS, None));
    }
    let Some(bytes) = (h.offset >= 0)
        .then(|| state.store.read_record(h.offset as u64))
        .flatten()
    else {
        return fail(
            ResponseCode::SYSTEM_ERROR,
            format!("look message by offset failed, {}", h.offset),
        );
    };
    let original = match MessageRecord::decode_bytes(&bytes, false) {
        Ok((r, _)) => r,
        Err(e) => {
            return fail(
                ResponseCode::SYSTEM_ERROR,
                format!("look message by offset failed, {}: {e}", h.offset),
            )
        }
    };
    let max_times = h.max_reconsume_times.unwrap_or(group.retry_max_times);
    let target = retry_target(
        h.delay_level,
        original.reconsume_times,
        max_times,
        state.max_delay_level(),
    );
    let (topic, queues) = match target {
        RetryTarget::DeadLetter => (format!("{DLQ_PREFIX}{}", h.group), 1),
        RetryTarget::Retry { .. } => (
            format!("{RETRY_PREFIX}{}", h.group),
            group.retry_queue_nums.max(1),
        ),
    };
    let (info, created) = state
        .topics
        .get_or_create(&topic, queues, perm::READ | perm::WRITE, now);
    if created {
        persist_topics(state).await;
        state.request_register();
    }
    if !perm::writeable(info.perm) {
        return fail(
            ResponseCode::NO_PERMISSION,
            format!("the topic[{topic}] sending message is forbidden"),
        );
    }
    let retry_topic = properties::find(&original.properties, keys::RETRY_TOPIC)
        .map(str::to_string)
        .unwrap_or_else(|| original.topic.clone());
    let origin_id = h
        .origin_msg_id
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| properties::find(&original.properties, keys::ORIGIN_MESSAGE_ID).map(str::to_string))
        .unwrap_or_else(|| original.offset_msg_id());
    let props = rewrite_properties(
        &original.properties,
        &[keys::DELAY, keys::REAL_TOPIC, keys::REAL_QID],
        &[
            (keys::RETRY_TOPIC, &retry_topic),
            (keys::ORIGIN_MESSAGE_ID, &origin_id),
        ],
    );
    let mut record = MessageRecord {
        topic,
        queue_id: state.pick_queue(info.write_queue_nums),
        properties: props,
        reconsume_times: original.reconsume_times.saturating_add(1),
        store_host: state.store_host,
        queue_offset: 0,
        physical_offset: 0,
        ..original
    };
    if let RetryTarget::Retry { delay_level } = target {
        schedule::park(state, &mut record, delay_level);
    }
    match schedule::append_and_wake(state, &record) {
        Ok(r) => {
            let code = wait_durable(state, r.next_offset()).await;
            Ok(req.reply(code, None))
        }
        Err(e) => fail(ResponseCode::SYSTEM_ERROR, format!("send back failed: {e}")),
    }
}
