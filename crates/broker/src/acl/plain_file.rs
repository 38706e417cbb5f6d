//! `plain_acl.yml` in Apache's schema: reading it into [`PlainAclFile`] and writing it back.
//!
//! ```yaml
//! globalWhiteRemoteAddresses: [10.10.103.*]
//! accounts:
//!   - accessKey: RocketMQ
//!     secretKey: 12345678
//!     whiteRemoteAddress: 192.168.1.*
//!     admin: false
//!     defaultTopicPerm: DENY
//!     defaultGroupPerm: SUB
//!     topicPerms: [topicA=DENY, topicB=PUB|SUB]
//!     groupPerms: [groupA=DENY]
//! dataVersion: [{counter: 3, timestamp: 1700000000000}]
//! ```
//!
//! Values may be YAML strings, numbers or booleans (`secretKey: 12345678` is a number to YAML),
//! and are taken as their text. Unknown keys are ignored, as Apache's bean mapping does.

use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter, YamlLoader};

/// One account of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountEntry {
    /// `accessKey`.
    pub access_key: String,
    /// `secretKey`.
    pub secret_key: String,
    /// `whiteRemoteAddress`: a peer matching it needs no signature.
    pub white_remote_address: String,
    /// `admin`: may use the admin request codes.
    pub admin: bool,
    /// `defaultTopicPerm` (DENY when missing).
    pub default_topic_perm: String,
    /// `defaultGroupPerm` (DENY when missing).
    pub default_group_perm: String,
    /// `topicPerms`: `topic=PERM` entries.
    pub topic_perms: Vec<String>,
    /// `groupPerms`: `group=PERM` entries.
    pub group_perms: Vec<String>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlainAclFile {
    /// `globalWhiteRemoteAddresses`: a peer matching one is allowed everything.
    pub global_white_remote_addresses: Vec<String>,
    /// `accounts`.
    pub accounts: Vec<AccountEntry>,
    /// `dataVersion[0]`: (counter, timestamp), bumped by every change made over the admin RPCs.
    pub data_version: (i64, i64),
}

fn text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn list(y: &Yaml) -> Result<Vec<String>, String> {
    match y {
        Yaml::BadValue | Yaml::Null => Ok(Vec::new()),
        Yaml::Array(items) => items
            .iter()
            .map(|i| text(i).ok_or_else(|| format!("list entry {i:?} is not a plain value")))
            .collect(),
        // A single string is taken as a one-entry list.
        other => text(other)
            .map(|t| vec![t])
            .ok_or_else(|| format!("{other:?} is not a list")),
    }
}

fn account(y: &Yaml, index: usize) -> Result<AccountEntry, String> {
    if y.as_hash().is_none() {
        return Err(format!("accounts[{index}] is not a mapping"));
    }
    let field = |k: &str| text(&y[k]).unwrap_or_default();
    let entry = AccountEntry {
        access_key: field("accessKey"),
        secret_key: field("secretKey"),
        white_remote_address: field("whiteRemoteAddress"),
        admin: match &y["admin"] {
            Yaml::Boolean(b) => *b,
            Yaml::String(s) => s.eq_ignore_ascii_case("true"),
            _ => false,
        },
        default_topic_perm: field("defaultTopicPerm"),
        default_group_perm: field("defaultGroupPerm"),
        topic_perms: list(&y["topicPerms"]).map_err(|e| format!("accounts[{index}].topicPerms: {e}"))?,
        group_perms: list(&y["groupPerms"]).map_err(|e| format!("accounts[{index}].groupPerms: {e}"))?,
    };
    if entry.access_key.is_empty() {
        return Err(format!("accounts[{index}] has no accessKey"));
    }
    if entry.secret_key.is_empty() {
        return Err(format!(
            "accounts[{index}] (accessKey {}) has no secretKey",
            entry.access_key
        ));
    }
    Ok(entry)
}

