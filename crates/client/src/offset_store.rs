//! Consumer offsets: where the group resumes in each queue.
//!
//! * Clustering: the broker keeps the group's offsets. The consumer reads one with
//!   QUERY_CONSUMER_OFFSET when it takes a queue, advances it in memory as messages complete,
//!   and writes them back with one-way UPDATE_CONSUMER_OFFSET every 5 s, when it gives a queue
//!   up, and at shutdown. The master is preferred; a slave serves while the master is away.
//! * Broadcasting: each consumer keeps its own offsets, in `<dir>/<group>/offsets.json` (fastjson
//!   `OffsetSerializeWrapper` form, as Java's `LocalFileOffsetStore`), written by replacing the
//!   file; without a directory they live in memory only.
//!
//! The table lock guards the in-memory map only and is never held across a call.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rmq_remoting::body::{from_fastjson, MqMap};
use rmq_remoting::headers::offset::{
    QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader, UpdateConsumerOffsetRequestHeader,
};
use rmq_remoting::{CommandHeader, RemotingCommand, RequestCode, ResponseCode};
use serde::Deserialize;
use tracing::{debug, warn};

use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::MessageQueue;

/// Where offsets persist.
pub(crate) enum Backend {
    /// On the brokers (clustering).
    Remote,
    /// In a local file, or nowhere (broadcasting).
    Local(Option<PathBuf>),
}

/// The offset table of one consumer group.
pub(crate) struct OffsetStore {
    group: String,
    instance: Arc<ClientInstance>,
    backend: Backend,
    table: Mutex<HashMap<MessageQueue, i64>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct OffsetFile {
    offset_table: MqMap<i64>,
}

impl OffsetStore {
    pub(crate) fn new(group: &str, instance: Arc<ClientInstance>, backend: Backend) -> Self {
        OffsetStore {
            group: group.to_string(),
            instance,
            backend,
            table: Mutex::new(HashMap::new()),
        }
    }

    fn file(&self) -> Option<PathBuf> {
        match &self.backend {
            Backend::Local(Some(dir)) => Some(dir.join(&self.group).join("offsets.json")),
            _ => None,
        }
    }

    /// Sets the in-memory offset (only forward when `increase_only`).
    pub(crate) fn update(&self, mq: &MessageQueue, offset: i64, increase_only: bool) {
        let mut table = self.table.lock().expect("offset table lock");
        // Looked up by reference first: this runs once per consumed message, and the queue key
        // is only cloned for a queue not in the table yet.
        match table.get_mut(mq) {
            Some(entry) => {
                if !increase_only || offset > *entry {
                    *entry = offset;
                }
            }
            None => {
                table.insert(mq.clone(), offset);
            }
        }
    }

    /// The in-memory offset.
    pub(crate) fn read_memory(&self, mq: &MessageQueue) -> Option<i64> {
        self.table.lock().expect("offset table lock").get(mq).copied()
    }

    /// Forgets a queue (after persisting it).
    pub(crate) fn remove(&self, mq: &MessageQueue) {
        self.table.lock().expect("offset table lock").remove(mq);
    }

    /// The stored offset: from the broker or the file; `None` when the group has none.
    pub(crate) async fn read_from_store(&self, mq: &MessageQueue) -> Result<Option<i64>> {
        let offset = match &self.backend {
            Backend::Remote => self.query_broker(mq).await?,
            Backend::Local(_) => match self.file() {
                Some(path) => load_file(path).await?.get(mq).copied(),
                None => None,
            },
        };
        if let Some(offset) = offset {
            self.update(mq, offset, false);
        }
        Ok(offset)
    }

