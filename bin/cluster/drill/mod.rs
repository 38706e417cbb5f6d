//! `rmq-cluster drill`: a fault drill on a fresh local cluster with Apache's default broker
//! settings, printing each step as it happens and a final tally.
//!
//! Both scenarios share the frame: start the cluster ([`local`]), create `myTopic` on every master
//! with 4 queues (`mqadmin updateTopic -c`), start a producer sending sequence-numbered bodies and a
//! consumer group ([`traffic`]), run the scenario ([`seed002`] or [`upgrade`]) through the
//! [`nodes::NodeControl`] seam, stop sending, wait until every SEND_OK message is delivered,
//! print the tally from the [`ledger`], stop the cluster. The drill fails (non-zero exit) if a
//! step fails, a send fails for good, or an acknowledged message is never delivered.

pub mod ledger;
pub mod local;
pub mod nodes;
pub mod seed002;
pub mod traffic;
pub mod upgrade;
pub mod watch;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use rmq_admin::topic::{update_topic, Target, UpdateTopic};

use local::{LocalCluster, Ports};
use nodes::NodeControl;
use traffic::Traffic;
use watch::{wait_for, Nameservers, Steps};

/// The drill's topic (seed 002's name).
pub const TOPIC: &str = "myTopic";
/// Queues per broker (seed 002's `-q 4`).
pub const QUEUES: i32 = 4;
/// How long a fresh master may take to answer its first send.
const WARM_UP: Duration = Duration::from_secs(120);
/// How long the consumer gets, after sending stops, to deliver every acknowledged message.
const FINAL_DRAIN: Duration = Duration::from_secs(120);

/// Which story to rehearse.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Seed 002: a master dies, its group turns read-only, producers move, consumers drain the
    /// slave, an operator adds a group, the master returns.
    Seed002,
    /// Seed 001: wipeWritePerm moves producers off a broker, it restarts, addWritePerm brings it
    /// back; not one send may fail.
    Upgrade,
}

/// `rmq-cluster drill` options.
#[derive(clap::Args, Debug, Clone)]
pub struct DrillArgs {
    /// The scenario.
    #[arg(value_enum, default_value = "seed002")]
    pub scenario: Scenario,
    /// Directory of the fresh cluster (must not hold one); default ./.rmq-drill/<scenario>-<time>.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// First nameserver port (two nameservers).
    #[arg(long, default_value_t = 19876)]
    pub base_port: u16,
    /// First broker port (10 per broker; the drill's cluster grows to 6 brokers).
    #[arg(long, default_value_t = 20911)]
    pub broker_base_port: u16,
    /// Run the drill on brokers with plain ACL (`rmq-cluster start --acl [FILE]`); every
    /// request is signed with the file's first admin account.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub acl: Option<Option<PathBuf>>,
}

/// Named durations, printed at the end.
pub struct Timings(Vec<(String, Duration)>);

impl Timings {
    /// None yet.
    pub fn new() -> Timings {
        Timings(Vec::new())
    }

    /// Adds one.
    pub fn push(&mut self, what: &str, d: Duration) {
        self.0.push((what.to_string(), d));
    }
}

/// Runs the drill; an error means it failed.
pub async fn run(args: DrillArgs) -> anyhow::Result<()> {
    let name = match args.scenario {
        Scenario::Seed002 => "seed002",
        Scenario::Upgrade => "upgrade",
    };
    let dir = args.dir.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        PathBuf::from(format!("./.rmq-drill/{name}-{secs}"))
    });
    let steps = Steps::new();
    steps.say(format!(
        "drill {name}: starting a fresh cluster under {} (2 nameservers, broker-a and broker-b, \
         master + slave each, Apache's default broker settings)",
        dir.display()
    ));
    let ports = Ports {
        base_port: args.base_port,
        broker_base_port: args.broker_base_port,
        acl: args.acl.clone(),
    };
    let mut cluster = LocalCluster::start(&dir, ports).await?;
    steps.say(format!(
        "cluster up; NAMESRV_ADDR='{}'; logs in {}/logs",
        cluster.namesrv_addr(),
        cluster.dir().display()
    ));
    // Ctrl-C or SIGTERM ends the drill early but still stops the cluster it started.
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let result = tokio::select! {
        r = drive(&cluster, args.scenario, &steps) => r,
        _ = int.recv() => Err(anyhow::anyhow!("interrupted by Ctrl-C")),
        _ = term.recv() => Err(anyhow::anyhow!("interrupted by SIGTERM")),
    };
    steps.say("stopping the cluster (rmq-cluster stop)");
    cluster.stop_cluster().await;
    match &result {
        Ok(()) => steps.say(format!("drill {name} PASSED: nothing lost")),
        Err(e) => {
            steps.say(format!("drill {name} FAILED: {e:#}"));
            steps.say(format!("node logs: {}/logs", cluster.dir().display()));
        }
    }
    result
}

