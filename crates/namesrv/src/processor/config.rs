//! GET_NAMESRV_CONFIG and UPDATE_NAMESRV_CONFIG: the config as Java properties text.
//!
//! Updates apply in memory at once (the scan interval from the next round, the expiry from the
//! next scan, `orderMessageEnable` from the next route lookup). Keys that only matter at start or
//! name files (`RUNTIME_BLACKLIST`) are refused, as Apache's `configBlackList` does.

use rmq_remoting::java_properties::JavaProperties;
use rmq_remoting::{RemotingCommand, ResponseCode};
use tracing::info;

use crate::config::RUNTIME_BLACKLIST;
use crate::state::State;

/// GET_NAMESRV_CONFIG (319).
pub(super) fn get(state: &State, req: &RemotingCommand) -> RemotingCommand {
    let text = state.config().to_properties_text();
    req.reply(ResponseCode::SUCCESS, None)
        .with_body(text.into_bytes())
}

/// UPDATE_NAMESRV_CONFIG (318).
pub(super) fn update(state: &State, req: &RemotingCommand) -> RemotingCommand {
    let Ok(text) = std::str::from_utf8(&req.body) else {
        return req.reply(
            ResponseCode::SYSTEM_ERROR,
            "string2Properties error: body is not UTF-8".to_string(),
        );
    };
    let props = JavaProperties::parse(text);
    if props.iter().any(|(k, _)| RUNTIME_BLACKLIST.contains(&k)) {
        return req.reply(
            ResponseCode::SYSTEM_ERROR,
            "Can not update config in black list.".to_string(),
        );
    }
    let expiry = {
        let mut config = state.config_mut();
        if let Err(e) = config.apply(&props) {
            return req.reply(ResponseCode::SYSTEM_ERROR, e.to_string());
        }
        config.broker_expiry
    };
    state.routes_mut().set_broker_expiry(expiry);
    let keys: Vec<&str> = props.iter().map(|(k, _)| k).collect();
    info!(?keys, "nameserver config updated");
    req.reply(ResponseCode::SUCCESS, None)
}
