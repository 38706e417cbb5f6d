//! Offset tables: `ConsumerOffsetSerializeWrapper` (consumerOffset.json, GET_ALL_CONSUMER_OFFSET
//! reply) and `DelayOffsetSerializeWrapper` (delayOffset.json, GET_ALL_DELAY_OFFSET reply).
//!
//! Java writes the Integer keys unquoted (`{"offsetTable":{"T@g":{0:12}}}`); both forms are read,
//! quoted keys are written (fastjson reads them too).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::JsonBody;

/// Separator of the `topic@group` keys.
pub const TOPIC_GROUP_SEPARATOR: char = '@';

/// Committed offsets: `topic@group` → queue id → offset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerOffsetSerializeWrapper {
    /// `topic@group` → queue id → offset.
    pub offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

impl JsonBody for ConsumerOffsetSerializeWrapper {}

impl ConsumerOffsetSerializeWrapper {
    /// The table key of a topic and group.
    pub fn key(topic: &str, group: &str) -> String {
        format!("{topic}{TOPIC_GROUP_SEPARATOR}{group}")
    }

    /// Splits a table key into (topic, group). Topics cannot contain `@`, so the first one splits.
    pub fn split_key(key: &str) -> Option<(&str, &str)> {
        key.split_once(TOPIC_GROUP_SEPARATOR)
    }
}

/// Delay-queue progress: delay level → offset in `SCHEDULE_TOPIC_XXXX` queue `level - 1`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DelayOffsetSerializeWrapper {
    /// Delay level → offset.
    pub offset_table: BTreeMap<i32, i64>,
}

impl JsonBody for DelayOffsetSerializeWrapper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_java_unquoted_keys() {
        let w = ConsumerOffsetSerializeWrapper::decode(br#"{"offsetTable":{"topic@group":{0:12,1:30}}}"#)
            .unwrap();
        assert_eq!(w.offset_table["topic@group"][&1], 30);
        assert_eq!(w.to_json(), r#"{"offsetTable":{"topic@group":{"0":12,"1":30}}}"#);
        assert_eq!(ConsumerOffsetSerializeWrapper::decode(&w.encode()).unwrap(), w);
        assert_eq!(ConsumerOffsetSerializeWrapper::key("T", "g"), "T@g");
        assert_eq!(
            ConsumerOffsetSerializeWrapper::split_key("%RETRY%g@g"),
            Some(("%RETRY%g", "g"))
        );
        assert_eq!(ConsumerOffsetSerializeWrapper::split_key("nogroup"), None);
    }

    #[test]
    fn delay_offsets() {
        let w = DelayOffsetSerializeWrapper::decode(br#"{"offsetTable":{1:0,2:5}}"#).unwrap();
        assert_eq!(w.offset_table[&2], 5);
        assert_eq!(DelayOffsetSerializeWrapper::decode(&w.encode()).unwrap(), w);
    }
}
