//! Rebalance as a push consumer does it: which queues this member holds, taking a queue (lock it
//! if ordered, find its start offset, start its pull loop) and giving one up (stop its loop,
//! commit its offset, unlock it). Also the 20 s lock renewal of ordered consumption.
//! [`crate::rebalance`] computes the target assignment; this module applies it to [`Shared`].
//!
//! Ordered queues: a queue given away is unlocked on the broker only once its running callback
//! ends (waiting at most 1 s); a queue still busy keeps its broker lock until the lock expires,
//! so two members never consume the same queue at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_remoting::body::ConsumeFromWhere;
use tracing::{debug, info, warn};

use crate::error::Result;
use crate::instance::sleep_or_cancel;
use crate::process_queue::ProcessQueue;
use crate::push_shared::Shared;
use crate::rebalance;
use crate::MessageQueue;

/// Rebalances every `rebalance_interval`, and at once when [`Shared::rebalance`] is notified,
/// until the consumer stops.
pub(crate) async fn rebalance_task(s: Arc<Shared>) {
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

/// Renews the broker locks of the held queues every 20 s (ordered consumption in a clustering
/// group) and records for each queue whether it still holds its lock.
pub(crate) async fn lock_task(s: Arc<Shared>) {
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
    use tokio_util::sync::CancellationToken;

    use super::*;

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
