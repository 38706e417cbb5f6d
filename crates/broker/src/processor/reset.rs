//! INVOKE_BROKER_TO_RESET_OFFSET (222): moves an online consumer group's offsets on one topic to
//! a store time, the way Apache's `Broker2Client.resetOffset` does.
//!
//! For each write queue of the topic on this broker: the offset of the first message stored at or
//! after the time (-1: the end of the queue); with `isForce` false an offset only moves back.
//! The table goes one-way as RESET_CONSUMER_CLIENT_OFFSET (220) to every connection of the group
//! (each member moves the queues it holds and commits them), and back to the tool. The broker's
//! own committed offsets are not touched: the members commit the new ones. A group with no
//! member online is answered CONSUMER_NOT_ONLINE (the tool then writes the offsets itself); a
//! group with no committed offset on a queue of the topic is refused, as in Apache.

use std::sync::Arc;

use rmq_remoting::body::{MessageQueue, ResetOffsetBody, ResetOffsetBodyForC};
use rmq_remoting::headers::reset::ResetOffsetRequestHeader;
use rmq_remoting::net::HandlerError;
use rmq_remoting::{clip, LanguageCode, RemotingCommand, RequestCode, ResponseCode};

use crate::state::BrokerState;

/// Handles INVOKE_BROKER_TO_RESET_OFFSET.
pub fn handle(state: &Arc<BrokerState>, req: RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let h: ResetOffsetRequestHeader = req.decode_header()?;
    let Some(topic) = state.topics.get(&h.topic) else {
        let remark = format!(
            "[reset-offset] reset offset failed, no topic in this broker. topic={}",
            clip(&h.topic)
        );
        tracing::warn!("{remark}");
        return Ok(req.reply(ResponseCode::SYSTEM_ERROR, Some(remark)));
    };
    let mut body = ResetOffsetBody::default();
    for queue_id in 0..topic.write_queue_nums {
        let Some(committed) = state.offsets.query(&h.group, &h.topic, queue_id) else {
            return Ok(req.reply(
                ResponseCode::SYSTEM_ERROR,
                Some(format!("THe consumer group <{}> not exist", clip(&h.group))),
            ));
        };
        let by_time = if h.timestamp == -1 {
            state.store.max_offset(&h.topic, queue_id)
        } else {
            state.store.offset_by_timestamp(&h.topic, queue_id, h.timestamp)
        } as i64;
        let offset = if h.is_force || by_time < committed {
            by_time
        } else {
            committed
        };
        let mq = MessageQueue::new(h.topic.clone(), state.config.broker_name.clone(), queue_id);
        body.offset_table.insert(mq, offset);
    }
    let channels: Vec<_> = state
        .clients
        .consumer_group(&h.group)
        .map(|g| g.channels.into_values().collect())
        .unwrap_or_default();
    if channels.is_empty() {
        let remark = format!(
            "Consumer not online, so can not reset offset, Group: {} Topic: {} Timestamp: {}",
            clip(&h.group),
            clip(&h.topic),
            h.timestamp
        );
        tracing::info!("{remark}");
        return Ok(req.reply(ResponseCode::CONSUMER_NOT_ONLINE, Some(remark)));
    }
    let push_header = ResetOffsetRequestHeader {
        is_force: false,
        ..h.clone()
    };
    // Apache picks the C++ list form for every member when the tool said it speaks CPP (`-c`).
    let push_body = if req.language == LanguageCode::CPP {
        ResetOffsetBodyForC::from(&body).encode()
    } else {
        body.encode()
    };
    for ch in channels {
        let push = RemotingCommand::request_with(RequestCode::RESET_CONSUMER_CLIENT_OFFSET, &push_header)
            .with_body(push_body.clone());
        if ch.conn.send_oneway(push) {
            tracing::info!(topic = %h.topic, group = %h.group, client_id = %ch.client_id, "[reset-offset] reset offset sent");
        } else {
            tracing::warn!(topic = %h.topic, group = %h.group, client_id = %ch.client_id, "[reset-offset] could not reach the consumer");
        }
    }
    Ok(req.reply(ResponseCode::SUCCESS, None).with_body(body.encode()))
}
