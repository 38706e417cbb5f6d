//! Topic commands: `updateTopic`, `deleteTopic`, `topicRoute`, `topicStatus`, `topicList`,
//! `topicClusterList` (`updateTopicPerm` is in [`crate::topic_perm`]).

use std::fmt::Write;

use rmq_remoting::body::route::MASTER_ID;
use rmq_remoting::body::{
    BrokerData, ClusterInfo, MqMap, TopicConfig, TopicFilterType, TopicList, TopicOffset, TopicRouteData,
    TopicStatsTable,
};
use rmq_remoting::headers::admin::{
    CreateTopicRequestHeader, DeleteTopicInBrokerRequestHeader, GetTopicStatsInfoRequestHeader,
};
use rmq_remoting::headers::namesrv::{DeleteTopicInNamesrvRequestHeader, PutKvConfigRequestHeader};
use rmq_remoting::{RemotingCommand, RequestCode};

use crate::admin::{Admin, BrokerAddr};
use crate::error::AdminError;
use crate::format;

/// KV namespace holding ordered topics' queue layout.
pub const ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

/// Longest topic name the broker accepts.
pub const MAX_TOPIC_LEN: usize = 127;

/// Where `updateTopic` (and the other `-b`/`-c` commands) send their request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `-b`: one broker address.
    Broker(String),
    /// `-c`: every master of a cluster.
    Cluster(String),
}

impl Target {
    /// The broker addresses it names: the `-b` address, or every master of the `-c` cluster.
    pub async fn addrs(&self, admin: &Admin) -> Result<Vec<String>, AdminError> {
        Ok(match self {
            Target::Broker(addr) => vec![addr.clone()],
            Target::Cluster(cluster) => admin
                .masters_of_cluster(cluster)
                .await?
                .into_iter()
                .map(|b| b.addr)
                .collect(),
        })
    }
}

/// Options of `updateTopic`.
#[derive(Debug, Clone)]
pub struct UpdateTopic {
    /// `-b` or `-c`.
    pub target: Target,
    /// `-t`.
    pub topic: String,
    /// `-r` (default 8).
    pub read_queue_nums: i32,
    /// `-w` (default 8).
    pub write_queue_nums: i32,
    /// `-p` (default 6).
    pub perm: i32,
    /// `-o`.
    pub order: bool,
}

/// Checks a topic name the way the broker's `TopicValidator` does, with a message saying why.
pub fn validate_topic(topic: &str) -> Result<(), AdminError> {
    if topic.trim().is_empty() {
        return Err(AdminError::Invalid(
            "the topic name is blank; pass -t <topic>".into(),
        ));
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(AdminError::Invalid(format!(
            "topic name is {} bytes; at most {MAX_TOPIC_LEN}",
            topic.len()
        )));
    }
    if let Some(c) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-')))
    {
        return Err(AdminError::Invalid(format!(
            "topic name {topic:?} contains {c:?}; only letters, digits, '%', '|', '_' and '-' are allowed"
        )));
    }
    Ok(())
}

fn check_queue_args(u: &UpdateTopic) -> Result<(), AdminError> {
    for (flag, n) in [
        ("-r/--readQueueNums", u.read_queue_nums),
        ("-w/--writeQueueNums", u.write_queue_nums),
    ] {
        if !(1..=1024).contains(&n) {
            return Err(AdminError::Invalid(format!(
                "{flag} must be between 1 and 1024, not {n}"
            )));
        }
    }
    if ![2, 4, 6].contains(&u.perm) {
        return Err(AdminError::Invalid(format!(
            "-p/--perm must be 2 (W), 4 (R) or 6 (RW), not {}",
            u.perm
        )));
    }
    Ok(())
}

