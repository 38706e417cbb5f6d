//! `consumerProgress -g <group>`: the group's offsets against each queue's max offset, from
//! GET_CONSUME_STATS on every broker that holds the group's `%RETRY%` topic; the typed
//! [`group_progress`] and [`consumer_groups`] behind it are what the web console shows.

use std::fmt::Write;

use rmq_remoting::body::{ConsumeStats, MqMap, OffsetWrapper, SubscriptionGroupWrapper};
use rmq_remoting::headers::admin::GetConsumeStatsRequestHeader;
use rmq_remoting::{RemotingCommand, RequestCode};

use crate::admin::Admin;
use crate::error::AdminError;
use crate::format;

/// Prefix of a group's retry topic.
pub const RETRY_PREFIX: &str = "%RETRY%";

/// A consumer group's progress over every broker that holds its retry topic.
#[derive(Debug, Clone, Default)]
pub struct GroupProgress {
    /// Queue → broker offset, committed offset, last consumed store time.
    pub offsets: MqMap<OffsetWrapper>,
    /// Consume rate summed over the brokers, messages per second.
    pub tps: f64,
}

impl GroupProgress {
    /// Messages not yet consumed, over all queues.
    pub fn total_lag(&self) -> i64 {
        self.offsets
            .values()
            .map(|o| o.broker_offset.saturating_sub(o.consumer_offset).max(0))
            .sum()
    }
}

/// GET_CONSUME_STATS of `group` at the broker `addr`: every queue of the group's topics, or only
/// `topic`'s when given.
pub(crate) async fn consume_stats(
    admin: &Admin,
    addr: &str,
    group: &str,
    topic: Option<&str>,
) -> Result<ConsumeStats, AdminError> {
    let header = GetConsumeStatsRequestHeader {
        consumer_group: group.to_string(),
        topic: topic.map(str::to_string),
    };
    let resp = admin
        .invoke(
            addr,
            RemotingCommand::request_with(RequestCode::GET_CONSUME_STATS, &header),
        )
        .await?;
    Admin::decode(addr, &resp.body)
}

/// GET_CONSUME_STATS for `group` at the master of every broker of its `%RETRY%` route. A group
/// the name server has no retry route for has never been online: that is an error saying so.
pub async fn group_progress(admin: &Admin, group: &str) -> Result<GroupProgress, AdminError> {
    if group.trim().is_empty() {
        return Err(AdminError::Invalid(
            "the group name is blank; pass -g <consumerGroup>".into(),
        ));
    }
    let retry = format!("{RETRY_PREFIX}{group}");
    let route = admin.route(&retry).await?.ok_or_else(|| {
        AdminError::Invalid(format!(
            "consumer group {group} is not known to the name server (no {retry} route): \
             it has never been online (CONSUMER_NOT_ONLINE)"
        ))
    })?;
    let mut progress = GroupProgress::default();
    for b in &route.broker_datas {
        let Some(addr) = b.master_addr() else { continue };
        let stats = consume_stats(admin, addr, group, None).await?;
        progress.tps += stats.consume_tps;
        progress.offsets.extend(stats.offset_table.0);
    }
    Ok(progress)
}

/// `consumerProgress -g <group>`.
pub async fn consumer_progress(admin: &Admin, group: &str, out: &mut String) -> Result<(), AdminError> {
    let progress = group_progress(admin, group).await?;
    if progress.offsets.is_empty() {
        return Err(AdminError::Invalid(format!(
            "no consume stats for group {group}: the offset table is empty, maybe the consumer has not \
             consumed any message yet (CONSUMER_NOT_ONLINE)"
        )));
    }
    render_progress(&progress.offsets, progress.tps, out);
    Ok(())
}

/// Every subscription group the masters of the cluster(s) know (GET_ALL_SUBSCRIPTIONGROUP_CONFIG
/// at each master), sorted and without duplicates. A master that does not answer is skipped and
/// named in the second list, so one dead broker does not hide the others' groups.
pub async fn consumer_groups(admin: &Admin) -> Result<(Vec<String>, Vec<String>), AdminError> {
    let info = admin.cluster_info().await?;
    let mut groups = std::collections::BTreeSet::new();
    let mut failed = Vec::new();
    for bd in info.broker_addr_table.values() {
        let Some(addr) = bd.master_addr() else { continue };
        let cmd = RemotingCommand::request(RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
        match admin.invoke(addr, cmd).await {
            Ok(resp) => {
                let w: SubscriptionGroupWrapper = Admin::decode(addr, &resp.body)?;
                groups.extend(w.subscription_group_table.into_keys());
            }
            Err(e) => failed.push(format!("{}: {e}", bd.broker_name)),
        }
    }
    Ok((groups.into_iter().collect(), failed))
}

/// The `consumerProgress` table and totals.
pub fn render_progress(all: &MqMap<OffsetWrapper>, tps: f64, out: &mut String) {
    let _ = writeln!(
        out,
        "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20} {:<20}  #LastTime",
        "#Topic", "#Broker Name", "#QID", "#Broker Offset", "#Consumer Offset", "#Client IP", "#Diff",
    );
    let mut diff_total = 0;
    for (mq, o) in all.iter() {
        let diff = o.broker_offset - o.consumer_offset;
        diff_total += diff;
        let last = if o.last_timestamp > 0 {
            format::human_seconds(o.last_timestamp)
        } else {
            "N/A".into()
        };
        let _ = writeln!(
            out,
            "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20} {:<20}  {}",
            mq.topic, mq.broker_name, mq.queue_id, o.broker_offset, o.consumer_offset, "N/A", diff, last
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Consume TPS: {tps:.2}");
    let _ = writeln!(out, "Consume Diff Total: {diff_total}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::body::MessageQueue;

    #[test]
    fn progress_sums_diffs() {
        let mut all: MqMap<OffsetWrapper> = MqMap::default();
        all.insert(
            MessageQueue::new("T", "a", 0),
            OffsetWrapper {
                broker_offset: 10,
                consumer_offset: 7,
                last_timestamp: 0,
            },
        );
        all.insert(
            MessageQueue::new("T", "a", 1),
            OffsetWrapper {
                broker_offset: 5,
                consumer_offset: 5,
                last_timestamp: 0,
            },
        );
        let mut out = String::new();
        render_progress(&all, 1.5, &mut out);
        assert!(out.contains("Consume TPS: 1.50"));
        assert!(out.contains("Consume Diff Total: 3"));
        assert_eq!(out.lines().filter(|l| l.starts_with("T ")).count(), 2);
    }
}
