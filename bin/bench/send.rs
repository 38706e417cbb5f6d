//! `rmq-bench send` and `rmq-bench batch`: producers over pipelined connections
//! ([`crate::pipeline`]), round-robin over the topic's writable queues. `batch` sends
//! SEND_BATCH_MESSAGE requests of `--batch-size` messages; its rates count messages, its
//! latencies requests. [`Senders`] is also the producing half of `e2e`; [`CredentialArgs`], the
//! signing flags, are also `consume`'s.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use rmq_admin::message::{writable_queues, Target};
use rmq_remoting::headers::admin::CreateTopicRequestHeader;
use rmq_remoting::message::id::UniqIdGenerator;
use rmq_remoting::net::{ClientConfig, RemotingClient};
use rmq_remoting::{RemotingCommand, RequestCode};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::pipeline::{Budget, Pacer, Pipeline};
use crate::stats::{live, Recorder, Summary};
use crate::wire::SendEncoder;

/// Where and what to send (shared by `send`, `batch` and `e2e`).
#[derive(Args, Debug, Clone)]
pub struct SendArgs {
    /// Name server(s): the topic's route picks the brokers and queues.
    #[arg(long, conflicts_with = "broker", required_unless_present = "broker")]
    pub namesrv: Option<String>,
    /// One broker address; the topic is created on it with --queues queues first.
    #[arg(long)]
    pub broker: Option<String>,
    /// Topic.
    #[arg(long, default_value = "BenchTopic")]
    pub topic: String,
    /// Queues to create with --broker.
    #[arg(long, default_value_t = 8)]
    pub queues: i32,
    /// Body size in bytes (bodies of 12 bytes or more carry a send-time stamp).
    #[arg(long, default_value_t = 1024)]
    pub size: usize,
    /// Requests outstanding at once (over all connections).
    #[arg(long, default_value_t = 64)]
    pub in_flight: usize,
    /// How long to send, e.g. 10s, 500ms, 1m (ignored with --count).
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// Send exactly this many messages instead of running for --duration (rounded up to
    /// whole batches).
    #[arg(long)]
    pub count: Option<u64>,
    /// TCP connections per broker.
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// Per-request timeout in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Print the final summary as one JSON object (live lines stay on stderr).
    #[arg(long)]
    pub json: bool,
}

/// The signing flags (shared by `send`, `batch`, `consume` and `e2e`).
#[derive(Args, Debug, Clone)]
pub struct CredentialArgs {
    /// Access key to sign every request with (brokers with aclEnable=true).
    #[arg(long, env = "RMQ_ACCESS_KEY", requires = "secret_key")]
    pub access_key: Option<String>,
    /// Secret key that goes with --access-key.
    #[arg(long, env = "RMQ_SECRET_KEY", requires = "access_key", hide_env_values = true)]
    pub secret_key: Option<String>,
}

impl CredentialArgs {
    /// The credentials to sign with, when both keys are given.
    pub fn session(&self) -> Option<rmq_remoting::acl::SessionCredentials> {
        Some(rmq_remoting::acl::SessionCredentials::new(
            self.access_key.clone()?,
            self.secret_key.clone()?,
        ))
    }
}

/// The queues to send to: created on `--broker`, or the writable queues of the route.
pub async fn resolve_targets(a: &SendArgs) -> anyhow::Result<Vec<Target>> {
    if let Some(broker) = &a.broker {
        let client = RemotingClient::new(ClientConfig {
            credentials: a.credentials.session(),
            ..ClientConfig::default()
        });
        let header = CreateTopicRequestHeader {
            topic: a.topic.clone(),
            default_topic: "TBW102".into(),
            read_queue_nums: a.queues,
            write_queue_nums: a.queues,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: Some(0),
            order: false,
        };
        let cmd = RemotingCommand::request_with(RequestCode::UPDATE_AND_CREATE_TOPIC, &header);
        let resp = client.invoke(broker, cmd, Duration::from_secs(10)).await;
        client.shutdown();
        let resp = resp.with_context(|| format!("cannot reach broker {broker}; is it running?"))?;
        if !resp.is_success() {
            bail!(
                "creating topic {} on {broker} failed: code {} {:?}",
                a.topic,
                resp.code,
                resp.remark
            );
        }
        return Ok((0..a.queues)
            .map(|queue_id| Target {
                broker_name: String::new(),
                addr: broker.clone(),
                queue_id,
            })
            .collect());
    }
    let ns = a.namesrv.as_deref().unwrap_or_default();
    let mut admin = rmq_admin::Admin::new(ns)?;
    if let Some(c) = a.credentials.session() {
        admin = admin.with_credentials(c);
    }
    let route = admin.route_required(&a.topic).await;
    admin.shutdown();
    let targets = writable_queues(&route?, None);
    if targets.is_empty() {
        bail!(
            "topic {} has no writable queue on a master; check `mqadmin topicRoute -t {}`",
            a.topic,
            a.topic
        );
    }
    Ok(targets)
}

