//! Which resources a request touches and which permission each needs (Apache's
//! `PlainAccessResource.parse`), and which codes are for admin accounts only.
//!
//! Groups are resources named `%RETRY%<group>`. Codes not listed need only a valid signature,
//! as in Apache (SEND_BATCH_MESSAGE included). On purpose, the ACL admin codes that change or
//! reveal accounts (50, 51, 53, 54) need an admin account here; Apache 4.9.7 lets any signed
//! account use them.

use rmq_remoting::body::{HeartbeatData, JsonBody};
use rmq_remoting::{RemotingCommand, RequestCode};

use super::perm::{PUB, SUB};
use crate::topics::RETRY_PREFIX;

/// The message-trace topic: publishing to it is always allowed.
pub const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";

/// Whether `code` may be used by admin accounts only.
pub fn is_admin_code(code: i32) -> bool {
    use RequestCode as C;
    [
        C::UPDATE_AND_CREATE_TOPIC,
        C::UPDATE_BROKER_CONFIG,
        C::DELETE_TOPIC_IN_BROKER,
        C::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
        C::DELETE_SUBSCRIPTIONGROUP,
        C::UPDATE_AND_CREATE_ACL_CONFIG,
        C::DELETE_ACL_CONFIG,
        C::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG,
        C::GET_BROKER_CLUSTER_ACL_CONFIG,
    ]
    .iter()
    .any(|c| c.code() == code)
}

fn retry(group: &str) -> String {
    format!("{RETRY_PREFIX}{group}")
}

/// The (resource, permission) pairs `req` needs; an error when a body that must be read does
/// not parse.
pub fn needed_resources(req: &RemotingCommand) -> Result<Vec<(String, u8)>, String> {
    use RequestCode as C;
    let ext = |k: &str| req.ext(k).map(str::to_string);
    let mut out = Vec::new();
    let mut add = |r: Option<String>, p: u8| {
        if let Some(r) = r {
            out.push((r, p));
        }
    };
    let Ok(code) = req.request_code() else {
        return Ok(Vec::new());
    };
    match code {
        C::SEND_MESSAGE => match ext("topic") {
            Some(t) if t.starts_with(RETRY_PREFIX) => add(ext("group").map(|g| retry(&g)), SUB),
            t => add(t, PUB),
        },
        C::SEND_MESSAGE_V2 => match ext("b") {
            Some(t) if t.starts_with(RETRY_PREFIX) => add(ext("a").map(|g| retry(&g)), SUB),
            t => add(t, PUB),
        },
        C::CONSUMER_SEND_MSG_BACK => add(ext("group").map(|g| retry(&g)), SUB),
        C::PULL_MESSAGE => {
            add(ext("topic"), SUB);
            add(ext("consumerGroup").map(|g| retry(&g)), SUB);
        }
        C::QUERY_MESSAGE => add(ext("topic"), SUB),
        C::HEART_BEAT => {
            let data = HeartbeatData::decode(&req.body)
                .map_err(|e| format!("the heartbeat body does not parse: {e}"))?;
            for c in data.consumer_data_set {
                add(Some(retry(&c.group_name)), SUB);
                for s in c.subscription_data_set {
                    add(Some(s.topic), SUB);
                }
            }
        }
        C::UNREGISTER_CLIENT | C::GET_CONSUMER_LIST_BY_GROUP => {
            add(ext("consumerGroup").map(|g| retry(&g)), SUB)
        }
        C::UPDATE_CONSUMER_OFFSET => {
            add(ext("consumerGroup").map(|g| retry(&g)), SUB);
            add(ext("topic"), SUB);
        }
        _ => {}
    }
    Ok(out)
}
