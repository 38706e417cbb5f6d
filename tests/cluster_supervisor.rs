//! `rmq-cluster` as an operator uses it: a supervised cluster in a temp dir on its own ports,
//! driven from "another terminal" (separate `rmq-cluster` processes). A node that dies is reported
//! with its exit status and log and the others keep running; `status`, `kill`, `start`,
//! `restart`, `add-group` and `stop` do what they say; nothing is left running afterwards.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::*;

const CLUSTER: &str = env!("CARGO_BIN_EXE_rmq-cluster");

/// `rmq-cluster <args> --dir <dir>` to completion.
fn ctl(dir: &Path, args: &[&str]) -> Output {
    let d = dir.display().to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--dir", &d]);
    run_bin(CLUSTER, &all, &[], Duration::from_secs(200))
}

fn ctl_ok(dir: &Path, args: &[&str]) -> String {
    let o = ctl(dir, args);
    assert!(
        o.status.success(),
        "rmq-cluster {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// The line of `node` in `status`.
fn status_line(dir: &Path, node: &str) -> String {
    let out = ctl_ok(dir, &["status"]);
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(node))
        .unwrap_or_else(|| panic!("{node} missing from status:\n{out}"))
        .to_string()
}

fn pid_in(line: &str) -> u32 {
    line.split_whitespace()
        .nth(3)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"))
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The foreground supervisor; stopped (then killed, with every node it started) on drop.
struct Supervisor {
    child: Option<Child>,
    dir: PathBuf,
    log: PathBuf,
}

impl Supervisor {
    fn start(dir: &Path, extra: &[&str]) -> Supervisor {
        std::fs::create_dir_all(dir).unwrap();
        let log = dir.join("supervisor.out");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(CLUSTER)
            .arg("start")
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start rmq-cluster");
        Supervisor {
            child: Some(child),
            dir: dir.to_path_buf(),
            log,
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if self.running() {
            let _ = ctl(&self.dir, &["stop"]);
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Whatever a failed test left: the nodes' pid files name processes this test started.
        if let Ok(entries) = std::fs::read_dir(self.dir.join("run")) {
            for e in entries.flatten() {
                if let Some(pid) = std::fs::read_to_string(e.path())
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
                {
                    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                }
            }
        }
        if std::thread::panicking() {
            eprintln!("----- supervisor output -----\n{}", self.output());
        }
    }
}

fn wait_all_up(dir: &Path, nodes: usize) {
    wait_until("every node up and registered", Duration::from_secs(120), || {
        let o = ctl(dir, &["status"]);
        let out = stdout(&o);
        let rows: Vec<&str> = out
            .lines()
            .skip(1)
            .filter(|l| !l.trim_start().starts_with("last exit"))
            .collect();
        (o.status.success()
            && rows.len() == nodes
            && rows
                .iter()
                .all(|l| l.contains(" up ") && (l.contains("nameserver") || l.contains("2/2"))))
        .then_some(())
    });
}

/// `rmq-cluster start` with `extra` flags, one nameserver and one master without slaves, on ports
/// of their own; returns once `status` shows the master registered, with the nameserver's and the
/// broker's base ports.
fn start_one_master(dir: &Path, extra: &[&str]) -> (Supervisor, u16, u16) {
    let (base, broker_base) = cluster_ports(1, 1);
    let (base_s, broker_s) = (base.to_string(), broker_base.to_string());
    let mut args = extra.to_vec();
    args.extend([
        "--namesrv-count",
        "1",
        "--groups",
        "1",
        "--slaves",
        "0",
        "--base-port",
        &base_s,
        "--broker-base-port",
        &broker_s,
    ]);
    let sup = Supervisor::start(dir, &args);
    wait_until("the cluster to be up", Duration::from_secs(120), || {
        let o = ctl(dir, &["status"]);
        (o.status.success() && stdout(&o).contains("1/1")).then_some(())
    });
    (sup, base, broker_base)
}

#[test]
fn a_dead_node_is_reported_the_rest_keeps_running_and_stop_leaves_nothing() {
    let tmp = temp_dir();
    let dir = tmp.path().join("cluster");
    // Nothing runs there yet: the error says how to start a cluster.
    let o = ctl(&dir, &["status"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no cluster running under"), "{}", stderr(&o));
    assert!(stderr(&o).contains("rmq-cluster start"), "{}", stderr(&o));

    let (base, broker_base) = cluster_ports(2, 4);
    let (base_s, broker_s) = (base.to_string(), broker_base.to_string());
    let mut sup = Supervisor::start(
        &dir,
        &[
            "--groups",
            "1",
            "--base-port",
            &base_s,
            "--broker-base-port",
            &broker_s,
        ],
    );
    wait_all_up(&dir, 4);
    let master = status_line(&dir, "broker-a-0");
    assert!(
        master.contains("master") && master.contains(&format!("{broker_base} (HA {}", broker_base + 1)),
        "{master}"
    );
    let ns = format!("127.0.0.1:{base}");
    assert!(
        master.contains(&ns) && master.contains(&format!("127.0.0.1:{}", base + 1)),
        "{master}"
    );

    // A slave that dies on its own (not through the supervisor) is reported; the rest runs on.
    let slave_pid = pid_in(&status_line(&dir, "broker-a-1"));
    Command::new("kill")
        .args(["-KILL", &slave_pid.to_string()])
        .status()
        .unwrap();
    wait_until(
        "the supervisor to report broker-a-1",
        Duration::from_secs(30),
        || {
            sup.output()
                .lines()
                .any(|l| l.contains("broker-a-1") && l.contains("exited on its own"))
                .then_some(())
        },
    );
    let report = sup
        .output()
        .lines()
        .find(|l| l.contains("exited on its own"))
        .unwrap()
        .to_string();
    assert!(report.contains("signal: 9"), "{report}");
    assert!(
        report.contains(&dir.join("logs/broker-a-1.log").display().to_string()),
        "{report}"
    );
    let slave = status_line(&dir, "broker-a-1");
    assert!(slave.contains("down") && slave.ends_with("none"), "{slave}");
    assert!(sup.running(), "the supervisor keeps running");
    let master_pid = pid_in(&status_line(&dir, "broker-a-0"));
    assert!(alive(master_pid));

    // kill (SIGKILL) and start through the supervisor.
    let out = ctl_ok(&dir, &["kill", "broker-a-0"]);
    assert!(
        out.contains("killed (SIGKILL)") && out.contains("signal: 9"),
        "{out}"
    );
    assert!(!alive(master_pid));
    assert!(status_line(&dir, "broker-a-0").contains("down"));
    let o = ctl(&dir, &["kill", "broker-a-0"]);
    assert!(
        !o.status.success() && stdout(&o).contains("is not running"),
        "{}",
        stdout(&o)
    );
    let o = ctl(&dir, &["kill", "broker-z-0"]);
    assert!(
        !o.status.success() && stdout(&o).contains("broker-a-0, broker-a-1"),
        "{}",
        stdout(&o)
    );
    ctl_ok(&dir, &["start", "broker-a-0"]);
    ctl_ok(&dir, &["start", "broker-a-1"]);
    wait_all_up(&dir, 4);

    // restart: a clean stop and a start, with a new pid.
    let before = pid_in(&status_line(&dir, "broker-a-1"));
    let out = ctl_ok(&dir, &["restart", "broker-a-1"]);
    assert!(
        out.contains("stopped (SIGTERM)") && out.contains("exit status: 0"),
        "{out}"
    );
    let after = pid_in(&status_line(&dir, "broker-a-1"));
    assert_ne!(before, after);

    // add-group: broker-b, a master and a slave, registered with both nameservers.
    let out = ctl_ok(&dir, &["add-group", "--slaves", "1"]);
    assert!(
        out.contains("broker-b-0 is up") && out.contains("broker-b-1 is up"),
        "{out}"
    );
    assert!(
        out.contains(&format!("updateTopic -b 127.0.0.1:{}", broker_base + 20)),
        "{out}"
    );
    wait_all_up(&dir, 6);
    let info = cluster_info(&ns).unwrap();
    assert!(info.contains("broker-b"), "{info}");

    // stop: every node exits, the supervisor too, no port answers.
    let pids: Vec<u32> = ctl_ok(&dir, &["status"])
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(3).and_then(|p| p.parse().ok()))
        .collect();
    assert_eq!(pids.len(), 6);
    let out = ctl_ok(&dir, &["stop"]);
    assert!(out.contains("cluster stopped"), "{out}");
    wait_until("the supervisor to exit", Duration::from_secs(60), || {
        (!sup.running()).then_some(())
    });
    let status = sup.child.take().unwrap().wait().unwrap();
    assert!(status.success(), "{status:?}");
    for pid in pids {
        assert!(!alive(pid), "pid {pid} still runs");
    }
    for port in [
        base,
        base + 1,
        broker_base,
        broker_base + 10,
        broker_base + 20,
        broker_base + 30,
    ] {
        assert!(
            !can_connect(&format!("127.0.0.1:{port}")),
            "port {port} still answers"
        );
    }
    assert!(!dir.join("control.sock").exists());
    let o = ctl(&dir, &["status"]);
    assert!(stderr(&o).contains("no cluster running under"), "{}", stderr(&o));
}

#[test]
fn sigterm_to_the_supervisor_stops_every_node() {
    let tmp = temp_dir();
    let dir = tmp.path().join("cluster");
    let (mut sup, base, _) = start_one_master(&dir, &[]);
    let pids: Vec<u32> = ["namesrv", "broker-a-0"]
        .iter()
        .map(|n| {
            let name = if *n == "namesrv" {
                format!("namesrv-{base}")
            } else {
                n.to_string()
            };
            pid_in(&status_line(&dir, &name))
        })
        .collect();
    let sup_pid = sup.child.as_ref().unwrap().id();
    Command::new("kill")
        .args(["-TERM", &sup_pid.to_string()])
        .status()
        .unwrap();
    wait_until("the supervisor to exit", Duration::from_secs(60), || {
        (!sup.running()).then_some(())
    });
    assert!(
        sup.output().contains("SIGTERM: stopping the cluster"),
        "{}",
        sup.output()
    );
    for pid in pids {
        assert!(!alive(pid), "pid {pid} still runs");
    }
}

/// One send through the client crate, signed with `credentials` when given; the error text on
/// failure.
fn client_send(namesrv: &str, topic: &str, credentials: Option<(&str, &str)>) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let producer = rmq_client::Producer::start(rmq_client::ProducerConfig {
            client: rmq_client::ClientConfig {
                credentials: credentials.map(|(ak, sk)| rmq_remoting::acl::SessionCredentials::new(ak, sk)),
                ..rmq_client::ClientConfig::new(namesrv)
            },
            group: "acl_cluster_pg".into(),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        let r = producer
            .send(rmq_client::Message::new(topic, "through an ACL cluster"))
            .await;
        producer.shutdown().await;
        match r {
            Ok(r) if r.status == rmq_client::SendStatus::SendOk => Ok(()),
            Ok(r) => Err(format!("{:?}", r.status)),
            Err(e) => Err(e.to_string()),
        }
    })
}

#[test]
fn start_with_acl_refuses_unsigned_sends_and_accepts_signed_ones() {
    let tmp = temp_dir();
    let dir = tmp.path().join("cluster");
    let (sup, base, broker_base) = start_one_master(&dir, &["--acl"]);
    // What start prints: the admin account of the sample, and where mqadmin finds it.
    let printed = sup.output();
    assert!(
        printed.contains("--ak rocketmq2 --sk 12345678") && printed.contains("ROCKETMQ_HOME"),
        "{printed}"
    );
    let conf = std::fs::read_to_string(dir.join("broker-a-0/broker.conf")).unwrap();
    assert!(conf.contains("aclEnable=true"), "{conf}");
    assert!(dir.join("broker-a-0/conf/plain_acl.yml").is_file());

    let namesrv = format!("127.0.0.1:{base}");
    let broker = format!("127.0.0.1:{broker_base}");
    let mqadmin = env!("CARGO_BIN_EXE_mqadmin");
    // Creating a topic needs the admin account: unsigned it is refused, with
    // ROCKETMQ_HOME=<dir> mqadmin signs with <dir>/conf/tools.yml.
    let args = [
        "updateTopic",
        "-n",
        &namesrv,
        "-b",
        &broker,
        "-t",
        "TopicTest",
        "-r",
        "2",
        "-w",
        "2",
    ];
    let unsigned = run_bin(mqadmin, &args, &[], Duration::from_secs(60));
    assert!(
        !unsigned.status.success(),
        "unsigned updateTopic: {}",
        stdout(&unsigned)
    );
    let home = dir.display().to_string();
    let signed = run_bin(
        mqadmin,
        &args,
        &[("ROCKETMQ_HOME", &home)],
        Duration::from_secs(60),
    );
    assert!(
        signed.status.success(),
        "updateTopic as the tools.yml account: {}{}",
        stdout(&signed),
        stderr(&signed)
    );
    wait_until("TopicTest in the route", Duration::from_secs(60), || {
        let o = run_bin(
            mqadmin,
            &["topicRoute", "-n", &namesrv, "-t", "TopicTest"],
            &[],
            Duration::from_secs(30),
        );
        o.status.success().then_some(())
    });

    let refused = client_send(&namesrv, "TopicTest", None).expect_err("an unsigned send must be refused");
    assert!(refused.contains("accessKey"), "{refused}");
    let wrong = client_send(&namesrv, "TopicTest", Some(("RocketMQ", "wrong-secret")))
        .expect_err("a send with a wrong secret must be refused");
    assert!(wrong.contains("signature"), "{wrong}");
    // The sample's RocketMQ account may publish to TopicTest.
    client_send(&namesrv, "TopicTest", Some(("RocketMQ", "12345678"))).expect("a signed send");
    drop(sup);
}
