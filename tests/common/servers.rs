//! The servers a process test runs: [`Namesrv`] (`mqnamesrv`), [`Broker`] (`mqbroker` with a
//! written `broker.conf`) and [`Single`] (one of each), each waited for until it is ready.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use super::dirs::temp_dir;
use super::ports::{free_broker_port, free_port};
use super::proc::Proc;
use super::rpc::{cluster_info, wait_registered};
use super::wait::{can_connect, wait_until, READY_TIMEOUT};

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
        Self::spawn_with_fd_limit(dir, props, None)
    }

    /// Like [`Broker::start`], with the open-file limit (soft and hard) set to `nofile` by
    /// `sh -c 'ulimit -n …; exec mqbroker …'`, as an operator's shell would.
    pub fn start_with_fd_limit(dir: &Path, props: &[(&str, &str)], nofile: u32) -> Broker {
        let b = Self::spawn_with_fd_limit(dir, props, Some(nofile));
        b.wait_ready();
        b
    }

    fn spawn_with_fd_limit(dir: &Path, props: &[(&str, &str)], nofile: Option<u32>) -> Broker {
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
        let mut program = PathBuf::from(env!("CARGO_BIN_EXE_mqbroker"));
        let mut args = vec!["-c".to_string(), conf.display().to_string()];
        if let Some(n) = nofile {
            let script = format!("ulimit -n {n} && exec \"$0\" \"$@\"");
            let mut wrapped = vec!["-c".to_string(), script, program.display().to_string()];
            wrapped.append(&mut args);
            program = PathBuf::from("sh");
            args = wrapped;
        }
        let proc = Proc::spawn(&format!("broker-{name}-{id}-{port}"), program, args, dir);
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
