//! [`Producer`]: sends messages to the masters of a topic's broker groups.
//!
//! A send picks a queue round-robin, avoiding brokers the latency fault table has benched
//! ([`crate::select`], [`crate::fault`]); a failure on a retryable code or on the transport is
//! retried (2 times by default) on a queue of another broker. Bodies over 4 KiB are zlib
//! compressed; every message gets a `UNIQ_KEY` id before its first attempt, so a retried message
//! keeps its id.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rmq_remoting::headers::send::{
    SendBatchMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader,
};
use rmq_remoting::message::batch::{self, BatchItem};
use rmq_remoting::message::id::UniqIdGenerator;
use rmq_remoting::message::properties::{self, keys};
use rmq_remoting::message::sys_flag;
use rmq_remoting::net::NetError;
use rmq_remoting::{CommandHeader, RemotingCommand, RequestCode, ResponseCode};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::fault::{LatencyFaultTolerance, LATENCY_MAX, NOT_AVAILABLE_DURATION};
use crate::instance::ClientInstance;
use crate::message::{deflate, Message};
use crate::route::TopicPublishInfo;
use crate::select::{select_queue, select_queue_avoiding_faults, SendWhichQueue};
use crate::MessageQueue;

/// Producer settings.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// Cluster connection.
    pub client: ClientConfig,
    /// Producer group.
    pub group: String,
    /// Whole-send timeout, retries included.
    pub send_timeout: Duration,
    /// Extra attempts of a sync send after a retryable failure.
    pub retry_times_when_send_failed: u32,
    /// Extra attempts of an async send.
    pub retry_times_when_send_async_failed: u32,
    /// Bodies larger than this are zlib-compressed.
    pub compress_msg_body_over: usize,
    /// Largest body accepted (the broker's `maxMessageSize`).
    pub max_message_size: usize,
    /// Latency fault avoidance (RocketMQ's `sendLatencyFaultEnable`; on by default here).
    pub send_latency_fault_enable: bool,
    /// Latency thresholds (ms).
    pub latency_max: Vec<u64>,
    /// Bench durations (ms) for each threshold.
    pub not_available_duration: Vec<u64>,
    /// Template topic for topics the nameserver does not know.
    pub create_topic_key: String,
    /// Queue count of an auto-created topic.
    pub default_topic_queue_nums: i32,
    /// Retry on another broker when the broker stored the message but answered a flush or
    /// replication timeout.
    pub retry_another_broker_when_not_store_ok: bool,
    /// Async sends allowed in flight at once.
    pub max_async_in_flight: usize,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            client: ClientConfig::default(),
            group: "DEFAULT_PRODUCER".to_string(),
            send_timeout: Duration::from_secs(3),
            retry_times_when_send_failed: 2,
            retry_times_when_send_async_failed: 2,
            compress_msg_body_over: 4096,
            max_message_size: 4 * 1024 * 1024,
            send_latency_fault_enable: true,
            latency_max: LATENCY_MAX.to_vec(),
            not_available_duration: NOT_AVAILABLE_DURATION.to_vec(),
            create_topic_key: "TBW102".to_string(),
            default_topic_queue_nums: 4,
            retry_another_broker_when_not_store_ok: false,
            max_async_in_flight: 10_000,
        }
    }
}

impl ProducerConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        self.client.validate()?;
        if self.group.trim().is_empty() {
            return Err(ClientError::Invalid("producer group is empty".into()));
        }
        if self.latency_max.len() != self.not_available_duration.len() {
            return Err(ClientError::Invalid(
                "latency_max and not_available_duration differ in length".into(),
            ));
        }
        if self.send_timeout.is_zero() || self.max_async_in_flight == 0 || self.default_topic_queue_nums <= 0
        {
            return Err(ClientError::Invalid(
                "send_timeout, max_async_in_flight and default_topic_queue_nums must be > 0".into(),
            ));
        }
        Ok(())
    }
}

/// How the broker stored the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Stored (and flushed/replicated when the broker is configured to wait).
    SendOk,
    /// Stored, not flushed within the broker's sync flush timeout.
    FlushDiskTimeout,
    /// Stored, the slave did not acknowledge in time.
    FlushSlaveTimeout,
    /// Stored on a SYNC_MASTER with no slave available.
    SlaveNotAvailable,
}

/// The outcome of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// Storage status.
    pub status: SendStatus,
    /// The client id (`UNIQ_KEY`); comma-joined for a batch.
    pub msg_id: String,
    /// The broker's offset message id; comma-joined for a batch.
    pub offset_msg_id: String,
    /// The queue it went to.
    pub queue: MessageQueue,
    /// Its offset in the queue (the first message's for a batch).
    pub queue_offset: i64,
    /// Attempts it took (1 when the first broker stored it).
    pub attempts: u32,
}

