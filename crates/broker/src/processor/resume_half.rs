//! RESUME_CHECK_HALF_MESSAGE (323): an operator puts a transaction given up after
//! `transactionCheckMax` checks back into the half queue (features.md §1.7).
//!
//! The request names a stored copy by its offset message id; only the commit-log offset in it is
//! used (as Apache does). The copy is appended to `RMQ_SYS_TRANS_HALF_TOPIC` queue 0 with
//! `TRANSACTION_CHECK_TIMES=0` and everything else as stored (body, flag, properties including
//! `REAL_TOPIC`/`REAL_QID`/`PGROUP`, sysFlag, born time and host, reconsume times), so the next
//! check round asks the producer group about it again. Replies: SUCCESS, or SYSTEM_ERROR
//! `Put message back to RMQ_SYS_TRANS_HALF_TOPIC failed.` when the append fails.
//!
//! Differs from Apache on purpose: the record must be a half message or a given-up one (topic
//! `RMQ_SYS_TRANS_HALF_TOPIC` or `TRANS_CHECK_MAX_TIME_TOPIC`, with `REAL_TOPIC`/`REAL_QID`).
//! Apache re-parks whatever record the id names, so an ordinary or already committed message
//! would become an open transaction and could be delivered twice. A slave refuses (Apache's
//! slave store refuses the put, with the same remark).

use std::sync::Arc;

use rmq_remoting::headers::transaction::ResumeCheckHalfMessageRequestHeader;
use rmq_remoting::message::id::decode_offset_msg_id;
use rmq_remoting::message::properties::keys;
use rmq_remoting::net::HandlerError;
use rmq_remoting::{clip, RemotingCommand, ResponseCode};
use tracing::{info, warn};

use crate::msg::rewrite_properties;
use crate::state::BrokerState;
use crate::transaction::{self, CHECK_MAX_TIME_TOPIC, HALF_TOPIC};

/// Apache's remark when the record cannot be put back.
pub const PUT_BACK_FAILED: &str = "Put message back to RMQ_SYS_TRANS_HALF_TOPIC failed.";

/// Handles RESUME_CHECK_HALF_MESSAGE.
pub async fn handle(state: &Arc<BrokerState>, req: RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let h: ResumeCheckHalfMessageRequestHeader = req.decode_header()?;
    let fail = |remark: String| req.reply(ResponseCode::SYSTEM_ERROR, Some(remark));
    let Some((_, offset)) = decode_offset_msg_id(&h.msg_id) else {
        return Ok(fail(format!(
            "{} is not an offset message id (32 hex digits: store host, port and commit-log offset); \
             take the id of the copy in {CHECK_MAX_TIME_TOPIC}",
            clip(&h.msg_id)
        )));
    };
    if state.is_slave() {
        warn!(msg_id = %clip(&h.msg_id), "resume of a half message refused: this broker is a slave");
        return Ok(fail(format!(
            "{PUT_BACK_FAILED} (this broker is a SLAVE; ask its master)"
        )));
    }
    let Some(record) = transaction::read_half(state, offset) else {
        return Ok(fail(format!(
            "can not find message by the offset, {offset} ({})",
            clip(&h.msg_id)
        )));
    };
    let is_transaction_copy = record.topic == HALF_TOPIC || record.topic == CHECK_MAX_TIME_TOPIC;
    if !is_transaction_copy
        || record.property(keys::REAL_TOPIC).is_none()
        || record.property(keys::REAL_QID).is_none()
    {
        return Ok(fail(format!(
            "the message at offset {offset} (topic {}) is not a transactional half message; \
             only copies in {HALF_TOPIC} or {CHECK_MAX_TIME_TOPIC} can be resumed",
            record.topic
        )));
    }
    transaction::ensure_system_topic(state, HALF_TOPIC).await;
    let props = rewrite_properties(&record.properties, &[], &[(keys::TRANSACTION_CHECK_TIMES, "0")]);
    let resumed = transaction::half_copy(state, &record, props);
    match state.store.append(&resumed) {
        Ok(_) => {
            state.notify_appended();
            info!(
                real_topic = record.property(keys::REAL_TOPIC).unwrap_or(""),
                uniq_key = record.property(keys::UNIQ_KEY).unwrap_or(""),
                "Put message back to RMQ_SYS_TRANS_HALF_TOPIC"
            );
            Ok(req.reply(ResponseCode::SUCCESS, None))
        }
        Err(e) => {
            warn!(error = %e, "{PUT_BACK_FAILED}");
            Ok(fail(PUT_BACK_FAILED.to_string()))
        }
    }
}
