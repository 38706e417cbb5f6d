//! A transaction open while its broker dies: the real `mqbroker` is SIGKILLed between the half
//! message and its commit (inside the local transaction, so the END_TRANSACTION never arrives),
//! restarted on the same store, and its check-back must settle the message from what the commit
//! log holds: the half message and the op markers of the transactions already settled.
//!
//! Checked: the open transaction is asked about (and only it), committed once, and delivered;
//! the transactions committed before the crash are not committed again; nothing is lost.
//! `transactionCheckInterval` and `transactionTimeOut` are small: they are the keys under test.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rmq_client::{
    ClientConfig, ConsumeFromWhere, ConsumeResult, LocalTransactionState, Message, MessageExt,
    ProducerConfig, PushConsumer, PushConsumerConfig, SendResult, TransactionListener, TransactionProducer,
};

const TOPIC: &str = "TopicTxnCrash";
const BEFORE: usize = 5;

/// Commits everything; the message with body `crash` first kills the broker.
struct KillingListener {
    broker: Arc<Mutex<Broker>>,
    checks: Mutex<Vec<String>>,
}

impl TransactionListener for KillingListener {
    fn execute_local_transaction(&self, msg: &Message, _sent: &SendResult) -> LocalTransactionState {
        if &msg.body[..] == b"crash" {
            self.broker.lock().expect("broker lock").kill_9();
        }
        LocalTransactionState::Commit
    }

    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState {
        let body = String::from_utf8_lossy(msg.body()).to_string();
        self.checks.lock().expect("checks lock").push(body);
        LocalTransactionState::Commit
    }
}

/// body → every (queue, queue offset) it was delivered from.
type Positions = Arc<Mutex<BTreeMap<String, BTreeSet<(i32, i64)>>>>;

#[test]
fn a_transaction_open_when_the_broker_is_killed_is_settled_by_the_check_back_after_restart() {
    let dir = temp_dir();
    let namesrv = Namesrv::start(dir.path());
    let ns = namesrv.addr();
    let broker = Broker::start(
        dir.path(),
        &[
            ("namesrvAddr", ns.as_str()),
            ("transactionCheckInterval", "1000"),
            ("transactionTimeOut", "1000"),
        ],
    );
    create_topic(&broker.addr(), TOPIC, 4);
    wait_route(&ns, TOPIC, "broker-a");
    let broker = Arc::new(Mutex::new(broker));
    let listener = Arc::new(KillingListener {
        broker: broker.clone(),
        checks: Mutex::new(Vec::new()),
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let producer = TransactionProducer::start(
            ProducerConfig {
                client: ClientConfig::new(&ns),
                group: "pg_txn_crash".into(),
                ..Default::default()
            },
            listener.clone(),
        )
        .await
        .expect("producer starts");
        let positions: Positions = Arc::default();
        let sink = positions.clone();
        let consumer = PushConsumer::builder(PushConsumerConfig {
            client: ClientConfig::new(&ns),
            group: "cg_txn_crash".into(),
            consume_from_where: ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET,
            ..Default::default()
        })
        .subscribe(TOPIC, "*")
        .start(move |msg| {
            let sink = sink.clone();
            async move {
                let body = String::from_utf8_lossy(msg.body()).to_string();
                sink.lock()
                    .expect("positions lock")
                    .entry(body)
                    .or_default()
                    .insert((msg.queue_id, msg.queue_offset));
                ConsumeResult::Success
            }
        })
        .await
        .expect("consumer starts");

        let delivered = |p: &Positions| p.lock().expect("positions lock").len();
        for i in 0..BEFORE {
            let r = producer
                .send_in_transaction(Message::new(TOPIC, format!("before-{i}")))
                .await
                .expect("half message sent");
            assert_eq!(r.local_state, LocalTransactionState::Commit);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while delivered(&positions) < BEFORE {
            assert!(
                tokio::time::Instant::now() < deadline,
                "committed messages not delivered"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // The half message is stored, then the broker dies before END_TRANSACTION reaches it.
        producer
            .send_in_transaction(Message::new(TOPIC, "crash"))
            .await
            .expect("half message sent before the kill");
        tokio::task::spawn_blocking({
            let broker = broker.clone();
            move || broker.lock().expect("broker lock").restart()
        })
        .await
        .expect("restart task");

        // The producer's periodic heartbeat (30 s) tells the restarted broker where to ask.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        while delivered(&positions) < BEFORE + 1 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the open transaction was never settled; delivered: {:?}\nbroker log:\n{}",
                positions
                    .lock()
                    .expect("positions lock")
                    .keys()
                    .collect::<Vec<_>>(),
                broker.lock().expect("broker lock").proc.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Three more check rounds: a second commit of anything would show up now.
        tokio::time::sleep(Duration::from_secs(3)).await;
        consumer.shutdown().await;
        producer.shutdown().await;

        let positions = positions.lock().expect("positions lock").clone();
        let mut expected: BTreeSet<String> = (0..BEFORE).map(|i| format!("before-{i}")).collect();
        expected.insert("crash".to_string());
        assert_eq!(
            positions.keys().cloned().collect::<BTreeSet<_>>(),
            expected,
            "nothing lost"
        );
        for (body, at) in &positions {
            assert_eq!(at.len(), 1, "{body} was committed more than once: {at:?}");
        }
        assert_eq!(
            *listener.checks.lock().expect("checks lock"),
            ["crash"],
            "only the open transaction is checked, once"
        );
    });
}
