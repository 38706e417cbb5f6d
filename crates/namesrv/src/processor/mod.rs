//! [`NamesrvHandler`]: turns requests into calls on the route table, the KV store and the config.
//!
//! One file per request family: [`broker`] (registration, data version), [`route`] (routes,
//! cluster info, topic list, write permission, topic deletion), [`kv`] (KV config) and
//! [`config`] (namesrv config). Each function decodes the typed header (a missing or bad field
//! becomes a SYSTEM_ERROR naming it, through `HandlerError::Header`), checks the body, and only
//! then touches a table, so a bad request changes nothing.
//!
//! Unknown codes are answered REQUEST_CODE_NOT_SUPPORTED. (Apache's namesrv answers nothing to
//! them and lets the caller time out; an explicit error is kinder and no client depends on the
//! silence.)

use std::sync::Arc;

use rmq_remoting::net::{Connection, HandlerError, RequestHandler};
use rmq_remoting::{RemotingCommand, RequestCode};
use tracing::info;

use crate::state::State;

mod broker;
mod config;
mod kv;
mod route;

/// The nameserver's request handler.
#[derive(Debug)]
pub(crate) struct NamesrvHandler {
    state: Arc<State>,
}

impl NamesrvHandler {
    pub(crate) fn new(state: Arc<State>) -> Self {
        NamesrvHandler { state }
    }
}

impl RequestHandler for NamesrvHandler {
    /// Dispatches, timing the request for `rocketmq_rpc_latency` when metrics are on.
    async fn handle(
        &self,
        conn: &Connection,
        req: RemotingCommand,
    ) -> Result<Option<RemotingCommand>, HandlerError> {
        if !self.state.metrics.enabled() {
            return self.dispatch(conn, req).await;
        }
        let (code, oneway) = (req.code, req.is_oneway());
        let started = std::time::Instant::now();
        let outcome = self.dispatch(conn, req).await;
        self.state
            .metrics
            .rpc
            .record(code, &outcome, oneway, false, started.elapsed());
        outcome
    }

    fn on_connection_closed(&self, conn: &Connection) {
        let gone = self.state.routes_mut().connection_closed(conn.id());
        for addr in gone {
            info!(broker = %rmq_remoting::clip(&addr), peer = %conn.peer(), "broker connection closed; broker removed");
        }
    }
}

impl NamesrvHandler {
    /// One match arm per request code.
    async fn dispatch(
        &self,
        conn: &Connection,
        req: RemotingCommand,
    ) -> Result<Option<RemotingCommand>, HandlerError> {
        let state = &self.state;
        let code = req.request_code().map_err(HandlerError::NotSupported)?;
        let reply = match code {
            RequestCode::REGISTER_BROKER => broker::register(state, conn, &req).await?,
            RequestCode::UNREGISTER_BROKER => broker::unregister(state, &req)?,
            RequestCode::QUERY_DATA_VERSION => broker::query_data_version(state, &req)?,
            RequestCode::GET_ROUTEINFO_BY_TOPIC => route::topic_route(state, &req)?,
            RequestCode::GET_BROKER_CLUSTER_INFO => route::cluster_info(state, &req),
            RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => route::topic_list(state, &req),
            RequestCode::GET_TOPICS_BY_CLUSTER => route::topics_by_cluster(state, &req)?,
            RequestCode::WIPE_WRITE_PERM_OF_BROKER => route::wipe_write_perm(state, &req)?,
            RequestCode::ADD_WRITE_PERM_OF_BROKER => route::add_write_perm(state, &req)?,
            RequestCode::DELETE_TOPIC_IN_NAMESRV => route::delete_topic(state, &req)?,
            RequestCode::PUT_KV_CONFIG => kv::put(state, &req).await?,
            RequestCode::GET_KV_CONFIG => kv::get(state, &req)?,
            RequestCode::DELETE_KV_CONFIG => kv::delete(state, &req).await?,
            RequestCode::GET_KVLIST_BY_NAMESPACE => kv::list(state, &req)?,
            RequestCode::GET_NAMESRV_CONFIG => config::get(state, &req),
            RequestCode::UPDATE_NAMESRV_CONFIG => config::update(state, &req),
            other => return Err(HandlerError::NotSupported(other.code())),
        };
        Ok(Some(reply))
    }
}
