//! Registration with the nameservers: one task per nameserver, each with its own
//! [`RemotingClient`] (so an unreachable one never delays the others), sending the whole topic
//! table as REGISTER_BROKER at start, every `registerNameServerPeriod`, and at once after a
//! topic change ([`crate::state::BrokerState::request_register`]). The connection stays open
//! between registrations: the nameserver drops a broker's routes when its channel closes.
//!
//! A slave learns its master's broker and HA addresses from the replies; they are published on
//! [`crate::state::BrokerState::master`] for the replication client and the metadata sync.
//! A slave that has no master yet (it started before its master registered) registers again every
//! [`MASTER_SEEK_DELAY`] until a reply names one, instead of waiting a whole period.
//! At shutdown, [`unregister_all`] sends UNREGISTER_BROKER to every nameserver.

use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::body::RegisterBrokerBody;
use rmq_remoting::headers::namesrv::{
    RegisterBrokerRequestHeader, RegisterBrokerResponseHeader, UnregisterBrokerRequestHeader,
};
use rmq_remoting::net::{ClientConfig, RemotingClient};
use rmq_remoting::{CommandHeader, RemotingCommand, RequestCode};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::state::{BrokerState, MasterAddrs};

/// Wait before retrying a nameserver that failed.
const RETRY_DELAY: Duration = Duration::from_secs(3);

/// How often a slave without a master registers again to learn one.
pub const MASTER_SEEK_DELAY: Duration = Duration::from_secs(3);

/// Runs one nameserver's registration loop until `cancel`.
pub async fn register_loop(
    state: Arc<BrokerState>,
    namesrv: String,
    client: RemotingClient,
    cancel: CancellationToken,
) {
    let mut changes = state.register_signal.subscribe();
    // Apache keeps the period within [10 s, 60 s] whatever the config says: shorter floods the
    // nameservers, longer risks the 120 s expiry.
    let period = state
        .config
        .register_name_server_period
        .clamp(Duration::from_secs(10), Duration::from_secs(60));
    loop {
        let ok = tokio::select! {
            _ = cancel.cancelled() => break,
            ok = register_once(&state, &client, &namesrv) => ok,
        };
        let wait = if !ok {
            RETRY_DELAY.min(period)
        } else if seeking_master(&state) {
            MASTER_SEEK_DELAY.min(period)
        } else {
            period
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
}

/// Whether this is a slave that does not know its master's remoting address yet.
fn seeking_master(state: &BrokerState) -> bool {
    state.is_slave() && !matches!(&*state.master.borrow(), Some(m) if !m.broker_addr.is_empty())
}

/// Sends one REGISTER_BROKER; returns whether the nameserver accepted it.
pub async fn register_once(state: &BrokerState, client: &RemotingClient, namesrv: &str) -> bool {
    let body = RegisterBrokerBody {
        filter_server_list: Vec::new(),
        topic_config_serialize_wrapper: state.topics.wrapper(),
    }
    .encode_as(false);
    let header = RegisterBrokerRequestHeader {
        broker_name: state.config.broker_name.clone(),
        broker_addr: state.broker_addr.clone(),
        cluster_name: state.config.broker_cluster_name.clone(),
        ha_server_addr: state.ha_server_addr(),
        broker_id: state.config.broker_id,
        compressed: Some(false),
        body_crc32: Some(rmq_remoting::body::body_crc32(&body)),
    };
    let request = RemotingCommand::request_with(RequestCode::REGISTER_BROKER, &header).with_body(body);
    match client
        .invoke(namesrv, request, state.config.register_broker_timeout)
        .await
    {
        Ok(resp) if resp.is_success() => {
            debug!(namesrv, "registered with nameserver");
            if let Ok(h) = RegisterBrokerResponseHeader::from_ext_fields(&resp.ext_fields) {
                if let (Some(master_addr), Some(ha)) = (h.master_addr, h.ha_server_addr) {
                    if !master_addr.is_empty() {
                        state.set_master(MasterAddrs {
                            broker_addr: master_addr,
                            ha_addr: ha,
                        });
                    }
                }
            }
            true
        }
        Ok(resp) => {
            warn!(namesrv, code = resp.code, remark = ?resp.remark, "nameserver refused registration");
            false
        }
        Err(e) => {
            warn!(namesrv, error = %e, "cannot register with nameserver; will retry");
            false
        }
    }
}

/// Sends UNREGISTER_BROKER to every nameserver at once (best effort, bounded by a timeout).
pub async fn unregister_all(state: &BrokerState, clients: &[(String, RemotingClient)]) {
    let header = UnregisterBrokerRequestHeader {
        broker_name: state.config.broker_name.clone(),
        broker_addr: state.broker_addr.clone(),
        cluster_name: state.config.broker_cluster_name.clone(),
        broker_id: state.config.broker_id,
    };
    let calls = clients.iter().map(|(addr, client)| {
        let request = RemotingCommand::request_with(RequestCode::UNREGISTER_BROKER, &header);
        async move {
            match client.invoke(addr, request, Duration::from_secs(3)).await {
                Ok(r) if r.is_success() => info!(namesrv = %addr, "unregistered from nameserver"),
                Ok(r) => warn!(namesrv = %addr, code = r.code, "nameserver refused unregistration"),
                Err(e) => warn!(namesrv = %addr, error = %e, "cannot unregister from nameserver"),
            }
        }
    });
    futures::future::join_all(calls).await;
}

/// One client per nameserver, so each has its own connection and connect timeout.
pub fn clients_for(addrs: &[String]) -> Vec<(String, RemotingClient)> {
    addrs
        .iter()
        .map(|a| {
            let cfg = ClientConfig {
                connect_timeout: Duration::from_secs(3),
                ..ClientConfig::default()
            };
            (a.clone(), RemotingClient::new(cfg))
        })
        .collect()
}
