//! The broker's request dispatcher: one match arm per request code, one file per request
//! family. Header errors become SYSTEM_ERROR replies naming the field (in the remoting server),
//! unknown codes REQUEST_CODE_NOT_SUPPORTED; no input makes a handler panic.

pub mod admin;
pub mod client;
pub mod offset;
pub mod pull;
pub mod retry;
pub mod send;

use std::sync::Arc;

use rmq_remoting::net::{Connection, HandlerError, RequestHandler};
use rmq_remoting::{RemotingCommand, RequestCode};

use crate::state::BrokerState;

/// Apache's FAQ link, appended to some remarks as the Java broker does.
pub const FAQ_URL: &str = "http://rocketmq.apache.org/docs/faq/";

/// Serves client and admin requests for one broker.
#[derive(Debug, Clone)]
pub struct BrokerHandler {
    state: Arc<BrokerState>,
}

impl BrokerHandler {
    /// A handler over `state`.
    pub fn new(state: Arc<BrokerState>) -> Self {
        BrokerHandler { state }
    }
}

impl RequestHandler for BrokerHandler {
    async fn handle(
        &self,
        conn: &Connection,
        req: RemotingCommand,
    ) -> Result<Option<RemotingCommand>, HandlerError> {
        let state = &self.state;
        let code = req.request_code().map_err(HandlerError::NotSupported)?;
        use RequestCode as C;
        match code {
            C::SEND_MESSAGE | C::SEND_MESSAGE_V2 | C::SEND_BATCH_MESSAGE => {
                send::handle(state, conn, req).await
            }
            C::PULL_MESSAGE => pull::handle(state, conn, req).await,
            C::QUERY_CONSUMER_OFFSET
            | C::UPDATE_CONSUMER_OFFSET
            | C::GET_MAX_OFFSET
            | C::GET_MIN_OFFSET
            | C::SEARCH_OFFSET_BY_TIMESTAMP
            | C::GET_EARLIEST_MSG_STORETIME
            | C::VIEW_MESSAGE_BY_ID => offset::handle(state, code, req).map(Some),
            C::HEART_BEAT
            | C::UNREGISTER_CLIENT
            | C::GET_CONSUMER_LIST_BY_GROUP
            | C::LOCK_BATCH_MQ
            | C::UNLOCK_BATCH_MQ
            | C::CHECK_CLIENT_CONFIG => client::handle(state, conn, code, req).await.map(Some),
            C::CONSUMER_SEND_MSG_BACK => retry::handle(state, req).await.map(Some),
            C::UPDATE_AND_CREATE_TOPIC
            | C::DELETE_TOPIC_IN_BROKER
            | C::GET_ALL_TOPIC_CONFIG
            | C::GET_BROKER_CONFIG
            | C::GET_BROKER_RUNTIME_INFO
            | C::GET_TOPIC_STATS_INFO
            | C::GET_CONSUME_STATS
            | C::GET_CONSUMER_CONNECTION_LIST
            | C::GET_ALL_CONSUMER_OFFSET
            | C::GET_ALL_DELAY_OFFSET
            | C::GET_ALL_SUBSCRIPTIONGROUP_CONFIG
            | C::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
            | C::DELETE_SUBSCRIPTIONGROUP
            | C::GET_PRODUCER_CONNECTION_LIST => admin::handle(state, code, req).await.map(Some),
            other => Err(HandlerError::NotSupported(other.code())),
        }
    }

    fn on_connection_closed(&self, conn: &Connection) {
        for note in self.state.clients.connection_closed(conn.id()) {
            client::notify(&self.state, note);
        }
    }
}

/// Writes topics.json now (after a topic change, before the change is acknowledged).
pub async fn persist_topics(state: &Arc<BrokerState>) {
    persist(state, crate::server::write_topics, "topics.json").await;
}

/// Writes subscriptionGroup.json now (after an admin change to the groups).
pub async fn persist_groups(state: &Arc<BrokerState>) {
    persist(state, crate::server::write_groups, "subscriptionGroup.json").await;
}

/// Writes consumerOffset.json (and the groups) now if they changed.
pub async fn persist_offsets(state: &Arc<BrokerState>) {
    persist(state, crate::server::write_offsets, "consumerOffset.json").await;
}

/// Runs a blocking config-file writer off the runtime. A failure is logged, not returned: the
/// change is in memory and the periodic flush (or shutdown) retries the file.
async fn persist(state: &Arc<BrokerState>, job: fn(&BrokerState) -> std::io::Result<()>, file: &'static str) {
    let s = state.clone();
    match tokio::task::spawn_blocking(move || job(&s)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, file, "cannot write config file"),
        Err(e) => tracing::error!(error = %e, file, "config file writer failed"),
    }
}
