//! Interop with the Apache C++ client, the judge of wire compatibility: its 2.1.0 build
//! (`rocketmq-python-cvs==2.1.0.3`) and its 1.x build (`rocketmq==0.4.4`), each driven through its
//! Python wrapper in its own virtualenv (`scripts/setup-test-env.sh` creates `.venv-cpp2` and
//! `.venv-cpp1`). The scripts are in `tests/interop/`.
//!
//! Each test starts our `mqnamesrv` and `mqbroker`, has a C++ producer send 1,000 messages with
//! keys and tags, and a C++ push consumer consume them: nothing may be missing, duplicates are
//! allowed only as at-least-once redeliveries, and every tag, key and body must come back intact.
//!
//! `cpp_2_1_transaction_producer_commits_rolls_back_and_answers_checks` drives the C++ client's
//! transaction producer through ctypes (`transaction.py`).
//!
//! Outside CI the tests skip (with a note) when the virtualenvs are absent; under `CI` they fail,
//! because `scripts/test.sh` installs them first.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::*;

const COUNT: usize = 1000;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The virtualenv's python, or `None` when the test should skip.
fn venv_python(venv: &str) -> Option<PathBuf> {
    let python = repo_root().join(venv).join("bin/python");
    if python.is_file() {
        return Some(python);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{} is missing; scripts/test.sh creates it with scripts/setup-test-env.sh",
            python.display()
        );
    }
    eprintln!(
        "skipping: {} is missing (run scripts/setup-test-env.sh to enable this test)",
        python.display()
    );
    None
}

fn run_py(python: &Path, script: &str, args: &[&str], home: &Path, timeout: Duration) -> Output {
    let script = repo_root().join("tests/interop").join(script);
    let mut all = vec![script.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    // The C++ client logs under $HOME/logs/rocketmq-cpp; keep that inside the test's temp dir.
    let home = home.to_str().expect("utf-8 path");
    run_bin(
        python.to_str().expect("utf-8 path"),
        &all,
        &[("HOME", home)],
        timeout,
    )
}

fn describe(what: &str, out: &Output) -> String {
    format!(
        "{what} exited with {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// Checks a consumer's deliveries against messages `0..count` of `run` sent to `topic`.
fn check_deliveries(got: &[serde_json::Value], topic: &str, run: &str, count: usize) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for rec in got {
        let body = rec["body"].as_str().expect("body").to_string();
        let i: usize = body
            .strip_prefix(&format!("body-{run}-"))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("unexpected body {body:?}"));
        assert_eq!(rec["topic"].as_str(), Some(topic), "topic of {body}");
        assert_eq!(
            rec["tags"].as_str(),
            Some(format!("Tag{}", i % 3).as_str()),
            "tag of {body}"
        );
        assert_eq!(
            rec["keys"].as_str(),
            Some(format!("key-{run}-{i}").as_str()),
            "keys of {body}"
        );
        *seen.entry(body).or_default() += 1;
    }
    let expected: BTreeSet<String> = (0..count).map(|i| format!("body-{run}-{i}")).collect();
    let missing: Vec<&String> = expected
        .iter()
        .filter(|b| !seen.contains_key(*b))
        .take(10)
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {count} messages never delivered, e.g. {missing:?}",
        count - seen.len()
    );
    let dups: usize = seen.values().map(|n| n - 1).sum();
    assert_eq!(seen.len(), count, "no message outside the sent set");
    eprintln!("{count} messages delivered, {dups} redeliveries");
}

/// How produce.py and consume.py are called: `--namesrv <ns> --topic <topic> --group <group>`,
/// the script's own `flags`, then `--out <out>` (the JSON-lines file it writes).
fn script_args<'a>(
    ns: &'a str,
    topic: &'a str,
    group: &'a str,
    flags: &[&'a str],
    out: &'a str,
) -> Vec<&'a str> {
    let mut args = vec!["--namesrv", ns, "--topic", topic, "--group", group];
    args.extend_from_slice(flags);
    args.extend(["--out", out]);
    args
}

/// Runs the C++ push consumer (consume.py) in group `cg_<run>` until `count` distinct messages
/// arrived; asserts it succeeded and returns every delivery it recorded.
fn cpp_consume(
    python: &Path,
    ns: &str,
    topic: &str,
    run: &str,
    count: usize,
    dir: &Path,
) -> Vec<serde_json::Value> {
    let got_path = dir.join("got.jsonl");
    let got_out = got_path.to_str().expect("utf-8").to_string();
    let count = count.to_string();
    let group = format!("cg_{run}");
    let args = script_args(
        ns,
        topic,
        &group,
        &["--expect", &count, "--timeout", "150"],
        &got_out,
    );
    let out = run_py(python, "consume.py", &args, dir, Duration::from_secs(200));
    let got = read_jsonl(&got_path);
    assert!(
        out.status.success(),
        "{} ({} deliveries recorded)",
        describe("consume.py", &out),
        got.len()
    );
    got
}

