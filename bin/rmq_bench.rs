//! `rmq-bench`: load tool over the public protocol, RocketMQ's own benchmark modes, so each
//! can measure an Apache cluster as well as ours.
//!
//! * `send`: SEND_MESSAGE_V2 requests with JSON headers, as the Java client sends them, over
//!   pipelined connections ([`pipeline`]) that keep `--in-flight` requests outstanding,
//!   round-robin over the topic's writable queues. Frames are written and read by hand
//!   ([`wire`]) so the tool costs about a microsecond per message and leaves the CPU to the
//!   broker it measures.
//! * `batch`: the same with SEND_BATCH_MESSAGE requests of `--batch-size` messages ([`send`]).
//! * `consume`: a push-consumer group of `--members` members of our client; rate and
//!   born-to-consume latency; `--drain` consumes the topic's backlog ([`consume`]).
//! * `e2e`: a fixed send rate with a consumer group, end-to-end latency ([`e2e`]).
//! * `rtt`: the raw loopback round-trip rate of the same payload between two processes with
//!   one request in flight ([`rtt`]): the ceiling a one-in-flight `send` is compared to.
//!
//! Every mode prints a live line each second on stderr ([`stats::live`]) and ends with a
//! summary on stdout: text ending in a `RESULT key=value …` line for scripts, or one JSON
//! object with `--json`.

/// mimalloc: the broker allocates and frees small header strings per request, and glibc's
/// malloc spent a fifth of the broker's CPU on them under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hdrhistogram::Histogram;

#[path = "bench/consume.rs"]
mod consume;
#[path = "bench/e2e.rs"]
mod e2e;
#[path = "bench/pipeline.rs"]
mod pipeline;
#[path = "bench/rtt.rs"]
mod rtt;
#[path = "bench/send.rs"]
mod send;
#[path = "bench/stats.rs"]
mod stats;
#[path = "bench/wire.rs"]
mod wire;

#[derive(Parser, Debug)]
#[command(
    name = "rmq-bench",
    version,
    about = "Load tool for RocketMQ 4.x brokers over the public protocol",
    long_about = "Load tool for RocketMQ 4.x brokers over the public protocol: RocketMQ's benchmark \
modes (send, batch, consume, e2e) against our cluster or an Apache one, and the raw loopback \
round trip (rtt) they are compared to. Each mode prints a live line a second on stderr and a \
summary on stdout (a final `RESULT key=value ...` line, or one JSON object with --json). \
`scripts/bench.sh` runs the whole matrix. RUST_LOG=debug shows the client's logs."
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
    Send(send::SendArgs),
    /// Send batches (SEND_BATCH_MESSAGE) of --batch-size messages; rates count messages.
    Batch(BatchArgs),
    /// Consume with a push-consumer group; rate and born-to-consume latency.
    Consume(consume::ConsumeArgs),
    /// Send at a fixed --rate while a consumer group reads; end-to-end latency.
    E2e(e2e::E2eArgs),
    /// Raw loopback round trips between two processes, one in flight.
    Rtt(RttArgs),
    /// The echo process that `rtt` starts (internal).
    #[command(hide = true)]
    EchoServer,
}

#[derive(Args, Debug)]
struct BatchArgs {
    #[command(flatten)]
    send: send::SendArgs,
    /// Messages per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
}

#[derive(Args, Debug)]
struct RttArgs {
    /// Payload size in bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// How long to run.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    duration: Duration,
    /// Print the final summary as one JSON object.
    #[arg(long)]
    json: bool,
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

/// `what us: p50 … p90 … p99 … p99.9 … max …`.
fn latency_line(what: &str, h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return format!("{what}: no samples");
    }
    format!(
        "{what} us: p50 {} p90 {} p99 {} p99.9 {} max {}",
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.90),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    )
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Colour only on a terminal; the client's warnings show without RUST_LOG.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
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
            Mode::Send(a) => send::run(a, 1).await,
            Mode::Batch(a) => send::run(a.send, a.batch_size).await,
            Mode::Consume(a) => consume::run(a).await,
            Mode::E2e(a) => e2e::run(a).await,
            Mode::Rtt(a) => rtt::run(a.size, a.duration, a.json),
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
