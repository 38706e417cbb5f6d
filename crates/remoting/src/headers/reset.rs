//! Reset-offset headers (protocol.md §2.4): INVOKE_BROKER_TO_RESET_OFFSET (222, tool → broker)
//! and RESET_CONSUMER_CLIENT_OFFSET (220, broker → each consumer of the group, one-way). Both
//! carry Java's `ResetOffsetRequestHeader`; the offsets travel in a `ResetOffsetBody`.

use crate::command_header;
use crate::header::EmptyHeader;

command_header! {
    /// `ResetOffsetRequestHeader`, the header of codes 222 and 220.
    pub struct ResetOffsetRequestHeader {
        /// Topic whose offsets move.
        topic: String = "topic",
        /// Consumer group.
        group: String = "group",
        /// Store time to move to, ms since the epoch; -1 means the end of each queue.
        timestamp: i64 = "timestamp",
        /// Move offsets forward too (false: only back, where the time is before the offset).
        is_force: bool = "isForce",
    }
}

rpc_request! {
    ResetOffsetRequestHeader => INVOKE_BROKER_TO_RESET_OFFSET, EmptyHeader;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{CommandHeader, HeaderError};
    use crate::headers::test_util::{ext, round_trip};

    #[test]
    fn java_field_names_and_round_trip() {
        let h = ResetOffsetRequestHeader::from_ext_fields(&ext(&[
            ("topic", "T"),
            ("group", "g"),
            ("timestamp", "1700000000000"),
            ("isForce", "true"),
        ]))
        .unwrap();
        assert_eq!(h.timestamp, 1_700_000_000_000);
        assert!(h.is_force);
        round_trip(&h);
        assert_eq!(
            ResetOffsetRequestHeader::from_ext_fields(&ext(&[("topic", "T"), ("group", "g")])),
            Err(HeaderError::Missing("timestamp"))
        );
    }
}
