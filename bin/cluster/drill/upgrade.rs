//! Seed 001's upgrade: `mqadmin wipeWritePerm` moves producers off a broker without one failed
//! send, the broker restarts (the upgrade), `mqadmin addWritePerm` brings traffic back, and
//! nothing is lost.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rmq_admin::namesrv::{write_perm, WritePerm};
use rmq_admin::Admin;

use crate::drill::nodes::NodeControl;
use crate::drill::traffic::Traffic;
use crate::drill::watch::{wait_for, Nameservers, Steps};
use crate::drill::{Timings, QUEUES, TOPIC};

const UPGRADED: &str = "broker-a";
const OTHER: &str = "broker-b";

/// Fails if any send since `since` failed or needed a retry.
fn no_failed_send(traffic: &Traffic, since: Instant, when: &str) -> anyhow::Result<()> {
    let (failed, retried) = traffic.ledger().troubled_since(since);
    if failed > 0 || retried > 0 {
        bail!("{when}: {failed} send(s) failed and {retried} needed a retry; the upgrade must cost none");
    }
    Ok(())
}

/// Runs the steps after the topic exists and traffic flows; returns the timings.
pub async fn run<N: NodeControl>(
    nodes: &N,
    traffic: &Traffic,
    ns: &Nameservers,
    steps: &Steps,
) -> anyhow::Result<Timings> {
    let mut timings = Timings::new();
    let admin = Admin::new(&nodes.namesrv_addr())?;
    traffic.wait_flowing([UPGRADED, OTHER], steps).await?;

    // 1. Producers move off the broker.
    steps.say(format!("mqadmin wipeWritePerm -b {UPGRADED}"));
    let wiped = Instant::now();
    let mut out = String::new();
    write_perm(&admin, WritePerm::Wipe, UPGRADED, &mut out).await?;
    print!("{out}");
    wait_for(
        "the route to show broker-a without write permission on every nameserver",
        Duration::from_secs(30),
        || async { ns.all_agree(TOPIC, UPGRADED, |g| g.perm & 2 == 0).await },
    )
    .await?;
    let a = ns
        .group(TOPIC, UPGRADED)
        .await
        .context("broker-a left the route")?;
    steps.say(format!("route: broker-a {}", a.describe()));
    let moved = wait_for(
        "the producer to stop sending to broker-a (100 sends in a row elsewhere)",
        Duration::from_secs(120),
        || async { traffic.ledger().recent_sends_avoiding(UPGRADED, wiped) >= 100 },
    )
    .await?;
    no_failed_send(traffic, wiped, "moving producers off broker-a")?;
    steps.say(format!(
        "producers left broker-a {:.1} s after wipeWritePerm (their next route refresh), no failed send",
        moved.as_secs_f64()
    ));
    timings.push("producers off the broker", moved);

    // 2. The upgrade: a clean stop and a start on the same store.
    let master = nodes.node_name(UPGRADED, 0);
    steps.say(format!(
        "rmq-cluster stop {master}   (SIGTERM: the upgrade begins)"
    ));
    nodes.stop(&master).await?;
    if let Some(g) = ns.group(TOPIC, UPGRADED).await {
        steps.say(format!("route while it is down: broker-a {}", g.describe()));
    }
    steps.say(format!("rmq-cluster start {master}"));
    let restart = Instant::now();
    nodes.start(&master).await?;
    crate::drill::traffic::warm_up(
        &nodes.client_config(),
        TOPIC,
        &[UPGRADED],
        Duration::from_secs(120),
    )
    .await?;
    steps.say(format!(
        "{master} is back ({:.1} s); route: broker-a {}",
        restart.elapsed().as_secs_f64(),
        ns.group(TOPIC, UPGRADED)
            .await
            .map_or_else(|| "missing".to_string(), |g| g.describe())
    ));

    // 3. Write permission back, traffic back.
    steps.say(format!("mqadmin addWritePerm -b {UPGRADED}"));
    let added = Instant::now();
    let mut out = String::new();
    write_perm(&admin, WritePerm::Add, UPGRADED, &mut out).await?;
    print!("{out}");
    wait_for(
        "the route to show broker-a writable on every nameserver",
        Duration::from_secs(30),
        || async { ns.all_agree(TOPIC, UPGRADED, |g| g.writable(QUEUES)).await },
    )
    .await?;
    wait_for(
        "a SEND_OK on broker-a again",
        Duration::from_secs(120),
        || async { traffic.ledger().first_on_after(UPGRADED, added).is_some() },
    )
    .await?;
    let back = traffic
        .ledger()
        .first_on_after(UPGRADED, added)
        .map_or(Duration::ZERO, |t| t.duration_since(added));
    no_failed_send(traffic, wiped, "the upgrade")?;
    steps.say(format!(
        "broker-a takes traffic again: first SEND_OK {:.1} s after addWritePerm; no send failed during the upgrade",
        back.as_secs_f64()
    ));
    timings.push("traffic back after addWritePerm", back);
    admin.shutdown();
    Ok(timings)
}
