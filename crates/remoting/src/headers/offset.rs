//! Offset headers (protocol.md §2.4): consumer offsets, queue min/max offsets, search by time,
//! earliest store time and view-by-offset.

use crate::command_header;
use crate::header::EmptyHeader;

command_header! {
    /// QUERY_CONSUMER_OFFSET (14) request.
    pub struct QueryConsumerOffsetRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// Broker name (4.9.5+ clients).
        bname: Option<String> = "bname",
    }
}

command_header! {
    /// QUERY_CONSUMER_OFFSET response.
    pub struct QueryConsumerOffsetResponseHeader {
        /// The stored offset.
        offset: i64 = "offset",
    }
}

command_header! {
    /// UPDATE_CONSUMER_OFFSET (15) request (Java clients send it one-way).
    pub struct UpdateConsumerOffsetRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// Offset to store.
        commit_offset: i64 = "commitOffset",
        /// Broker name (4.9.5+ clients).
        bname: Option<String> = "bname",
    }
}

command_header! {
    /// GET_MAX_OFFSET (30) request.
    pub struct GetMaxOffsetRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// Broker name (4.9.5+ clients).
        bname: Option<String> = "bname",
    }
}

command_header! {
    /// GET_MAX_OFFSET response.
    pub struct GetMaxOffsetResponseHeader {
        /// Next logical offset to be written.
        offset: i64 = "offset",
    }
}

command_header! {
    /// GET_MIN_OFFSET (31) request.
    pub struct GetMinOffsetRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// Broker name (4.9.5+ clients).
        bname: Option<String> = "bname",
    }
}

command_header! {
    /// GET_MIN_OFFSET response.
    pub struct GetMinOffsetResponseHeader {
        /// First retained logical offset.
        offset: i64 = "offset",
    }
}

command_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29) request.
    pub struct SearchOffsetRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// Store timestamp to look for, ms.
        timestamp: i64 = "timestamp",
        /// Broker name (4.9.5+ clients).
        bname: Option<String> = "bname",
    }
}

command_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP response.
    pub struct SearchOffsetResponseHeader {
        /// The offset found.
        offset: i64 = "offset",
    }
}

command_header! {
    /// GET_EARLIEST_MSG_STORETIME (32) request.
    pub struct GetEarliestMsgStoretimeRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// Broker name (4.9.5+ clients).
        bname: Option<String> = "bname",
    }
}

command_header! {
    /// GET_EARLIEST_MSG_STORETIME response.
    pub struct GetEarliestMsgStoretimeResponseHeader {
        /// Store timestamp of the first retained message, ms.
        timestamp: i64 = "timestamp",
    }
}

command_header! {
    /// VIEW_MESSAGE_BY_ID (33) request; the reply body is the raw commit-log record.
    pub struct ViewMessageRequestHeader {
        /// Commit-log physical offset.
        offset: i64 = "offset",
    }
}

rpc_request! {
    QueryConsumerOffsetRequestHeader => QUERY_CONSUMER_OFFSET, QueryConsumerOffsetResponseHeader;
    UpdateConsumerOffsetRequestHeader => UPDATE_CONSUMER_OFFSET, EmptyHeader;
    GetMaxOffsetRequestHeader => GET_MAX_OFFSET, GetMaxOffsetResponseHeader;
    GetMinOffsetRequestHeader => GET_MIN_OFFSET, GetMinOffsetResponseHeader;
    SearchOffsetRequestHeader => SEARCH_OFFSET_BY_TIMESTAMP, SearchOffsetResponseHeader;
    GetEarliestMsgStoretimeRequestHeader => GET_EARLIEST_MSG_STORETIME, GetEarliestMsgStoretimeResponseHeader;
    ViewMessageRequestHeader => VIEW_MESSAGE_BY_ID, EmptyHeader;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{CommandHeader, RpcRequest};
    use crate::headers::test_util::{ext, round_trip};

    #[test]
    fn decodes_transcript_query_offset_with_bname() {
        let fields = ext(&[
            ("queueId", "3"),
            ("bname", "broker-a"),
            ("topic", "TopicGolden"),
            ("consumerGroup", "interop_java_consumer"),
        ]);
        let h = QueryConsumerOffsetRequestHeader::from_ext_fields(&fields).unwrap();
        assert_eq!(h.queue_id, 3);
        assert_eq!(h.bname.as_deref(), Some("broker-a"));
        assert_eq!(h.to_ext_fields(), fields);
        let resp = QueryConsumerOffsetResponseHeader::from_ext_fields(&ext(&[("offset", "0")])).unwrap();
        assert_eq!(resp.offset, 0);
    }

    #[test]
    fn all_round_trip() {
        round_trip(&UpdateConsumerOffsetRequestHeader {
            consumer_group: "g".into(),
            topic: "T".into(),
            queue_id: 1,
            commit_offset: 42,
            bname: None,
        });
        round_trip(&GetMaxOffsetRequestHeader {
            topic: "T".into(),
            queue_id: 0,
            bname: Some("b".into()),
        });
        round_trip(&GetMaxOffsetResponseHeader { offset: i64::MAX });
        round_trip(&GetMinOffsetRequestHeader {
            topic: "T".into(),
            queue_id: 7,
            bname: None,
        });
        round_trip(&GetMinOffsetResponseHeader { offset: -1 });
        round_trip(&SearchOffsetRequestHeader {
            topic: "T".into(),
            queue_id: 0,
            timestamp: 1_700_000_000_000,
            bname: None,
        });
        round_trip(&SearchOffsetResponseHeader { offset: 3 });
        round_trip(&GetEarliestMsgStoretimeRequestHeader {
            topic: "T".into(),
            queue_id: 0,
            bname: None,
        });
        round_trip(&GetEarliestMsgStoretimeResponseHeader { timestamp: 5 });
        round_trip(&ViewMessageRequestHeader { offset: 50000 });
        assert_eq!(UpdateConsumerOffsetRequestHeader::CODE.code(), 15);
        assert_eq!(ViewMessageRequestHeader::CODE.code(), 33);
        assert_eq!(SearchOffsetRequestHeader::CODE.code(), 29);
    }
}
