//! In-process harness for nameserver socket tests: a nameserver on 127.0.0.1:0 with its own temp
//! home, and a fake broker built on `RemotingClient` that registers the way a real broker does.

#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use rmq_namesrv::{NameServer, NamesrvConfig};
use rmq_remoting::body::{
    body_crc32, DataVersion, JsonBody, RegisterBrokerBody, TopicConfig, TopicRouteData,
};
use rmq_remoting::headers::namesrv::{GetRouteInfoRequestHeader, RegisterBrokerRequestHeader};
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{CommandHeader, RemotingCommand, RequestCode, ResponseCode};

/// Timeout of one RPC.
pub const RPC: Duration = Duration::from_secs(5);

/// A nameserver with its home directory.
pub struct TestNamesrv {
    /// The server.
    pub server: NameServer,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// Its home (kept alive as long as the server).
    pub home: tempfile::TempDir,
}

/// Starts a nameserver with a fresh home; `tweak` adjusts the config.
pub async fn start_namesrv(tweak: impl FnOnce(&mut NamesrvConfig)) -> TestNamesrv {
    let home = tempfile::tempdir().expect("temp home");
    let server = start_in(home.path(), tweak).await;
    let addr = server.local_addr().to_string();
    TestNamesrv { server, addr, home }
}

/// Starts a nameserver whose home is `home`.
pub async fn start_in(home: &std::path::Path, tweak: impl FnOnce(&mut NamesrvConfig)) -> NameServer {
    let mut config = NamesrvConfig {
        home: home.to_path_buf(),
        listen_port: 0,
        ..NamesrvConfig::default()
    };
    tweak(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    NameServer::start(config, listener).expect("namesrv starts")
}

/// One fake broker process: its own connection(s) through its own client.
pub struct FakeBroker {
    /// Its client; closing it closes the connection it registered on.
    pub client: RemotingClient,
    /// Register header.
    pub header: RegisterBrokerRequestHeader,
    /// Topics and version it registers.
    pub body: RegisterBrokerBody,
}

impl FakeBroker {
    /// A broker `name`/`id` at `addr` with `topics` (name, queues), version counter 1.
    pub fn new(name: &str, id: i64, addr: &str, topics: &[(&str, i32)]) -> FakeBroker {
        let header = RegisterBrokerRequestHeader {
            broker_name: name.into(),
            broker_addr: addr.into(),
            cluster_name: "DefaultCluster".into(),
            ha_server_addr: format!("{addr}-ha"),
            broker_id: id,
            compressed: Some(false),
            body_crc32: None,
        };
        let mut body = RegisterBrokerBody::default();
        let wrapper = &mut body.topic_config_serialize_wrapper;
        wrapper.data_version = DataVersion {
            counter: 1,
            timestamp: 1_700_000_000_000,
        };
        for (topic, queues) in topics {
            wrapper
                .topic_config_table
                .insert(topic.to_string(), TopicConfig::new(*topic, *queues));
        }
        FakeBroker {
            client: RemotingClient::default(),
            header,
            body,
        }
    }

    /// The REGISTER_BROKER request as a real broker builds it (CRC over the sent bytes).
    pub fn register_request(&self, compressed: bool) -> RemotingCommand {
        let bytes = self.body.encode_as(compressed);
        let header = RegisterBrokerRequestHeader {
            compressed: Some(compressed),
            body_crc32: Some(body_crc32(&bytes)),
            ..self.header.clone()
        };
        RemotingCommand::request_with(RequestCode::REGISTER_BROKER, &header).with_body(bytes)
    }

    /// Registers with `namesrv` and returns the reply.
    pub async fn register(&self, namesrv: &str) -> RemotingCommand {
        self.client
            .invoke(namesrv, self.register_request(false), RPC)
            .await
            .expect("register answered")
    }

    /// Closes its connection to `namesrv`, as a crashed broker's socket would.
    pub fn disconnect(&self, namesrv: &str) {
        self.client.close_connection(namesrv);
    }
}

/// A plain client request with a header and no body.
pub async fn call<H: CommandHeader>(
    client: &RemotingClient,
    addr: &str,
    code: RequestCode,
    h: &H,
) -> RemotingCommand {
    client
        .invoke(addr, RemotingCommand::request_with(code, h), RPC)
        .await
        .expect("answered")
}

/// GET_ROUTEINFO_BY_TOPIC; `None` on TOPIC_NOT_EXIST.
pub async fn route(client: &RemotingClient, addr: &str, topic: &str) -> Option<TopicRouteData> {
    let h = GetRouteInfoRequestHeader {
        topic: topic.into(),
        accept_standard_json_only: None,
    };
    let reply = call(client, addr, RequestCode::GET_ROUTEINFO_BY_TOPIC, &h).await;
    if reply.code == ResponseCode::TOPIC_NOT_EXIST.code() {
        return None;
    }
    assert!(reply.is_success(), "route of {topic}: {reply:?}");
    Some(TopicRouteData::decode(&reply.body).expect("route body decodes"))
}

/// Polls `check` until it returns true or 10 s pass.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Raw bytes helper.
pub fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}
