//! Seed 002's story: group 1's master dies, the group turns read-only, producers move to group 2,
//! the consumer drains group 1 from its slave, an operator adds group 3 and gives it the topic
//! with `mqadmin updateTopic -b`, and group 1's master comes back.

use std::time::{Duration, Instant};

use anyhow::Context;
use rmq_admin::topic::Target;
use rmq_remoting::headers::offset::GetMaxOffsetRequestHeader;

use crate::drill::nodes::NodeControl;
use crate::drill::traffic::Traffic;
use crate::drill::watch::{wait_for, Nameservers, Steps};
use crate::drill::{create_topic, Timings, QUEUES, TOPIC};

const GROUP1: &str = "broker-a";
const GROUP2: &str = "broker-b";

/// Queue max offsets of the topic at one broker address (what the slave holds).
async fn max_offsets(ns: &Nameservers, addr: &str, group: &str) -> anyhow::Result<Vec<i64>> {
    let mut out = Vec::new();
    for q in 0..QUEUES {
        let header = GetMaxOffsetRequestHeader {
            topic: TOPIC.into(),
            queue_id: q,
            bname: Some(group.into()),
        };
        let (h, _) = ns
            .any()
            .call(addr, &header)
            .await
            .with_context(|| format!("GET_MAX_OFFSET of {TOPIC}/{q} at {addr}"))?;
        out.push(h.offset);
    }
    Ok(out)
}

