//! Admin ⇄ broker headers (protocol.md §2.5) and the slave-sync requests (§5.4): topic creation
//! and deletion, subscription-group creation and deletion, stats, consumer progress, consumer and
//! producer connections, broker config and runtime info, and the whole-table fetches a slave makes
//! every 10 s.

use crate::command_header;
use crate::header::EmptyHeader;

command_header! {
    /// UPDATE_AND_CREATE_TOPIC (17) request (Java `CreateTopicRequestHeader`).
    pub struct CreateTopicRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// Template topic (TBW102).
        default_topic: String = "defaultTopic",
        /// Readable queues.
        read_queue_nums: i32 = "readQueueNums",
        /// Writable queues.
        write_queue_nums: i32 = "writeQueueNums",
        /// Permission bits.
        perm: i32 = "perm",
        /// `SINGLE_TAG` or `MULTI_TAG`.
        topic_filter_type: String = "topicFilterType",
        /// Topic system flag.
        topic_sys_flag: Option<i32> = "topicSysFlag",
        /// Ordered topic.
        order: bool = "order",
    }
}

/// The name the request code gives this header.
pub type UpdateAndCreateTopicRequestHeader = CreateTopicRequestHeader;

command_header! {
    /// DELETE_TOPIC_IN_BROKER (215) request (Java `DeleteTopicRequestHeader`).
    pub struct DeleteTopicInBrokerRequestHeader {
        /// Topic.
        topic: String = "topic",
    }
}

command_header! {
    /// GET_TOPIC_STATS_INFO (202) request; the reply body is `TopicStatsTable`.
    pub struct GetTopicStatsInfoRequestHeader {
        /// Topic.
        topic: String = "topic",
    }
}

command_header! {
    /// GET_CONSUME_STATS (208) request; the reply body is `ConsumeStats`.
    pub struct GetConsumeStatsRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Topic; blank means every topic the group has offsets for.
        topic: Option<String> = "topic",
    }
}

command_header! {
    /// GET_CONSUMER_CONNECTION_LIST (203) request; the reply body is `ConsumerConnection`.
    pub struct GetConsumerConnectionListRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
    }
}

command_header! {
    /// GET_BROKER_CONFIG (26) request: no fields; the reply body is Java properties text.
    pub struct GetBrokerConfigRequestHeader {}
}

command_header! {
    /// GET_BROKER_CONFIG response.
    pub struct GetBrokerConfigResponseHeader {
        /// DataVersion JSON of the broker config.
        version: String = "version",
    }
}

command_header! {
    /// UPDATE_BROKER_CONFIG (25) request: no fields; the body is Java properties text.
    pub struct UpdateBrokerConfigRequestHeader {}
}

command_header! {
    /// GET_BROKER_RUNTIME_INFO (28) request: no fields; the reply body is a `KvTable`.
    pub struct GetBrokerRuntimeInfoRequestHeader {}
}

command_header! {
    /// GET_ALL_TOPIC_CONFIG (21) request: no fields; the reply body is a
    /// `TopicConfigSerializeWrapper`.
    pub struct GetAllTopicConfigRequestHeader {}
}

command_header! {
    /// GET_ALL_CONSUMER_OFFSET (43) request (slave sync): the reply body is a
    /// `ConsumerOffsetSerializeWrapper`.
    pub struct GetAllConsumerOffsetRequestHeader {}
}

command_header! {
    /// GET_ALL_DELAY_OFFSET (45) request (slave sync): the reply body is the delayOffset.json text.
    pub struct GetAllDelayOffsetRequestHeader {}
}

command_header! {
    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) request (slave sync): the reply body is a
    /// `SubscriptionGroupWrapper`.
    pub struct GetAllSubscriptionGroupConfigRequestHeader {}
}

command_header! {
    /// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200) request: no fields; the body is the
    /// `SubscriptionGroupConfig` JSON.
    pub struct UpdateAndCreateSubscriptionGroupRequestHeader {}
}

command_header! {
    /// DELETE_SUBSCRIPTIONGROUP (207) request (Java `DeleteSubscriptionGroupRequestHeader`).
    pub struct DeleteSubscriptionGroupRequestHeader {
        /// Group to delete.
        group_name: String = "groupName",
        /// Also drop the group's consumer offsets (sent by newer tools; absent means false).
        remove_offset: Option<bool> = "removeOffset",
    }
}

command_header! {
    /// GET_PRODUCER_CONNECTION_LIST (204) request; the reply body is `ProducerConnection`.
    pub struct GetProducerConnectionListRequestHeader {
        /// Producer group.
        producer_group: String = "producerGroup",
    }
}

command_header! {
    /// CONSUME_MESSAGE_DIRECTLY (309) (Java `ConsumeMessageDirectlyResultRequestHeader`): admin →
    /// broker, which adds `brokerName`, puts the message in the body and passes it on to the
    /// consumer `clientId` of the group; the reply body is `ConsumeMessageDirectlyResult`.
    pub struct ConsumeMessageDirectlyResultRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// The consumer's client id (`ip@instance`).
        client_id: Option<String> = "clientId",
        /// Offset message id of the message to consume.
        msg_id: Option<String> = "msgId",
        /// Set by the broker before it forwards the request.
        broker_name: Option<String> = "brokerName",
    }
}

