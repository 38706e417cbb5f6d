//! The local fault drills on the real binaries: `rmq-cluster drill seed002` (a master dies, its
//! group turns read-only, producers move, the consumer drains the slave, a group is added, the
//! master returns) and `rmq-cluster drill upgrade` (wipeWritePerm, restart, addWritePerm), each on
//! a fresh cluster in a temp dir with its own ports. Both must exit 0 with nothing lost, and leave
//! nothing running.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// The drill's `RESULT key=value …` line as pairs.
fn result_line(out: &str) -> Vec<(String, i64)> {
    let line = out
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{out}"));
    line.split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(-1)))
        .collect()
}

fn value(result: &[(String, i64)], key: &str) -> i64 {
    result.iter().find(|(k, _)| k == key).map_or(-1, |(_, v)| *v)
}

/// Runs one drill and returns its standard output, asserting exit 0 and a clean tally.
fn drill(scenario: &str, dir: &Path) -> String {
    let (base, broker_base) = cluster_ports(2, 6);
    let (d, b, bb) = (
        dir.display().to_string(),
        base.to_string(),
        broker_base.to_string(),
    );
    let o = run_bin(
        env!("CARGO_BIN_EXE_rmq-cluster"),
        &[
            "drill",
            scenario,
            "--dir",
            &d,
            "--base-port",
            &b,
            "--broker-base-port",
            &bb,
        ],
        &[],
        Duration::from_secs(420),
    );
    let out = stdout(&o);
    let logs = || {
        let mut s = String::new();
        if let Ok(entries) = std::fs::read_dir(dir.join("logs")) {
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                s.push_str(&format!("--- {} (last lines)\n", e.path().display()));
                for l in tail.into_iter().rev() {
                    s.push_str(l);
                    s.push('\n');
                }
            }
        }
        s
    };
    assert!(
        o.status.success(),
        "drill {scenario} failed: {:?}\nstdout:\n{out}\nstderr:\n{}\n{}",
        o.status,
        stderr(&o),
        logs()
    );
    let result = result_line(&out);
    assert!(value(&result, "sent_ok") > 0, "{out}");
    assert_eq!(value(&result, "lost"), 0, "{out}");
    assert_eq!(value(&result, "failed"), 0, "{out}");
    assert!(out.contains(&format!("drill {scenario} PASSED")), "{out}");
    // The drill stopped its cluster: no nameserver or broker port answers.
    for port in [
        base,
        base + 1,
        broker_base,
        broker_base + 10,
        broker_base + 20,
        broker_base + 40,
    ] {
        assert!(
            !can_connect(&format!("127.0.0.1:{port}")),
            "port {port} still answers after the drill"
        );
    }
    out
}

#[test]
fn seed002_dead_master_drill_loses_nothing() {
    let tmp = temp_dir();
    let out = drill("seed002", &tmp.path().join("seed002"));
    assert!(
        out.contains("route: broker-a perm 4, readQueueNums 4, writeQueueNums 0, master gone"),
        "{out}"
    );
    assert!(out.contains("consumer drained broker-a's"), "{out}");
    assert!(out.contains("broker-c takes traffic"), "{out}");
    assert!(
        out.contains("route: broker-a perm 6, readQueueNums 4, writeQueueNums 4, master registered"),
        "{out}"
    );
    assert!(
        out.contains("the consumer pulls from the restarted master again"),
        "{out}"
    );
    for timing in [
        "time to read-only",
        "drain time",
        "time to the first send on group 3",
    ] {
        assert!(out.contains(timing), "{timing} missing:\n{out}");
    }
    // Only sends in flight at the kill were retried, each once.
    let result = result_line(&out);
    assert!(value(&result, "retried") <= 3, "{out}");
}

#[test]
fn upgrade_drill_fails_no_send_and_loses_nothing() {
    let tmp = temp_dir();
    let out = drill("upgrade", &tmp.path().join("upgrade"));
    assert!(out.contains("producers left broker-a"), "{out}");
    assert!(out.contains("broker-a takes traffic again"), "{out}");
    assert_eq!(value(&result_line(&out), "retried"), 0, "{out}");
}
