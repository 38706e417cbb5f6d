//! Transactional messages (features.md §1), the broker half.
//!
//! ```text
//!  SEND TRAN_MSG=true ──> RMQ_SYS_TRANS_HALF_TOPIC q0   (REAL_TOPIC, REAL_QID kept; txn bits 0)
//!  END_TRANSACTION 8  ──> <REAL_TOPIC> q<REAL_QID>       (commit record, sysFlag txn bits = 8)
//!                     └─> RMQ_SYS_TRANS_OP_HALF_TOPIC q0 (body "<half queue offset>", TAGS=d)
//!  END_TRANSACTION 12 ──> op marker only
//!  check round        ──> half copy (TRANSACTION_CHECK_TIMES + 1) + CHECK_TRANSACTION_STATE
//!                     └─> after transactionCheckMax checks: TRANS_CHECK_MAX_TIME_TOPIC q0
//! ```
//!
//! Invariants: a half message has an entry only in the half queue, so no consumer of its real
//! topic can see it; its real topic gets an entry only from the commit record. Every settled half
//! message (commit or rollback) has an op marker, and both live in the commit log, so a restarted
//! broker rebuilds what is settled by reading the op queue from the `CID_RMQ_SYS_TRANS` offset.
//!
//! [`park`] rewrites a send into its half record, [`commit_record`] builds the real message back
//! from it, [`write_op_marker`] settles it; [`check`] runs the check-back rounds.

pub mod book;
pub mod check;
pub mod op;

pub use book::TransactionBook;

use bytes::Bytes;
use rmq_remoting::message::properties::{self, keys};
use rmq_remoting::message::{sys_flag, MessageRecord};

use crate::msg::rewrite_properties;
use crate::state::{now_ms, BrokerState};
use crate::store::{AppendResult, StoreError};
use crate::topics::perm;

/// Where half messages wait (queue 0).
pub const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Where settled half messages are recorded (queue 0).
pub const OP_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Where half messages go after `transactionCheckMax` checks; nobody consumes it.
pub const CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// The group whose offsets record how far the half and op queues are processed.
pub const SYS_TRANS_GROUP: &str = "CID_RMQ_SYS_TRANS";
/// The op marker's tag.
pub const OP_TAG: &str = "d";

/// Whether a send is a half message: `TRAN_MSG=true`, or the prepared sysFlag bit.
pub fn is_half_send(sys_flag_bits: i32, raw_properties: Option<&str>) -> bool {
    sys_flag::transaction_type(sys_flag_bits) == sys_flag::TRANSACTION_PREPARED
        || raw_properties.and_then(|p| properties::find(p, keys::TRAN_MSG)) == Some("true")
}

/// Rewrites `record` (already carrying its stored properties) into its half record: half topic,
/// queue 0, `REAL_TOPIC`/`REAL_QID` added, transaction bits of sysFlag cleared.
pub fn park(record: &mut MessageRecord) {
    let qid = record.queue_id.to_string();
    record.properties = rewrite_properties(
        &record.properties,
        &[],
        &[(keys::REAL_TOPIC, &record.topic), (keys::REAL_QID, &qid)],
    );
    record.topic = HALF_TOPIC.to_string();
    record.queue_id = 0;
    record.sys_flag &= !sys_flag::TRANSACTION_MASK;
}

/// The committed message built from a half record: its real topic and queue, transaction bits
/// 8, `PREPARED TRANSACTION OFFSET` = the half record's commit-log offset. The properties are
/// kept as stored (as Apache serializes them before removing `REAL_*`/`TRAN_MSG`), so consumers
/// see `TRAN_MSG`, `PGROUP`, `REAL_TOPIC` and `REAL_QID`. `None` when `REAL_*` are missing.
pub fn commit_record(state: &BrokerState, half: MessageRecord) -> Option<MessageRecord> {
    let topic = half.property(keys::REAL_TOPIC)?.to_string();
    let queue_id = half.property(keys::REAL_QID)?.parse::<i32>().ok()?;
    Some(MessageRecord {
        topic,
        queue_id,
        sys_flag: (half.sys_flag & !sys_flag::TRANSACTION_MASK) | sys_flag::TRANSACTION_COMMIT,
        prepared_transaction_offset: half.physical_offset,
        store_host: state.store_host,
        queue_offset: 0,
        physical_offset: 0,
        ..half
    })
}