/// `mqadmin updateTopic` of [`TOPIC`] with [`QUEUES`] read and write queues, read-write, at
/// `target` (the tool's report is dropped: the caller says what it runs).
pub async fn create_topic(ns: &Nameservers, target: Target) -> anyhow::Result<()> {
    let mut out = String::new();
    update_topic(
        ns.any(),
        &UpdateTopic {
            target,
            topic: TOPIC.into(),
            read_queue_nums: QUEUES,
            write_queue_nums: QUEUES,
            perm: 6,
            order: false,
        },
        &mut out,
    )
    .await?;
    Ok(())
}

/// Topic, traffic, scenario, final drain and tally.
async fn drive<N: NodeControl>(nodes: &N, scenario: Scenario, steps: &Steps) -> anyhow::Result<()> {
    let ns = Nameservers::new(&nodes.namesrv_addr(), nodes.credentials())?;
    steps.say(format!(
        "mqadmin updateTopic -c {} -t {TOPIC} -r {QUEUES} -w {QUEUES}",
        nodes.cluster_name()
    ));
    create_topic(&ns, Target::Cluster(nodes.cluster_name())).await?;
    wait_for(
        "the route of myTopic to list broker-a and broker-b writable",
        Duration::from_secs(30),
        || async {
            ns.all_agree(TOPIC, "broker-a", |g| g.writable(QUEUES)).await
                && ns.all_agree(TOPIC, "broker-b", |g| g.writable(QUEUES)).await
        },
    )
    .await?;
    let warm = std::time::Instant::now();
    traffic::warm_up(&nodes.client_config(), TOPIC, &["broker-a", "broker-b"], WARM_UP).await?;
    steps.say(format!(
        "warm-up: each master answered a send ({:.1} s)",
        warm.elapsed().as_secs_f64()
    ));
    steps.say(
        "producer group drill_producer sends drill-<seq> continuously; consumer group drill_consumer reads",
    );
    let mut traffic = Traffic::start(&nodes.client_config(), TOPIC).await?;
    let outcome = match scenario {
        Scenario::Seed002 => seed002::run(nodes, &traffic, &ns, steps).await,
        Scenario::Upgrade => upgrade::run(nodes, &traffic, &ns, steps).await,
    };
    traffic.stop_sending().await;
    let drained = if outcome.is_ok() {
        steps.say("sending stopped; waiting until every SEND_OK message is consumed");
        wait_for("every SEND_OK message to be consumed", FINAL_DRAIN, || async {
            traffic.ledger().all_delivered()
        })
        .await
        .map(drop)
    } else {
        Ok(())
    };
    let tally = traffic.ledger().tally();
    traffic.shutdown().await;
    ns.shutdown();

    println!();
    println!("==== tally");
    let groups: Vec<String> = tally.per_group.iter().map(|(g, n)| format!("{g} {n}")).collect();
    println!("sent OK      {:>7}   ({})", tally.sent_ok, groups.join(", "));
    println!("send failed  {:>7}   (after every retry)", tally.failed);
    for f in &tally.failures {
        println!("             {f}");
    }
    println!(
        "retried      {:>7}   (SEND_OK after a failed attempt; most attempts for one send: {})",
        tally.retried, tally.max_attempts
    );
    println!(
        "consumed     {:>7}   (SEND_OK messages delivered at least once)",
        tally.consumed
    );
    println!("duplicates   {:>7}   (extra deliveries)", tally.duplicates);
    println!("lost         {:>7}", tally.lost_count);
    if !tally.lost.is_empty() {
        let seqs: Vec<String> = tally.lost.iter().map(u64::to_string).collect();
        println!("             first lost sequence numbers: {}", seqs.join(", "));
    }
    if let Ok(timings) = &outcome {
        for (what, d) in &timings.0 {
            println!("{what:<36} {:>6.1} s", d.as_secs_f64());
        }
    }
    println!(
        "RESULT sent_ok={} lost={} duplicates={} failed={} retried={}",
        tally.sent_ok, tally.lost_count, tally.duplicates, tally.failed, tally.retried
    );
    outcome?;
    drained?;
    if tally.lost_count > 0 {
        bail!("{} acknowledged message(s) were never consumed", tally.lost_count);
    }
    if tally.failed > 0 {
        bail!("{} send(s) failed after every retry", tally.failed);
    }
    Ok(())
}
