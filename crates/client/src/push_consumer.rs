//! [`PushConsumer`]: a consumer group member that pulls its share of the queues and hands each
//! message to a callback.
//!
//! Tasks, all owned by the consumer's tracker and stopped by its token:
//! * rebalance, every `rebalance_interval` and at once when a broker sends
//!   NOTIFY_CONSUMER_IDS_CHANGED or a subscribed topic's route changes;
//! * one pull loop per assigned queue ([`crate::push_queue`]), which also dispatches messages;
//! * offset persistence every `persist_consumer_offset_interval`;
//! * for ordered consumption, lock renewal every 20 s.
//!
//! Shutdown: stop pulling, let running callbacks finish, persist offsets, unlock queues,
//! unregister from every broker (the others rebalance at once), stop the client instance.
//! Dropping the consumer without `shutdown` cancels every task and closes the connections
//! without waiting.
//!
//! Rebalance of ordered queues: a queue given away is unlocked on the broker only once its
//! running callback ends (waiting at most 1 s); a queue still busy keeps its broker lock until
//! the lock expires, so two members never consume the same queue at once.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use rmq_remoting::body::{ConsumeFromWhere, ConsumeType, ConsumerData, MessageModel, SubscriptionData};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::allocate::AllocateStrategy;
use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::instance::{sleep_or_cancel, ClientInstance, ConsumerMember};
use crate::message::MessageExt;
use crate::offset_store::{Backend, OffsetStore};
use crate::process_queue::ProcessQueue;
use crate::pull::Puller;
use crate::rebalance;
use crate::MessageQueue;

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

/// What the callback decided about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeResult {
    /// Consumed.
    Success,
    /// Deliver it again later (clustering: sent back to the group's retry topic).
    ReconsumeLater,
}

pub(crate) type Listener = Arc<dyn Fn(MessageExt) -> BoxFuture<'static, ConsumeResult> + Send + Sync>;

/// Builds a [`PushConsumer`]: subscriptions first, then `start` with the callback.
pub struct PushConsumerBuilder {
    config: PushConsumerConfig,
    subscriptions: Vec<(String, String)>,
}

