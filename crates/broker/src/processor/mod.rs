//! The broker's request dispatcher: one match arm per request code, one file per request
//! family. Header errors become SYSTEM_ERROR replies naming the field (in the remoting server),
//! unknown codes REQUEST_CODE_NOT_SUPPORTED; no input makes a handler panic.

pub mod acl_admin;
pub mod admin;
pub mod client;
pub mod direct;
pub mod end_transaction;
pub mod offset;
pub mod pull;
pub mod query;
pub mod reset;
pub mod resume_half;
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
    /// Dispatches, timing the request for `rocketmq_rpc_latency` when metrics are on.
    async fn handle(
        &self,
        conn: &Connection,
        req: RemotingCommand,
    ) -> Result<Option<RemotingCommand>, HandlerError> {
        let mut long_polling = false;
        if !self.state.metrics.enabled() {
            return self.dispatch(conn, req, &mut long_polling).await;
        }
        let (code, oneway) = (req.code, req.is_oneway());
        let started = std::time::Instant::now();
        let outcome = self.dispatch(conn, req, &mut long_polling).await;
        self.state
            .metrics
            .rpc
            .record(code, &outcome, oneway, long_polling, started.elapsed());
        outcome
    }

    fn on_connection_closed(&self, conn: &Connection) {
        for note in self.state.clients.connection_closed(conn.id()) {
            client::notify(&self.state, note);
        }
    }
}

impl BrokerHandler {
    /// One match arm per request code; `long_polling` is set by a pull that was held.
    async fn dispatch(
        &self,
        conn: &Connection,
        req: RemotingCommand,
        long_polling: &mut bool,
    ) -> Result<Option<RemotingCommand>, HandlerError> {
        let state = &self.state;
        if let Some(acl) = state.acl.get() {
            let peer = conn.peer().ip().to_string();
            if let Err(remark) = acl.check(&peer, &req) {
                tracing::warn!(%peer, code = req.code, reason = %remark, "request refused by ACL");
                return Ok((!req.is_oneway()).then(|| {
                    req.reply(
                        rmq_remoting::ResponseCode::SYSTEM_ERROR,
                        Some(format!("org.apache.rocketmq.acl.common.AclException: {remark}")),
                    )
                }));
            }
        }
        let code = req.request_code().map_err(HandlerError::NotSupported)?;
        use RequestCode as C;
        match code {
            C::SEND_MESSAGE | C::SEND_MESSAGE_V2 | C::SEND_BATCH_MESSAGE => {
                send::handle(state, conn, req).await
            }
            C::PULL_MESSAGE => pull::handle(state, conn, req, long_polling).await,
            C::QUERY_MESSAGE => query::handle(state, req).await.map(Some),
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
            C::INVOKE_BROKER_TO_RESET_OFFSET => reset::handle(state, req).map(Some),
            C::CONSUMER_SEND_MSG_BACK => retry::handle(state, req).await.map(Some),
            C::END_TRANSACTION => end_transaction::handle(state, conn, req).await,
            C::CONSUME_MESSAGE_DIRECTLY => direct::handle(state, req).await.map(Some),
            C::RESUME_CHECK_HALF_MESSAGE => resume_half::handle(state, req).await.map(Some),
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
            C::UPDATE_AND_CREATE_ACL_CONFIG
            | C::DELETE_ACL_CONFIG
            | C::GET_BROKER_CLUSTER_ACL_INFO
            | C::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG
            | C::GET_BROKER_CLUSTER_ACL_CONFIG => acl_admin::handle(state, code, req).await.map(Some),
            other => Err(HandlerError::NotSupported(other.code())),
        }
    }
}
