//! Shared harness for the broker's in-process tests: a broker on 127.0.0.1 port 0 with its own
//! TempDir, a client, and request builders for the codes the tests use.

#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use rmq_broker::{Broker, BrokerConfig};
use rmq_remoting::body::{ConsumerData, HeartbeatData, JsonBody, ProducerData, SubscriptionData};
use rmq_remoting::headers::pull::PullMessageRequestHeader;
use rmq_remoting::headers::send::SendMessageRequestHeaderV2;
use rmq_remoting::message::MessageRecord;
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode};
use tempfile::TempDir;

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A broker in a temp dir plus a client pointed at it.
pub struct TestBroker {
    pub broker: Option<Broker>,
    pub dir: TempDir,
    pub client: RemotingClient,
    pub addr: String,
}

/// A config for tests: port 0, small files, no nameserver, in `dir`.
pub fn test_config(dir: &std::path::Path) -> BrokerConfig {
    BrokerConfig {
        listen_port: 0,
        store_path_root_dir: dir.to_path_buf(),
        mapped_file_size_commit_log: 16 << 20,
        mapped_file_size_consume_queue: 20 * 10_000,
        max_message_size: 1 << 20,
        ..BrokerConfig::default()
    }
}

impl TestBroker {
    pub async fn start() -> TestBroker {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut BrokerConfig)) -> TestBroker {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = test_config(dir.path());
        tweak(&mut cfg);
        Self::start_in(dir, cfg).await
    }

    pub async fn start_in(dir: TempDir, cfg: BrokerConfig) -> TestBroker {
        let broker = Broker::start(cfg).await.expect("broker starts");
        let addr = broker.broker_addr();
        TestBroker {
            broker: Some(broker),
            dir,
            client: RemotingClient::default(),
            addr,
        }
    }

    pub fn broker(&self) -> &Broker {
        self.broker.as_ref().expect("running")
    }

    pub async fn call(&self, req: RemotingCommand) -> RemotingCommand {
        self.client
            .invoke(&self.addr, req, TIMEOUT)
            .await
            .expect("response")
    }

    /// Stops the broker gracefully and returns its directory for a restart.
    pub async fn stop(mut self) -> TempDir {
        self.client.shutdown();
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
        self.dir
    }
}

/// A SEND_MESSAGE_V2 request.
pub fn send_request(topic: &str, queue_id: i32, body: &[u8], props: &str) -> RemotingCommand {
    let header = SendMessageRequestHeaderV2 {
        a: "pg".into(),
        b: topic.into(),
        c: "TBW102".into(),
        d: 4,
        e: queue_id,
        f: 0,
        g: 1_700_000_000_000,
        h: 0,
        i: Some(props.into()),
        j: Some(0),
        k: Some(false),
        l: None,
        m: Some(false),
        n: None,
    };
    RemotingCommand::request_with(RequestCode::SEND_MESSAGE_V2, &header)
        .with_body(Bytes::copy_from_slice(body))
}

/// Properties with a tag.
pub fn tag_props(tag: &str) -> String {
    format!("TAGS\u{1}{tag}\u{2}WAIT\u{1}true")
}

/// A PULL_MESSAGE request; `subscription` set means the SUBSCRIPTION bit, `suspend_ms` > 0 the
/// SUSPEND bit.
pub fn pull_request(
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
    subscription: Option<&str>,
    suspend_ms: i64,
    sub_version: i64,
) -> RemotingCommand {
    let mut sys_flag = 0;
    if subscription.is_some() {
        sys_flag |= 4;
    }
    if suspend_ms > 0 {
        sys_flag |= 2;
    }
    let header = PullMessageRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag,
        commit_offset: 0,
        suspend_timeout_millis: suspend_ms,
        subscription: subscription.map(str::to_string),
        sub_version,
        expression_type: Some("TAG".into()),
        bname: None,
    };
    RemotingCommand::request_with(RequestCode::PULL_MESSAGE, &header)
}

/// A HEART_BEAT from a push consumer of `group` subscribed to `topic` with `expr`.
pub fn heartbeat(client_id: &str, group: &str, topic: &str, expr: &str, sub_version: i64) -> RemotingCommand {
    let data = HeartbeatData {
        client_id: client_id.into(),
        consumer_data_set: vec![ConsumerData {
            group_name: group.into(),
            subscription_data_set: vec![
                SubscriptionData::tag(topic, expr, sub_version),
                SubscriptionData::tag(format!("%RETRY%{group}"), "*", sub_version),
            ],
            ..Default::default()
        }],
        producer_data_set: vec![ProducerData {
            group_name: "pg".into(),
        }],
    };
    RemotingCommand::request(RequestCode::HEART_BEAT).with_body(data.encode())
}

/// Decodes a pull body.
pub fn records(resp: &RemotingCommand) -> Vec<MessageRecord> {
    MessageRecord::decode_all(&resp.body).expect("pull body decodes")
}

/// An extField as i64.
pub fn ext_i64(resp: &RemotingCommand, key: &str) -> i64 {
    resp.ext(key)
        .unwrap_or_else(|| panic!("missing ext {key}: {resp:?}"))
        .parse()
        .expect("number")
}

/// Polls `f` until it returns Some, or panics after `deadline`.
pub async fn wait_for<T, F, Fut>(deadline: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "condition not met within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
