//! `KVTable`: `{"table":{"k":"v"}}`, used by GET_KVLIST_BY_NAMESPACE, GET_BROKER_RUNTIME_INFO and
//! the REGISTER_BROKER reply (namespace `ORDER_TOPIC_CONFIG`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::JsonBody;

/// A string-to-string table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvTable {
    /// The entries.
    pub table: BTreeMap<String, String>,
}

impl JsonBody for KvTable {}

impl KvTable {
    /// One entry, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.table.get(key).map(String::as_str)
    }
}

impl FromIterator<(String, String)> for KvTable {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        KvTable {
            table: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let kv: KvTable = [("putTps".to_string(), "12.5 11.0 10.2".to_string())]
            .into_iter()
            .collect();
        assert_eq!(kv.to_json(), r#"{"table":{"putTps":"12.5 11.0 10.2"}}"#);
        assert_eq!(KvTable::decode(&kv.encode()).unwrap(), kv);
        assert_eq!(kv.get("putTps"), Some("12.5 11.0 10.2"));
        assert_eq!(KvTable::decode(b"{}").unwrap(), KvTable::default());
        assert!(KvTable::decode(br#"{"table":{"a":1}}"#).is_err());
    }
}
