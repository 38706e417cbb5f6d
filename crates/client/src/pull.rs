//! PULL_MESSAGE and the queue-offset queries, shared by the push and pull consumers.
//!
//! Which address of a broker group a pull goes to: the broker id the last answer suggested
//! (`suggestWhichBrokerId`, 0 = master), unless that address failed recently, in which case the
//! first other live address of the group (seed 002: a dead master's queues are drained from its
//! slave). A slave suggests the master again, so once the master is back and its failure mark
//! has expired, pulls return to it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rmq_remoting::body::SubscriptionData;
use rmq_remoting::headers::offset::{
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, SearchOffsetRequestHeader, SearchOffsetResponseHeader,
};
use rmq_remoting::headers::pull::{pull_sys_flag, PullMessageRequestHeader, PullMessageResponseHeader};
use rmq_remoting::message::properties::keys;
use rmq_remoting::{CommandHeader, RemotingCommand, RequestCode, ResponseCode, RpcRequest};
use tracing::debug;

use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::message::MessageExt;
use crate::MessageQueue;

/// How long an address that failed a pull is skipped.
const DOWN_MARK: Duration = Duration::from_secs(5);

/// What a pull found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullStatus {
    /// Messages came back (possibly all filtered out by tag on the client).
    Found,
    /// Nothing new past the offset.
    NoNewMsg,
    /// Entries were scanned but none matched the tag filter.
    NoMatchedMsg,
    /// The offset is outside the queue; continue from `next_begin_offset`.
    OffsetIllegal,
}

/// The outcome of a pull.
#[derive(Debug, Clone)]
pub struct PullResult {
    /// Status.
    pub status: PullStatus,
    /// Where the next pull starts.
    pub next_begin_offset: i64,
    /// The queue's first retained offset.
    pub min_offset: i64,
    /// The queue's next offset to be written.
    pub max_offset: i64,
    /// The messages that passed the tag filter.
    pub messages: Vec<MessageExt>,
}

/// A pull to make.
pub(crate) struct PullRequest<'a> {
    pub group: &'a str,
    pub mq: &'a MessageQueue,
    pub subscription: &'a SubscriptionData,
    pub offset: i64,
    pub max_nums: i32,
    /// The consumer's offset, committed by a master along with the pull.
    pub commit_offset: Option<i64>,
    /// Let the broker hold the pull this long when nothing is there.
    pub suspend: Option<Duration>,
    pub timeout: Duration,
}

/// Pull routing state: suggested broker ids per queue and recently failed addresses.
#[derive(Default)]
pub(crate) struct Puller {
    // Guards the suggestion table only.
    suggested: Mutex<HashMap<MessageQueue, i64>>,
    // Guards the failure marks only.
    down: Mutex<HashMap<String, Instant>>,
}

impl Puller {
    fn is_down(&self, addr: &str) -> bool {
        let mut down = self.down.lock().expect("down lock");
        match down.get(addr) {
            Some(until) if Instant::now() < *until => true,
            Some(_) => {
                down.remove(addr);
                false
            }
            None => false,
        }
    }

    fn mark_down(&self, addr: &str) {
        self.down
            .lock()
            .expect("down lock")
            .insert(addr.to_string(), Instant::now() + DOWN_MARK);
    }

    /// The address to pull `mq` from and its broker id.
    async fn choose(&self, instance: &ClientInstance, mq: &MessageQueue) -> Result<(String, i64)> {
        let mut addrs = instance.broker_addrs(&mq.broker_name);
        if addrs.is_empty() {
            instance.update_route(&mq.topic).await?;
            addrs = instance.broker_addrs(&mq.broker_name);
        }
        let suggested = self
            .suggested
            .lock()
            .expect("suggested lock")
            .get(mq)
            .copied()
            .unwrap_or(0);
        choose_addr(&addrs, suggested, |addr| self.is_down(addr))
            .ok_or_else(|| ClientError::BrokerNotFound(mq.broker_name.clone()))
    }