/// One encoded send: a message or a batch, ready for any queue.
struct Outgoing {
    topic: String,
    body: Bytes,
    flag: i32,
    properties: String,
    sys_flag: i32,
    batch: bool,
    msg_id: String,
}

/// A message producer, cheap to clone.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

struct Inner {
    config: ProducerConfig,
    instance: Arc<ClientInstance>,
    index: SendWhichQueue,
    // Guards the fault table only; never held across a send.
    faults: Mutex<LatencyFaultTolerance>,
    ids: UniqIdGenerator,
    async_sends: TaskTracker,
    async_permits: Arc<Semaphore>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Producer {
    /// Starts a producer: its client instance, route cache and heartbeats.
    pub async fn start(config: ProducerConfig) -> Result<Producer> {
        config.validate()?;
        let instance = ClientInstance::start(config.client.clone())?;
        instance.register_producer(&config.group);
        let ip = config
            .client
            .client_ip
            .parse()
            .unwrap_or(std::net::Ipv4Addr::LOCALHOST);
        let faults =
            LatencyFaultTolerance::new(config.latency_max.clone(), config.not_available_duration.clone());
        let inner = Inner {
            ids: UniqIdGenerator::new(ip, std::process::id(), rand::random()),
            index: SendWhichQueue::default(),
            faults: Mutex::new(faults),
            async_sends: TaskTracker::new(),
            async_permits: Arc::new(Semaphore::new(config.max_async_in_flight)),
            instance,
            config,
        };
        Ok(Producer {
            inner: Arc::new(inner),
        })
    }

    /// The client instance (routes, client id).
    pub fn instance(&self) -> &Arc<ClientInstance> {
        &self.inner.instance
    }

    /// Sends and waits for the broker's answer, retrying on another broker on failure.
    pub async fn send(&self, msg: Message) -> Result<SendResult> {
        let out = self.encode(msg)?;
        self.send_with_retries(out, 1 + self.inner.config.retry_times_when_send_failed)
            .await
    }

    /// Sends in the background and calls `callback` with the outcome; many sends may be in
    /// flight (up to `max_async_in_flight`, after which this waits for a slot).
    pub async fn send_async<F>(&self, msg: Message, callback: F) -> Result<()>
    where
        F: FnOnce(Result<SendResult>) + Send + 'static,
    {
        if self.inner.instance.cancel_token().is_cancelled() {
            return Err(ClientError::Shutdown);
        }
        let out = self.encode(msg)?;
        let permit = self
            .inner
            .async_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ClientError::Shutdown)?;
        let this = self.clone();
        let attempts = 1 + self.inner.config.retry_times_when_send_async_failed;
        self.inner.async_sends.spawn(async move {
            let result = this.send_with_retries(out, attempts).await;
            drop(permit);
            callback(result);
        });
        Ok(())
    }

    /// Sends without waiting for an answer (one attempt, no result).
    pub async fn send_oneway(&self, msg: Message) -> Result<()> {
        let out = self.encode(msg)?;
        let info = self.publish_info(&out.topic).await?;
        let mq = self
            .select(&info, None)
            .ok_or_else(|| ClientError::NoRoute(out.topic.clone()))?;
        let addr = self.master_addr(&mq.broker_name).await?;
        let request = self.request(&out, &mq);
        self.inner
            .instance
            .remoting()
            .invoke_oneway(&addr, request)
            .await?;
        Ok(())
    }

    /// Sends to the queue `mq` (one attempt: the caller chose the queue).
    pub async fn send_to_queue(&self, msg: Message, mq: &MessageQueue) -> Result<SendResult> {
        if msg.topic != mq.topic {
            return Err(ClientError::Invalid(format!(
                "message topic {} is not the queue's {}",
                msg.topic, mq.topic
            )));
        }
        let out = self.encode(msg)?;
        self.send_once(&out, mq, self.inner.config.send_timeout).await
    }

    /// Sends to the queue `selector` picks among the topic's publish queues (index taken modulo
    /// their count), e.g. by a hash of an order id for ordered messages.
    pub async fn send_with_selector<S>(&self, msg: Message, selector: S) -> Result<SendResult>
    where
        S: FnOnce(&[MessageQueue]) -> usize,
    {
        let info = self.publish_info(&msg.topic).await?;
        let mq = info.queues[selector(&info.queues) % info.queues.len()].clone();
        self.send_to_queue(msg, &mq).await
    }

    /// Sends several messages of one topic as one SEND_BATCH_MESSAGE (stored consecutively in
    /// one queue).
    pub async fn send_batch(&self, msgs: Vec<Message>) -> Result<SendResult> {
        let out = self.encode_batch(msgs)?;
        self.send_with_retries(out, 1 + self.inner.config.retry_times_when_send_failed)
            .await
    }

