//! REGISTER_BROKER, UNREGISTER_BROKER and QUERY_DATA_VERSION: what brokers send.
//!
//! A registration body is decoded and checked against `maxTopicsPerBroker` and
//! `maxTopicNameLength` before the route lock is taken; a large one is decoded on a blocking
//! thread, so route lookups on other connections (and this connection's task) never wait for it.

use std::sync::Arc;

use rmq_remoting::body::{
    body_crc32, BodyError, DataVersion, JsonBody, KvTable, RegisterBrokerBody, RegisterLimits,
};
use rmq_remoting::headers::namesrv::{
    QueryDataVersionRequestHeader, QueryDataVersionResponseHeader, RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader, UnregisterBrokerRequestHeader,
};
use rmq_remoting::net::{Connection, HandlerError};
use rmq_remoting::{clip, RemotingCommand, ResponseCode};
use tracing::{debug, info, warn};

use crate::kv::ORDER_TOPIC_CONFIG;
use crate::route::Registration;
use crate::state::State;

/// Bodies up to this size are decoded on the connection's task; larger ones on a blocking thread.
const INLINE_DECODE_BYTES: usize = 64 * 1024;

/// REGISTER_BROKER (103): checks the CRC, decodes the plain or compressed body within the
/// configured limits, then registers. The reply tells a slave its master and carries the
/// ordered-topic KV namespace.
pub(super) async fn register(
    state: &Arc<State>,
    conn: &Connection,
    req: &RemotingCommand,
) -> Result<RemotingCommand, HandlerError> {
    let header: RegisterBrokerRequestHeader = req.decode_header()?;
    if let Some(expected) = header.crc_to_check() {
        let actual = body_crc32(&req.body);
        if actual != expected {
            warn!(broker = %clip(&header.broker_addr), expected, actual, "register body CRC mismatch; ignored");
            return Ok(req.reply(ResponseCode::SYSTEM_ERROR, "crc32 not match".to_string()));
        }
    }
    // Apache treats a missing body as an empty table at version 0.
    let body = if req.body.is_empty() {
        RegisterBrokerBody::default()
    } else {
        let limits = {
            let config = state.config();
            RegisterLimits {
                max_topics: config.max_topics_per_broker,
                max_topic_name_len: config.max_topic_name_length,
            }
        };
        match decode_body(req.body.clone(), header.is_compressed(), limits).await {
            Ok(body) => body,
            Err(e) => {
                warn!(broker = %clip(&header.broker_addr), error = %e, "undecodable register body; ignored");
                return Ok(req.reply(
                    ResponseCode::SYSTEM_ERROR,
                    format!("bad register broker body: {e}"),
                ));
            }
        }
    };
    let wrapper = body.topic_config_serialize_wrapper;
    let topic_count = wrapper.topic_config_table.len();
    let registration = Registration {
        cluster: header.cluster_name,
        broker_name: header.broker_name,
        broker_addr: header.broker_addr,
        broker_id: header.broker_id,
        ha_server_addr: header.ha_server_addr,
        data_version: wrapper.data_version,
        topics: wrapper.topic_config_table.into_values().collect(),
        conn_id: conn.id(),
    };
    let (addr, name, id) = (
        registration.broker_addr.clone(),
        registration.broker_name.clone(),
        registration.broker_id,
    );
    let now = state.now_ms();
    let (outcome, first) = {
        let mut routes = state.routes_mut();
        let first = routes.live_broker(&addr).is_none();
        (routes.register(registration, now), first)
    };
    if first {
        info!(broker = %clip(&addr), name = %clip(&name), id, topics = topic_count, peer = %conn.peer(), "broker registered");
    } else {
        debug!(broker = %clip(&addr), topics = topic_count, "broker re-registered");
    }
    let reply = req.reply_with(&RegisterBrokerResponseHeader {
        ha_server_addr: outcome.ha_server_addr,
        master_addr: outcome.master_addr,
    });
    Ok(match state.kv.namespace(ORDER_TOPIC_CONFIG) {
        Some(table) => reply.with_body(KvTable { table }.encode()),
        None => reply,
    })
}

/// Decodes a register body, on a blocking thread when it is large.
async fn decode_body(
    body: bytes::Bytes,
    compressed: bool,
    limits: RegisterLimits,
) -> Result<RegisterBrokerBody, BodyError> {
    if body.len() <= INLINE_DECODE_BYTES {
        return RegisterBrokerBody::decode_limited(&body, compressed, limits);
    }
    tokio::task::spawn_blocking(move || RegisterBrokerBody::decode_limited(&body, compressed, limits))
        .await
        .unwrap_or_else(|e| Err(BodyError::Binary(format!("decoding task failed: {e}"))))
}

/// UNREGISTER_BROKER (104): a broker shutting down cleanly.
pub(super) fn unregister(state: &State, req: &RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let header: UnregisterBrokerRequestHeader = req.decode_header()?;
    let removed = state
        .routes_mut()
        .unregister(&header.broker_name, &header.broker_addr, header.broker_id);
    if removed {
        info!(broker = %clip(&header.broker_addr), name = %clip(&header.broker_name), "broker unregistered");
    }
    Ok(req.reply(ResponseCode::SUCCESS, None))
}

/// QUERY_DATA_VERSION (322): whether the broker's topic table changed since it last registered;
/// an unchanged answer refreshes its liveness.
pub(super) fn query_data_version(
    state: &State,
    req: &RemotingCommand,
) -> Result<RemotingCommand, HandlerError> {
    let header: QueryDataVersionRequestHeader = req.decode_header()?;
    let version = match DataVersion::decode(&req.body) {
        Ok(v) => v,
        Err(e) => return Ok(req.reply(ResponseCode::SYSTEM_ERROR, format!("bad DataVersion body: {e}"))),
    };
    let now = state.now_ms();
    let (changed, stored) = state
        .routes_mut()
        .query_data_version(&header.broker_addr, &version, now);
    let reply = req.reply_with(&QueryDataVersionResponseHeader { changed });
    Ok(match stored {
        Some(stored) => reply.with_body(stored.encode()),
        None => reply,
    })
}
