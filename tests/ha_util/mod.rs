//! Helpers of the process-level replication tests (`tests/ha_*.rs`): a namesrv with a master and
//! a slave of one broker group, sends and pulls over `RemotingClient`, runtime info, and the raw
//! commit log of a broker's store.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rmq_remoting::body::{JsonBody, KvTable};
use rmq_remoting::headers::offset::{QueryConsumerOffsetRequestHeader, UpdateConsumerOffsetRequestHeader};
use rmq_remoting::headers::pull::{pull_sys_flag, PullMessageRequestHeader};
use rmq_remoting::headers::send::SendMessageRequestHeaderV2;
use rmq_remoting::message::record::MessageRecord;
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio::sync::Semaphore;

use crate::common::{self, Broker, Namesrv};

/// Commit-log file size in the tests: small, so 10,000 messages span several files.
pub const FILE_SIZE: &str = "262144";
/// Largest message the tests' brokers accept (must fit a commit-log file with its header).
pub const MAX_MESSAGE: &str = "65536";
/// The test topic's queue count.
pub const QUEUES: i32 = 4;
/// Timeout of one RPC.
pub const RPC: Duration = Duration::from_secs(10);

/// A namesrv, a master and (once started) a slave of `broker-a`.
pub struct Group {
    /// The slave, once started (dropped first).
    pub slave: Option<Broker>,
    /// The master.
    pub master: Broker,
    /// The namesrv.
    pub namesrv: Namesrv,
    /// Temp dir, dropped last.
    pub dir: tempfile::TempDir,
}

fn base_props(ns: &str) -> Vec<(&'static str, String)> {
    vec![
        ("namesrvAddr", ns.to_string()),
        ("mapedFileSizeCommitLog", FILE_SIZE.to_string()),
        ("maxMessageSize", MAX_MESSAGE.to_string()),
    ]
}

impl Group {
    /// A namesrv and a master with `role` (`ASYNC_MASTER` / `SYNC_MASTER`), topic `topic`
    /// created with [`QUEUES`] queues.
    pub fn start_master(role: &str, topic: &str) -> Group {
        let dir = common::temp_dir();
        let namesrv = Namesrv::start(dir.path());
        let mut props = base_props(&namesrv.addr());
        props.push(("brokerRole", role.to_string()));
        let p: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let master = Broker::start(dir.path(), &p);
        common::create_topic(&master.addr(), topic, QUEUES);
        Group {
            slave: None,
            master,
            namesrv,
            dir,
        }
    }

    /// Starts the slave (brokerId 1, learning its master from the namesrv) and waits until the
    /// master lists it as connected.
    pub fn start_slave(&mut self) {
        let mut props = base_props(&self.namesrv.addr());
        props.push(("brokerRole", "SLAVE".to_string()));
        props.push(("brokerId", "1".to_string()));
        let p: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.slave = Some(Broker::start(self.dir.path(), &p));
        self.wait_slave_connected();
    }

    /// Waits until the master reports one connected slave.
    pub fn wait_slave_connected(&self) {
        let master = self.master.addr();
        common::wait_until(
            "slave connected to the master's HA port",
            common::READY_TIMEOUT,
            || {
                runtime_info(&master)
                    .filter(|kv| kv.get("haConnectedSlaves").map(String::as_str) == Some("1"))
            },
        );
    }

    /// Waits until the slave's metadata sync copied `topic` from the master (it pulls the
    /// topic table 3 s after start, then every 10 s).
    pub fn wait_topic_on_slave(&self, topic: &str) {
        let slave = self.slave().addr();
        let quoted = format!("\"{topic}\"");
        common::wait_until(
            "the slave's copy of the topic config",
            Duration::from_secs(30),
            || {
                let cmd = RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG);
                let resp = common::request(&slave, cmd, Duration::from_secs(3)).ok()?;
                String::from_utf8_lossy(&resp.body)
                    .contains(&quoted)
                    .then_some(())
            },
        );
    }

    /// The slave (panics before [`Self::start_slave`]).
    pub fn slave(&self) -> &Broker {
        self.slave.as_ref().expect("slave started")
    }

    /// Waits until the slave's commit log ends where the master's does.
    pub fn wait_caught_up(&self, timeout: Duration) -> u64 {
        let master_end = commit_log_max(&self.master.addr());
        let slave = self.slave().addr();
        common::wait_until("slave caught up with the master", timeout, || {
            (commit_log_max(&slave) == master_end).then_some(master_end)
        })
    }
}

/// GET_BROKER_RUNTIME_INFO as a map.
pub fn runtime_info(addr: &str) -> Option<BTreeMap<String, String>> {
    let cmd = RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO);
    let resp = common::request(addr, cmd, Duration::from_secs(3)).ok()?;
    if !resp.is_success() {
        return None;
    }
    KvTable::decode(&resp.body).ok().map(|t| t.table)
}