impl PushConsumerBuilder {
    /// Subscribes `topic` with a tag expression (`*`, `TagA`, `TagA || TagB`).
    pub fn subscribe(mut self, topic: impl Into<String>, expression: impl Into<String>) -> Self {
        self.subscriptions.push((topic.into(), expression.into()));
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
}

impl ConsumerMember for Member {
    fn consumer_data(&self) -> ConsumerData {
        self.data.clone()
    }
    fn request_rebalance(&self) {
        self.rebalance.notify_one();
    }
}

pub(crate) struct Shared {
    pub config: PushConsumerConfig,
    pub instance: Arc<ClientInstance>,
    pub subscriptions: HashMap<String, SubscriptionData>,
    pub offsets: OffsetStore,
    pub puller: Puller,
    pub listener: Listener,
    pub permits: Arc<Semaphore>,
    pub cancel: CancellationToken,
    pub tasks: TaskTracker,
    // The current assignment; guards the table only.
    pub queues: Mutex<HashMap<MessageQueue, Arc<ProcessQueue>>>,
    rebalance: Arc<Notify>,
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
        subs: Vec<(String, String)>,
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
            .map(|(topic, expr)| (topic.clone(), SubscriptionData::tag(topic.clone(), expr, version)))
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
        let member = Member {
            data: ConsumerData {
                consume_from_where: config.consume_from_where,
                consume_type: ConsumeType::CONSUME_PASSIVELY,
                group_name: config.group.clone(),
                message_model: config.message_model,
                subscription_data_set: subscriptions.values().cloned().collect(),
                unit_mode: false,
            },
            rebalance: rebalance.clone(),
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
        instance.send_heartbeat_to_all().await;
        shared.tasks.spawn(rebalance_task(shared.clone()));
        shared.tasks.spawn(persist_task(shared.clone()));
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

async fn rebalance_task(s: Arc<Shared>) {
    loop {
        do_rebalance(&s).await;
        tokio::select! {
            _ = s.cancel.cancelled() => return,
            _ = s.rebalance.notified() => {}
            _ = tokio::time::sleep(s.config.rebalance_interval) => {}
        }
    }
}

async fn do_rebalance(s: &Arc<Shared>) {
    let topics: Vec<String> = s.subscriptions.keys().cloned().collect();
    for topic in topics {
        let target = rebalance::target_queues(
            &s.instance,
            &s.config.group,
            &topic,
            s.config.message_model,
            s.config.allocate,
        )
        .await;
        let target = match target {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(e) => {
                debug!(topic, error = %e, "rebalance skipped");
                continue;
            }
        };
        let change = {
            let queues = s.queues.lock().expect("queues lock");
            rebalance::diff(queues.keys().filter(|mq| mq.topic == topic), &target)
        };
        if change.removed.is_empty() && change.added.is_empty() {
            continue;
        }
        info!(group = %s.config.group, topic, removed = change.removed.len(), added = change.added.len(), "rebalanced");
        give_up(s, &change.removed).await;
        for mq in change.added {
            take(s, mq).await;
        }
    }
}

/// How long giving up an ordered queue waits for its running callback (Apache's `tryLock(1000)`).
const IDLE_WAIT: Duration = Duration::from_secs(1);

async fn give_up(s: &Arc<Shared>, mqs: &[MessageQueue]) {
    if mqs.is_empty() {
        return;
    }
    let dropped: Vec<(MessageQueue, Arc<ProcessQueue>)> = {
        let mut queues = s.queues.lock().expect("queues lock");
        mqs.iter()
            .filter_map(|mq| queues.remove(mq).map(|pq| (mq.clone(), pq)))
            .collect()
    };
    for (_, pq) in &dropped {
        pq.dropped().cancel();
    }
    let orderly = s.config.locks_queues();
    // Ordered queues: the broker lock is released only once no callback runs, and kept (it
    // expires on the broker) for a queue still busy, so the next owner cannot consume a message
    // this member is still consuming.
    let idle = if orderly {
        wait_idle(&dropped, IDLE_WAIT).await
    } else {
        Vec::new()
    };
    s.offsets.persist(mqs).await;
    for mq in mqs {
        s.offsets.remove(mq);
    }
    if orderly {
        let unlock: Vec<MessageQueue> = idle.iter().map(|(mq, _)| mq.clone()).collect();
        for (mq, _) in dropped.iter().filter(|(mq, _)| !unlock.contains(mq)) {
            warn!(queue = %mq, "callback still running; keeping the broker lock until it expires");
        }
        rebalance::unlock(&s.instance, &s.config.group, &unlock).await;
    }
}

/// The queues among `dropped` whose running callback (if any) ended within `wait`, each with its
/// consume lock, held so no new callback starts while the queue is handed over.
async fn wait_idle(
    dropped: &[(MessageQueue, Arc<ProcessQueue>)],
    wait: Duration,
) -> Vec<(MessageQueue, tokio::sync::MutexGuard<'_, ()>)> {
    let waits = dropped
        .iter()
        .map(|(mq, pq)| async move { pq.try_consume_lock(wait).await.map(|guard| (mq.clone(), guard)) });
    futures::future::join_all(waits)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn take(s: &Arc<Shared>, mq: MessageQueue) {
    let pq = Arc::new(ProcessQueue::new(&s.cancel));
    if s.config.locks_queues() {
        let locked = rebalance::lock(&s.instance, &s.config.group, std::slice::from_ref(&mq)).await;
        if !locked.contains(&mq) {
            debug!(queue = %mq, "lock not granted yet; retrying at the next rebalance");
            return;
        }
        pq.set_locked(true, Instant::now());
    }
    let start = match start_offset(s, &mq).await {
        Ok(o) => o,
        Err(e) => {
            warn!(queue = %mq, error = %e, "cannot compute the start offset; retrying at the next rebalance");
            return;
        }
    };
    s.offsets.update(&mq, start, false);
    s.queues
        .lock()
        .expect("queues lock")
        .insert(mq.clone(), pq.clone());
    s.tasks.spawn(crate::push_queue::run(s.clone(), mq, pq, start));
}

/// `computePullFromWhere`: the stored offset, else by `consume_from_where`.
async fn start_offset(s: &Shared, mq: &MessageQueue) -> Result<i64> {
    if let Some(offset) = s.offsets.read_from_store(mq).await? {
        if offset >= 0 {
            return Ok(offset);
        }
    }
    let retry_topic = mq.topic.starts_with("%RETRY%");
    match s.config.consume_from_where {
        ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET | ConsumeFromWhere::CONSUME_FROM_MIN_OFFSET => Ok(0),
        ConsumeFromWhere::CONSUME_FROM_TIMESTAMP if !retry_topic => {
            crate::pull::search_offset(&s.instance, mq, s.config.consume_timestamp).await
        }
        _ if retry_topic => Ok(0),
        _ => crate::pull::max_offset(&s.instance, mq).await,
    }
}

async fn persist_task(s: Arc<Shared>) {
    while sleep_or_cancel(s.config.persist_consumer_offset_interval, &s.cancel).await {
        let held: Vec<MessageQueue> = s.queues.lock().expect("queues lock").keys().cloned().collect();
        s.offsets.persist(&held).await;
    }
}

async fn lock_task(s: Arc<Shared>) {
    while sleep_or_cancel(Duration::from_secs(20), &s.cancel).await {
        let held: Vec<(MessageQueue, Arc<ProcessQueue>)> = s
            .queues
            .lock()
            .expect("queues lock")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mqs: Vec<MessageQueue> = held.iter().map(|(mq, _)| mq.clone()).collect();
        let locked = rebalance::lock(&s.instance, &s.config.group, &mqs).await;
        let now = Instant::now();
        for (mq, pq) in held {
            pq.set_locked(locked.contains(&mq), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[tokio::test]
    async fn only_idle_queues_are_handed_over() {
        let cancel = CancellationToken::new();
        let busy = Arc::new(ProcessQueue::new(&cancel));
        let idle = Arc::new(ProcessQueue::new(&cancel));
        let dropped = vec![
            (MessageQueue::new("T", "b", 0), busy.clone()),
            (MessageQueue::new("T", "b", 1), idle.clone()),
        ];
        let running = busy.consume_lock().await;
        let ready = wait_idle(&dropped, Duration::from_millis(100)).await;
        let names: Vec<&MessageQueue> = ready.iter().map(|(mq, _)| mq).collect();
        assert_eq!(names, [&dropped[1].0]);
        // While handed over, the idle queue stays idle: no callback can start.
        assert!(idle.try_consume_lock(Duration::ZERO).await.is_none());
        drop(ready);
        // A callback ending within the wait lets its queue go too.
        let release = async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(running);
        };
        let (ready, ()) = tokio::join!(wait_idle(&dropped, Duration::from_secs(5)), release);
        assert_eq!(ready.len(), 2);
    }
}
