//! Messages as an application sees them: [`Message`] to send (topic, tags, keys, user
//! properties, body) and [`MessageExt`] as received (plus queue, offsets, ids, hosts).
//!
//! A [`MessageExt`] is decoded from a pull body, which is a run of commit-log records
//! (protocol.md §3.7). A body the producer compressed (sysFlag bit 0x1, zlib) is inflated here so
//! the application always sees the bytes that were sent.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::SocketAddr;

use bytes::Bytes;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use rmq_remoting::message::properties::{self, keys};
use rmq_remoting::message::{sys_flag, MessageRecord};

use crate::error::ClientError;

/// Largest inflated body accepted (bounded so a hostile body cannot exhaust memory).
const MAX_INFLATED_BODY: u64 = 64 * 1024 * 1024;

/// A message to send.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    /// Topic.
    pub topic: String,
    /// User flag, carried untouched.
    pub flag: i32,
    /// System and user properties (`TAGS`, `KEYS`, `UNIQ_KEY`, …).
    pub properties: HashMap<String, String>,
    /// Body.
    pub body: Bytes,
}

impl Message {
    /// A message with a body; `WAIT=true` as Java's constructor sets it.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        let mut properties = HashMap::new();
        properties.insert(keys::WAIT.to_string(), "true".to_string());
        Message {
            topic: topic.into(),
            flag: 0,
            properties,
            body: body.into(),
        }
    }

    /// Sets the tag (one tag; consumers filter on it).
    pub fn with_tags(mut self, tags: impl Into<String>) -> Self {
        self.properties.insert(keys::TAGS.to_string(), tags.into());
        self
    }

    /// Sets the keys (space separated on the wire; the broker indexes them).
    pub fn with_keys<I, S>(mut self, keys_iter: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined: Vec<String> = keys_iter.into_iter().map(|k| k.as_ref().to_string()).collect();
        self.properties.insert(keys::KEYS.to_string(), joined.join(" "));
        self
    }

    /// Sets a user property.
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Asks for delayed delivery at a broker delay level (1..=18).
    pub fn with_delay_level(mut self, level: i32) -> Self {
        self.properties.insert(keys::DELAY.to_string(), level.to_string());
        self
    }

    /// Sets the user flag.
    pub fn with_flag(mut self, flag: i32) -> Self {
        self.flag = flag;
        self
    }

    /// The tag, if any.
    pub fn tags(&self) -> Option<&str> {
        self.property(keys::TAGS)
    }

    /// The keys, split on spaces.
    pub fn keys(&self) -> Vec<&str> {
        self.property(keys::KEYS)
            .map(|k| k.split(' ').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    /// One property.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// The client-generated unique id (`UNIQ_KEY`), once the producer set it.
    pub fn uniq_key(&self) -> Option<&str> {
        self.property(keys::UNIQ_KEY)
    }
}

/// A received message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageExt {
    /// The message (topic, flag, properties, inflated body).
    pub message: Message,
    /// Broker name it was pulled from (set by the consumer).
    pub broker_name: String,
    /// Queue id.
    pub queue_id: i32,
    /// Logical offset in the queue.
    pub queue_offset: i64,
    /// Commit-log offset (what CONSUMER_SEND_MSG_BACK names).
    pub commit_log_offset: i64,
    /// sysFlag as stored.
    pub sys_flag: i32,
    /// Producer timestamp, ms.
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Broker timestamp, ms.
    pub store_timestamp: i64,
    /// Broker address.
    pub store_host: SocketAddr,
    /// How many times it was consumed and sent back.
    pub reconsume_times: i32,
    /// The broker-generated offset message id.
    pub offset_msg_id: String,
}

impl MessageExt {
    /// Topic.
    pub fn topic(&self) -> &str {
        &self.message.topic
    }

    /// Tag, if any.
    pub fn tags(&self) -> Option<&str> {
        self.message.tags()
    }

    /// Keys.
    pub fn keys(&self) -> Vec<&str> {
        self.message.keys()
    }

    /// Body.
    pub fn body(&self) -> &Bytes {
        &self.message.body
    }

