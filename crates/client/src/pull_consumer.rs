//! [`PullConsumer`]: the application chooses queues and offsets and pulls explicitly.
//!
//! The consumer heartbeats as `CONSUME_ACTIVELY` so the brokers know the group; offsets are the
//! application's to keep, with helpers to store them on the brokers (clustering) or in a local
//! file (broadcasting) like a push consumer does. A broker's offset reset (`resetOffsetByTime`
//! while the consumer is online) is recorded and committed; the application reads it with
//! `fetch_consume_offset`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::body::{
    ConsumeFromWhere, ConsumeType, ConsumerData, MessageModel, MqMap, SubscriptionData,
};

use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::members::ConsumerMember;
use crate::offset_store::{Backend, OffsetStore};
use crate::pull::{PullRequest, PullResult, Puller};
use crate::route::subscribe_queues;
use crate::MessageQueue;

/// Pull consumer settings.
#[derive(Debug, Clone)]
pub struct PullConsumerConfig {
    /// Cluster connection.
    pub client: ClientConfig,
    /// Consumer group.
    pub group: String,
    /// Where offsets are stored: the brokers (clustering) or a local file (broadcasting).
    pub message_model: MessageModel,
    /// Broadcasting offsets go to `<dir>/<group>/offsets.json`.
    pub local_offset_dir: Option<PathBuf>,
    /// Timeout of a pull that returns at once.
    pub pull_timeout: Duration,
    /// How long the broker may hold a blocking pull.
    pub broker_suspend_max: Duration,
}

impl Default for PullConsumerConfig {
    fn default() -> Self {
        PullConsumerConfig {
            client: ClientConfig::default(),
            group: "DEFAULT_CONSUMER".to_string(),
            message_model: MessageModel::CLUSTERING,
            local_offset_dir: None,
            pull_timeout: Duration::from_secs(10),
            broker_suspend_max: Duration::from_secs(20),
        }
    }
}

struct Member(ConsumerData, Arc<OffsetStore>);

impl ConsumerMember for Member {
    fn consumer_data(&self) -> ConsumerData {
        self.0.clone()
    }
    fn request_rebalance(&self) {}
    /// Records the new offsets (what [`PullConsumer::fetch_consume_offset`] and the next
    /// [`PullConsumer::persist_offsets`] see) and commits them at once.
    fn reset_offsets(&self, _topic: &str, offsets: MqMap<i64>) {
        for (mq, offset) in offsets.iter() {
            self.1.update(mq, *offset, false);
        }
        let store = self.1.clone();
        let mqs: Vec<MessageQueue> = offsets.0.into_keys().collect();
        tokio::spawn(async move { store.persist(&mqs).await });
    }
}

/// A consumer that pulls where it is told.
pub struct PullConsumer {
    config: PullConsumerConfig,
    instance: Arc<ClientInstance>,
    puller: Puller,
    offsets: Arc<OffsetStore>,
}

impl PullConsumer {
    /// Starts the client instance and registers the group.
    pub async fn start(config: PullConsumerConfig) -> Result<Self> {
        config.client.validate()?;
        if config.group.trim().is_empty() {
            return Err(ClientError::Invalid("consumer group is empty".into()));
        }
        let instance = ClientInstance::start(config.client.clone())?;
        let data = ConsumerData {
            consume_from_where: ConsumeFromWhere::CONSUME_FROM_LAST_OFFSET,
            consume_type: ConsumeType::CONSUME_ACTIVELY,
            group_name: config.group.clone(),
            message_model: config.message_model,
            subscription_data_set: Vec::new(),
            unit_mode: false,
        };
        let backend = match config.message_model {
            MessageModel::CLUSTERING => Backend::Remote,
            MessageModel::BROADCASTING => Backend::Local(config.local_offset_dir.clone()),
        };
        let offsets = Arc::new(OffsetStore::new(&config.group, instance.clone(), backend));
        if let Err(e) = instance.register_consumer(&config.group, Arc::new(Member(data, offsets.clone()))) {
            instance.shutdown().await;
            return Err(e);
        }
        Ok(PullConsumer {
            offsets,
            puller: Puller::default(),
            instance,
            config,
        })
    }

