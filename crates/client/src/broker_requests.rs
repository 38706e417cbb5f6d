//! The requests a broker sends to a client on a connection the client opened:
//! CHECK_TRANSACTION_STATE (to the transactional producer of the message's group),
//! CONSUME_MESSAGE_DIRECTLY, NOTIFY_CONSUMER_IDS_CHANGED and RESET_CONSUMER_CLIENT_OFFSET (to
//! the consumer of the group). Anything else is answered REQUEST_CODE_NOT_SUPPORTED.

use rmq_remoting::body::JsonBody;
use rmq_remoting::headers::admin::ConsumeMessageDirectlyResultRequestHeader;
use rmq_remoting::headers::client::NotifyConsumerIdsChangedRequestHeader;
use rmq_remoting::headers::transaction::CheckTransactionStateRequestHeader;
use rmq_remoting::message::properties::keys;
use rmq_remoting::message::MessageRecord;
use rmq_remoting::net::ServerReply;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tracing::{debug, info, warn};

use crate::error::ClientError;
use crate::members::{Checkers, Consumers};
use crate::message::MessageExt;

/// A broker's CHECK_TRANSACTION_STATE: handed to the producer of the message's `PGROUP`. It is
/// one-way: the answer is an END_TRANSACTION the producer sends later.
fn handle_check(checkers: &Checkers, addr: &str, request: &RemotingCommand) {
    let header = match request.decode_header::<CheckTransactionStateRequestHeader>() {
        Ok(h) => h,
        Err(e) => {
            warn!(broker = addr, error = %e, "malformed transaction check header; ignored");
            return;
        }
    };
    let msg = match MessageRecord::decode_bytes(&request.body, false)
        .map_err(|e| ClientError::BadBody(e.to_string()))
        .and_then(|(r, _)| MessageExt::from_record(r, ""))
    {
        Ok(m) => m,
        Err(e) => {
            warn!(broker = addr, error = %e, "malformed transaction check body; ignored");
            return;
        }
    };
    let group = msg.property(keys::PGROUP).unwrap_or("").to_string();
    let member = checkers.lock().expect("checkers lock").get(&group).cloned();
    match member {
        Some(member) => member.on_check(addr, header, msg),
        None => debug!(
            broker = addr,
            group, "transaction check for a group this client does not produce for"
        ),
    }
}

/// Answers (or hands on) one request a broker sent on a connection of this client.
pub(crate) fn handle_server_request(
    consumers: &Consumers,
    checkers: &Checkers,
    addr: &str,
    request: RemotingCommand,
) -> ServerReply {
    if request.code == RequestCode::CHECK_TRANSACTION_STATE.code() {
        handle_check(checkers, addr, &request);
        return ServerReply::None;
    }
    if request.code == RequestCode::CONSUME_MESSAGE_DIRECTLY.code() {
        return consume_directly(consumers, addr, request);
    }
    if request.code == RequestCode::NOTIFY_CONSUMER_IDS_CHANGED.code() {
        if let Ok(header) = request.decode_header::<NotifyConsumerIdsChangedRequestHeader>() {
            let member = consumers
                .lock()
                .expect("consumers lock")
                .get(&header.consumer_group)
                .cloned();
            if let Some(member) = member {
                info!(broker = addr, group = %header.consumer_group, "consumer ids changed; rebalancing");
                member.request_rebalance();
            }
        }
        return ServerReply::None;
    }
    if request.code == RequestCode::RESET_CONSUMER_CLIENT_OFFSET.code() {
        if let Some(reset) = crate::reset::decode(addr, &request) {
            let member = consumers
                .lock()
                .expect("consumers lock")
                .get(&reset.group)
                .cloned();
            match member {
                Some(m) => {
                    info!(broker = addr, group = %reset.group, topic = %reset.topic, "[reset-offset] offsets reset by the broker");
                    m.reset_offsets(&reset.topic, reset.offsets);
                }
                None => info!(broker = addr, group = %reset.group, "[reset-offset] consumer does not exist"),
            }
        }
        return ServerReply::None;
    }
    ServerReply::Now(request.reply(
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
        Some(format!("request type {} not supported", request.code)),
    ))
}

/// CONSUME_MESSAGE_DIRECTLY: hands the message to the group's consumer (see `direct`); the
/// answer is a `ConsumeMessageDirectlyResult`, or SYSTEM_ERROR when this client has no push
/// consumer of the group or the request is malformed.
fn consume_directly(consumers: &Consumers, addr: &str, request: RemotingCommand) -> ServerReply {
    let header = match request.decode_header::<ConsumeMessageDirectlyResultRequestHeader>() {
        Ok(h) => h,
        Err(e) => {
            warn!(broker = addr, error = %e, "malformed CONSUME_MESSAGE_DIRECTLY header");
            return ServerReply::Now(request.reply(ResponseCode::SYSTEM_ERROR, Some(e.to_string())));
        }
    };
    let broker_name = header.broker_name.clone().unwrap_or_default();
    let msg = match MessageRecord::decode_bytes(&request.body, false)
        .map_err(|e| ClientError::BadBody(e.to_string()))
        .and_then(|(r, _)| MessageExt::from_record(r, &broker_name))
    {
        Ok(m) => m,
        Err(e) => {
            warn!(broker = addr, error = %e, "CONSUME_MESSAGE_DIRECTLY carries no readable message");
            return ServerReply::Now(request.reply(
                ResponseCode::SYSTEM_ERROR,
                Some(format!("the message in the request cannot be decoded: {e}")),
            ));
        }
    };
    let member = consumers
        .lock()
        .expect("consumers lock")
        .get(&header.consumer_group)
        .cloned();
    let Some(work) = member.and_then(|m| m.consume_directly(msg)) else {
        return ServerReply::Now(request.reply(
            ResponseCode::SYSTEM_ERROR,
            Some(format!(
                "The Consumer Group <{}> not exist in this consumer",
                header.consumer_group
            )),
        ));
    };
    let template = request.reply(ResponseCode::SUCCESS, None);
    ServerReply::Later(Box::pin(async move {
        let result = work.await;
        Some(template.with_body(result.encode()))
    }))
}
