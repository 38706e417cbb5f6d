//! Sends `--count` messages and prints one line per SEND_OK:
//! `SEND_OK <msgId> <key> <brokerName> <queueId> <queueOffset>`.
//!
//! ```text
//! cargo run -p rmq-client --example produce -- --namesrv 127.0.0.1:9876 --topic T --count 1000 \
//!     --tag TagA --key-prefix k
//! ```
//! Message `i` has key `<key-prefix><i>` and body `<body-prefix><i>`. Exits 1 if any send failed.

use std::io::Write;

use clap::Parser;
use rmq_client::{ClientConfig, Message, Producer, ProducerConfig, SendStatus};

mod common;

#[derive(Parser)]
struct Args {
    /// Nameservers, `host:port;host:port` (or env NAMESRV_ADDR).
    #[arg(long, env = "NAMESRV_ADDR", default_value = "127.0.0.1:9876")]
    namesrv: String,
    /// Topic.
    #[arg(long)]
    topic: String,
    /// Messages to send.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Tag of every message.
    #[arg(long, default_value = "TagA")]
    tag: String,
    /// Key of message i is `<key-prefix><i>`.
    #[arg(long, default_value = "k")]
    key_prefix: String,
    /// Body of message i is `<body-prefix><i>`.
    #[arg(long, default_value = "body-")]
    body_prefix: String,
    /// Producer group.
    #[arg(long, default_value = "rust_example_producer")]
    group: String,
    /// Send timeout in ms.
    #[arg(long, default_value_t = 3000)]
    timeout_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_logging();
    let args = Args::parse();
    let config = ProducerConfig {
        client: ClientConfig::new(&args.namesrv),
        group: args.group.clone(),
        send_timeout: std::time::Duration::from_millis(args.timeout_ms),
        ..Default::default()
    };
    let producer = Producer::start(config).await?;
    let mut failed = 0usize;
    let mut out = std::io::stdout().lock();
    for i in 0..args.count {
        let key = format!("{}{}", args.key_prefix, i);
        let msg = Message::new(&args.topic, format!("{}{}", args.body_prefix, i))
            .with_tags(&args.tag)
            .with_keys([&key]);
        match producer.send(msg).await {
            Ok(r) if r.status == SendStatus::SendOk => {
                writeln!(
                    out,
                    "SEND_OK {} {} {} {} {}",
                    r.msg_id, key, r.queue.broker_name, r.queue.queue_id, r.queue_offset
                )?;
                out.flush()?;
            }
            Ok(r) => {
                failed += 1;
                eprintln!("message {i}: {:?}", r.status);
            }
            Err(e) => {
                failed += 1;
                eprintln!("message {i}: {e}");
            }
        }
    }
    producer.shutdown().await;
    if failed > 0 {
        eprintln!("{failed} of {} sends failed", args.count);
        std::process::exit(1);
    }
    Ok(())
}