/// Running producer pipelines.
pub struct Senders {
    pub tasks: Vec<JoinHandle<anyhow::Result<()>>>,
    pub description: String,
}

impl Senders {
    /// Starts the pipelines: `batch` messages per request, `rate` requests per second in all
    /// (unpaced when `None`).
    pub async fn start(
        a: &SendArgs,
        batch: usize,
        rate: Option<f64>,
        rec: Arc<Recorder>,
    ) -> anyhow::Result<Senders> {
        if a.in_flight == 0 || a.connections == 0 || batch == 0 {
            bail!("--in-flight, --connections and --batch-size must be at least 1");
        }
        let targets = resolve_targets(a).await?;
        let mut by_broker: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for t in &targets {
            by_broker.entry(t.addr.clone()).or_default().push(t.queue_id);
        }
        let pipelines = by_broker.len() * a.connections;
        let description = format!(
            "topic={} queues={} brokers={:?} size={} batch={batch} in_flight={} connections={pipelines}{}",
            a.topic,
            targets.len(),
            by_broker.keys().collect::<Vec<_>>(),
            a.size,
            a.in_flight,
            rate.map(|r| format!(" rate={r:.0}/s")).unwrap_or_default()
        );
        let start = Instant::now();
        let duration = if a.count.is_some() {
            Duration::from_secs(24 * 3600)
        } else {
            a.duration
        };
        let budget = Arc::new(Budget {
            remaining: AtomicI64::new(a.count.map(|c| c as i64).unwrap_or(i64::MAX)),
            deadline: start + duration,
            timeout: Duration::from_millis(a.timeout_ms),
            uniq: UniqIdGenerator::new(std::net::Ipv4Addr::LOCALHOST, std::process::id(), 7),
        });
        let group = format!("rmq_bench_{}", std::process::id());
        let mut tasks = Vec::new();
        let mut index = 0;
        for (addr, queue_ids) in &by_broker {
            for _ in 0..a.connections {
                // Spread the in-flight budget; every connection keeps at least one request going.
                let share = (a.in_flight / pipelines + usize::from(index < a.in_flight % pipelines)).max(1);
                index += 1;
                let pipeline = Pipeline {
                    addr: addr.clone(),
                    queue_ids: queue_ids.clone(),
                    in_flight: share,
                    encoder: SendEncoder::batched(&group, &a.topic, vec![b'x'; a.size], batch).signed(
                        a.credentials.session(),
                        &group,
                        &a.topic,
                    ),
                    pacer: rate.map(|r| Pacer::new(start, r / pipelines as f64)),
                };
                tasks.push(tokio::spawn(pipeline.run(budget.clone(), rec.clone())));
            }
        }
        Ok(Senders { tasks, description })
    }

    /// Waits for every pipeline; the first error wins.
    pub async fn join(self) -> anyhow::Result<()> {
        let mut first = Ok(());
        for t in self.tasks {
            let r = t.await.context("sender task").and_then(|r| r);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

/// `send` (batch 1) and `batch`.
pub async fn run(a: SendArgs, batch: usize) -> anyhow::Result<()> {
    let mode = if batch > 1 { "batch" } else { "send" };
    let rec = Arc::new(Recorder::default());
    let senders = Senders::start(&a, batch, None, rec.clone()).await?;
    eprintln!("{mode}: {}", senders.description);
    let start = Instant::now();
    let stop = CancellationToken::new();
    let reporter = tokio::spawn(live(mode.to_string(), rec.clone(), stop.clone()));
    let outcome = senders.join().await;
    stop.cancel();
    let _ = reporter.await;
    let secs = start.elapsed().as_secs_f64();
    let (ok, failed) = (rec.ok(), rec.failed());
    let hist = rec.total();
    let mut s = Summary::new(mode);
    s.set("in_flight", a.in_flight as u64)
        .set("size", a.size as u64)
        .set("batch", batch as u64)
        .counts(ok, failed, secs)
        .latency("", &hist);
    let tps = ok as f64 / secs;
    s.line(format!(
        "sent {ok} ok, {failed} failed in {secs:.2} s: {tps:.0} msg/s, {:.1} MiB/s",
        tps * a.size as f64 / (1024.0 * 1024.0)
    ))
    .line(crate::latency_line("latency (per request)", &hist));
    s.print(a.json);
    outcome?;
    if ok == 0 {
        bail!("no message was sent successfully");
    }
    Ok(())
}
