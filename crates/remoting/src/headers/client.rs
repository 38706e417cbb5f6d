//! Client ⇄ broker management headers (protocol.md §2.4): heartbeat, unregister, consumer list,
//! consumer-ids-changed notification, send-back of failed messages and queue locks. Heartbeats and
//! lock requests carry their payload in the body, so their headers are empty.

use crate::command_header;
use crate::header::EmptyHeader;

command_header! {
    /// HEART_BEAT (34) request: no fields; the body is `HeartbeatData`.
    pub struct HeartbeatRequestHeader {}
}

command_header! {
    /// UNREGISTER_CLIENT (35) request.
    pub struct UnregisterClientRequestHeader {
        /// Client id `ip@instance`.
        client_id: String = "clientID",
        /// Producer group being left.
        producer_group: Option<String> = "producerGroup",
        /// Consumer group being left.
        consumer_group: Option<String> = "consumerGroup",
    }
}

command_header! {
    /// GET_CONSUMER_LIST_BY_GROUP (38) request; the reply body is `ConsumerIdList`.
    pub struct GetConsumerListByGroupRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
    }
}

command_header! {
    /// NOTIFY_CONSUMER_IDS_CHANGED (40), broker → client, one-way.
    pub struct NotifyConsumerIdsChangedRequestHeader {
        /// Consumer group whose members changed.
        consumer_group: String = "consumerGroup",
    }
}

command_header! {
    /// CONSUMER_SEND_MSG_BACK (36) request.
    pub struct ConsumerSendMsgBackRequestHeader {
        /// Commit-log physical offset of the failed message.
        offset: i64 = "offset",
        /// Consumer group.
        group: String = "group",
        /// Delay level; 0 lets the broker choose, < 0 sends straight to the DLQ.
        delay_level: i32 = "delayLevel",
        /// Original msgId.
        origin_msg_id: Option<String> = "originMsgId",
        /// Original topic.
        origin_topic: Option<String> = "originTopic",
        /// Unit mode (Java default false).
        unit_mode: Option<bool> = "unitMode",
        /// Max reconsume count (client setting).
        max_reconsume_times: Option<i32> = "maxReconsumeTimes",
    }
}

command_header! {
    /// LOCK_BATCH_MQ (41) request: no fields; the body is `LockBatchRequestBody`.
    pub struct LockBatchMqRequestHeader {}
}

command_header! {
    /// UNLOCK_BATCH_MQ (42) request: no fields; the body is `UnlockBatchRequestBody`.
    pub struct UnlockBatchMqRequestHeader {}
}

rpc_request! {
    HeartbeatRequestHeader => HEART_BEAT, EmptyHeader;
    UnregisterClientRequestHeader => UNREGISTER_CLIENT, EmptyHeader;
    GetConsumerListByGroupRequestHeader => GET_CONSUMER_LIST_BY_GROUP, EmptyHeader;
    NotifyConsumerIdsChangedRequestHeader => NOTIFY_CONSUMER_IDS_CHANGED, EmptyHeader;
    ConsumerSendMsgBackRequestHeader => CONSUMER_SEND_MSG_BACK, EmptyHeader;
    LockBatchMqRequestHeader => LOCK_BATCH_MQ, EmptyHeader;
    UnlockBatchMqRequestHeader => UNLOCK_BATCH_MQ, EmptyHeader;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{CommandHeader, HeaderError, RpcRequest};
    use crate::headers::test_util::{ext, round_trip};

    #[test]
    fn decodes_transcript_client_requests() {
        let unregister = ext(&[
            ("producerGroup", "interop_java_producer"),
            ("clientID", "192.0.2.2@2048#1301800409190"),
        ]);
        let h = UnregisterClientRequestHeader::from_ext_fields(&unregister).unwrap();
        assert_eq!(h.client_id, "192.0.2.2@2048#1301800409190");
        assert_eq!(h.producer_group.as_deref(), Some("interop_java_producer"));
        assert_eq!(h.consumer_group, None);
        assert_eq!(h.to_ext_fields(), unregister);
        let notify = ext(&[("consumerGroup", "interop_java_consumer")]);
        let n = NotifyConsumerIdsChangedRequestHeader::from_ext_fields(&notify).unwrap();
        assert_eq!(n.consumer_group, "interop_java_consumer");
        let list = GetConsumerListByGroupRequestHeader::from_ext_fields(&notify).unwrap();
        assert_eq!(list.consumer_group, "interop_java_consumer");
        assert_eq!(
            UnregisterClientRequestHeader::from_ext_fields(&ext(&[])),
            Err(HeaderError::Missing("clientID"))
        );
    }

    #[test]
    fn send_back_round_trips() {
        round_trip(&ConsumerSendMsgBackRequestHeader {
            offset: 1234,
            group: "g".into(),
            delay_level: 0,
            origin_msg_id: Some("ABC".into()),
            origin_topic: Some("T".into()),
            unit_mode: Some(false),
            max_reconsume_times: Some(16),
        });
        assert_eq!(ConsumerSendMsgBackRequestHeader::CODE.code(), 36);
    }

    #[test]
    fn empty_headers() {
        assert!(HeartbeatRequestHeader {}.to_ext_fields().is_empty());
        assert_eq!(HeartbeatRequestHeader::CODE.code(), 34);
        assert_eq!(LockBatchMqRequestHeader::CODE.code(), 41);
        assert_eq!(UnlockBatchMqRequestHeader::CODE.code(), 42);
        round_trip(&LockBatchMqRequestHeader {});
    }
}