    /// The readable queues of `topic`, sorted.
    pub async fn fetch_subscribe_queues(&self, topic: &str) -> Result<Vec<MessageQueue>> {
        let route = self
            .instance
            .update_route(topic)
            .await?
            .ok_or_else(|| ClientError::NoRoute(topic.to_string()))?;
        self.instance.send_heartbeat_to_all().await;
        Ok(subscribe_queues(topic, &route).into_iter().collect())
    }

    async fn pull_inner(
        &self,
        mq: &MessageQueue,
        subscription: SubscriptionData,
        offset: i64,
        max_nums: i32,
        suspend: Option<Duration>,
    ) -> Result<PullResult> {
        if offset < 0 || max_nums <= 0 {
            return Err(ClientError::Invalid(
                "offset must be >= 0 and max_nums > 0".into(),
            ));
        }
        let timeout = match suspend {
            Some(s) => s + self.config.pull_timeout,
            None => self.config.pull_timeout,
        };
        let request = PullRequest {
            group: &self.config.group,
            mq,
            subscription: &subscription,
            offset,
            max_nums,
            commit_offset: None,
            suspend,
            timeout,
        };
        self.puller.pull(&self.instance, request).await
    }

    /// Pulls up to `max_nums` messages of `mq` from `offset`, returning at once.
    pub async fn pull(
        &self,
        mq: &MessageQueue,
        expression: &str,
        offset: i64,
        max_nums: i32,
    ) -> Result<PullResult> {
        let subscription = SubscriptionData::tag(mq.topic.clone(), expression, 0);
        self.pull_inner(mq, subscription, offset, max_nums, None).await
    }

    /// Pulls up to `max_nums` messages of `mq` from `offset` that match the SQL92 `selector`
    /// (evaluated by the broker, which needs `enablePropertyFilter=true`), returning at once.
    /// A selector the broker cannot compile is an error with SUBSCRIPTION_PARSE_FAILED.
    pub async fn pull_sql(
        &self,
        mq: &MessageQueue,
        selector: &str,
        offset: i64,
        max_nums: i32,
    ) -> Result<PullResult> {
        let subscription = SubscriptionData::sql92(mq.topic.clone(), selector, 0);
        self.pull_inner(mq, subscription, offset, max_nums, None).await
    }

    /// Like [`Self::pull`], but the broker holds the request up to `broker_suspend_max` until a
    /// message arrives.
    pub async fn pull_blocking(
        &self,
        mq: &MessageQueue,
        expression: &str,
        offset: i64,
        max_nums: i32,
    ) -> Result<PullResult> {
        self.pull_inner(
            mq,
            SubscriptionData::tag(mq.topic.clone(), expression, 0),
            offset,
            max_nums,
            Some(self.config.broker_suspend_max),
        )
        .await
    }

    /// The next offset to be written in `mq`.
    pub async fn max_offset(&self, mq: &MessageQueue) -> Result<i64> {
        crate::pull::max_offset(&self.instance, mq).await
    }

    /// The first retained offset of `mq`.
    pub async fn min_offset(&self, mq: &MessageQueue) -> Result<i64> {
        crate::pull::min_offset(&self.instance, mq).await
    }

    /// The offset of the message stored closest to `timestamp_ms`.
    pub async fn search_offset(&self, mq: &MessageQueue, timestamp_ms: i64) -> Result<i64> {
        crate::pull::search_offset(&self.instance, mq, timestamp_ms).await
    }

    /// The group's stored offset of `mq`, if any.
    pub async fn fetch_consume_offset(&self, mq: &MessageQueue) -> Result<Option<i64>> {
        self.offsets.read_from_store(mq).await
    }

    /// Records the group's offset of `mq` (stored by [`Self::persist_offsets`] and at shutdown).
    pub fn update_consume_offset(&self, mq: &MessageQueue, offset: i64) {
        self.offsets.update(mq, offset, false);
    }

    /// Stores the recorded offsets of `mqs`.
    pub async fn persist_offsets(&self, mqs: &[MessageQueue]) {
        self.offsets.persist(mqs).await;
    }

    /// Stores recorded offsets of `mqs`, unregisters and stops.
    pub async fn shutdown(self, mqs: &[MessageQueue]) {
        self.offsets.persist(mqs).await;
        self.instance.unregister_consumer(&self.config.group).await;
        self.instance.shutdown().await;
    }
}
