//! Plain ACL (`aclEnable=true`): every request on the broker's ports is checked against
//! `<rocketmqHome>/conf/plain_acl.yml` before it is handled, as Apache 4.x's
//! `PlainAccessValidator` does.
//!
//! * [`plain_file`] reads and writes the file in Apache's schema; [`rules`] compiles it and checks
//!   a request; [`resources`] maps request codes to the topics and groups they touch;
//!   [`address`] and [`perm`] are the address patterns and permission bits.
//! * [`Acl`] holds the rules in force. The file is checked for changes every 5 s and reloaded; a
//!   file that does not parse or compile keeps the last good rules in force and is logged. The
//!   admin requests (UPDATE_AND_CREATE_ACL_CONFIG, DELETE_ACL_CONFIG,
//!   UPDATE_GLOBAL_WHITE_ADDRS_CONFIG) rewrite the file (temp file, fsync, rename) and apply it.
//! * A refusal answers SYSTEM_ERROR (Apache 4.9.7's code for an `AclException`) with a remark
//!   naming the account, the resource and the permission; the secret never appears in a reply or
//!   a log line.

pub mod address;
pub mod perm;
pub mod plain_file;
pub mod resources;
pub mod rules;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use plain_file::{AccountEntry, PlainAclFile};
use rmq_remoting::RemotingCommand;
use rules::AclRules;

/// What identifies one version of the file on disk (modification time, length).
type Stamp = Option<(SystemTime, u64)>;

struct Loaded {
    rules: Arc<AclRules>,
    file: PlainAclFile,
    stamp: Stamp,
}

/// The ACL in force on a broker.
pub struct Acl {
    path: PathBuf,
    loaded: RwLock<Loaded>,
    /// Serializes rewrites of the file by the admin requests.
    writing: Mutex<()>,
}

impl std::fmt::Debug for Acl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acl")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

fn load(path: &Path) -> Result<(PlainAclFile, AclRules), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = PlainAclFile::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let rules = AclRules::compile(&file).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((file, rules))
}

impl Acl {
    /// The file under `rocketmq_home`: `conf/plain_acl.yml`.
    pub fn file_path(rocketmq_home: &Path) -> PathBuf {
        rocketmq_home.join("conf").join("plain_acl.yml")
    }

    /// Loads the file, creating an empty one (no accounts: every unsigned or unknown peer is
    /// refused) when it is missing, as Apache does. A broken file is an error at start.
    pub fn open(path: PathBuf) -> Result<Acl, String> {
        if !path.exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            write_file(&path, &PlainAclFile::default())?;
            tracing::warn!(path = %path.display(), "aclEnable is on and there was no ACL file; created an empty one (every request that is not from a global white address is refused)");
        }
        let st = stamp(&path);
        let (file, rules) = load(&path)?;
        Ok(Acl {
            path,
            loaded: RwLock::new(Loaded {
                rules: Arc::new(rules),
                file,
                stamp: st,
            }),
            writing: Mutex::new(()),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn rules(&self) -> Arc<AclRules> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .rules
            .clone()
    }

    /// Checks one request from `peer_ip`; the error is the refusal's remark.
    pub fn check(&self, peer_ip: &str, req: &RemotingCommand) -> Result<(), String> {
        self.rules().check(peer_ip, req)
    }

    /// A copy of the file as loaded.
    pub fn file(&self) -> PlainAclFile {
        self.loaded.read().unwrap_or_else(|e| e.into_inner()).file.clone()
    }

    /// Reloads the file when its modification time or length changed. `None`: unchanged;
    /// `Some(Err)`: changed but broken, the last good rules stay in force.
    pub fn reload_if_changed(&self) -> Option<Result<(), String>> {
        let st = stamp(&self.path);
        if st == self.loaded.read().unwrap_or_else(|e| e.into_inner()).stamp {
            return None;
        }
        let result = load(&self.path);
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        // Remember the stamp either way, so a broken file is reported once, not every 5 s.
        loaded.stamp = st;
        Some(result.map(|(file, rules)| {
            loaded.file = file;
            loaded.rules = Arc::new(rules);
        }))
    }

    /// Applies `change` to the file, writes it and puts it in force.
    fn rewrite(&self, change: impl FnOnce(&mut PlainAclFile) -> Result<(), String>) -> Result<(), String> {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let mut file = self.file();
        change(&mut file)?;
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        file.touch(now_ms);
        let rules = AclRules::compile(&file)?;
        write_file(&self.path, &file)?;
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        loaded.stamp = stamp(&self.path);
        loaded.file = file;
        loaded.rules = Arc::new(rules);
        Ok(())
    }

    /// UPDATE_AND_CREATE_ACL_CONFIG: replaces the account with that key, or adds it.
    pub fn upsert_account(&self, entry: AccountEntry) -> Result<(), String> {
        self.rewrite(|f| {
            match f.accounts.iter_mut().find(|a| a.access_key == entry.access_key) {
                Some(a) => *a = entry,
                None => f.accounts.push(entry),
            }
            Ok(())
        })
    }

    /// DELETE_ACL_CONFIG: removes the account; an error when there is none.
    pub fn delete_account(&self, access_key: &str) -> Result<(), String> {
        self.rewrite(|f| {
            let before = f.accounts.len();
            f.accounts.retain(|a| a.access_key != access_key);
            if f.accounts.len() == before {
                return Err(format!("there is no account with accessKey {access_key}"));
            }
            Ok(())
        })
    }

    /// UPDATE_GLOBAL_WHITE_ADDRS_CONFIG: replaces the global white list.
    pub fn set_global_white(&self, addrs: Vec<String>) -> Result<(), String> {
        self.rewrite(|f| {
            f.global_white_remote_addresses = addrs;
            Ok(())
        })
    }
}

/// Writes the file through a temp file, fsync and rename, so a crash leaves the old or the new.
fn write_file(path: &Path, file: &PlainAclFile) -> Result<(), String> {
    use std::io::Write;
    let tmp = path.with_extension("yml.tmp");
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    f.write_all(file.to_yaml().as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    Ok(())
}
