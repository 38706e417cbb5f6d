//! CONSUME_MESSAGE_DIRECTLY (309): an admin asks one consumer of a group to consume one stored
//! message now (`mqadmin queryMsgByUniqueKey -g group -d clientId`), as Apache 4.9.7's
//! `AdminBrokerProcessor.consumeMessageDirectly` does.
//!
//! The broker reads the record named by the request's offset `msgId`, puts it in the body, adds
//! `brokerName` to the ext fields and forwards the request to the consumer's heartbeat
//! connection, waiting up to 10 s for its answer (a `ConsumeMessageDirectlyResult` body), which
//! it returns as it came. Replies of its own: SYSTEM_ERROR `The Consumer <g> <id> not online`,
//! CONSUME_MSG_TIMEOUT `consumer <g> <id> Timeout: …`, SYSTEM_ERROR `invoke consumer <g> <id>
//! Exception: …`. A message id that names no record is SYSTEM_ERROR with the offset (Apache
//! forwards an empty body and the consumer fails to decode it).

use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::headers::admin::ConsumeMessageDirectlyResultRequestHeader;
use rmq_remoting::message::id::decode_offset_msg_id;
use rmq_remoting::net::{HandlerError, NetError};
use rmq_remoting::{clip, RemotingCommand, RequestCode, ResponseCode};
use tracing::{debug, warn};

use crate::state::BrokerState;

/// How long the consumer gets to answer (Apache's `callClient` timeout).
const CALL_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Handles CONSUME_MESSAGE_DIRECTLY.
pub async fn handle(state: &Arc<BrokerState>, req: RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let h: ConsumeMessageDirectlyResultRequestHeader = req.decode_header()?;
    let group = clip(&h.consumer_group);
    let client_id = clip(h.client_id.as_deref().unwrap_or(""));
    let fail = |code, remark: String| req.reply(code, Some(remark));
    let Some((_, offset)) = h.msg_id.as_deref().and_then(decode_offset_msg_id) else {
        return Ok(fail(
            ResponseCode::SYSTEM_ERROR,
            "msgId is missing or not an offset message id (32 hex digits)".into(),
        ));
    };
    let Some(record) = u64::try_from(offset)
        .ok()
        .and_then(|o| state.store.read_record(o))
    else {
        return Ok(fail(
            ResponseCode::SYSTEM_ERROR,
            format!("can not find message by the offset, {offset}"),
        ));
    };
    let channel = state.clients.consumer_group(&h.consumer_group).and_then(|info| {
        info.channels
            .into_values()
            .find(|c| Some(c.client_id.as_str()) == h.client_id.as_deref() && !c.conn.is_closed())
    });
    let Some(channel) = channel else {
        return Ok(fail(
            ResponseCode::SYSTEM_ERROR,
            format!("The Consumer <{group}> <{client_id}> not online"),
        ));
    };
    let mut forward = RemotingCommand::request(RequestCode::CONSUME_MESSAGE_DIRECTLY).with_body(record);
    forward.ext_fields = req.ext_fields.clone();
    forward
        .ext_fields
        .insert("brokerName".into(), state.config.broker_name.clone());
    debug!(group = %group, client_id = %client_id, offset, "asking a consumer to consume a message directly");
    match channel.conn.invoke(forward, CALL_CLIENT_TIMEOUT).await {
        Ok(answer) => {
            // The consumer's answer as it came: its code, remark and body.
            let mut reply = req.reply(ResponseCode::SUCCESS, answer.remark);
            reply.code = answer.code;
            Ok(reply.with_body(answer.body))
        }
        Err(NetError::Timeout { millis, .. }) => {
            warn!(group = %group, client_id = %client_id, "consumer did not answer CONSUME_MESSAGE_DIRECTLY");
            Ok(fail(
                ResponseCode::CONSUME_MSG_TIMEOUT,
                format!("consumer <{group}> <{client_id}> Timeout: no answer within {millis} ms"),
            ))
        }
        Err(e) => Ok(fail(
            ResponseCode::SYSTEM_ERROR,
            format!("invoke consumer <{group}> <{client_id}> Exception: {e}"),
        )),
    }
}
