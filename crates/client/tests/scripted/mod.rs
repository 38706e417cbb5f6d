//! Scripted servers for client tests that need no real broker: a broker answering sends as told,
//! a nameserver answering routes from a table the test edits, and the helpers that start them.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmq_remoting::body::{BrokerData, JsonBody, QueueData, TopicRouteData};
use rmq_remoting::headers::send::SendMessageResponseHeader;
use rmq_remoting::net::{serve, Connection, HandlerError, RequestHandler, ServerConfig};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Read and write (`PermName` 6).
pub const RW: i32 = 6;
/// Read only, what `wipeWritePerm` leaves.
pub const READ_ONLY: i32 = 4;

/// How a scripted broker answers sends.
#[derive(Clone, Copy)]
pub enum Behaviour {
    Ok,
    NoPermission,
    Slow(Duration),
    /// Stored, but the slave did not acknowledge in time.
    FlushSlaveTimeout,
    /// A code the producer does not retry.
    SystemBusy,
}

/// A broker that answers sends as its [`Behaviour`] says and counts them.
pub struct FakeBroker {
    behaviour: Behaviour,
    /// Sends received.
    pub sends: AtomicUsize,
}

impl FakeBroker {
    /// A broker that answers every send with `behaviour`.
    pub fn new(behaviour: Behaviour) -> FakeBroker {
        FakeBroker {
            behaviour,
            sends: AtomicUsize::new(0),
        }
    }
}

impl RequestHandler for FakeBroker {
    async fn handle(
        &self,
        _c: &Connection,
        req: RemotingCommand,
    ) -> Result<Option<RemotingCommand>, HandlerError> {
        if req.code != RequestCode::SEND_MESSAGE_V2.code() {
            return Ok(Some(req.reply(ResponseCode::SUCCESS, None)));
        }
        let n = self.sends.fetch_add(1, Ordering::SeqCst);
        let ok = req.reply_with(&SendMessageResponseHeader::new(format!("ID{n}"), 0, n as i64));
        match self.behaviour {
            Behaviour::Ok => Ok(Some(ok)),
            Behaviour::NoPermission => Ok(Some(req.reply(
                ResponseCode::NO_PERMISSION,
                Some("the broker is not writable".into()),
            ))),
            Behaviour::Slow(d) => {
                tokio::time::sleep(d).await;
                Ok(Some(ok))
            }
            Behaviour::FlushSlaveTimeout => {
                let mut stored = ok;
                stored.code = ResponseCode::FLUSH_SLAVE_TIMEOUT.code();
                Ok(Some(stored))
            }
            Behaviour::SystemBusy => Ok(Some(req.reply(
                ResponseCode::SYSTEM_BUSY,
                Some("[REJECTREQUEST]system busy".into()),
            ))),
        }
    }
}

/// A nameserver answering from a table the test edits; TOPIC_NOT_EXIST for other topics.
#[derive(Default)]
pub struct ScriptedNamesrv {
    routes: Mutex<HashMap<String, TopicRouteData>>,
}

impl ScriptedNamesrv {
    /// Sets (or replaces) the route of `topic`.
    pub fn set(&self, topic: &str, route: TopicRouteData) {
        self.routes.lock().unwrap().insert(topic.to_string(), route);
    }
}

impl RequestHandler for ScriptedNamesrv {
    async fn handle(
        &self,
        _c: &Connection,
        req: RemotingCommand,
    ) -> Result<Option<RemotingCommand>, HandlerError> {
        if req.code != RequestCode::GET_ROUTEINFO_BY_TOPIC.code() {
            return Ok(Some(req.reply(ResponseCode::SUCCESS, None)));
        }
        let topic = req.ext_fields.get("topic").cloned().unwrap_or_default();
        let route = self.routes.lock().unwrap().get(&topic).cloned();
        Ok(Some(match route {
            Some(r) => req.reply(ResponseCode::SUCCESS, None).with_body(r.encode()),
            None => req.reply(
                ResponseCode::TOPIC_NOT_EXIST,
                Some(format!(
                    "No topic route info in name server for the topic: {topic}"
                )),
            ),
        }))
    }
}

/// Serves `handler` on a fresh loopback port until `cancel`; returns its address.
pub async fn spawn<H: RequestHandler>(handler: Arc<H>, cancel: &CancellationToken) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(serve(listener, handler, ServerConfig::default(), cancel.clone()));
    addr
}

/// A route over `(broker name, master address, perm)`, 4 queues each.
pub fn route(brokers: &[(&str, &str, i32)]) -> TopicRouteData {
    let mut route = TopicRouteData::default();
    for (name, addr, perm) in brokers {
        let mut bd = BrokerData::new("C", *name);
        bd.broker_addrs.insert(0, addr.to_string());
        route.broker_datas.push(bd);
        route.queue_datas.push(QueueData {
            broker_name: name.to_string(),
            perm: *perm,
            read_queue_nums: 4,
            write_queue_nums: 4,
            topic_sys_flag: 0,
        });
    }
    route
}
