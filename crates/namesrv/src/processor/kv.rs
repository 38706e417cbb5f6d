//! PUT_KV_CONFIG, GET_KV_CONFIG, DELETE_KV_CONFIG and GET_KVLIST_BY_NAMESPACE.
//!
//! A change is acknowledged only after the KV file has been rewritten (off the async threads).

use std::sync::Arc;

use rmq_remoting::body::{JsonBody, KvTable};
use rmq_remoting::headers::namesrv::{
    DeleteKvConfigRequestHeader, GetKvConfigRequestHeader, GetKvConfigResponseHeader,
    GetKvListByNamespaceRequestHeader, PutKvConfigRequestHeader,
};
use rmq_remoting::net::HandlerError;
use rmq_remoting::{clip, RemotingCommand, ResponseCode};
use tracing::{info, warn};

use crate::kv::KvLimits;
use crate::state::State;

/// PUT_KV_CONFIG (100).
pub(super) async fn put(state: &Arc<State>, req: &RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let header: PutKvConfigRequestHeader = req.decode_header()?;
    let limits = {
        let config = state.config();
        KvLimits {
            max_value_len: config.max_kv_value_length,
            max_table_bytes: config.max_kv_table_bytes,
        }
    };
    let (namespace, key) = (clip(&header.namespace), clip(&header.key));
    if let Err(refused) = state
        .kv
        .put(&header.namespace, &header.key, &header.value, limits)
    {
        warn!(%namespace, %key, %refused, "KV config put refused");
        return Ok(req.reply(
            ResponseCode::SYSTEM_ERROR,
            format!("KV config not stored: {refused}"),
        ));
    }
    info!(%namespace, %key, value = %clip(&header.value), "KV config put");
    Ok(persisted(state, req).await)
}

/// GET_KV_CONFIG (101).
pub(super) fn get(state: &State, req: &RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let header: GetKvConfigRequestHeader = req.decode_header()?;
    Ok(match state.kv.get(&header.namespace, &header.key) {
        Some(value) => req.reply_with(&GetKvConfigResponseHeader { value: Some(value) }),
        None => req.reply(
            ResponseCode::QUERY_NOT_FOUND,
            format!(
                "No config item, Namespace: {} Key: {}",
                header.namespace, header.key
            ),
        ),
    })
}

/// DELETE_KV_CONFIG (102).
pub(super) async fn delete(
    state: &Arc<State>,
    req: &RemotingCommand,
) -> Result<RemotingCommand, HandlerError> {
    let header: DeleteKvConfigRequestHeader = req.decode_header()?;
    if !state.kv.delete(&header.namespace, &header.key) {
        return Ok(req.reply(ResponseCode::SUCCESS, None));
    }
    info!(namespace = %clip(&header.namespace), key = %clip(&header.key), "KV config deleted");
    Ok(persisted(state, req).await)
}

/// GET_KVLIST_BY_NAMESPACE (219).
pub(super) fn list(state: &State, req: &RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let header: GetKvListByNamespaceRequestHeader = req.decode_header()?;
    Ok(match state.kv.namespace(&header.namespace) {
        Some(table) => req
            .reply(ResponseCode::SUCCESS, None)
            .with_body(KvTable { table }.encode()),
        None => req.reply(
            ResponseCode::QUERY_NOT_FOUND,
            format!("No config item, Namespace: {}", header.namespace),
        ),
    })
}

/// Writes the KV file and answers SUCCESS, or SYSTEM_ERROR when the write failed (the change
/// stays in memory and goes to disk with the next successful write).
async fn persisted(state: &Arc<State>, req: &RemotingCommand) -> RemotingCommand {
    let writer = state.clone();
    let result = tokio::task::spawn_blocking(move || writer.kv.persist()).await;
    match result {
        Ok(Ok(())) => req.reply(ResponseCode::SUCCESS, None),
        Ok(Err(e)) => {
            warn!(error = %e, "KV config not persisted");
            req.reply(ResponseCode::SYSTEM_ERROR, e.to_string())
        }
        Err(e) => req.reply(
            ResponseCode::SYSTEM_ERROR,
            format!("KV config write task failed: {e}"),
        ),
    }
}
