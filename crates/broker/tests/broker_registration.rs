//! Registration with real in-process nameservers: at start, at once after a topic change, not
//! delayed by a nameserver that never answers, UNREGISTER_BROKER at shutdown, and a slave started
//! before its master that learns the master within seconds.

mod broker_common;

use std::time::{Duration, Instant};

use broker_common::*;
use rmq_broker::BrokerRole;
use rmq_namesrv::{NameServer, NamesrvConfig};
use rmq_remoting::headers::admin::CreateTopicRequestHeader;
use rmq_remoting::headers::namesrv::GetRouteInfoRequestHeader;
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode};

async fn namesrv(dir: &std::path::Path) -> NameServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = NamesrvConfig {
        home: dir.to_path_buf(),
        ..NamesrvConfig::default()
    };
    NameServer::start(cfg, listener).expect("namesrv starts")
}

async fn cluster_info(client: &RemotingClient, ns: &str) -> String {
    let r = client
        .invoke(
            ns,
            RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO),
            TIMEOUT,
        )
        .await
        .unwrap();
    String::from_utf8_lossy(&r.body).into_owned()
}

/// Waits (5 s at most) until the nameserver's cluster info lists the broker at `addr`.
async fn wait_listed(client: &RemotingClient, ns: &str, addr: &str) {
    let quoted = format!("\"{addr}\"");
    wait_for(Duration::from_secs(5), || async {
        cluster_info(client, ns).await.contains(&quoted).then_some(())
    })
    .await;
}

async fn has_route(client: &RemotingClient, ns: &str, topic: &str) -> bool {
    let h = GetRouteInfoRequestHeader {
        topic: topic.into(),
        ..Default::default()
    };
    let req = RemotingCommand::request_with(RequestCode::GET_ROUTEINFO_BY_TOPIC, &h);
    client
        .invoke(ns, req, TIMEOUT)
        .await
        .map(|r| r.is_success())
        .unwrap_or(false)
}

#[tokio::test]
async fn registers_at_start_after_topic_changes_and_unregisters() {
    let ns_dir = tempfile::tempdir().unwrap();
    let ns = namesrv(ns_dir.path()).await;
    let ns_addr = ns.local_addr().to_string();
    // A "nameserver" that accepts connections but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let started = Instant::now();
    let b = TestBroker::start_with(|c| c.namesrv_addrs = vec![silent_addr.clone(), ns_addr.clone()]).await;
    let client = RemotingClient::default();
    wait_listed(&client, &ns_addr, &b.addr).await;
    let took = started.elapsed();
    println!("registered with the live nameserver {took:?} after start");
    assert!(
        took < Duration::from_secs(3),
        "the silent nameserver delayed registration: {took:?}"
    );
    assert!(has_route(&client, &ns_addr, "TBW102").await);

    // A new topic is registered at once, not at the next 30 s period.
    let create = CreateTopicRequestHeader {
        topic: "Fresh".into(),
        default_topic: "TBW102".into(),
        read_queue_nums: 2,
        write_queue_nums: 2,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".into(),
        topic_sys_flag: None,
        order: false,
    };
    assert_eq!(
        b.call(RemotingCommand::request_with(
            RequestCode::UPDATE_AND_CREATE_TOPIC,
            &create
        ))
        .await
        .code,
        0
    );
    wait_for(Duration::from_secs(5), || async {
        has_route(&client, &ns_addr, "Fresh").await.then_some(())
    })
    .await;
    // So is a topic auto-created by a send.
    assert_eq!(b.call(send_request("AutoMade", 0, b"x", "")).await.code, 0);
    wait_for(Duration::from_secs(5), || async {
        has_route(&client, &ns_addr, "AutoMade").await.then_some(())
    })
    .await;

    let quoted = format!("\"{}\"", b.addr);
    b.stop().await;
    assert!(
        !cluster_info(&client, &ns_addr).await.contains(&quoted),
        "unregistered at shutdown"
    );
    client.shutdown();
    drop(silent);
    ns.shutdown().await;
}

#[tokio::test]
async fn a_slave_started_before_its_master_finds_it_within_seconds() {
    let ns_dir = tempfile::tempdir().unwrap();
    let ns = namesrv(ns_dir.path()).await;
    let ns_addr = ns.local_addr().to_string();
    let slave = TestBroker::start_with(|c| {
        c.namesrv_addrs = vec![ns_addr.clone()];
        c.broker_role = BrokerRole::Slave;
        c.broker_id = 1;
    })
    .await;
    let client = RemotingClient::default();
    wait_listed(&client, &ns_addr, &slave.addr).await;
    assert!(slave.broker().state().master.borrow().is_none());

    let master = TestBroker::start_with(|c| c.namesrv_addrs = vec![ns_addr.clone()]).await;
    // The registration period is 30 s; a slave without a master asks again every 3 s.
    let learnt = wait_for(Duration::from_secs(15), || async {
        slave.broker().state().master.borrow().clone()
    })
    .await;
    assert_eq!(learnt.broker_addr, master.addr);
    assert_eq!(learnt.ha_addr, master.broker().state().ha_server_addr());

    slave.stop().await;
    master.stop().await;
    client.shutdown();
    ns.shutdown().await;
}
