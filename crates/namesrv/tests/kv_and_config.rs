//! KV config over the wire (surviving a restart), ordered-topic config in routes and in the
//! register reply, and GET/UPDATE_NAMESRV_CONFIG.

mod common;

use common::*;
use rmq_remoting::body::{JsonBody, KvTable};
use rmq_remoting::headers::namesrv::{
    DeleteKvConfigRequestHeader, GetKvConfigRequestHeader, GetKvListByNamespaceRequestHeader,
    PutKvConfigRequestHeader,
};
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{EmptyHeader, RemotingCommand, RequestCode, ResponseCode};

fn put(ns: &str, k: &str, v: &str) -> PutKvConfigRequestHeader {
    PutKvConfigRequestHeader {
        namespace: ns.into(),
        key: k.into(),
        value: v.into(),
    }
}

fn get(ns: &str, k: &str) -> GetKvConfigRequestHeader {
    GetKvConfigRequestHeader {
        namespace: ns.into(),
        key: k.into(),
    }
}

#[tokio::test]
async fn kv_config_survives_a_restart() {
    let home = tempfile::tempdir().unwrap();
    let client = RemotingClient::default();
    let first = start_in(home.path(), |_| {}).await;
    let addr = first.local_addr().to_string();
    for (k, v) in [("TopicA", "broker-a:4"), ("TopicB", "broker-a:2;broker-b:2")] {
        let reply = call(
            &client,
            &addr,
            RequestCode::PUT_KV_CONFIG,
            &put("ORDER_TOPIC_CONFIG", k, v),
        )
        .await;
        assert!(reply.is_success(), "{reply:?}");
    }
    call(
        &client,
        &addr,
        RequestCode::PUT_KV_CONFIG,
        &put("other", "x", "1"),
    )
    .await;
    let del = DeleteKvConfigRequestHeader {
        namespace: "other".into(),
        key: "x".into(),
    };
    assert!(call(&client, &addr, RequestCode::DELETE_KV_CONFIG, &del)
        .await
        .is_success());
    let reply = call(
        &client,
        &addr,
        RequestCode::GET_KV_CONFIG,
        &get("ORDER_TOPIC_CONFIG", "TopicA"),
    )
    .await;
    assert_eq!(reply.ext("value"), Some("broker-a:4"));
    first.shutdown().await;
    client.shutdown();

    let file = home.path().join("namesrv").join("kvConfig.json");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"configTable\""), "{text}");

    let second = start_in(home.path(), |_| {}).await;
    let addr = second.local_addr().to_string();
    let client = RemotingClient::default();
    let reply = call(
        &client,
        &addr,
        RequestCode::GET_KV_CONFIG,
        &get("ORDER_TOPIC_CONFIG", "TopicB"),
    )
    .await;
    assert_eq!(reply.ext("value"), Some("broker-a:2;broker-b:2"));
    let list = GetKvListByNamespaceRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
    };
    let reply = call(&client, &addr, RequestCode::GET_KVLIST_BY_NAMESPACE, &list).await;
    let table = KvTable::decode(&reply.body).unwrap();
    assert_eq!(table.table.len(), 2);
    let gone = call(&client, &addr, RequestCode::GET_KV_CONFIG, &get("other", "x")).await;
    assert_eq!(gone.code, ResponseCode::QUERY_NOT_FOUND.code());
    assert_eq!(
        gone.remark.as_deref(),
        Some("No config item, Namespace: other Key: x")
    );
    let empty = GetKvListByNamespaceRequestHeader {
        namespace: "other".into(),
    };
    let reply = call(&client, &addr, RequestCode::GET_KVLIST_BY_NAMESPACE, &empty).await;
    assert_eq!(reply.code, ResponseCode::QUERY_NOT_FOUND.code());
    second.shutdown().await;
}

#[tokio::test]
async fn order_topic_conf_reaches_routes_and_brokers() {
    let ns = start_namesrv(|c| c.order_message_enable = true).await;
    let client = RemotingClient::default();
    call(
        &client,
        &ns.addr,
        RequestCode::PUT_KV_CONFIG,
        &put("ORDER_TOPIC_CONFIG", "T", "broker-a:4"),
    )
    .await;
    let a = FakeBroker::new("broker-a", 0, "10.0.0.1:10911", &[("T", 4), ("U", 4)]);
    let reply = a.register(&ns.addr).await;
    let kv = KvTable::decode(&reply.body).expect("register reply carries the ORDER_TOPIC_CONFIG table");
    assert_eq!(kv.table["T"], "broker-a:4");
    let r = route(&client, &ns.addr, "T").await.unwrap();
    assert_eq!(r.order_topic_conf.as_deref(), Some("broker-a:4"));
    assert_eq!(
        route(&client, &ns.addr, "U").await.unwrap().order_topic_conf,
        None
    );
}

#[tokio::test]
async fn namesrv_config_can_be_read_and_updated() {
    let ns = start_namesrv(|_| {}).await;
    let client = RemotingClient::default();
    let reply = call(&client, &ns.addr, RequestCode::GET_NAMESRV_CONFIG, &EmptyHeader).await;
    let text = String::from_utf8(reply.body.to_vec()).unwrap();
    assert!(text.contains("orderMessageEnable=false\n"), "{text}");
    assert!(text.contains("kvConfigPath="), "{text}");

    let update =
        |body: &str| RemotingCommand::request(RequestCode::UPDATE_NAMESRV_CONFIG).with_body(bytes(body));
    let ok = client
        .invoke(&ns.addr, update("orderMessageEnable=true\n"), RPC)
        .await
        .unwrap();
    assert!(ok.is_success(), "{ok:?}");
    assert!(ns.server.config().order_message_enable);

    let black = client
        .invoke(&ns.addr, update("kvConfigPath=/etc/passwd"), RPC)
        .await
        .unwrap();
    assert_eq!(black.code, ResponseCode::SYSTEM_ERROR.code());
    assert_eq!(
        black.remark.as_deref(),
        Some("Can not update config in black list.")
    );
    // The idle timeout is fixed when the listener starts: refused rather than silently ignored.
    let idle = client
        .invoke(&ns.addr, update("serverChannelMaxIdleTimeSeconds=5"), RPC)
        .await
        .unwrap();
    assert_eq!(idle.code, ResponseCode::SYSTEM_ERROR.code());
    let bad = client
        .invoke(&ns.addr, update("brokerChannelExpiredTime=soon"), RPC)
        .await
        .unwrap();
    assert_eq!(bad.code, ResponseCode::SYSTEM_ERROR.code());
    assert!(bad.remark.unwrap().contains("brokerChannelExpiredTime"));
    assert_eq!(
        ns.server.config().broker_expiry,
        std::time::Duration::from_secs(120)
    );
}
