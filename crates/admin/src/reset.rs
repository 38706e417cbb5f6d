//! `resetOffsetByTime`: moves a consumer group's offsets on one topic to the first message
//! stored at or after a time, Apache's way (`ResetOffsetByTimeCommand`):
//!
//! 1. INVOKE_BROKER_TO_RESET_OFFSET (222) to the master (else a slave) of every broker group of
//!    the topic. The broker computes each queue's offset, pushes them to every consumer of the
//!    group online (RESET_CONSUMER_CLIENT_OFFSET, 220), which move and commit them, and answers
//!    the table ([`ResetOutcome::Online`]).
//! 2. If a broker answers CONSUMER_NOT_ONLINE, the group has no member to tell, so the offsets
//!    are written directly (`resetOffsetByTimestampOld`, [`ResetOutcome::Offline`]):
//!    GET_CONSUME_STATS per broker, SEARCH_OFFSET_BY_TIMESTAMP (GET_MAX_OFFSET for time -1) per
//!    queue, UPDATE_CONSUMER_OFFSET. A broker where the group has no offset on the topic gets
//!    every readable queue, starting from its minimum offset, as Apache does.
//!
//! `force` false moves an offset only back (the time lies before the current offset).

use rmq_remoting::body::TopicStatsTable;
use rmq_remoting::body::{MessageQueue, ResetOffsetBody};
use rmq_remoting::headers::admin::GetTopicStatsInfoRequestHeader;
use rmq_remoting::headers::offset::{
    GetMaxOffsetRequestHeader, SearchOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use rmq_remoting::headers::reset::ResetOffsetRequestHeader;
use rmq_remoting::{LanguageCode, RemotingCommand, RequestCode, ResponseCode};

use crate::admin::Admin;
use crate::error::AdminError;

/// One queue of an offline reset (Apache's `RollbackStats`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackStats {
    /// The queue.
    pub queue: MessageQueue,
    /// The queue's max offset.
    pub broker_offset: i64,
    /// Committed offset before.
    pub consumer_offset: i64,
    /// Offset found for the time.
    pub timestamp_offset: i64,
    /// Committed offset now.
    pub rollback_offset: i64,
}

/// What a reset did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetOutcome {
    /// The brokers told the members online; queue → new offset.
    Online(Vec<(MessageQueue, i64)>),
    /// No member online: the stored offsets were written.
    Offline(Vec<RollbackStats>),
}

/// One queue's offset before (when known) and after a reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueReset {
    /// The queue.
    pub queue: MessageQueue,
    /// Committed offset before (known for an offline group only).
    pub old_offset: Option<i64>,
    /// Offset now.
    pub new_offset: i64,
}

/// Resets `group`'s offsets on `topic` to `timestamp_ms` (force), online or offline; the
/// console's form of [`reset_offset_by_timestamp`].
pub async fn reset_offset_by_time(
    admin: &Admin,
    group: &str,
    topic: &str,
    timestamp_ms: i64,
) -> Result<Vec<QueueReset>, AdminError> {
    Ok(
        match reset_offset_by_timestamp(admin, group, topic, timestamp_ms, true, false).await? {
            ResetOutcome::Online(table) => table
                .into_iter()
                .map(|(queue, new_offset)| QueueReset {
                    queue,
                    old_offset: None,
                    new_offset,
                })
                .collect(),
            ResetOutcome::Offline(stats) => stats
                .into_iter()
                .map(|r| QueueReset {
                    queue: r.queue,
                    old_offset: Some(r.consumer_offset),
                    new_offset: r.rollback_offset,
                })
                .collect(),
        },
    )
}

