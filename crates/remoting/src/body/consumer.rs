//! Client-group bodies: `ConsumerIdList` (GET_CONSUMER_LIST_BY_GROUP reply),
//! `ConsumerConnection` (GET_CONSUMER_CONNECTION_LIST reply), `ProducerConnection`
//! (GET_PRODUCER_CONNECTION_LIST reply) and the LOCK_BATCH_MQ / UNLOCK_BATCH_MQ bodies.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::heartbeat::{ConsumeFromWhere, ConsumeType, MessageModel, SubscriptionData};
use super::message_queue::MessageQueue;
use super::JsonBody;

/// Client ids heart-beating in a group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerIdList {
    /// Client ids.
    pub consumer_id_list: Vec<String>,
}

impl JsonBody for ConsumerIdList {}

/// One client connection as the broker sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Connection {
    /// Remote `ip:port`.
    pub client_addr: String,
    /// Client id.
    pub client_id: String,
    /// `LanguageCode` name, e.g. `JAVA`.
    pub language: String,
    /// The client's version ordinal.
    pub version: i32,
}

/// Who is connected in a consumer group and what it subscribes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerConnection {
    /// Connections.
    pub connection_set: BTreeSet<Connection>,
    /// Where the group starts without an offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_from_where: Option<ConsumeFromWhere>,
    /// Pull or push.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_type: Option<ConsumeType>,
    /// Clustering or broadcasting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_model: Option<MessageModel>,
    /// Topic → subscription.
    pub subscription_table: BTreeMap<String, SubscriptionData>,
}

impl JsonBody for ConsumerConnection {}

/// Who is connected in a producer group (`{"connectionSet":[...]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerConnection {
    /// Connections.
    pub connection_set: BTreeSet<Connection>,
}

impl JsonBody for ProducerConnection {}

/// LOCK_BATCH_MQ request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LockBatchRequestBody {
    /// Client asking for the locks.
    pub client_id: String,
    /// Its consumer group.
    pub consumer_group: String,
    /// Queues to lock.
    pub mq_set: BTreeSet<MessageQueue>,
    /// Lock only on this broker (no effect on a single broker).
    pub only_this_broker: bool,
}

impl JsonBody for LockBatchRequestBody {}

/// LOCK_BATCH_MQ reply body: the queues the client now holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LockBatchResponseBody {
    /// Queues locked by the client.
    #[serde(rename = "lockOKMQSet")]
    pub lock_ok_mq_set: BTreeSet<MessageQueue>,
}

impl JsonBody for LockBatchResponseBody {}

/// UNLOCK_BATCH_MQ request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UnlockBatchRequestBody {
    /// Client releasing the locks.
    pub client_id: String,
    /// Its consumer group.
    pub consumer_group: String,
    /// Queues to unlock.
    pub mq_set: BTreeSet<MessageQueue>,
    /// Unlock only on this broker.
    pub only_this_broker: bool,
}

impl JsonBody for UnlockBatchRequestBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_id_list_from_transcript() {
        let body = br#"{"consumerIdList":["192.0.2.2@2136#1305452214139"]}"#;
        let list = ConsumerIdList::decode(body).unwrap();
        assert_eq!(
            list.consumer_id_list,
            vec!["192.0.2.2@2136#1305452214139".to_string()]
        );
        assert_eq!(list.to_json().as_bytes(), body);
    }

    #[test]
    fn lock_bodies_match_protocol_md() {
        let req = LockBatchRequestBody::decode(
            br#"{"clientId":"c1","consumerGroup":"g","mqSet":[{"brokerName":"b","queueId":0,"topic":"T"}]}"#,
        )
        .unwrap();
        assert_eq!(req.mq_set.iter().next(), Some(&MessageQueue::new("T", "b", 0)));
        assert!(!req.only_this_broker);
        assert_eq!(LockBatchRequestBody::decode(&req.encode()).unwrap(), req);
        let resp = LockBatchResponseBody {
            lock_ok_mq_set: req.mq_set.clone(),
        };
        assert_eq!(
            resp.to_json(),
            r#"{"lockOKMQSet":[{"brokerName":"b","queueId":0,"topic":"T"}]}"#
        );
        assert_eq!(LockBatchResponseBody::decode(&resp.encode()).unwrap(), resp);
        let unlock = UnlockBatchRequestBody {
            client_id: "c1".into(),
            consumer_group: "g".into(),
            mq_set: req.mq_set,
            only_this_broker: true,
        };
        assert_eq!(UnlockBatchRequestBody::decode(&unlock.encode()).unwrap(), unlock);
    }

    #[test]
    fn consumer_connection_round_trips() {
        let mut cc = ConsumerConnection {
            consume_type: Some(ConsumeType::CONSUME_PASSIVELY),
            message_model: Some(MessageModel::CLUSTERING),
            consume_from_where: Some(ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET),
            ..Default::default()
        };
        cc.connection_set.insert(Connection {
            client_addr: "127.0.0.1:5555".into(),
            client_id: "c1".into(),
            language: "JAVA".into(),
            version: 407,
        });
        cc.subscription_table
            .insert("T".into(), SubscriptionData::tag("T", "*", 1));
        let text = cc.to_json();
        assert!(text.contains(r#""connectionSet":[{"clientAddr":"127.0.0.1:5555","clientId":"c1","language":"JAVA","version":407}]"#), "{text}");
        assert_eq!(ConsumerConnection::decode(text.as_bytes()).unwrap(), cc);
        assert_eq!(
            ConsumerConnection::default().to_json(),
            r#"{"connectionSet":[],"subscriptionTable":{}}"#
        );
    }

    #[test]
    fn producer_connection_round_trips() {
        let text = r#"{"connectionSet":[{"clientAddr":"127.0.0.1:6000","clientId":"p1","language":"JAVA","version":409}]}"#;
        let pc = ProducerConnection::decode(text.as_bytes()).unwrap();
        assert_eq!(pc.connection_set.len(), 1);
        assert_eq!(pc.to_json(), text);
        assert_eq!(ProducerConnection::default().to_json(), r#"{"connectionSet":[]}"#);
    }
}
