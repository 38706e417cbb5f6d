//! [`GroupTable`]: subscription group configs (`SubscriptionGroupConfig`), auto-created on first
//! use when `autoCreateSubscriptionGroup` is on, created, replaced or deleted by mqadmin
//! (`updateSubGroup` / `deleteSubGroup`), persisted as `config/subscriptionGroup.json`
//! (`{"dataVersion":{..},"subscriptionGroupTable":{name: config}}`, also the
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG body a slave syncs from).
//!
//! Invariant: the system groups ([`SYSTEM_GROUPS`]) are always present; they can be replaced but
//! never removed.

use std::collections::HashMap;
use std::sync::RwLock;

use rmq_remoting::body::DataVersion;
pub use rmq_remoting::body::{SubscriptionGroupConfig, SubscriptionGroupWrapper};

use crate::persist::DirtyFlag;

/// Groups that exist on every broker (Apache's `MixAll` system groups).
pub const SYSTEM_GROUPS: &[&str] = &[
    "TOOLS_CONSUMER",
    "FILTERSRV_CONSUMER",
    "__MONITOR_CONSUMER",
    "CLIENT_INNER_PRODUCER",
    "SELF_TEST_P_GROUP",
    "SELF_TEST_C_GROUP",
    "CID_ONS-HTTP-PROXY",
    "CID_ONSAPI_PERMISSION",
    "CID_ONSAPI_OWNER",
    "CID_ONSAPI_PULL",
    "CID_RMQ_SYS_TRANS",
];

/// Whether `group` is one of the [`SYSTEM_GROUPS`].
pub fn is_system_group(group: &str) -> bool {
    SYSTEM_GROUPS.contains(&group)
}

/// Longest group name (Apache's `Validators.CHARACTER_MAX_LENGTH`).
pub const GROUP_MAX_LEN: usize = 255;

/// Why a group name is refused: blank, longer than [`GROUP_MAX_LEN`], or outside
/// `^[%|a-zA-Z0-9_-]+$` (Apache's client-side `Validators.checkGroup`, enforced here too so a
/// hostile client cannot grow the broker's tables and files with arbitrary names).
pub fn validate_group_name(group: &str) -> Result<(), String> {
    if group.trim().is_empty() {
        return Err("consumerGroup is blank".to_string());
    }
    if group.len() > GROUP_MAX_LEN {
        return Err(format!(
            "the specified group is longer than group max length {GROUP_MAX_LEN}"
        ));
    }
    if !group
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
    {
        return Err(format!(
            "the specified group[{}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$",
            rmq_remoting::clip(group)
        ));
    }
    Ok(())
}

/// A system group cannot be removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the subscription group[{0}] is a system group and cannot be deleted")]
pub struct SystemGroupError(pub String);

#[derive(Debug, Default)]
struct Inner {
    version: DataVersion,
    groups: HashMap<String, SubscriptionGroupConfig>,
}

/// All subscription groups; the lock guards the map and its version.
#[derive(Debug)]
pub struct GroupTable {
    inner: RwLock<Inner>,
    auto_create: bool,
    dirty: DirtyFlag,
}

impl GroupTable {
    /// A table holding the system groups.
    pub fn new(auto_create: bool, now_ms: i64) -> GroupTable {
        let groups = SYSTEM_GROUPS
            .iter()
            .map(|g| {
                (
                    g.to_string(),
                    SubscriptionGroupConfig {
                        group_name: g.to_string(),
                        ..Default::default()
                    },
                )
            })
            .collect();
        GroupTable {
            inner: RwLock::new(Inner {
                version: DataVersion::new(now_ms),
                groups,
            }),
            auto_create,
            dirty: DirtyFlag::default(),
        }
    }

