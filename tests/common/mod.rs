//! Process-level test harness: runs the real `mqnamesrv` and `mqbroker` binaries on free loopback
//! ports, each in its own directory under a test's temp dir.
//!
//! * Ports: [`free_port`] binds `127.0.0.1:0` and releases it; [`free_broker_port`] also checks
//!   `p + 1` (the HA port is forced to `listenPort + 1`) and `p - 2` (the VIP port).
//! * Logs: every child writes stdout and stderr to `<dir>/<name>.log` (appended across restarts).
//!   They are printed only when the test fails: `Drop` prints them if the thread is panicking.
//! * Cleanup: every child is killed (SIGKILL) and reaped on drop, so a failed assertion never
//!   leaves a server running.
//! * Readiness is awaited, never slept for: a TCP connect, then (for a broker with a namesrv) its
//!   address showing up in the namesrv's cluster info, each polled until a deadline.
//!
//! The helpers are synchronous so they work from plain `#[test]`s and from tokio tests alike; the
//! one RPC they need is a blocking frame exchange ([`request`]) with the remoting crate's codec.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rmq_remoting::{RemotingCodec, RemotingCommand, RequestCode};
use tokio_util::codec::{Decoder, Encoder};

/// How long a server gets to come up.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A fresh temp dir for one test.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("minirmq-test-")
        .tempdir()
        .expect("create temp dir")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A port `p` with `p + 1` (HA) and `p - 2` (VIP) free as well.
