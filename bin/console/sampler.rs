//! The TPS sampler: every `--sample-interval` it refreshes the broker table (so a broker that
//! dies is noticed without anyone opening the cluster page) and records
//!
//! * `broker/<name>/put` and `broker/<name>/get`: each master's own putTps / getTransferedTps;
//! * `topic/<name>/send`: the growth of the topic's max offsets summed over its masters'
//!   queues (GET_ALL_TOPIC_CONFIG, then GET_TOPIC_STATS_INFO per topic);
//! * `topic/<name>/consume`: the growth of every group's committed offsets on the topic
//!   (GET_ALL_SUBSCRIPTIONGROUP_CONFIG, then GET_CONSUME_STATS per group).
//!
//! Only public 4.x requests, so it works against Apache brokers too. System topics and groups
//! are skipped, and at most [`MAX_TOPICS`] topics per broker are sampled.

use std::collections::BTreeMap;

use rmq_admin::consumer::RETRY_PREFIX;
use rmq_admin::topic::topic_stats;
use rmq_admin::{Admin, AdminError};
use rmq_remoting::body::{ConsumeStats, SubscriptionGroupWrapper, TopicConfigSerializeWrapper};
use rmq_remoting::headers::admin::GetConsumeStatsRequestHeader;
use rmq_remoting::{RemotingCommand, RequestCode};
use tokio_util::sync::CancellationToken;

use super::state::{now_ms, AppState};
use super::system::{is_system_group, is_system_topic};

/// Most topics sampled per broker and round.
pub const MAX_TOPICS: usize = 200;

/// Samples until `cancel` fires.
pub async fn run(state: AppState, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(state.sample_interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {
                if let Err(e) = sample(&state).await {
                    tracing::warn!(error = %e, "TPS sample failed");
                }
            }
        }
    }
}

/// One round.
async fn sample(state: &AppState) -> Result<(), AdminError> {
    let brokers = state.refresh_brokers().await?;
    let now = now_ms();
    let masters: Vec<(String, String)> = brokers
        .iter()
        .filter(|b| b.up && b.key.id == 0)
        .map(|b| (b.key.name.clone(), b.key.addr.clone()))
        .collect();
    state.with_series(|s| {
        for b in brokers.iter().filter(|b| b.key.id == 0) {
            let f = b.figures.as_ref().filter(|_| b.up);
            s.record_rate(
                &format!("broker/{}/put", b.key.name),
                now,
                f.map_or(0.0, |f| f.in_tps),
            );
            s.record_rate(
                &format!("broker/{}/get", b.key.name),
                now,
                f.map_or(0.0, |f| f.out_tps),
            );
        }
    });
    let mut sent: BTreeMap<String, i64> = BTreeMap::new();
    let mut consumed: BTreeMap<String, i64> = BTreeMap::new();
    for (name, addr) in &masters {
        if let Err(e) = sample_master(state.admin(), addr, &mut sent, &mut consumed).await {
            tracing::debug!(broker = %name, error = %e, "TPS sample of a broker failed");
        }
    }
    let now = now_ms();
    state.with_series(|s| {
        for (topic, total) in &sent {
            s.record_counter(&format!("topic/{topic}/send"), now, *total);
        }
        for (topic, total) in &consumed {
            s.record_counter(&format!("topic/{topic}/consume"), now, *total);
        }
    });
    Ok(())
}

/// Adds one master's max offsets per topic to `sent` and its groups' committed offsets per
/// topic to `consumed`.
async fn sample_master(
    admin: &Admin,
    addr: &str,
    sent: &mut BTreeMap<String, i64>,
    consumed: &mut BTreeMap<String, i64>,
) -> Result<(), AdminError> {
    let resp = admin
        .invoke(addr, RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG))
        .await?;
    let topics: TopicConfigSerializeWrapper = Admin::decode(addr, &resp.body)?;
    for topic in topics
        .topic_config_table
        .keys()
        .filter(|t| !is_system_topic(t))
        .take(MAX_TOPICS)
    {
        let stats = topic_stats(admin, addr, topic).await?;
        *sent.entry(topic.clone()).or_default() +=
            stats.offset_table.values().map(|o| o.max_offset).sum::<i64>();
    }
    let resp = admin
        .invoke(
            addr,
            RemotingCommand::request(RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG),
        )
        .await?;
    let groups: SubscriptionGroupWrapper = Admin::decode(addr, &resp.body)?;
    for group in groups
        .subscription_group_table
        .keys()
        .filter(|g| !is_system_group(g))
    {
        let header = GetConsumeStatsRequestHeader {
            consumer_group: group.clone(),
            topic: None,
        };
        let cmd = RemotingCommand::request_with(RequestCode::GET_CONSUME_STATS, &header);
        let Ok(resp) = admin.invoke(addr, cmd).await else {
            continue;
        };
        let stats: ConsumeStats = Admin::decode(addr, &resp.body)?;
        for (mq, o) in stats.offset_table.iter() {
            if !mq.topic.starts_with(RETRY_PREFIX) {
                *consumed.entry(mq.topic.clone()).or_default() += o.consumer_offset;
            }
        }
    }
    Ok(())
}
