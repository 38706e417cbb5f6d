//! Replication wired into in-process brokers: a SYNC_MASTER and a slave that finds it through
//! `haMasterAddress`, the slave's refusal of sends, replication keys in the runtime info, and the
//! pull reply's slave-read advice.

mod broker_common;

use broker_common::*;
use rmq_broker::ha::replication::suggest_broker_id_within;
use rmq_broker::{BrokerConfig, BrokerRole};
use rmq_remoting::body::{JsonBody, KvTable};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use std::time::Duration;

async fn runtime_info(b: &TestBroker) -> KvTable {
    let resp = b
        .call(RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO))
        .await;
    KvTable::decode(&resp.body).expect("runtime info body")
}

fn get<'a>(t: &'a KvTable, k: &str) -> &'a str {
    t.table.get(k).map(String::as_str).unwrap_or("")
}

/// A master and its slave with Apache's defaults (`slaveReadEnable=false` on both).
async fn start_pair(master_role: BrokerRole) -> (TestBroker, TestBroker) {
    start_pair_with(master_role, false).await
}

async fn start_pair_with(master_role: BrokerRole, slave_read_enable: bool) -> (TestBroker, TestBroker) {
    let master = TestBroker::start_with(|c: &mut BrokerConfig| {
        c.broker_role = master_role;
        c.slave_read_enable = slave_read_enable;
    })
    .await;
    let ha = master.broker().state().ha_server_addr();
    let slave = TestBroker::start_with(|c: &mut BrokerConfig| {
        c.broker_role = BrokerRole::Slave;
        c.broker_id = 1;
        c.ha_master_address = Some(ha);
        c.slave_read_enable = slave_read_enable;
    })
    .await;
    (master, slave)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_master_acknowledges_once_the_slave_has_the_message() {
    let (master, slave) = start_pair(BrokerRole::SyncMaster).await;
    let info = wait_for(TIMEOUT, || async {
        let t = runtime_info(&master).await;
        (get(&t, "haConnectedSlaves") == "1").then_some(t)
    })
    .await;
    assert_eq!(get(&info, "haSlave0LagBytes"), "0");
    for i in 0..100 {
        let resp = master
            .call(send_request(
                "HaInProc",
                i % 4,
                format!("m{i}").as_bytes(),
                &tag_props("A"),
            ))
            .await;
        assert_eq!(resp.code, ResponseCode::SUCCESS.code(), "{:?}", resp.remark);
    }
    let master_end = master.broker().state().store.max_physical_offset();
    // SYNC_MASTER: every acknowledged byte is already on the slave.
    assert!(slave.broker().state().store.max_physical_offset() >= master_end);

    let s = runtime_info(&slave).await;
    assert_eq!(get(&s, "haSlaveState"), "CONNECTED");
    assert_eq!(
        get(&s, "haMasterAddress"),
        master.broker().state().ha_server_addr()
    );
    let m = runtime_info(&master).await;
    assert_eq!(get(&m, "haMasterOffset"), master_end.to_string());

    let refused = slave
        .call(send_request("HaInProc", 0, b"no", &tag_props("A")))
        .await;
    assert_eq!(refused.code, ResponseCode::SERVICE_NOT_AVAILABLE.code());
    slave.stop().await;
    master.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_pulls_on_a_master_suggest_the_slave() {
    // This test is about the key: with slaveReadEnable, cold reads are sent to the slave.
    let (master, slave) = start_pair_with(BrokerRole::AsyncMaster, true).await;
    for i in 0..50 {
        let resp = master
            .call(send_request(
                "HaCold",
                0,
                format!("m{i}").as_bytes(),
                &tag_props("A"),
            ))
            .await;
        assert_eq!(resp.code, ResponseCode::SUCCESS.code());
    }
    let state = master.broker().state();
    let r = state.store.get_messages("HaCold", 0, 0, 8, &|_| true);
    assert!(!r.messages.is_empty());
    assert_eq!(
        suggest_broker_id_within(state, "g", &r, 0),
        1,
        "everything is cold with no memory"
    );
    assert_eq!(suggest_broker_id_within(state, "g", &r, u64::MAX), 0);
    let s = slave.broker().state();
    let r = wait_for(TIMEOUT, || async {
        let r = s.store.get_messages("HaCold", 0, 0, 8, &|_| true);
        (r.messages.len() == 8).then_some(r)
    })
    .await;
    assert_eq!(
        suggest_broker_id_within(s, "g", &r, 0),
        1,
        "a slave with slaveReadEnable suggests as a master does (Apache computes it on both roles)"
    );
    assert_eq!(suggest_broker_id_within(s, "g", &r, u64::MAX), 0);

    // A real pull of warm data keeps the consumer on the master.
    let resp = master
        .call(pull_request("g", "HaCold", 0, 0, Some("*"), 0, 0))
        .await;
    assert_eq!(resp.code, ResponseCode::SUCCESS.code());
    assert_eq!(ext_i64(&resp, "suggestWhichBrokerId"), 0);
    slave.stop().await;
    master.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slave_that_stops_acknowledging_gives_flush_slave_timeout() {
    use tokio::io::AsyncWriteExt;
    let master = TestBroker::start_with(|c: &mut BrokerConfig| {
        c.broker_role = BrokerRole::SyncMaster;
        c.slave_timeout = std::time::Duration::from_millis(500);
    })
    .await;
    // A "slave" that reports once and then never again.
    let ha = master.broker().state().ha_server_addr();
    let mut silent = tokio::net::TcpStream::connect(&ha)
        .await
        .expect("connect HA port");
    let at = master.broker().state().store.max_physical_offset();
    silent
        .write_all(&rmq_broker::ha::protocol::encode_report(at))
        .await
        .expect("report");
    wait_for(TIMEOUT, || async {
        let t = runtime_info(&master).await;
        (get(&t, "haSlave0AckOffset") == at.to_string()).then_some(())
    })
    .await;
    let started = std::time::Instant::now();
    let resp = master
        .call(send_request("HaTimeout", 0, b"stored anyway", &tag_props("A")))
        .await;
    assert_eq!(
        resp.code,
        ResponseCode::FLUSH_SLAVE_TIMEOUT.code(),
        "{:?}",
        resp.remark
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(500));
    let pulled = master
        .call(pull_request("g", "HaTimeout", 0, 0, Some("*"), 0, 0))
        .await;
    assert_eq!(
        records(&pulled).len(),
        1,
        "a FLUSH_SLAVE_TIMEOUT message is stored"
    );
    drop(silent);
    master.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_held_on_a_slave_wakes_when_replicated_data_arrives() {
    let (master, slave) = start_pair(BrokerRole::AsyncMaster).await;
    let first = master
        .call(send_request("HaHeld", 0, b"m0", &tag_props("A")))
        .await;
    assert_eq!(first.code, ResponseCode::SUCCESS.code());
    // The slave learns the topic from the master's tables and gets the first message.
    let client = rmq_remoting::net::RemotingClient::default();
    let master_addr = master.broker().addr().to_string();
    rmq_broker::slave_sync::sync_once(slave.broker().state(), &client, &master_addr).await;
    wait_for(TIMEOUT, || async {
        (slave.broker().state().store.max_offset("HaHeld", 0) >= 1).then_some(())
    })
    .await;

    // A pull at the end, allowed to hold for 20 s, must come back with the next message as
    // soon as the slave has it: a replicated append wakes it, not the hold's timeout.
    let slave_addr = slave.broker().addr().to_string();
    let held = tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let resp = client
            .invoke(
                &slave_addr,
                pull_request("g", "HaHeld", 0, 1, Some("*"), 20_000, 0),
                Duration::from_secs(30),
            )
            .await
            .expect("pull answered");
        (resp, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!held.is_finished(), "nothing to return yet: the pull is held");
    let second = master
        .call(send_request("HaHeld", 0, b"m1", &tag_props("A")))
        .await;
    assert_eq!(second.code, ResponseCode::SUCCESS.code());
    let (resp, waited) = held.await.unwrap();
    assert_eq!(resp.code, ResponseCode::SUCCESS.code(), "{:?}", resp.remark);
    assert_eq!(records(&resp)[0].body.as_ref(), b"m1");
    assert!(
        waited < Duration::from_secs(10),
        "held {waited:?}: woken by the hold's timeout, not by the arrival"
    );
    slave.stop().await;
    master.stop().await;
}
