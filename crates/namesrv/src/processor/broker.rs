//! REGISTER_BROKER, UNREGISTER_BROKER and QUERY_DATA_VERSION: what brokers send.

use rmq_remoting::body::{body_crc32, DataVersion, JsonBody, KvTable, RegisterBrokerBody};
use rmq_remoting::headers::namesrv::{
    QueryDataVersionRequestHeader, QueryDataVersionResponseHeader, RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader, UnregisterBrokerRequestHeader,
};
use rmq_remoting::net::{Connection, HandlerError};
use rmq_remoting::{RemotingCommand, ResponseCode};
use tracing::{debug, info, warn};

use crate::kv::ORDER_TOPIC_CONFIG;
use crate::route::Registration;
use crate::server::State;

/// REGISTER_BROKER (103): checks the CRC, decodes the plain or compressed body, then registers.
/// The reply tells a slave its master and carries the ordered-topic KV namespace.
pub(super) fn register(
    state: &State,
    conn: &Connection,
    req: &RemotingCommand,
) -> Result<RemotingCommand, HandlerError> {
    let header: RegisterBrokerRequestHeader = req.decode_header()?;
    if let Some(expected) = header.crc_to_check() {
        let actual = body_crc32(&req.body);
        if actual != expected {
            warn!(broker = %header.broker_addr, expected, actual, "register body CRC mismatch; ignored");
            return Ok(req.reply(ResponseCode::SYSTEM_ERROR, "crc32 not match".to_string()));
        }
    }
    // Apache treats a missing body as an empty table at version 0.
    let body = if req.body.is_empty() {
        RegisterBrokerBody::default()
    } else {
        match RegisterBrokerBody::decode_as(&req.body, header.is_compressed()) {
            Ok(body) => body,
            Err(e) => {
                warn!(broker = %header.broker_addr, error = %e, "undecodable register body; ignored");
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
        info!(broker = %addr, name = %name, id, topics = topic_count, peer = %conn.peer(), "broker registered");
    } else {
        debug!(broker = %addr, topics = topic_count, "broker re-registered");
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

/// UNREGISTER_BROKER (104): a broker shutting down cleanly.
pub(super) fn unregister(state: &State, req: &RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let header: UnregisterBrokerRequestHeader = req.decode_header()?;
    let removed = state
        .routes_mut()
        .unregister(&header.broker_name, &header.broker_addr, header.broker_id);
    if removed {
        info!(broker = %header.broker_addr, name = %header.broker_name, "broker unregistered");
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
