//! `rmq-bench consume`: a push-consumer group of `--members` members of our client
//! (`rmq_client::PushConsumer`, Apache's defaults unless flags say otherwise) in this process,
//! counting messages and timing each from its send to its callback ("born to consume").
//!
//! The send time is the µs stamp `rmq-bench` writes at the start of each body
//! ([`crate::wire::body_stamp_us`]), else the message's born timestamp (ms). `--drain` consumes
//! the topic's backlog at start (the sum of max − min offsets over its readable queues, for a
//! new group reading from the first offset) and reports the rate from start to the last one.
//! [`Group`] is also the consuming half of `e2e`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use rmq_client::{
    ClientConfig, ClientInstance, ConsumeFromWhere, ConsumeResult, MessageQueue, PushConsumer,
    PushConsumerConfig,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::send::CredentialArgs;
use crate::stats::{live, Recorder, Summary};
use crate::wire::{body_stamp_us, now_us};

/// The consumer group's settings (shared by `consume` and `e2e`).
#[derive(Args, Debug, Clone)]
pub struct GroupArgs {
    /// Consumer group (default: a new group per run, `rmq_bench_<pid>`).
    #[arg(long)]
    pub group: Option<String>,
    /// Members of the group in this process.
    #[arg(long, default_value_t = 1)]
    pub members: usize,
    /// Callbacks running at once per member (`consumeThreadMax` role; Apache's default 20).
    #[arg(long, default_value_t = 20)]
    pub concurrency: usize,
    /// Messages asked for per pull (`pullBatchSize`; Apache's default 32).
    #[arg(long, default_value_t = 32)]
    pub pull_batch_size: i32,
}

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    /// Name server(s).
    #[arg(long)]
    pub namesrv: String,
    /// Topic.
    #[arg(long, default_value = "BenchTopic")]
    pub topic: String,
    #[command(flatten)]
    pub group: GroupArgs,
    /// Where a new group starts: first or last.
    #[arg(long, default_value = "first")]
    pub from: String,
    /// Stop after this many messages.
    #[arg(long, conflicts_with = "drain")]
    pub count: Option<u64>,
    /// Stop once the topic's backlog at start is consumed (a new group from the first offset).
    #[arg(long)]
    pub drain: bool,
    /// How long to run; with --count or --drain, the longest to wait for them.
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Print the final summary as one JSON object (live lines stay on stderr).
    #[arg(long)]
    pub json: bool,
}

/// A running consumer group whose callbacks record into a [`Recorder`].
pub struct Group {
    pub members: Vec<PushConsumer>,
    /// Notified when the recorder reaches the target count.
    pub reached: Arc<Notify>,
}

/// When a message was sent, in µs since the epoch: its body stamp, else its born timestamp.
fn sent_us(body: &[u8], born_ms: i64) -> u64 {
    body_stamp_us(body).unwrap_or((born_ms.max(0) as u64) * 1000)
}

impl Group {
    /// Starts `args.members` members; every callback records one message sent at or after
    /// `since_us` (older ones are consumed and not counted); `reached` fires once `target`
    /// messages were recorded.
    pub async fn start(
        client: ClientConfig,
        topic: &str,
        args: &GroupArgs,
        from: ConsumeFromWhere,
        since_us: u64,
        rec: Arc<Recorder>,
        target: Arc<std::sync::atomic::AtomicU64>,
    ) -> anyhow::Result<Group> {
        if args.members == 0 {
            bail!("--members must be at least 1");
        }
        let group = args
            .group
            .clone()
            .unwrap_or_else(|| format!("rmq_bench_{}", std::process::id()));
        let reached = Arc::new(Notify::new());
        let mut members = Vec::new();
        for _ in 0..args.members {
            let config = PushConsumerConfig {
                client: client.clone(),
                group: group.clone(),
                consume_from_where: from,
                consume_concurrency: args.concurrency,
                pull_batch_size: args.pull_batch_size,
                ..Default::default()
            };
            let (rec, reached, target) = (rec.clone(), reached.clone(), target.clone());
            let member = PushConsumer::builder(config)
                .subscribe(topic, "*")
                .start(move |msg| {
                    let sent = sent_us(msg.body(), msg.born_timestamp);
                    if sent >= since_us {
                        rec.record(1, &[now_us().saturating_sub(sent)]);
                        if rec.ok() >= target.load(std::sync::atomic::Ordering::Relaxed) {
                            reached.notify_one();
                        }
                    }
                    async { ConsumeResult::Success }
                })
                .await
                .with_context(|| format!("starting consumer group {group}"))?;
            members.push(member);
        }
        Ok(Group { members, reached })
    }

