//! `mqconsole`: a web console for a RocketMQ 4.x cluster, with the pages rocketmq-dashboard
//! users know (cluster, topics, consumer groups, messages, live TPS). It talks to the cluster
//! only through the admin library over the public protocol, so it works against Apache
//! clusters too. Pages are HTML rendered here; the little JavaScript (reload, charts) and CSS
//! are compiled in.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use rmq_admin::acl::tool_credentials;
use rmq_admin::Admin;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[path = "console/mod.rs"]
mod console;

use console::state::AppState;

#[derive(Parser, Debug)]
#[command(
    name = "mqconsole",
    version,
    about = "Web console for a RocketMQ 4.x cluster: brokers, topics, consumer groups, messages and live TPS",
    long_about = "Web console for a RocketMQ 4.x cluster.\n\n\
        Serves HTML pages on --listen: the cluster's brokers (role, version, liveness, TPS, disk), \
        topics (search, route, queue offsets, create/update/delete, broker write permission), \
        consumer groups (members, lag per queue, reset offset by time), messages (by id, by key, by \
        topic and time range, with body and properties) and live TPS charts per broker and topic.\n\n\
        Example: mqconsole -n 127.0.0.1:9876 --listen 127.0.0.1:8080, then open http://127.0.0.1:8080/\n\n\
        There is no login: listen on a loopback address, or put the console behind something that \
        authenticates, because anyone who reaches it can delete topics and reset offsets. Log \
        level: RUST_LOG (default info)."
)]
struct Cli {
    /// Name servers, `host:port;host:port`.
    #[arg(short = 'n', long = "namesrv", env = "NAMESRV_ADDR")]
    namesrv: String,
    /// Address the web server listens on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Access key to sign requests with, for brokers with aclEnable=true.
    #[arg(long = "access-key", visible_alias = "ak", env = "RMQ_ACCESS_KEY")]
    access_key: Option<String>,
    /// Secret key that goes with --access-key (never sent; it signs).
    #[arg(
        long = "secret-key",
        visible_alias = "sk",
        env = "RMQ_SECRET_KEY",
        hide_env_values = true
    )]
    secret_key: Option<String>,
    /// How often the live charts and broker liveness are sampled, in seconds.
    #[arg(long, default_value_t = 5.0)]
    sample_interval: f64,
    /// Points kept per chart series (at the default interval, 120 points = 10 minutes).
    #[arg(long, default_value_t = 120)]
    history: usize,
    /// Time one request to a name server or broker may take, in seconds.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
}

fn seconds(flag: &str, v: f64) -> anyhow::Result<Duration> {
    if !(v.is_finite() && (0.1..=3600.0).contains(&v)) {
        anyhow::bail!("{flag} must be between 0.1 and 3600 seconds, not {v}");
    }
    Ok(Duration::from_secs_f64(v))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mqconsole: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let interval = seconds("--sample-interval", cli.sample_interval)?;
    let timeout = seconds("--timeout", cli.timeout)?;
    if !(2..=100_000).contains(&cli.history) {
        anyhow::bail!(
            "--history must be between 2 and 100000 points, not {}",
            cli.history
        );
    }
    let mut admin = Admin::new(&cli.namesrv)?.with_timeout(timeout);
    let rocketmq_home = std::env::var_os("ROCKETMQ_HOME").map(std::path::PathBuf::from);
    if let Some(c) = tool_credentials(
        cli.access_key.as_deref(),
        cli.secret_key.as_deref(),
        rocketmq_home.as_deref(),
    )? {
        admin = admin.with_credentials(c);
    }
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("cannot listen on {}; pick another --listen address", cli.listen))?;
    let local = listener.local_addr()?;
    let state = AppState::new(admin, &cli.namesrv, interval, cli.history);
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    tasks.spawn(console::sampler::run(state.clone(), shutdown.clone()));
    let stop = shutdown.clone();
    tasks.spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        stop.cancel();
    });
    tasks.close();
    tracing::info!(namesrv = %cli.namesrv, "mqconsole listening on http://{local}/");
    let served = console::server::run(listener, state.clone(), shutdown.clone()).await;
    shutdown.cancel();
    tasks.wait().await;
    state.admin().shutdown();
    served.context("web server failed")
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; Ctrl-C still stops the console");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