    async fn query_broker(&self, mq: &MessageQueue) -> Result<Option<i64>> {
        let addr = self.addr(mq).await?;
        let header = QueryConsumerOffsetRequestHeader {
            consumer_group: self.group.clone(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            bname: Some(mq.broker_name.clone()),
        };
        let request = RemotingCommand::request_with(RequestCode::QUERY_CONSUMER_OFFSET, &header);
        let timeout = self.instance.config().request_timeout;
        let response = self.instance.remoting().invoke(&addr, request, timeout).await?;
        if response.code == ResponseCode::QUERY_NOT_FOUND.code() {
            return Ok(None);
        }
        if !response.is_success() {
            return Err(ClientError::broker(&addr, &response));
        }
        let header = QueryConsumerOffsetResponseHeader::from_ext_fields(&response.ext_fields)
            .map_err(|e| ClientError::BadBody(format!("offset from {addr}: {e}")))?;
        Ok(Some(header.offset))
    }

    async fn addr(&self, mq: &MessageQueue) -> Result<String> {
        if let Some((addr, _)) = self.instance.subscribe_addr(&mq.broker_name, 0, false) {
            return Ok(addr);
        }
        self.instance.update_route(&mq.topic).await?;
        self.instance
            .subscribe_addr(&mq.broker_name, 0, false)
            .map(|(addr, _)| addr)
            .ok_or_else(|| ClientError::BrokerNotFound(mq.broker_name.clone()))
    }

    /// Writes the offsets of `mqs` (those known in memory) to the store.
    pub(crate) async fn persist(&self, mqs: &[MessageQueue]) {
        let entries: Vec<(MessageQueue, i64)> = {
            let table = self.table.lock().expect("offset table lock");
            mqs.iter()
                .filter_map(|mq| table.get(mq).map(|o| (mq.clone(), *o)))
                .collect()
        };
        match &self.backend {
            Backend::Remote => {
                for (mq, offset) in entries {
                    if let Err(e) = self.commit_to_broker(&mq, offset).await {
                        debug!(queue = %mq, error = %e, "offset commit failed");
                    }
                }
            }
            Backend::Local(_) => {
                let Some(path) = self.file() else { return };
                let all: MqMap<i64> = self
                    .table
                    .lock()
                    .expect("offset table lock")
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                if let Err(e) = save_file(path, all).await {
                    warn!(group = %self.group, error = %e, "cannot write local offsets");
                }
            }
        }
    }

    async fn commit_to_broker(&self, mq: &MessageQueue, offset: i64) -> Result<()> {
        let addr = self.addr(mq).await?;
        let header = UpdateConsumerOffsetRequestHeader {
            consumer_group: self.group.clone(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            commit_offset: offset,
            bname: Some(mq.broker_name.clone()),
        };
        let request = RemotingCommand::request_with(RequestCode::UPDATE_CONSUMER_OFFSET, &header);
        self.instance.remoting().invoke_oneway(&addr, request).await?;
        Ok(())
    }
}

async fn load_file(path: PathBuf) -> Result<HashMap<MessageQueue, i64>> {
    let read = tokio::task::spawn_blocking(move || std::fs::read(&path).map(|b| (b, path)))
        .await
        .map_err(|e| ClientError::Invalid(format!("offset file reader: {e}")))?;
    match read {
        Ok((bytes, path)) => {
            let file: OffsetFile = from_fastjson(&bytes)
                .map_err(|e| ClientError::BadBody(format!("offset file {}: {e}", path.display())))?;
            Ok(file.offset_table.0.into_iter().collect())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
        Err(e) => Err(ClientError::Invalid(format!("cannot read offset file: {e}"))),
    }
}

async fn save_file(path: PathBuf, table: MqMap<i64>) -> std::io::Result<()> {
    let text = format!("{{\"offsetTable\":{}}}", table.to_fastjson());
    tokio::task::spawn_blocking(move || {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g").join("offsets.json");
        let table: MqMap<i64> = [
            (MessageQueue::new("T", "b", 0), 5),
            (MessageQueue::new("T", "b", 1), 9),
        ]
        .into_iter()
        .collect();
        save_file(path.clone(), table).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("{\"offsetTable\":{{\"brokerName\":\"b\""),
            "{text}"
        );
        let back = load_file(path).await.unwrap();
        assert_eq!(back.get(&MessageQueue::new("T", "b", 1)), Some(&9));
        assert!(load_file(dir.path().join("none.json")).await.unwrap().is_empty());
    }
}
