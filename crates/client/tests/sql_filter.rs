//! SQL92 property filters end to end, in process: a push consumer subscribed with
//! `a > 5 AND b = 'x'` receives exactly the matching messages of a mixed stream while a tag
//! consumer group on the same topic keeps its own filter; CHECK_CLIENT_CONFIG and pulls answer
//! good and bad selectors, and a broker with `enablePropertyFilter` off, as Apache does.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rmq_client::{
    ConsumeFromWhere, ConsumeResult, Message, Producer, ProducerConfig, PullConsumer, PullConsumerConfig,
    PullStatus, PushConsumer, PushConsumerConfig,
};
use rmq_remoting::body::{CheckClientRequestBody, JsonBody, SubscriptionData};
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tempfile::TempDir;

const SQL: &str = "a > 5 AND b = 'x'";

fn push_config(namesrv: &str, group: &str) -> PushConsumerConfig {
    PushConsumerConfig {
        client: fast_client(namesrv),
        group: group.to_string(),
        consume_from_where: ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET,
        rebalance_interval: Duration::from_secs(2),
        pull_error_backoff: Duration::from_millis(300),
        ..Default::default()
    }
}

/// A broker with `enablePropertyFilter` as given (Apache's default is off).
fn broker(namesrv: &str, property_filter: bool, dir: &TempDir) -> BrokerProc {
    BrokerProc::start_with(rmq_broker::BrokerConfig {
        enable_property_filter: property_filter,
        ..broker_config(namesrv, "broker-a", 0, dir)
    })
}

/// Message `n` of the mixed stream: `a` missing, non-numeric or 0..9; `b` x or y; TagA/TagB.
fn mixed(topic: &str, n: u32) -> (Message, bool, bool) {
    let mut m = Message::new(topic, format!("m{n}")).with_property("n", n.to_string());
    let a = match n % 13 {
        0 => None,
        1 => Some("abc".to_string()),
        _ => Some((n % 10).to_string()),
    };
    if let Some(a) = &a {
        m = m.with_property("a", a.clone());
    }
    let b = if n.is_multiple_of(2) { "x" } else { "y" };
    m = m.with_property("b", b);
    let tag = if n.is_multiple_of(3) { "TagA" } else { "TagB" };
    m = m.with_tags(tag);
    let sql_match = a.and_then(|a| a.parse::<i32>().ok()).is_some_and(|a| a > 5) && b == "x";
    (m, sql_match, tag == "TagA")
}

type Seen = Arc<Mutex<Vec<u32>>>;