    /// The queues a send to `topic` may use.
    pub async fn fetch_publish_queues(&self, topic: &str) -> Result<Vec<MessageQueue>> {
        Ok(self.publish_info(topic).await?.queues.clone())
    }

    /// Waits for async sends, unregisters from the brokers and stops every task.
    pub async fn shutdown(&self) {
        self.inner.async_sends.close();
        self.inner.async_sends.wait().await;
        self.inner
            .instance
            .unregister_producer(&self.inner.config.group)
            .await;
        self.inner.instance.shutdown().await;
    }

    fn check_topic(topic: &str) -> Result<()> {
        let ok = !topic.is_empty()
            && topic.len() <= 127
            && topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-'));
        if ok {
            Ok(())
        } else {
            Err(ClientError::Invalid(format!(
                "topic {topic:?} must be 1..127 characters of [%|a-zA-Z0-9_-]"
            )))
        }
    }

    fn encode(&self, mut msg: Message) -> Result<Outgoing> {
        Self::check_topic(&msg.topic)?;
        if msg.body.is_empty() || msg.body.len() > self.inner.config.max_message_size {
            return Err(ClientError::Invalid(format!(
                "body size {} must be 1..={}",
                msg.body.len(),
                self.inner.config.max_message_size
            )));
        }
        let msg_id = match msg.uniq_key() {
            Some(id) => id.to_string(),
            None => {
                let id = self.inner.ids.next_id(now_ms());
                msg.properties.insert(keys::UNIQ_KEY.to_string(), id.clone());
                id
            }
        };
        let mut flags = 0;
        if msg.property(keys::TRAN_MSG) == Some("true") {
            flags |= sys_flag::TRANSACTION_PREPARED;
        }
        let mut body = msg.body;
        if body.len() > self.inner.config.compress_msg_body_over {
            body = deflate(&body);
            flags |= sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB;
        }
        Ok(Outgoing {
            topic: msg.topic,
            body,
            flag: msg.flag,
            properties: properties::render(&msg.properties),
            sys_flag: flags,
            batch: false,
            msg_id,
        })
    }

    fn encode_batch(&self, msgs: Vec<Message>) -> Result<Outgoing> {
        let Some(topic) = msgs.first().map(|m| m.topic.clone()) else {
            return Err(ClientError::Invalid("empty batch".into()));
        };
        Self::check_topic(&topic)?;
        let mut items = Vec::with_capacity(msgs.len());
        let mut ids = Vec::with_capacity(msgs.len());
        for mut msg in msgs {
            if msg.topic != topic {
                return Err(ClientError::Invalid("a batch holds messages of one topic".into()));
            }
            if msg.property(keys::DELAY).is_some() || topic.starts_with("%RETRY%") {
                return Err(ClientError::Invalid(
                    "a batch cannot hold delayed or retry messages".into(),
                ));
            }
            let id = self.inner.ids.next_id(now_ms());
            msg.properties.insert(keys::UNIQ_KEY.to_string(), id.clone());
            ids.push(id);
            items.push(BatchItem {
                flag: msg.flag,
                body: msg.body,
                properties: properties::render(&msg.properties),
            });
        }
        let body = batch::encode(&items);
        if body.len() > self.inner.config.max_message_size {
            return Err(ClientError::Invalid(format!(
                "batch of {} bytes is too large",
                body.len()
            )));
        }
        Ok(Outgoing {
            topic,
            body,
            flag: 0,
            properties: String::new(),
            sys_flag: 0,
            batch: true,
            msg_id: ids.join(","),
        })
    }

    async fn publish_info(&self, topic: &str) -> Result<Arc<TopicPublishInfo>> {
        let c = &self.inner.config;
        self.inner
            .instance
            .publish_info(topic, &c.create_topic_key, c.default_topic_queue_nums)
            .await
    }

    fn select(&self, info: &TopicPublishInfo, last_broker: Option<&str>) -> Option<MessageQueue> {
        if self.inner.config.send_latency_fault_enable {
            let now = self.inner.instance.now_ms();
            let mut faults = self.inner.faults.lock().expect("faults lock");
            select_queue_avoiding_faults(info, last_broker, &self.inner.index, &mut faults, now)
        } else {
            select_queue(info, last_broker, &self.inner.index)
        }
    }

    fn update_fault(&self, broker: &str, latency: Duration, isolation: bool) {
        if self.inner.config.send_latency_fault_enable {
            let now = self.inner.instance.now_ms();
            let latency = latency.as_millis() as u64;
            self.inner
                .faults
                .lock()
                .expect("faults lock")
                .update(broker, latency, isolation, now);
        }
    }

