//! Route-table tests driven by an injected clock (plain `u64` milliseconds).

use std::time::Duration;

use rmq_remoting::body::route::perm;
use rmq_remoting::body::{DataVersion, TopicConfig};

use super::{RegisterOutcome, Registration, RouteTable};

const SEC: u64 = 1000;

fn table() -> RouteTable {
    RouteTable::new(Duration::from_secs(120))
}

fn reg(name: &str, id: i64, addr: &str, conn: u64, version: i64, topics: &[(&str, i32)]) -> Registration {
    Registration {
        cluster: "DefaultCluster".into(),
        broker_name: name.into(),
        broker_addr: addr.into(),
        broker_id: id,
        ha_server_addr: format!("{addr}-ha"),
        data_version: DataVersion {
            counter: version,
            timestamp: 1_700_000_000_000 + version,
        },
        topics: topics.iter().map(|(t, q)| TopicConfig::new(*t, *q)).collect(),
        conn_id: conn,
    }
}

#[test]
fn master_registration_builds_every_table() {
    let mut t = table();
    let out = t.register(
        reg("broker-a", 0, "10.0.0.1:10911", 1, 1, &[("T", 4), ("U", 2)]),
        0,
    );
    assert_eq!(out, RegisterOutcome::default());
    let route = t.topic_route("T").unwrap();
    assert_eq!(route.broker_datas.len(), 1);
    assert_eq!(route.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
    assert_eq!(route.queue_datas[0].perm, 6);
    assert_eq!(route.queue_datas[0].write_queue_nums, 4);
    let info = t.cluster_info();
    assert!(info.cluster_addr_table["DefaultCluster"].contains("broker-a"));
    assert_eq!(t.topic_list().topic_list.len(), 2);
    assert_eq!(
        t.live_broker("10.0.0.1:10911").unwrap().ha_server_addr,
        "10.0.0.1:10911-ha"
    );
    assert!(t.topic_route("missing").is_none());
}

#[test]
fn expiry_is_strictly_after_120_seconds() {
    let mut t = table();
    t.register(reg("broker-a", 0, "a:1", 1, 1, &[("T", 4)]), 1_000);
    assert!(t.expire(1_000 + 119 * SEC).is_empty(), "silent 119 s: alive");
    // Apache drops a broker when last + 120 s < now: exactly 120 s is still alive.
    assert!(t.expire(1_000 + 120 * SEC).is_empty());
    assert_eq!(t.expire(1_000 + 120 * SEC + 1), vec!["a:1".to_string()]);
    assert!(t.topic_route("T").is_none());
    assert!(t.broker_data("broker-a").is_none());
    assert!(t.cluster_brokers("DefaultCluster").is_none());
    assert!(t.topic_list().topic_list.is_empty());
}

#[test]
fn registration_refreshes_liveness() {
    let mut t = table();
    t.register(reg("broker-a", 0, "a:1", 1, 1, &[("T", 4)]), 0);
    t.register(reg("broker-a", 0, "a:1", 1, 1, &[("T", 4)]), 100 * SEC);
    assert!(t.expire(200 * SEC).is_empty());
    assert_eq!(t.expire(221 * SEC).len(), 1);
}

#[test]
fn closing_the_registration_connection_drops_the_broker() {
    let mut t = table();
    t.register(reg("broker-a", 0, "a:1", 7, 1, &[("T", 4)]), 0);
    t.register(reg("broker-b", 0, "b:1", 8, 1, &[("T", 4)]), 0);
    assert!(t.connection_closed(99).is_empty());
    assert_eq!(t.connection_closed(7), vec!["a:1".to_string()]);
    let route = t.topic_route("T").unwrap();
    assert_eq!(route.broker_datas.len(), 1);
    assert_eq!(route.broker_datas[0].broker_name, "broker-b");
    assert!(t.broker_data("broker-a").is_none());
    assert_eq!(t.live_count(), 1);
}

#[test]
fn reconnected_broker_is_not_dropped_by_its_old_connection() {
    let mut t = table();
    t.register(reg("broker-a", 0, "a:1", 7, 1, &[("T", 4)]), 0);
    t.register(reg("broker-a", 0, "a:1", 9, 1, &[("T", 4)]), SEC);
    assert!(t.connection_closed(7).is_empty());
    assert!(t.topic_route("T").is_some());
}

#[test]
fn wipe_then_add_write_perm() {
    let mut t = table();
    t.register(reg("broker-a", 0, "a:1", 1, 1, &[("T", 4), ("U", 4)]), 0);
    t.register(reg("broker-b", 0, "b:1", 2, 1, &[("T", 4)]), 0);
    assert_eq!(t.wipe_write_perm("broker-a"), 2);
    assert_eq!(t.wipe_write_perm("nobody"), 0);
    let route = t.topic_route("T").unwrap();
    let a = route
        .queue_datas
        .iter()
        .find(|q| q.broker_name == "broker-a")
        .unwrap();
    let b = route
        .queue_datas
        .iter()
        .find(|q| q.broker_name == "broker-b")
        .unwrap();
    assert_eq!(a.perm, perm::READ);
    assert_eq!(b.perm, perm::READ | perm::WRITE);
    // The periodic re-registration of an unchanged table keeps the wipe.
    t.register(reg("broker-a", 0, "a:1", 1, 1, &[("T", 4), ("U", 4)]), SEC);
    assert_eq!(t.queue_data("T", "broker-a").unwrap().perm, perm::READ);
    assert_eq!(t.add_write_perm("broker-a"), 2);
    assert_eq!(t.queue_data("U", "broker-a").unwrap().perm, 6);
    // A changed table overwrites the queue data, as in Apache.
    t.wipe_write_perm("broker-a");
    t.register(reg("broker-a", 0, "a:1", 1, 2, &[("T", 4)]), 2 * SEC);
    assert_eq!(t.queue_data("T", "broker-a").unwrap().perm, 6);
    assert_eq!(
        t.queue_data("U", "broker-a").unwrap().perm,
        perm::READ,
        "merge, not replace"
    );
}

#[test]
fn slave_learns_its_live_master() {
    let mut t = table();
    let alone = t.register(reg("broker-a", 1, "s:1", 2, 1, &[("T", 4)]), 0);
    assert_eq!(alone, RegisterOutcome::default(), "no master yet");
    assert!(t.topic_route("T").is_none(), "slaves never supply queue data");
    t.register(reg("broker-a", 0, "m:1", 1, 1, &[("T", 4)]), SEC);
    let out = t.register(reg("broker-a", 1, "s:1", 2, 1, &[("T", 4)]), 2 * SEC);
    assert_eq!(out.master_addr.as_deref(), Some("m:1"));
    assert_eq!(out.ha_server_addr.as_deref(), Some("m:1-ha"));
    // A master silent past the expiry is not handed out even before the scan removes it.
    let late = t.register(reg("broker-a", 1, "s:1", 2, 1, &[]), SEC + 121 * SEC);
    assert_eq!(late, RegisterOutcome::default());
}

#[test]
fn master_failure_leaves_the_group_read_only_until_it_returns() {
    let mut t = table();
    t.register(reg("group1", 0, "m1:1", 1, 1, &[("myTopic", 4)]), 0);
    t.register(reg("group1", 1, "s1:1", 2, 1, &[("myTopic", 4)]), 0);
    t.register(reg("group2", 0, "m2:1", 3, 1, &[("myTopic", 4)]), 0);
    t.register(reg("group2", 1, "s2:1", 4, 1, &[("myTopic", 4)]), 0);

    t.connection_closed(1);
    // The slave keeps registering while its master is gone.
    t.register(reg("group1", 1, "s1:1", 2, 1, &[("myTopic", 4)]), 30 * SEC);
    let route = t.topic_route("myTopic").unwrap();
    let g1 = route
        .broker_datas
        .iter()
        .find(|b| b.broker_name == "group1")
        .unwrap();
    assert_eq!(g1.broker_addrs.len(), 1);
    assert_eq!(g1.broker_addrs[&1], "s1:1");
    let q1 = route
        .queue_datas
        .iter()
        .find(|q| q.broker_name == "group1")
        .unwrap();
    assert_eq!(
        (q1.read_queue_nums, q1.write_queue_nums, q1.perm),
        (4, 0, perm::READ)
    );
    let q2 = route
        .queue_datas
        .iter()
        .find(|q| q.broker_name == "group2")
        .unwrap();
    assert_eq!((q2.read_queue_nums, q2.write_queue_nums, q2.perm), (4, 4, 6));
    // The stored data is untouched: only the view is read-only.
    assert_eq!(t.queue_data("myTopic", "group1").unwrap().perm, 6);

    t.register(reg("group1", 0, "m1:1", 5, 1, &[("myTopic", 4)]), 40 * SEC);
    let back = t.topic_route("myTopic").unwrap();
    let q1 = back
        .queue_datas
        .iter()
        .find(|q| q.broker_name == "group1")
        .unwrap();
    assert_eq!((q1.write_queue_nums, q1.perm), (4, 6));
    assert_eq!(
        back.broker_datas
            .iter()
            .find(|b| b.broker_name == "group1")
            .unwrap()
            .master_addr(),
        Some("m1:1")
    );

    // When the last address of the group goes, so do the group and its queue data.
    t.connection_closed(5);
    t.connection_closed(2);
    let only_g2 = t.topic_route("myTopic").unwrap();
    assert_eq!(only_g2.queue_datas.len(), 1);
    assert_eq!(only_g2.queue_datas[0].broker_name, "group2");
    assert!(t.queue_data("myTopic", "group1").is_none());
    assert!(!t.cluster_info().cluster_addr_table["DefaultCluster"].contains("group1"));
}

#[test]
fn master_expiry_also_gives_the_read_only_view() {
    let mut t = table();
    t.register(reg("g", 0, "m:1", 1, 1, &[("T", 8)]), 0);
    t.register(reg("g", 1, "s:1", 2, 1, &[]), 0);
    t.register(reg("g", 1, "s:1", 2, 1, &[]), 100 * SEC);
    assert_eq!(t.expire(121 * SEC), vec!["m:1".to_string()]);
    let q = &t.topic_route("T").unwrap().queue_datas[0];
    assert_eq!(
        (q.read_queue_nums, q.write_queue_nums, q.perm),
        (8, 0, perm::READ)
    );
}

#[test]
fn data_version_query_refreshes_only_when_unchanged() {
    let mut t = table();
    t.register(reg("g", 0, "m:1", 1, 3, &[("T", 4)]), 0);
    let same = DataVersion {
        counter: 3,
        timestamp: 1_700_000_000_003,
    };
    let (changed, stored) = t.query_data_version("m:1", &same, 100 * SEC);
    assert!(!changed);
    assert_eq!(stored, Some(same));
    assert!(
        t.expire(200 * SEC).is_empty(),
        "the query counted as a sign of life"
    );
    let (changed, _) = t.query_data_version(
        "m:1",
        &DataVersion {
            counter: 4,
            timestamp: 0,
        },
        210 * SEC,
    );
    assert!(changed);
    assert_eq!(t.expire(221 * SEC).len(), 1, "a changed version does not refresh");
    assert_eq!(t.query_data_version("m:1", &same, 0), (true, None));
}

#[test]
fn unregister_needs_the_matching_address() {
    let mut t = table();
    t.register(reg("g", 0, "m:1", 1, 1, &[("T", 4)]), 0);
    assert!(!t.unregister("g", "other:1", 0));
    assert!(!t.unregister("g", "m:1", 1));
    assert!(t.topic_route("T").is_some());
    assert!(t.unregister("g", "m:1", 0));
    assert!(t.topic_route("T").is_none());
    assert_eq!(t.live_count(), 0);
}

#[test]
fn address_changing_role_is_listed_once() {
    let mut t = table();
    t.register(reg("g", 1, "x:1", 1, 1, &[("T", 4)]), 0);
    t.register(reg("g", 0, "x:1", 1, 1, &[("T", 4)]), SEC);
    let group = t.broker_data("g").unwrap();
    assert_eq!(group.broker_addrs.len(), 1);
    assert_eq!(group.master_addr(), Some("x:1"));
    assert_eq!(
        t.topic_route("T").unwrap().queue_datas[0].perm,
        6,
        "first registration as master"
    );
}

#[test]
fn delete_topic_everywhere_or_per_cluster() {
    let mut t = table();
    t.register(reg("a", 0, "a:1", 1, 1, &[("T", 4), ("U", 4)]), 0);
    let mut other = reg("b", 0, "b:1", 2, 1, &[("T", 4)]);
    other.cluster = "Other".into();
    t.register(other, 0);
    assert_eq!(t.topics_of_cluster("Other").topic_list.len(), 1);
    assert!(!t.delete_topic("T", Some("Nope")));
    assert!(t.delete_topic("T", Some("Other")));
    let route = t.topic_route("T").unwrap();
    assert_eq!(route.queue_datas.len(), 1);
    assert_eq!(route.queue_datas[0].broker_name, "a");
    assert!(t.delete_topic("U", None));
    assert!(t.topic_route("U").is_none());
    assert!(!t.delete_topic("U", None));
}

#[test]
fn a_broker_that_moved_cluster_leaves_both_when_it_goes() {
    let mut t = table();
    t.register(reg("broker-a", 0, "a:1", 1, 1, &[("T", 4)]), 0);
    let mut moved = reg("broker-a", 0, "a:1", 1, 2, &[("T", 4)]);
    moved.cluster = "OtherCluster".into();
    t.register(moved, SEC);
    assert!(t.cluster_brokers("OtherCluster").unwrap().contains("broker-a"));
    assert_eq!(t.connection_closed(1), vec!["a:1".to_string()]);
    assert!(t.cluster_brokers("DefaultCluster").is_none());
    assert!(
        t.cluster_brokers("OtherCluster").is_none(),
        "no cluster may list a broker name that is gone"
    );
}
