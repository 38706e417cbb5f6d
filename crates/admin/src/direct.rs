//! `-g consumerGroup -d clientId` of `queryMsgByUniqueKey` and `queryMsgById`: ask one consumer
//! of a group to consume a found message now (CONSUME_MESSAGE_DIRECTLY, 309, through the broker
//! that stores it) and print its `ConsumeMessageDirectlyResult` as Apache's tool does.
//!
//! The request goes to the message's store host (brokerIP1:listenPort) with its offset message
//! id; the broker forwards it to the consumer's heartbeat connection and waits up to 10 s for
//! the answer, so this call waits a little longer than that.

use std::fmt::Write;
use std::time::Duration;

use rmq_remoting::body::{ConsumeMessageDirectlyResult, JsonBody};
use rmq_remoting::headers::admin::ConsumeMessageDirectlyResultRequestHeader;
use rmq_remoting::message::record::MessageRecord;
use rmq_remoting::{RemotingCommand, RequestCode};

use crate::admin::Admin;
use crate::error::AdminError;

/// The broker waits 10 s for the consumer; this is the whole round trip's limit.
const DIRECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Asks consumer `client_id` of `group` to consume `record`; appends the result line to `out`.
pub async fn consume_directly(
    admin: &Admin,
    record: &MessageRecord,
    group: &str,
    client_id: &str,
    out: &mut String,
) -> Result<(), AdminError> {
    let addr = record.store_host.to_string();
    let header = ConsumeMessageDirectlyResultRequestHeader {
        consumer_group: group.to_string(),
        client_id: Some(client_id.to_string()),
        msg_id: Some(record.offset_msg_id()),
        broker_name: None,
    };
    let cmd = RemotingCommand::request_with(RequestCode::CONSUME_MESSAGE_DIRECTLY, &header);
    let resp = admin.client().invoke(&addr, cmd, DIRECT_TIMEOUT).await?;
    if !resp.is_success() {
        return Err(AdminError::Remote {
            addr,
            code: resp.code,
            remark: format!(
                "{} (the client ids of a group: `mqadmin consumerConnection -g {group}`)",
                resp.remark.unwrap_or_default()
            ),
        });
    }
    let result = ConsumeMessageDirectlyResult::decode(&resp.body).map_err(|e| {
        AdminError::Invalid(format!(
            "the consumer's answer through {addr} is not a ConsumeMessageDirectlyResult: {e}"
        ))
    })?;
    let _ = writeln!(out, "{result}");
    Ok(())
}