    async fn master_addr(&self, broker_name: &str) -> Result<String> {
        self.inner
            .instance
            .master_addr(broker_name)
            .ok_or_else(|| ClientError::BrokerNotFound(broker_name.to_string()))
    }

    async fn send_with_retries(&self, out: Outgoing, attempts: u32) -> Result<SendResult> {
        let info = self.publish_info(&out.topic).await?;
        let timeout = self.inner.config.send_timeout;
        let begin = Instant::now();
        let mut last_broker: Option<String> = None;
        let mut last_err = None;
        // A result whose message was stored but not flushed/replicated, kept while another broker
        // is tried: if every later attempt fails, the caller learns the message was stored.
        let mut stored: Option<SendResult> = None;
        for attempt in 0..attempts {
            let Some(remaining) = timeout.checked_sub(begin.elapsed()).filter(|d| !d.is_zero()) else {
                break;
            };
            let Some(mq) = self.select(&info, last_broker.as_deref()) else {
                last_err = Some(ClientError::NoRoute(out.topic.clone()));
                break;
            };
            last_broker = Some(mq.broker_name.clone());
            let started = Instant::now();
            match self.send_once(&out, &mq, remaining).await {
                Ok(mut result) => {
                    result.attempts = attempt + 1;
                    self.update_fault(&mq.broker_name, started.elapsed(), false);
                    let retry_not_ok =
                        self.inner.config.retry_another_broker_when_not_store_ok && attempt + 1 < attempts;
                    if result.status != SendStatus::SendOk && retry_not_ok {
                        debug!(queue = %mq, attempt, status = ?result.status, "stored but not OK; trying another broker");
                        stored = Some(result);
                        continue;
                    }
                    return Ok(result);
                }
                Err(e) => {
                    self.update_fault(&mq.broker_name, started.elapsed(), e.is_transport());
                    debug!(queue = %mq, attempt, error = %e, "send attempt failed");
                    if !e.is_retryable_send() {
                        return stored.ok_or(e);
                    }
                    last_err = Some(e);
                }
            }
        }
        if let Some(result) = stored {
            return Ok(result);
        }
        Err(last_err.unwrap_or_else(|| {
            ClientError::Net(NetError::Timeout {
                addr: out.topic.clone(),
                millis: timeout.as_millis(),
            })
        }))
    }

    fn request(&self, out: &Outgoing, mq: &MessageQueue) -> RemotingCommand {
        let retry = out.topic.starts_with("%RETRY%");
        let header = SendMessageRequestHeaderV2 {
            a: self.inner.config.group.clone(),
            b: out.topic.clone(),
            c: self.inner.config.create_topic_key.clone(),
            d: self.inner.config.default_topic_queue_nums,
            e: mq.queue_id,
            f: out.sys_flag,
            g: now_ms(),
            h: out.flag,
            i: (!out.properties.is_empty()).then(|| out.properties.clone()),
            j: Some(0),
            k: Some(false),
            l: retry.then_some(16),
            m: Some(out.batch),
            n: Some(mq.broker_name.clone()),
        };
        if out.batch {
            let header = SendBatchMessageRequestHeader(header);
            RemotingCommand::request_with(RequestCode::SEND_BATCH_MESSAGE, &header)
                .with_body(out.body.clone())
        } else {
            RemotingCommand::request_with(RequestCode::SEND_MESSAGE_V2, &header).with_body(out.body.clone())
        }
    }

    async fn send_once(&self, out: &Outgoing, mq: &MessageQueue, timeout: Duration) -> Result<SendResult> {
        let addr = self.master_addr(&mq.broker_name).await?;
        let request = self.request(out, mq);
        let response = self
            .inner
            .instance
            .remoting()
            .invoke(&addr, request, timeout)
            .await?;
        let status = match ResponseCode::try_from(response.code) {
            Ok(ResponseCode::SUCCESS) => SendStatus::SendOk,
            Ok(ResponseCode::FLUSH_DISK_TIMEOUT) => SendStatus::FlushDiskTimeout,
            Ok(ResponseCode::FLUSH_SLAVE_TIMEOUT) => SendStatus::FlushSlaveTimeout,
            Ok(ResponseCode::SLAVE_NOT_AVAILABLE) => SendStatus::SlaveNotAvailable,
            _ => return Err(ClientError::broker(&addr, &response)),
        };
        let header = SendMessageResponseHeader::from_ext_fields(&response.ext_fields)
            .map_err(|e| ClientError::BadBody(format!("send response from {addr}: {e}")))?;
        Ok(SendResult {
            status,
            msg_id: out.msg_id.clone(),
            offset_msg_id: header.msg_id,
            queue: MessageQueue::new(&mq.topic, &mq.broker_name, header.queue_id),
            queue_offset: header.queue_offset,
            attempts: 1,
        })
    }
}
