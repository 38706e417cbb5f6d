//! Transaction headers (features.md §1.4, §1.6, §1.7): END_TRANSACTION (37), producer → broker,
//! CHECK_TRANSACTION_STATE (39), broker → producer, and RESUME_CHECK_HALF_MESSAGE (323), admin →
//! broker. The first two travel one-way from Java clients and brokers; none has a reply header.

use crate::command_header;
use crate::header::EmptyHeader;

command_header! {
    /// END_TRANSACTION (37) request (Java `EndTransactionRequestHeader`).
    pub struct EndTransactionRequestHeader {
        /// The producer group that sent the half message (checked against its `PGROUP`).
        producer_group: String = "producerGroup",
        /// Offset of the half message in the half queue.
        tran_state_table_offset: i64 = "tranStateTableOffset",
        /// Commit-log offset of the half message.
        commit_log_offset: i64 = "commitLogOffset",
        /// 0 (unknown), 8 (commit) or 12 (rollback): the sysFlag transaction bits.
        commit_or_rollback: i32 = "commitOrRollback",
        /// True when this answers a CHECK_TRANSACTION_STATE.
        from_transaction_check: Option<bool> = "fromTransactionCheck",
        /// The message's `UNIQ_KEY`.
        msg_id: String = "msgId",
        /// Transaction id (the check header's, when answering a check).
        transaction_id: Option<String> = "transactionId",
        /// Broker name (4.9.5+ clients).
        bname: Option<String> = "bname",
    }
}

command_header! {
    /// CHECK_TRANSACTION_STATE (39), broker → producer, one-way (Java
    /// `CheckTransactionStateRequestHeader`). The body is the half message in record layout, with
    /// its real topic and queue.
    pub struct CheckTransactionStateRequestHeader {
        /// Offset of the checked copy in the half queue.
        tran_state_table_offset: i64 = "tranStateTableOffset",
        /// Commit-log offset of the checked copy.
        commit_log_offset: i64 = "commitLogOffset",
        /// The message's `UNIQ_KEY`.
        msg_id: Option<String> = "msgId",
        /// Transaction id (the broker sends the `UNIQ_KEY`).
        transaction_id: Option<String> = "transactionId",
        /// Offset message id of the checked copy.
        offset_msg_id: Option<String> = "offsetMsgId",
        /// Broker name (newer brokers; a 4.9.7 broker leaves it out).
        bname: Option<String> = "bname",
    }
}

command_header! {
    /// RESUME_CHECK_HALF_MESSAGE (323), admin → broker (Java `ResumeCheckHalfMessageRequestHeader`):
    /// put a half message given up after `transactionCheckMax` checks back into the half queue
    /// with its check count reset to 0.
    pub struct ResumeCheckHalfMessageRequestHeader {
        /// Offset message id of a stored copy (the copy in `TRANS_CHECK_MAX_TIME_TOPIC`, or a
        /// half record).
        msg_id: String = "msgId",
    }
}

rpc_request! {
    EndTransactionRequestHeader => END_TRANSACTION, EmptyHeader;
    CheckTransactionStateRequestHeader => CHECK_TRANSACTION_STATE, EmptyHeader;
    ResumeCheckHalfMessageRequestHeader => RESUME_CHECK_HALF_MESSAGE, EmptyHeader;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::CommandHeader;
    use crate::headers::test_util::{ext, round_trip};

    #[test]
    fn end_transaction_reads_what_java_sends() {
        let h = EndTransactionRequestHeader::from_ext_fields(&ext(&[
            ("producerGroup", "pg"),
            ("tranStateTableOffset", "7"),
            ("commitLogOffset", "1024"),
            ("commitOrRollback", "8"),
            ("fromTransactionCheck", "false"),
            ("msgId", "AC1100"),
        ]))
        .unwrap();
        assert_eq!(h.commit_or_rollback, 8);
        assert_eq!(h.tran_state_table_offset, 7);
        assert_eq!(h.commit_log_offset, 1024);
        assert_eq!(h.from_transaction_check, Some(false));
        assert_eq!(h.transaction_id, None);
        round_trip(&h);
        let missing = EndTransactionRequestHeader::from_ext_fields(&ext(&[("producerGroup", "pg")]));
        assert!(missing.is_err());
    }

    #[test]
    fn check_header_round_trips() {
        round_trip(&CheckTransactionStateRequestHeader {
            tran_state_table_offset: 3,
            commit_log_offset: 99,
            msg_id: Some("U".into()),
            transaction_id: Some("U".into()),
            offset_msg_id: Some("7F0000010000000000000063".into()),
            bname: None,
        });
    }
}
