//! Name server commands: `wipeWritePerm`, `addWritePerm`, `updateKvConfig`, `deleteKvConfig`,
//! `getNamesrvConfig`. Each goes to every name server in `-n`, as Apache's tool does, because
//! name servers share nothing.

use std::fmt::Write;

use rmq_remoting::headers::namesrv::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader, DeleteKvConfigRequestHeader,
    WipeWritePermOfBrokerRequestHeader, WipeWritePermOfBrokerResponseHeader,
};
use rmq_remoting::java_properties::JavaProperties;
use rmq_remoting::{RemotingCommand, RequestCode};

use crate::admin::Admin;
use crate::error::AdminError;

/// Which write-permission change to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePerm {
    /// WIPE_WRITE_PERM_OF_BROKER: the broker's queues become read-only.
    Wipe,
    /// ADD_WRITE_PERM_OF_BROKER: the broker's queues become read-write again.
    Add,
}

/// `wipeWritePerm` / `addWritePerm -b <brokerName>`: one line per name server; fails (after
/// trying every name server) if any of them failed.
pub async fn write_perm(
    admin: &Admin,
    which: WritePerm,
    broker_name: &str,
    out: &mut String,
) -> Result<(), AdminError> {
    if broker_name.trim().is_empty() {
        return Err(AdminError::Invalid(
            "the broker name is blank; pass -b <brokerName>".into(),
        ));
    }
    let verb = match which {
        WritePerm::Wipe => "wipe",
        WritePerm::Add => "add",
    };
    let mut failures = Vec::new();
    for ns in admin.namesrvs() {
        let result = match which {
            WritePerm::Wipe => {
                let h = WipeWritePermOfBrokerRequestHeader {
                    broker_name: broker_name.into(),
                };
                let cmd = RemotingCommand::request_with(RequestCode::WIPE_WRITE_PERM_OF_BROKER, &h);
                match admin.invoke(ns, cmd).await {
                    Ok(resp) => resp
                        .decode_header::<WipeWritePermOfBrokerResponseHeader>()
                        .map(|h| h.wipe_topic_count)
                        .map_err(|e| AdminError::Invalid(format!("bad reply from {ns}: {e}"))),
                    Err(e) => Err(e),
                }
            }
            WritePerm::Add => {
                let h = AddWritePermOfBrokerRequestHeader {
                    broker_name: broker_name.into(),
                };
                let cmd = RemotingCommand::request_with(RequestCode::ADD_WRITE_PERM_OF_BROKER, &h);
                match admin.invoke(ns, cmd).await {
                    Ok(resp) => resp
                        .decode_header::<AddWritePermOfBrokerResponseHeader>()
                        .map(|h| h.add_topic_count)
                        .map_err(|e| AdminError::Invalid(format!("bad reply from {ns}: {e}"))),
                    Err(e) => Err(e),
                }
            }
        };
        match result {
            Ok(count) => {
                let _ = writeln!(
                    out,
                    "{verb} write perm of broker[{broker_name}] in name server[{ns}] OK, {count}"
                );
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "{verb} write perm of broker[{broker_name}] in name server[{ns}] Failed"
                );
                failures.push(format!("{ns}: {e}"));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "{verb}WritePerm failed on {}",
            failures.join("; ")
        )))
    }
}

/// `updateKvConfig -s <namespace> -k <key> -v <value>`: PUT_KV_CONFIG to every name server.
pub async fn update_kv_config(
    admin: &Admin,
    namespace: &str,
    key: &str,
    value: &str,
    out: &mut String,
) -> Result<(), AdminError> {
    crate::topic::put_kv_everywhere(admin, namespace, key, value).await?;
    let _ = writeln!(out, "create or update kv config to namespace success.");
    Ok(())
}

/// `deleteKvConfig -s <namespace> -k <key>`: DELETE_KV_CONFIG on every name server.
pub async fn delete_kv_config(
    admin: &Admin,
    namespace: &str,
    key: &str,
    out: &mut String,
) -> Result<(), AdminError> {
    let header = DeleteKvConfigRequestHeader {
        namespace: namespace.into(),
        key: key.into(),
    };
    for ns in admin.namesrvs() {
        admin
            .invoke(
                ns,
                RemotingCommand::request_with(RequestCode::DELETE_KV_CONFIG, &header),
            )
            .await?;
    }
    let _ = writeln!(out, "delete kv config from namespace success.");
    Ok(())
}

/// `getNamesrvConfig`: GET_NAMESRV_CONFIG from every name server, printed like Apache's tool.
pub async fn get_namesrv_config(admin: &Admin, out: &mut String) -> Result<(), AdminError> {
    for ns in admin.namesrvs() {
        let resp = admin
            .invoke(ns, RemotingCommand::request(RequestCode::GET_NAMESRV_CONFIG))
            .await?;
        render_properties(ns, &String::from_utf8_lossy(&resp.body), out);
    }
    Ok(())
}

/// `============<addr>============` then `key  =  value` lines sorted by key.
pub fn render_properties(addr: &str, text: &str, out: &mut String) {
    let props = JavaProperties::parse(text);
    let mut entries: Vec<(&str, &str)> = props.iter().collect();
    entries.sort();
    let _ = writeln!(out, "============{addr}============");
    for (k, v) in entries {
        let _ = writeln!(out, "{k:<50}=  {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_render_sorted_under_a_banner() {
        let mut out = String::new();
        render_properties("ns:1", "b=2\na=1\n", &mut out);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "============ns:1============");
        assert!(lines[1].starts_with("a ") && lines[1].ends_with("=  1"));
        assert!(lines[2].starts_with("b ") && lines[2].ends_with("=  2"));
    }
}
