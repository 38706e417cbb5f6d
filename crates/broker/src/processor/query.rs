//! QUERY_MESSAGE (12): messages of a topic by key or unique key within a store-time range,
//! answered from the message index (features.md §2.6). The response header always carries the
//! index's last update; found records come back to back in the body (pull framing), none is
//! QUERY_NOT_FOUND.

use std::sync::Arc;

use bytes::BytesMut;
use rmq_remoting::headers::query::QueryMessageRequestHeader;
use rmq_remoting::net::HandlerError;
use rmq_remoting::{RemotingCommand, ResponseCode};

use crate::state::BrokerState;

/// Handles QUERY_MESSAGE.
pub async fn handle(state: &Arc<BrokerState>, req: RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let h: QueryMessageRequestHeader = req.decode_header()?;
    let max_num = if h.unique_key_query == Some(true) {
        state.config.default_query_max_num
    } else {
        usize::try_from(h.max_num).unwrap_or(0)
    };
    let store = state.store.clone();
    // The index walk and record copies may fault pages in from disk: off the runtime.
    let found = tokio::task::spawn_blocking(move || {
        store.query_messages(&h.topic, &h.key, max_num, h.begin_timestamp, h.end_timestamp)
    })
    .await;
    let result = match found {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "QUERY_MESSAGE lookup failed");
            return Ok(req.reply(ResponseCode::SYSTEM_ERROR, Some(format!("query failed: {e}"))));
        }
    };
    let reply = |code, remark: Option<String>| {
        req.reply(code, remark)
            .with_ext("indexLastUpdateTimestamp", result.index_last_update_timestamp)
            .with_ext("indexLastUpdatePhyoffset", result.index_last_update_phy_offset)
    };
    if result.records.is_empty() {
        return Ok(reply(
            ResponseCode::QUERY_NOT_FOUND,
            Some("can not find message, maybe time range not correct".into()),
        ));
    }
    let mut body = BytesMut::with_capacity(result.records.iter().map(|r| r.len()).sum());
    for r in &result.records {
        body.extend_from_slice(r);
    }
    Ok(reply(ResponseCode::SUCCESS, None).with_body(body.freeze()))
}
