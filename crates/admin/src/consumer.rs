//! `consumerProgress -g <group>`: the group's offsets against each queue's max offset, from
//! GET_CONSUME_STATS on every broker that holds the group's `%RETRY%` topic.

use std::fmt::Write;

use rmq_remoting::body::{ConsumeStats, MqMap, OffsetWrapper};
use rmq_remoting::headers::admin::GetConsumeStatsRequestHeader;
use rmq_remoting::{RemotingCommand, RequestCode};

use crate::admin::Admin;
use crate::error::AdminError;
use crate::format;

/// Prefix of a group's retry topic.
pub const RETRY_PREFIX: &str = "%RETRY%";

/// `consumerProgress -g <group>`.
pub async fn consumer_progress(admin: &Admin, group: &str, out: &mut String) -> Result<(), AdminError> {
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
    let mut all: MqMap<OffsetWrapper> = MqMap::default();
    let mut tps = 0.0;
    for b in &route.broker_datas {
        let Some(addr) = b.master_addr() else { continue };
        let header = GetConsumeStatsRequestHeader {
            consumer_group: group.into(),
            topic: None,
        };
        let resp = admin
            .invoke(
                addr,
                RemotingCommand::request_with(RequestCode::GET_CONSUME_STATS, &header),
            )
            .await?;
        let stats: ConsumeStats = Admin::decode(addr, &resp.body)?;
        tps += stats.consume_tps;
        all.extend(stats.offset_table.0);
    }
    if all.is_empty() {
        return Err(AdminError::Invalid(format!(
            "no consume stats for group {group}: the offset table is empty, maybe the consumer has not \
             consumed any message yet (CONSUMER_NOT_ONLINE)"
        )));
    }
    render_progress(&all, tps, out);
    Ok(())
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