/// Apache's `resetOffsetByTimestamp` with the fallback of `ResetOffsetByTimeCommand`.
/// `timestamp_ms` -1 means the end of each queue; `cplus` asks the brokers for the C++ body form.
pub async fn reset_offset_by_timestamp(
    admin: &Admin,
    group: &str,
    topic: &str,
    timestamp_ms: i64,
    force: bool,
    cplus: bool,
) -> Result<ResetOutcome, AdminError> {
    crate::topic::validate_topic(topic)?;
    if timestamp_ms < -1 {
        return Err(AdminError::Invalid(format!(
            "the time {timestamp_ms} is before 1970; give a date, epoch milliseconds or 'now'"
        )));
    }
    let route = admin.route_required(topic).await?;
    let header = ResetOffsetRequestHeader {
        topic: topic.to_string(),
        group: group.to_string(),
        timestamp: timestamp_ms,
        is_force: force,
    };
    let mut table = Vec::new();
    for bd in &route.broker_datas {
        let Some(addr) = bd
            .master_addr()
            .or_else(|| bd.broker_addrs.values().next().map(|a| a.as_str()))
        else {
            continue;
        };
        let mut request = RemotingCommand::request_with(RequestCode::INVOKE_BROKER_TO_RESET_OFFSET, &header);
        if cplus {
            request.language = LanguageCode::CPP;
        }
        match admin.invoke(addr, request).await {
            Ok(resp) => {
                let body = ResetOffsetBody::decode(&resp.body)
                    .map_err(|e| AdminError::Invalid(format!("bad reset-offset reply from {addr}: {e}")))?;
                table.extend(body.offset_table.0);
            }
            Err(AdminError::Remote { code, .. }) if code == ResponseCode::CONSUMER_NOT_ONLINE.code() => {
                return reset_offline(admin, group, topic, timestamp_ms, force)
                    .await
                    .map(ResetOutcome::Offline);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(ResetOutcome::Online(table))
}

/// Apache's `resetOffsetByTimestampOld`: writes the offsets with UPDATE_CONSUMER_OFFSET.
async fn reset_offline(
    admin: &Admin,
    group: &str,
    topic: &str,
    timestamp_ms: i64,
    force: bool,
) -> Result<Vec<RollbackStats>, AdminError> {
    let route = admin.route_required(topic).await?;
    let mut done = Vec::new();
    for bd in &route.broker_datas {
        let Some(addr) = bd.master_addr() else {
            continue;
        };
        let stats = crate::consumer::consume_stats(admin, addr, group, Some(topic)).await?;
        let mut queues: Vec<(MessageQueue, i64, i64)> = stats
            .offset_table
            .iter()
            .filter(|(mq, _)| mq.topic == topic)
            .map(|(mq, o)| (mq.clone(), o.broker_offset, o.consumer_offset))
            .collect();
        if queues.is_empty() {
            // Never consumed here: every readable queue, from its minimum offset.
            let h = GetTopicStatsInfoRequestHeader {
                topic: topic.to_string(),
            };
            let resp = admin
                .invoke(
                    addr,
                    RemotingCommand::request_with(RequestCode::GET_TOPIC_STATS_INFO, &h),
                )
                .await?;
            let stats: TopicStatsTable = Admin::decode(addr, &resp.body)?;
            queues = stats
                .offset_table
                .iter()
                .filter(|(mq, _)| mq.broker_name == bd.broker_name)
                .map(|(mq, o)| (mq.clone(), o.max_offset, o.min_offset))
                .collect();
        }
        for (mq, broker_offset, consumer_offset) in queues {
            let timestamp_offset = if timestamp_ms == -1 {
                let h = GetMaxOffsetRequestHeader {
                    topic: topic.to_string(),
                    queue_id: mq.queue_id,
                    bname: None,
                };
                admin.call(addr, &h).await?.0.offset
            } else {
                let h = SearchOffsetRequestHeader {
                    topic: topic.to_string(),
                    queue_id: mq.queue_id,
                    timestamp: timestamp_ms,
                    bname: None,
                };
                admin.call(addr, &h).await?.0.offset
            };
            let mut rollback_offset = consumer_offset;
            if force || timestamp_offset <= consumer_offset {
                rollback_offset = timestamp_offset;
                let update = UpdateConsumerOffsetRequestHeader {
                    consumer_group: group.to_string(),
                    topic: topic.to_string(),
                    queue_id: mq.queue_id,
                    commit_offset: timestamp_offset,
                    bname: None,
                };
                admin.call(addr, &update).await?;
            }
            done.push(RollbackStats {
                queue: mq,
                broker_offset,
                consumer_offset,
                timestamp_offset,
                rollback_offset,
            });
        }
    }
    Ok(done)
}

/// Java's `UtilAll.frontStringAtLeast`: at most the first `n` characters.
fn front(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The command's output, as Apache's `ResetOffsetByTimeCommand` (online) or
/// `ResetOffsetByTimeOldCommand` (offline) prints it.
pub fn write_reset(
    out: &mut String,
    group: &str,
    topic: &str,
    force: bool,
    time_text: &str,
    timestamp_ms: i64,
    outcome: &ResetOutcome,
) {
    use std::fmt::Write;
    match outcome {
        ResetOutcome::Online(table) => {
            let _ = writeln!(
                out,
                "rollback consumer offset by specified group[{group}], topic[{topic}], force[{force}], \
                 timestamp(string)[{time_text}], timestamp(long)[{timestamp_ms}]"
            );
            let _ = writeln!(
                out,
                "{:<40}  {:<40}  {:<40}",
                "#brokerName", "#queueId", "#offset"
            );
            for (mq, offset) in table {
                let _ = writeln!(
                    out,
                    "{:<40}  {:<40}  {:<40}",
                    front(&mq.broker_name, 32),
                    mq.queue_id,
                    offset
                );
            }
        }
        ResetOutcome::Offline(stats) => {
            let _ = writeln!(
                out,
                "rollback consumer offset by specified consumerGroup[{group}], topic[{topic}], \
                 force[{force}], timestamp(string)[{time_text}], timestamp(long)[{timestamp_ms}]"
            );
            let _ = writeln!(
                out,
                "{:<20}  {:<20}  {:<20}  {:<20}  {:<20}  {:<20}",
                "#brokerName",
                "#queueId",
                "#brokerOffset",
                "#consumerOffset",
                "#timestampOffset",
                "#rollbackOffset"
            );
            for r in stats {
                let _ = writeln!(
                    out,
                    "{:<20}  {:<20}  {:<20}  {:<20}  {:<20}  {:<20}",
                    front(&r.queue.broker_name, 32),
                    r.queue.queue_id,
                    r.broker_offset,
                    r.consumer_offset,
                    r.timestamp_offset,
                    r.rollback_offset
                );
            }
        }
    }
}
