//! Plain-ACL commands: `updateAclConfig`, `deleteAclConfig`, `updateGlobalWhiteAddr` (each to one
//! broker with `-b`, or to every master and slave of a cluster with `-c`, as Apache's tool does),
//! `clusterAclConfigVersion` and `getAclConfig` (to masters), and where the tool finds its own
//! credentials (flags, environment, or `$ROCKETMQ_HOME/conf/tools.yml` as in Apache).

use std::fmt::Write;
use std::path::Path;

use rmq_remoting::acl::SessionCredentials;
use rmq_remoting::{RemotingCommand, RequestCode};

use crate::admin::Admin;
use crate::error::AdminError;

/// Where `-b` / `-c` send an ACL change.
#[derive(Debug, Clone)]
pub enum AclTarget {
    /// One broker address.
    Broker(String),
    /// Every master and slave of a cluster (changes) or every master (queries).
    Cluster(String),
}

impl AclTarget {
    async fn addrs(&self, admin: &Admin, masters_only: bool) -> Result<Vec<String>, AdminError> {
        Ok(match self {
            AclTarget::Broker(a) => vec![a.clone()],
            AclTarget::Cluster(c) if masters_only => admin
                .masters_of_cluster(c)
                .await?
                .into_iter()
                .map(|b| b.addr)
                .collect(),
            AclTarget::Cluster(c) => admin.brokers_of_cluster(c).await?,
        })
    }
}

/// Options of `updateAclConfig`; `None` leaves the broker's value as it is.
#[derive(Debug, Clone, Default)]
pub struct UpdateAcl {
    /// `-a`.
    pub access_key: String,
    /// `-s`.
    pub secret_key: String,
    /// `-w`.
    pub white_remote_address: Option<String>,
    /// `-i`.
    pub default_topic_perm: Option<String>,
    /// `-u`.
    pub default_group_perm: Option<String>,
    /// `-t`, `topic=PERM,…`.
    pub topic_perms: Option<String>,
    /// `-g`, `group=PERM,…`.
    pub group_perms: Option<String>,
    /// `-m`.
    pub admin: bool,
}

async fn send_all(
    admin: &Admin,
    addrs: &[String],
    make: impl Fn() -> RemotingCommand,
    what: &str,
    out: &mut String,
) -> Result<(), AdminError> {
    let mut failures = Vec::new();
    for addr in addrs {
        match admin.invoke(addr, make()).await {
            Ok(_) => {
                let _ = writeln!(out, "{what} to {addr} success.");
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "{what} failed on {}",
            failures.join("; ")
        )))
    }
}

/// `updateAclConfig`: UPDATE_AND_CREATE_ACL_CONFIG (50).
pub async fn update_acl_config(
    admin: &Admin,
    target: &AclTarget,
    u: &UpdateAcl,
    out: &mut String,
) -> Result<(), AdminError> {
    if u.access_key.trim().len() < 7 || u.secret_key.trim().len() < 7 {
        return Err(AdminError::Invalid(
            "-a accessKey and -s secretKey must each be longer than 6 characters".into(),
        ));
    }
    let addrs = target.addrs(admin, false).await?;
    let make = || {
        let mut cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_ACL_CONFIG)
            .with_ext("accessKey", u.access_key.trim())
            .with_ext("secretKey", u.secret_key.trim())
            .with_ext("admin", u.admin);
        for (k, v) in [
            ("whiteRemoteAddress", &u.white_remote_address),
            ("defaultTopicPerm", &u.default_topic_perm),
            ("defaultGroupPerm", &u.default_group_perm),
            ("topicPerms", &u.topic_perms),
            ("groupPerms", &u.group_perms),
        ] {
            if let Some(v) = v {
                cmd = cmd.with_ext(k, v.trim());
            }
        }
        cmd
    };
    send_all(admin, &addrs, make, "create or update plain access config", out).await
}

/// `deleteAclConfig`: DELETE_ACL_CONFIG (51).
pub async fn delete_acl_config(
    admin: &Admin,
    target: &AclTarget,
    access_key: &str,
    out: &mut String,
) -> Result<(), AdminError> {
    let addrs = target.addrs(admin, false).await?;
    let make =
        || RemotingCommand::request(RequestCode::DELETE_ACL_CONFIG).with_ext("accessKey", access_key.trim());
    send_all(admin, &addrs, make, "delete plain access config", out).await
}

/// `updateGlobalWhiteAddr`: UPDATE_GLOBAL_WHITE_ADDRS_CONFIG (53).
pub async fn update_global_white_addr(
    admin: &Admin,
    target: &AclTarget,
    addrs_list: &str,
    file: Option<&str>,
    out: &mut String,
) -> Result<(), AdminError> {
    let addrs = target.addrs(admin, false).await?;
    let make = || {
        RemotingCommand::request(RequestCode::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG)
            .with_ext("globalWhiteAddrs", addrs_list.trim())
            .with_ext("aclFileFullPath", file.unwrap_or(""))
    };
    send_all(admin, &addrs, make, "update global white remote addresses", out).await
}