async fn collecting(
    config: PushConsumerConfig,
    topic: &str,
    sql: Option<&str>,
    tags: &str,
) -> (PushConsumer, Seen) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let builder = PushConsumer::builder(config);
    let builder = match sql {
        Some(sql) => builder.subscribe_sql(topic, sql),
        None => builder.subscribe(topic, tags),
    };
    let consumer = builder
        .start(move |m| {
            let s2 = s2.clone();
            async move {
                let n = m.property("n").and_then(|n| n.parse().ok()).unwrap_or(u32::MAX);
                s2.lock().unwrap().push(n);
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    (consumer, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_consumer_gets_exactly_the_matching_messages_beside_a_tag_consumer() {
    init_logs();
    let ns = start_namesrv().await;
    let dir = TempDir::new().unwrap();
    let broker = broker(&ns.addr, true, &dir);
    create_topic(&[&broker.addr], "TopicSql", 4).await;
    wait_route(&ns.addr, "TopicSql", 1).await;

    let (sql_consumer, sql_seen) =
        collecting(push_config(&ns.addr, "cg_sql"), "TopicSql", Some(SQL), "").await;
    let (tag_consumer, tag_seen) =
        collecting(push_config(&ns.addr, "cg_tag"), "TopicSql", None, "TagA").await;

    let producer = Producer::start(ProducerConfig {
        client: fast_client(&ns.addr),
        group: "pg_sql".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let (mut want_sql, mut want_tag) = (BTreeSet::new(), BTreeSet::new());
    for n in 0..120 {
        let (m, sql_match, tag_a) = mixed("TopicSql", n);
        producer.send(m).await.unwrap();
        if sql_match {
            want_sql.insert(n);
        }
        if tag_a {
            want_tag.insert(n);
        }
    }
    assert!(
        want_sql.len() >= 10 && want_sql.len() < 60,
        "the stream is mixed: {want_sql:?}"
    );

    wait_for(Duration::from_secs(30), || async {
        sql_seen.lock().unwrap().len() >= want_sql.len() && tag_seen.lock().unwrap().len() >= want_tag.len()
    })
    .await;
    // A marker sent last that matches both filters: once it is in, everything before it was
    // pulled, so nothing unexpected can still be on its way.
    producer
        .send(
            Message::new("TopicSql", "end")
                .with_property("n", "1000")
                .with_property("a", "9")
                .with_property("b", "x")
                .with_tags("TagA"),
        )
        .await
        .unwrap();
    want_sql.insert(1000);
    want_tag.insert(1000);
    wait_for(Duration::from_secs(30), || async {
        sql_seen.lock().unwrap().contains(&1000) && tag_seen.lock().unwrap().contains(&1000)
    })
    .await;

    let got_sql: Vec<u32> = sql_seen.lock().unwrap().clone();
    let got_tag: Vec<u32> = tag_seen.lock().unwrap().clone();
    assert_eq!(got_sql.iter().copied().collect::<BTreeSet<_>>(), want_sql);
    assert_eq!(
        got_sql.len(),
        want_sql.len(),
        "each matching message exactly once"
    );
    assert_eq!(got_tag.iter().copied().collect::<BTreeSet<_>>(), want_tag);
    assert_eq!(got_tag.len(), want_tag.len());

    sql_consumer.shutdown().await;
    tag_consumer.shutdown().await;
    producer.shutdown().await;
    broker.stop();
    ns.server.shutdown().await;
}

async fn check_config(addr: &str, sub: SubscriptionData) -> RemotingCommand {
    let client = RemotingClient::default();
    let body = CheckClientRequestBody {
        client_id: "127.0.0.1@check".into(),
        group: "cg_check".into(),
        subscription_data: Some(sub),
    };
    let request = RemotingCommand::request(RequestCode::CHECK_CLIENT_CONFIG).with_body(body.encode());
    let response = client
        .invoke(addr, request, Duration::from_secs(5))
        .await
        .unwrap();
    client.shutdown();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_client_config_and_pulls_answer_good_and_bad_selectors() {
    init_logs();
    let ns = start_namesrv().await;
    let dir = TempDir::new().unwrap();
    let broker = broker(&ns.addr, true, &dir);
    create_topic(&[&broker.addr], "TopicCheck", 1).await;
    wait_route(&ns.addr, "TopicCheck", 1).await;

    let ok = check_config(&broker.addr, SubscriptionData::sql92("TopicCheck", SQL, 1)).await;
    assert_eq!(ok.code, ResponseCode::SUCCESS.code(), "{:?}", ok.remark);
    let tag = check_config(&broker.addr, SubscriptionData::tag("TopicCheck", "TagA", 1)).await;
    assert_eq!(tag.code, ResponseCode::SUCCESS.code());
    let bad = check_config(&broker.addr, SubscriptionData::sql92("TopicCheck", "a > 'x'", 1)).await;
    assert_eq!(bad.code, ResponseCode::SUBSCRIPTION_PARSE_FAILED.code());
    assert_eq!(bad.remark.as_deref(), Some("Value ''x'' cannot be compared."));
    let empty = check_config(&broker.addr, SubscriptionData::sql92("TopicCheck", "", 1)).await;
    assert_eq!(empty.code, ResponseCode::SUBSCRIPTION_PARSE_FAILED.code());

    // The push consumer checks at start and refuses to start on a bad selector.
    let refused = PushConsumer::builder(push_config(&ns.addr, "cg_bad"))
        .subscribe_sql("TopicCheck", "a BETWEEN 5 AND")
        .start(|_| async { ConsumeResult::Success })
        .await
        .err()
        .expect("a bad selector stops the start");
    assert_eq!(
        refused.response_code(),
        Some(ResponseCode::SUBSCRIPTION_PARSE_FAILED.code())
    );
    assert!(refused.to_string().contains("expected a value"), "{refused}");

    // A pull carrying a selector is filtered by it; a bad one is refused with code 23.
    let producer = Producer::start(ProducerConfig {
        client: fast_client(&ns.addr),
        group: "pg_check".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    for n in 0..10 {
        producer.send(mixed("TopicCheck", n).0).await.unwrap();
    }
    let pull = PullConsumer::start(PullConsumerConfig {
        client: fast_client(&ns.addr),
        group: "cg_pull_sql".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mq = pull.fetch_subscribe_queues("TopicCheck").await.unwrap()[0].clone();
    let r = pull.pull_sql(&mq, "a >= 7 OR n IN ('2')", 0, 32).await.unwrap();
    assert_eq!(r.status, PullStatus::Found);
    let ns_got: Vec<&str> = r.messages.iter().filter_map(|m| m.property("n")).collect();
    assert_eq!(ns_got, ["2", "7", "8", "9"]);
    assert_eq!(r.next_begin_offset, 10, "skipped messages count as scanned");
    let none = pull.pull_sql(&mq, "a IS NULL", 1, 32).await.unwrap();
    assert_eq!(
        none.status,
        PullStatus::NoMatchedMsg,
        "only message 0 lacks a, and it is before offset 1"
    );
    let err = pull
        .pull_sql(&mq, "a = NULL", 0, 32)
        .await
        .expect_err("bad selector");
    assert_eq!(
        err.response_code(),
        Some(ResponseCode::SUBSCRIPTION_PARSE_FAILED.code())
    );
    assert!(err.to_string().contains("'NULL' cannot be compared."), "{err}");

    pull.shutdown(&[]).await;
    producer.shutdown().await;
    broker.stop();
    ns.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_key_off_sql92_is_refused_as_apache_does() {
    init_logs();
    let ns = start_namesrv().await;
    let dir = TempDir::new().unwrap();
    let broker = broker(&ns.addr, false, &dir);
    create_topic(&[&broker.addr], "TopicOff", 1).await;
    wait_route(&ns.addr, "TopicOff", 1).await;

    let off = check_config(&broker.addr, SubscriptionData::sql92("TopicOff", SQL, 1)).await;
    assert_eq!(off.code, ResponseCode::SYSTEM_ERROR.code());
    assert_eq!(
        off.remark.as_deref(),
        Some("The broker does not support consumer to filter message by SQL92")
    );
    let tag = check_config(&broker.addr, SubscriptionData::tag("TopicOff", "*", 1)).await;
    assert_eq!(tag.code, ResponseCode::SUCCESS.code());

    let refused = PushConsumer::builder(push_config(&ns.addr, "cg_off"))
        .subscribe_sql("TopicOff", SQL)
        .start(|_| async { ConsumeResult::Success })
        .await
        .err()
        .expect("the broker refuses SQL92");
    assert_eq!(refused.response_code(), Some(ResponseCode::SYSTEM_ERROR.code()));

    let pull = PullConsumer::start(PullConsumerConfig {
        client: fast_client(&ns.addr),
        group: "cg_pull_off".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mq = pull.fetch_subscribe_queues("TopicOff").await.unwrap()[0].clone();
    let err = pull.pull_sql(&mq, SQL, 0, 32).await.expect_err("key off");
    assert_eq!(err.response_code(), Some(ResponseCode::SYSTEM_ERROR.code()));
    assert!(
        err.to_string()
            .contains("does not support consumer to filter message by SQL92"),
        "{err}"
    );
    pull.shutdown(&[]).await;
    broker.stop();
    ns.server.shutdown().await;
}
