//! Running this package's binaries (`mqadmin`, `rmq-bench`, …) to completion with a timeout, and
//! reading what they printed.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Runs one of this package's binaries (`mqadmin`, `rmq-bench`, …) to completion with a timeout.
pub fn run_bin(program: &str, args: &[&str], envs: &[(&str, &str)], timeout: Duration) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let pid = child.id();
    // The pipes are drained by wait_with_output on a helper thread, so a chatty child never
    // blocks on a full pipe while we wait for it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.expect("collect output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            let out = rx.recv().expect("helper thread").expect("collect output");
            panic!(
                "{program} {args:?} did not finish within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Runs this package's `mqadmin` with `-n ns` and then `args`, to completion (60 s at most).
pub fn mqadmin(ns: &str, args: &[&str]) -> Output {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    run_bin(env!("CARGO_BIN_EXE_mqadmin"), &all, &[], Duration::from_secs(60))
}

/// Runs `mqadmin` and requires success; returns its standard output.
pub fn mqadmin_ok(ns: &str, args: &[&str]) -> String {
    let o = mqadmin(ns, args);
    assert!(
        o.status.success(),
        "mqadmin {args:?} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// `mqadmin updateTopic -b <broker> -t <topic>` with `queues` read and write queues, required to
/// succeed; returns its standard output.
pub fn mqadmin_update_topic(ns: &str, broker: &str, topic: &str, queues: i32) -> String {
    let queues = queues.to_string();
    mqadmin_ok(
        ns,
        &[
            "updateTopic",
            "-b",
            broker,
            "-t",
            topic,
            "-r",
            &queues,
            "-w",
            &queues,
        ],
    )
}

/// A finished process's standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A finished process's standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
