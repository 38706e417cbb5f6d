//! Self-tests of the process-level harness in `tests/common` (ports, child processes, logs).

mod common;

use std::time::Duration;

use common::*;

#[test]
fn broker_port_has_free_neighbours() {
    let p = free_broker_port();
    assert!(std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
    assert!(std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok());
}

#[test]
fn run_bin_captures_output_and_status() {
    let out = run_bin(
        "sh",
        &["-c", "echo hello; echo oops >&2; exit 3"],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello");
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "oops");
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn proc_logs_survive_restart_and_terminate_reports_exit() {
    let dir = temp_dir();
    let mut p = Proc::spawn(
        "sleeper",
        "sh",
        vec!["-c".into(), "echo up; exec sleep 30".into()],
        dir.path(),
    );
    wait_until("first start logged", Duration::from_secs(10), || {
        (p.log().lines().filter(|l| *l == "up").count() == 1).then_some(())
    });
    assert!(p.is_running());
    let status = p.terminate(Duration::from_secs(10)).expect("was running");
    assert!(!status.success(), "SIGTERM ends sleep with a signal");
    p.restart();
    wait_until("second start logged", Duration::from_secs(10), || {
        (p.log().lines().filter(|l| *l == "up").count() == 2).then_some(())
    });
    p.kill_9();
    assert!(!p.is_running());
}

#[test]
fn request_to_a_closed_port_fails_fast() {
    let port = free_port();
    let cmd = rmq_remoting::RemotingCommand::request(rmq_remoting::RequestCode::GET_BROKER_CLUSTER_INFO);
    assert!(request(&format!("127.0.0.1:{port}"), cmd, Duration::from_secs(2)).is_err());
    assert!(!can_connect(&format!("127.0.0.1:{port}")));
}
