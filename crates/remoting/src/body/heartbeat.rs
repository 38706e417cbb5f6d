//! `HeartbeatData` (the HEART_BEAT body) with its consumer, producer and subscription entries, and
//! the consumer enums, which travel by their Java names.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::JsonBody;
use crate::message::tags::TagFilter;

/// Expression type of a tag subscription.
pub const EXPRESSION_TYPE_TAG: &str = "TAG";
/// Expression type of an SQL92 subscription.
pub const EXPRESSION_TYPE_SQL92: &str = "SQL92";
/// The subscription expression that matches every tag.
pub const SUB_ALL: &str = "*";

/// Pull (`CONSUME_ACTIVELY`) or push (`CONSUME_PASSIVELY`).
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub enum ConsumeType {
    /// Pull consumer.
    CONSUME_ACTIVELY,
    /// Push consumer.
    #[default]
    CONSUME_PASSIVELY,
}

/// Clustering (queues shared out) or broadcasting (every consumer gets every queue).
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub enum MessageModel {
    /// Every consumer reads every queue.
    BROADCASTING,
    /// Queues are divided among the group.
    #[default]
    CLUSTERING,
}

/// Where a consumer group with no stored offset starts.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub enum ConsumeFromWhere {
    /// The queue's max offset.
    #[default]
    CONSUME_FROM_LAST_OFFSET,
    /// Deprecated.
    CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST,
    /// Deprecated.
    CONSUME_FROM_MIN_OFFSET,
    /// Deprecated.
    CONSUME_FROM_MAX_OFFSET,
    /// The queue's min offset.
    CONSUME_FROM_FIRST_OFFSET,
    /// Search by the consumer's timestamp.
    CONSUME_FROM_TIMESTAMP,
}

super::lenient::name_or_ordinal_enum!(ConsumeType {
    CONSUME_ACTIVELY,
    CONSUME_PASSIVELY
});
super::lenient::name_or_ordinal_enum!(MessageModel {
    BROADCASTING,
    CLUSTERING
});
super::lenient::name_or_ordinal_enum!(ConsumeFromWhere {
    CONSUME_FROM_LAST_OFFSET,
    CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST,
    CONSUME_FROM_MIN_OFFSET,
    CONSUME_FROM_MAX_OFFSET,
    CONSUME_FROM_FIRST_OFFSET,
    CONSUME_FROM_TIMESTAMP,
});

/// What a client tells a broker every 30 s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeartbeatData {
    /// `ip@instance[@unit]`.
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// Consumer groups of the client.
    pub consumer_data_set: Vec<ConsumerData>,
    /// Producer groups of the client.
    pub producer_data_set: Vec<ProducerData>,
}

impl JsonBody for HeartbeatData {}

/// One consumer group of a client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerData {
    /// Where to start without an offset.
    pub consume_from_where: ConsumeFromWhere,
    /// Pull or push.
    pub consume_type: ConsumeType,
    /// Group name.
    pub group_name: String,
    /// Clustering or broadcasting.
    pub message_model: MessageModel,
    /// Subscriptions.
    pub subscription_data_set: Vec<SubscriptionData>,
    /// Unit mode.
    pub unit_mode: bool,
}

/// One producer group of a client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerData {
    /// Group name.
    pub group_name: String,
}

/// A consumer's subscription to one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionData {
    /// Class filter mode (unsupported; always false).
    pub class_filter_mode: bool,
    /// Java hash codes of the tags.
    #[serde(deserialize_with = "super::lenient::i32_set")]
    pub code_set: BTreeSet<i32>,
    /// `TAG` or `SQL92`.
    pub expression_type: String,
    /// The expression as written (`*`, `TagA || TagB`).
    pub sub_string: String,
    /// Version (ms timestamp of creation); the C++ client sends it as a string.
    #[serde(deserialize_with = "super::lenient::i64_or_string")]
    pub sub_version: i64,
    /// The tags.
    #[serde(deserialize_with = "super::lenient::string_set")]
    pub tags_set: BTreeSet<String>,
    /// Topic.
    pub topic: String,
}