/// `updateTopic`: UPDATE_AND_CREATE_TOPIC to one broker or every master of a cluster, plus the
/// ORDER_TOPIC_CONFIG KV entry when `-o true`.
pub async fn update_topic(admin: &Admin, u: &UpdateTopic, out: &mut String) -> Result<(), AdminError> {
    validate_topic(&u.topic)?;
    check_queue_args(u)?;
    let config = TopicConfig {
        topic_name: u.topic.clone(),
        read_queue_nums: u.read_queue_nums,
        write_queue_nums: u.write_queue_nums,
        perm: u.perm,
        topic_filter_type: TopicFilterType::SINGLE_TAG,
        topic_sys_flag: 0,
        order: u.order,
    };
    let header = CreateTopicRequestHeader {
        topic: u.topic.clone(),
        default_topic: "TBW102".into(),
        read_queue_nums: u.read_queue_nums,
        write_queue_nums: u.write_queue_nums,
        perm: u.perm,
        topic_filter_type: TopicFilterType::SINGLE_TAG.name().into(),
        topic_sys_flag: Some(0),
        order: u.order,
    };
    let targets: Vec<BrokerAddr> = match &u.target {
        Target::Cluster(cluster) => admin.masters_of_cluster(cluster).await?,
        Target::Broker(addr) => {
            // The broker name is only needed for the order config; look it up when asked.
            let name = if u.order {
                broker_name_of(admin, addr).await?
            } else {
                String::new()
            };
            vec![BrokerAddr {
                name,
                addr: addr.clone(),
            }]
        }
    };
    for b in &targets {
        admin
            .invoke(
                &b.addr,
                RemotingCommand::request_with(RequestCode::UPDATE_AND_CREATE_TOPIC, &header),
            )
            .await?;
        let _ = writeln!(out, "create topic to {} success.", b.addr);
    }
    if u.order {
        let conf: Vec<String> = targets
            .iter()
            .map(|b| format!("{}:{}", b.name, u.write_queue_nums))
            .collect();
        let value = conf.join(";");
        put_kv_everywhere(admin, ORDER_TOPIC_CONFIG, &u.topic, &value).await?;
        let _ = writeln!(out, "set cluster orderConf. isOrder=true, orderConf=[{value}]");
    }
    let _ = writeln!(out, "{}", format::topic_config(&config));
    Ok(())
}

async fn broker_name_of(admin: &Admin, addr: &str) -> Result<String, AdminError> {
    let info = admin.cluster_info().await?;
    info.broker_addr_table
        .values()
        .find(|b| b.broker_addrs.values().any(|a| a == addr))
        .map(|b| b.broker_name.clone())
        .ok_or_else(|| {
            AdminError::Invalid(format!(
                "broker {addr} is not registered at the name server (see `mqadmin clusterList`)"
            ))
        })
}

/// PUT_KV_CONFIG to every name server.
pub async fn put_kv_everywhere(
    admin: &Admin,
    namespace: &str,
    key: &str,
    value: &str,
) -> Result<(), AdminError> {
    let header = PutKvConfigRequestHeader {
        namespace: namespace.into(),
        key: key.into(),
        value: value.into(),
    };
    for ns in admin.namesrvs() {
        admin
            .invoke(
                ns,
                RemotingCommand::request_with(RequestCode::PUT_KV_CONFIG, &header),
            )
            .await?;
    }
    Ok(())
}

/// `deleteTopic`: DELETE_TOPIC_IN_BROKER on every master of the cluster, then
/// DELETE_TOPIC_IN_NAMESRV on every name server.
pub async fn delete_topic(
    admin: &Admin,
    topic: &str,
    cluster: &str,
    out: &mut String,
) -> Result<(), AdminError> {
    validate_topic(topic)?;
    let masters = admin.masters_of_cluster(cluster).await?;
    let header = DeleteTopicInBrokerRequestHeader { topic: topic.into() };
    for b in &masters {
        admin
            .invoke(
                &b.addr,
                RemotingCommand::request_with(RequestCode::DELETE_TOPIC_IN_BROKER, &header),
            )
            .await?;
    }
    let _ = writeln!(out, "delete topic [{topic}] from cluster [{cluster}] success.");
    let header = DeleteTopicInNamesrvRequestHeader {
        topic: topic.into(),
        cluster_name: Some(cluster.into()),
    };
    for ns in admin.namesrvs() {
        admin
            .invoke(
                ns,
                RemotingCommand::request_with(RequestCode::DELETE_TOPIC_IN_NAMESRV, &header),
            )
            .await?;
    }
    let _ = writeln!(out, "delete topic [{topic}] from NameServer success.");
    Ok(())
}

/// `topicRoute`: the route as pretty JSON, or with `-l` as a table.
pub async fn topic_route(admin: &Admin, topic: &str, list: bool, out: &mut String) -> Result<(), AdminError> {
    let route = admin.route_required(topic).await?;
    if !list {
        let json = serde_json::to_string_pretty(&route).map_err(|e| AdminError::Invalid(e.to_string()))?;
        let _ = writeln!(out, "{json}");
        return Ok(());
    }
    let _ = writeln!(
        out,
        "{:<45} {:<32} {:<50} {:<10} {:<11} {:<5}",
        "#ClusterName", "#BrokerName", "#BrokerAddrs", "#ReadQueue", "#WriteQueue", "#Perm"
    );
    let (mut total_read, mut total_write) = (0, 0);
    for q in &route.queue_datas {
        let bd = route.broker_datas.iter().find(|b| b.broker_name == q.broker_name);
        let cluster = bd.map(|b| b.cluster.as_str()).unwrap_or("");
        let addrs = bd.map(|b| format!("{:?}", b.broker_addrs)).unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<45} {:<32} {:<50} {:<10} {:<11} {:<5}",
            cluster, q.broker_name, addrs, q.read_queue_nums, q.write_queue_nums, q.perm
        );
        total_read += q.read_queue_nums;
        total_write += q.write_queue_nums;
    }
    let _ = writeln!(
        out,
        "{:<45} {:<32} {:<50} {:<10} {:<11}",
        "Total:",
        route.broker_datas.len(),
        "",
        total_read,
        total_write
    );
    Ok(())
}