    /// Waits until the members together hold `queues` queues of `topic` (each queue once).
    pub async fn wait_assigned(&self, topic: &str, queues: usize, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let held: usize = self
                .members
                .iter()
                .map(|m| m.assigned_queues().iter().filter(|q| q.topic == topic).count())
                .sum();
            if held == queues {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the group holds {held} of {queues} queues of {topic} after {timeout:?}");
            }
            for m in &self.members {
                m.rebalance_now();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops every member.
    pub async fn shutdown(self) {
        for m in self.members {
            m.shutdown().await;
        }
    }
}

/// The readable queues of `topic` and the messages they hold (max − min offsets).
pub async fn backlog(client: &ClientConfig, topic: &str) -> anyhow::Result<(Vec<MessageQueue>, u64)> {
    let instance = ClientInstance::start(client.clone())?;
    let result = async {
        let route = instance
            .update_route(topic)
            .await?
            .with_context(|| format!("topic {topic} has no route; create it first"))?;
        let mut queues = Vec::new();
        for qd in &route.queue_datas {
            for id in 0..qd.read_queue_nums {
                queues.push(MessageQueue::new(topic, &qd.broker_name, id));
            }
        }
        let mut total = 0u64;
        for mq in &queues {
            let max = rmq_client::pull::max_offset(&instance, mq).await?;
            let min = rmq_client::pull::min_offset(&instance, mq).await?;
            total += (max - min).max(0) as u64;
        }
        anyhow::Ok((queues, total))
    }
    .await;
    instance.shutdown().await;
    result
}

pub async fn run(a: ConsumeArgs) -> anyhow::Result<()> {
    let from = match a.from.as_str() {
        "first" => ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET,
        "last" => ConsumeFromWhere::CONSUME_FROM_LAST_OFFSET,
        other => bail!("--from must be first or last, not {other}"),
    };
    let client = ClientConfig {
        credentials: a.credentials.session(),
        ..ClientConfig::new(&a.namesrv)
    };
    let (queues, backlog) = backlog(&client, &a.topic).await?;
    let target = match (a.count, a.drain) {
        (Some(n), _) => n,
        (None, true) if backlog == 0 => bail!("--drain: topic {} holds no message", a.topic),
        (None, true) => backlog,
        (None, false) => u64::MAX,
    };
    eprintln!(
        "consume: topic={} queues={} backlog={backlog} members={} concurrency={} pull_batch_size={} target={}",
        a.topic,
        queues.len(),
        a.group.members,
        a.group.concurrency,
        a.group.pull_batch_size,
        if target == u64::MAX { "-".to_string() } else { target.to_string() }
    );
    let rec = Arc::new(Recorder::default());
    let stop = CancellationToken::new();
    let start = Instant::now();
    let reporter = tokio::spawn(live("consume".into(), rec.clone(), stop.clone()));
    let target_cell = Arc::new(std::sync::atomic::AtomicU64::new(target));
    let group = Group::start(client, &a.topic, &a.group, from, 0, rec.clone(), target_cell).await?;
    let reached = tokio::time::timeout(a.duration, async {
        while rec.ok() < target {
            group.reached.notified().await;
        }
    })
    .await
    .is_ok();
    let secs = start.elapsed().as_secs_f64();
    let (ok, failed) = (rec.ok(), rec.failed());
    stop.cancel();
    let _ = reporter.await;
    group.shutdown().await;
    let hist = rec.total();
    let mut s = Summary::new("consume");
    s.set("members", a.group.members as u64)
        .set("pull_batch_size", a.group.pull_batch_size as i64)
        .set("backlog", backlog)
        .counts(ok, failed, secs)
        .latency("", &hist);
    s.line(format!(
        "consumed {ok} in {secs:.2} s: {:.0} msg/s",
        ok as f64 / secs
    ))
    .line(crate::latency_line("born to consume", &hist));
    s.print(a.json);
    if target != u64::MAX && !reached {
        bail!("consumed {ok} of {target} messages within {:?}", a.duration);
    }
    if ok == 0 {
        bail!("no message was consumed; is anything being sent to {}?", a.topic);
    }
    Ok(())
}