rpc_request! {
    ConsumeMessageDirectlyResultRequestHeader => CONSUME_MESSAGE_DIRECTLY, EmptyHeader;
    CreateTopicRequestHeader => UPDATE_AND_CREATE_TOPIC, EmptyHeader;
    DeleteTopicInBrokerRequestHeader => DELETE_TOPIC_IN_BROKER, EmptyHeader;
    GetTopicStatsInfoRequestHeader => GET_TOPIC_STATS_INFO, EmptyHeader;
    GetConsumeStatsRequestHeader => GET_CONSUME_STATS, EmptyHeader;
    GetConsumerConnectionListRequestHeader => GET_CONSUMER_CONNECTION_LIST, EmptyHeader;
    GetBrokerConfigRequestHeader => GET_BROKER_CONFIG, GetBrokerConfigResponseHeader;
    UpdateBrokerConfigRequestHeader => UPDATE_BROKER_CONFIG, EmptyHeader;
    GetBrokerRuntimeInfoRequestHeader => GET_BROKER_RUNTIME_INFO, EmptyHeader;
    GetAllTopicConfigRequestHeader => GET_ALL_TOPIC_CONFIG, EmptyHeader;
    GetAllConsumerOffsetRequestHeader => GET_ALL_CONSUMER_OFFSET, EmptyHeader;
    GetAllDelayOffsetRequestHeader => GET_ALL_DELAY_OFFSET, EmptyHeader;
    GetAllSubscriptionGroupConfigRequestHeader => GET_ALL_SUBSCRIPTIONGROUP_CONFIG, EmptyHeader;
    UpdateAndCreateSubscriptionGroupRequestHeader => UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, EmptyHeader;
    DeleteSubscriptionGroupRequestHeader => DELETE_SUBSCRIPTIONGROUP, EmptyHeader;
    GetProducerConnectionListRequestHeader => GET_PRODUCER_CONNECTION_LIST, EmptyHeader;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{CommandHeader, HeaderError, RpcRequest};
    use crate::headers::test_util::{ext, round_trip};

    #[test]
    fn create_topic_as_mqadmin_sends_it() {
        let fields = ext(&[
            ("topic", "TopicTest"),
            ("defaultTopic", "TBW102"),
            ("readQueueNums", "8"),
            ("writeQueueNums", "8"),
            ("perm", "6"),
            ("topicFilterType", "SINGLE_TAG"),
            ("topicSysFlag", "0"),
            ("order", "false"),
        ]);
        let h = CreateTopicRequestHeader::from_ext_fields(&fields).unwrap();
        assert_eq!((h.read_queue_nums, h.write_queue_nums, h.perm), (8, 8, 6));
        assert!(!h.order);
        assert_eq!(h.to_ext_fields(), fields);
        assert_eq!(UpdateAndCreateTopicRequestHeader::CODE.code(), 17);
        let mut missing = fields.clone();
        missing.remove("order");
        assert_eq!(
            CreateTopicRequestHeader::from_ext_fields(&missing),
            Err(HeaderError::Missing("order"))
        );
    }

    #[test]
    fn others_round_trip() {
        round_trip(&DeleteTopicInBrokerRequestHeader { topic: "T".into() });
        round_trip(&GetTopicStatsInfoRequestHeader { topic: "T".into() });
        round_trip(&GetConsumeStatsRequestHeader {
            consumer_group: "g".into(),
            topic: None,
        });
        round_trip(&GetConsumeStatsRequestHeader {
            consumer_group: "g".into(),
            topic: Some("T".into()),
        });
        round_trip(&GetConsumerConnectionListRequestHeader {
            consumer_group: "g".into(),
        });
        round_trip(&GetBrokerConfigResponseHeader {
            version: r#"{"counter":1,"timestamp":2}"#.into(),
        });
        assert_eq!(GetBrokerConfigRequestHeader::CODE.code(), 26);
        assert_eq!(GetBrokerRuntimeInfoRequestHeader::CODE.code(), 28);
        assert_eq!(GetAllTopicConfigRequestHeader::CODE.code(), 21);
        assert_eq!(GetAllConsumerOffsetRequestHeader::CODE.code(), 43);
        assert_eq!(GetAllDelayOffsetRequestHeader::CODE.code(), 45);
        assert_eq!(GetAllSubscriptionGroupConfigRequestHeader::CODE.code(), 201);
        assert_eq!(DeleteTopicInBrokerRequestHeader::CODE.code(), 215);
    }

    #[test]
    fn subscription_group_and_producer_headers() {
        assert_eq!(UpdateAndCreateSubscriptionGroupRequestHeader::CODE.code(), 200);
        assert_eq!(DeleteSubscriptionGroupRequestHeader::CODE.code(), 207);
        assert_eq!(GetProducerConnectionListRequestHeader::CODE.code(), 204);
        // 4.9.8's mqadmin sends only the name; newer tools add removeOffset.
        let old = DeleteSubscriptionGroupRequestHeader::from_ext_fields(&ext(&[("groupName", "g")])).unwrap();
        assert_eq!(old.remove_offset, None);
        let new = DeleteSubscriptionGroupRequestHeader::from_ext_fields(&ext(&[
            ("groupName", "g"),
            ("removeOffset", "true"),
        ]))
        .unwrap();
        assert_eq!(new.remove_offset, Some(true));
        round_trip(&new);
        assert_eq!(
            DeleteSubscriptionGroupRequestHeader::from_ext_fields(&ext(&[])),
            Err(HeaderError::Missing("groupName"))
        );
        round_trip(&GetProducerConnectionListRequestHeader {
            producer_group: "pg".into(),
        });
    }
}
