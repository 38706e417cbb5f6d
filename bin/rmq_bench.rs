//! `rmq-bench`: load tool over the public protocol.
//!
//! * `send`: SEND_MESSAGE_V2 requests with JSON headers, as the Java client sends them, over
//!   pipelined connections ([`pipeline`]) that keep `--in-flight` requests outstanding,
//!   round-robin over the topic's writable queues; prints throughput and latency percentiles.
//!   Frames are written and read by hand ([`wire`]) so the tool costs about a
//!   microsecond per message and leaves the CPU to the broker it measures.
//! * `rtt`: the raw loopback round-trip rate of the same payload between two processes with
//!   one request in flight ([`rtt`]): the ceiling a one-in-flight `send` is compared to.
//!
//! The last line of each run is a `RESULT key=value …` line for scripts.

/// mimalloc: the broker allocates and frees small header strings per request, and glibc's
/// malloc spent a fifth of the broker's CPU on them under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use hdrhistogram::Histogram;
use rmq_admin::message::{writable_queues, Target};
use rmq_remoting::headers::admin::CreateTopicRequestHeader;
use rmq_remoting::message::id::UniqIdGenerator;
use rmq_remoting::net::{ClientConfig, RemotingClient};
use rmq_remoting::{RemotingCommand, RequestCode};

#[path = "bench/pipeline.rs"]
mod pipeline;
#[path = "bench/rtt.rs"]
mod rtt;
#[path = "bench/wire.rs"]
mod wire;

use pipeline::{Pipeline, Totals};
use wire::SendEncoder;

#[derive(Parser, Debug)]
#[command(
    name = "rmq-bench",
    version,
    about = "Load tool for RocketMQ 4.x brokers over the public protocol"
)]
struct Cli {
    /// Client runtime worker threads (1 leaves the other core to a local broker).
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Send messages and report throughput and latency.
    Send(SendArgs),
    /// Raw loopback round trips between two processes, one in flight.
    Rtt(RttArgs),
    /// The echo process that `rtt` starts (internal).
    #[command(hide = true)]
    EchoServer,
}

#[derive(Args, Debug)]
struct SendArgs {
    /// Name server(s): the topic's route picks the brokers and queues.
    #[arg(long, conflicts_with = "broker", required_unless_present = "broker")]
    namesrv: Option<String>,
    /// One broker address; the topic is created on it with --queues queues first.
    #[arg(long)]
    broker: Option<String>,
    /// Topic.
    #[arg(long, default_value = "BenchTopic")]
    topic: String,
    /// Queues to create with --broker.
    #[arg(long, default_value_t = 8)]
    queues: i32,
    /// Body size in bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Requests outstanding at once (over all connections).
    #[arg(long, default_value_t = 64)]
    in_flight: usize,
    /// How long to send, e.g. 10s, 500ms, 1m (ignored with --count).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Send exactly this many messages instead of running for --duration.
    #[arg(long)]
    count: Option<u64>,
    /// TCP connections per broker.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Per-request timeout in ms.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
}

#[derive(Args, Debug)]
struct RttArgs {
    /// Payload size in bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// How long to run.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    duration: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?}: use e.g. 10s, 500ms, 2m"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("bad duration unit in {s:?}: use ms, s or m")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

fn print_latency(h: &Histogram<u64>) {
    println!(
        "latency us: p50 {} p90 {} p99 {} p99.9 {} max {}",
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.90),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    );
}

async fn resolve_targets(a: &SendArgs, client: &RemotingClient) -> anyhow::Result<Vec<Target>> {
    if let Some(broker) = &a.broker {
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
        let resp = client.invoke(broker, cmd, Duration::from_secs(10)).await?;
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
    let admin = rmq_admin::Admin::new(ns)?;
    let route = admin.route_required(&a.topic).await?;
    admin.shutdown();
    let targets = writable_queues(&route, None);
    if targets.is_empty() {
        bail!(
            "topic {} has no writable queue on a master; check `mqadmin topicRoute -t {}`",
            a.topic,
            a.topic
        );
    }
    Ok(targets)
}

async fn run_send(a: SendArgs) -> anyhow::Result<()> {
    if a.in_flight == 0 || a.connections == 0 {
        bail!("--in-flight and --connections must be at least 1");
    }
    let admin_client = RemotingClient::new(ClientConfig::default());
    let targets = resolve_targets(&a, &admin_client).await?;
    admin_client.shutdown();
    let mut by_broker: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for t in &targets {
        by_broker.entry(t.addr.clone()).or_default().push(t.queue_id);
    }
    let pipelines = by_broker.len() * a.connections;
    println!(
        "send: topic={} queues={} brokers={:?} size={} in_flight={} connections={}",
        a.topic,
        targets.len(),
        by_broker.keys().collect::<Vec<_>>(),
        a.size,
        a.in_flight,
        pipelines
    );
    let duration = if a.count.is_some() {
        Duration::from_secs(24 * 3600)
    } else {
        a.duration
    };
    let start = Instant::now();
    let totals = Arc::new(Totals {
        remaining: AtomicI64::new(a.count.map(|c| c as i64).unwrap_or(i64::MAX)),
        ok: AtomicU64::new(0),
        failed: AtomicU64::new(0),
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
                encoder: SendEncoder::new(&group, &a.topic, vec![b'x'; a.size]),
            };
            tasks.push(tokio::spawn(pipeline.run(totals.clone())));
        }
    }
    let mut hist = new_histogram();
    for t in tasks {
        hist.add(t.await.context("sender task")??)
            .context("merging histograms")?;
    }
    let secs = start.elapsed().as_secs_f64();
    let ok = totals.ok.load(Ordering::Relaxed);
    let failed = totals.failed.load(Ordering::Relaxed);
    let tps = ok as f64 / secs;
    println!(
        "sent {ok} ok, {failed} failed in {secs:.2} s: {tps:.0} msg/s, {:.1} MiB/s",
        tps * a.size as f64 / (1024.0 * 1024.0)
    );
    print_latency(&hist);
    println!(
        "RESULT mode=send in_flight={} size={} ok={ok} failed={failed} secs={secs:.2} tps={tps:.0} p50_us={} p99_us={} max_us={}",
        a.in_flight,
        a.size,
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.max()
    );
    if ok == 0 {
        bail!("no message was sent successfully");
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()?
    };
    rt.block_on(async {
        match cli.mode {
            Mode::Send(a) => run_send(a).await,
            Mode::Rtt(a) => rtt::run(a.size, a.duration),
            Mode::EchoServer => rtt::echo_server(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3h").is_err());
        assert!(parse_duration("fast").is_err());
    }
}
