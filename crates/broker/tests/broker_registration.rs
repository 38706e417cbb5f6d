//! Registration with real in-process nameservers: at start, at once after a topic change, not
//! delayed by a nameserver that never answers, and UNREGISTER_BROKER at shutdown.

mod broker_common;

use std::time::{Duration, Instant};

use broker_common::*;
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
    let quoted = format!("\"{}\"", b.addr);
    wait_for(Duration::from_secs(5), || async {
        cluster_info(&client, &ns_addr)
            .await
            .contains(&quoted)
            .then_some(())
    })
    .await;
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

    b.stop().await;
    assert!(
        !cluster_info(&client, &ns_addr).await.contains(&quoted),
        "unregistered at shutdown"
    );
    client.shutdown();
    drop(silent);
    ns.shutdown().await;
}
