//! END_TRANSACTION (37): a producer (or its answer to a check) commits or rolls back a half
//! message (features.md §1.4).
//!
//! The half record is found by `commitLogOffset` and must match the request's producer group
//! and half-queue offset. Commit appends the real message (see
//! [`crate::transaction::commit_record`]) and then the op marker; rollback writes only the op
//! marker. A commit whose append fails writes no marker, so the half message is checked again.
//! `commitOrRollback` 0 (the producer does not know yet) is logged and not answered, as Apache
//! does; Java clients send this request one-way and never read an answer anyway.

use std::sync::Arc;

use rmq_remoting::headers::transaction::EndTransactionRequestHeader;
use rmq_remoting::message::properties::keys;
use rmq_remoting::message::sys_flag;
use rmq_remoting::net::{Connection, HandlerError};
use rmq_remoting::{RemotingCommand, ResponseCode};
use tracing::{debug, info, warn};

use crate::schedule::append_and_wake;
use crate::state::BrokerState;
use crate::transaction::{self, OP_TOPIC};

/// Handles END_TRANSACTION.
pub async fn handle(
    state: &Arc<BrokerState>,
    conn: &Connection,
    req: RemotingCommand,
) -> Result<Option<RemotingCommand>, HandlerError> {
    let h: EndTransactionRequestHeader = req.decode_header()?;
    let fail = |remark: &str| {
        Ok(Some(
            req.reply(ResponseCode::SYSTEM_ERROR, Some(remark.to_string())),
        ))
    };
    if state.is_slave() {
        return Ok(Some(req.reply(
            ResponseCode::SLAVE_NOT_AVAILABLE,
            Some("Can't process transaction message because this broker is a SLAVE".into()),
        )));
    }
    let kind = h.commit_or_rollback;
    if kind == sys_flag::TRANSACTION_NOT_TYPE {
        info!(
            peer = %conn.peer(),
            group = %h.producer_group,
            msg_id = %h.msg_id,
            from_check = h.from_transaction_check.unwrap_or(false),
            "the producer does not know the transaction's state yet; it will be checked"
        );
        return Ok(None);
    }
    if kind != sys_flag::TRANSACTION_COMMIT && kind != sys_flag::TRANSACTION_ROLLBACK {
        return fail(&format!(
            "commitOrRollback {kind} is not 0 (unknown), 8 (commit) or 12 (rollback)"
        ));
    }
    let Some(half) = transaction::read_half(state, h.commit_log_offset) else {
        return fail("Find prepared transaction message failed");
    };
    if half.property(keys::PGROUP) != Some(h.producer_group.as_str()) {
        return fail("The producer group wrong");
    }
    if half.queue_offset != h.tran_state_table_offset {
        return fail("The transaction state table offset wrong");
    }
    if half.physical_offset != h.commit_log_offset {
        return fail("The commit log offset wrong");
    }
    let half_offset = half.queue_offset as u64;
    transaction::ensure_system_topic(state, OP_TOPIC).await;
    if kind == sys_flag::TRANSACTION_COMMIT {
        let Some(real) = transaction::commit_record(state, half) else {
            return fail("the half message has no REAL_TOPIC/REAL_QID");
        };
        if let Err(e) = append_and_wake(state, &real) {
            warn!(error = %e, topic = %real.topic, "cannot store a committed transaction message; it will be checked again");
            let (code, remark) = super::send::store_error(e);
            return Ok(Some(req.reply(code, Some(remark))));
        }
        debug!(topic = %real.topic, queue = real.queue_id, half_offset, "transaction committed");
    } else {
        debug!(half_offset, "transaction rolled back");
    }
    if let Err(e) = transaction::write_op_marker(state, half_offset) {
        // The commit stands; without its marker the half message is checked again later.
        warn!(error = %e, half_offset, "cannot write the transaction op marker");
        let (code, remark) = super::send::store_error(e);
        return Ok(Some(req.reply(code, Some(remark))));
    }
    Ok(Some(req.reply(ResponseCode::SUCCESS, None)))
}
