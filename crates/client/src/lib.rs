//! A RocketMQ 4.x client on tokio.
//!
//! * [`Producer`]: sync, async, one-way, batch and chosen-queue sends; round-robin queue choice,
//!   retries on another broker, latency fault avoidance; unique ids and compression.
//! * [`PushConsumer`]: a consumer group member with a callback, concurrent or ordered,
//!   clustering or broadcasting, rebalanced with [`AllocateStrategy`], offsets on the brokers.
//! * [`PullConsumer`]: explicit queues and offsets.
//! * [`TransactionProducer`]: half messages, a local transaction and the broker's check-back.
//! * [`MessageQuery`]: messages by key in a time range, or by unique key, across a topic's brokers.
//!
//! ```no_run
//! use rmq_client::{ClientConfig, ConsumeResult, Message, Producer, ProducerConfig, PushConsumer, PushConsumerConfig};
//!
//! # async fn demo() -> rmq_client::Result<()> {
//! let client = ClientConfig::new("127.0.0.1:9876");
//! let producer = Producer::start(ProducerConfig { client: client.clone(), group: "pg".into(), ..Default::default() }).await?;
//! let sent = producer.send(Message::new("TopicTest", "hello").with_tags("TagA").with_keys(["k1"])).await?;
//! println!("{} -> {:?}", sent.msg_id, sent.queue);
//!
//! let consumer = PushConsumer::builder(PushConsumerConfig { client, group: "cg".into(), ..Default::default() })
//!     .subscribe("TopicTest", "TagA || TagB")
//!     .start(|msg| async move {
//!         println!("{} {:?}", msg.topic(), msg.body());
//!         ConsumeResult::Success
//!     })
//!     .await?;
//! consumer.shutdown().await;
//! producer.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Pure logic lives in modules that do no IO and take the clock as an argument: [`allocate`],
//! [`fault`], [`route`], [`select`]. The IO modules move bytes between sockets and those types.

pub mod allocate;
mod broker_requests;
pub mod config;
mod direct;
pub mod error;
pub mod fault;
pub mod instance;
mod listener;
mod members;
pub mod message;
pub mod namesrv;
mod offset_store;
mod process_queue;
pub mod producer;
pub mod pull;
pub mod pull_consumer;
mod push_config;
pub mod push_consumer;
mod push_queue;
mod push_rebalance;
mod push_reset;
mod push_shared;
pub mod query;
pub mod rebalance;
mod reset;
pub mod route;
pub mod select;
pub mod transaction;

pub use allocate::AllocateStrategy;
pub use config::ClientConfig;
pub use error::{ClientError, Result};
pub use instance::ClientInstance;
pub use message::{Message, MessageExt};
pub use producer::{Producer, ProducerConfig, SendResult, SendStatus};
pub use pull::{PullResult, PullStatus};
pub use pull_consumer::{PullConsumer, PullConsumerConfig};
pub use push_consumer::{ConsumeResult, PushConsumer, PushConsumerBuilder, PushConsumerConfig};
pub use query::{MessageQuery, QueryResult};
pub use rmq_remoting::body::{ConsumeFromWhere, MessageModel, MessageQueue};
pub use transaction::{
    LocalTransactionState, TransactionListener, TransactionProducer, TransactionSendResult,
};
