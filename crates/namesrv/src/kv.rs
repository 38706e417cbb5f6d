//! [`KvStore`]: the nameserver's namespace → key → value table (ordered-topic configs live in
//! namespace `ORDER_TOPIC_CONFIG`), and its file.
//!
//! Durability contract: the file is Apache's `kvConfig.json` layout,
//! `{"configTable":{"<namespace>":{"<key>":"<value>"}}}`. Every change is written whole to
//! `<file>.tmp`, synced, renamed over the file, and the directory synced, so after a crash the file
//! holds either the old or the new table, never a torn one. A change is acknowledged only after its
//! write returns. Writes are serialized by `write_lock`, and each writer snapshots the table while
//! holding it, so the last rename always carries the newest table.
//!
//! Bounds ([`KvLimits`]): a value longer than `max_value_len`, or a put that would take the table
//! (keys plus values, every namespace) past `max_table_bytes`, is refused and changes nothing, so
//! the ORDER_TOPIC_CONFIG namespace that rides on every REGISTER_BROKER reply stays small and each
//! rewrite of the file stays cheap.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};

use serde::{Deserialize, Serialize};
use tracing::info;

/// Namespace of ordered-topic configs (`brokerName:queues;…` per topic).
pub const ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

/// Namespace → key → value.
pub type KvTableMap = BTreeMap<String, BTreeMap<String, String>>;

/// The file layout (Apache `KVConfigSerializeWrapper`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KvFile {
    config_table: KvTableMap,
}

/// How large the KV table may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvLimits {
    /// Longest value, bytes.
    pub max_value_len: usize,
    /// Most bytes of keys plus values over every namespace.
    pub max_table_bytes: usize,
}

/// Why a put was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvRefused {
    /// The value is too long.
    #[error("the value of {len} bytes exceeds maxKvValueLength ({max} bytes)")]
    ValueTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The table would grow too large.
    #[error(
        "the KV table would hold {would} bytes, over maxKvTableBytes ({max} bytes); delete entries first"
    )]
    TableFull {
        /// Bytes after the put.
        would: usize,
        /// The limit.
        max: usize,
    },
}

/// A KV file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// Reading, writing or renaming failed.
    #[error("KV config file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file exists but is not a KV table.
    #[error("KV config file {path} is not valid: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The KV table and the file it persists to.
#[derive(Debug)]
pub struct KvStore {
    path: PathBuf,
    // Readers (route lookups with orderMessageEnable) vastly outnumber writers (admin commands).
    table: RwLock<KvTableMap>,
    // Held for the whole snapshot-write-rename of one persist; never taken by readers.
    write_lock: Mutex<()>,
}

