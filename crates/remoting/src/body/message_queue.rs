//! `MessageQueue` and [`MqMap`], a map keyed by message queue in fastjson's object-key form.
//!
//! fastjson writes a `Map<MessageQueue, V>` with each key as a bare JSON object:
//! `{{"brokerName":"b","queueId":0,"topic":"T"}:{...}}`. That is not JSON, so [`MqMap`] has two
//! renderings: [`MqMap::to_fastjson`] writes the object-key form Java mqadmin reads (bodies that
//! contain an `MqMap` write their JSON by hand with it), while its serde `Serialize` writes each key
//! as a string holding the queue's JSON, for tools that need standard JSON. Its `Deserialize`
//! accepts both, as [`super::fastjson`] turns object keys into their JSON text.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One queue of a topic on one broker. Ordered by topic, broker name, queue id (Java's
/// `compareTo`), which is the order queue allocation sorts by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueue {
    /// Broker name.
    pub broker_name: String,
    /// Queue id.
    pub queue_id: i32,
    /// Topic.
    pub topic: String,
}

impl MessageQueue {
    /// A queue.
    pub fn new(topic: impl Into<String>, broker_name: impl Into<String>, queue_id: i32) -> Self {
        MessageQueue {
            topic: topic.into(),
            broker_name: broker_name.into(),
            queue_id,
        }
    }

    /// The queue's JSON text, fields in fastjson's (alphabetical) order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Ord for MessageQueue {
    fn cmp(&self, other: &Self) -> Ordering {
        (&self.topic, &self.broker_name, self.queue_id).cmp(&(
            &other.topic,
            &other.broker_name,
            other.queue_id,
        ))
    }
}

impl PartialOrd for MessageQueue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for MessageQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MessageQueue [topic={}, brokerName={}, queueId={}]",
            self.topic, self.broker_name, self.queue_id
        )
    }
}

/// A map keyed by [`MessageQueue`], sorted by queue.
#[derive(Debug, Clone, PartialEq)]
pub struct MqMap<V>(pub BTreeMap<MessageQueue, V>);

impl<V> Default for MqMap<V> {
    fn default() -> Self {
        MqMap(BTreeMap::new())
    }
}

impl<V> std::ops::Deref for MqMap<V> {
    type Target = BTreeMap<MessageQueue, V>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<V> std::ops::DerefMut for MqMap<V> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<V> FromIterator<(MessageQueue, V)> for MqMap<V> {
    fn from_iter<I: IntoIterator<Item = (MessageQueue, V)>>(iter: I) -> Self {
        MqMap(iter.into_iter().collect())
    }
}

impl<V: Serialize> MqMap<V> {
    /// fastjson's form: `{{"brokerName":…,"queueId":…,"topic":…}:<value JSON>,…}`.
    pub fn to_fastjson(&self) -> String {
        let mut out = String::from("{");
        for (i, (mq, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let value = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
            let _ = write!(out, "{}:{}", mq.to_json(), value);
        }
        out.push('}');
        out
    }
}

impl<V: Serialize> Serialize for MqMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(mq, v)| (mq.to_json(), v)))
    }
}

impl<'de, V: DeserializeOwned> Deserialize<'de> for MqMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, V>::deserialize(deserializer)?;
        let mut map = BTreeMap::new();
        for (key, value) in raw {
            let mq: MessageQueue = serde_json::from_str(&key)
                .map_err(|e| D::Error::custom(format!("map key {key:?} is not a MessageQueue: {e}")))?;
            map.insert(mq, value);
        }
        Ok(MqMap(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::from_fastjson;

    #[test]
    fn orders_like_java() {
        let mut qs = [
            MessageQueue::new("T", "b", 0),
            MessageQueue::new("T", "a", 3),
            MessageQueue::new("A", "z", 9),
            MessageQueue::new("T", "a", 1),
        ];
        qs.sort();
        let ids: Vec<_> = qs
            .iter()
            .map(|q| (q.topic.as_str(), q.broker_name.as_str(), q.queue_id))
            .collect();
        assert_eq!(
            ids,
            vec![("A", "z", 9), ("T", "a", 1), ("T", "a", 3), ("T", "b", 0)]
        );
        assert_eq!(qs[0].to_json(), r#"{"brokerName":"z","queueId":9,"topic":"A"}"#);
    }

    #[test]
    fn fastjson_object_key_form_round_trips() {
        let map: MqMap<i64> = [
            (MessageQueue::new("T", "b", 1), 7),
            (MessageQueue::new("T", "b", 0), 5),
        ]
        .into_iter()
        .collect();
        let text = map.to_fastjson();
        assert_eq!(
            text,
            r#"{{"brokerName":"b","queueId":0,"topic":"T"}:5,{"brokerName":"b","queueId":1,"topic":"T"}:7}"#
        );
        assert_eq!(from_fastjson::<MqMap<i64>>(text.as_bytes()).unwrap(), map);
        // Key field order does not matter on input.
        let shuffled =
            r#"{{"topic":"T","queueId":0,"brokerName":"b"}:5,{"queueId":1,"brokerName":"b","topic":"T"}:7}"#;
        assert_eq!(from_fastjson::<MqMap<i64>>(shuffled.as_bytes()).unwrap(), map);
    }

    #[test]
    fn standard_json_form_round_trips() {
        let map: MqMap<String> = [(MessageQueue::new("T", "b", 2), "x".to_string())]
            .into_iter()
            .collect();
        let text = serde_json::to_string(&map).unwrap();
        assert_eq!(
            text,
            r#"{"{\"brokerName\":\"b\",\"queueId\":2,\"topic\":\"T\"}":"x"}"#
        );
        assert_eq!(from_fastjson::<MqMap<String>>(text.as_bytes()).unwrap(), map);
        assert!(from_fastjson::<MqMap<String>>(br#"{"nope":"x"}"#).is_err());
        assert_eq!(MqMap::<i32>::default().to_fastjson(), "{}");
    }
}
