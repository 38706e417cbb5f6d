//! The pull loop of one assigned queue and the delivery of its messages to the callback.
//!
//! Concurrent mode: each pulled message runs the callback in its own task, at most
//! `consume_concurrency` at once across the consumer; the loop keeps pulling until
//! `pull_threshold_for_queue` messages are in flight. Ordered mode: the loop delivers the pulled
//! messages one by one, in queue order, before the next pull, and only while it holds the queue's
//! broker lock.
//!
//! A message the callback wants again is sent back to the broker (CONSUMER_SEND_MSG_BACK, into
//! `%RETRY%<group>`); if that fails it is retried locally after a pause, so it is never lost.
//! Ordered consumption retries locally instead, and after `max_reconsume_times` failures sends
//! the message straight to `%DLQ%<group>`.
//! The committed offset only moves past a message once it is done (see [`ProcessQueue`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;

use rmq_remoting::body::MessageModel;
use rmq_remoting::headers::client::ConsumerSendMsgBackRequestHeader;
use rmq_remoting::message::properties::keys;
use tracing::{debug, warn};

use crate::error::{ClientError, Result};
use crate::instance::sleep_or_cancel;
use crate::listener::ConsumeResult;
use crate::message::MessageExt;
use crate::process_queue::ProcessQueue;
use crate::pull::{PullRequest, PullStatus};
use crate::push_shared::Shared;
use crate::MessageQueue;

/// Pause when a queue has too many messages in flight (`PULL_TIME_DELAY_MILLS_WHEN_FLOW_CONTROL`).
const FLOW_CONTROL_PAUSE: Duration = Duration::from_millis(50);
/// Pause before a failed message is delivered again locally.
const LOCAL_RETRY_PAUSE: Duration = Duration::from_secs(5);
/// Pause of an ordered queue after a `ReconsumeLater` (`suspendCurrentQueueTimeMillis`).
const ORDERLY_SUSPEND: Duration = Duration::from_secs(1);
/// Send-back delay level letting the broker choose (`3 + reconsumeTimes`, or the DLQ past the
/// group's maximum, judged on the reconsume count the broker stored).
const RETRY_DELAY_LEVEL: i32 = 0;
/// Send-back delay level meaning "straight to `%DLQ%<group>`" (protocol.md §2.4). Ordered
/// consumption counts its attempts locally, so the broker's stored count (0) would not send
/// the message to the DLQ on its own.
const DLQ_DELAY_LEVEL: i32 = -1;

/// Runs until the queue is given away or the consumer stops.
pub(crate) async fn run(s: Arc<Shared>, mq: MessageQueue, pq: Arc<ProcessQueue>, start: i64) {
    pull_loop(&s, &mq, &pq, start).await;
    pq.stopped().cancel();
    debug!(queue = %mq, "pull loop stopped");
}

