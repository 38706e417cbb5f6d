//! The plain-ACL admin requests (mqadmin `updateAclConfig`, `deleteAclConfig`,
//! `updateGlobalWhiteAddr`, `clusterAclConfigVersion`, `getAclConfig`): codes 50–54.
//!
//! Changes rewrite `plain_acl.yml` and take effect at once; failures answer Apache's codes
//! (209, 210, 211) with a remark that says what is wrong, never a secret. With `aclEnable=false`
//! every code answers SYSTEM_ERROR saying so.

use std::sync::Arc;

use rmq_remoting::net::HandlerError;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use serde_json::json;

use crate::acl::perm;
use crate::acl::plain_file::AccountEntry;
use crate::state::BrokerState;

/// Apache's minimum length of an access key and a secret key (more than 6 characters).
const MIN_KEY_LEN: usize = 7;

fn split_list(raw: Option<&str>) -> Option<Vec<String>> {
    raw.map(|r| {
        r.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    })
}

/// Builds the account an update asks for, over the existing one: fields the request leaves out
/// keep their value, as in Apache.
fn account_from(req: &RemotingCommand, existing: Option<AccountEntry>) -> Result<AccountEntry, String> {
    let ak = req.ext("accessKey").unwrap_or("").trim().to_string();
    let mut a = existing.unwrap_or_default();
    if let Some(sk) = req.ext("secretKey") {
        a.secret_key = sk.trim().to_string();
    }
    if ak.len() < MIN_KEY_LEN || a.secret_key.len() < MIN_KEY_LEN {
        return Err(format!(
            "The accessKey={ak} and its secretKey cannot be null and length should longer than 6"
        ));
    }
    a.access_key = ak;
    if let Some(w) = req.ext("whiteRemoteAddress") {
        crate::acl::address::AddressPattern::parse(w)?;
        a.white_remote_address = w.trim().to_string();
    }
    a.admin = req
        .ext("admin")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    for (key, slot) in [
        ("defaultTopicPerm", &mut a.default_topic_perm),
        ("defaultGroupPerm", &mut a.default_group_perm),
    ] {
        if let Some(p) = req.ext(key) {
            if !perm::is_valid(p) {
                return Err(format!("{key}={p} is not DENY, PUB, SUB or PUB|SUB"));
            }
            *slot = p.trim().to_string();
        }
    }
    for (key, slot) in [
        ("topicPerms", &mut a.topic_perms),
        ("groupPerms", &mut a.group_perms),
    ] {
        if let Some(list) = split_list(req.ext(key)) {
            for item in &list {
                match item.split_once('=') {
                    Some((res, p)) if !res.trim().is_empty() && perm::is_valid(p) => {}
                    _ => return Err(format!("{key} entry {item} is not name=DENY|PUB|SUB|PUB|SUB")),
                }
            }
            *slot = list;
        }
    }
    Ok(a)
}

fn data_version(v: (i64, i64)) -> serde_json::Value {
    json!({"counter": v.0, "timestamp": v.1})
}

/// Handles codes 50–54.
pub async fn handle(
    state: &Arc<BrokerState>,
    code: RequestCode,
    req: RemotingCommand,
) -> Result<RemotingCommand, HandlerError> {
    let Some(acl) = state.acl.get() else {
        return Ok(req.reply(
            ResponseCode::SYSTEM_ERROR,
            Some(format!(
                "ACL is off on broker {}: set aclEnable=true in its broker.conf to manage accounts",
                state.config.broker_name
            )),
        ));
    };
    use RequestCode as C;
    let result = match code {
        C::GET_BROKER_CLUSTER_ACL_INFO => {
            let version = data_version(acl.file().data_version);
            let path = acl.path().display().to_string();
            return Ok(req
                .reply(ResponseCode::SUCCESS, None)
                .with_ext("version", version.to_string())
                .with_ext("allAclFileVersion", json!({ path: version }).to_string())
                .with_ext("brokerName", &state.config.broker_name)
                .with_ext("brokerAddr", &state.broker_addr)
                .with_ext("clusterName", &state.config.broker_cluster_name));
        }
        C::GET_BROKER_CLUSTER_ACL_CONFIG => {
            let f = acl.file();
            let accounts: Vec<_> = f
                .accounts
                .iter()
                .map(|a| {
                    json!({
                        "accessKey": a.access_key, "secretKey": a.secret_key,
                        "whiteRemoteAddress": a.white_remote_address, "admin": a.admin,
                        "defaultTopicPerm": a.default_topic_perm, "defaultGroupPerm": a.default_group_perm,
                        "topicPerms": a.topic_perms, "groupPerms": a.group_perms,
                    })
                })
                .collect();
            let body =
                json!({"globalWhiteAddrs": f.global_white_remote_addresses, "plainAccessConfigs": accounts});
            return Ok(req.reply(ResponseCode::SUCCESS, None).with_body(body.to_string()));
        }
        _ => change(state, code, &req).await,
    };
    Ok(match result {
        Ok(Ok(())) => {
            tracing::info!(code = %code, access_key = req.ext("accessKey").unwrap_or(""), "ACL changed over the admin API");
            req.reply(ResponseCode::SUCCESS, None)
        }
        Ok(Err((code, e))) => req.reply(code, Some(e)),
        Err(e) => req.reply(
            ResponseCode::SYSTEM_ERROR,
            Some(format!("ACL update task failed: {e}")),
        ),
    })
}

/// Runs a change (50, 51 or 53) on a blocking thread: it rewrites and fsyncs the file.
async fn change(
    state: &Arc<BrokerState>,
    code: RequestCode,
    req: &RemotingCommand,
) -> Result<Result<(), (ResponseCode, String)>, tokio::task::JoinError> {
    use RequestCode as C;
    let s = state.clone();
    let r = req.clone();
    tokio::task::spawn_blocking(move || {
        let Some(acl) = s.acl.get() else {
            return Err((ResponseCode::SYSTEM_ERROR, "ACL is off".to_string()));
        };
        match code {
            C::UPDATE_AND_CREATE_ACL_CONFIG => {
                let ak = r.ext("accessKey").unwrap_or("").trim();
                let existing = acl.file().accounts.into_iter().find(|a| a.access_key == ak);
                account_from(&r, existing)
                    .and_then(|a| acl.upsert_account(a))
                    .map_err(|e| (ResponseCode::UPDATE_AND_CREATE_ACL_CONFIG_FAILED, e))
            }
            C::DELETE_ACL_CONFIG => acl
                .delete_account(r.ext("accessKey").unwrap_or("").trim())
                .map_err(|e| (ResponseCode::DELETE_ACL_CONFIG_FAILED, e)),
            _ => {
                let addrs = split_list(r.ext("globalWhiteAddrs")).unwrap_or_default();
                addrs
                    .iter()
                    .try_for_each(|a| crate::acl::address::AddressPattern::parse(a).map(drop))
                    .and_then(|()| acl.set_global_white(addrs))
                    .map_err(|e| (ResponseCode::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED, e))
            }
        }
    })
    .await
}
