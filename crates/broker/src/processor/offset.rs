//! Offset requests: QUERY/UPDATE_CONSUMER_OFFSET, GET_MAX/MIN_OFFSET,
//! SEARCH_OFFSET_BY_TIMESTAMP, GET_EARLIEST_MSG_STORETIME and VIEW_MESSAGE_BY_ID.

use std::sync::Arc;

use rmq_remoting::headers::offset::{
    GetEarliestMsgStoretimeRequestHeader, GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader,
    QueryConsumerOffsetRequestHeader, SearchOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
    ViewMessageRequestHeader,
};
use rmq_remoting::net::HandlerError;
use rmq_remoting::{clip, RemotingCommand, RequestCode, ResponseCode};

use crate::groups::validate_group_name;
use crate::state::{now_ms, BrokerState};

/// Handles the offset family; `code` is one of its request codes.
pub fn handle(
    state: &Arc<BrokerState>,
    code: RequestCode,
    req: RemotingCommand,
) -> Result<RemotingCommand, HandlerError> {
    let store = &state.store;
    let ok = |key: &str, value: i64| req.reply(ResponseCode::SUCCESS, None).with_ext(key, value);
    Ok(match code {
        RequestCode::QUERY_CONSUMER_OFFSET => {
            let h: QueryConsumerOffsetRequestHeader = req.decode_header()?;
            match state.offsets.query(&h.consumer_group, &h.topic, h.queue_id) {
                Some(offset) if offset >= 0 => ok("offset", offset),
                // Never committed: a queue that still starts at 0 is read from 0, else the
                // client falls back to its ConsumeFromWhere.
                _ if store.min_offset(&h.topic, h.queue_id) == 0 => ok("offset", 0),
                _ => req.reply(
                    ResponseCode::QUERY_NOT_FOUND,
                    Some("Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first".to_string()),
                ),
            }
        }
        RequestCode::UPDATE_CONSUMER_OFFSET => {
            let h: UpdateConsumerOffsetRequestHeader = req.decode_header()?;
            if state.is_slave() {
                return Ok(req.reply(ResponseCode::SUCCESS, None));
            }
            if let Err(remark) = validate_group_name(&h.consumer_group) {
                return Ok(req.reply(ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST, Some(remark)));
            }
            let Some(topic) = state.topics.get(&h.topic) else {
                return Ok(req.reply(
                    ResponseCode::TOPIC_NOT_EXIST,
                    Some(format!("topic[{}] not exist", clip(&h.topic))),
                ));
            };
            if h.queue_id < 0 || h.queue_id >= topic.read_queue_nums.max(topic.write_queue_nums) {
                return Ok(req.reply(
                    ResponseCode::SYSTEM_ERROR,
                    Some(format!("queueId[{}] is illegal, topic:[{}]", h.queue_id, h.topic)),
                ));
            }
            if state.groups.find_or_create(&h.consumer_group, now_ms()).is_none() {
                return Ok(req.reply(
                    ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                    Some(format!("subscription group[{}] not exist", h.consumer_group)),
                ));
            }
            state
                .offsets
                .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
            req.reply(ResponseCode::SUCCESS, None)
        }
        RequestCode::GET_MAX_OFFSET => {
            let h: GetMaxOffsetRequestHeader = req.decode_header()?;
            ok("offset", store.max_offset(&h.topic, h.queue_id) as i64)
        }
        RequestCode::GET_MIN_OFFSET => {
            let h: GetMinOffsetRequestHeader = req.decode_header()?;
            ok("offset", store.min_offset(&h.topic, h.queue_id) as i64)
        }
        RequestCode::SEARCH_OFFSET_BY_TIMESTAMP => {
            let h: SearchOffsetRequestHeader = req.decode_header()?;
            ok(
                "offset",
                store.offset_by_timestamp(&h.topic, h.queue_id, h.timestamp) as i64,
            )
        }
        RequestCode::GET_EARLIEST_MSG_STORETIME => {
            let h: GetEarliestMsgStoretimeRequestHeader = req.decode_header()?;
            ok(
                "timestamp",
                store.earliest_store_time(&h.topic, h.queue_id).unwrap_or(0),
            )
        }
        RequestCode::VIEW_MESSAGE_BY_ID => {
            let h: ViewMessageRequestHeader = req.decode_header()?;
            match (h.offset >= 0)
                .then(|| store.read_record(h.offset as u64))
                .flatten()
            {
                Some(record) => req.reply(ResponseCode::SUCCESS, None).with_body(record),
                None => req.reply(
                    ResponseCode::SYSTEM_ERROR,
                    Some(format!("can not find message by the offset, {}", h.offset)),
                ),
            }
        }
        other => return Err(HandlerError::NotSupported(other.code())),
    })
}
