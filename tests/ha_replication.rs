//! Process-level replication tests with the real `mqnamesrv` and `mqbroker`: a master and a slave
//! of one group, 10,000 messages, under ASYNC_MASTER and SYNC_MASTER; and a slave killed with
//! SIGKILL and restarted mid-stream.

mod common;
mod ha_util;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use ha_util::*;
use rmq_remoting::net::RemotingClient;
use rmq_remoting::ResponseCode;

const TOPIC: &str = "HaReplicated";
const COUNT: usize = 10_000;

async fn ten_thousand_copied(role: &str) {
    let mut group = Group::start_master(role, TOPIC);
    group.start_slave();
    let client = RemotingClient::default();
    let master = group.master.addr();
    let started = std::time::Instant::now();
    let results = send_range(&client, &master, TOPIC, 0..COUNT, 64).await;
    eprintln!(
        "{role}: {COUNT} sends (64 in flight) took {:?}",
        started.elapsed()
    );
    let ok = ResponseCode::SUCCESS.code();
    let failed: Vec<_> = results.iter().filter(|(_, c)| *c != Some(ok)).take(5).collect();
    assert!(
        failed.is_empty(),
        "{role}: every send must be SEND_OK, got {failed:?}"
    );

    let end = group.wait_caught_up(Duration::from_secs(60));
    assert!(
        end > 2 * FILE_SIZE.parse::<u64>().unwrap(),
        "the data must span several files"
    );
    let (m, s) = (commit_log(&group.master, end), commit_log(group.slave(), end));
    assert_eq!(m.len() as u64, end);
    assert!(
        m == s,
        "{role}: the slave's commit log must be byte-identical to the master's"
    );

    let slave = group.slave().addr();
    group.wait_topic_on_slave(TOPIC);
    let from_slave = all_bodies(&client, &slave, TOPIC).await;
    let from_master = all_bodies(&client, &master, TOPIC).await;
    assert_eq!(
        from_slave.len(),
        COUNT,
        "{role}: the slave's consume queues serve every message"
    );
    assert_eq!(from_slave, from_master);
    let expected: BTreeSet<Bytes> = (0..COUNT).map(|i| Bytes::from(body(i))).collect();
    assert_eq!(from_slave.into_iter().collect::<BTreeSet<_>>(), expected);

    let info = runtime_info(&master).expect("master runtime info");
    assert_eq!(info.get("haSlave0AckOffset"), Some(&end.to_string()), "{info:?}");
    assert_eq!(info.get("haSlave0LagBytes").map(String::as_str), Some("0"));
    let sinfo = runtime_info(&slave).expect("slave runtime info");
    assert_eq!(
        sinfo.get("haSlaveState").map(String::as_str),
        Some("CONNECTED"),
        "{sinfo:?}"
    );
    assert_eq!(sinfo.get("haMasterAddress"), Some(&group.master.ha_addr()));
    client.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_master_slave_copies_ten_thousand_messages() {
    ten_thousand_copied("ASYNC_MASTER").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_master_slave_copies_ten_thousand_messages() {
    ten_thousand_copied("SYNC_MASTER").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slave_killed_and_restarted_resumes_from_its_own_offset() {
    let mut group = Group::start_master("ASYNC_MASTER", TOPIC);
    group.start_slave();
    let client = RemotingClient::default();
    let master = group.master.addr();
    let first = send_range(&client, &master, TOPIC, 0..3000, 32).await;
    assert!(first.iter().all(|(_, c)| *c == Some(0)));
    group.wait_caught_up(Duration::from_secs(60));

    // Kill the slave while the producer keeps sending, then bring it back on the same store.
    let sender = {
        let (client, master) = (client.clone(), master.clone());
        tokio::spawn(async move { send_range(&client, &master, TOPIC, 3000..8000, 8).await })
    };
    let slave = group.slave().addr();
    common::wait_until(
        "slave receives part of the second batch",
        Duration::from_secs(30),
        || (commit_log_max(&slave) > commit_log_max(&master) / 2 + 1).then_some(()),
    );
    group.slave.as_mut().expect("slave").kill_9();
    tokio::time::sleep(Duration::from_millis(300)).await;
    group.slave.as_mut().expect("slave").restart();
    let rest = sender.await.expect("sender");
    assert!(rest.iter().all(|(_, c)| *c == Some(0)));
    group.wait_slave_connected();
    let end = group.wait_caught_up(Duration::from_secs(60));

    assert!(
        commit_log(&group.master, end) == commit_log(group.slave(), end),
        "commit logs differ"
    );
    group.wait_topic_on_slave(TOPIC);
    let bodies = all_bodies(&client, &slave, TOPIC).await;
    assert_eq!(bodies.len(), 8000, "nothing duplicated or missing");
    let unique: BTreeSet<Bytes> = bodies.into_iter().collect();
    assert_eq!(
        unique,
        (0..8000).map(|i| Bytes::from(body(i))).collect::<BTreeSet<_>>()
    );
    // The restarted slave reconnected reporting the offset its own store recovered, not 0.
    let log = strip_ansi(&group.slave().proc.log());
    let connects: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("connected to the HA master"))
        .collect();
    assert!(connects.len() >= 2, "{connects:?}");
    let last = connects.last().expect("a connect line");
    assert!(
        !last.trim_end().ends_with("offset=0"),
        "restart resumed from 0: {last}"
    );
    client.shutdown();
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
