//! Rebalance: which queues of a topic this member should consume now.
//!
//! Clustering: the topic's readable queues (from the route) sorted, the group's member ids (from
//! GET_CONSUMER_LIST_BY_GROUP at one broker of the topic) sorted, then the allocation strategy.
//! Broadcasting: every queue. [`diff`] is the pure part that turns the current and the target
//! assignment into the queues to give up and to take.
//!
//! Also the queue locks of ordered consumption (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ, sent to the
//! master of each broker group).

use std::collections::{BTreeMap, BTreeSet};

use rand::seq::SliceRandom;
use rmq_remoting::body::{
    ConsumerIdList, JsonBody, LockBatchRequestBody, LockBatchResponseBody, MessageModel,
    UnlockBatchRequestBody,
};
use rmq_remoting::headers::client::GetConsumerListByGroupRequestHeader;
use rmq_remoting::{RemotingCommand, RequestCode};

use crate::allocate::AllocateStrategy;
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::route::subscribe_queues;
use crate::MessageQueue;

/// The queues to give up and the queues to take.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Held now, not in the target.
    pub removed: Vec<MessageQueue>,
    /// In the target, not held now.
    pub added: Vec<MessageQueue>,
}

/// Compares the queues of one topic held now with the target.
pub fn diff<'a>(
    current: impl IntoIterator<Item = &'a MessageQueue>,
    target: &BTreeSet<MessageQueue>,
) -> Change {
    let current: BTreeSet<&MessageQueue> = current.into_iter().collect();
    Change {
        removed: current
            .iter()
            .filter(|mq| !target.contains(**mq))
            .map(|mq| (*mq).clone())
            .collect(),
        added: target
            .iter()
            .filter(|mq| !current.contains(mq))
            .cloned()
            .collect(),
    }
}

/// The member ids of `group`, sorted, asked of one broker holding `queues`.
pub async fn consumer_ids(
    instance: &ClientInstance,
    group: &str,
    queues: &BTreeSet<MessageQueue>,
) -> Result<Vec<String>> {
    let mut names: Vec<&str> = queues.iter().map(|q| q.broker_name.as_str()).collect();
    names.dedup();
    names.shuffle(&mut rand::thread_rng());
    let mut last_err = None;
    for name in names {
        let Some((addr, _)) = instance.subscribe_addr(name, 0, false) else {
            continue;
        };
        let header = GetConsumerListByGroupRequestHeader {
            consumer_group: group.to_string(),
        };
        let request = RemotingCommand::request_with(RequestCode::GET_CONSUMER_LIST_BY_GROUP, &header);
        match instance
            .remoting()
            .invoke(&addr, request, instance.config().request_timeout)
            .await
        {
            Ok(r) if r.is_success() => {
                let list = ConsumerIdList::decode(&r.body)
                    .map_err(|e| ClientError::BadBody(format!("consumer list from {addr}: {e}")))?;
                let mut ids = list.consumer_id_list;
                ids.sort();
                ids.dedup();
                return Ok(ids);
            }
            Ok(r) => last_err = Some(ClientError::broker(&addr, &r)),
            Err(e) => last_err = Some(e.into()),
        }
    }
    Err(last_err.unwrap_or_else(|| ClientError::NoRoute(group.to_string())))
}

/// The queues of `topic` this member should hold; `Ok(None)` when the topic has no route yet.
pub async fn target_queues(
    instance: &ClientInstance,
    group: &str,
    topic: &str,
    model: MessageModel,
    strategy: AllocateStrategy,
) -> Result<Option<BTreeSet<MessageQueue>>> {
    let Some(route) = instance.route(topic).await? else {
        return Ok(None);
    };
    let all = subscribe_queues(topic, &route);
    if model == MessageModel::BROADCASTING || all.is_empty() {
        return Ok(Some(all));
    }
    let ids = consumer_ids(instance, group, &all).await?;
    let sorted: Vec<MessageQueue> = all.into_iter().collect();
    Ok(Some(
        strategy
            .allocate(&sorted, &ids, instance.client_id())
            .into_iter()
            .collect(),
    ))
}

fn by_broker(mqs: &[MessageQueue]) -> BTreeMap<String, BTreeSet<MessageQueue>> {
    let mut map: BTreeMap<String, BTreeSet<MessageQueue>> = BTreeMap::new();
    for mq in mqs {
        map.entry(mq.broker_name.clone()).or_default().insert(mq.clone());
    }
    map
}

/// LOCK_BATCH_MQ at each master; returns the queues now locked by this client.
pub async fn lock(instance: &ClientInstance, group: &str, mqs: &[MessageQueue]) -> BTreeSet<MessageQueue> {
    let mut locked = BTreeSet::new();
    for (broker, set) in by_broker(mqs) {
        let Some(addr) = instance.master_addr(&broker) else {
            continue;
        };
        let body = LockBatchRequestBody {
            client_id: instance.client_id().to_string(),
            consumer_group: group.to_string(),
            mq_set: set,
            only_this_broker: false,
        };
        let request = RemotingCommand::request(RequestCode::LOCK_BATCH_MQ).with_body(body.encode());
        match instance
            .remoting()
            .invoke(&addr, request, instance.config().request_timeout)
            .await
        {
            Ok(r) if r.is_success() => {
                if let Ok(ok) = LockBatchResponseBody::decode(&r.body) {
                    locked.extend(ok.lock_ok_mq_set);
                }
            }
            Ok(r) => tracing::debug!(broker, code = r.code, "lock refused"),
            Err(e) => tracing::debug!(broker, error = %e, "lock failed"),
        }
    }
    locked
}

/// UNLOCK_BATCH_MQ (one-way) at each master.
pub async fn unlock(instance: &ClientInstance, group: &str, mqs: &[MessageQueue]) {
    for (broker, set) in by_broker(mqs) {
        let Some(addr) = instance.master_addr(&broker) else {
            continue;
        };
        let body = UnlockBatchRequestBody {
            client_id: instance.client_id().to_string(),
            consumer_group: group.to_string(),
            mq_set: set,
            only_this_broker: false,
        };
        let request = RemotingCommand::request(RequestCode::UNLOCK_BATCH_MQ).with_body(body.encode());
        let _ = instance.remoting().invoke_oneway(&addr, request).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_finds_given_up_and_taken_queues() {
        let q = |i| MessageQueue::new("T", "b", i);
        let current = [q(0), q(1), q(2)];
        let target: BTreeSet<MessageQueue> = [q(2), q(3)].into_iter().collect();
        let change = diff(current.iter(), &target);
        assert_eq!(change.removed, vec![q(0), q(1)]);
        assert_eq!(change.added, vec![q(3)]);
        assert_eq!(diff(target.iter(), &target), Change::default());
    }
}
