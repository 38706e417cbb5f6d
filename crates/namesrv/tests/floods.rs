//! Floods through the broker-facing requests: registrations with too many topics, over-long
//! topic names or a zlib bomb, and KV values large enough to push every REGISTER_BROKER reply
//! past the frame limit. Each is refused with a remark that names the limit, and the nameserver
//! keeps answering routes and registrations.

mod common;

use std::io::Write;

use common::*;
use rmq_remoting::body::{body_crc32, JsonBody};
use rmq_remoting::headers::namesrv::{PutKvConfigRequestHeader, RegisterBrokerRequestHeader};
use rmq_remoting::{EmptyHeader, RemotingCommand, RequestCode, ResponseCode};

/// REGISTER_BROKER of `a`'s header with a compressed body of raw (already zlib) `bytes`.
fn compressed_register(a: &FakeBroker, bytes: Vec<u8>) -> RemotingCommand {
    let header = RegisterBrokerRequestHeader {
        compressed: Some(true),
        body_crc32: Some(body_crc32(&bytes)),
        ..a.header.clone()
    };
    RemotingCommand::request_with(RequestCode::REGISTER_BROKER, &header).with_body(bytes)
}

fn zlib(raw: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(raw).unwrap();
    enc.finish().unwrap()
}

#[tokio::test]
async fn a_registration_with_too_many_topics_is_refused_and_routes_keep_answering() {
    let ns = start_namesrv(|_| {}).await;
    let good = FakeBroker::new("broker-a", 0, "10.0.0.1:10911", &[("T", 4)]);
    assert!(good.register(&ns.addr).await.is_success());
    // 200,000 topics in the compressed layout, four times the default limit of 50,000.
    let mut raw = Vec::new();
    let version = br#"{"counter":1,"timestamp":1}"#;
    raw.extend_from_slice(&(version.len() as i32).to_be_bytes());
    raw.extend_from_slice(version);
    raw.extend_from_slice(&200_000i32.to_be_bytes());
    for i in 0..200_000 {
        let text = format!("Flood{i} 8 8 6 SINGLE_TAG");
        raw.extend_from_slice(&(text.len() as i32).to_be_bytes());
        raw.extend_from_slice(text.as_bytes());
    }
    raw.extend_from_slice(&2i32.to_be_bytes());
    raw.extend_from_slice(b"[]");
    let flood = FakeBroker::new("broker-f", 0, "10.0.0.9:10911", &[]);
    let reply = flood
        .client
        .invoke(&ns.addr, compressed_register(&flood, zlib(&raw)), RPC)
        .await
        .unwrap();
    assert_eq!(reply.code, ResponseCode::SYSTEM_ERROR.code());
    let remark = reply.remark.unwrap_or_default();
    assert!(
        remark.contains("200000 topics exceed the limit of 50000 per broker"),
        "{remark}"
    );
    assert!(route(&good.client, &ns.addr, "Flood7").await.is_none());
    assert!(route(&good.client, &ns.addr, "T").await.is_some());
    let list = call(
        &good.client,
        &ns.addr,
        RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
        &EmptyHeader,
    )
    .await;
    assert!(list.is_success(), "{list:?}");
}

#[tokio::test]
async fn a_zlib_bomb_stops_inflating_at_the_frame_limit() {
    let ns = start_namesrv(|_| {}).await;
    let a = FakeBroker::new("broker-a", 0, "10.0.0.1:10911", &[("T", 4)]);
    // 64 MiB of zeros: about 64 KB compressed.
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let reply = a
        .client
        .invoke(&ns.addr, compressed_register(&a, bomb), RPC)
        .await
        .unwrap();
    assert_eq!(reply.code, ResponseCode::SYSTEM_ERROR.code());
    let remark = reply.remark.unwrap_or_default();
    assert!(remark.contains("inflates beyond 16777216 bytes"), "{remark}");
    assert!(a.register(&ns.addr).await.is_success());
}

#[tokio::test]
async fn topic_names_longer_than_127_bytes_are_refused() {
    let ns = start_namesrv(|_| {}).await;
    let longest = "L".repeat(127);
    let ok = FakeBroker::new("broker-a", 0, "10.0.0.1:10911", &[(longest.as_str(), 4)]);
    assert!(ok.register(&ns.addr).await.is_success());
    assert!(route(&ok.client, &ns.addr, &longest).await.is_some());
    let too_long = "L".repeat(128);
    let bad = FakeBroker::new("broker-b", 0, "10.0.0.2:10911", &[(too_long.as_str(), 4)]);
    for compressed in [false, true] {
        let reply = bad
            .client
            .invoke(&ns.addr, bad.register_request(compressed), RPC)
            .await
            .unwrap();
        assert_eq!(reply.code, ResponseCode::SYSTEM_ERROR.code());
        let remark = reply.remark.unwrap_or_default();
        assert!(
            remark.contains("128 bytes exceeds the limit of 127 bytes"),
            "{remark}"
        );
    }
    assert!(route(&ok.client, &ns.addr, &too_long).await.is_none());
}

#[tokio::test]
async fn kv_values_and_table_are_capped_so_registrations_keep_their_reply() {
    let ns = start_namesrv(|_| {}).await;
    let a = FakeBroker::new("broker-a", 0, "10.0.0.1:10911", &[("T", 4)]);
    let put = |key: String, value: String| {
        RemotingCommand::request_with(
            RequestCode::PUT_KV_CONFIG,
            &PutKvConfigRequestHeader {
                namespace: "ORDER_TOPIC_CONFIG".into(),
                key,
                value,
            },
        )
    };
    // The attack: two 9 MiB values. Each is refused, nothing is written.
    for key in ["P1", "P2"] {
        let reply = a
            .client
            .invoke(&ns.addr, put(key.into(), "x".repeat(9 << 20)), RPC)
            .await
            .unwrap();
        assert_eq!(reply.code, ResponseCode::SYSTEM_ERROR.code());
        let remark = reply.remark.unwrap_or_default();
        assert!(
            remark.contains("exceeds maxKvValueLength (16384 bytes)"),
            "{remark}"
        );
    }
    assert!(ns.server.kv().snapshot().is_empty());
    // Values within the value limit fill the table up to 1 MiB, then the next is refused.
    let mut stored = 0;
    loop {
        let reply = a
            .client
            .invoke(&ns.addr, put(format!("K{stored}"), "v".repeat(16 * 1024)), RPC)
            .await
            .unwrap();
        if !reply.is_success() {
            let remark = reply.remark.unwrap_or_default();
            assert!(
                remark.contains("over maxKvTableBytes (1048576 bytes)"),
                "{remark}"
            );
            break;
        }
        stored += 1;
        assert!(stored < 100, "the table never filled");
    }
    assert_eq!(stored, 63);
    // Every registration is still answered SUCCESS with the ordered-topic table.
    let reply = a.register(&ns.addr).await;
    assert!(reply.is_success(), "{reply:?}");
    let table = rmq_remoting::body::KvTable::decode(&reply.body).unwrap();
    assert_eq!(table.table.len(), 63);
}
