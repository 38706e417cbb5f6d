//! A full disk with a real `mqbroker` on a small tmpfs, filled on purpose (issue 13 item 1).
//! Store files used to be sparse and written through mappings, so a write into a page the
//! file system could not back killed the broker with SIGBUS (exit 135, no log line). Now: no
//! crash, every acknowledged message reads back, sends are refused with SERVICE_NOT_AVAILABLE
//! and a remark that says the disk is full, and once space is freed they are accepted again
//! without a restart.
//!
//! Mounting needs root; where `mount` is not permitted the tests say so and skip.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::messages::{pull_all, send_request};
use common::{request, temp_dir, wait_until, Broker};
use rmq_remoting::RemotingCommand;

const T: Duration = Duration::from_secs(15);
/// SERVICE_NOT_AVAILABLE.
const SERVICE_NOT_AVAILABLE: i32 = 14;

/// A tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, mib: u64) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the file system refuses more; returns the bytes written.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).expect("create filler");
    let chunk = vec![0xA5u8; 1 << 20];
    let mut n = 0;
    loop {
        match f.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k as u64,
        }
    }
    let _ = f.sync_all();
    n
}

fn send(addr: &str, topic: &str, body: &[u8]) -> RemotingCommand {
    request(addr, send_request(topic, 0, body), T).expect("the broker answers a send")
}

fn body(i: usize) -> Vec<u8> {
    let mut b = format!("msg-{i:06}-").into_bytes();
    b.resize(100 * 1024, b'a' + (i % 26) as u8);
    b
}

fn says_disk_full(r: &RemotingCommand) -> bool {
    r.code == SERVICE_NOT_AVAILABLE && r.remark.as_deref().is_some_and(|m| m.contains("disk is full"))
}

fn fill_refuse_and_recover(flush_disk_type: &str) {
    let dir = temp_dir();
    let mnt = dir.path().join("tmpfs");
    let tmpfs = match Tmpfs::mount(&mnt, 200) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("SKIPPED: cannot mount a tmpfs here ({e}); this test needs root");
            return;
        }
    };
    let store = mnt.join("store");
    let store_s = store.display().to_string();
    let mut broker = Broker::start(
        dir.path(),
        &[("storePathRootDir", &store_s), ("flushDiskType", flush_disk_type)],
    );
    let addr = broker.addr();

    let mut acked = Vec::new();
    for i in 0..20 {
        let r = send(&addr, "Before", &body(i));
        assert_eq!(r.code, 0, "send {i} before the disk fills: {:?}", r.remark);
        acked.push(body(i));
    }

    let filler = mnt.join("filler");
    let filled = fill(&filler);
    assert!(filled > 0, "the filler took the free space");

    // A new topic needs a consume-queue file: refused, not a SIGBUS on its first page.
    let r = send(&addr, "AfterFull", &body(0));
    assert!(
        says_disk_full(&r),
        "a new topic on a full disk: {} {:?}",
        r.code,
        r.remark
    );

    // The existing topic writes into reserved commit-log blocks until they run out.
    let mut refused = None;
    for i in acked.len()..3000 {
        let r = send(&addr, "Before", &body(i));
        if r.code == 0 {
            acked.push(body(i));
        } else {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("sends are refused once the reserved space is used up");
    assert!(
        says_disk_full(&refused),
        "refused with a remark that says the disk is full: {} {:?}",
        refused.code,
        refused.remark
    );
    let remark = refused.remark.unwrap_or_default();
    assert!(
        remark.contains("free space"),
        "the remark says what to do: {remark}"
    );
    assert!(broker.proc.is_running(), "the broker survived the full disk");
    eprintln!(
        "{flush_disk_type}: {} sends acknowledged, then refused: {remark}",
        acked.len()
    );

    let got: Vec<Vec<u8>> = pull_all(&addr, "Before", 0)
        .into_iter()
        .map(|m| m.body.to_vec())
        .collect();
    assert_eq!(got.len(), acked.len(), "every acknowledged message reads back");
    assert!(got == acked, "acknowledged messages are intact byte for byte");

    std::fs::remove_file(&filler).expect("free the space");
    let r = wait_until("sends to be accepted again", Duration::from_secs(30), || {
        let r = send(&addr, "AfterFull", b"space is back");
        (r.code == 0).then_some(r)
    });
    assert_eq!(r.code, 0);
    let r = send(&addr, "Before", b"the old topic too");
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let after = pull_all(&addr, "Before", 0);
    assert_eq!(after.len(), acked.len() + 1);
    assert_eq!(&after[acked.len()].body[..], b"the old topic too");
    let log = broker.proc.log();
    assert!(log.contains("disk is full"), "the broker logged the full disk");
    assert!(log.contains("accepting appends"), "and its recovery");

    let status = broker.terminate().expect("the broker stops on SIGTERM");
    assert!(status.success(), "clean exit after the full disk: {status:?}");
    drop(tmpfs);
}

#[test]
fn async_flush_broker_survives_a_full_disk_and_recovers() {
    fill_refuse_and_recover("ASYNC_FLUSH");
}

#[test]
fn sync_flush_broker_survives_a_full_disk_and_recovers() {
    fill_refuse_and_recover("SYNC_FLUSH");
}
