//! [`PushConsumer`]: a consumer group member that pulls its share of the queues and hands each
//! message to a callback; its builder and the heartbeat view it registers with the client.
//!
//! Tasks, all owned by the consumer's tracker and stopped by its token:
//! * rebalance, every `rebalance_interval` and at once when a broker sends
//!   NOTIFY_CONSUMER_IDS_CHANGED or a subscribed topic's route changes ([`crate::push_rebalance`]);
//! * one pull loop per assigned queue ([`crate::push_queue`]), which also dispatches messages;
//! * offset persistence every `persist_consumer_offset_interval`;
//! * offset resets a broker pushes (RESET_CONSUMER_CLIENT_OFFSET), applied one at a time
//!   ([`crate::push_reset`]);
//! * for ordered consumption, lock renewal every 20 s ([`crate::push_rebalance`]).
//!
//! The tasks share one [`Shared`] ([`crate::push_shared`]); settings are [`PushConsumerConfig`]
//! ([`crate::push_config`]).
//!
//! Shutdown: stop pulling, let running callbacks finish, persist offsets, unlock queues,
//! unregister from every broker (the others rebalance at once), stop the client instance.
//! Dropping the consumer without `shutdown` cancels every task and closes the connections
//! without waiting.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use rmq_remoting::body::{ConsumeType, ConsumerData, MessageModel, MqMap, SubscriptionData};
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::error::{ClientError, Result};
use crate::instance::{sleep_or_cancel, ClientInstance};
use crate::listener::Listener;
use crate::members::ConsumerMember;
use crate::message::MessageExt;
use crate::offset_store::{Backend, OffsetStore};
use crate::pull::Puller;
use crate::push_rebalance::{lock_task, rebalance_task};
use crate::push_reset::{reset_task, RESETS_QUEUED};
use crate::push_shared::Shared;
use crate::rebalance;
use crate::MessageQueue;

pub use crate::listener::ConsumeResult;
pub use crate::push_config::PushConsumerConfig;

/// Builds a [`PushConsumer`]: subscriptions first, then `start` with the callback.
pub struct PushConsumerBuilder {
    config: PushConsumerConfig,
    subscriptions: Vec<(String, Expression)>,
}

/// What a subscription selects by.
enum Expression {
    /// A tag expression.
    Tag(String),
    /// A SQL92 selector over message properties.
    Sql(String),
}

impl PushConsumerBuilder {
    /// Subscribes `topic` with a tag expression (`*`, `TagA`, `TagA || TagB`).
    pub fn subscribe(mut self, topic: impl Into<String>, expression: impl Into<String>) -> Self {
        self.subscriptions
            .push((topic.into(), Expression::Tag(expression.into())));
        self
    }

    /// Subscribes `topic` with a SQL92 selector over message properties (`a > 5 AND b = 'x'`),
    /// evaluated by the broker, which needs `enablePropertyFilter=true`. `start` asks a broker
    /// of the topic to check it (CHECK_CLIENT_CONFIG) and fails if it is refused.
    pub fn subscribe_sql(mut self, topic: impl Into<String>, selector: impl Into<String>) -> Self {
        self.subscriptions
            .push((topic.into(), Expression::Sql(selector.into())));
        self
    }

    /// Starts consuming; `listener` is called once per message.
    pub async fn start<F, Fut>(self, listener: F) -> Result<PushConsumer>
    where
        F: Fn(MessageExt) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ConsumeResult> + Send + 'static,
    {
        let listener: Listener = Arc::new(move |m| listener(m).boxed());
        PushConsumer::start(self.config, self.subscriptions, listener).await
    }
}

/// The heartbeat view of the consumer, registered with the client instance.
struct Member {
    data: ConsumerData,
    rebalance: Arc<Notify>,
    // For CONSUME_MESSAGE_DIRECTLY: the callback and whether it consumes in order.
    listener: Listener,
    orderly: bool,
    resets: mpsc::Sender<(String, MqMap<i64>)>,
}

