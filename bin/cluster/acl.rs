//! Plain ACL for a local cluster: `rmq-cluster start --acl [FILE]`.
//!
//! The file (default: the shipped sample `scripts/acl/plain_acl.yml`, built into the binary) is
//! checked with the broker's own parser and copied to `<dir>/conf/plain_acl.yml`; each broker
//! gets `aclEnable=true`, `rocketmqHome=<its node dir>` and a copy at
//! `<node dir>/conf/plain_acl.yml`, where a broker looks for it. The first account with
//! `admin: true` becomes the cluster's tool account: its keys go to `<dir>/conf/tools.yml`
//! (Apache's tools file, mode 0600), which `mqadmin` reads with `ROCKETMQ_HOME=<dir>` and which
//! the supervisor and `rmq-cluster drill` sign their broker requests with. The secret is never
//! printed to logs; `start` prints it once, as the command to copy.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rmq_broker::acl::plain_file::{AccountEntry, PlainAclFile};
use rmq_remoting::acl::SessionCredentials;

/// The shipped sample, used when `--acl` is given without a file.
pub const SAMPLE: &str = include_str!("../../scripts/acl/plain_acl.yml");

/// `<dir>/conf/plain_acl.yml`: the cluster's copy, the source of every broker's copy.
pub fn cluster_file(dir: &Path) -> PathBuf {
    dir.join("conf").join("plain_acl.yml")
}

/// `<dir>/conf/tools.yml`: the tool account (Apache's `tools.yml` layout).
pub fn tools_file(dir: &Path) -> PathBuf {
    dir.join("conf").join("tools.yml")
}

/// The first admin account with a secret: the one tools sign with.
pub fn admin_account(file: &PlainAclFile) -> Option<&AccountEntry> {
    file.accounts
        .iter()
        .find(|a| a.admin && !a.access_key.is_empty() && !a.secret_key.is_empty())
}

/// Reads and checks the ACL file (`None` or an empty path: the sample), writes the cluster's copy
/// and `tools.yml` under `dir`; returns the tool account.
pub fn install(source: Option<&Path>, dir: &Path) -> anyhow::Result<SessionCredentials> {
    let (text, name) = match source.filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => (
            std::fs::read_to_string(p).with_context(|| format!("reading the ACL file {}", p.display()))?,
            p.display().to_string(),
        ),
        None => (
            SAMPLE.to_string(),
            "the sample scripts/acl/plain_acl.yml".to_string(),
        ),
    };
    let file = PlainAclFile::parse(&text)
        .map_err(|e| anyhow::anyhow!("{name} is not a valid plain_acl.yml: {e}"))?;
    let Some(admin) = admin_account(&file) else {
        bail!(
            "{name} has no account with `admin: true` and a secretKey; rmq-cluster needs one to \
             create topics and sign its requests (add one, see scripts/acl/plain_acl.yml)"
        );
    };
    let credentials = SessionCredentials::new(admin.access_key.clone(), admin.secret_key.clone());
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).with_context(|| format!("creating {}", conf.display()))?;
    write_private(&cluster_file(dir), &text)?;
    let tools = format!(
        "accessKey: {}\nsecretKey: {}\n",
        credentials.access_key, credentials.secret_key
    );
    write_private(&tools_file(dir), &tools)?;
    Ok(credentials)
}

/// Copies the cluster's ACL file into a broker's home (`<node_dir>/conf/plain_acl.yml`).
pub fn install_for_broker(dir: &Path, node_dir: &Path) -> anyhow::Result<()> {
    let src = cluster_file(dir);
    let text = std::fs::read_to_string(&src).with_context(|| {
        format!(
            "reading {} (the cluster was started with --acl; start it again with --acl)",
            src.display()
        )
    })?;
    let conf = node_dir.join("conf");
    std::fs::create_dir_all(&conf).with_context(|| format!("creating {}", conf.display()))?;
    write_private(&conf.join("plain_acl.yml"), &text)
}

/// The tool account of a cluster started with `--acl` (from `<dir>/conf/tools.yml`).
pub fn credentials(dir: &Path) -> anyhow::Result<SessionCredentials> {
    rmq_admin::acl::tool_credentials(None, None, Some(dir))?.with_context(|| {
        format!(
            "{} is missing; the cluster was started with --acl, start it again",
            tools_file(dir).display()
        )
    })
}

/// Writes `text` to `path` readable by the owner only (it holds secrets).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_installs_with_its_admin_account() {
        let dir = tempfile::TempDir::new().unwrap();
        let c = install(None, dir.path()).unwrap();
        assert_eq!(c.access_key, "rocketmq2");
        assert_eq!(credentials(dir.path()).unwrap(), c);
        let node = dir.path().join("broker-a-0");
        install_for_broker(dir.path(), &node).unwrap();
        let copy = std::fs::read_to_string(node.join("conf/plain_acl.yml")).unwrap();
        assert_eq!(copy, SAMPLE);
    }

    #[test]
    fn a_file_without_an_admin_or_not_yaml_is_refused_with_the_reason() {
        let dir = tempfile::TempDir::new().unwrap();
        let no_admin = dir.path().join("acl.yml");
        std::fs::write(&no_admin, "accounts:\n  - accessKey: a\n    secretKey: b\n").unwrap();
        let e = install(Some(&no_admin), dir.path()).unwrap_err().to_string();
        assert!(e.contains("admin: true"), "{e}");
        std::fs::write(&no_admin, "accounts: [\n").unwrap();
        let e = install(Some(&no_admin), dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a valid plain_acl.yml"), "{e}");
        assert!(!tools_file(dir.path()).exists());
    }
}