async fn pull_loop(s: &Arc<Shared>, mq: &MessageQueue, pq: &Arc<ProcessQueue>, start: i64) {
    let (s, mq, pq) = (s.clone(), mq.clone(), pq.clone());
    let Some(subscription) = s.subscriptions.get(&mq.topic).cloned() else {
        return;
    };
    let orderly = s.config.orderly;
    let clustering = s.config.message_model == MessageModel::CLUSTERING;
    let mut next = start;
    debug!(queue = %mq, start, "pulling");
    while !pq.is_dropped() {
        if pq.count() >= s.config.pull_threshold_for_queue {
            if !sleep_or_cancel(FLOW_CONTROL_PAUSE, pq.dropped()).await {
                break;
            }
            continue;
        }
        if orderly && clustering && !pq.holds_lock(Instant::now()) {
            let locked =
                crate::rebalance::lock(&s.instance, &s.config.group, std::slice::from_ref(&mq)).await;
            pq.set_locked(locked.contains(&mq), Instant::now());
            if !locked.contains(&mq) {
                if !sleep_or_cancel(Duration::from_secs(1), pq.dropped()).await {
                    break;
                }
                continue;
            }
        }
        let request = PullRequest {
            group: &s.config.group,
            mq: &mq,
            subscription: &subscription,
            offset: next,
            max_nums: s.config.pull_batch_size,
            commit_offset: s.offsets.read_memory(&mq).filter(|_| clustering),
            suspend: Some(s.config.broker_suspend_max),
            timeout: s.config.pull_timeout,
        };
        let result = tokio::select! {
            _ = pq.dropped().cancelled() => break,
            r = s.puller.pull(&s.instance, request) => r,
        };
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                debug!(queue = %mq, error = %e, "pull failed");
                if !sleep_or_cancel(s.config.pull_error_backoff, pq.dropped()).await {
                    break;
                }
                continue;
            }
        };
        match result.status {
            PullStatus::Found => {
                next = result.next_begin_offset;
                if result.messages.is_empty() {
                    if pq.count() == 0 {
                        s.offsets.update(&mq, next, true);
                    }
                    continue;
                }
                pq.put(result.messages.iter().map(|m| m.queue_offset));
                if orderly {
                    if !consume_in_order(&s, &mq, &pq, result.messages).await {
                        // Lost the lock or stopped: resume from the last committed offset.
                        pq.clear();
                        next = s.offsets.read_memory(&mq).unwrap_or(next);
                    }
                } else {
                    for msg in result.messages {
                        let Some(permit) = acquire(&s, &pq).await else {
                            break;
                        };
                        let (s2, mq2, pq2) = (s.clone(), mq.clone(), pq.clone());
                        s.tasks.spawn(async move {
                            consume_one(&s2, &mq2, &pq2, msg).await;
                            drop(permit);
                        });
                    }
                }
            }
            PullStatus::NoNewMsg | PullStatus::NoMatchedMsg => {
                next = result.next_begin_offset;
                if pq.count() == 0 {
                    s.offsets.update(&mq, next, true);
                }
            }
            PullStatus::OffsetIllegal => {
                warn!(queue = %mq, offset = next, corrected = result.next_begin_offset, "offset out of range; corrected");
                next = result.next_begin_offset;
                s.offsets.update(&mq, next, false);
                s.offsets.persist(std::slice::from_ref(&mq)).await;
            }
        }
    }
}

async fn acquire(s: &Shared, pq: &ProcessQueue) -> Option<tokio::sync::OwnedSemaphorePermit> {
    tokio::select! {
        _ = pq.dropped().cancelled() => None,
        p = s.permits.clone().acquire_owned() => p.ok(),
    }
}

/// Restores the original topic of a message delivered from the retry topic.
fn for_listener(s: &Shared, msg: &MessageExt) -> MessageExt {
    let mut m = msg.clone();
    if m.message.topic == s.retry_topic {
        if let Some(real) = m.property(keys::RETRY_TOPIC).map(str::to_string) {
            m.message.topic = real;
        }
    }
    m
}

/// Runs the callback in the calling task, turning a panic into `ReconsumeLater` (a task of its
/// own per message would double the consumer's spawns for the same isolation).
async fn call_listener(s: &Shared, msg: MessageExt) -> ConsumeResult {
    let fut = std::panic::AssertUnwindSafe((s.listener)(msg));
    match fut.catch_unwind().await {
        Ok(r) => r,
        Err(_) => {
            warn!("message listener panicked; the message will be delivered again");
            ConsumeResult::ReconsumeLater
        }
    }
}

async fn consume_one(s: &Shared, mq: &MessageQueue, pq: &ProcessQueue, msg: MessageExt) {
    let result = call_listener(s, for_listener(s, &msg)).await;
    if result == ConsumeResult::Success || s.config.message_model == MessageModel::BROADCASTING {
        commit(s, mq, pq, msg.queue_offset);
        return;
    }
    // Boxed: the send-back and retry states are rare, and kept inline they would make every
    // message's task several times larger (each spawn copies the whole future).
    Box::pin(reconsume(s, mq, pq, msg)).await;
}