impl ConsumerMember for Member {
    fn consumer_data(&self) -> ConsumerData {
        self.data.clone()
    }
    fn request_rebalance(&self) {
        self.rebalance.notify_one();
    }
    fn consume_directly(
        &self,
        msg: MessageExt,
    ) -> Option<BoxFuture<'static, rmq_remoting::body::ConsumeMessageDirectlyResult>> {
        let work = crate::direct::consume_directly(
            self.listener.clone(),
            self.data.group_name.clone(),
            self.orderly,
            msg,
        );
        Some(work.boxed())
    }

    fn reset_offsets(&self, topic: &str, offsets: MqMap<i64>) {
        if self.resets.try_send((topic.to_string(), offsets)).is_err() {
            warn!(group = %self.data.group_name, topic, "[reset-offset] too many resets queued; this one is dropped");
        }
    }
}

/// A running push consumer.
pub struct PushConsumer {
    shared: Arc<Shared>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl PushConsumer {
    /// A builder for a consumer with these settings.
    pub fn builder(config: PushConsumerConfig) -> PushConsumerBuilder {
        PushConsumerBuilder {
            config,
            subscriptions: Vec::new(),
        }
    }

    async fn start(
        config: PushConsumerConfig,
        subs: Vec<(String, Expression)>,
        listener: Listener,
    ) -> Result<Self> {
        config.validate()?;
        if subs.is_empty() {
            return Err(ClientError::Invalid(
                "subscribe to at least one topic before start".into(),
            ));
        }
        let instance = ClientInstance::start(config.client.clone())?;
        let version = now_ms();
        let mut subscriptions: HashMap<String, SubscriptionData> = subs
            .iter()
            .map(|(topic, expr)| {
                let data = match expr {
                    Expression::Tag(e) => SubscriptionData::tag(topic.clone(), e, version),
                    Expression::Sql(e) => SubscriptionData::sql92(topic.clone(), e, version),
                };
                (topic.clone(), data)
            })
            .collect();
        if config.message_model == MessageModel::CLUSTERING {
            let retry = format!("%RETRY%{}", config.group);
            subscriptions.insert(retry.clone(), SubscriptionData::tag(retry, "*", version));
        }
        let backend = match config.message_model {
            MessageModel::CLUSTERING => Backend::Remote,
            MessageModel::BROADCASTING => Backend::Local(config.local_offset_dir.clone()),
        };
        let rebalance = Arc::new(Notify::new());
        let (resets, reset_rx) = mpsc::channel(RESETS_QUEUED);
        let member = Member {
            resets,
            data: ConsumerData {
                consume_from_where: config.consume_from_where,
                consume_type: ConsumeType::CONSUME_PASSIVELY,
                group_name: config.group.clone(),
                message_model: config.message_model,
                subscription_data_set: subscriptions.values().cloned().collect(),
                unit_mode: false,
            },
            rebalance: rebalance.clone(),
            listener: listener.clone(),
            orderly: config.orderly,
        };
        let shared = Arc::new(Shared {
            offsets: OffsetStore::new(&config.group, instance.clone(), backend),
            puller: Puller::default(),
            permits: Arc::new(Semaphore::new(config.consume_concurrency)),
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            queues: Mutex::new(HashMap::new()),
            listener,
            subscriptions,
            retry_topic: format!("%RETRY%{}", config.group),
            instance: instance.clone(),
            config,
            rebalance,
        });
        if let Err(e) = instance.register_consumer(&shared.config.group, Arc::new(member)) {
            instance.shutdown().await;
            return Err(e);
        }
        for topic in shared.subscriptions.keys() {
            if let Err(e) = instance.update_route(topic).await {
                warn!(topic, error = %e, "no route yet; will retry at the next rebalance");
            }
        }
        let subs: Vec<SubscriptionData> = shared.subscriptions.values().cloned().collect();
        if let Err(e) = instance.check_client_in_broker(&shared.config.group, &subs).await {
            instance.unregister_consumer(&shared.config.group).await;
            instance.shutdown().await;
            return Err(e);
        }
        instance.send_heartbeat_to_all().await;
        shared.tasks.spawn(rebalance_task(shared.clone()));
        shared.tasks.spawn(persist_task(shared.clone()));
        shared.tasks.spawn(reset_task(shared.clone(), reset_rx));
        if shared.config.locks_queues() {
            shared.tasks.spawn(lock_task(shared.clone()));
        }
        info!(group = %shared.config.group, client_id = %instance.client_id(), "push consumer started");
        Ok(PushConsumer { shared })
    }

    /// The client id this member is known by.
    pub fn client_id(&self) -> &str {
        self.shared.instance.client_id()
    }

    /// The queues this member holds now, sorted.
    pub fn assigned_queues(&self) -> Vec<MessageQueue> {
        let mut qs: Vec<_> = self
            .shared
            .queues
            .lock()
            .expect("queues lock")
            .keys()
            .cloned()
            .collect();
        qs.sort();
        qs
    }

    /// Rebalances now instead of at the next period.
    pub fn rebalance_now(&self) {
        self.shared.rebalance.notify_one();
    }

    /// Stops consuming: waits for running callbacks, commits offsets, unregisters, stops tasks.
    pub async fn shutdown(self) {
        let s = &self.shared;
        s.cancel.cancel();
        s.tasks.close();
        s.tasks.wait().await;
        let held: Vec<MessageQueue> = s
            .queues
            .lock()
            .expect("queues lock")
            .drain()
            .map(|(mq, _)| mq)
            .collect();
        s.offsets.persist(&held).await;
        if s.config.locks_queues() {
            rebalance::unlock(&s.instance, &s.config.group, &held).await;
        }
        s.instance.unregister_consumer(&s.config.group).await;
        s.instance.shutdown().await;
        info!(group = %s.config.group, "push consumer stopped");
    }
}

impl Drop for PushConsumer {
    /// A consumer dropped without [`PushConsumer::shutdown`] stops at once, without waiting: its
    /// tasks are cancelled (they end at their next step and release the shared state) and its
    /// connections closed, so the brokers drop it from the group. Nothing is committed, unlocked
    /// or unregistered: messages in flight are delivered again. After `shutdown` this is a no-op.
    fn drop(&mut self) {
        self.shared.cancel.cancel();
        self.shared.instance.cancel_token().cancel();
        self.shared.instance.remoting().shutdown();
    }
}

async fn persist_task(s: Arc<Shared>) {
    while sleep_or_cancel(s.config.persist_consumer_offset_interval, &s.cancel).await {
        let held: Vec<MessageQueue> = s.queues.lock().expect("queues lock").keys().cloned().collect();
        s.offsets.persist(&held).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::ClientConfig;

    async fn dead_addr() -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().to_string()
    }

    #[tokio::test]
    async fn a_dropped_consumer_stops_its_tasks() {
        let config = PushConsumerConfig {
            client: ClientConfig::new(dead_addr().await),
            group: "cg_dropped".into(),
            orderly: true,
            rebalance_interval: Duration::from_millis(50),
            persist_consumer_offset_interval: Duration::from_millis(50),
            ..Default::default()
        };
        let consumer = PushConsumer::builder(config)
            .subscribe("T", "*")
            .start(|_| async { ConsumeResult::Success })
            .await
            .unwrap();
        let shared = Arc::downgrade(&consumer.shared);
        let tasks = consumer.shared.tasks.clone();
        drop(consumer);
        tasks.close();
        tokio::time::timeout(Duration::from_secs(5), tasks.wait())
            .await
            .expect("every task ends once the consumer is dropped");
        assert!(
            shared.upgrade().is_none(),
            "nothing keeps the consumer's state alive"
        );
    }
}