impl Default for SubscriptionData {
    fn default() -> Self {
        SubscriptionData {
            class_filter_mode: false,
            code_set: BTreeSet::new(),
            expression_type: EXPRESSION_TYPE_TAG.to_string(),
            sub_string: SUB_ALL.to_string(),
            sub_version: 0,
            tags_set: BTreeSet::new(),
            topic: String::new(),
        }
    }
}

impl SubscriptionData {
    /// A tag subscription (Java `FilterAPI.buildSubscriptionData`).
    pub fn tag(topic: impl Into<String>, expression: &str, sub_version: i64) -> Self {
        let filter = TagFilter::parse(expression);
        SubscriptionData {
            sub_string: if filter.is_all() {
                SUB_ALL.to_string()
            } else {
                expression.trim().to_string()
            },
            code_set: filter.codes.iter().copied().collect(),
            tags_set: filter.tags.into_iter().collect(),
            topic: topic.into(),
            sub_version,
            ..Default::default()
        }
    }

    /// A SQL92 property-filter subscription (no tags, no codes: the broker evaluates it).
    pub fn sql92(topic: impl Into<String>, expression: &str, sub_version: i64) -> Self {
        SubscriptionData {
            expression_type: EXPRESSION_TYPE_SQL92.to_string(),
            sub_string: expression.trim().to_string(),
            topic: topic.into(),
            sub_version,
            ..Default::default()
        }
    }

    /// Whether this is a tag subscription (`ExpressionType.isTagType`: `TAG` or empty).
    pub fn is_tag_type(&self) -> bool {
        self.expression_type.is_empty() || self.expression_type.eq_ignore_ascii_case(EXPRESSION_TYPE_TAG)
    }

    /// The tag filter this subscription describes.
    pub fn tag_filter(&self) -> TagFilter {
        TagFilter::parse(&self.sub_string)
    }
}

/// CHECK_CLIENT_CONFIG (46) body: a consumer asks whether the broker accepts a subscription
/// before it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CheckClientRequestBody {
    /// The asking client.
    pub client_id: String,
    /// Its consumer group.
    pub group: String,
    /// The subscription to check (Java sends null for none).
    pub subscription_data: Option<SubscriptionData>,
}

impl JsonBody for CheckClientRequestBody {}

#[cfg(test)]
mod tests {

