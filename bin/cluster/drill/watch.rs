//! What a drill watches and how it waits: the step log with elapsed times, bounded polls, and the
//! route of the topic as every nameserver reports it.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::bail;
use rmq_admin::Admin;
use rmq_remoting::body::TopicRouteData;

/// Prints each step with the time since the drill began.
pub struct Steps {
    start: Instant,
}

impl Steps {
    /// Starts the clock.
    pub fn new() -> Steps {
        Steps {
            start: Instant::now(),
        }
    }

    /// Prints one line.
    pub fn say(&self, text: impl AsRef<str>) {
        println!(
            "[{:>6.1} s] {}",
            self.start.elapsed().as_secs_f64(),
            text.as_ref()
        );
    }
}

/// Polls `check` every 200 ms until it holds; fails naming `what` after `timeout`.
pub async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A group's queues in a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupRoute {
    /// Permission bits (6 read-write, 4 read-only).
    pub perm: i32,
    /// Readable queues.
    pub read_queue_nums: i32,
    /// Writable queues.
    pub write_queue_nums: i32,
    /// Whether the route lists its master (brokerId 0).
    pub has_master: bool,
}

impl GroupRoute {
    /// Readable and writable with `queues` queues and a master.
    pub fn writable(&self, queues: i32) -> bool {
        self.perm == 6 && self.write_queue_nums == queues && self.has_master
    }

    /// Seed 002's read-only group: perm 4, writeQueueNums 0, still readable.
    pub fn read_only(&self) -> bool {
        self.perm == 4 && self.write_queue_nums == 0 && self.read_queue_nums > 0
    }

    /// `perm 6, read 4, write 4, master up`.
    pub fn describe(&self) -> String {
        format!(
            "perm {}, readQueueNums {}, writeQueueNums {}, master {}",
            self.perm,
            self.read_queue_nums,
            self.write_queue_nums,
            if self.has_master { "registered" } else { "gone" }
        )
    }
}

/// `group`'s entry in `route`.
pub fn group_route(route: &TopicRouteData, group: &str) -> Option<GroupRoute> {
    let q = route.queue_datas.iter().find(|q| q.broker_name == group)?;
    let has_master = route
        .broker_datas
        .iter()
        .any(|b| b.broker_name == group && b.broker_addrs.contains_key(&0));
    Some(GroupRoute {
        perm: q.perm,
        read_queue_nums: q.read_queue_nums,
        write_queue_nums: q.write_queue_nums,
        has_master,
    })
}

/// One admin handle per nameserver, so a route check asks each of them.
pub struct Nameservers {
    each: Vec<(String, Admin)>,
}

impl Nameservers {
    /// Handles for every address in `list` (`a;b`), signing with `credentials` when given.
    pub fn new(
        list: &str,
        credentials: Option<rmq_remoting::acl::SessionCredentials>,
    ) -> anyhow::Result<Nameservers> {
        let mut each = Vec::new();
        for addr in rmq_admin::admin::parse_namesrv_list(list) {
            let mut admin = Admin::new(&addr)?.with_timeout(Duration::from_secs(3));
            if let Some(c) = &credentials {
                admin = admin.with_credentials(c.clone());
            }
            each.push((addr, admin));
        }
        Ok(Nameservers { each })
    }

    /// Whether every nameserver's route of `topic` has `group` and `ok` holds for it.
    pub async fn all_agree(&self, topic: &str, group: &str, ok: impl Fn(&GroupRoute) -> bool) -> bool {
        for (_, admin) in &self.each {
            match admin.route(topic).await {
                Ok(Some(route)) if group_route(&route, group).is_some_and(|g| ok(&g)) => {}
                _ => return false,
            }
        }
        true
    }

    /// `group`'s route as the first nameserver that answers shows it.
    pub async fn group(&self, topic: &str, group: &str) -> Option<GroupRoute> {
        for (_, admin) in &self.each {
            if let Ok(Some(route)) = admin.route(topic).await {
                return group_route(&route, group);
            }
        }
        None
    }

    /// The first handle (for commands any nameserver answers).
    pub fn any(&self) -> &Admin {
        &self.each[0].1
    }

    /// Closes every connection.
    pub fn shutdown(&self) {
        for (_, a) in &self.each {
            a.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rmq_remoting::body::{BrokerData, QueueData};

    use super::*;

    fn route(perm: i32, write: i32, master: bool) -> TopicRouteData {
        let mut addrs = BTreeMap::new();
        if master {
            addrs.insert(0, "127.0.0.1:10911".to_string());
        }
        addrs.insert(1, "127.0.0.1:10921".to_string());
        TopicRouteData {
            broker_datas: vec![BrokerData {
                broker_addrs: addrs,
                broker_name: "broker-a".into(),
                cluster: "DefaultCluster".into(),
                enable_acting_master: false,
            }],
            filter_server_table: BTreeMap::new(),
            order_topic_conf: None,
            queue_datas: vec![QueueData {
                broker_name: "broker-a".into(),
                perm,
                read_queue_nums: 4,
                topic_sys_flag: 0,
                write_queue_nums: write,
            }],
        }
    }

    #[test]
    fn a_dead_master_reads_as_read_only_and_a_live_one_as_writable() {
        let dead = group_route(&route(4, 0, false), "broker-a").unwrap();
        assert!(dead.read_only() && !dead.writable(4));
        let live = group_route(&route(6, 4, true), "broker-a").unwrap();
        assert!(live.writable(4) && !live.read_only());
        assert!(!live.writable(8));
        // A wiped write permission keeps the queue count: read-only by perm, not seed 002's shape.
        let wiped = group_route(&route(4, 4, true), "broker-a").unwrap();
        assert!(!wiped.read_only() && !wiped.writable(4));
        assert!(group_route(&route(6, 4, true), "broker-b").is_none());
        assert_eq!(
            live.describe(),
            "perm 6, readQueueNums 4, writeQueueNums 4, master registered"
        );
    }
}
