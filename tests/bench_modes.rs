//! Every `rmq-bench` mode runs for about a second against a real `mqbroker` and `mqnamesrv` and
//! prints a `--json` summary whose counts add up. Nothing here is timed: speed is what
//! `scripts/bench.sh` measures.

mod common;

use std::time::Duration;

use common::{create_topic, run_bin, stderr, stdout, wait_route, Single};
use serde_json::Value;

const T: Duration = Duration::from_secs(120);

/// Runs `rmq-bench args… --json`, requires success and returns the summary object.
fn bench(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = run_bin(env!("CARGO_BIN_EXE_rmq-bench"), &all, &[], T);
    assert!(
        out.status.success(),
        "rmq-bench {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    let summary: Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("stdout of {args:?} is not one JSON object ({e}):\n{text}"));
    assert_eq!(summary["mode"], args[0], "{summary}");
    summary
}

fn num(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing or not a count in {v}"))
}

#[test]
fn every_mode_prints_a_json_summary() {
    let c = Single::start(&[]);
    let (broker, ns) = (c.broker.addr(), c.namesrv.addr());

    let send = bench(&[
        "send",
        "--broker",
        &broker,
        "--topic",
        "BenchSend",
        "--count",
        "300",
    ]);
    assert_eq!((num(&send, "ok"), num(&send, "failed")), (300, 0), "{send}");
    assert!(num(&send, "p99_us") >= num(&send, "p50_us"), "{send}");

    let batch = bench(&[
        "batch",
        "--broker",
        &broker,
        "--topic",
        "BenchSend",
        "--count",
        "320",
        "--batch-size",
        "32",
    ]);
    assert_eq!((num(&batch, "ok"), num(&batch, "batch")), (320, 32), "{batch}");

    // A new group drains what the two runs above stored, every message exactly once.
    wait_route(&ns, "BenchSend", "broker-a");
    let drain = bench(&[
        "consume",
        "--namesrv",
        &ns,
        "--topic",
        "BenchSend",
        "--drain",
        "--duration",
        "60s",
    ]);
    assert_eq!((num(&drain, "backlog"), num(&drain, "ok")), (620, 620), "{drain}");

    create_topic(&broker, "BenchE2E", 4);
    wait_route(&ns, "BenchE2E", "broker-a");
    let e2e = bench(&[
        "e2e",
        "--namesrv",
        &ns,
        "--topic",
        "BenchE2E",
        "--rate",
        "300",
        "--duration",
        "1s",
    ]);
    let sent = num(&e2e, "ok");
    assert!(sent > 0, "{e2e}");
    assert_eq!(
        num(&e2e, "consumed"),
        sent,
        "every acknowledged send is consumed: {e2e}"
    );
    assert!(num(&e2e, "p999_us") >= num(&e2e, "p50_us"), "{e2e}");

    let rtt = bench(&["rtt", "--duration", "500ms"]);
    assert!(num(&rtt, "ok") > 0, "{rtt}");
}