impl PlainAclFile {
    /// Parses the file's text; the error names the line or the entry that is wrong.
    pub fn parse(yaml: &str) -> Result<PlainAclFile, String> {
        let docs = YamlLoader::load_from_str(yaml).map_err(|e| format!("not valid YAML: {e}"))?;
        let Some(doc) = docs.into_iter().next() else {
            return Ok(PlainAclFile::default());
        };
        if matches!(doc, Yaml::Null) {
            return Ok(PlainAclFile::default());
        }
        if doc.as_hash().is_none() {
            return Err("the top level is not a mapping".into());
        }
        let accounts = match &doc["accounts"] {
            Yaml::BadValue | Yaml::Null => Vec::new(),
            Yaml::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, a)| account(a, i))
                .collect::<Result<_, _>>()?,
            _ => return Err("accounts is not a list".into()),
        };
        let dv = &doc["dataVersion"][0];
        Ok(PlainAclFile {
            global_white_remote_addresses: list(&doc["globalWhiteRemoteAddresses"])
                .map_err(|e| format!("globalWhiteRemoteAddresses: {e}"))?,
            accounts,
            data_version: (
                dv["counter"].as_i64().unwrap_or(0),
                dv["timestamp"].as_i64().unwrap_or(0),
            ),
        })
    }

    /// The file's text, in Apache's layout.
    pub fn to_yaml(&self) -> String {
        let s = |v: &str| Yaml::String(v.to_string());
        let strings = |v: &[String]| Yaml::Array(v.iter().map(|x| s(x)).collect());
        let mut root = Hash::new();
        root.insert(
            s("globalWhiteRemoteAddresses"),
            strings(&self.global_white_remote_addresses),
        );
        let accounts = self
            .accounts
            .iter()
            .map(|a| {
                let mut h = Hash::new();
                h.insert(s("accessKey"), s(&a.access_key));
                h.insert(s("secretKey"), s(&a.secret_key));
                h.insert(s("whiteRemoteAddress"), s(&a.white_remote_address));
                h.insert(s("admin"), Yaml::Boolean(a.admin));
                h.insert(s("defaultTopicPerm"), s(&a.default_topic_perm));
                h.insert(s("defaultGroupPerm"), s(&a.default_group_perm));
                h.insert(s("topicPerms"), strings(&a.topic_perms));
                h.insert(s("groupPerms"), strings(&a.group_perms));
                Yaml::Hash(h)
            })
            .collect();
        root.insert(s("accounts"), Yaml::Array(accounts));
        let mut dv = Hash::new();
        dv.insert(s("counter"), Yaml::Integer(self.data_version.0));
        dv.insert(s("timestamp"), Yaml::Integer(self.data_version.1));
        root.insert(s("dataVersion"), Yaml::Array(vec![Yaml::Hash(dv)]));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = YamlEmitter::new(&mut out).dump(&Yaml::Hash(root));
        out.push('\n');
        out
    }

    /// Bumps the data version, as every change over the admin RPCs does.
    pub fn touch(&mut self, now_ms: i64) {
        self.data_version = (self.data_version.0 + 1, now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
globalWhiteRemoteAddresses:
  - 10.10.103.*
  - 192.168.0.*
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
    groupPerms:
      - groupA=DENY
  - accessKey: rocketmq2
    secretKey: "12345678"
    whiteRemoteAddress: 192.168.1.*
    admin: true
dataVersion:
  - counter: 3
    timestamp: 1700000000000
"#;

    #[test]
    fn apache_sample_parses_and_round_trips() {
        let f = PlainAclFile::parse(SAMPLE).unwrap();
        assert_eq!(
            f.global_white_remote_addresses,
            vec!["10.10.103.*", "192.168.0.*"]
        );
        assert_eq!(f.accounts.len(), 2);
        assert_eq!(
            f.accounts[0].secret_key, "12345678",
            "a numeric secret is taken as text"
        );
        assert_eq!(f.accounts[0].topic_perms, vec!["topicA=DENY", "topicB=PUB|SUB"]);
        assert!(f.accounts[1].admin && f.accounts[1].topic_perms.is_empty());
        assert_eq!(f.data_version, (3, 1_700_000_000_000));
        assert_eq!(PlainAclFile::parse(&f.to_yaml()).unwrap(), f);
    }

    #[test]
    fn broken_files_say_what_is_wrong() {
        assert!(PlainAclFile::parse("accounts: [").unwrap_err().contains("YAML"));
        assert!(PlainAclFile::parse("accounts:\n  - secretKey: x\n")
            .unwrap_err()
            .contains("no accessKey"));
        assert!(PlainAclFile::parse("- a\n- b\n").unwrap_err().contains("mapping"));
        assert_eq!(PlainAclFile::parse("").unwrap(), PlainAclFile::default());
    }
}
