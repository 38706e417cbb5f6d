//! QUERY_MESSAGE (12) headers: look messages up by key (or unique key) and store-time range
//! (features.md §2.6).

use crate::command_header;

/// The extField a unique-key query sets to `"true"` (Java clients always send it).
pub const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";

command_header! {
    /// QUERY_MESSAGE (12) request. The reply body is the found records back to back.
    pub struct QueryMessageRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// A KEYS token or a UNIQ_KEY.
        key: String = "key",
        /// Most records wanted (the broker caps it at `maxMsgsNumBatch`).
        max_num: i32 = "maxNum",
        /// Earliest store time, ms.
        begin_timestamp: i64 = "beginTimestamp",
        /// Latest store time, ms.
        end_timestamp: i64 = "endTimestamp",
        /// `"true"`: a unique-key query (`maxNum` becomes the broker's `defaultQueryMaxNum`).
        unique_key_query: Option<bool> = "_UNIQUE_KEY_QUERY",
    }
}

command_header! {
    /// QUERY_MESSAGE response header, present on SUCCESS and QUERY_NOT_FOUND alike.
    pub struct QueryMessageResponseHeader {
        /// Store time of the broker's newest index entry.
        index_last_update_timestamp: i64 = "indexLastUpdateTimestamp",
        /// Commit-log offset of the broker's newest index entry.
        index_last_update_phyoffset: i64 = "indexLastUpdatePhyoffset",
    }
}

rpc_request! {
    QueryMessageRequestHeader => QUERY_MESSAGE, QueryMessageResponseHeader;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{CommandHeader, RpcRequest};
    use crate::headers::test_util::{ext, round_trip};

    #[test]
    fn decodes_what_a_java_client_sends() {
        let fields = ext(&[
            ("topic", "TopicTest"),
            ("key", "order-1"),
            ("maxNum", "64"),
            ("beginTimestamp", "0"),
            ("endTimestamp", "9223372036854775807"),
            ("_UNIQUE_KEY_QUERY", "false"),
        ]);
        let h = QueryMessageRequestHeader::from_ext_fields(&fields).unwrap();
        assert_eq!(
            (h.max_num, h.end_timestamp, h.unique_key_query),
            (64, i64::MAX, Some(false))
        );
        assert_eq!(h.to_ext_fields(), fields);
        assert_eq!(QueryMessageRequestHeader::CODE.code(), 12);
        round_trip(&QueryMessageResponseHeader {
            index_last_update_timestamp: 1_700_000_000_000,
            index_last_update_phyoffset: 4096,
        });
        let missing = ext(&[
            ("topic", "T"),
            ("key", "k"),
            ("maxNum", "1"),
            ("beginTimestamp", "0"),
        ]);
        assert!(QueryMessageRequestHeader::from_ext_fields(&missing).is_err());
    }
}
