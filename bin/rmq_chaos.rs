//! `rmq-chaos`: runs a local cluster (nameservers plus SYNC_MASTER/SLAVE groups, all SYNC_FLUSH),
//! sequence-numbered producers and a consumer group (the Rust client), while a driver SIGKILLs
//! and restarts a random nameserver, master or slave, one at a time, for `--duration`.
//!
//! Afterwards every node is brought back, the producers stop, the consumers drain, and it prints
//! acked (SEND_OK only), consumed, lost (acked but never delivered), duplicates and the longest
//! time without a SEND_OK. Exit code 1 when anything acked was lost or a node died on its own;
//! the run's directory (configs, stores, logs) is then kept and named.
//! `scripts/chaos.sh [--duration 120s]` builds and runs it.

#[path = "chaos/ledger.rs"]
mod ledger;
#[path = "chaos/nodes.rs"]
mod nodes;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rmq_client::{
    ClientConfig, ConsumeFromWhere, ConsumeResult, Message, Producer, ProducerConfig, PushConsumer,
    PushConsumerConfig, SendStatus,
};
use rmq_remoting::headers::admin::CreateTopicRequestHeader;
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode};

use ledger::{body_of, parse_body, Ledger};
use nodes::{can_connect, Node, Role};

const TOPIC: &str = "ChaosTopic";
const RPC_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Parser, Debug)]
#[command(
    name = "rmq-chaos",
    version,
    about = "Kill and restart cluster nodes under load; count what was lost"
)]
struct Args {
    /// How long nodes are killed and restarted (e.g. 120s, 2m).
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    duration: Duration,
    /// Producers, each sending its own sequence numbers, one send at a time.
    #[arg(long, default_value_t = 2)]
    producers: u32,
    /// Sends per second per producer.
    #[arg(long, default_value_t = 50)]
    rate: u32,
    /// Members of the consumer group.
    #[arg(long, default_value_t = 2)]
    consumers: u32,
    /// Nameservers.
    #[arg(long, default_value_t = 2)]
    namesrvs: usize,
    /// Broker groups (one SYNC_MASTER and one SLAVE each).
    #[arg(long, default_value_t = 2)]
    groups: usize,
    /// Seed of the kill schedule (default: from the clock; printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Directory for configs, stores and logs (default: a new one under the temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// How long the consumers get to deliver everything after the producers stop.
    #[arg(long, default_value = "90s", value_parser = parse_duration)]
    drain_timeout: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?}: use e.g. 90s or 2m"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "ms" => Ok(Duration::from_millis(n)),
        _ => Err(format!("bad duration unit in {s:?}: use ms, s or m")),
    }
}

/// Prints a line stamped with the seconds since the run started.
fn say(start: Instant, what: impl std::fmt::Display) {
    println!("[{:7.1}s] {what}", start.elapsed().as_secs_f64());
}

async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

async fn body_contains(client: &RemotingClient, addr: &str, cmd: RemotingCommand, needle: &str) -> bool {
    match client.invoke(addr, cmd, RPC_TIMEOUT).await {
        Ok(resp) if resp.is_success() => String::from_utf8_lossy(&resp.body).contains(needle),
        _ => false,
    }
}

/// Every node answers, and every broker is registered at every nameserver.
async fn wait_ready(client: &RemotingClient, nodes: &[Node]) -> anyhow::Result<()> {
    for n in nodes {
        wait_for(
            &format!("{} at {}", n.name, n.addr),
            Duration::from_secs(60),
            || can_connect(&n.addr),
        )
        .await?;
    }
    for ns in nodes.iter().filter(|n| n.role == Role::Namesrv) {
        for b in nodes.iter().filter(|n| n.role != Role::Namesrv) {
            let needle = format!("\"{}\"", b.addr);
            wait_for(
                &format!("{} registered at {}", b.name, ns.name),
                Duration::from_secs(60),
                || {
                    body_contains(
                        client,
                        &ns.addr,
                        RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO),
                        &needle,
                    )
                },
            )
            .await?;
        }
    }
    Ok(())
}

