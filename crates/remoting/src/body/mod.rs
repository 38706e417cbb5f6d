//! JSON bodies (serde), one file per noun, including the fastjson quirks real Apache peers produce.
//!
//! Every body type implements [`JsonBody`]: `encode` writes the form Java peers read (field names
//! are the Java names; where fastjson writes non-JSON, such as maps keyed by `MessageQueue`, the
//! type writes that form by hand) and `decode` reads both standard JSON and fastjson's output
//! through the lenient reader in [`fastjson`]. Decoding never panics; a body that does not fit is
//! a [`BodyError`].

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub mod cluster;
pub mod consumer;
pub mod direct;
pub mod fastjson;
pub mod heartbeat;
pub mod kv;
pub mod lenient;
pub mod message_queue;
pub mod offsets;
pub mod register;
pub mod reset;
pub mod route;
pub mod stats;
pub mod subscription;
pub mod topic;

pub use cluster::ClusterInfo;
pub use consumer::{
    Connection, ConsumerConnection, ConsumerIdList, LockBatchRequestBody, LockBatchResponseBody,
    ProducerConnection, UnlockBatchRequestBody,
};
pub use direct::{CmResult, ConsumeMessageDirectlyResult};
pub use fastjson::from_fastjson;
pub use heartbeat::{
    CheckClientRequestBody, ConsumeFromWhere, ConsumeType, ConsumerData, HeartbeatData, MessageModel,
    ProducerData, SubscriptionData,
};
pub use kv::KvTable;
pub use message_queue::{MessageQueue, MqMap};
pub use offsets::{ConsumerOffsetSerializeWrapper, DelayOffsetSerializeWrapper};
pub use register::{body_crc32, RegisterBrokerBody, RegisterLimits};
pub use reset::{ResetOffsetBody, ResetOffsetBodyForC};
pub use route::{BrokerData, QueueData, TopicRouteData};
pub use stats::{ConsumeStats, OffsetWrapper, TopicOffset, TopicStatsTable};
pub use subscription::{SubscriptionGroupConfig, SubscriptionGroupWrapper};
pub use topic::{DataVersion, TopicConfig, TopicConfigSerializeWrapper, TopicFilterType, TopicList};

/// A body that is not what its request or response promises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not JSON, even by fastjson's standards.
    #[error("body is not valid JSON at byte {at}: {what}")]
    Syntax {
        /// Byte offset of the error.
        at: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// Valid JSON of the wrong shape (a missing field, a string where a number belongs).
    #[error("body does not have the expected fields: {0}")]
    Shape(String),
    /// A binary body (e.g. the compressed register form) is malformed.
    #[error("malformed binary body: {0}")]
    Binary(String),
}

/// A JSON body with its Java field names.
pub trait JsonBody: Serialize + DeserializeOwned {
    /// The JSON bytes sent on the wire.
    fn encode(&self) -> Bytes {
        Bytes::from(self.to_json())
    }

    /// The JSON text. Serializing these types cannot fail: every map key is a string or an integer.
    fn to_json(&self) -> String {
        serde_json::to_string(self).expect("body types have string or integer map keys only")
    }

    /// Parses standard JSON or fastjson output.
    fn decode(bytes: &[u8]) -> Result<Self, BodyError> {
        from_fastjson(bytes)
    }
}