/// Messages the master at `addr` has served to pulls since it started.
async fn served_by(ns: &Nameservers, addr: &str) -> i64 {
    rmq_admin::broker::runtime_info(ns.any(), addr)
        .await
        .ok()
        .and_then(|kv| kv.get("msgGetTotalTodayNow").and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}

/// Runs the steps after the topic exists and traffic flows; returns the timings.
pub async fn run<N: NodeControl>(
    nodes: &N,
    traffic: &Traffic,
    ns: &Nameservers,
    steps: &Steps,
) -> anyhow::Result<Timings> {
    let mut timings = Timings::new();
    traffic.wait_flowing([GROUP1, GROUP2], steps).await?;

    // 1. Group 1's master dies.
    let master = nodes.node_name(GROUP1, 0);
    let slave_addr = nodes.broker_addr(GROUP1, 1).await?;
    steps.say(format!(
        "rmq-cluster kill {master}   (SIGKILL: group 1's master dies)"
    ));
    // The clock starts before the request: a send in flight fails and is retried while the
    // supervisor is still reaping the process.
    let killed = Instant::now();
    nodes.kill(&master).await?;
    let to_read_only = wait_for(
        "the route to show broker-a read-only (perm 4, writeQueueNums 0) and broker-b writable on every nameserver",
        Duration::from_secs(150),
        || async {
            ns.all_agree(TOPIC, GROUP1, |g| g.read_only()).await
                && ns.all_agree(TOPIC, GROUP2, |g| g.writable(QUEUES)).await
        },
    )
    .await?;
    let a = ns.group(TOPIC, GROUP1).await.context("broker-a left the route")?;
    steps.say(format!(
        "route: broker-a {} ({:.1} s after the kill); broker-b stays writable",
        a.describe(),
        to_read_only.as_secs_f64()
    ));
    timings.push("time to read-only", to_read_only);

    // 2. Sends keep succeeding on group 2.
    wait_for(
        "100 sends in a row after the kill to land on broker-b",
        Duration::from_secs(60),
        || async { traffic.ledger().recent_sends_avoiding(GROUP1, killed) >= 100 },
    )
    .await?;
    let (failed, retried) = traffic.ledger().troubled_since(killed);
    steps.say(format!(
        "sends keep succeeding on broker-b: {retried} send(s) in flight at the kill failed once and \
         succeeded on the retry, {failed} failed for good"
    ));

    // 3. The consumer drains group 1 from its slave.
    let on_slave = max_offsets(ns, &slave_addr, GROUP1).await?;
    let replicated = |q: i32, offset: i64| on_slave.get(q as usize).is_some_and(|max| offset < *max);
    wait_for(
        "the consumer to read every broker-a message the slave holds",
        Duration::from_secs(120),
        || async {
            traffic
                .ledger()
                .undelivered_on(GROUP1, |s| replicated(s.queue_id, s.queue_offset))
                .is_empty()
        },
    )
    .await?;
    let drain = killed.elapsed();
    let stranded = traffic
        .ledger()
        .undelivered_on(GROUP1, |s| !replicated(s.queue_id, s.queue_offset))
        .len();
    steps.say(format!(
        "consumer drained broker-a's {} messages from its slave {slave_addr} ({:.1} s after the kill); \
         {stranded} acknowledged message(s) had not reached the slave (ASYNC_MASTER) and wait on the \
         dead master's disk",
        traffic.ledger().stored_on(GROUP1) - stranded,
        drain.as_secs_f64()
    ));
    timings.push("drain time (kill to slave drained)", drain);

    // 4. The operator adds group 3 and gives it the topic.
    steps.say("rmq-cluster add-group --slaves 1");
    let group3 = nodes.add_group(1).await?;
    steps.say(format!(
        "{} is up: master {}; mqadmin updateTopic -b {} -t {TOPIC} -r {QUEUES} -w {QUEUES}",
        group3.group, group3.master_addr, group3.master_addr
    ));
    create_topic(ns, Target::Broker(group3.master_addr.clone())).await?;
    let topic_on_3 = Instant::now();
    crate::drill::traffic::warm_up(
        &nodes.client_config(),
        TOPIC,
        &[group3.group.as_str()],
        Duration::from_secs(120),
    )
    .await?;
    steps.say(format!(
        "warm-up: {} answered a send ({:.1} s)",
        group3.group,
        topic_on_3.elapsed().as_secs_f64()
    ));
    wait_for("a SEND_OK on the new group", Duration::from_secs(120), || async {
        traffic
            .ledger()
            .first_on_after(&group3.group, topic_on_3)
            .is_some()
    })
    .await?;
    let first = traffic
        .ledger()
        .first_on_after(&group3.group, topic_on_3)
        .map_or(Duration::ZERO, |t| t.duration_since(topic_on_3));
    steps.say(format!(
        "{} takes traffic: first SEND_OK {:.1} s after updateTopic",
        group3.group,
        first.as_secs_f64()
    ));
    timings.push("time to the first send on group 3", first);
    wait_for(
        "the consumer to read messages of the new group",
        Duration::from_secs(120),
        || async { traffic.ledger().delivered_on(&group3.group) > 0 },
    )
    .await?;
    steps.say(format!("the consumer reads {} too", group3.group));

    // 5. Group 1's master comes back.
    steps.say(format!("rmq-cluster start {master}"));
    nodes.start(&master).await?;
    let restarted = Instant::now();
    wait_for(
        "the route to show broker-a writable again",
        Duration::from_secs(60),
        || async { ns.all_agree(TOPIC, GROUP1, |g| g.writable(QUEUES)).await },
    )
    .await?;
    let a = ns.group(TOPIC, GROUP1).await.context("broker-a left the route")?;
    steps.say(format!("route: broker-a {}", a.describe()));
    let master_addr = nodes.broker_addr(GROUP1, 0).await?;
    // The producer benched broker-a when its send failed; messages sent straight to broker-a's
    // queues show where the consumer pulls them from.
    let mut probe = 0;
    let back = wait_for(
        "the consumer to pull broker-a's queues from the restarted master",
        Duration::from_secs(120),
        || {
            probe += 1;
            let (q, addr) = (probe % QUEUES, master_addr.clone());
            async move {
                traffic.send_to(GROUP1, q).await;
                served_by(ns, &addr).await > 0
            }
        },
    )
    .await?;
    steps.say(format!(
        "the consumer pulls from the restarted master again ({:.1} s after its start; {} message(s) \
         it served)",
        restarted.elapsed().as_secs_f64().max(back.as_secs_f64()),
        served_by(ns, &master_addr).await
    ));
    timings.push("consumers back on the master", restarted.elapsed());
    Ok(timings)
}
