//! A slave's metadata sync (Apache's `SlaveSynchronize`): every 10 s (first after 3 s) it
//! copies the master's topic table, consumer offsets, delay offsets and subscription groups
//! with GET_ALL_TOPIC_CONFIG, GET_ALL_CONSUMER_OFFSET, GET_ALL_DELAY_OFFSET and
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG, so that a consumer switching to the slave resumes where it
//! was. The master's address comes from [`crate::state::BrokerState::master`].

use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::body::{from_fastjson, TopicConfigSerializeWrapper};
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::groups::SubscriptionGroupWrapper;
use crate::offsets::{DelayOffsetBody, OffsetTableBody};
use crate::state::BrokerState;

const FIRST_DELAY: Duration = Duration::from_secs(3);
const PERIOD: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(3);

async fn fetch<T: DeserializeOwned>(client: &RemotingClient, master: &str, code: RequestCode) -> Option<T> {
    match client
        .invoke(master, RemotingCommand::request(code), TIMEOUT)
        .await
    {
        Ok(r) if r.is_success() => match from_fastjson(&r.body) {
            Ok(v) => Some(v),
            Err(e) => {
                warn!(%master, ?code, error = %e, "master sent a body that does not parse");
                None
            }
        },
        Ok(r) => {
            debug!(%master, ?code, code = r.code, "master refused a sync request");
            None
        }
        Err(e) => {
            debug!(%master, error = %e, "cannot reach master for metadata sync");
            None
        }
    }
}

/// Copies the master's tables once.
pub async fn sync_once(state: &Arc<BrokerState>, client: &RemotingClient, master: &str) {
    if let Some(w) =
        fetch::<TopicConfigSerializeWrapper>(client, master, RequestCode::GET_ALL_TOPIC_CONFIG).await
    {
        if state.topics.replace_all(w) {
            crate::processor::persist_topics(state).await;
        }
    }
    if let Some(o) = fetch::<OffsetTableBody>(client, master, RequestCode::GET_ALL_CONSUMER_OFFSET).await {
        state.offsets.load(o);
    }
    if let Some(d) = fetch::<DelayOffsetBody>(client, master, RequestCode::GET_ALL_DELAY_OFFSET).await {
        state.delay_offsets.load(d);
        state.delay_offsets.dirty().mark();
    }
    if let Some(g) =
        fetch::<SubscriptionGroupWrapper>(client, master, RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG).await
    {
        state.groups.load(g);
        state.groups.dirty().mark();
    }
}

/// Runs the sync until `cancel`.
pub async fn run(state: Arc<BrokerState>, cancel: CancellationToken) {
    let client = RemotingClient::default();
    let mut wait = FIRST_DELAY;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = PERIOD;
        let master = state
            .master
            .borrow()
            .as_ref()
            .map(|m| m.broker_addr.clone())
            .filter(|a| !a.is_empty());
        if let Some(master) = master {
            sync_once(&state, &client, &master).await;
        }
    }
    client.shutdown();
}