/// The broker's `commitLogMaxOffset`.
pub fn commit_log_max(addr: &str) -> u64 {
    runtime_info(addr)
        .and_then(|kv| kv.get("commitLogMaxOffset").and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// The broker's commit-log files concatenated, cut at `end`.
pub fn commit_log(broker: &Broker, end: u64) -> Vec<u8> {
    commit_log_of(&broker.dir.join("store"), end)
}

/// The commit-log files under store root `root`, concatenated, cut at `end`.
pub fn commit_log_of(root: &Path, end: u64) -> Vec<u8> {
    let mut files: Vec<_> = std::fs::read_dir(root.join("commitlog"))
        .expect("commitlog dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        all.extend(std::fs::read(f).expect("read commit-log file"));
    }
    all.truncate(end as usize);
    all
}

/// The body of message `i`.
pub fn body(i: usize) -> Vec<u8> {
    format!("ha-message-{i:06}-{}", "p".repeat(i % 50)).into_bytes()
}

/// One SEND_MESSAGE_V2 of `body` to `topic`/`queue`; returns the response code.
pub async fn send(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    queue: i32,
    body: Vec<u8>,
) -> Option<i32> {
    let header = SendMessageRequestHeaderV2 {
        a: "ha-test-producer".into(),
        b: topic.into(),
        c: "TBW102".into(),
        d: QUEUES,
        e: queue,
        f: 0,
        g: 1_700_000_000_000,
        h: 0,
        i: Some("WAIT\u{1}true\u{2}".into()),
        j: None,
        k: None,
        l: None,
        m: None,
        n: None,
    };
    let req = RemotingCommand::request_with(RequestCode::SEND_MESSAGE_V2, &header).with_body(body);
    client.invoke(addr, req, RPC).await.ok().map(|r| r.code)
}

/// Sends messages `range` (message `i` to queue `i % QUEUES`) with `window` in flight; returns
/// `(i, code)` for each answered send (`None` for a send that got no answer).
pub async fn send_range(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    range: std::ops::Range<usize>,
    window: usize,
) -> Vec<(usize, Option<i32>)> {
    let permits = Arc::new(Semaphore::new(window));
    let mut tasks = tokio::task::JoinSet::new();
    for i in range {
        let permit = permits.clone().acquire_owned().await.expect("semaphore open");
        let (client, addr, topic) = (client.clone(), addr.to_string(), topic.to_string());
        tasks.spawn(async move {
            let code = send(&client, &addr, &topic, (i % QUEUES as usize) as i32, body(i)).await;
            drop(permit);
            (i, code)
        });
    }
    let mut out = Vec::new();
    while let Some(r) = tasks.join_next().await {
        out.push(r.expect("send task"));
    }
    out.sort();
    out
}

/// Pulls queue `queue` of `topic` from `offset` to the end; returns the records.
pub async fn pull_all(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    queue: i32,
    mut offset: i64,
) -> Vec<MessageRecord> {
    let mut out = Vec::new();
    loop {
        let header = PullMessageRequestHeader {
            consumer_group: "ha-test-consumer".into(),
            topic: topic.into(),
            queue_id: queue,
            queue_offset: offset,
            max_msg_nums: 32,
            sys_flag: pull_sys_flag::SUBSCRIPTION,
            commit_offset: 0,
            suspend_timeout_millis: 0,
            subscription: Some("*".into()),
            sub_version: 0,
            expression_type: Some("TAG".into()),
            bname: None,
        };
        let req = RemotingCommand::request_with(RequestCode::PULL_MESSAGE, &header);
        let resp = client.invoke(addr, req, RPC).await.expect("pull");
        if resp.code != ResponseCode::SUCCESS.code() {
            return out;
        }
        let next: i64 = resp
            .ext("nextBeginOffset")
            .and_then(|v| v.parse().ok())
            .expect("nextBeginOffset");
        let mut body = resp.body.clone();
        while !body.is_empty() {
            let (record, len) = MessageRecord::decode_bytes(&body, true).expect("pulled record decodes");
            out.push(record);
            body = body.slice(len..);
        }
        assert!(next > offset, "pull must advance");
        offset = next;
    }
}

/// Every message body of `topic` on the broker at `addr`, in queue order.
pub async fn all_bodies(client: &RemotingClient, addr: &str, topic: &str) -> Vec<Bytes> {
    let mut out = Vec::new();
    for q in 0..QUEUES {
        out.extend(
            pull_all(client, addr, topic, q, 0)
                .await
                .into_iter()
                .map(|r| r.body),
        );
    }
    out
}

/// Commits a consumer offset (UPDATE_CONSUMER_OFFSET, as clients do every 5 s).
pub async fn commit_offset(
    client: &RemotingClient,
    addr: &str,
    group: &str,
    topic: &str,
    queue: i32,
    offset: i64,
) {
    let header = UpdateConsumerOffsetRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id: queue,
        commit_offset: offset,
        bname: None,
    };
    let req = RemotingCommand::request_with(RequestCode::UPDATE_CONSUMER_OFFSET, &header);
    let resp = client.invoke(addr, req, RPC).await.expect("update offset");
    assert!(resp.is_success(), "UPDATE_CONSUMER_OFFSET: {:?}", resp.remark);
}

/// QUERY_CONSUMER_OFFSET; `None` when the broker has none.
pub async fn query_offset(
    client: &RemotingClient,
    addr: &str,
    group: &str,
    topic: &str,
    queue: i32,
) -> Option<i64> {
    let header = QueryConsumerOffsetRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id: queue,
        bname: None,
    };
    let req = RemotingCommand::request_with(RequestCode::QUERY_CONSUMER_OFFSET, &header);
    let resp = client.invoke(addr, req, RPC).await.ok()?;
    if !resp.is_success() {
        return None;
    }
    resp.ext("offset").and_then(|v| v.parse().ok())
}