pub fn free_broker_port() -> u16 {
    for _ in 0..200 {
        let p = free_port();
        if p > 1026 && p < u16::MAX && port_is_free(p + 1) && port_is_free(p - 2) {
            return p;
        }
    }
    panic!("no free port p with p+1 and p-2 free after 200 tries");
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub fn wait_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether something accepts TCP connections at `addr`.
pub fn can_connect(addr: &str) -> bool {
    let Ok(sa) = addr.parse::<SocketAddr>() else {
        return false;
    };
    TcpStream::connect_timeout(&sa, Duration::from_millis(300)).is_ok()
}

/// One blocking request/response exchange on a fresh connection.
pub fn request(addr: &str, mut cmd: RemotingCommand, timeout: Duration) -> std::io::Result<RemotingCommand> {
    let sa: SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    let mut stream = TcpStream::connect_timeout(&sa, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    cmd.opaque = 1;
    let mut codec = RemotingCodec::default();
    let mut out = BytesMut::new();
    codec.encode(cmd, &mut out).map_err(std::io::Error::other)?;
    stream.write_all(&out)?;
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        if let Some(resp) = codec.decode(&mut buf).map_err(std::io::Error::other)? {
            return Ok(resp);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The namesrv's GET_BROKER_CLUSTER_INFO body as text, if it answered SUCCESS.
pub fn cluster_info(namesrv: &str) -> Option<String> {
    let cmd = RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO);
    let resp = request(namesrv, cmd, Duration::from_secs(3)).ok()?;
    resp.is_success()
        .then(|| String::from_utf8_lossy(&resp.body).into_owned())
}

/// Waits until `broker_addr` appears in the cluster info of `namesrv`.
pub fn wait_registered(namesrv: &str, broker_addr: &str, timeout: Duration) {
    let quoted = format!("\"{broker_addr}\"");
    wait_until(
        &format!("broker {broker_addr} registered at namesrv {namesrv}"),
        timeout,
        || {
            cluster_info(namesrv)
                .filter(|body| body.contains(&quoted))
                .map(|_| ())
        },
    );
}

/// A child process with its log file, restartable with the same command line.
pub struct Proc {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    log_path: PathBuf,
    child: Option<Child>,
}

impl Proc {
    /// Starts `program args`, appending stdout and stderr to `<dir>/<name>.log`.
    pub fn spawn(name: &str, program: impl Into<PathBuf>, args: Vec<String>, dir: &Path) -> Proc {
        let mut p = Proc {
            name: name.to_string(),
            program: program.into(),
            args,
            log_path: dir.join(format!("{name}.log")),
            child: None,
        };
        p.launch();
        p
    }

    fn launch(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open log file");
        let _ = writeln!(
            log,
            "==== start {} {:?} {}",
            self.name,
            self.program,
            self.args.join(" ")
        );
        let err = log.try_clone().expect("clone log handle");
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).stdin(Stdio::null()).stdout(log).stderr(err);
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.program));
        self.child = Some(child);
    }

    /// The OS process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILL, then reap.
    pub fn kill_9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then wait up to `timeout` for a clean exit (SIGKILL after that).
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("{} did not exit within {timeout:?} of SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the same command line again (after a kill or terminate).
    pub fn restart(&mut self) {
        self.launch();
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(&self.log_path) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Path of the log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    fn print_log_tail(&self) {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(300);
        eprintln!(
            "----- {} log ({}), last {} lines -----",
            self.name,
            self.log_path.display(),
            lines.len() - from
        );
        for l in &lines[from..] {
            eprintln!("{l}");
        }
        eprintln!("----- end of {} log -----", self.name);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill_9();
        if std::thread::panicking() {
            self.print_log_tail();
        }
    }
}

/// A running `mqnamesrv`.
pub struct Namesrv {
    /// The process.
    pub proc: Proc,
    /// Listen port.
    pub port: u16,
    /// Its `--home` directory.
    pub home: PathBuf,
}

impl Namesrv {
    /// Starts a namesrv on a free port with home `<dir>/namesrv-<port>` and waits until it accepts.
    pub fn start(dir: &Path) -> Namesrv {
        let port = free_port();
        let home = dir.join(format!("namesrv-{port}"));
        std::fs::create_dir_all(&home).expect("create namesrv home");
        let args = vec![
            "--listen-port".to_string(),
            port.to_string(),
            "--home".to_string(),
            home.display().to_string(),
        ];
        let proc = Proc::spawn(
            &format!("namesrv-{port}"),
            env!("CARGO_BIN_EXE_mqnamesrv"),
            args,
            dir,
        );
        let ns = Namesrv { proc, port, home };
        ns.wait_ready();
        ns
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Waits until the namesrv answers GET_BROKER_CLUSTER_INFO.
    pub fn wait_ready(&self) {
        let addr = self.addr();
        wait_until(&format!("namesrv {addr} to answer"), READY_TIMEOUT, || {
            cluster_info(&addr).map(|_| ())
        });
    }

    /// SIGKILL.
    pub fn kill_9(&mut self) {
        self.proc.kill_9();
    }

    /// SIGTERM and wait for exit.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        self.proc.terminate(Duration::from_secs(15))
    }

    /// Starts again on the same port and home, and waits until it answers.
    pub fn restart(&mut self) {
        self.proc.restart();
        self.wait_ready();
    }
}

/// A running `mqbroker`.
pub struct Broker {
    /// The process.
    pub proc: Proc,
    /// `listenPort`.
    pub port: u16,
    /// The broker's directory (holds `broker.conf` and the store).
    pub dir: PathBuf,
    /// Every property written to `broker.conf`.
    pub props: BTreeMap<String, String>,
}

impl Broker {
    /// Writes `broker.conf` (defaults overridden by `props`) and starts the broker; waits until it
    /// accepts connections and, when `namesrvAddr` is set, until the first namesrv lists it.
    pub fn start(dir: &Path, props: &[(&str, &str)]) -> Broker {
        let b = Self::spawn(dir, props);
        b.wait_ready();
        b
    }

    /// Like [`Broker::start`] but returns as soon as the process is spawned.
    pub fn spawn(dir: &Path, props: &[(&str, &str)]) -> Broker {
        let mut map = BTreeMap::new();
        let given = |k: &str| props.iter().find(|(pk, _)| *pk == k).map(|(_, v)| v.to_string());
        let port = match given("listenPort") {
            Some(p) => p.parse().expect("listenPort is a number"),
            None => free_broker_port(),
        };
        let name = given("brokerName").unwrap_or_else(|| "broker-a".to_string());
        let id = given("brokerId").unwrap_or_else(|| "0".to_string());
        let bdir = dir.join(format!("{name}-{id}-{port}"));
        std::fs::create_dir_all(&bdir).expect("create broker dir");
        for (k, v) in [
            ("brokerClusterName", "DefaultCluster"),
            ("brokerName", "broker-a"),
            ("brokerId", "0"),
            ("brokerIP1", "127.0.0.1"),
            ("brokerRole", "ASYNC_MASTER"),
            ("flushDiskType", "ASYNC_FLUSH"),
            ("mapedFileSizeCommitLog", "67108864"),
        ] {
            map.insert(k.to_string(), v.to_string());
        }
        map.insert("listenPort".to_string(), port.to_string());
        map.insert(
            "storePathRootDir".to_string(),
            bdir.join("store").display().to_string(),
        );
        for (k, v) in props {
            map.insert(k.to_string(), v.to_string());
        }
        let conf = bdir.join("broker.conf");
        let text: String = map.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(&conf, text).expect("write broker.conf");
        let args = vec!["-c".to_string(), conf.display().to_string()];
        let proc = Proc::spawn(
            &format!("broker-{name}-{id}-{port}"),
            env!("CARGO_BIN_EXE_mqbroker"),
            args,
            dir,
        );
        Broker {
            proc,
            port,
            dir: bdir,
            props: map,
        }
    }

    /// `127.0.0.1:<listenPort>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:<listenPort + 1>`.
    pub fn ha_addr(&self) -> String {
        format!("127.0.0.1:{}", self.port + 1)
    }

    /// The first address in `namesrvAddr`, if any.
    pub fn namesrv(&self) -> Option<String> {
        let v = self.props.get("namesrvAddr")?;
        v.split(';')
            .map(str::trim)
            .find(|s| !s.is_empty())
            .map(str::to_string)
    }

    /// Waits for the listen port, then for registration at every namesrv in `namesrvAddr`.
    pub fn wait_ready(&self) {
        let addr = self.addr();
        wait_until(
            &format!("broker {addr} to accept connections"),
            READY_TIMEOUT,
            || can_connect(&addr).then_some(()),
        );
        if let Some(list) = self.props.get("namesrvAddr") {
            for ns in list.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                wait_registered(ns, &addr, READY_TIMEOUT);
            }
        }
    }

    /// SIGKILL.
    pub fn kill_9(&mut self) {
        self.proc.kill_9();
    }

    /// SIGTERM and wait for exit.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        self.proc.terminate(Duration::from_secs(30))
    }

    /// Starts again with the same `broker.conf` and store, and waits until ready.
    pub fn restart(&mut self) {
        self.proc.restart();
        self.wait_ready();
    }
}

