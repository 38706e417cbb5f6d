//! Stats bodies keyed by message queue: `TopicStatsTable` (GET_TOPIC_STATS_INFO reply, mqadmin
//! topicStatus) and `ConsumeStats` (GET_CONSUME_STATS reply, mqadmin consumerProgress).
//!
//! Both are written in fastjson's object-key form (see [`super::message_queue`]), the only form
//! Java mqadmin is known to read, so their [`JsonBody::to_json`] is hand-written.

use serde::{Deserialize, Serialize};

use super::message_queue::MqMap;
use super::JsonBody;

/// Offsets of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicOffset {
    /// Store timestamp of the last message (0 when empty).
    pub last_update_timestamp: i64,
    /// Next offset to be written.
    pub max_offset: i64,
    /// First retained offset.
    pub min_offset: i64,
}

/// Per-queue offsets of a topic on one broker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicStatsTable {
    /// Queue → offsets.
    pub offset_table: MqMap<TopicOffset>,
}

impl JsonBody for TopicStatsTable {
    fn to_json(&self) -> String {
        format!(r#"{{"offsetTable":{}}}"#, self.offset_table.to_fastjson())
    }
}

/// A consumer group's progress on one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetWrapper {
    /// Queue's max offset.
    pub broker_offset: i64,
    /// Group's committed offset.
    pub consumer_offset: i64,
    /// Store timestamp of the last consumed message.
    pub last_timestamp: i64,
}

/// A consumer group's progress on one broker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeStats {
    /// Consume rate, messages per second.
    pub consume_tps: f64,
    /// Queue → progress.
    pub offset_table: MqMap<OffsetWrapper>,
}

impl ConsumeStats {
    /// Messages not yet consumed, over all queues (mqadmin's "Diff Total").
    pub fn total_diff(&self) -> i64 {
        self.offset_table
            .values()
            .map(|o| o.broker_offset.saturating_sub(o.consumer_offset))
            .sum()
    }
}

impl JsonBody for ConsumeStats {
    fn to_json(&self) -> String {
        let tps = serde_json::to_string(&self.consume_tps).unwrap_or_else(|_| "0.0".into());
        format!(
            r#"{{"consumeTps":{tps},"offsetTable":{}}}"#,
            self.offset_table.to_fastjson()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::MessageQueue;

    #[test]
    fn topic_stats_protocol_md_form() {
        let text = r#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":0,"maxOffset":10,"minOffset":0},
                {"brokerName":"broker-a","queueId":1,"topic":"T"}:{"lastUpdateTimestamp":5,"maxOffset":3,"minOffset":1}}}"#;
        let stats = TopicStatsTable::decode(text.as_bytes()).unwrap();
        assert_eq!(
            stats.offset_table[&MessageQueue::new("T", "broker-a", 0)].max_offset,
            10
        );
        assert_eq!(
            stats.offset_table[&MessageQueue::new("T", "broker-a", 1)].min_offset,
            1
        );
        let out = stats.to_json();
        assert_eq!(
            out,
            r#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":0,"maxOffset":10,"minOffset":0},{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"lastUpdateTimestamp":5,"maxOffset":3,"minOffset":1}}}"#
        );
        assert_eq!(TopicStatsTable::decode(&stats.encode()).unwrap(), stats);
        assert_eq!(TopicStatsTable::default().to_json(), r#"{"offsetTable":{}}"#);
    }

    #[test]
    fn consume_stats_protocol_md_form() {
        let text = r#"{"consumeTps":0.0,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":10,"consumerOffset":7,"lastTimestamp":1700000000000}}}"#;
        let stats = ConsumeStats::decode(text.as_bytes()).unwrap();
        assert_eq!(stats.total_diff(), 3);
        assert_eq!(stats.to_json(), text);
        let busy = ConsumeStats {
            consume_tps: 12.5,
            ..stats
        };
        assert_eq!(ConsumeStats::decode(&busy.encode()).unwrap(), busy);
    }
}
