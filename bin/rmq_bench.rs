//! `rmq-bench`: load tool over the public protocol, no client-library shortcuts.
//!
//! * `send`: SEND_MESSAGE_V2 requests on plain `RemotingClient` connections, `--in-flight`
//!   requests outstanding at once, round-robin over the topic's writable queues; prints throughput
//!   and latency percentiles.
//! * `rtt`: the raw loopback round-trip rate of the same payload with one request in flight,
//!   against a tiny in-process echo server: the ceiling a one-in-flight `send` can be compared to.
//!
//! The last line of each run is a `RESULT key=value …` line for scripts.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use hdrhistogram::Histogram;
use rmq_admin::message::{writable_queues, Target};
use rmq_remoting::headers::admin::CreateTopicRequestHeader;
use rmq_remoting::headers::send::SendMessageRequestHeaderV2;
use rmq_remoting::message::id::UniqIdGenerator;
use rmq_remoting::net::{ClientConfig, RemotingClient};
use rmq_remoting::{RemotingCommand, RequestCode, SerializeType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    /// Raw loopback round trips with one in flight (in-process echo server).
    Rtt(RttArgs),
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
    /// Header serialization: json (what Java clients send by default) or rocketmq (binary).
    #[arg(long, default_value = "json", value_parser = ["json", "rocketmq"])]
    serialize: String,
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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

struct Shared {
    targets: Vec<Target>,
    clients: Vec<RemotingClient>,
    body: Bytes,
    next_queue: AtomicU64,
    // Remaining sends with --count; i64::MAX when running for a duration.
    remaining: AtomicI64,
    ok: AtomicU64,
    failed: AtomicU64,
    deadline: Instant,
    timeout: Duration,
    topic: String,
    uniq: UniqIdGenerator,
}

async fn sender(shared: Arc<Shared>, worker: usize) -> Histogram<u64> {
    let mut hist = new_histogram();
    let client = &shared.clients[worker % shared.clients.len()];
    let group = format!("rmq_bench_{}", std::process::id());
    loop {
        if Instant::now() >= shared.deadline || shared.remaining.fetch_sub(1, Ordering::Relaxed) <= 0 {
            break;
        }
        let n = shared.next_queue.fetch_add(1, Ordering::Relaxed) as usize;
        let t = &shared.targets[n % shared.targets.len()];
        let props = format!("WAIT\u{1}true\u{2}UNIQ_KEY\u{1}{}", shared.uniq.next_id(now_ms()));
        let header = SendMessageRequestHeaderV2 {
            a: group.clone(),
            b: shared.topic.clone(),
            c: "TBW102".into(),
            d: 4,
            e: t.queue_id,
            f: 0,
            g: now_ms(),
            h: 0,
            i: Some(props),
            j: Some(0),
            k: Some(false),
            l: None,
            m: Some(false),
            n: None,
        };
        let cmd = RemotingCommand::request_with(RequestCode::SEND_MESSAGE_V2, &header)
            .with_body(shared.body.clone());
        let start = Instant::now();
        match client.invoke(&t.addr, cmd, shared.timeout).await {
            Ok(resp) if resp.is_success() => {
                let _ = hist.record(start.elapsed().as_micros().max(1) as u64);
                shared.ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(resp) => {
                if shared.failed.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!(
                        "send failed: code {} {}",
                        resp.code,
                        resp.remark.unwrap_or_default()
                    );
                }
            }
            Err(e) => {
                if shared.failed.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("send failed: {e}");
                }
            }
        }
    }
    hist
}

async fn run_send(a: SendArgs) -> anyhow::Result<()> {
    if a.in_flight == 0 || a.connections == 0 {
        bail!("--in-flight and --connections must be at least 1");
    }
    let serialize_type = if a.serialize == "rocketmq" {
        SerializeType::RocketMq
    } else {
        SerializeType::Json
    };
    let config = ClientConfig {
        serialize_type,
        ..ClientConfig::default()
    };
    let clients: Vec<RemotingClient> = (0..a.connections)
        .map(|_| RemotingClient::new(config.clone()))
        .collect();
    let targets = resolve_targets(&a, &clients[0]).await?;
    let brokers: std::collections::BTreeSet<&str> = targets.iter().map(|t| t.addr.as_str()).collect();
    println!(
        "send: topic={} queues={} brokers={:?} size={} in_flight={} connections={} serialize={}",
        a.topic,
        targets.len(),
        brokers,
        a.size,
        a.in_flight,
        a.connections,
        a.serialize
    );
    let duration = if a.count.is_some() {
        Duration::from_secs(24 * 3600)
    } else {
        a.duration
    };
    let start = Instant::now();
    let shared = Arc::new(Shared {
        targets,
        clients,
        body: Bytes::from(vec![b'x'; a.size]),
        next_queue: AtomicU64::new(0),
        remaining: AtomicI64::new(a.count.map(|c| c as i64).unwrap_or(i64::MAX)),
        ok: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        deadline: start + duration,
        timeout: Duration::from_millis(a.timeout_ms),
        topic: a.topic.clone(),
        uniq: UniqIdGenerator::new(std::net::Ipv4Addr::LOCALHOST, std::process::id(), 7),
    });
    let tasks: Vec<_> = (0..a.in_flight)
        .map(|w| tokio::spawn(sender(shared.clone(), w)))
        .collect();
    let mut hist = new_histogram();
    for t in tasks {
        hist.add(t.await.context("sender task")?)
            .context("merging histograms")?;
    }
    let secs = start.elapsed().as_secs_f64();
    let ok = shared.ok.load(Ordering::Relaxed);
    let failed = shared.failed.load(Ordering::Relaxed);
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
    for c in &shared.clients {
        c.shutdown();
    }
    if ok == 0 {
        bail!("no message was sent successfully");
    }
    Ok(())
}

/// Echoes length-prefixed frames back until the peer closes.
async fn echo(mut sock: tokio::net::TcpStream) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let mut buf = Vec::new();
    loop {
        let len = match sock.read_u32().await {
            Ok(n) => n as usize,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        buf.resize(len, 0);
        sock.read_exact(&mut buf).await?;
        sock.write_u32(len as u32).await?;
        sock.write_all(&buf).await?;
    }
}

async fn run_rtt(a: RttArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        if let Ok((sock, _)) = listener.accept().await {
            let _ = echo(sock).await;
        }
    });
    let mut sock = tokio::net::TcpStream::connect(addr).await?;
    sock.set_nodelay(true)?;
    let mut frame = Vec::with_capacity(a.size + 4);
    frame.extend_from_slice(&(a.size as u32).to_be_bytes());
    frame.resize(a.size + 4, b'x');
    let mut back = vec![0u8; a.size + 4];
    let mut hist = new_histogram();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < a.duration {
        let t = Instant::now();
        sock.write_all(&frame).await?;
        sock.read_exact(&mut back).await?;
        let _ = hist.record(t.elapsed().as_micros().max(1) as u64);
        n += 1;
    }
    drop(sock);
    let _ = server.await;
    let secs = start.elapsed().as_secs_f64();
    let rate = n as f64 / secs;
    println!(
        "rtt: {n} round trips of {} bytes in {secs:.2} s: {rate:.0} round trips/s (one in flight)",
        a.size
    );
    print_latency(&hist);
    println!(
        "RESULT mode=rtt size={} ok={n} secs={secs:.2} tps={rate:.0} p50_us={} p99_us={}",
        a.size,
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99)
    );
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
            Mode::Rtt(a) => run_rtt(a).await,
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
