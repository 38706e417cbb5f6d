//! Talking to the nameservers (seed article 000): nameservers are independent and each knows
//! every route, so a client starts at a random one of its list, sticks to the one that works,
//! and moves to the next when a call fails. A route query tries each nameserver in turn until
//! one answers.
//!
//! [`NameServers`] holds the list and the index of the current one; the rotation is plain code
//! over that index, the query is the only IO.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rmq_remoting::body::{JsonBody, TopicRouteData};
use rmq_remoting::headers::namesrv::GetRouteInfoRequestHeader;
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tracing::{debug, warn};

use crate::error::{ClientError, Result};

/// The nameserver list and which one is in use.
#[derive(Debug)]
pub struct NameServers {
    addrs: Vec<String>,
    current: AtomicUsize,
}

/// Splits `host:port;host:port` (RocketMQ's `namesrvAddr` form; commas accepted too).
pub fn parse_addr_list(list: &str) -> Vec<String> {
    list.split([';', ','].as_ref())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl NameServers {
    /// A list whose first choice is random.
    pub fn new(addrs: Vec<String>) -> Result<Self> {
        let start = if addrs.is_empty() {
            0
        } else {
            rand::random::<usize>() % addrs.len()
        };
        Self::starting_at(addrs, start)
    }

    /// A list whose first choice is `addrs[start]`.
    pub fn starting_at(addrs: Vec<String>, start: usize) -> Result<Self> {
        if addrs.is_empty() {
            return Err(ClientError::Invalid("the nameserver list is empty".into()));
        }
        let start = start % addrs.len();
        Ok(NameServers {
            addrs,
            current: AtomicUsize::new(start),
        })
    }

    /// Every address.
    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// The nameserver in use.
    pub fn current(&self) -> &str {
        &self.addrs[self.current.load(Ordering::Relaxed) % self.addrs.len()]
    }

    /// The order to try: the current one, then the following ones, wrapping.
    pub fn order(&self) -> Vec<usize> {
        let n = self.addrs.len();
        let start = self.current.load(Ordering::Relaxed) % n;
        (0..n).map(|i| (start + i) % n).collect()
    }

    /// Stick to `index`: it answered.
    pub fn mark_ok(&self, index: usize) {
        self.current.store(index % self.addrs.len(), Ordering::Relaxed);
    }

    /// `index` failed: if it is the current one, move to the next.
    pub fn mark_failed(&self, index: usize) {
        let n = self.addrs.len();
        let _ =
            self.current
                .compare_exchange(index % n, (index + 1) % n, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Sends `request` to the current nameserver, moving on to the next ones on transport
    /// failure; returns the first answer and who gave it.
    pub async fn invoke(
        &self,
        client: &RemotingClient,
        request: RemotingCommand,
        timeout: Duration,
    ) -> Result<(String, RemotingCommand)> {
        let mut last_err = None;
        for index in self.order() {
            let addr = &self.addrs[index];
            match client.invoke(addr, request.clone(), timeout).await {
                Ok(response) => {
                    self.mark_ok(index);
                    return Ok((addr.clone(), response));
                }
                Err(e) => {
                    warn!(namesrv = %addr, error = %e, "nameserver call failed; trying the next one");
                    self.mark_failed(index);
                    last_err = Some(e);
                }
            }
        }
        Err(last_err
            .map(ClientError::Net)
            .unwrap_or_else(|| ClientError::Invalid("no nameserver".into())))
    }

    /// GET_ROUTEINFO_BY_TOPIC; `Ok(None)` when the nameserver says the topic does not exist.
    pub async fn query_route(
        &self,
        client: &RemotingClient,
        topic: &str,
        timeout: Duration,
    ) -> Result<Option<TopicRouteData>> {
        let header = GetRouteInfoRequestHeader {
            topic: topic.to_string(),
            accept_standard_json_only: None,
        };
        let request = RemotingCommand::request_with(RequestCode::GET_ROUTEINFO_BY_TOPIC, &header);
        let (addr, response) = self.invoke(client, request, timeout).await?;
        if response.code == ResponseCode::TOPIC_NOT_EXIST.code() {
            debug!(topic, namesrv = %addr, "topic not known to the nameserver");
            return Ok(None);
        }
        if !response.is_success() {
            return Err(ClientError::broker(&addr, &response));
        }
        let route = TopicRouteData::decode(&response.body)
            .map_err(|e| ClientError::BadBody(format!("route of {topic} from {addr}: {e}")))?;
        Ok(Some(route))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Vec<String> {
        vec!["a:1".into(), "b:1".into(), "c:1".into()]
    }

    #[test]
    fn parses_rocketmq_lists() {
        assert_eq!(parse_addr_list(" a:1;b:2 ,c:3;"), ["a:1", "b:2", "c:3"]);
        assert!(parse_addr_list("").is_empty());
        assert!(NameServers::new(Vec::new()).is_err());
    }

    #[test]
    fn sticks_to_working_one_and_moves_on_failure() {
        let ns = NameServers::starting_at(list(), 1).unwrap();
        assert_eq!(ns.current(), "b:1");
        assert_eq!(ns.order(), [1, 2, 0]);
        ns.mark_ok(1);
        assert_eq!(ns.current(), "b:1");
        ns.mark_failed(1);
        assert_eq!(ns.current(), "c:1");
        // A failure of a nameserver that is not current does not move the choice.
        ns.mark_failed(0);
        assert_eq!(ns.current(), "c:1");
        ns.mark_failed(2);
        assert_eq!(ns.current(), "a:1");
        assert_eq!(ns.order(), [0, 1, 2]);
    }

    #[test]
    fn random_start_covers_the_list() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            seen.insert(NameServers::new(list()).unwrap().current().to_string());
        }
        assert_eq!(seen.len(), 3);
    }

    #[tokio::test]
    async fn route_query_skips_dead_nameservers() {
        // Two addresses nobody listens on, then one that answers TOPIC_NOT_EXIST.
        let dead1 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (d1, d2) = (
            dead1.local_addr().unwrap().to_string(),
            dead2.local_addr().unwrap().to_string(),
        );
        drop((dead1, dead2));
        let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live_addr = live.local_addr().unwrap().to_string();
        let cancel = tokio_util::sync::CancellationToken::new();
        let handler = std::sync::Arc::new(NotExist);
        let server = tokio::spawn(rmq_remoting::net::serve(
            live,
            handler,
            rmq_remoting::net::ServerConfig::default(),
            cancel.clone(),
        ));
        let ns = NameServers::starting_at(vec![d1, d2, live_addr.clone()], 0).unwrap();
        let client = RemotingClient::default();
        let route = ns
            .query_route(&client, "T", Duration::from_secs(3))
            .await
            .unwrap();
        assert!(route.is_none());
        assert_eq!(ns.current(), live_addr);
        cancel.cancel();
        let _ = server.await;
    }

    struct NotExist;

    impl rmq_remoting::net::RequestHandler for NotExist {
        async fn handle(
            &self,
            _conn: &rmq_remoting::net::Connection,
            req: RemotingCommand,
        ) -> Result<Option<RemotingCommand>, rmq_remoting::net::HandlerError> {
            Ok(Some(req.reply(
                ResponseCode::TOPIC_NOT_EXIST,
                Some("No topic route info".to_string()),
            )))
        }
    }
}
