//! MessageQuery against two real brokers in process: a key shared by messages on both broker
//! groups, a time range, a unique key, and a key nobody sent.

mod common;

use std::time::Duration;

use common::*;
use rmq_client::{ClientConfig, ClientError, Message, MessageQuery, Producer, ProducerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_key_spans_broker_groups_and_by_unique_key_finds_one() {
    init_logs();
    let ns = start_namesrv().await;
    let a = BrokerProc::start(&ns.addr, "broker-a");
    let b = BrokerProc::start(&ns.addr, "broker-b");
    create_topic(&[&a.addr, &b.addr], "TopicQ", 2).await;
    wait_route(&ns.addr, "TopicQ", 2).await;
    let producer = Producer::start(ProducerConfig {
        client: ClientConfig::new(&ns.addr),
        group: "pg_query".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut shared = Vec::new();
    let mut last = None;
    // Round-robin over 4 queues on 2 brokers: the shared key lands on both groups.
    for i in 0..12 {
        let keys: Vec<String> = if i % 2 == 0 {
            vec!["order-7".into(), format!("k{i}")]
        } else {
            vec![format!("k{i}")]
        };
        let sent = producer
            .send(Message::new("TopicQ", format!("body-{i}")).with_keys(keys))
            .await
            .unwrap();
        if i % 2 == 0 {
            shared.push(sent.msg_id.clone());
        }
        last = Some(sent);
    }
    let last = last.unwrap();

    let query = MessageQuery::with_instance(producer.instance().clone());
    // The index follows the commit log on its own thread: wait until it has the last send.
    wait_for(Duration::from_secs(10), || {
        let query = query.clone();
        let id = last.msg_id.clone();
        async move { query.by_unique_key("TopicQ", &id).await.is_ok() }
    })
    .await;
    wait_for(Duration::from_secs(10), || {
        let query = query.clone();
        async move {
            query
                .by_key("TopicQ", "order-7", 64, 0, i64::MAX)
                .await
                .is_ok_and(|r| r.messages.len() == 6)
        }
    })
    .await;
    let found = query.by_key("TopicQ", "order-7", 64, 0, i64::MAX).await.unwrap();
    let mut ids: Vec<String> = found.messages.iter().map(|m| m.msg_id().to_string()).collect();
    ids.sort();
    shared.sort();
    assert_eq!(ids, shared);
    let brokers: std::collections::BTreeSet<&str> =
        found.messages.iter().map(|m| m.broker_name.as_str()).collect();
    assert_eq!(brokers.len(), 2, "both broker groups answered");
    assert!(found.index_last_update_timestamp > 0);
    assert!(found.messages.iter().all(|m| m.keys().contains(&"order-7")));

    let one = query.by_unique_key("TopicQ", &last.msg_id).await.unwrap();
    assert_eq!(one.body().as_ref(), b"body-11");
    assert_eq!(one.queue_offset, last.queue_offset);
    assert_eq!(one.broker_name, last.queue.broker_name);

    let future = found.messages[0].store_timestamp + 3_600_000;
    assert!(matches!(
        query.by_key("TopicQ", "order-7", 64, future, i64::MAX).await,
        Err(ClientError::NotFound(_))
    ));
    assert!(matches!(
        query.by_key("TopicQ", "nobody", 64, 0, i64::MAX).await,
        Err(ClientError::NotFound(_))
    ));
    assert!(matches!(
        query.by_key("NoSuchTopic", "k", 64, 0, i64::MAX).await,
        Err(ClientError::NoRoute(_))
    ));
    producer.shutdown().await;
}