/// `clusterAclConfigVersion`: GET_BROKER_CLUSTER_ACL_INFO (52) from each master, one line each.
pub async fn cluster_acl_config_version(
    admin: &Admin,
    target: &AclTarget,
    out: &mut String,
) -> Result<(), AdminError> {
    let addrs = target.addrs(admin, true).await?;
    let _ = writeln!(
        out,
        "{:<20}  {:<20}  {:<22}  {:<20}  #AclConfigVersionNum",
        "#Cluster Name", "#Broker Name", "#Broker Addr", "#AclFilePath"
    );
    for addr in addrs {
        let r = admin
            .invoke(
                &addr,
                RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_ACL_INFO),
            )
            .await?;
        let versions: serde_json::Value =
            serde_json::from_str(r.ext("allAclFileVersion").unwrap_or("{}")).unwrap_or_default();
        let mut files = versions.as_object().into_iter().flatten().peekable();
        if files.peek().is_none() {
            let _ = writeln!(
                out,
                "{:<20}  {:<20}  {addr:<22}",
                r.ext("clusterName").unwrap_or(""),
                r.ext("brokerName").unwrap_or(""),
            );
        }
        for (path, v) in files {
            let _ = writeln!(
                out,
                "{:<20}  {:<20}  {:<22}  {:<20}  {}",
                r.ext("clusterName").unwrap_or(""),
                r.ext("brokerName").unwrap_or(""),
                addr,
                path,
                v["counter"]
            );
        }
    }
    Ok(())
}

/// `getAclConfig`: GET_BROKER_CLUSTER_ACL_CONFIG (54) from each master, printed as the broker sent it.
pub async fn get_acl_config(admin: &Admin, target: &AclTarget, out: &mut String) -> Result<(), AdminError> {
    for addr in target.addrs(admin, true).await? {
        let r = admin
            .invoke(
                &addr,
                RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_ACL_CONFIG),
            )
            .await?;
        let _ = writeln!(out, "{addr}: {}", String::from_utf8_lossy(&r.body));
    }
    Ok(())
}

/// The credentials mqadmin signs with: `--ak`/`--sk` (or their environment
/// variables) when given, else `accessKey`/`secretKey` of `<rocketmq_home>/conf/tools.yml`
/// (Apache's file); `None` when neither exists.
pub fn tool_credentials(
    access_key: Option<&str>,
    secret_key: Option<&str>,
    rocketmq_home: Option<&Path>,
) -> Result<Option<SessionCredentials>, AdminError> {
    match (access_key, secret_key) {
        (Some(a), Some(s)) => return Ok(Some(SessionCredentials::new(a, s))),
        (Some(_), None) | (None, Some(_)) => {
            return Err(AdminError::Invalid(
                "give both --ak and --sk (or RMQ_ACCESS_KEY and RMQ_SECRET_KEY), or neither".into(),
            ))
        }
        (None, None) => {}
    }
    let Some(home) = rocketmq_home else {
        return Ok(None);
    };
    let path = home.join("conf").join("tools.yml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let value = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().trim_matches('"').trim_matches('\'').to_string())
            .filter(|v| !v.is_empty())
    };
    match (value("accessKey"), value("secretKey")) {
        (Some(a), Some(s)) => Ok(Some(SessionCredentials::new(a, s))),
        _ => Err(AdminError::Invalid(format!(
            "{} has no accessKey and secretKey; add both or remove the file",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_flags_or_tools_yml() {
        assert!(tool_credentials(Some("a"), None, None).is_err());
        let c = tool_credentials(Some("ak"), Some("sk"), None).unwrap().unwrap();
        assert_eq!((c.access_key.as_str(), c.secret_key.as_str()), ("ak", "sk"));
        let dir = std::env::temp_dir().join(format!("rmq-tools-yml-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        std::fs::write(
            dir.join("conf/tools.yml"),
            "accessKey: RocketMQ\nsecretKey: \"12345678\"\n",
        )
        .unwrap();
        let c = tool_credentials(None, None, Some(&dir)).unwrap().unwrap();
        assert_eq!(
            (c.access_key.as_str(), c.secret_key.as_str()),
            ("RocketMQ", "12345678")
        );
        std::fs::write(dir.join("conf/tools.yml"), "nothing: here\n").unwrap();
        assert!(tool_credentials(None, None, Some(&dir)).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(tool_credentials(None, None, Some(Path::new("/nonexistent")))
            .unwrap()
            .is_none());
    }
}
