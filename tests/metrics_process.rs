//! Prometheus metrics end to end, with the real `mqnamesrv` and `mqbroker` started with
//! `metricsExporterType=PROM`: N sends of a known size and a consumer group's pulls and
//! commits move the counters by exactly what was sent, the lag goes from N to 0, every
//! histogram is consistent, both pages parse (and pass `promtool check metrics` when Debian's
//! `prometheus` package is installed, as `scripts/setup-test-env.sh` does). A taken metrics port
//! stops the broker with a message naming the key.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::messages::{pull, send_request};
use common::{free_port, request, wait_until, Broker, Namesrv, Proc};
use rmq_remoting::headers::offset::UpdateConsumerOffsetRequestHeader;
use rmq_remoting::{RemotingCommand, RequestCode};

const T: Duration = Duration::from_secs(10);
const TOPIC: &str = "MetricsTopic";
const GROUP: &str = "metrics_group";
const N: usize = 24;
const SIZE: usize = 300;

/// One sample: metric name and labels.
type Series = (String, BTreeMap<String, String>);

/// Parses the text exposition format strictly enough for the checks here: every non-comment
/// line is `name{labels} value` or `name value`, label values quoted with `\\`, `\"`, `\n`.
fn parse(page: &str) -> Vec<(Series, f64)> {
    let mut out = Vec::new();
    for line in page.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, mut rest) = match head.find('{') {
            Some(i) => (&head[..i], &head[i + 1..]),
            None => (head, ""),
        };
        let mut labels = BTreeMap::new();
        while !rest.is_empty() && rest != "}" {
            let eq = rest.find("=\"").unwrap_or_else(|| panic!("bad labels in {line}"));
            let key = rest[..eq].to_string();
            let mut val = String::new();
            let mut chars = rest[eq + 2..].char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => val.push('\n'),
                        Some((_, c)) => val.push(c),
                        None => panic!("bad escape in {line}"),
                    },
                    Some((i, '"')) => break eq + 2 + i + 1,
                    Some((_, c)) => val.push(c),
                    None => panic!("unterminated label value in {line}"),
                }
            };
            labels.insert(key, val);
            rest = rest[end..].trim_start_matches(',');
        }
        out.push(((name.to_string(), labels), value));
    }
    out
}

fn scrape(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("text/plain; version=0.0.4"), "{resp}");
    let body = resp.split_once("\r\n\r\n").expect("headers end").1;
    body.to_string()
}

/// The value of the one sample named `name` whose labels include `want`.
fn value(samples: &[(Series, f64)], name: &str, want: &[(&str, &str)]) -> f64 {
    let hits: Vec<f64> = samples
        .iter()
        .filter(|((n, l), _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(hits.len(), 1, "{name} {want:?}: {hits:?}");
    hits[0]
}

/// Every histogram series: buckets never decrease, `+Inf` equals `_count`.
fn check_histograms(samples: &[(Series, f64)]) -> usize {
    let mut series: BTreeMap<Series, Vec<(f64, f64)>> = BTreeMap::new();
    for ((name, labels), v) in samples {
        if let Some(base) = name.strip_suffix("_bucket") {
            let mut l = labels.clone();
            let le = l.remove("le").expect("le label");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            series.entry((base.to_string(), l)).or_default().push((le, *v));
        }
    }
    for ((base, labels), buckets) in &series {
        for w in buckets.windows(2) {
            assert!(
                w[0].0 < w[1].0 && w[0].1 <= w[1].1,
                "{base} {labels:?}: {buckets:?}"
            );
        }
        let inf = buckets.last().expect("buckets");
        assert_eq!(inf.0, f64::INFINITY, "{base} ends with +Inf");
        let count = samples
            .iter()
            .find(|((n, l), _)| *n == format!("{base}_count") && l == labels)
            .map(|(_, v)| *v);
        assert_eq!(count, Some(inf.1), "{base} {labels:?}: +Inf bucket equals _count");
    }
    series.len()
}

/// `promtool check metrics` on `page`: must pass when promtool is installed; skipped loudly
/// without it, except in CI.
fn promtool(page: &str, what: &str) {
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is missing in CI ({e}); scripts/setup-test-env.sh installs Debian's prometheus package"
            );
            eprintln!("\n!!!! SKIPPED promtool check of the {what} page: promtool not found ({e}); run scripts/setup-test-env.sh !!!!\n");
            return;
        }
    };
    child.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed on the {what} page:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn commit(broker: &str, queue_id: i32, offset: i64) {
    let h = UpdateConsumerOffsetRequestHeader {
        consumer_group: GROUP.into(),
        topic: TOPIC.into(),
        queue_id,
        commit_offset: offset,
        bname: None,
    };
    let r = request(
        broker,
        RemotingCommand::request_with(RequestCode::UPDATE_CONSUMER_OFFSET, &h),
        T,
    )
    .expect("commit");
    assert_eq!(r.code, 0, "{:?}", r.remark);
}

