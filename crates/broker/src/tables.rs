//! Writing the broker's JSON tables to `<storePathRootDir>/config/`: `topics.json`,
//! `subscriptionGroup.json`, `consumerOffset.json` and `delayOffset.json`, each replaced
//! atomically through [`crate::persist`]. Request handlers call these (or their async `persist_*`
//! forms) after an admin change (before they answer) and the broker's periodic task calls them for the tables marked dirty.
//! Loading them at start is the broker's ([`crate::Broker`]).

use serde::Serialize;
use tracing::info;

use crate::groups::validate_group_name;
use crate::persist::write_atomic;
use std::sync::Arc;

use crate::state::BrokerState;

/// Writes `name` with a snapshot taken under the file lock, so that of two writers racing (a
/// handler persisting its change, the periodic flush) the later write holds the later snapshot.
fn write_json<T: Serialize>(
    state: &BrokerState,
    name: &str,
    snapshot: impl FnOnce() -> T,
) -> std::io::Result<()> {
    let _guard = state.file_lock.lock().unwrap_or_else(|e| e.into_inner());
    let text = serde_json::to_string_pretty(&snapshot()).map_err(std::io::Error::other)?;
    write_atomic(&state.config_dir.join(name), &text)
}

/// Writes `topics.json` (blocking).
pub fn write_topics(state: &BrokerState) -> std::io::Result<()> {
    write_json(state, "topics.json", || state.topics.wrapper())
}

/// Writes `subscriptionGroup.json` now (blocking): after an admin change, before it is
/// acknowledged.
pub fn write_groups(state: &BrokerState) -> std::io::Result<()> {
    state
        .groups
        .dirty()
        .save_now(|| write_json(state, "subscriptionGroup.json", || state.groups.wrapper()))
}

/// Writes the consumer offsets and subscription groups if they changed (blocking). On a master
/// the offsets of topics that no longer exist, and of group names no request could create, are
/// dropped first (a slave copies its master's table as it is). Offsets of a deleted group stay
/// unless its deletion asked for their removal, as in Apache (`deleteSubGroup` without `-r`): a
/// group created again resumes where it was. A commit creates its group, so no other unknown
/// group has offsets.
pub fn write_offsets(state: &BrokerState) -> std::io::Result<()> {
    if !state.is_slave() {
        let dropped = state
            .offsets
            .retain_known(|topic, group| state.topics.contains(topic) && validate_group_name(group).is_ok());
        if dropped > 0 {
            info!(
                dropped,
                "consumer offsets of deleted topics or illegal group names dropped"
            );
        }
    }
    state
        .offsets
        .dirty()
        .save_if_dirty(|| write_json(state, "consumerOffset.json", || state.offsets.to_body()))?;
    state
        .groups
        .dirty()
        .save_if_dirty(|| write_json(state, "subscriptionGroup.json", || state.groups.wrapper()))
}

/// Writes the delay offsets if they changed (blocking).
pub fn write_delay_offsets(state: &BrokerState) -> std::io::Result<()> {
    state
        .delay_offsets
        .dirty()
        .save_if_dirty(|| write_json(state, "delayOffset.json", || state.delay_offsets.to_body()))
}

/// Writes topics.json now (after a topic change, before the change is acknowledged).
pub async fn persist_topics(state: &Arc<BrokerState>) {
    persist(state, write_topics, "topics.json").await;
}

/// Writes subscriptionGroup.json now (after an admin change to the groups).
pub async fn persist_groups(state: &Arc<BrokerState>) {
    persist(state, write_groups, "subscriptionGroup.json").await;
}

/// Writes consumerOffset.json (and the groups) now if they changed.
pub async fn persist_offsets(state: &Arc<BrokerState>) {
    persist(state, write_offsets, "consumerOffset.json").await;
}

/// Runs a blocking config-file writer off the runtime. A failure is logged, not returned: the
/// change is in memory and the periodic flush (or shutdown) retries the file.
async fn persist(state: &Arc<BrokerState>, job: fn(&BrokerState) -> std::io::Result<()>, file: &'static str) {
    let s = state.clone();
    match tokio::task::spawn_blocking(move || job(&s)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, file, "cannot write config file"),
        Err(e) => tracing::error!(error = %e, file, "config file writer failed"),
    }
}
