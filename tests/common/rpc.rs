//! Single blocking requests with the remoting crate's codec, one fresh connection each: the raw
//! exchange ([`request`]) and the few namesrv and broker calls the harness needs (cluster info,
//! routes, topic creation).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::BytesMut;
use rmq_remoting::{RemotingCodec, RemotingCommand, RequestCode};
use tokio_util::codec::{Decoder, Encoder};

use super::wait::{wait_until, READY_TIMEOUT};

/// One blocking request/response exchange on a fresh connection.
pub fn request(addr: &str, mut cmd: RemotingCommand, timeout: Duration) -> std::io::Result<RemotingCommand> {
    let sa: SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    let mut stream = TcpStream::connect_timeout(&sa, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    cmd.opaque = 1;
    let mut codec = RemotingCodec::default();
    let mut out = BytesMut::new();
    codec.encode(cmd, &mut out).map_err(std::io::Error::other)?;
    stream.write_all(&out)?;
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        if let Some(resp) = codec.decode(&mut buf).map_err(std::io::Error::other)? {
            return Ok(resp);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The namesrv's GET_BROKER_CLUSTER_INFO body as text, if it answered SUCCESS.
pub fn cluster_info(namesrv: &str) -> Option<String> {
    let cmd = RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO);
    let resp = request(namesrv, cmd, Duration::from_secs(3)).ok()?;
    resp.is_success()
        .then(|| String::from_utf8_lossy(&resp.body).into_owned())
}

/// Waits until `broker_addr` appears in the cluster info of `namesrv`.
pub fn wait_registered(namesrv: &str, broker_addr: &str, timeout: Duration) {
    let quoted = format!("\"{broker_addr}\"");
    wait_until(
        &format!("broker {broker_addr} registered at namesrv {namesrv}"),
        timeout,
        || {
            cluster_info(namesrv)
                .filter(|body| body.contains(&quoted))
                .map(|_| ())
        },
    );
}

/// Creates (or updates) `topic` on the broker at `broker_addr` with `queues` read and write
/// queues, perm RW, the way `mqadmin updateTopic -b` does.
pub fn create_topic(broker_addr: &str, topic: &str, queues: i32) {
    let header = rmq_remoting::headers::admin::CreateTopicRequestHeader {
        topic: topic.to_string(),
        default_topic: "TBW102".to_string(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".to_string(),
        topic_sys_flag: Some(0),
        order: false,
    };
    let cmd = RemotingCommand::request_with(RequestCode::UPDATE_AND_CREATE_TOPIC, &header);
    let resp = request(broker_addr, cmd, Duration::from_secs(10)).expect("UPDATE_AND_CREATE_TOPIC");
    assert!(
        resp.is_success(),
        "creating topic {topic} at {broker_addr} failed: {:?}",
        resp.remark
    );
}

/// The namesrv's route of `topic` as JSON text, if it has one.
pub fn route(namesrv: &str, topic: &str) -> Option<String> {
    let header = rmq_remoting::headers::namesrv::GetRouteInfoRequestHeader {
        topic: topic.to_string(),
        accept_standard_json_only: None,
    };
    let cmd = RemotingCommand::request_with(RequestCode::GET_ROUTEINFO_BY_TOPIC, &header);
    let resp = request(namesrv, cmd, Duration::from_secs(3)).ok()?;
    resp.is_success()
        .then(|| String::from_utf8_lossy(&resp.body).into_owned())
}

/// Waits until the namesrv has a route for `topic` that names `broker_name`.
pub fn wait_route(namesrv: &str, topic: &str, broker_name: &str) -> String {
    let quoted = format!("\"{broker_name}\"");
    wait_until(
        &format!("route of {topic} at {namesrv} naming {broker_name}"),
        READY_TIMEOUT,
        || route(namesrv, topic).filter(|r| r.contains(&quoted)),
    )
}
