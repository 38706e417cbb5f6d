//! [`PushConsumerConfig`]: a push consumer's settings, their defaults (Apache's) and their
//! checks.

use std::path::PathBuf;
use std::time::Duration;

use rmq_remoting::body::{ConsumeFromWhere, MessageModel};

use crate::allocate::AllocateStrategy;
use crate::config::ClientConfig;
use crate::error::{ClientError, Result};

/// Push consumer settings.
#[derive(Debug, Clone)]
pub struct PushConsumerConfig {
    /// Cluster connection.
    pub client: ClientConfig,
    /// Consumer group.
    pub group: String,
    /// Clustering (the group shares the queues) or broadcasting (every member gets everything).
    pub message_model: MessageModel,
    /// Where a group with no stored offset starts.
    pub consume_from_where: ConsumeFromWhere,
    /// For `CONSUME_FROM_TIMESTAMP`: ms since the epoch.
    pub consume_timestamp: i64,
    /// How queues are split among members.
    pub allocate: AllocateStrategy,
    /// Callbacks running at once (across queues).
    pub consume_concurrency: usize,
    /// Consume each queue in order, one message at a time, holding the queue's broker lock.
    pub orderly: bool,
    /// Messages per pull.
    pub pull_batch_size: i32,
    /// A queue stops pulling while this many of its messages are in flight.
    pub pull_threshold_for_queue: usize,
    /// Deliveries before a message goes to the dead-letter queue.
    pub max_reconsume_times: i32,
    /// Rebalance period.
    pub rebalance_interval: Duration,
    /// Offset commit period.
    pub persist_consumer_offset_interval: Duration,
    /// How long a broker may hold a pull with nothing to return.
    pub broker_suspend_max: Duration,
    /// Timeout of a held pull.
    pub pull_timeout: Duration,
    /// Wait after a failed pull.
    pub pull_error_backoff: Duration,
    /// Broadcasting offsets are kept in `<dir>/<group>/offsets.json`; `None` keeps them in memory.
    pub local_offset_dir: Option<PathBuf>,
}

impl Default for PushConsumerConfig {
    fn default() -> Self {
        PushConsumerConfig {
            client: ClientConfig::default(),
            group: "DEFAULT_CONSUMER".to_string(),
            message_model: MessageModel::CLUSTERING,
            consume_from_where: ConsumeFromWhere::CONSUME_FROM_LAST_OFFSET,
            consume_timestamp: 0,
            allocate: AllocateStrategy::Averagely,
            consume_concurrency: 20,
            orderly: false,
            pull_batch_size: 32,
            pull_threshold_for_queue: 1000,
            max_reconsume_times: 16,
            rebalance_interval: Duration::from_secs(20),
            persist_consumer_offset_interval: Duration::from_secs(5),
            broker_suspend_max: Duration::from_secs(15),
            pull_timeout: Duration::from_secs(30),
            pull_error_backoff: Duration::from_secs(3),
            local_offset_dir: None,
        }
    }
}

impl PushConsumerConfig {
    /// Whether this consumer locks its queues on the broker: ordered consumption in a clustering
    /// group (broadcasting members each read every queue, so nothing is locked).
    pub(crate) fn locks_queues(&self) -> bool {
        self.orderly && self.message_model == MessageModel::CLUSTERING
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        self.client.validate()?;
        if self.group.trim().is_empty() {
            return Err(ClientError::Invalid("consumer group is empty".into()));
        }
        if self.consume_concurrency == 0 || self.pull_batch_size <= 0 || self.pull_threshold_for_queue == 0 {
            return Err(ClientError::Invalid(
                "consume_concurrency, pull_batch_size and pull_threshold_for_queue must be > 0".into(),
            ));
        }
        if self.pull_timeout <= self.broker_suspend_max {
            return Err(ClientError::Invalid(
                "pull_timeout must exceed broker_suspend_max".into(),
            ));
        }
        Ok(())
    }
}
