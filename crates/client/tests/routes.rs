//! The client's route handling against a scripted nameserver whose routes a test can change:
//! the template topic (TBW102) stands in only for a topic with no route at all, never for a
//! topic whose brokers are all read-only; a broker group that leaves every route is forgotten.

mod scripted;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rmq_client::{ClientConfig, ClientError, ClientInstance, Message, Producer, ProducerConfig};
use scripted::{route, spawn, Behaviour, FakeBroker, ScriptedNamesrv, READ_ONLY, RW};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_topic_with_a_route_but_no_writable_broker_is_not_sent_through_the_template() {
    let cancel = CancellationToken::new();
    let wiped = Arc::new(FakeBroker::new(Behaviour::Ok));
    let other = Arc::new(FakeBroker::new(Behaviour::Ok));
    let wiped_addr = spawn(wiped.clone(), &cancel).await;
    let other_addr = spawn(other.clone(), &cancel).await;
    let ns = Arc::new(ScriptedNamesrv::default());
    // The topic lives on broker-a, whose write permission was wiped; the template topic is on
    // both brokers, so a fallback to it would reach broker-b, which would auto-create the topic.
    ns.set("T", route(&[("broker-a", &wiped_addr, READ_ONLY)]));
    ns.set(
        "TBW102",
        route(&[("broker-a", &wiped_addr, RW), ("broker-b", &other_addr, RW)]),
    );
    let ns_addr = spawn(ns.clone(), &cancel).await;
    let producer = Producer::start(ProducerConfig {
        client: ClientConfig::new(&ns_addr),
        group: "pg_routes".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    for _ in 0..2 {
        let err = producer.send(Message::new("T", "m")).await.unwrap_err();
        assert!(
            matches!(err, ClientError::NotWritable(ref t) if t == "T"),
            "unexpected: {err}"
        );
        assert!(err.to_string().contains("not writable"), "{err}");
    }
    assert_eq!(wiped.sends.load(Ordering::SeqCst), 0);
    assert_eq!(other.sends.load(Ordering::SeqCst), 0, "no send through TBW102");

    // A topic the nameserver does not know still goes through the template.
    let r = producer.send(Message::new("Fresh", "m")).await.unwrap();
    assert_eq!(r.queue.topic, "Fresh");

    // Once the permission is back, the topic's own route is used again.
    ns.set("T", route(&[("broker-a", &wiped_addr, RW)]));
    let r = producer.send(Message::new("T", "m")).await.unwrap();
    assert_eq!(r.queue.broker_name, "broker-a");
    producer.shutdown().await;
    cancel.cancel();
}

#[tokio::test]
async fn a_broker_group_gone_from_every_route_is_forgotten() {
    let cancel = CancellationToken::new();
    let ns = Arc::new(ScriptedNamesrv::default());
    let both = route(&[("broker-a", "127.0.0.1:1", RW), ("broker-b", "127.0.0.1:2", RW)]);
    ns.set("T1", both.clone());
    ns.set("T2", both);
    let ns_addr = spawn(ns.clone(), &cancel).await;
    let instance = ClientInstance::start(ClientConfig::new(&ns_addr)).unwrap();
    instance.update_route("T1").await.unwrap().unwrap();
    instance.update_route("T2").await.unwrap().unwrap();
    assert_eq!(instance.broker_addrs("broker-b").len(), 1);

    // broker-b leaves T1's route but is still in T2's (cached) route: kept.
    let only_a = route(&[("broker-a", "127.0.0.1:1", RW)]);
    ns.set("T1", only_a.clone());
    instance.update_route("T1").await.unwrap().unwrap();
    assert_eq!(instance.broker_addrs("broker-b").len(), 1);

    // Gone from T2 as well: no route mentions it, so it is dropped.
    ns.set("T2", only_a);
    instance.update_route("T2").await.unwrap().unwrap();
    assert!(instance.broker_addrs("broker-b").is_empty());
    assert_eq!(instance.master_addr("broker-b"), None);
    assert_eq!(instance.master_addr("broker-a").as_deref(), Some("127.0.0.1:1"));
    instance.shutdown().await;
    cancel.cancel();
}