    /// One property.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.message.property(key)
    }

    /// The id applications see (`MessageClientExt.getMsgId`): `UNIQ_KEY` when the producer set
    /// one, else the offset message id.
    pub fn msg_id(&self) -> &str {
        self.message.uniq_key().unwrap_or(&self.offset_msg_id)
    }

    /// Turns one record into a message, inflating a compressed body.
    pub fn from_record(record: MessageRecord, broker_name: &str) -> Result<Self, ClientError> {
        let offset_msg_id = record.offset_msg_id();
        let body = if record.sys_flag & sys_flag::COMPRESSED != 0 {
            inflate(&record.body)?
        } else {
            record.body
        };
        Ok(MessageExt {
            message: Message {
                topic: record.topic,
                flag: record.flag,
                properties: properties::parse(&record.properties),
                body,
            },
            broker_name: broker_name.to_string(),
            queue_id: record.queue_id,
            queue_offset: record.queue_offset,
            commit_log_offset: record.physical_offset,
            sys_flag: record.sys_flag,
            born_timestamp: record.born_timestamp,
            born_host: record.born_host,
            store_timestamp: record.store_timestamp,
            store_host: record.store_host,
            reconsume_times: record.reconsume_times,
            offset_msg_id,
        })
    }

    /// Decodes a pull body (records back to back).
    pub fn decode_pull_body(body: &Bytes, broker_name: &str) -> Result<Vec<Self>, ClientError> {
        let records =
            MessageRecord::decode_all(body).map_err(|e| ClientError::BadBody(format!("pull body: {e}")))?;
        records
            .into_iter()
            .map(|r| MessageExt::from_record(r, broker_name))
            .collect()
    }
}

/// zlib at level 5, as Java's producer compresses.
pub fn deflate(body: &[u8]) -> Bytes {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(body.len() / 2), Compression::new(5));
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(body);
    Bytes::from(encoder.finish().unwrap_or_default())
}

/// Inflates a zlib body, bounded by [`MAX_INFLATED_BODY`].
pub fn inflate(body: &[u8]) -> Result<Bytes, ClientError> {
    let mut out = Vec::with_capacity(body.len() * 4);
    ZlibDecoder::new(body)
        .take(MAX_INFLATED_BODY)
        .read_to_end(&mut out)
        .map_err(|e| ClientError::BadBody(format!("compressed body does not inflate: {e}")))?;
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_sets_java_properties() {
        let m = Message::new("T", "hi")
            .with_tags("TagA")
            .with_keys(["k1", "k2"])
            .with_property("color", "red");
        assert_eq!(m.tags(), Some("TagA"));
        assert_eq!(m.keys(), vec!["k1", "k2"]);
        assert_eq!(m.property("KEYS"), Some("k1 k2"));
        assert_eq!(m.property("WAIT"), Some("true"));
        assert_eq!(m.property("color"), Some("red"));
    }

    #[test]
    fn decodes_records_and_inflates() {
        let big = vec![b'x'; 10_000];
        let record = MessageRecord {
            topic: "T".into(),
            queue_id: 2,
            queue_offset: 7,
            physical_offset: 1234,
            sys_flag: sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB,
            body: deflate(&big),
            properties: "TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}ABC\u{2}KEYS\u{1}k".into(),
            ..Default::default()
        };
        let plain = MessageRecord {
            body: Bytes::from_static(b"p"),
            sys_flag: 0,
            queue_offset: 8,
            ..record.clone()
        };
        let mut buf = bytes::BytesMut::new();
        record.encode(&mut buf).unwrap();
        plain.encode(&mut buf).unwrap();
        let msgs = MessageExt::decode_pull_body(&buf.freeze(), "b").unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].body().as_ref(), &big[..]);
        assert_eq!(msgs[0].tags(), Some("TagA"));
        assert_eq!(msgs[0].msg_id(), "ABC");
        assert_eq!(msgs[0].commit_log_offset, 1234);
        assert_eq!(msgs[0].broker_name, "b");
        assert_eq!(msgs[1].body().as_ref(), b"p");
        assert_eq!(msgs[1].queue_offset, 8);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(inflate(b"not zlib").is_err());
        assert!(MessageExt::decode_pull_body(&Bytes::from_static(&[0, 0, 0, 9, 1]), "b").is_err());
    }
}
