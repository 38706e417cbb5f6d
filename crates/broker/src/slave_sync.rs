//! A slave's metadata sync (Apache's `SlaveSynchronize`): every 10 s (first after 3 s) it
//! copies the master's topic table, consumer offsets, delay offsets and subscription groups
//! with GET_ALL_TOPIC_CONFIG, GET_ALL_CONSUMER_OFFSET, GET_ALL_DELAY_OFFSET and
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG, so that a consumer switching to the slave resumes where it
//! was. The master's address comes from [`crate::state::BrokerState::master`].
//!
//! The sync runs every 10 s, so a topic created just before its master died would be unknown to
//! the slave for good although its records were replicated. [`learn_replicated_topics`] closes
//! that hole: every queue that replicated records fill (and every queue on disk at start and
//! after each sync) makes its topic servable on the slave.

use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::body::{from_fastjson, TopicConfigSerializeWrapper};
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

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
            // Keep topics the master's table may not list yet but whose records are here.
            learn_replicated_topics(state, state.store.queues().iter().map(|(t, q)| (t.as_str(), *q)));
            crate::tables::persist_topics(state).await;
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

/// Makes the topics of replicated queues known to this slave (see the module doc), logging and
/// persisting what it learned. Cheap when every topic is known: one read lock, one lookup each.
pub fn learn_replicated_topics<'a>(
    state: &Arc<BrokerState>,
    queues: impl IntoIterator<Item = (&'a str, i32)>,
) {
    let learned = state.topics.learn_queues(queues, crate::state::now_ms());
    if learned.is_empty() {
        return;
    }
    info!(topics = ?learned, "learned topics from replicated records; serving them before the master's metadata sync");
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let state = state.clone();
        rt.spawn(async move { crate::tables::persist_topics(&state).await });
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