/// `topicStatus`: GET_TOPIC_STATS_INFO from every broker group in the route. As Apache's
/// `selectBrokerAddr`, a group is asked at its master, else at a slave, so a group whose master
/// is down still shows its queues; an address that cannot be reached moves on to the group's next.
pub async fn topic_status(admin: &Admin, topic: &str, out: &mut String) -> Result<(), AdminError> {
    let all = topic_offsets(admin, topic).await?;
    render_topic_status(&all, out);
    Ok(())
}

/// Every queue of `topic` with its min and max offset (what `topicStatus` prints): each broker
/// group of the route is asked at its master, else at a slave.
pub async fn topic_offsets(admin: &Admin, topic: &str) -> Result<MqMap<TopicOffset>, AdminError> {
    let route = admin.route_required(topic).await?;
    let mut all: MqMap<TopicOffset> = MqMap::default();
    for b in &route.broker_datas {
        let mut last = None;
        for addr in master_first(b) {
            match topic_stats(admin, addr, topic).await {
                Ok(table) => {
                    all.extend(table.offset_table.0);
                    last = None;
                    break;
                }
                Err(e @ AdminError::Net(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
    }
    Ok(all)
}

/// A group's addresses, the master first, then the slaves by id.
fn master_first(b: &BrokerData) -> impl Iterator<Item = &str> {
    b.master_addr().into_iter().chain(
        b.broker_addrs
            .iter()
            .filter(|(id, _)| **id != MASTER_ID)
            .map(|(_, a)| a.as_str()),
    )
}

/// GET_TOPIC_STATS_INFO of `topic` at `addr`.
pub async fn topic_stats(admin: &Admin, addr: &str, topic: &str) -> Result<TopicStatsTable, AdminError> {
    let header = GetTopicStatsInfoRequestHeader { topic: topic.into() };
    let resp = admin
        .invoke(
            addr,
            RemotingCommand::request_with(RequestCode::GET_TOPIC_STATS_INFO, &header),
        )
        .await?;
    Admin::decode(addr, &resp.body)
}

/// The `topicStatus` table.
pub fn render_topic_status(all: &MqMap<TopicOffset>, out: &mut String) {
    let _ = writeln!(
        out,
        "{:<32}  {:<4}  {:<20}  {:<20}    #Last Updated",
        "#Broker Name", "#QID", "#Min Offset", "#Max Offset"
    );
    for (mq, o) in all.iter() {
        let updated = if o.last_update_timestamp > 0 {
            format::human_millis(o.last_update_timestamp)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:<32}  {:<4}  {:<20}  {:<20}    {}",
            mq.broker_name, mq.queue_id, o.min_offset, o.max_offset, updated
        );
    }
}

/// `topicList`: every topic the name server knows; with `-c` also each topic's cluster(s).
pub async fn topic_list(admin: &Admin, cluster_mode: bool, out: &mut String) -> Result<(), AdminError> {
    let names = topic_names(admin).await?;
    if !cluster_mode {
        for t in &names {
            let _ = writeln!(out, "{t}");
        }
        return Ok(());
    }
    let info = admin.cluster_info().await?;
    let _ = writeln!(out, "{:<20}  {:<48}", "#Cluster Name", "#Topic");
    for t in &names {
        let Some(route) = admin.route(t).await? else {
            continue;
        };
        let mut clusters: Vec<&str> = route
            .queue_datas
            .iter()
            .filter_map(|q| {
                info.broker_addr_table
                    .get(&q.broker_name)
                    .map(|b| b.cluster.as_str())
            })
            .collect();
        clusters.sort_unstable();
        clusters.dedup();
        for c in clusters {
            let _ = writeln!(out, "{c:<20}  {t:<48}");
        }
    }
    Ok(())
}

/// GET_ALL_TOPIC_LIST_FROM_NAMESERVER from the first reachable name server: every topic name.
pub async fn topic_names(admin: &Admin) -> Result<Vec<String>, AdminError> {
    let (ns, resp) = admin
        .invoke_namesrv(RemotingCommand::request(
            RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
        ))
        .await?;
    if !resp.is_success() {
        return Err(AdminError::refused(ns, &resp));
    }
    let list: TopicList = Admin::decode(&ns, &resp.body)?;
    Ok(list.topic_list.into_iter().collect())
}

/// Clusters whose broker list names a broker of `route`, sorted.
pub fn clusters_of_route(info: &ClusterInfo, route: &TopicRouteData) -> Vec<String> {
    info.cluster_addr_table
        .iter()
        .filter(|(_, names)| route.broker_datas.iter().any(|b| names.contains(&b.broker_name)))
        .map(|(cluster, _)| cluster.clone())
        .collect()
}

/// `topicClusterList -t <topic>`: the clusters holding the topic, one per line (Apache's tool
/// looks only at the route's first broker; every broker of the route counts here).
pub async fn topic_cluster_list(admin: &Admin, topic: &str, out: &mut String) -> Result<(), AdminError> {
    validate_topic(topic)?;
    let route = admin.route_required(topic).await?;
    let info = admin.cluster_info().await?;
    for cluster in clusters_of_route(&info, &route) {
        let _ = writeln!(out, "{cluster}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::body::{JsonBody, MessageQueue};

    #[test]
    fn clusters_are_found_through_every_broker_of_the_route() {
        let info = ClusterInfo::decode(
            br#"{"brokerAddrTable":{},
               "clusterAddrTable":{"C1":["a"],"C2":["b","c"],"C3":["d"]}}"#,
        )
        .unwrap();
        let route = TopicRouteData::decode(
            br#"{"brokerDatas":[{"brokerAddrs":{"0":"h:1"},"brokerName":"c","cluster":"C2"},
                                {"brokerAddrs":{"0":"h:2"},"brokerName":"a","cluster":"C1"}],
                 "queueDatas":[]}"#,
        )
        .unwrap();
        assert_eq!(clusters_of_route(&info, &route), vec!["C1", "C2"]);
    }

    #[test]
    fn topic_names_are_validated_with_reasons() {
        assert!(validate_topic("Topic_A-1%|x").is_ok());
        let e = validate_topic("a b").unwrap_err().to_string();
        assert!(e.contains("' '"), "{e}");
        assert!(validate_topic("").is_err());
        assert!(validate_topic(&"x".repeat(128)).is_err());
    }

    #[test]
    fn queue_and_perm_args_are_checked() {
        let mut u = UpdateTopic {
            target: Target::Cluster("C".into()),
            topic: "T".into(),
            read_queue_nums: 8,
            write_queue_nums: 8,
            perm: 6,
            order: false,
        };
        assert!(check_queue_args(&u).is_ok());
        u.perm = 7;
        assert!(check_queue_args(&u)
            .unwrap_err()
            .to_string()
            .contains("-p/--perm"));
        u.perm = 6;
        u.write_queue_nums = 0;
        assert!(check_queue_args(&u)
            .unwrap_err()
            .to_string()
            .contains("writeQueueNums"));
    }

    #[test]
    fn topic_status_asks_the_master_then_the_slaves() {
        let mut b = BrokerData {
            broker_name: "broker-a".into(),
            ..Default::default()
        };
        b.broker_addrs.insert(2, "s2".into());
        b.broker_addrs.insert(1, "s1".into());
        assert_eq!(master_first(&b).collect::<Vec<_>>(), ["s1", "s2"]);
        b.broker_addrs.insert(MASTER_ID, "m".into());
        assert_eq!(master_first(&b).collect::<Vec<_>>(), ["m", "s1", "s2"]);
    }

    #[test]
    fn topic_status_rows_are_sorted_by_queue() {
        let mut all: MqMap<TopicOffset> = MqMap::default();
        all.insert(
            MessageQueue::new("T", "b", 1),
            TopicOffset {
                last_update_timestamp: 0,
                max_offset: 5,
                min_offset: 0,
            },
        );
        all.insert(
            MessageQueue::new("T", "a", 0),
            TopicOffset {
                last_update_timestamp: 1_700_000_000_123,
                max_offset: 9,
                min_offset: 2,
            },
        );
        let mut out = String::new();
        render_topic_status(&all, &mut out);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("#Broker Name"));
        assert!(
            lines[1].starts_with("a ") && lines[1].contains("2023-11-14 22:13:20,123"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("b ") && lines[2].trim_end().ends_with('5'),
            "{}",
            lines[2]
        );
    }
}
