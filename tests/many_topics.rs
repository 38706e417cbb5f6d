//! Thousands of topics against a real `mqbroker` started under `ulimit -n 200` (issue 13 item
//! 5). Every consume-queue file used to hold a descriptor and a mapping forever, so past ~190
//! topics new topics failed with "Too many open files", the commit log could not roll and new
//! connections went unanswered. Now queue files share a budget (a quarter of the descriptor
//! limit) and idle ones are closed, so the broker keeps creating topics, rolling its commit log
//! and accepting connections; a restart loads the queues lazily and says so in its log; and
//! `autoCreateTopicMaxNums` stops auto-creation with a clear remark.

mod common;

use std::time::Duration;

use common::messages::{pull_all, send_request};
use common::{request, temp_dir, wait_until, Broker};
use rmq_remoting::RemotingCommand;

const T: Duration = Duration::from_secs(15);
const TOPICS: usize = 600;
/// Bodies big enough that the topics' messages fill more than one 64 MiB commit-log file.
const BODY: usize = 120 * 1024;

fn send(addr: &str, topic: &str, body: &[u8]) -> RemotingCommand {
    request(addr, send_request(topic, 0, body), T).expect("the broker answers a send")
}

fn body(i: usize) -> Vec<u8> {
    let mut b = format!("topic-{i:05}|").into_bytes();
    b.resize(BODY, b'a' + (i % 26) as u8);
    b
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn commit_log_files(broker: &Broker) -> usize {
    std::fs::read_dir(broker.dir.join("store").join("commitlog")).map_or(0, |d| d.count())
}

#[test]
fn thousands_of_topics_under_ulimit_200_keep_the_broker_working() {
    let dir = temp_dir();
    let mut broker = Broker::start_with_fd_limit(dir.path(), &[], 200);
    let addr = broker.addr();
    let pid = broker.proc.pid().expect("running");
    let mut most_fds = 0;
    for i in 0..TOPICS {
        let r = send(&addr, &format!("Many{i:05}"), &body(i));
        assert_eq!(r.code, 0, "send to new topic {i}: {:?}", r.remark);
        if i % 100 == 0 {
            most_fds = most_fds.max(open_fds(pid));
        }
    }
    assert!(
        commit_log_files(&broker) >= 2,
        "the commit log rolled into a second file"
    );
    assert!(most_fds < 200, "descriptors stayed under the limit: {most_fds}");

    // New connections are accepted and answered (each `request` opens its own).
    for i in (0..TOPICS).step_by(TOPICS / 25) {
        let r = send(&addr, &format!("Many{i:05}"), b"again");
        assert_eq!(r.code, 0, "a new connection's send: {:?}", r.remark);
    }
    // Queue files closed to stay within the budget open again to serve reads.
    for i in (0..TOPICS).step_by(TOPICS / 25) {
        let got = pull_all(&addr, &format!("Many{i:05}"), 0);
        let warnings: Vec<String> = broker
            .proc
            .log()
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .map(str::to_string)
            .collect();
        assert_eq!(got.len(), 2, "topic {i}: {warnings:#?} fds {}", open_fds(pid));
        assert_eq!(&got[0].body[..], &body(i)[..], "topic {i}");
    }
    let topics_json = std::fs::read_to_string(broker.dir.join("store").join("config").join("topics.json"))
        .expect("topics.json");
    assert!(
        topics_json.contains(&format!("Many{:05}", TOPICS - 1)),
        "topics.json kept persisting"
    );
    let log = broker.proc.log();
    assert!(!log.contains("Too many open files"), "no descriptor ran out");

    broker.terminate().expect("stops on SIGTERM");
    broker.restart();
    let loaded = wait_until(
        "the restart to report its queue load",
        Duration::from_secs(60),
        || {
            let log = broker.proc.log();
            let at = log.rfind("consume queues loaded")?;
            Some(log[at..].lines().next().unwrap_or_default().to_string())
        },
    );
    eprintln!("restart: {loaded}");
    let last = format!("Many{:05}", TOPICS - 1);
    let r = send(&addr, &last, b"after restart");
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let got = pull_all(&addr, &last, 0);
    assert_eq!(got.len(), 2, "the first message and the one after the restart");
    assert_eq!(&got[0].body[..], &body(TOPICS - 1)[..]);
    assert_eq!(&got[1].body[..], b"after restart");
    let pid = broker.proc.pid().expect("running");
    assert!(open_fds(pid) < 200);
}

#[test]
fn auto_creation_stops_at_auto_create_topic_max_nums() {
    // The broker's own topics (TBW102, SCHEDULE_TOPIC_XXXX, ...) already exceed a limit of 1.
    let dir = temp_dir();
    let broker = Broker::start(dir.path(), &[("autoCreateTopicMaxNums", "1")]);
    let addr = broker.addr();
    let r = send(&addr, "Refused", b"x");
    assert_eq!(r.code, 17, "TOPIC_NOT_EXIST: {:?}", r.remark);
    let remark = r.remark.unwrap_or_default();
    assert!(
        remark.contains("autoCreateTopicMaxNums") && remark.contains("mqadmin updateTopic"),
        "the remark names the limit and the way out: {remark}"
    );
    common::create_topic(&addr, "Explicit", 4);
    let r = send(&addr, "Explicit", b"x");
    assert_eq!(
        r.code, 0,
        "an explicitly created topic still takes sends: {:?}",
        r.remark
    );
}
