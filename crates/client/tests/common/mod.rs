//! In-process cluster for the client's end-to-end tests: a nameserver and brokers on
//! 127.0.0.1 port 0, each with its own temp dir, and the quick-refreshing client settings
//! ([`fast_client`]) the tests connect with.
//!
//! Every broker runs on its own thread and runtime, so a test can "kill" it: dropping the runtime
//! aborts its tasks and closes its sockets without the graceful unregister, as a crash would.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use rmq_broker::{Broker, BrokerConfig, BrokerRole};
use rmq_namesrv::{NameServer, NamesrvConfig};
use rmq_remoting::body::{JsonBody, TopicRouteData};
use rmq_remoting::headers::admin::CreateTopicRequestHeader;
use rmq_remoting::headers::namesrv::GetRouteInfoRequestHeader;
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()),
        )
        .try_init();
}

/// A client that refreshes routes every second and heartbeats every 2 s (defaults 30 s), so a
/// test sees new topics, brokers and group members quickly.
pub fn fast_client(namesrv: &str) -> rmq_client::ClientConfig {
    rmq_client::ClientConfig {
        poll_name_server_interval: Duration::from_secs(1),
        heartbeat_broker_interval: Duration::from_secs(2),
        ..rmq_client::ClientConfig::new(namesrv)
    }
}

/// A nameserver in the test's runtime.
pub struct Namesrv {
    pub server: NameServer,
    pub addr: String,
    _dir: TempDir,
}

pub async fn start_namesrv() -> Namesrv {
    let dir = TempDir::new().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = NamesrvConfig {
        home: dir.path().to_path_buf(),
        ..Default::default()
    };
    let server = NameServer::start(config, listener).unwrap();
    let addr = server.local_addr().to_string();
    Namesrv {
        server,
        addr,
        _dir: dir,
    }
}

/// A broker on its own thread and runtime.
pub struct BrokerProc {
    pub addr: String,
    pub name: String,
    stop: Option<oneshot::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: Option<TempDir>,
}

/// A broker config for tests: port 0, temp store, small files.
pub fn broker_config(namesrv: &str, name: &str, id: i64, dir: &TempDir) -> BrokerConfig {
    BrokerConfig {
        broker_name: name.to_string(),
        broker_id: id,
        broker_role: if id == 0 {
            BrokerRole::AsyncMaster
        } else {
            BrokerRole::Slave
        },
        namesrv_addrs: vec![namesrv.to_string()],
        listen_port: 0,
        store_path_root_dir: dir.path().join("store"),
        mapped_file_size_commit_log: 16 << 20,
        mapped_file_size_consume_queue: 30_000 * 20,
        ..Default::default()
    }
}

impl BrokerProc {
    pub fn start(namesrv: &str, name: &str) -> BrokerProc {
        let dir = TempDir::new().unwrap();
        let config = broker_config(namesrv, name, 0, &dir);
        let mut b = BrokerProc::start_with(config);
        b._dir = Some(dir);
        b
    }

    pub fn start_with(config: BrokerConfig) -> BrokerProc {
        let name = config.broker_name.clone();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<bool>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let broker = Broker::start(config).await.expect("broker starts");
                addr_tx.send(broker.broker_addr()).unwrap();
                let graceful = stop_rx.await.unwrap_or(false);
                if graceful {
                    broker.shutdown().await;
                } else {
                    drop(broker);
                }
            });
            rt.shutdown_timeout(Duration::from_secs(2));
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("broker address");
        BrokerProc {
            addr,
            name,
            stop: Some(stop_tx),
            thread: Some(thread),
            _dir: None,
        }
    }

    fn finish(&mut self, graceful: bool) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(graceful);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Abrupt stop: tasks aborted, sockets closed, nothing unregistered.
    pub fn kill(mut self) {
        self.finish(false);
    }

    /// Graceful stop.
    pub fn stop(mut self) {
        self.finish(true);
    }
}

impl Drop for BrokerProc {
    fn drop(&mut self) {
        self.finish(false);
    }
}

/// Creates `topic` with `queues` read/write queues on each broker address.
pub async fn create_topic(brokers: &[&str], topic: &str, queues: i32) {
    let client = RemotingClient::default();
    for addr in brokers {
        let header = CreateTopicRequestHeader {
            topic: topic.to_string(),
            default_topic: "TBW102".into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: None,
            order: false,
        };
        let request = RemotingCommand::request_with(RequestCode::UPDATE_AND_CREATE_TOPIC, &header);
        let response = client
            .invoke(addr, request, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(
            response.is_success(),
            "create topic on {addr}: {:?}",
            response.remark
        );
    }
    client.shutdown();
}

/// The nameserver's route of `topic`, if any.
pub async fn route(namesrv: &str, topic: &str) -> Option<TopicRouteData> {
    let client = RemotingClient::default();
    let header = GetRouteInfoRequestHeader {
        topic: topic.to_string(),
        accept_standard_json_only: None,
    };
    let request = RemotingCommand::request_with(RequestCode::GET_ROUTEINFO_BY_TOPIC, &header);
    let response = client
        .invoke(namesrv, request, Duration::from_secs(5))
        .await
        .ok()?;
    client.shutdown();
    if !response.is_success() {
        return None;
    }
    TopicRouteData::decode(&response.body).ok()
}

/// Waits until the route of `topic` lists `brokers` broker names with queues.
pub async fn wait_route(namesrv: &str, topic: &str, brokers: usize) {
    wait_for(Duration::from_secs(20), || async {
        route(namesrv, topic)
            .await
            .is_some_and(|r| r.queue_datas.len() >= brokers)
    })
    .await;
}

/// Polls `cond` every 50 ms until it holds; panics after `timeout`.
pub async fn wait_for<F, Fut>(timeout: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !cond().await {
        assert!(Instant::now() < deadline, "condition not met within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