/// A fresh namesrv and broker with topic `InteropTopic_<run>` (4 queues) routed.
fn start_with_topic(run: &str) -> (Single, String) {
    let single = Single::start(&[]);
    let topic = format!("InteropTopic_{run}");
    create_topic(&single.broker.addr(), &topic, 4);
    wait_route(&single.namesrv.addr(), &topic, "broker-a");
    (single, topic)
}

/// Runs the C++ producer (produce.py) in group `pg_<run>` to send messages `0..count` of `run`;
/// asserts it succeeded and returns the send results it recorded, one line per message.
fn cpp_produce(
    python: &Path,
    ns: &str,
    topic: &str,
    run: &str,
    count: usize,
    dir: &Path,
) -> Vec<serde_json::Value> {
    let sent_path = dir.join("sent.jsonl");
    let sent_out = sent_path.to_str().expect("utf-8").to_string();
    let count = count.to_string();
    let group = format!("pg_{run}");
    let args = script_args(ns, topic, &group, &["--count", &count, "--run", run], &sent_out);
    let out = run_py(python, "produce.py", &args, dir, Duration::from_secs(300));
    assert!(out.status.success(), "{}", describe("produce.py", &out));
    read_jsonl(&sent_path)
}

fn cpp_round_trip(venv: &str, run: &str) {
    let Some(python) = venv_python(venv) else { return };
    let (single, topic) = start_with_topic(run);
    let ns = single.namesrv.addr();
    let dir = single.dir.path();
    let sent = cpp_produce(&python, &ns, &topic, run, COUNT, dir);
    assert_eq!(sent.len(), COUNT, "one result line per message");
    assert!(sent.iter().all(|r| r["status"] == 0), "every send is SEND_OK");

    let got = cpp_consume(&python, &ns, &topic, run, COUNT, dir);
    check_deliveries(&got, &topic, run, COUNT);
}

#[test]
fn cpp_2_1_producer_and_push_consumer_exchange_1000_messages() {
    cpp_round_trip(".venv-cpp2", "cpp2");
}

#[test]
fn cpp_1_x_producer_and_push_consumer_exchange_1000_messages() {
    cpp_round_trip(".venv-cpp1", "cpp1");
}

/// Messages in the mixed-client tests.
const MIXED_COUNT: usize = 300;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn rust_producer_to_cpp_2_1_push_consumer() {
    let Some(python) = venv_python(".venv-cpp2") else {
        return;
    };
    let run = "rust2cpp";
    let (single, topic) = start_with_topic(run);
    let ns = single.namesrv.addr();
    runtime().block_on(async {
        let config = rmq_client::ProducerConfig {
            client: rmq_client::ClientConfig::new(&ns),
            group: format!("pg_{run}"),
            ..Default::default()
        };
        let producer = rmq_client::Producer::start(config)
            .await
            .expect("producer starts");
        for i in 0..MIXED_COUNT {
            let msg = rmq_client::Message::new(&topic, format!("body-{run}-{i}"))
                .with_tags(format!("Tag{}", i % 3))
                .with_keys([format!("key-{run}-{i}")]);
            let r = producer
                .send(msg)
                .await
                .unwrap_or_else(|e| panic!("send {i}: {e}"));
            assert_eq!(r.status, rmq_client::SendStatus::SendOk, "send {i}");
        }
        producer.shutdown().await;
    });

    let dir = single.dir.path();
    let got = cpp_consume(&python, &ns, &topic, run, MIXED_COUNT, dir);
    check_deliveries(&got, &topic, run, MIXED_COUNT);
}