#[test]
fn counters_move_by_exactly_what_was_sent_and_consumed() {
    let dir = common::temp_dir();
    let ns_metrics = free_port();
    let ns_port = free_port();
    let ns_home = dir.path().join("namesrv");
    std::fs::create_dir_all(&ns_home).unwrap();
    let conf = ns_home.join("namesrv.conf");
    std::fs::write(
        &conf,
        format!("metricsExporterType=PROM\nmetricsPromExporterHost=127.0.0.1\nmetricsPromExporterPort={ns_metrics}\n"),
    )
    .unwrap();
    let ns_proc = Proc::spawn(
        "namesrv-metrics",
        env!("CARGO_BIN_EXE_mqnamesrv"),
        vec![
            "-c".into(),
            conf.display().to_string(),
            "--listen-port".into(),
            ns_port.to_string(),
            "--home".into(),
            ns_home.display().to_string(),
        ],
        dir.path(),
    );
    let ns = Namesrv {
        proc: ns_proc,
        port: ns_port,
        home: ns_home,
    };
    ns.wait_ready();
    let ns_addr = ns.addr();
    let broker_metrics = free_port();
    let port_text = broker_metrics.to_string();
    let broker = Broker::start(
        dir.path(),
        &[
            ("namesrvAddr", ns_addr.as_str()),
            ("metricsExporterType", "PROM"),
            ("metricsPromExporterPort", port_text.as_str()),
        ],
    );
    let b = broker.addr();
    let metrics_addr = format!("127.0.0.1:{broker_metrics}");

    let body = vec![b'm'; SIZE];
    for i in 0..N {
        let r = request(&b, send_request(TOPIC, (i % 4) as i32, &body), T).expect("send");
        assert_eq!(r.code, 0, "send {i}: {:?}", r.remark);
    }
    for q in 0..4 {
        commit(&b, q, 0);
    }
    let before = parse(&scrape(&metrics_addr));
    let lag = [
        ("consumer_group", GROUP),
        ("topic", TOPIC),
        ("is_retry", "false"),
        ("is_system", "false"),
    ];
    assert_eq!(value(&before, "rocketmq_consumer_lag_messages", &lag), N as f64);
    assert!(value(&before, "rocketmq_consumer_lag_latency", &lag) >= 0.0);

    let mut consumed = 0;
    for q in 0..4 {
        let mut offset = 0i64;
        loop {
            let got = pull(&b, GROUP, TOPIC, q, offset);
            if got.is_empty() {
                break;
            }
            assert!(got.iter().all(|m| m.body.len() == SIZE));
            offset += got.len() as i64;
            consumed += got.len();
        }
        commit(&b, q, offset);
    }
    assert_eq!(consumed, N);

    let page = scrape(&metrics_addr);
    let after = parse(&page);
    let common = [
        ("cluster", "DefaultCluster"),
        ("node_type", "broker"),
        ("node_id", "broker-a"),
    ];
    let topic_in = [
        common[0],
        common[1],
        common[2],
        ("topic", TOPIC),
        ("message_type", "normal"),
        ("is_system", "false"),
    ];
    assert_eq!(value(&after, "rocketmq_messages_in_total", &topic_in), N as f64);
    assert_eq!(
        value(&after, "rocketmq_throughput_in_total", &topic_in),
        (N * SIZE) as f64
    );
    assert_eq!(value(&after, "rocketmq_message_size_count", &topic_in), N as f64);
    assert_eq!(
        value(&after, "rocketmq_message_size_sum", &topic_in),
        (N * SIZE) as f64
    );
    let mut le = topic_in.to_vec();
    le.push(("le", "1024"));
    assert_eq!(
        value(&after, "rocketmq_message_size_bucket", &le),
        N as f64,
        "{SIZE}-byte bodies are <= 1 KiB"
    );
    let out = [
        ("topic", TOPIC),
        ("consumer_group", GROUP),
        ("is_system", "false"),
    ];
    assert_eq!(value(&after, "rocketmq_messages_out_total", &out), N as f64);
    let out_bytes = value(&after, "rocketmq_throughput_out_total", &out);
    assert!(
        out_bytes > (N * SIZE) as f64,
        "stored records carry headers: {out_bytes}"
    );
    assert_eq!(value(&after, "rocketmq_consumer_lag_messages", &lag), 0.0);
    assert_eq!(value(&after, "rocketmq_consumer_lag_latency", &lag), 0.0);
    for q in 0..4 {
        let q = q.to_string();
        let per_queue = [
            ("consumer_group", GROUP),
            ("topic", TOPIC),
            ("queue_id", q.as_str()),
        ];
        assert_eq!(
            value(&after, "rocketmq_consumer_queue_lag_messages", &per_queue),
            0.0
        );
    }
    let sends = [
        ("request_code", "send_message_v2"),
        ("response_code", "success"),
        ("is_long_polling", "false"),
        ("result", "success"),
    ];
    assert_eq!(value(&after, "rocketmq_rpc_latency_count", &sends), N as f64);
    let pulls = [("request_code", "pull_message"), ("response_code", "success")];
    assert_eq!(
        value(&after, "rocketmq_rpc_latency_count", &pulls),
        4.0,
        "one pull per queue found its messages"
    );
    assert!(
        check_histograms(&after) >= 4,
        "message size, rpc latency and flush latency series"
    );
    assert!(value(&after, "rocketmq_topic_number", &[]) >= 2.0);
    assert!(value(&after, "rocketmq_storage_size", &[("storage_type", "local")]) > 0.0);
    promtool(&page, "broker");
    let _held = TcpStream::connect(&b).expect("connect to the broker");
    wait_until("the broker to count an open connection", T, || {
        (value(
            &parse(&scrape(&metrics_addr)),
            "rocketmq_remoting_connections",
            &[],
        ) >= 1.0)
            .then_some(())
    });

    let ns_page = wait_until("the nameserver to count the registration", T, || {
        let page = scrape(&format!("127.0.0.1:{ns_metrics}"));
        let s = parse(&page);
        (value(
            &s,
            "rocketmq_namesrv_live_brokers",
            &[("node_type", "nameserver")],
        ) == 1.0)
            .then_some(page)
    });
    let ns_samples = parse(&ns_page);
    let register = [("request_code", "register_broker"), ("result", "success")];
    assert!(value(&ns_samples, "rocketmq_rpc_latency_count", &register) >= 1.0);
    assert!(value(&ns_samples, "rocketmq_topic_number", &[]) >= 1.0);
    check_histograms(&ns_samples);
    promtool(&ns_page, "nameserver");
    drop(broker);
}

#[test]
fn a_taken_metrics_port_stops_the_broker_naming_the_key() {
    let dir = common::temp_dir();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut broker = Broker::spawn(
        dir.path(),
        &[
            ("metricsExporterType", "PROM"),
            ("metricsPromExporterPort", port.as_str()),
        ],
    );
    wait_until("the broker to exit", Duration::from_secs(60), || {
        (!broker.proc.is_running()).then_some(())
    });
    let log = broker.proc.log();
    assert!(log.contains("metricsPromExporterPort"), "{log}");
    assert!(log.contains(&port), "{log}");
    drop(taken);
}