impl KvStore {
    /// Loads `path`; a missing file is an empty table.
    pub fn load(path: &Path) -> Result<KvStore, KvError> {
        let table = match fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => KvTableMap::new(),
            Ok(bytes) => {
                let file: KvFile =
                    rmq_remoting::body::from_fastjson(&bytes).map_err(|e| KvError::Corrupt {
                        path: path.to_path_buf(),
                        reason: e.to_string(),
                    })?;
                file.config_table
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => KvTableMap::new(),
            Err(source) => {
                return Err(KvError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        info!(path = %path.display(), namespaces = table.len(), "KV config loaded");
        Ok(KvStore {
            path: path.to_path_buf(),
            table: RwLock::new(table),
            write_lock: Mutex::new(()),
        })
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One value.
    pub fn get(&self, namespace: &str, key: &str) -> Option<String> {
        self.read().get(namespace)?.get(key).cloned()
    }

    /// Every key of `namespace`, or `None` when the namespace has none.
    pub fn namespace(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.read().get(namespace).filter(|m| !m.is_empty()).cloned()
    }

    /// A copy of the whole table.
    pub fn snapshot(&self) -> KvTableMap {
        self.read().clone()
    }

    /// Sets a value in memory within `limits`; call [`Self::persist`] (blocking) afterwards.
    /// A refused put changes nothing.
    pub fn put(&self, namespace: &str, key: &str, value: &str, limits: KvLimits) -> Result<(), KvRefused> {
        if value.len() > limits.max_value_len {
            return Err(KvRefused::ValueTooLong {
                len: value.len(),
                max: limits.max_value_len,
            });
        }
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        let size: usize = table
            .iter()
            .flat_map(|(ns, keys)| keys.iter().map(move |(k, v)| ns.len() + k.len() + v.len()))
            .sum();
        let replaced = table
            .get(namespace)
            .and_then(|keys| keys.get(key))
            .map_or(0, |old| namespace.len() + key.len() + old.len());
        let would = size - replaced + namespace.len() + key.len() + value.len();
        if would > limits.max_table_bytes {
            return Err(KvRefused::TableFull {
                would,
                max: limits.max_table_bytes,
            });
        }
        table
            .entry(namespace.to_string())
            .or_default()
            .insert(key.to_string(), value.to_string());
        Ok(())
    }

    /// Removes a value in memory; returns whether it existed. Call [`Self::persist`] afterwards.
    pub fn delete(&self, namespace: &str, key: &str) -> bool {
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        let Some(keys) = table.get_mut(namespace) else {
            return false;
        };
        let existed = keys.remove(key).is_some();
        if keys.is_empty() {
            table.remove(namespace);
        }
        existed
    }

    /// Writes the current table to the file atomically. Blocking: run it off the async threads.
    pub fn persist(&self) -> Result<(), KvError> {
        let _writer = self.write_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let file = KvFile {
            config_table: self.snapshot(),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|e| KvError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&self.path, &text).map_err(|source| KvError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Logs every entry (Apache prints the table every 10 minutes).
    pub fn log_all(&self) {
        let table = self.read();
        info!("--------------------------------------------------------");
        info!(namespaces = table.len(), "configTable SIZE: {}", table.len());
        for (namespace, keys) in table.iter() {
            for (key, value) in keys {
                info!(
                    "configTable NAMESPACE: {} KEY: {} VALUE: {}",
                    rmq_remoting::clip(namespace),
                    rmq_remoting::clip(key),
                    rmq_remoting::clip(value)
                );
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, KvTableMap> {
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    // Make the rename itself durable.
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reload_and_reads_apache_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("namesrv").join("kvConfig.json");
        let kv = KvStore::load(&path).unwrap();
        assert!(kv.snapshot().is_empty());
        kv.put(ORDER_TOPIC_CONFIG, "T", "broker-a:4", LIMITS).unwrap();
        kv.put("ns", "k", "v", LIMITS).unwrap();
        kv.persist().unwrap();
        assert!(kv.delete("ns", "k"));
        assert!(!kv.delete("ns", "k"));
        kv.persist().unwrap();
        let back = KvStore::load(&path).unwrap();
        assert_eq!(back.get(ORDER_TOPIC_CONFIG, "T").as_deref(), Some("broker-a:4"));
        assert_eq!(back.namespace("ns"), None);
        assert!(!dir.path().join("namesrv").join("kvConfig.json.tmp").exists());

        // Apache's own file (fastjson, pretty-printed).
        fs::write(
            &path,
            "{\n\t\"configTable\":{\n\t\t\"ORDER_TOPIC_CONFIG\":{\n\t\t\t\"X\":\"b:8\"\n\t\t}\n\t}\n}",
        )
        .unwrap();
        assert_eq!(
            KvStore::load(&path)
                .unwrap()
                .get(ORDER_TOPIC_CONFIG, "X")
                .as_deref(),
            Some("b:8")
        );
    }

    const LIMITS: KvLimits = KvLimits {
        max_value_len: 16,
        max_table_bytes: 64,
    };

    #[test]
    fn values_and_the_table_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let kv = KvStore::load(&dir.path().join("kv.json")).unwrap();
        assert_eq!(
            kv.put("ns", "k", &"v".repeat(17), LIMITS),
            Err(KvRefused::ValueTooLong { len: 17, max: 16 })
        );
        // 2 + 2 + 16 = 20 bytes an entry: three fit in 64, a fourth does not.
        for key in ["k1", "k2", "k3"] {
            kv.put("ns", key, &"v".repeat(16), LIMITS).unwrap();
        }
        assert!(matches!(
            kv.put("ns", "k4", &"v".repeat(16), LIMITS),
            Err(KvRefused::TableFull { would: 80, max: 64 })
        ));
        assert_eq!(kv.get("ns", "k4"), None);
        // Replacing a value counts the new length only.
        kv.put("ns", "k1", "short", LIMITS).unwrap();
        kv.put("ns", "k4", "1234", LIMITS).unwrap();
    }

    #[test]
    fn corrupt_file_is_an_error_not_an_empty_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.json");
        fs::write(&path, "{\"configTable\":").unwrap();
        assert!(matches!(KvStore::load(&path), Err(KvError::Corrupt { .. })));
    }
}
