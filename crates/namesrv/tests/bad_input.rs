//! Bad requests are answered with an error and change nothing in the tables.

mod common;

use common::*;
use rmq_remoting::body::ClusterInfo;
use rmq_remoting::body::JsonBody;
use rmq_remoting::headers::namesrv::{PutKvConfigRequestHeader, RegisterBrokerRequestHeader};
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{CommandHeader, EmptyHeader, RemotingCommand, RequestCode, ResponseCode};

async fn assert_nothing_registered(ns: &TestNamesrv, client: &RemotingClient) {
    let info = call(
        client,
        &ns.addr,
        RequestCode::GET_BROKER_CLUSTER_INFO,
        &EmptyHeader,
    )
    .await;
    assert_eq!(ClusterInfo::decode(&info.body).unwrap(), ClusterInfo::default());
    assert!(route(client, &ns.addr, "T").await.is_none());
    assert_eq!(ns.server.route_table().read().unwrap().live_count(), 0);
}

#[tokio::test]
async fn register_with_missing_header_fields_is_refused() {
    let ns = start_namesrv(|_| {}).await;
    let a = FakeBroker::new("broker-a", 0, "10.0.0.1:10911", &[("T", 4)]);
    for field in [
        "brokerName",
        "brokerAddr",
        "clusterName",
        "haServerAddr",
        "brokerId",
    ] {
        let mut req = a.register_request(false);
        req.ext_fields.remove(field);
        let reply = a.client.invoke(&ns.addr, req, RPC).await.unwrap();
        assert_eq!(reply.code, ResponseCode::SYSTEM_ERROR.code(), "without {field}");
        assert!(
            reply.remark.as_deref().unwrap_or("").contains(field),
            "remark names {field}: {reply:?}"
        );
    }
    let mut bad_id = a.register_request(false);
    bad_id.ext_fields.insert("brokerId".into(), "zero".into());
    assert_eq!(a.client.invoke(&ns.addr, bad_id, RPC).await.unwrap().code, 1);
    assert_nothing_registered(&ns, &a.client).await;
}

#[tokio::test]
async fn wrong_crc_is_refused() {
    let ns = start_namesrv(|_| {}).await;
    let a = FakeBroker::new("broker-a", 0, "10.0.0.1:10911", &[("T", 4)]);
    let mut req = a.register_request(false);
    let crc: i32 = req.ext("bodyCrc32").unwrap().parse().unwrap();
    req.ext_fields
        .insert("bodyCrc32".into(), ((crc + 1) & 0x7FFF_FFFF).to_string());
    let reply = a.client.invoke(&ns.addr, req, RPC).await.unwrap();
    assert_eq!(reply.code, ResponseCode::SYSTEM_ERROR.code());
    assert_eq!(reply.remark.as_deref(), Some("crc32 not match"));
    assert_nothing_registered(&ns, &a.client).await;
    // A CRC of 0 means "not checked", as in Apache.
    let mut unchecked = a.register_request(false);
    unchecked.ext_fields.insert("bodyCrc32".into(), "0".into());
    assert!(a
        .client
        .invoke(&ns.addr, unchecked, RPC)
        .await
        .unwrap()
        .is_success());
}

#[tokio::test]
async fn corrupt_bodies_are_refused() {
    let ns = start_namesrv(|_| {}).await;
    let a = FakeBroker::new("broker-a", 0, "10.0.0.1:10911", &[("T", 4)]);
    let good = a.register_request(true);
    let mut cases = Vec::new();
    // Not a zlib stream at all.
    cases.push((true, bytes("definitely not zlib")));
    // A valid zlib stream cut short.
    cases.push((true, good.body.slice(..good.body.len() / 2)));
    // A zlib stream whose content is not the register layout.
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, &[0, 0, 0, 200, b'{']).unwrap();
    cases.push((true, enc.finish().unwrap().into()));
    // Plain JSON that is not JSON.
    cases.push((false, bytes(r#"{"topicConfigSerializeWrapper":{"#)));
    for (compressed, body) in cases {
        let header = RegisterBrokerRequestHeader {
            compressed: Some(compressed),
            body_crc32: Some(rmq_remoting::body::body_crc32(&body)),
            ..a.header.clone()
        };
        let req = RemotingCommand::request_with(RequestCode::REGISTER_BROKER, &header).with_body(body);
        let reply = a.client.invoke(&ns.addr, req, RPC).await.unwrap();
        assert_eq!(reply.code, ResponseCode::SYSTEM_ERROR.code(), "{reply:?}");
    }
    assert_nothing_registered(&ns, &a.client).await;
}

#[tokio::test]
async fn kv_requests_with_missing_fields_change_nothing() {
    let ns = start_namesrv(|_| {}).await;
    let client = RemotingClient::default();
    let full = PutKvConfigRequestHeader {
        namespace: "ns".into(),
        key: "k".into(),
        value: "v".into(),
    };
    let mut ext = full.to_ext_fields();
    ext.remove("key");
    let mut req = RemotingCommand::request(RequestCode::PUT_KV_CONFIG);
    req.ext_fields = ext;
    let reply = client.invoke(&ns.addr, req, RPC).await.unwrap();
    assert_eq!(reply.code, ResponseCode::SYSTEM_ERROR.code());
    assert!(ns.server.kv().snapshot().is_empty());
    assert!(!ns.server.config().kv_config_file().exists(), "nothing written");
    let no_topic = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC);
    let reply = client.invoke(&ns.addr, no_topic, RPC).await.unwrap();
    assert_eq!(reply.code, ResponseCode::SYSTEM_ERROR.code());
    assert!(reply.remark.unwrap().contains("topic"));
}