    /// Sends one PULL_MESSAGE and decodes the answer.
    pub(crate) async fn pull(&self, instance: &ClientInstance, req: PullRequest<'_>) -> Result<PullResult> {
        let (addr, broker_id) = self.choose(instance, req.mq).await?;
        let commit = req.commit_offset.filter(|_| broker_id == 0);
        let header = PullMessageRequestHeader {
            consumer_group: req.group.to_string(),
            topic: req.mq.topic.clone(),
            queue_id: req.mq.queue_id,
            queue_offset: req.offset,
            max_msg_nums: req.max_nums,
            sys_flag: pull_sys_flag::build(commit.is_some(), req.suspend.is_some(), true, false),
            commit_offset: commit.unwrap_or(0),
            suspend_timeout_millis: req.suspend.map_or(0, |d| d.as_millis() as i64),
            subscription: Some(req.subscription.sub_string.clone()),
            sub_version: req.subscription.sub_version,
            expression_type: Some(req.subscription.expression_type.clone()),
            bname: Some(req.mq.broker_name.clone()),
        };
        let request = RemotingCommand::request_with(RequestCode::PULL_MESSAGE, &header);
        let response = match instance.remoting().invoke(&addr, request, req.timeout).await {
            Ok(r) => r,
            Err(e) => {
                let e = ClientError::from(e);
                if e.is_transport() {
                    self.mark_down(&addr);
                }
                return Err(e);
            }
        };
        let status = match ResponseCode::try_from(response.code) {
            Ok(ResponseCode::SUCCESS) => PullStatus::Found,
            Ok(ResponseCode::PULL_NOT_FOUND) => PullStatus::NoNewMsg,
            Ok(ResponseCode::PULL_RETRY_IMMEDIATELY) => PullStatus::NoMatchedMsg,
            Ok(ResponseCode::PULL_OFFSET_MOVED) => PullStatus::OffsetIllegal,
            _ => return Err(ClientError::broker(&addr, &response)),
        };
        let head = PullMessageResponseHeader::from_ext_fields(&response.ext_fields)
            .map_err(|e| ClientError::BadBody(format!("pull response from {addr}: {e}")))?;
        self.suggested
            .lock()
            .expect("suggested lock")
            .insert(req.mq.clone(), head.suggest_which_broker_id);
        let mut messages = Vec::new();
        if status == PullStatus::Found {
            // The client re-checks tags only; a SQL92 selector was applied by the broker.
            let filter = req
                .subscription
                .is_tag_type()
                .then(|| req.subscription.tag_filter());
            let (min, max) = (head.min_offset.to_string(), head.max_offset.to_string());
            for mut msg in MessageExt::decode_pull_body(&response.body, &req.mq.broker_name)? {
                if filter.as_ref().is_some_and(|f| !f.matches_tag(msg.tags())) {
                    continue;
                }
                let props = &mut msg.message.properties;
                props.insert(keys::MIN_OFFSET.to_string(), min.clone());
                props.insert(keys::MAX_OFFSET.to_string(), max.clone());
                messages.push(msg);
            }
        }
        debug!(queue = %req.mq, ?status, next = head.next_begin_offset, n = messages.len(), "pulled");
        Ok(PullResult {
            status,
            next_begin_offset: head.next_begin_offset,
            min_offset: head.min_offset,
            max_offset: head.max_offset,
            messages,
        })
    }
}

/// Picks the address of a broker group to pull from: the suggested id (else the lowest id, the
/// master when present) unless it failed recently, then the first address that did not; if all
/// failed recently, the preferred one anyway.
pub(crate) fn choose_addr(
    addrs: &[(i64, String)],
    suggested: i64,
    is_down: impl Fn(&str) -> bool,
) -> Option<(String, i64)> {
    let preferred = addrs
        .iter()
        .find(|(id, _)| *id == suggested)
        .or_else(|| addrs.first())?;
    let pick = if is_down(&preferred.1) {
        addrs.iter().find(|(_, addr)| !is_down(addr)).unwrap_or(preferred)
    } else {
        preferred
    };
    Some((pick.1.clone(), pick.0))
}

async fn offset_call<R>(instance: &ClientInstance, mq: &MessageQueue, header: R) -> Result<R::Response>
where
    R: RpcRequest,
{
    let addr = match instance.subscribe_addr(&mq.broker_name, 0, false) {
        Some((addr, _)) => addr,
        None => {
            instance.update_route(&mq.topic).await?;
            instance
                .subscribe_addr(&mq.broker_name, 0, false)
                .ok_or_else(|| ClientError::BrokerNotFound(mq.broker_name.clone()))?
                .0
        }
    };
    let timeout = instance.config().request_timeout;
    let (response, _) = instance.remoting().call(&addr, &header, None, timeout).await?;
    Ok(response)
}

/// GET_MAX_OFFSET: the next offset to be written in `mq`.
pub async fn max_offset(instance: &ClientInstance, mq: &MessageQueue) -> Result<i64> {
    let header = GetMaxOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        bname: Some(mq.broker_name.clone()),
    };
    let r: GetMaxOffsetResponseHeader = offset_call(instance, mq, header).await?;
    Ok(r.offset)
}

/// GET_MIN_OFFSET: the first retained offset of `mq`.
pub async fn min_offset(instance: &ClientInstance, mq: &MessageQueue) -> Result<i64> {
    let header = GetMinOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        bname: Some(mq.broker_name.clone()),
    };
    let r: GetMinOffsetResponseHeader = offset_call(instance, mq, header).await?;
    Ok(r.offset)
}

/// SEARCH_OFFSET_BY_TIMESTAMP: the offset of the message stored closest to `timestamp_ms`.
pub async fn search_offset(instance: &ClientInstance, mq: &MessageQueue, timestamp_ms: i64) -> Result<i64> {
    let header = SearchOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        timestamp: timestamp_ms,
        bname: Some(mq.broker_name.clone()),
    };
    let r: SearchOffsetResponseHeader = offset_call(instance, mq, header).await?;
    Ok(r.offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pulls_move_to_the_slave_and_back_to_the_master() {
        let both = vec![(0, "m:1".to_string()), (1, "s:1".to_string())];
        let up = |_: &str| false;
        let master_down = |a: &str| a == "m:1";
        // Normal: the master, or whatever the broker suggests.
        assert_eq!(choose_addr(&both, 0, up), Some(("m:1".into(), 0)));
        assert_eq!(choose_addr(&both, 1, up), Some(("s:1".into(), 1)));
        // The master failed a pull: its queues are read from the slave.
        assert_eq!(choose_addr(&both, 0, master_down), Some(("s:1".into(), 1)));
        // The nameserver dropped the master: the slave is the only address.
        let slave_only = vec![(1, "s:1".to_string())];
        assert_eq!(choose_addr(&slave_only, 0, up), Some(("s:1".into(), 1)));
        // The master is back and the slave suggests it (id 0): pulls return to it.
        assert_eq!(choose_addr(&both, 0, up), Some(("m:1".into(), 0)));
        // Everything failed recently: still try the preferred one; nothing known: none.
        assert_eq!(choose_addr(&both, 0, |_| true), Some(("m:1".into(), 0)));
        assert_eq!(choose_addr(&[], 0, up), None);
    }
}