/// A namesrv plus one master broker, the common starting point.
pub struct Single {
    /// The broker (dropped first).
    pub broker: Broker,
    /// The namesrv.
    pub namesrv: Namesrv,
    /// The temp dir (dropped last).
    pub dir: tempfile::TempDir,
}

impl Single {
    /// A namesrv and one master with `props` on top of the defaults.
    pub fn start(props: &[(&str, &str)]) -> Single {
        let dir = temp_dir();
        let namesrv = Namesrv::start(dir.path());
        let ns = namesrv.addr();
        let mut all: Vec<(&str, &str)> = vec![("namesrvAddr", ns.as_str())];
        all.extend_from_slice(props);
        let broker = Broker::start(dir.path(), &all);
        Single { broker, namesrv, dir }
    }
}

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

/// A finished process's standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A finished process's standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Where the shared reference material lives: `../shared` or `../../shared` from the package.
pub fn shared_dir() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [root.join("../shared"), root.join("../../shared")]
        .into_iter()
        .find(|p| p.is_dir())
}

/// Creates (or updates) `topic` on the broker at `broker_addr` with `queues` read and write
/// queues, perm RW, the way `mqadmin updateTopic -b` does.
pub fn create_topic(broker_addr: &str, topic: &str, queues: i32) {
    let header = rmq_remoting::headers::admin::CreateTopicRequestHeader {
        topic: topic.to_string(),
        default_topic: "TBW102".to_string(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".to_string(),
        topic_sys_flag: Some(0),
        order: false,
    };
    let cmd = RemotingCommand::request_with(RequestCode::UPDATE_AND_CREATE_TOPIC, &header);
    let resp = request(broker_addr, cmd, Duration::from_secs(10)).expect("UPDATE_AND_CREATE_TOPIC");
    assert!(
        resp.is_success(),
        "creating topic {topic} at {broker_addr} failed: {:?}",
        resp.remark
    );
}

/// The namesrv's route of `topic` as JSON text, if it has one.
pub fn route(namesrv: &str, topic: &str) -> Option<String> {
    let header = rmq_remoting::headers::namesrv::GetRouteInfoRequestHeader {
        topic: topic.to_string(),
        accept_standard_json_only: None,
    };
    let cmd = RemotingCommand::request_with(RequestCode::GET_ROUTEINFO_BY_TOPIC, &header);
    let resp = request(namesrv, cmd, Duration::from_secs(3)).ok()?;
    resp.is_success()
        .then(|| String::from_utf8_lossy(&resp.body).into_owned())
}

/// Waits until the namesrv has a route for `topic` that names `broker_name`.
pub fn wait_route(namesrv: &str, topic: &str, broker_name: &str) -> String {
    let quoted = format!("\"{broker_name}\"");
    wait_until(
        &format!("route of {topic} at {namesrv} naming {broker_name}"),
        READY_TIMEOUT,
        || route(namesrv, topic).filter(|r| r.contains(&quoted)),
    )
}