/// A message the callback wants again: sent back to the broker, or retried locally until that
/// works; committed once either is done.
async fn reconsume(s: &Shared, mq: &MessageQueue, pq: &ProcessQueue, mut msg: MessageExt) {
    loop {
        match send_back(s, &msg, RETRY_DELAY_LEVEL).await {
            Ok(()) => break,
            Err(e) => {
                warn!(queue = %mq, offset = msg.queue_offset, error = %e, "send back failed; retrying locally");
                if !sleep_or_cancel(LOCAL_RETRY_PAUSE, &s.cancel).await {
                    // Stopping: the message stays uncommitted and is delivered again later.
                    return;
                }
                msg.reconsume_times += 1;
            }
        }
        let result = call_listener(s, for_listener(s, &msg)).await;
        if result == ConsumeResult::Success {
            break;
        }
    }
    commit(s, mq, pq, msg.queue_offset);
}

/// Delivers `msgs` in order; false when the lock was lost or the queue dropped.
async fn consume_in_order(s: &Shared, mq: &MessageQueue, pq: &ProcessQueue, msgs: Vec<MessageExt>) -> bool {
    let clustering = s.config.message_model == MessageModel::CLUSTERING;
    for mut msg in msgs {
        loop {
            if pq.is_dropped() || (clustering && !pq.holds_lock(Instant::now())) {
                return false;
            }
            let Some(permit) = acquire(s, pq).await else {
                return false;
            };
            // Held until the offset is recorded: a rebalance giving the queue away waits for it.
            let consuming = pq.consume_lock().await;
            if pq.is_dropped() {
                return false;
            }
            let result = call_listener(s, for_listener(s, &msg)).await;
            drop(permit);
            let done = result == ConsumeResult::Success || {
                msg.reconsume_times += 1;
                msg.reconsume_times >= s.config.max_reconsume_times
                    && clustering
                    && send_back(s, &msg, DLQ_DELAY_LEVEL).await.is_ok()
            };
            if done {
                commit(s, mq, pq, msg.queue_offset);
                break;
            }
            drop(consuming);
            if !sleep_or_cancel(ORDERLY_SUSPEND, pq.dropped()).await {
                return false;
            }
        }
    }
    true
}

/// Marks a message done and moves the queue's offset, unless the queue was given away: its offset
/// was persisted then and belongs to the next owner.
fn commit(s: &Shared, mq: &MessageQueue, pq: &ProcessQueue, queue_offset: i64) {
    if let Some(offset) = pq.remove([queue_offset]) {
        if !pq.is_dropped() {
            s.offsets.update(mq, offset, true);
        }
    }
}

/// CONSUMER_SEND_MSG_BACK to the broker group the message came from, with `delay_level`
/// ([`RETRY_DELAY_LEVEL`] or [`DLQ_DELAY_LEVEL`]).
async fn send_back(s: &Shared, msg: &MessageExt, delay_level: i32) -> Result<()> {
    let (addr, _) = s
        .instance
        .subscribe_addr(&msg.broker_name, 0, false)
        .ok_or_else(|| ClientError::BrokerNotFound(msg.broker_name.clone()))?;
    let header = ConsumerSendMsgBackRequestHeader {
        offset: msg.commit_log_offset,
        group: s.config.group.clone(),
        delay_level,
        origin_msg_id: Some(msg.msg_id().to_string()),
        origin_topic: Some(for_listener(s, msg).message.topic),
        unit_mode: Some(false),
        max_reconsume_times: Some(s.config.max_reconsume_times),
    };
    let timeout = s.instance.config().request_timeout;
    s.instance.remoting().call(&addr, &header, None, timeout).await?;
    Ok(())
}
