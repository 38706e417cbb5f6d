//! `rmq-bench e2e`: a fixed send rate with a consumer group reading as it goes, reporting the
//! end-to-end latency (send stamp in the body to the consumer's callback) at p50/p99/p999.
//!
//! Order: the group starts from the last offset and must hold every queue of the topic before
//! the first send, so nothing sent is missed (messages stamped before the run are not counted); the producers then send `--rate` messages a
//! second for `--duration` ([`crate::pipeline::Pacer`]); the run ends once every acknowledged
//! message is consumed, or `--drain-timeout` after the last send.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use rmq_client::{ClientConfig, ConsumeFromWhere};
use tokio_util::sync::CancellationToken;

use crate::consume::{backlog, Group, GroupArgs};
use crate::send::{SendArgs, Senders};
use crate::stats::{live, Recorder, Summary};
use crate::wire::now_us;

#[derive(Args, Debug)]
pub struct E2eArgs {
    #[command(flatten)]
    pub send: SendArgs,
    #[command(flatten)]
    pub group: GroupArgs,
    /// Messages per second to send, over all connections.
    #[arg(long)]
    pub rate: f64,
    /// After the last send, the longest to wait for the consumer to catch up.
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    pub drain_timeout: Duration,
}

pub async fn run(a: E2eArgs) -> anyhow::Result<()> {
    let Some(namesrv) = a.send.namesrv.clone() else {
        bail!("e2e needs --namesrv: the consumer group finds its queues through it");
    };
    if !(a.rate.is_finite() && a.rate >= 1.0) {
        bail!("--rate must be at least 1 message a second");
    }
    let mut client = ClientConfig::new(&namesrv);
    client.credentials = a.send.credentials.session();
    let (queues, _) = backlog(&client, &a.send.topic).await?;
    let consumed = Arc::new(Recorder::default());
    let never = Arc::new(AtomicU64::new(u64::MAX));
    // A new group may still start at offset 0 (Apache's broker answers 0 for a group without an
    // offset while the queue's first file is in memory), so messages sent before this run are
    // consumed but not counted.
    let group = Group::start(
        client,
        &a.send.topic,
        &a.group,
        ConsumeFromWhere::CONSUME_FROM_LAST_OFFSET,
        now_us(),
        consumed.clone(),
        never.clone(),
    )
    .await?;
    if let Err(e) = group
        .wait_assigned(&a.send.topic, queues.len(), Duration::from_secs(60))
        .await
    {
        group.shutdown().await;
        return Err(e);
    }
    // Each member computes its start offset as it takes a queue; give the pull loops a moment
    // to have their first pull held by the broker.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = Arc::new(Recorder::default());
    let stop = CancellationToken::new();
    let reporters = [
        tokio::spawn(live("e2e send".into(), sent.clone(), stop.clone())),
        tokio::spawn(live("e2e consume".into(), consumed.clone(), stop.clone())),
    ];
    let senders = match Senders::start(&a.send, 1, Some(a.rate), sent.clone()).await {
        Ok(s) => s,
        Err(e) => {
            group.shutdown().await;
            return Err(e);
        }
    };
    eprintln!(
        "e2e: {} members={} pull_batch_size={}",
        senders.description, a.group.members, a.group.pull_batch_size
    );
    let start = Instant::now();
    let outcome = senders.join().await;
    let send_secs = start.elapsed().as_secs_f64();
    // Wait for the consumer to catch up with every acknowledged send.
    never.store(sent.ok(), std::sync::atomic::Ordering::Relaxed);
    let caught_up = tokio::time::timeout(a.drain_timeout, async {
        while consumed.ok() < sent.ok() {
            tokio::select! {
                _ = group.reached.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    })
    .await
    .is_ok();
    stop.cancel();
    for r in reporters {
        let _ = r.await;
    }
    group.shutdown().await;
    let (e2e, send_lat) = (consumed.total(), sent.total());
    let mut s = Summary::new("e2e");
    s.set("rate", a.rate.round() as u64)
        .set("members", a.group.members as u64)
        .counts(sent.ok(), sent.failed(), send_secs)
        .set("consumed", consumed.ok())
        .latency("", &e2e)
        .latency("send_", &send_lat);
    s.line(format!(
        "sent {} ok ({} failed) at {:.0}/s asked {:.0}/s; consumed {}",
        sent.ok(),
        sent.failed(),
        sent.ok() as f64 / send_secs,
        a.rate,
        consumed.ok()
    ))
    .line(crate::latency_line("end to end", &e2e))
    .line(crate::latency_line("send", &send_lat));
    s.print(a.send.json);
    outcome?;
    if !caught_up {
        bail!(
            "the consumer got {} of {} acknowledged messages within {:?} of the last send",
            consumed.ok(),
            sent.ok(),
            a.drain_timeout
        );
    }
    Ok(())
}
