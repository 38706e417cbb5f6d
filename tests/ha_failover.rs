//! Process-level failure tests of replication with the real binaries: SYNC_MASTER without a
//! slave, a SYNC_MASTER killed with SIGKILL while a producer sends, and a master killed while a
//! consumer is half-way (the nameserver shows the group read-only, the consumer drains the rest
//! from the slave, `mqadmin topicStatus` reads the group's queues there, the slave refuses
//! writes, and an operator restarts it as a master).

mod common;
mod ha_util;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use ha_util::*;
use rmq_remoting::body::{JsonBody, TopicRouteData};
use rmq_remoting::net::RemotingClient;
use rmq_remoting::ResponseCode;

const TOPIC: &str = "HaFailover";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_master_without_a_slave_never_says_send_ok() {
    let mut group = Group::start_master("SYNC_MASTER", TOPIC);
    let client = RemotingClient::default();
    let master = group.master.addr();
    let before = send_range(&client, &master, TOPIC, 0..20, 4).await;
    let codes: BTreeSet<_> = before.iter().map(|(_, c)| *c).collect();
    assert_eq!(
        codes,
        BTreeSet::from([Some(ResponseCode::SLAVE_NOT_AVAILABLE.code())])
    );

    group.start_slave();
    let with_slave = send_range(&client, &master, TOPIC, 20..40, 4).await;
    assert!(with_slave.iter().all(|(_, c)| *c == Some(0)), "{with_slave:?}");

    group.slave.as_mut().expect("slave").kill_9();
    common::wait_until(
        "master notices the slave is gone",
        Duration::from_secs(30),
        || runtime_info(&master).filter(|kv| kv.get("haConnectedSlaves").map(String::as_str) == Some("0")),
    );
    let after = send_range(&client, &master, TOPIC, 40..60, 4).await;
    assert!(
        after
            .iter()
            .all(|(_, c)| *c == Some(ResponseCode::SLAVE_NOT_AVAILABLE.code())),
        "{after:?}"
    );
    client.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_master_killed_while_sending_loses_no_acknowledged_message() {
    let mut group = Group::start_master("SYNC_MASTER", TOPIC);
    group.start_slave();
    group.wait_topic_on_slave(TOPIC);
    let client = RemotingClient::default();
    let master = group.master.addr();
    let sender = {
        let (client, master) = (client.clone(), master.clone());
        tokio::spawn(async move { send_range(&client, &master, TOPIC, 0..30_000, 16).await })
    };
    common::wait_until(
        "a few thousand sends acknowledged",
        Duration::from_secs(60),
        || (commit_log_max(&master) > 400_000).then_some(()),
    );
    group.master.kill_9();
    let results = sender.await.expect("sender");
    let acked: BTreeSet<Bytes> = results
        .iter()
        .filter(|(_, c)| *c == Some(0))
        .map(|(i, _)| Bytes::from(body(*i)))
        .collect();
    eprintln!(
        "{} of {} sends acknowledged before the SIGKILL",
        acked.len(),
        results.len()
    );
    assert!(
        acked.len() > 2000,
        "only {} acknowledged before the kill",
        acked.len()
    );
    assert!(acked.len() < 30_000, "the master must die mid-stream");

    let slave = group.slave().addr();
    let from_slave: BTreeSet<Bytes> = all_bodies(&client, &slave, TOPIC).await.into_iter().collect();
    let missing = acked.difference(&from_slave).count();
    assert_eq!(
        missing, 0,
        "every SEND_OK message must be readable from the slave"
    );

    // Byte for byte: the slave's commit log is a prefix of the dead master's.
    let end = commit_log_max(&slave);
    let master_log = commit_log(&group.master, u64::MAX);
    assert!(master_log.len() as u64 >= end);
    assert!(
        commit_log(group.slave(), end) == master_log[..end as usize],
        "slave log is not the master's prefix"
    );
    client.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_killed_group_goes_read_only_and_the_consumer_drains_the_slave() {
    const COUNT: usize = 2000;
    const GROUP: &str = "drain-group";
    let mut group = Group::start_master("ASYNC_MASTER", TOPIC);
    group.start_slave();
    let client = RemotingClient::default();
    let master = group.master.addr();
    let slave = group.slave().addr();
    assert!(send_range(&client, &master, TOPIC, 0..COUNT, 32)
        .await
        .iter()
        .all(|(_, c)| *c == Some(0)));

    // The consumer takes the first half of every queue from the master and commits its offsets.
    let mut consumed: Vec<Bytes> = Vec::new();
    let mut committed = BTreeMap::new();
    for q in 0..QUEUES {
        let records = pull_all(&client, &master, TOPIC, q, 0).await;
        let half = records.len() / 2;
        consumed.extend(records[..half].iter().map(|r| r.body.clone()));
        commit_offset(&client, &master, GROUP, TOPIC, q, half as i64).await;
        committed.insert(q, half as i64);
    }
    group.wait_caught_up(Duration::from_secs(60));
    // The slave copies consumer offsets every 10 s.
    for (q, off) in &committed {
        let (q, off) = (*q, *off);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while query_offset(&client, &slave, GROUP, TOPIC, q).await != Some(off) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "slave never copied the offset of queue {q}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    group.master.kill_9();
    let ns = group.namesrv.addr();
    let route = common::wait_until("the group shows read-only", Duration::from_secs(30), || {
        let route = TopicRouteData::decode(common::route(&ns, TOPIC)?.as_bytes()).ok()?;
        let q = route.queue_datas.iter().find(|q| q.broker_name == "broker-a")?;
        (q.perm & 2 == 0).then_some(route)
    });
    let qd = &route.queue_datas[0];
    assert_eq!(
        (qd.write_queue_nums, qd.read_queue_nums),
        (0, QUEUES),
        "{route:?}"
    );
    let addrs = &route.broker_datas[0].broker_addrs;
    assert!(
        !addrs.contains_key(&0) && addrs.get(&1) == Some(&slave),
        "{addrs:?}"
    );

    // topicStatus asks the slave of a group whose master is gone, as Apache's tool does.
    let status = common::mqadmin_ok(&ns, &["topicStatus", "-t", TOPIC]);
    let rows: Vec<(i32, u64)> = status
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.first() == Some(&"broker-a")).then(|| (cols[1].parse().unwrap(), cols[3].parse().unwrap()))
        })
        .collect();
    assert_eq!(rows.len(), QUEUES as usize, "{status}");
    assert_eq!(
        rows.iter().map(|(_, max)| max).sum::<u64>(),
        COUNT as u64,
        "{status}"
    );

    // The consumer continues on the slave from the offsets it committed on the master.
    for q in 0..QUEUES {
        let from = query_offset(&client, &slave, GROUP, TOPIC, q)
            .await
            .expect("offset on the slave");
        assert_eq!(Some(&from), committed.get(&q));
        consumed.extend(
            pull_all(&client, &slave, TOPIC, q, from)
                .await
                .into_iter()
                .map(|r| r.body),
        );
    }
    assert_eq!(consumed.len(), COUNT, "every message consumed exactly once");
    let all: BTreeSet<Bytes> = (0..COUNT).map(|i| Bytes::from(body(i))).collect();
    assert_eq!(consumed.into_iter().collect::<BTreeSet<_>>(), all);

    // The slave refuses writes and topic changes; it is never promoted by itself.
    let refused = send(&client, &slave, TOPIC, 0, b"to the slave".to_vec()).await;
    assert_eq!(refused, Some(ResponseCode::SERVICE_NOT_AVAILABLE.code()));
    let cmd = rmq_remoting::RemotingCommand::request_with(
        rmq_remoting::RequestCode::UPDATE_AND_CREATE_TOPIC,
        &rmq_remoting::headers::admin::CreateTopicRequestHeader {
            topic: "NewOnSlave".into(),
            default_topic: "TBW102".into(),
            read_queue_nums: 1,
            write_queue_nums: 1,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: Some(0),
            order: false,
        },
    );
    let resp = client
        .invoke(&slave, cmd, RPC)
        .await
        .expect("create topic on slave");
    assert_eq!(resp.code, ResponseCode::SYSTEM_ERROR.code());
    assert_eq!(
        runtime_info(&slave)
            .expect("info")
            .get("brokerRole")
            .map(String::as_str),
        Some("SLAVE")
    );

    // An operator restarts the slave as the group's master on the same store.
    let store = group.slave().dir.join("store").display().to_string();
    group.slave.as_mut().expect("slave").terminate();
    let promoted = common::Broker::start(
        group.dir.path(),
        &[
            ("namesrvAddr", ns.as_str()),
            ("brokerRole", "ASYNC_MASTER"),
            ("storePathRootDir", store.as_str()),
            ("mapedFileSizeCommitLog", FILE_SIZE),
            ("maxMessageSize", MAX_MESSAGE),
        ],
    );
    let new_master = promoted.addr();
    let bodies = all_bodies(&client, &new_master, TOPIC).await;
    assert_eq!(bodies.len(), COUNT, "the promoted store keeps every message");
    assert_eq!(
        send(&client, &new_master, TOPIC, 0, b"after promotion".to_vec()).await,
        Some(0)
    );
    client.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_restarted_after_sigkill_the_slave_reconnects_and_continues() {
    let mut group = Group::start_master("ASYNC_MASTER", TOPIC);
    group.start_slave();
    let client = RemotingClient::default();
    let master = group.master.addr();
    assert!(send_range(&client, &master, TOPIC, 0..1500, 16)
        .await
        .iter()
        .all(|(_, c)| *c == Some(0)));
    group.wait_caught_up(Duration::from_secs(60));

    group.master.kill_9();
    let slave = group.slave().addr();
    common::wait_until("the slave notices", Duration::from_secs(30), || {
        runtime_info(&slave).filter(|kv| kv.get("haSlaveState").map(String::as_str) == Some("CONNECTING"))
    });
    group.master.restart();
    // The client is reconnected through the same address, with a fresh connection.
    let client = RemotingClient::default();
    assert!(send_range(&client, &master, TOPIC, 1500..3000, 16)
        .await
        .iter()
        .all(|(_, c)| *c == Some(0)));
    group.wait_slave_connected();
    let end = group.wait_caught_up(Duration::from_secs(60));
    assert!(
        commit_log(&group.master, end) == commit_log(group.slave(), end),
        "commit logs differ"
    );
    group.wait_topic_on_slave(TOPIC);
    let bodies: Vec<Bytes> = all_bodies(&client, &slave, TOPIC).await;
    assert_eq!(
        bodies.len(),
        3000,
        "nothing duplicated or missing across the master's restart"
    );
    client.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_born_just_before_its_master_died_is_served_by_the_slave() {
    // The slave copies its master's topic table 3 s after start and then every 10 s; the topic
    // below is auto-created on its first send and the master is killed within a second, so
    // the slave must learn it from the replicated records themselves.
    const FRESH: &str = "BornBeforeTheCrash";
    const COUNT: usize = 200;
    let mut group = Group::start_master("ASYNC_MASTER", TOPIC);
    group.start_slave();
    let client = RemotingClient::default();
    let master = group.master.addr();
    let slave = group.slave().addr();
    let first_send = std::time::Instant::now();
    let sent = send_range(&client, &master, FRESH, 0..COUNT, 32).await;
    assert!(sent.iter().all(|(_, c)| *c == Some(0)), "{sent:?}");
    group.wait_caught_up(Duration::from_secs(30));
    group.master.kill_9();
    let killed_after = first_send.elapsed();

    let expected: BTreeSet<Bytes> = (0..COUNT).map(|i| Bytes::from(body(i))).collect();
    let served: BTreeSet<Bytes> = all_bodies(&client, &slave, FRESH).await.into_iter().collect();
    assert_eq!(
        served.len(),
        COUNT,
        "the slave serves every acknowledged message of the new topic (master killed {killed_after:?} after the first send)"
    );
    assert_eq!(served, expected);

    // A restarted slave still knows the topic: it learns it from its consume queues on disk.
    group.slave.as_mut().expect("slave").terminate();
    group.slave.as_mut().expect("slave").restart();
    let client = RemotingClient::default();
    let served: BTreeSet<Bytes> = all_bodies(&client, &slave, FRESH).await.into_iter().collect();
    assert_eq!(served, expected, "after the slave's restart");
    client.shutdown();
}
