//! [`AclRules`]: a [`PlainAclFile`] compiled for checking, and the check itself in Apache's
//! order (`PlainPermissionManager.validate`):
//!
//! 1. the peer matches a global white address: allowed;
//! 2. no `AccessKey`, or one with no account: refused;
//! 3. the peer matches the account's white address: allowed;
//! 4. the signature differs: refused;
//! 5. a publish to the trace topic: allowed;
//! 6. an admin code from a non-admin account: refused;
//! 7. no resources to check, or an admin account without permission lists: allowed;
//! 8. every resource has its explicit permission, else the account's default topic or group
//!    permission.

use std::collections::HashMap;

use rmq_remoting::acl::{signature, signatures_match, ACCESS_KEY, SIGNATURE, UNIQUE_KEY_QUERY};
use rmq_remoting::{RemotingCommand, RequestCode};

use super::address::AddressPattern;
use super::perm;
use super::plain_file::PlainAclFile;
use super::resources::{is_admin_code, needed_resources, TRACE_TOPIC};
use crate::topics::RETRY_PREFIX;

/// One account, ready to check.
#[derive(Debug)]
struct Account {
    secret: String,
    white: AddressPattern,
    admin: bool,
    default_topic: u8,
    default_group: u8,
    /// Resource (topic, or `%RETRY%<group>` for a group) → permission.
    perms: HashMap<String, u8>,
}

/// The rules in force.
#[derive(Debug, Default)]
pub struct AclRules {
    global_white: Vec<AddressPattern>,
    accounts: HashMap<String, Account>,
}

impl AclRules {
    /// Compiles a file; the error names the bad address pattern.
    pub fn compile(file: &PlainAclFile) -> Result<AclRules, String> {
        let global_white = file
            .global_white_remote_addresses
            .iter()
            .map(|p| AddressPattern::parse(p))
            .collect::<Result<_, _>>()?;
        let mut accounts = HashMap::new();
        for a in &file.accounts {
            let mut perms: HashMap<String, u8> = HashMap::new();
            for (topic, p) in perm::parse_resource_perms(a.topic_perms.iter().map(String::as_str)) {
                perms.insert(topic, p);
            }
            for (group, p) in perm::parse_resource_perms(a.group_perms.iter().map(String::as_str)) {
                perms.insert(format!("{RETRY_PREFIX}{group}"), p);
            }
            let account = Account {
                secret: a.secret_key.clone(),
                white: AddressPattern::parse(&a.white_remote_address)
                    .map_err(|e| format!("account {}: {e}", a.access_key))?,
                admin: a.admin,
                default_topic: perm::parse(&a.default_topic_perm),
                default_group: perm::parse(&a.default_group_perm),
                perms,
            };
            // The first account with a key wins, as in Apache.
            accounts.entry(a.access_key.clone()).or_insert(account);
        }
        Ok(AclRules {
            global_white,
            accounts,
        })
    }

    /// Checks one request from `peer_ip`; the error is the remark of the refusal. It names the
    /// account, the resource and the permission, never the secret.
    pub fn check(&self, peer_ip: &str, req: &RemotingCommand) -> Result<(), String> {
        if self.global_white.iter().any(|p| p.matches(peer_ip)) {
            return Ok(());
        }
        let Some(ak) = req.ext(ACCESS_KEY) else {
            return Err("No accessKey is configured".into());
        };
        let Some(account) = self.accounts.get(ak) else {
            return Err(format!("No acl config for {ak}"));
        };
        if account.white.matches(peer_ip) {
            return Ok(());
        }
        let given = req.ext(SIGNATURE).unwrap_or("");
        let secret = account.secret.as_bytes();
        let signed = signatures_match(given, &signature(secret, &req.ext_fields, &req.body, &[SIGNATURE, UNIQUE_KEY_QUERY]))
            // The Java client signs `_UNIQUE_KEY_QUERY` of QUERY_MESSAGE; accept either form.
            || (req.code == RequestCode::QUERY_MESSAGE.code()
                && signatures_match(given, &signature(secret, &req.ext_fields, &req.body, &[SIGNATURE])));
        if !signed {
            return Err(format!("Check signature failed for accessKey={ak}"));
        }
        let resources = needed_resources(req)?;
        if resources.iter().any(|(r, p)| r == TRACE_TOPIC && *p == perm::PUB) {
            return Ok(());
        }
        if is_admin_code(req.code) && !account.admin {
            return Err(format!(
                "Need admin permission for request code={}, but accessKey={ak} is not",
                req.code
            ));
        }
        if resources.is_empty() || (account.admin && account.perms.is_empty()) {
            return Ok(());
        }
        for (resource, needed) in &resources {
            let group = resource.strip_prefix(RETRY_PREFIX);
            let owned = account
                .perms
                .get(resource)
                .copied()
                .unwrap_or(if group.is_some() {
                    account.default_group
                } else {
                    account.default_topic
                });
            if !perm::granted(*needed, owned) {
                let what = match group {
                    Some(g) => format!("group={g}"),
                    None => format!("topic={resource}"),
                };
                return Err(format!(
                    "No default permission for {what}, accessKey={ak} needs {} and has {}",
                    perm::name(*needed),
                    perm::name(owned)
                ));
            }
        }
        Ok(())
    }
}
