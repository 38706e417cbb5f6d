//! A [`ClientInstance`]'s membership at the brokers: the heartbeat (its producer and consumer
//! groups; to every broker address when a consumer is registered, since consumers pull from
//! slaves too, to masters only otherwise), the CHECK_CLIENT_CONFIG a consumer sends before it
//! starts, and UNREGISTER_CLIENT.

use rmq_remoting::body::route::MASTER_ID;
use rmq_remoting::body::{CheckClientRequestBody, HeartbeatData, JsonBody, ProducerData, SubscriptionData};
use rmq_remoting::headers::client::UnregisterClientRequestHeader;
use rmq_remoting::{RemotingCommand, RequestCode};
use tracing::{debug, warn};

use super::ClientInstance;
use crate::error::{ClientError, Result};

impl ClientInstance {
    fn heartbeat_data(&self) -> HeartbeatData {
        let producers = self.producer_groups.lock().expect("producers lock");
        let consumers = self.consumers.lock().expect("consumers lock");
        HeartbeatData {
            client_id: self.client_id.clone(),
            producer_data_set: producers
                .iter()
                .map(|g| ProducerData {
                    group_name: g.clone(),
                })
                .collect(),
            consumer_data_set: consumers.values().map(|c| c.consumer_data()).collect(),
        }
    }

    fn heartbeat_targets(&self, all: bool) -> Vec<String> {
        let brokers = self.brokers.lock().expect("brokers lock");
        let mut targets: Vec<String> = brokers
            .values()
            .flat_map(|m| {
                m.iter()
                    .filter(|(id, _)| all || **id == MASTER_ID)
                    .map(|(_, a)| a.clone())
            })
            .collect();
        targets.sort();
        targets.dedup();
        targets
    }

    /// Sends a heartbeat to every broker (masters only when no consumer is registered).
    pub async fn send_heartbeat_to_all(&self) {
        let data = self.heartbeat_data();
        if data.producer_data_set.is_empty() && data.consumer_data_set.is_empty() {
            return;
        }
        let targets = self.heartbeat_targets(!data.consumer_data_set.is_empty());
        let body = data.encode();
        let timeout = self.config.request_timeout;
        let calls = targets.iter().map(|addr| {
            let request = RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body.clone());
            async move { (addr, self.remoting.invoke(addr, request, timeout).await) }
        });
        for (addr, result) in futures::future::join_all(calls).await {
            match result {
                Ok(r) if r.is_success() => {}
                Ok(r) => warn!(broker = %addr, code = r.code, remark = ?r.remark, "heartbeat refused"),
                Err(e) => debug!(broker = %addr, error = %e, "heartbeat failed"),
            }
        }
    }

    /// CHECK_CLIENT_CONFIG for each non-TAG subscription at one broker of its topic (Apache's
    /// `checkClientInBroker`, before a consumer starts). A refusal is an error, so a consumer
    /// whose expression the broker cannot use does not start; a topic without a route yet, or a
    /// broker that cannot be reached, is only logged, as Apache does.
    pub(crate) async fn check_client_in_broker(&self, group: &str, subs: &[SubscriptionData]) -> Result<()> {
        for sub in subs.iter().filter(|s| !s.is_tag_type()) {
            let route = self.route(&sub.topic).await.ok().flatten();
            let addr = route.and_then(|r| {
                let mut brokers = r.broker_datas;
                brokers.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
                let master = brokers
                    .iter()
                    .find_map(|b| b.broker_addrs.get(&MASTER_ID).cloned());
                master.or_else(|| {
                    brokers
                        .iter()
                        .find_map(|b| b.broker_addrs.values().next().cloned())
                })
            });
            let Some(addr) = addr else {
                warn!(topic = %sub.topic, "no broker known for the topic; its subscription is not checked");
                continue;
            };
            let body = CheckClientRequestBody {
                client_id: self.client_id.clone(),
                group: group.to_string(),
                subscription_data: Some(sub.clone()),
            };
            let request = RemotingCommand::request(RequestCode::CHECK_CLIENT_CONFIG).with_body(body.encode());
            match self
                .remoting
                .invoke(&addr, request, self.config.request_timeout)
                .await
            {
                Ok(r) if r.is_success() => {}
                Ok(r) => return Err(ClientError::broker(&addr, &r)),
                Err(e) => {
                    warn!(broker = %addr, error = %e, "could not check the subscription with the broker")
                }
            }
        }
        Ok(())
    }

    /// Removes a producer group and tells the masters.
    pub async fn unregister_producer(&self, group: &str) {
        self.producer_groups.lock().expect("producers lock").remove(group);
        self.unregister_client(Some(group), None, false).await;
    }

    pub(crate) async fn unregister_consumer(&self, group: &str) {
        self.consumers.lock().expect("consumers lock").remove(group);
        self.unregister_client(None, Some(group), true).await;
    }

    async fn unregister_client(&self, producer: Option<&str>, consumer: Option<&str>, all: bool) {
        let header = UnregisterClientRequestHeader {
            client_id: self.client_id.clone(),
            producer_group: producer.map(str::to_string),
            consumer_group: consumer.map(str::to_string),
        };
        let timeout = self.config.request_timeout;
        let targets = self.heartbeat_targets(all);
        let calls = targets.iter().map(|addr| {
            let request = RemotingCommand::request_with(RequestCode::UNREGISTER_CLIENT, &header);
            self.remoting.invoke(addr, request, timeout)
        });
        for result in futures::future::join_all(calls).await {
            if let Err(e) = result {
                debug!(error = %e, "unregister failed");
            }
        }
    }
}
