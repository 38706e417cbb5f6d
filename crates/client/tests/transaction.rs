//! Transactional messages end to end, in process: a [`TransactionProducer`], the real broker and
//! a push consumer. The broker's `transactionCheckInterval`, `transactionTimeOut` and (in one
//! test) `transactionCheckMax` are made small: they are the keys under test.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rmq_broker::BrokerConfig;
use rmq_client::{
    ClientConfig, ConsumeFromWhere, ConsumeResult, LocalTransactionState, Message, MessageExt,
    ProducerConfig, PushConsumer, PushConsumerConfig, SendResult, TransactionListener, TransactionProducer,
};
use rmq_remoting::headers::offset::{GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader};
use rmq_remoting::message::sys_flag;
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{CommandHeader, RemotingCommand, RequestCode};
use tempfile::TempDir;

fn client(namesrv: &str) -> ClientConfig {
    ClientConfig {
        poll_name_server_interval: Duration::from_secs(1),
        ..ClientConfig::new(namesrv)
    }
}

/// Decides each transaction by the message body: `<exec>-<check>-<n>`, where each part is
/// `commit`, `rollback` or `unknown`; records every check it answers.
#[derive(Default)]
struct ByBody {
    checks: Mutex<HashMap<String, u32>>,
}

fn state_of(word: &str) -> LocalTransactionState {
    match word {
        "commit" => LocalTransactionState::Commit,
        "rollback" => LocalTransactionState::Rollback,
        _ => LocalTransactionState::Unknown,
    }
}

impl TransactionListener for ByBody {
    fn execute_local_transaction(&self, msg: &Message, _sent: &SendResult) -> LocalTransactionState {
        let body = String::from_utf8_lossy(&msg.body).to_string();
        state_of(body.split('-').next().unwrap_or(""))
    }

    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState {
        let body = String::from_utf8_lossy(msg.body()).to_string();
        *self.checks.lock().unwrap().entry(body.clone()).or_default() += 1;
        state_of(body.split('-').nth(1).unwrap_or(""))
    }
}

struct Setup {
    ns: Namesrv,
    broker: BrokerProc,
    _dir: TempDir,
}

async fn setup(topic: &str, tune: impl FnOnce(&mut BrokerConfig)) -> Setup {
    init_logs();
    let ns = start_namesrv().await;
    let dir = TempDir::new().unwrap();
    let mut config = broker_config(&ns.addr, "broker-a", 0, &dir);
    config.transaction_check_interval = Duration::from_millis(500);
    config.transaction_timeout = Duration::from_millis(1000);
    tune(&mut config);
    let broker = BrokerProc::start_with(config);
    create_topic(&[&broker.addr], topic, 4).await;
    wait_route(&ns.addr, topic, 1).await;
    Setup {
        ns,
        broker,
        _dir: dir,
    }
}

type Received = Arc<Mutex<Vec<MessageExt>>>;

async fn consumer(namesrv: &str, topic: &str, group: &str) -> (PushConsumer, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let consumer = PushConsumer::builder(PushConsumerConfig {
        client: client(namesrv),
        group: group.to_string(),
        consume_from_where: ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET,
        ..Default::default()
    })
    .subscribe(topic, "*")
    .start(move |msg| {
        let sink = sink.clone();
        async move {
            sink.lock().unwrap().push(msg);
            ConsumeResult::Success
        }
    })
    .await
    .unwrap();
    (consumer, got)
}

fn bodies(got: &Received) -> Vec<String> {
    let mut b: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .map(|m| String::from_utf8_lossy(m.body()).to_string())
        .collect();
    b.sort();
    b
}

