//! Consumes `--topic` as a member of `--group` and prints `topic tag keys body` per message;
//! exits 0 once `--expect` distinct messages (by message id) arrived, 1 after `--timeout`
//! seconds without them.
//!
//! ```text
//! cargo run -p rmq-client --example consume -- --namesrv 127.0.0.1:9876 --topic T --group G \
//!     --expect 1000 --timeout 60
//! ```
//! A new group starts from the first offset (`--from first`) unless `--from last`. Missing tag or
//! keys print as `-`; several keys are joined by `,`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use rmq_client::{ClientConfig, ConsumeFromWhere, ConsumeResult, PushConsumer, PushConsumerConfig};
use tokio::sync::Notify;

mod common;

#[derive(Parser)]
struct Args {
    /// Nameservers, `host:port;host:port` (or env NAMESRV_ADDR).
    #[arg(long, env = "NAMESRV_ADDR", default_value = "127.0.0.1:9876")]
    namesrv: String,
    /// Topic.
    #[arg(long)]
    topic: String,
    /// Consumer group.
    #[arg(long)]
    group: String,
    /// Tag expression.
    #[arg(long, default_value = "*")]
    tag: String,
    /// Distinct messages to wait for.
    #[arg(long)]
    expect: usize,
    /// Seconds to wait.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Where a new group starts: first or last.
    #[arg(long, default_value = "first")]
    from: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_logging();
    let args = Args::parse();
    let from = match args.from.as_str() {
        "first" => ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET,
        "last" => ConsumeFromWhere::CONSUME_FROM_LAST_OFFSET,
        other => anyhow::bail!("--from must be first or last, not {other}"),
    };
    let config = PushConsumerConfig {
        client: ClientConfig::new(&args.namesrv),
        group: args.group.clone(),
        consume_from_where: from,
        ..Default::default()
    };
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let done = Arc::new(Notify::new());
    let expect = args.expect;
    let (seen2, done2) = (seen.clone(), done.clone());
    let consumer = PushConsumer::builder(config)
        .subscribe(&args.topic, &args.tag)
        .start(move |msg| {
            let (seen, done) = (seen2.clone(), done2.clone());
            async move {
                let keys = msg.keys().join(",");
                let line = format!(
                    "{} {} {} {}",
                    msg.topic(),
                    msg.tags().unwrap_or("-"),
                    if keys.is_empty() { "-" } else { &keys },
                    String::from_utf8_lossy(msg.body())
                );
                let mut seen = seen.lock().expect("seen lock");
                if seen.insert(msg.msg_id().to_string()) {
                    println!("{line}");
                }
                if seen.len() >= expect {
                    done.notify_one();
                }
                ConsumeResult::Success
            }
        })
        .await?;
    let finished = tokio::time::timeout(Duration::from_secs(args.timeout), async {
        while seen.lock().expect("seen lock").len() < expect {
            done.notified().await;
        }
    })
    .await
    .is_ok();
    consumer.shutdown().await;
    let got = seen.lock().expect("seen lock").len();
    if !finished {
        eprintln!("timed out: {got} of {expect} messages");
        std::process::exit(1);
    }
    Ok(())
}
