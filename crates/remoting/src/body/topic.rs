//! Topic configuration bodies: `TopicConfig` (a topics.json entry and its compressed text form),
//! `DataVersion`, `TopicConfigSerializeWrapper` (GET_ALL_TOPIC_CONFIG reply, topics.json, part of
//! the register body) and `TopicList` (GET_ALL_TOPIC_LIST_FROM_NAMESERVER reply).
//!
//! Missing fields take Java's defaults (`TopicConfig` 16/16 queues, perm 6, `SINGLE_TAG`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::JsonBody;

/// How a topic's tags are filtered (Java enum names).
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TopicFilterType {
    /// One tag per message.
    #[default]
    SINGLE_TAG,
    /// Several tags per message.
    MULTI_TAG,
}

impl TopicFilterType {
    /// The Java name.
    pub fn name(self) -> &'static str {
        match self {
            TopicFilterType::SINGLE_TAG => "SINGLE_TAG",
            TopicFilterType::MULTI_TAG => "MULTI_TAG",
        }
    }

    /// Parses the Java name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "SINGLE_TAG" => Some(TopicFilterType::SINGLE_TAG),
            "MULTI_TAG" => Some(TopicFilterType::MULTI_TAG),
            _ => None,
        }
    }
}

/// One topic's configuration on a broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    /// Ordered topic.
    pub order: bool,
    /// Permission bits (`route::perm`).
    pub perm: i32,
    /// Readable queues.
    pub read_queue_nums: i32,
    /// Tag filter type.
    pub topic_filter_type: TopicFilterType,
    /// Topic name.
    pub topic_name: String,
    /// Topic system flag.
    pub topic_sys_flag: i32,
    /// Writable queues.
    pub write_queue_nums: i32,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            order: false,
            perm: 6,
            read_queue_nums: 16,
            topic_filter_type: TopicFilterType::SINGLE_TAG,
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: 16,
        }
    }
}

impl JsonBody for TopicConfig {}

impl TopicConfig {
    /// A config with `queues` read and write queues and perm 6.
    pub fn new(topic: impl Into<String>, queues: i32) -> Self {
        TopicConfig {
            topic_name: topic.into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            ..Default::default()
        }
    }

    /// The compressed register form: `"<name> <read> <write> <perm> <filterType>"` (Java
    /// `TopicConfig.encode`; the sys flag and order are not carried).
    pub fn encode_text(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.topic_name,
            self.read_queue_nums,
            self.write_queue_nums,
            self.perm,
            self.topic_filter_type.name()
        )
    }

    /// Parses [`Self::encode_text`]'s form; `None` unless it has exactly five valid parts.
    pub fn decode_text(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split(' ').collect();
        let [name, read, write, perm, filter] = parts.as_slice() else {
            return None;
        };
        Some(TopicConfig {
            topic_name: name.to_string(),
            read_queue_nums: read.parse().ok()?,
            write_queue_nums: write.parse().ok()?,
            perm: perm.parse().ok()?,
            topic_filter_type: TopicFilterType::from_name(filter)?,
            ..Default::default()
        })
    }
}

/// Version of a broker's topic table; the broker bumps it on every change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct DataVersion {
    /// Change counter.
    pub counter: i64,
    /// Epoch ms of the last change.
    pub timestamp: i64,
}

impl JsonBody for DataVersion {}

impl DataVersion {
    /// A fresh version stamped `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        DataVersion {
            counter: 0,
            timestamp: now_ms,
        }
    }

    /// Records a change at `now_ms` (Java `nextVersion`).
    pub fn next_version(&mut self, now_ms: i64) {
        self.counter = self.counter.saturating_add(1);
        self.timestamp = now_ms;
    }
}

/// A broker's whole topic table with its version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    /// Version of the table.
    pub data_version: DataVersion,
    /// Topic name → config.
    pub topic_config_table: BTreeMap<String, TopicConfig>,
}

impl JsonBody for TopicConfigSerializeWrapper {}

/// A set of topic names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicList {
    /// Broker address (set only by some broker replies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    /// Topic names.
    pub topic_list: BTreeSet<String>,
}

impl JsonBody for TopicList {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_config_json_matches_fastjson() {
        let tc = TopicConfig::new("TopicTest", 4);
        assert_eq!(
            tc.to_json(),
            r#"{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}"#
        );
        assert_eq!(TopicConfig::decode(tc.to_json().as_bytes()).unwrap(), tc);
        let defaults = TopicConfig::decode(br#"{"topicName":"X"}"#).unwrap();
        assert_eq!(
            (defaults.read_queue_nums, defaults.write_queue_nums, defaults.perm),
            (16, 16, 6)
        );
    }

    #[test]
    fn topic_config_text_form() {
        let tc = TopicConfig {
            perm: 7,
            topic_filter_type: TopicFilterType::MULTI_TAG,
            ..TopicConfig::new("TBW102", 8)
        };
        assert_eq!(tc.encode_text(), "TBW102 8 8 7 MULTI_TAG");
        assert_eq!(TopicConfig::decode_text(&tc.encode_text()), Some(tc));
        assert_eq!(TopicConfig::decode_text("a 1 2 3"), None);
        assert_eq!(TopicConfig::decode_text("a x 2 3 SINGLE_TAG"), None);
        assert_eq!(TopicConfig::decode_text("a 1 2 3 OTHER"), None);
    }

    #[test]
    fn wrapper_and_version() {
        let text = r#"{"dataVersion":{"counter":12,"timestamp":1700000000000},
           "topicConfigTable":{"TopicTest":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG",
             "topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}}}"#;
        let w = TopicConfigSerializeWrapper::decode(text.as_bytes()).unwrap();
        assert_eq!(
            w.data_version,
            DataVersion {
                counter: 12,
                timestamp: 1_700_000_000_000
            }
        );
        assert_eq!(w.topic_config_table["TopicTest"].write_queue_nums, 4);
        assert_eq!(
            TopicConfigSerializeWrapper::decode(w.to_json().as_bytes()).unwrap(),
            w
        );
        let mut v = DataVersion::new(5);
        v.next_version(9);
        assert_eq!(
            v,
            DataVersion {
                counter: 1,
                timestamp: 9
            }
        );
        assert_eq!(v.to_json(), r#"{"counter":1,"timestamp":9}"#);
    }

    #[test]
    fn topic_list() {
        let list = TopicList::decode(br#"{"topicList":["B","A"]}"#).unwrap();
        assert_eq!(list.to_json(), r#"{"topicList":["A","B"]}"#);
        let with_addr = TopicList {
            broker_addr: Some("a:1".into()),
            ..list
        };
        assert_eq!(
            TopicList::decode(with_addr.to_json().as_bytes()).unwrap(),
            with_addr
        );
    }
}
