//! The table of consume queues, `topic -> queue id -> ConsumeQueue`, and their directory tree
//! `<root>/consumequeue/<topic>/<queueId>/`.
//!
//! The table lock is held only to look up, insert or remove an `Arc`; queue IO happens outside
//! it. Lookups take `&str`, so the append path allocates nothing for a known queue.
//!
//! Every queue's files share one [`OpenFiles`] budget, so thousands of queues hold at most its
//! cap of descriptors and mappings. Loading opens only the files needed to find each queue's
//! end, and logs its progress when there are many queues.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::consume_queue::ConsumeQueue;
use super::error::{Result, StoreError};
use super::open_files::OpenFiles;
use super::progress::Progress;

/// All consume queues of the store.
#[derive(Debug)]
pub struct QueueTable {
    dir: PathBuf,
    entries_per_file: usize,
    budget: Arc<OpenFiles>,
    queues: RwLock<HashMap<String, HashMap<i32, Arc<ConsumeQueue>>>>,
}

impl QueueTable {
    /// Loads every queue under `<root>/consumequeue`; `scan_tail` as in [`ConsumeQueue::open`].
    pub fn load(
        root: &Path,
        entries_per_file: usize,
        scan_tail: bool,
        budget: Arc<OpenFiles>,
    ) -> Result<QueueTable> {
        let dir = root.join("consumequeue");
        fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let mut found = Vec::new();
        for topic_entry in fs::read_dir(&dir).map_err(|e| StoreError::io(&dir, e))? {
            let topic_entry = topic_entry.map_err(|e| StoreError::io(&dir, e))?;
            let Ok(topic) = topic_entry.file_name().into_string() else {
                continue;
            };
            if !topic_entry.path().is_dir() {
                continue;
            }
            for q_entry in
                fs::read_dir(topic_entry.path()).map_err(|e| StoreError::io(topic_entry.path(), e))?
            {
                let q_entry = q_entry.map_err(|e| StoreError::io(topic_entry.path(), e))?;
                if let Some(qid) = q_entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
                    found.push((topic.clone(), qid, q_entry.path()));
                }
            }
        }
        let total = found.len();
        let mut progress = Progress::new("loading consume queues", total);
        let mut queues: HashMap<String, HashMap<i32, Arc<ConsumeQueue>>> = HashMap::new();
        for (done, (topic, qid, path)) in found.into_iter().enumerate() {
            let cq = ConsumeQueue::open(&path, &topic, qid, entries_per_file, scan_tail, budget.clone())?;
            queues.entry(topic).or_default().insert(qid, Arc::new(cq));
            progress.tick(done + 1);
        }
        if total > 0 {
            tracing::info!(
                queues = total,
                ms = progress.elapsed().as_millis() as u64,
                open_files = budget.open_count(),
                "consume queues loaded"
            );
        }
        Ok(QueueTable {
            dir,
            entries_per_file,
            budget,
            queues: RwLock::new(queues),
        })
    }

    /// The budget of open queue files.
    pub fn budget(&self) -> &Arc<OpenFiles> {
        &self.budget
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, HashMap<i32, Arc<ConsumeQueue>>>> {
        self.queues.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, HashMap<i32, Arc<ConsumeQueue>>>> {
        self.queues.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The queue, if it exists.
    pub fn get(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.read().get(topic).and_then(|t| t.get(&queue_id)).cloned()
    }

    /// The queue, created (with its directory) when missing.
    pub fn get_or_create(&self, topic: &str, queue_id: i32) -> Result<Arc<ConsumeQueue>> {
        if let Some(cq) = self.get(topic, queue_id) {
            return Ok(cq);
        }
        if topic.is_empty()
            || topic.contains(['/', '\\', '\0'])
            || topic == "."
            || topic == ".."
            || queue_id < 0
        {
            return Err(StoreError::BadBatch(
                "topic is not a valid directory name or queue id is negative",
            ));
        }
        let mut queues = self.write();
        if let Some(cq) = queues.get(topic).and_then(|t| t.get(&queue_id)) {
            return Ok(cq.clone());
        }
        let dir = self.dir.join(topic).join(queue_id.to_string());
        let cq = Arc::new(ConsumeQueue::open(
            &dir,
            topic,
            queue_id,
            self.entries_per_file,
            false,
            self.budget.clone(),
        )?);
        queues
            .entry(topic.to_string())
            .or_default()
            .insert(queue_id, cq.clone());
        Ok(cq)
    }

    /// Every queue.
    pub fn all(&self) -> Vec<Arc<ConsumeQueue>> {
        self.read().values().flat_map(|t| t.values().cloned()).collect()
    }

    /// `(topic, queue id)` of every queue, sorted.
    pub fn list(&self) -> Vec<(String, i32)> {
        let mut out: Vec<_> = self
            .read()
            .iter()
            .flat_map(|(t, qs)| qs.keys().map(move |q| (t.clone(), *q)))
            .collect();
        out.sort();
        out
    }

    /// Removes a topic's queues and files; returns whether it existed.
    pub fn remove_topic(&self, topic: &str) -> Result<bool> {
        let removed = self.write().remove(topic);
        let Some(removed) = removed else { return Ok(false) };
        for cq in removed.values() {
            cq.destroy()?;
        }
        let _ = fs::remove_dir(self.dir.join(topic));
        Ok(true)
    }
}