async fn create_topic(client: &RemotingClient, nodes: &[Node]) -> anyhow::Result<()> {
    for m in nodes.iter().filter(|n| n.role == Role::Master) {
        let header = CreateTopicRequestHeader {
            topic: TOPIC.into(),
            default_topic: "TBW102".into(),
            read_queue_nums: 4,
            write_queue_nums: 4,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: Some(0),
            order: false,
        };
        let cmd = RemotingCommand::request_with(RequestCode::UPDATE_AND_CREATE_TOPIC, &header);
        let resp = client.invoke(&m.addr, cmd, RPC_TIMEOUT).await?;
        if !resp.is_success() {
            bail!("creating {TOPIC} on {} failed: {:?}", m.name, resp.remark);
        }
    }
    for ns in nodes.iter().filter(|n| n.role == Role::Namesrv) {
        for m in nodes.iter().filter(|n| n.role == Role::Master) {
            let group = m.name.rsplit_once('-').map_or(m.name.as_str(), |(g, _)| g);
            let needle = format!("\"{group}\"");
            wait_for(
                &format!("{TOPIC} routed to {group} at {}", ns.name),
                Duration::from_secs(60),
                || {
                    body_contains(
                        client,
                        &ns.addr,
                        RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC)
                            .with_ext("topic", TOPIC),
                        &needle,
                    )
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// One producer: sends `<index>:<seq>` at `rate` per second until `stop`, one at a time.
async fn produce(index: u32, namesrv: String, rate: u32, ledger: Arc<Mutex<Ledger>>, stop: Arc<AtomicBool>) {
    let config = ProducerConfig {
        client: ClientConfig::new(namesrv),
        group: "chaos_producer".into(),
        ..Default::default()
    };
    let producer = match Producer::start(config).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("producer {index} did not start: {e}");
            return;
        }
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        seq += 1;
        let id = (index, seq);
        let msg = Message::new(TOPIC, body_of(id)).with_keys([body_of(id)]);
        let result = producer.send(msg).await;
        let mut l = ledger.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(r) if r.status == SendStatus::SendOk => l.acked(id, Instant::now()),
            Ok(r) => l.not_acked(&format!("{:?}", r.status)),
            Err(_) => l.send_failed(),
        }
    }
    producer.shutdown().await;
}

async fn start_consumer(namesrv: &str, ledger: Arc<Mutex<Ledger>>) -> anyhow::Result<PushConsumer> {
    let config = PushConsumerConfig {
        client: ClientConfig::new(namesrv),
        group: "chaos_consumer".into(),
        consume_from_where: ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET,
        ..Default::default()
    };
    let consumer = PushConsumer::builder(config)
        .subscribe(TOPIC, "*")
        .start(move |msg| {
            let ledger = ledger.clone();
            async move {
                if let Some(id) = parse_body(msg.body()) {
                    ledger.lock().unwrap_or_else(|e| e.into_inner()).delivered(id);
                }
                ConsumeResult::Success
            }
        })
        .await?;
    Ok(consumer)
}

/// Kills and restarts random nodes, one at a time, until `until`; returns the kills per role and
/// the nodes that died on their own.
async fn chaos(
    nodes: &mut [Node],
    rng: &mut StdRng,
    start: Instant,
    until: Instant,
) -> anyhow::Result<([u32; 3], Vec<String>)> {
    let mut kills = [0u32; 3];
    let mut crashed = Vec::new();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(2000..6000))).await;
        for n in nodes.iter_mut() {
            if let Some(status) = n.exited() {
                say(
                    start,
                    format!("{} died on its own ({status}); see {}", n.name, n.log().display()),
                );
                crashed.push(n.name.clone());
                n.kill9().await;
                n.start()?;
            }
        }
        if Instant::now() >= until {
            break;
        }
        let victim = &mut nodes[rng.gen_range(0..nodes.len())];
        let down = Duration::from_millis(rng.gen_range(1000..5000));
        say(
            start,
            format!(
                "SIGKILL {} ({:?}), restart in {:.1} s",
                victim.name,
                victim.role,
                down.as_secs_f64()
            ),
        );
        victim.kill9().await;
        kills[victim.role as usize] += 1;
        tokio::time::sleep(down).await;
        victim.start()?;
        let addr = victim.addr.clone();
        wait_for(
            &format!("{} to come back", victim.name),
            Duration::from_secs(60),
            || can_connect(&addr),
        )
        .await?;
    }
    Ok((kills, crashed))
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let seed = args.seed.unwrap_or_else(|| rand::thread_rng().gen());
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("rmq-chaos-{}-{seed}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let start = Instant::now();
    say(start, format!("seed {seed}, directory {}", dir.display()));
    let (mut nodes, namesrv) = nodes::plan(&dir, args.namesrvs, args.groups)?;
    for n in nodes.iter_mut() {
        n.start()?;
    }
    let admin = RemotingClient::new(Default::default());
    wait_ready(&admin, &nodes).await?;
    create_topic(&admin, &nodes).await?;
    say(
        start,
        format!(
            "cluster ready: {}",
            nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut consumers = Vec::new();
    for _ in 0..args.consumers {
        consumers.push(start_consumer(&namesrv, ledger.clone()).await?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..args.producers)
        .map(|i| {
            tokio::spawn(produce(
                i,
                namesrv.clone(),
                args.rate,
                ledger.clone(),
                stop.clone(),
            ))
        })
        .collect();

    let mut rng = StdRng::seed_from_u64(seed);
    let (kills, crashed) = chaos(&mut nodes, &mut rng, start, Instant::now() + args.duration).await?;
    say(start, "chaos over; every node is up again");
    wait_ready(&admin, &nodes).await?;
    // A little load on the healed cluster, then the producers stop.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for p in producers {
        let _ = p.await;
    }
    let sends_ended = Instant::now();
    let missing = ledger.lock().unwrap_or_else(|e| e.into_inner()).missing();
    say(
        start,
        format!("producers stopped; {missing} acked messages not delivered yet, draining"),
    );
    let drain_deadline = Instant::now() + args.drain_timeout;
    while ledger.lock().unwrap_or_else(|e| e.into_inner()).missing() > 0 && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for c in consumers {
        c.shutdown().await;
    }
    let report = ledger
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .report(sends_ended);
    for n in nodes.iter_mut() {
        n.kill9().await;
    }
    admin.shutdown();

    println!();
    println!(
        "kills:       {} nameserver, {} master, {} slave over {:?} (seed {seed})",
        kills[Role::Namesrv as usize],
        kills[Role::Master as usize],
        kills[Role::Slave as usize],
        args.duration
    );
    println!("acked:       {} (SEND_OK)", report.acked);
    let statuses: Vec<String> = report.not_acked.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!(
        "not acked:   {} other status (stored, not confirmed{}{}), {} failed sends",
        report.not_acked.values().sum::<u64>(),
        if statuses.is_empty() { "" } else { ": " },
        statuses.join(", "),
        report.send_errors
    );
    println!(
        "consumed:    {} distinct ({} of them never acked)",
        report.consumed, report.delivered_unacked
    );
    println!("duplicates:  {}", report.duplicates);
    println!("lost:        {}", report.lost.len());
    println!(
        "longest outage: {:.1} s without a SEND_OK",
        report.longest_outage.as_secs_f64()
    );
    if !crashed.is_empty() {
        println!("died on their own: {}", crashed.join(", "));
    }
    let ok = report.lost.is_empty() && crashed.is_empty();
    if ok {
        if args.dir.is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    } else {
        let first: Vec<String> = report.lost.iter().take(20).map(|&id| body_of(id)).collect();
        if !first.is_empty() {
            println!("first lost (producer:seq): {}", first.join(" "));
        }
        println!("configs, stores and logs kept in {}", dir.display());
    }
    Ok(ok)
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "error".into()),
        )
        .init();
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    if runtime.block_on(run(args))? {
        Ok(())
    } else {
        std::process::exit(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("120s"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("2h").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