/// A copy of `record` for half queue 0 with `properties`, stored by this broker: body, flag,
/// sysFlag, born time and host and reconsume times as they were (a check's re-park, a resume).
pub fn half_copy(state: &BrokerState, record: &MessageRecord, properties: String) -> MessageRecord {
    MessageRecord {
        topic: HALF_TOPIC.to_string(),
        queue_id: 0,
        properties,
        store_host: state.store_host,
        queue_offset: 0,
        physical_offset: 0,
        ..record.clone()
    }
}

/// Creates a system topic of one queue (read and write) if it is missing, and has the table
/// written and registered when it was created.
pub async fn ensure_system_topic(state: &std::sync::Arc<BrokerState>, topic: &str) {
    let (_, created) = state
        .topics
        .get_or_create(topic, 1, perm::READ | perm::WRITE, now_ms());
    if created {
        tracing::info!(topic, "created transaction system topic");
        crate::tables::persist_topics(state).await;
        state.request_register();
    }
}

/// Records that the half message at `half_offset` is settled (commit or rollback).
pub fn write_op_marker(state: &BrokerState, half_offset: u64) -> Result<AppendResult, StoreError> {
    let props = [
        (keys::TAGS, OP_TAG.to_string()),
        (keys::WAIT, "true".to_string()),
        (keys::UNIQ_KEY, state.transactions.next_id(now_ms())),
    ];
    let props: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let record = MessageRecord {
        topic: OP_TOPIC.to_string(),
        queue_id: 0,
        body: Bytes::from(half_offset.to_string()),
        born_timestamp: now_ms(),
        born_host: state.store_host,
        store_host: state.store_host,
        properties: rewrite_properties("", &[], &props),
        ..MessageRecord::default()
    };
    let r = state.store.append(&record)?;
    state.notify_appended();
    Ok(r)
}

/// Reads the record at `physical_offset` (a half message named by END_TRANSACTION or a check).
pub fn read_half(state: &BrokerState, physical_offset: i64) -> Option<MessageRecord> {
    let bytes = state.store.read_record(u64::try_from(physical_offset).ok()?)?;
    MessageRecord::decode_bytes(&bytes, false).ok().map(|(r, _)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn half_send() -> MessageRecord {
        MessageRecord {
            topic: "T".into(),
            queue_id: 3,
            sys_flag: sys_flag::TRANSACTION_PREPARED | sys_flag::COMPRESSED,
            properties: "TRAN_MSG\u{1}true\u{2}PGROUP\u{1}pg\u{2}WAIT\u{1}true".into(),
            ..MessageRecord::default()
        }
    }

    #[test]
    fn a_half_send_is_recognised_by_property_or_flag() {
        assert!(is_half_send(0, Some("TRAN_MSG\u{1}true")));
        assert!(is_half_send(sys_flag::TRANSACTION_PREPARED, None));
        assert!(!is_half_send(0, Some("TRAN_MSG\u{1}false")));
        assert!(!is_half_send(sys_flag::TRANSACTION_COMMIT, Some("KEYS\u{1}k")));
    }

    #[test]
    fn park_keeps_the_destination_and_clears_the_transaction_bits() {
        let mut r = half_send();
        park(&mut r);
        assert_eq!(r.topic, HALF_TOPIC);
        assert_eq!(r.queue_id, 0);
        assert_eq!(r.sys_flag, sys_flag::COMPRESSED);
        assert_eq!(r.property(keys::REAL_TOPIC), Some("T"));
        assert_eq!(r.property(keys::REAL_QID), Some("3"));
        assert_eq!(r.property(keys::WAIT), Some("true"));
    }
}