    #[test]
    fn check_client_body_round_trips_and_reads_java() {
        let body = CheckClientRequestBody {
            client_id: "127.0.0.1@1".into(),
            group: "g".into(),
            subscription_data: Some(SubscriptionData::sql92("T", " a > 5 ", 7)),
        };
        let back = CheckClientRequestBody::decode(&body.encode()).unwrap();
        assert_eq!(back, body);
        let sub = back.subscription_data.unwrap();
        assert_eq!(
            (sub.sub_string.as_str(), sub.expression_type.as_str()),
            ("a > 5", "SQL92")
        );
        assert!(!sub.is_tag_type());
        let java = br#"{"clientId":"c","group":"g","subscriptionData":{"classFilterMode":false,"codeSet":[],"expressionType":"SQL92","subString":"a > 5","subVersion":1,"tagsSet":[],"topic":"T"}}"#;
        let decoded = CheckClientRequestBody::decode(java).unwrap();
        assert_eq!(decoded.subscription_data.unwrap().sub_string, "a > 5");
        let none = CheckClientRequestBody::decode(br#"{"clientId":"c","group":"g"}"#).unwrap();
        assert!(none.subscription_data.is_none());
    }

    /// The shape the Apache C++ client 2.1 writes (jsoncpp): `subVersion` as a string, no
    /// `unitMode`, no `expressionType`, no `classFilterMode`, a trailing newline.
    #[test]
    fn decodes_cpp_client_heartbeat() {
        // As captured from rocketmq-python-cvs 2.1.0.3: enums by ordinal.
        let body = br#"{"clientID":"127.0.0.1@4242","consumerDataSet":[{"consumeFromWhere":4,"consumeType":1,"groupName":"cg","messageModel":1,"subscriptionDataSet":[{"codeSet":[2598919],"subString":"TagA","subVersion":"1700000000123","tagsSet":["TagA"],"topic":"T"}]}],"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}]}
"#;
        let hb = HeartbeatData::decode(body).unwrap();
        let sub = &hb.consumer_data_set[0].subscription_data_set[0];
        assert_eq!(sub.sub_version, 1_700_000_000_123);
        assert!(sub.code_set.contains(&2598919));
        assert_eq!(sub.expression_type, EXPRESSION_TYPE_TAG);
        let group = &hb.consumer_data_set[0];
        assert_eq!(
            group.consume_from_where,
            ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET
        );
        assert_eq!(group.consume_type, ConsumeType::CONSUME_PASSIVELY);
        assert_eq!(group.message_model, MessageModel::CLUSTERING);
        let named =
            br#"{"consumerDataSet":[{"consumeType":"CONSUME_ACTIVELY","messageModel":"BROADCASTING"}]}"#;
        let hb = HeartbeatData::decode(named).unwrap();
        assert_eq!(hb.consumer_data_set[0].message_model, MessageModel::BROADCASTING);
        assert!(HeartbeatData::decode(br#"{"consumerDataSet":[{"messageModel":7}]}"#).is_err());
        let numeric = br#"{"clientID":"c","consumerDataSet":[{"groupName":"g","subscriptionDataSet":[{"topic":"T","subString":"*","subVersion":5,"codeSet":["7"],"tagsSet":null}]}]}"#;
        let hb = HeartbeatData::decode(numeric).unwrap();
        let sub = &hb.consumer_data_set[0].subscription_data_set[0];
        assert_eq!(
            (sub.sub_version, sub.code_set.iter().next().copied()),
            (5, Some(7))
        );
    }

    use super::*;

    const PROTOCOL_MD: &str = r#"{"clientID":"10.0.0.5@12345#1234567890123",
 "consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY",
     "groupName":"cg1","messageModel":"CLUSTERING","unitMode":false,
     "subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG",
          "subString":"TagA","subVersion":1700000000000,"tagsSet":["TagA"],"topic":"TopicTest"},
        {"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*",
          "subVersion":1700000000001,"tagsSet":[],"topic":"%RETRY%cg1"}]}],
 "producerDataSet":[{"groupName":"pg1"},{"groupName":"CLIENT_INNER_PRODUCER"}]}"#;

    #[test]
    fn parses_protocol_md_example() {
        let hb = HeartbeatData::decode(PROTOCOL_MD.as_bytes()).unwrap();
        assert_eq!(hb.client_id, "10.0.0.5@12345#1234567890123");
        let c = &hb.consumer_data_set[0];
        assert_eq!(c.consume_type, ConsumeType::CONSUME_PASSIVELY);
        assert_eq!(c.message_model, MessageModel::CLUSTERING);
        assert_eq!(c.consume_from_where, ConsumeFromWhere::CONSUME_FROM_LAST_OFFSET);
        assert_eq!(
            c.subscription_data_set[0],
            SubscriptionData::tag("TopicTest", "TagA", 1_700_000_000_000)
        );
        assert_eq!(
            c.subscription_data_set[1],
            SubscriptionData::tag("%RETRY%cg1", "*", 1_700_000_000_001)
        );
        assert_eq!(hb.producer_data_set.len(), 2);
        assert_eq!(HeartbeatData::decode(hb.to_json().as_bytes()).unwrap(), hb);
    }

    #[test]
    fn writes_java_field_names() {
        let hb = HeartbeatData {
            client_id: "c".into(),
            consumer_data_set: vec![ConsumerData {
                group_name: "g".into(),
                subscription_data_set: vec![SubscriptionData::tag("T", "TagA || TagB", 5)],
                ..Default::default()
            }],
            producer_data_set: vec![ProducerData {
                group_name: "p".into(),
            }],
        };
        let text = hb.to_json();
        assert!(text.starts_with(r#"{"clientID":"c","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"g","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":["#), "{text}");
        assert!(
            text.contains(r#""tagsSet":["TagA","TagB"],"topic":"T"}],"unitMode":false}]"#),
            "{text}"
        );
        assert_eq!(HeartbeatData::decode(&hb.encode()).unwrap(), hb);
        assert!(hb.consumer_data_set[0].subscription_data_set[0]
            .tag_filter()
            .matches_tag(Some("TagB")));
        assert!(HeartbeatData::decode(br#"{"consumerDataSet":[{"consumeType":"BOGUS"}]}"#).is_err());
    }
}