async fn max_offset(broker: &str, topic: &str) -> i64 {
    let c = RemotingClient::default();
    let header = GetMaxOffsetRequestHeader {
        topic: topic.to_string(),
        queue_id: 0,
        bname: None,
    };
    let r = c
        .invoke(
            broker,
            RemotingCommand::request_with(RequestCode::GET_MAX_OFFSET, &header),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    c.shutdown();
    GetMaxOffsetResponseHeader::from_ext_fields(&r.ext_fields).map_or(0, |h| h.offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_rollback_and_unknown_then_checked_reach_the_consumer_as_decided() {
    let s = setup("TopicTxn", |_| {}).await;
    let listener = Arc::new(ByBody::default());
    let producer = TransactionProducer::start(
        ProducerConfig {
            client: client(&s.ns.addr),
            group: "pg_txn".into(),
            ..Default::default()
        },
        listener.clone(),
    )
    .await
    .unwrap();
    let (consumer, got) = consumer(&s.ns.addr, "TopicTxn", "cg_txn").await;

    let mut sent = Vec::new();
    for body in [
        "commit-x-1",
        "rollback-x-2",
        "unknown-commit-3",
        "unknown-rollback-4",
    ] {
        let r = producer
            .send_in_transaction(Message::new("TopicTxn", body.to_string()).with_tags("T"))
            .await
            .unwrap();
        sent.push(r);
    }
    assert_eq!(sent[0].local_state, LocalTransactionState::Commit);
    assert_eq!(sent[2].local_state, LocalTransactionState::Unknown);
    // Half messages are parked in queue 0 of the half topic, one after another.
    assert_eq!(
        sent.iter().map(|r| r.send.queue_offset).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );

    wait_for(Duration::from_secs(30), || async {
        bodies(&got).len() >= 2
            && listener
                .checks
                .lock()
                .unwrap()
                .get("unknown-rollback-4")
                .is_some()
    })
    .await;
    // Two more check rounds: nothing else may arrive and nothing may arrive twice.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(bodies(&got), ["commit-x-1", "unknown-commit-3"]);
    let checks = listener.checks.lock().unwrap().clone();
    assert!(
        !checks.contains_key("commit-x-1") && !checks.contains_key("rollback-x-2"),
        "settled transactions are never checked: {checks:?}"
    );
    assert_eq!(checks.get("unknown-commit-3"), Some(&1), "{checks:?}");
    assert_eq!(checks.get("unknown-rollback-4"), Some(&1), "{checks:?}");

    let committed = got.lock().unwrap().clone();
    for m in &committed {
        assert_eq!(m.topic(), "TopicTxn");
        assert_eq!(m.tags(), Some("T"));
        assert_eq!(
            m.sys_flag & sys_flag::TRANSACTION_MASK,
            sys_flag::TRANSACTION_COMMIT
        );
        assert_eq!(m.property("TRAN_MSG"), Some("true"));
        assert_eq!(m.property("PGROUP"), Some("pg_txn"));
        assert_eq!(m.property("REAL_TOPIC"), Some("TopicTxn"));
        let r = sent
            .iter()
            .find(|r| r.send.msg_id == m.msg_id())
            .expect("delivered message has the id its send returned");
        assert_eq!(
            m.queue_id, r.send.queue.queue_id,
            "committed into the queue the send named"
        );
    }
    // Every half message is settled: four op markers.
    assert_eq!(max_offset(&s.broker.addr, "RMQ_SYS_TRANS_OP_HALF_TOPIC").await, 4);
    consumer.shutdown().await;
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecided_transaction_is_checked_transaction_check_max_times_then_given_up() {
    let s = setup("TopicTxnMax", |c| c.transaction_check_max = 2).await;
    let listener = Arc::new(ByBody::default());
    let producer = TransactionProducer::start(
        ProducerConfig {
            client: client(&s.ns.addr),
            group: "pg_txn_max".into(),
            ..Default::default()
        },
        listener.clone(),
    )
    .await
    .unwrap();
    let (consumer, got) = consumer(&s.ns.addr, "TopicTxnMax", "cg_txn_max").await;
    producer
        .send_in_transaction(Message::new("TopicTxnMax", "unknown-unknown-1"))
        .await
        .unwrap();
    wait_for(Duration::from_secs(30), || async {
        max_offset(&s.broker.addr, "TRANS_CHECK_MAX_TIME_TOPIC").await == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        listener.checks.lock().unwrap().get("unknown-unknown-1"),
        Some(&2),
        "checked exactly transactionCheckMax times"
    );
    assert_eq!(max_offset(&s.broker.addr, "TRANS_CHECK_MAX_TIME_TOPIC").await, 1);
    assert!(bodies(&got).is_empty(), "a half message is never delivered");
    consumer.shutdown().await;
    producer.shutdown().await;
}

/// Leaves every transaction open until `decide` is set, then commits it when checked.
#[derive(Default)]
struct CommitWhenTold {
    decide: std::sync::atomic::AtomicBool,
    checks: std::sync::atomic::AtomicU32,
}

impl TransactionListener for CommitWhenTold {
    fn execute_local_transaction(&self, _msg: &Message, _sent: &SendResult) -> LocalTransactionState {
        LocalTransactionState::Unknown
    }

    fn check_local_transaction(&self, _msg: &MessageExt) -> LocalTransactionState {
        use std::sync::atomic::Ordering;
        self.checks.fetch_add(1, Ordering::SeqCst);
        if self.decide.load(Ordering::SeqCst) {
            LocalTransactionState::Commit
        } else {
            LocalTransactionState::Unknown
        }
    }
}

/// The record at offset 0 of `TRANS_CHECK_MAX_TIME_TOPIC` queue 0, read with one pull.
async fn given_up_record(broker: &str) -> rmq_remoting::message::MessageRecord {
    use rmq_remoting::headers::pull::{pull_sys_flag, PullMessageRequestHeader};
    let c = RemotingClient::default();
    let header = PullMessageRequestHeader {
        consumer_group: "TOOLS_CONSUMER".into(),
        topic: "TRANS_CHECK_MAX_TIME_TOPIC".into(),
        queue_id: 0,
        queue_offset: 0,
        max_msg_nums: 1,
        sys_flag: pull_sys_flag::SUBSCRIPTION,
        commit_offset: 0,
        suspend_timeout_millis: 0,
        subscription: Some("*".into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        bname: None,
    };
    let r = c
        .invoke(
            broker,
            RemotingCommand::request_with(RequestCode::PULL_MESSAGE, &header),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    c.shutdown();
    assert!(r.is_success(), "pull of the given-up copy: {r:?}");
    rmq_remoting::message::MessageRecord::decode_all(&r.body)
        .unwrap()
        .remove(0)
}

async fn resume(broker: &str, msg_id: &str) -> RemotingCommand {
    use rmq_remoting::headers::transaction::ResumeCheckHalfMessageRequestHeader;
    let c = RemotingClient::default();
    let header = ResumeCheckHalfMessageRequestHeader {
        msg_id: msg_id.to_string(),
    };
    let r = c
        .invoke(
            broker,
            RemotingCommand::request_with(RequestCode::RESUME_CHECK_HALF_MESSAGE, &header),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    c.shutdown();
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_up_transaction_is_checked_again_after_resume_check_half_message() {
    use std::sync::atomic::Ordering;
    let s = setup("TopicTxnResume", |c| c.transaction_check_max = 1).await;
    let listener = Arc::new(CommitWhenTold::default());
    let producer = TransactionProducer::start(
        ProducerConfig {
            client: client(&s.ns.addr),
            group: "pg_txn_resume".into(),
            ..Default::default()
        },
        listener.clone(),
    )
    .await
    .unwrap();
    let (consumer, got) = consumer(&s.ns.addr, "TopicTxnResume", "cg_txn_resume").await;
    producer
        .send_in_transaction(Message::new("TopicTxnResume", "resumed-1"))
        .await
        .unwrap();
    wait_for(Duration::from_secs(30), || async {
        max_offset(&s.broker.addr, "TRANS_CHECK_MAX_TIME_TOPIC").await == 1
    })
    .await;
    let given_up = given_up_record(&s.broker.addr).await;
    assert_eq!(given_up.property("TRANSACTION_CHECK_TIMES"), Some("1"));
    assert_eq!(given_up.property("REAL_TOPIC"), Some("TopicTxnResume"));

    // Ids that name nothing resumable are refused with a reason.
    let bad = resume(&s.broker.addr, "not-an-id").await;
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad
        .remark
        .unwrap_or_default()
        .contains("not an offset message id"));
    let mut ordinary_id = given_up.offset_msg_id();
    ordinary_id.replace_range(16.., &format!("{:016X}", given_up.physical_offset + 1));
    let bad = resume(&s.broker.addr, &ordinary_id).await;
    assert_eq!(bad.code, 1, "an offset inside a record: {bad:?}");

    let checks_before = listener.checks.load(Ordering::SeqCst);
    listener.decide.store(true, Ordering::SeqCst);
    let ok = resume(&s.broker.addr, &given_up.offset_msg_id()).await;
    assert!(ok.is_success(), "{ok:?}");
    wait_for(Duration::from_secs(30), || async {
        bodies(&got) == ["resumed-1"]
    })
    .await;
    assert!(listener.checks.load(Ordering::SeqCst) > checks_before);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(bodies(&got), ["resumed-1"], "committed once");
    consumer.shutdown().await;
    producer.shutdown().await;
}