    /// The group's config; created with defaults when missing and auto-creation is on.
    pub fn find_or_create(&self, group: &str, now_ms: i64) -> Option<SubscriptionGroupConfig> {
        if let Some(g) = self
            .inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .groups
            .get(group)
        {
            return Some(g.clone());
        }
        if !self.auto_create {
            return None;
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let cfg = inner
            .groups
            .entry(group.to_string())
            .or_insert_with(|| SubscriptionGroupConfig {
                group_name: group.to_string(),
                ..Default::default()
            })
            .clone();
        inner.version.next_version(now_ms);
        self.dirty.mark();
        Some(cfg)
    }

    /// The group's config if it exists.
    pub fn get(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .groups
            .get(group)
            .cloned()
    }

    /// Creates or replaces a group.
    pub fn put(&self, cfg: SubscriptionGroupConfig, now_ms: i64) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.groups.insert(cfg.group_name.clone(), cfg);
        inner.version.next_version(now_ms);
        self.dirty.mark();
    }

    /// Removes a group; true when it existed. System groups are refused.
    pub fn remove(&self, group: &str, now_ms: i64) -> Result<bool, SystemGroupError> {
        if is_system_group(group) {
            return Err(SystemGroupError(group.to_string()));
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.groups.remove(group).is_none() {
            return Ok(false);
        }
        inner.version.next_version(now_ms);
        self.dirty.mark();
        Ok(true)
    }

    /// A snapshot in the file form.
    pub fn wrapper(&self) -> SubscriptionGroupWrapper {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        SubscriptionGroupWrapper {
            data_version: inner.version,
            subscription_group_table: inner.groups.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }

    /// Replaces the table with `wrapper` (the file at start, the master's table on a slave), so
    /// a group deleted on the master disappears from its slaves too. System groups missing from
    /// `wrapper` keep their defaults.
    pub fn load(&self, wrapper: SubscriptionGroupWrapper) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.version = wrapper.data_version;
        inner.groups.retain(|name, _| is_system_group(name));
        for (name, mut cfg) in wrapper.subscription_group_table {
            cfg.group_name = name.clone();
            inner.groups.insert(name, cfg);
        }
    }

    /// Whether the table changed since it was last saved.
    pub fn dirty(&self) -> &DirtyFlag {
        &self.dirty
    }

    /// Number of groups (system groups included).
    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).groups.len()
    }

    /// Whether there are no groups (never, once the system groups are in).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_create_and_defaults() {
        let t = GroupTable::new(true, 1);
        assert!(t.get("TOOLS_CONSUMER").is_some());
        let g = t.find_or_create("cg", 2).unwrap();
        assert_eq!(
            (g.retry_max_times, g.retry_queue_nums, g.consume_enable),
            (16, 1, true)
        );
        assert!(t.dirty().take());
        let off = GroupTable::new(false, 1);
        assert!(off.find_or_create("cg", 2).is_none());
        let json = serde_json::to_string(&t.wrapper()).unwrap();
        let back: SubscriptionGroupWrapper = serde_json::from_str(&json).unwrap();
        assert_eq!(back.subscription_group_table["cg"].group_name, "cg");
    }

    #[test]
    fn remove_refuses_system_groups_and_load_replaces() {
        let t = GroupTable::new(true, 1);
        t.put(
            SubscriptionGroupConfig {
                group_name: "cg".into(),
                retry_max_times: 3,
                ..Default::default()
            },
            2,
        );
        assert!(t.dirty().take());
        let before = t.wrapper().data_version;
        assert_eq!(t.remove("cg", 3), Ok(true));
        assert!(t.dirty().take());
        assert_ne!(t.wrapper().data_version, before);
        assert_eq!(t.remove("cg", 4), Ok(false));
        assert!(!t.dirty().take(), "removing a missing group changes nothing");
        let e = t.remove("TOOLS_CONSUMER", 5).unwrap_err();
        assert!(e.to_string().contains("system group"), "{e}");
        assert!(t.get("TOOLS_CONSUMER").is_some());

        // A slave's copy loses groups its master deleted, but never the system groups.
        t.put(
            SubscriptionGroupConfig {
                group_name: "stale".into(),
                ..Default::default()
            },
            6,
        );
        let mut master = SubscriptionGroupWrapper::default();
        master
            .subscription_group_table
            .insert("fresh".into(), SubscriptionGroupConfig::default());
        t.load(master);
        assert!(t.get("stale").is_none());
        assert_eq!(t.get("fresh").map(|g| g.group_name), Some("fresh".to_string()));
        assert!(SYSTEM_GROUPS.iter().all(|g| t.get(g).is_some()));
    }
}