#[test]
fn cpp_2_1_producer_to_rust_push_consumer() {
    let Some(python) = venv_python(".venv-cpp2") else {
        return;
    };
    let run = "cpp2rust";
    let (single, topic) = start_with_topic(run);
    let ns = single.namesrv.addr();
    let dir = single.dir.path();
    cpp_produce(&python, &ns, &topic, run, MIXED_COUNT, dir);

    let got: Vec<serde_json::Value> = runtime().block_on(async {
        let config = rmq_client::PushConsumerConfig {
            client: rmq_client::ClientConfig::new(&ns),
            group: format!("cg_{run}"),
            consume_from_where: rmq_client::ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET,
            ..Default::default()
        };
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = got.clone();
        let consumer = rmq_client::PushConsumer::builder(config)
            .subscribe(&topic, "*")
            .start(move |msg| {
                let sink = sink.clone();
                async move {
                    let rec = serde_json::json!({
                        "topic": msg.topic(),
                        "tags": msg.tags().unwrap_or(""),
                        "keys": msg.keys().join(" "),
                        "body": String::from_utf8_lossy(msg.body()),
                    });
                    sink.lock().expect("sink lock").push(rec);
                    rmq_client::ConsumeResult::Success
                }
            })
            .await
            .expect("consumer starts");
        let distinct = |v: &Vec<serde_json::Value>| {
            v.iter()
                .map(|r| r["body"].as_str().unwrap_or("").to_string())
                .collect::<BTreeSet<_>>()
                .len()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while distinct(&got.lock().expect("sink lock")) < MIXED_COUNT
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        consumer.shutdown().await;
        let v = got.lock().expect("sink lock").clone();
        v
    });
    check_deliveries(&got, &topic, run, MIXED_COUNT);
}

/// Sum of the max offsets of `topic`'s queues `0..queues`: how many messages it holds.
fn messages_in(broker: &str, topic: &str, queues: i32) -> i64 {
    (0..queues)
        .map(|q| {
            let header = rmq_remoting::headers::offset::GetMaxOffsetRequestHeader {
                topic: topic.to_string(),
                queue_id: q,
                bname: None,
            };
            let cmd = rmq_remoting::RemotingCommand::request_with(
                rmq_remoting::RequestCode::GET_MAX_OFFSET,
                &header,
            );
            let resp = request(broker, cmd, Duration::from_secs(5)).expect("GET_MAX_OFFSET");
            resp.ext_fields
                .get("offset")
                .and_then(|o| o.parse::<i64>().ok())
                .expect("max offset in the reply")
        })
        .sum()
}

/// The C++ 2.1 client's transaction producer (`CreateTransactionProducer`,
/// `SendMessageTransaction`, through ctypes): commits, rollbacks, and unknowns settled by the
/// broker's check-back (answered by the C++ check callback). A C++ push consumer receives the
/// committed ones; the topic holds exactly those. The broker's `transactionCheckInterval` and
/// `transactionTimeOut` are small: they are the keys under test.
#[test]
fn cpp_2_1_transaction_producer_commits_rolls_back_and_answers_checks() {
    let Some(python) = venv_python(".venv-cpp2") else {
        return;
    };
    let run = "cpptxn";
    let single = Single::start(&[
        ("transactionCheckInterval", "1000"),
        ("transactionTimeOut", "2000"),
    ]);
    let topic = format!("InteropTopic_{run}");
    create_topic(&single.broker.addr(), &topic, 4);
    wait_route(&single.namesrv.addr(), &topic, "broker-a");
    let ns = single.namesrv.addr();
    let dir = single.dir.path();
    let out_path = dir.join("txn.jsonl");
    let out_arg = out_path.to_str().expect("utf-8").to_string();
    let group = format!("pg_{run}");
    let out = run_py(
        &python,
        "transaction.py",
        &[
            "--namesrv",
            &ns,
            "--topic",
            &topic,
            "--group",
            &group,
            "--run",
            run,
            "--rounds",
            "2",
            "--wait",
            "90",
            "--out",
            &out_arg,
        ],
        dir,
        Duration::from_secs(150),
    );
    assert!(out.status.success(), "{}", describe("transaction.py", &out));
    let log = read_jsonl(&out_path);
    let checked: BTreeSet<String> = log
        .iter()
        .filter_map(|r| r["check"].as_str().map(str::to_string))
        .collect();
    for c in &checked {
        assert!(
            c.starts_with("unknown-"),
            "a settled transaction was checked: {c}"
        );
    }
    let committed: BTreeSet<String> = log
        .iter()
        .filter_map(|r| r["send"].as_str())
        .filter(|b| b.starts_with("commit-") || b.starts_with("unknown-commit-"))
        .map(str::to_string)
        .collect();
    assert_eq!(committed.len(), 4, "{log:?}");

    let got = cpp_consume(&python, &ns, &topic, run, committed.len(), dir);
    let bodies: BTreeSet<String> = got
        .iter()
        .map(|r| r["body"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(bodies, committed, "exactly the committed messages are consumed");
    // Each committed once, nothing rolled back stored: the topic holds exactly four messages.
    assert_eq!(messages_in(&single.broker.addr(), &topic, 4), 4);
}
