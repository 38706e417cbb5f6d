//! `ResetOffsetBody`: the offsets a reset moves to, in the reply to INVOKE_BROKER_TO_RESET_OFFSET
//! and in the RESET_CONSUMER_CLIENT_OFFSET push. Java writes the `Map<MessageQueue, Long>` with
//! fastjson's object keys:
//!
//! ```text
//! {"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:12,...}}
//! ```
//!
//! `ResetOffsetBodyForC` is what the broker pushes to C++ clients instead (the request to the
//! broker came with language CPP): a list, since their JSON reader cannot take object keys.
//!
//! ```text
//! {"offsetTable":[{"brokerName":"b","offset":12,"queueId":0,"topic":"T"},...]}
//! ```

use serde::{Deserialize, Serialize};

use super::{from_fastjson, MessageQueue, MqMap};

/// Queue → offset to move to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResetOffsetBody {
    /// Queue → offset.
    pub offset_table: MqMap<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    #[serde(default)]
    offset_table: MqMap<i64>,
}

impl ResetOffsetBody {
    /// fastjson's form (object keys), which Java clients read.
    pub fn encode(&self) -> Vec<u8> {
        format!(r#"{{"offsetTable":{}}}"#, self.offset_table.to_fastjson()).into_bytes()
    }

    /// Reads either key form (fastjson object keys or quoted JSON keys).
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let wire: Wire = from_fastjson(bytes).map_err(|e| e.to_string())?;
        Ok(ResetOffsetBody {
            offset_table: wire.offset_table,
        })
    }
}

/// One entry of [`ResetOffsetBodyForC`] (Java's `MessageQueueForC`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueueForC {
    /// Broker name.
    pub broker_name: String,
    /// Offset to move to.
    pub offset: i64,
    /// Queue id.
    pub queue_id: i32,
    /// Topic.
    pub topic: String,
}

/// The list form pushed to C++ clients.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetOffsetBodyForC {
    /// One entry per queue.
    pub offset_table: Vec<MessageQueueForC>,
}

impl From<&ResetOffsetBody> for ResetOffsetBodyForC {
    fn from(body: &ResetOffsetBody) -> Self {
        ResetOffsetBodyForC {
            offset_table: body
                .offset_table
                .iter()
                .map(|(mq, offset)| MessageQueueForC {
                    broker_name: mq.broker_name.clone(),
                    offset: *offset,
                    queue_id: mq.queue_id,
                    topic: mq.topic.clone(),
                })
                .collect(),
        }
    }
}

impl ResetOffsetBodyForC {
    /// JSON with fastjson's (alphabetical) key order.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The queues and offsets as a map.
    pub fn to_body(&self) -> ResetOffsetBody {
        ResetOffsetBody {
            offset_table: self
                .offset_table
                .iter()
                .map(|e| {
                    (
                        MessageQueue::new(e.topic.clone(), e.broker_name.clone(), e.queue_id),
                        e.offset,
                    )
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> ResetOffsetBody {
        ResetOffsetBody {
            offset_table: [
                (MessageQueue::new("T", "b", 1), 7),
                (MessageQueue::new("T", "b", 0), 5),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn java_form_round_trips() {
        let text = String::from_utf8(body().encode()).unwrap();
        assert_eq!(
            text,
            r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:5,{"brokerName":"b","queueId":1,"topic":"T"}:7}}"#
        );
        assert_eq!(ResetOffsetBody::decode(text.as_bytes()).unwrap(), body());
        assert!(ResetOffsetBody::decode(br#"{"offsetTable":{"x":1}}"#).is_err());
        assert!(ResetOffsetBody::decode(b"not json").is_err());
        assert!(ResetOffsetBody::decode(b"{}").unwrap().offset_table.is_empty());
    }

    #[test]
    fn c_form_is_a_sorted_list() {
        let c = ResetOffsetBodyForC::from(&body());
        assert_eq!(
            String::from_utf8(c.encode()).unwrap(),
            r#"{"offsetTable":[{"brokerName":"b","offset":5,"queueId":0,"topic":"T"},{"brokerName":"b","offset":7,"queueId":1,"topic":"T"}]}"#
        );
        assert_eq!(c.to_body(), body());
    }
}
