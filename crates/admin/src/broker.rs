//! Broker commands: `clusterList`, `brokerStatus`, `getBrokerConfig`.

use std::fmt::Write;

use rmq_remoting::body::{ClusterInfo, KvTable};
use rmq_remoting::{RemotingCommand, RequestCode};

use crate::admin::Admin;
use crate::error::AdminError;
use crate::namesrv::render_properties;

/// `-b <addr>` or `-c <cluster>` for the per-broker commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerSelector {
    /// One broker address.
    Addr(String),
    /// Every broker (masters and slaves) of a cluster.
    Cluster(String),
}

/// One broker row: cluster, name, id, address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerRow {
    /// Cluster name.
    pub cluster: String,
    /// Broker name.
    pub name: String,
    /// Broker id (0 = master).
    pub id: i64,
    /// `ip:port`.
    pub addr: String,
}

/// Every broker address in `info`, ordered by cluster, broker name and id.
pub fn broker_rows(info: &ClusterInfo, only_cluster: Option<&str>) -> Vec<BrokerRow> {
    let mut rows = Vec::new();
    for (cluster, names) in &info.cluster_addr_table {
        if only_cluster.is_some_and(|c| c != cluster) {
            continue;
        }
        for name in names {
            let Some(bd) = info.broker_addr_table.get(name) else {
                continue;
            };
            for (id, addr) in &bd.broker_addrs {
                rows.push(BrokerRow {
                    cluster: cluster.clone(),
                    name: name.clone(),
                    id: *id,
                    addr: addr.clone(),
                });
            }
        }
    }
    rows
}

/// GET_BROKER_RUNTIME_INFO of one broker.
pub async fn runtime_info(admin: &Admin, addr: &str) -> Result<KvTable, AdminError> {
    let resp = admin
        .invoke(
            addr,
            RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO),
        )
        .await?;
    Admin::decode(addr, &resp.body)
}

fn first_f64(kv: &KvTable, key: &str) -> f64 {
    kv.get(key)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn int(kv: &KvTable, key: &str) -> i64 {
    kv.get(key).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

fn text<'a>(kv: &'a KvTable, key: &str) -> &'a str {
    kv.get(key).unwrap_or("")
}

/// One `clusterList` base row, formatted like Apache's `printClusterBaseInfo`.
pub fn base_row(row: &BrokerRow, kv: Option<&KvTable>, now_ms: i64) -> String {
    let Some(kv) = kv else {
        return format!(
            "{:<16}  {:<22}  {:<4}  {:<22} {:<16} {:>19} {:>19} {:>10} {:>5} {:>6}",
            row.cluster, row.name, row.id, row.addr, "(unreachable)", "", "", "", "", ""
        );
    };
    let earliest = int(kv, "earliestMessageTimeStamp");
    let hours = if earliest > 0 {
        (now_ms - earliest) as f64 / 3_600_000.0
    } else {
        0.0
    };
    let space: f64 = kv
        .get("commitLogDiskRatio")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    format!(
        "{:<16}  {:<22}  {:<4}  {:<22} {:<16} {:>19} {:>19} {:>10} {:>5} {:>6}",
        row.cluster,
        row.name,
        row.id,
        row.addr,
        text(kv, "brokerVersionDesc"),
        format!(
            "{:9.2}({},{}ms)",
            first_f64(kv, "putTps"),
            int(kv, "sendThreadPoolQueueSize"),
            int(kv, "sendThreadPoolQueueHeadWaitTimeMills")
        ),
        format!(
            "{:9.2}({},{}ms)",
            first_f64(kv, "getTransferedTps"),
            int(kv, "pullThreadPoolQueueSize"),
            int(kv, "pullThreadPoolQueueHeadWaitTimeMills")
        ),
        int(kv, "pageCacheLockTimeMills"),
        format!("{hours:2.2}"),
        format!("{space:.4}")
    )
}

/// One `clusterList -m` row (`printClusterMoreStats`).
pub fn more_row(row: &BrokerRow, kv: Option<&KvTable>) -> String {
    let (in_yest, out_yest, in_today, out_today) = match kv {
        Some(kv) => (
            int(kv, "msgPutTotalTodayMorning") - int(kv, "msgPutTotalYesterdayMorning"),
            int(kv, "msgGetTotalTodayMorning") - int(kv, "msgGetTotalYesterdayMorning"),
            int(kv, "msgPutTotalTodayNow") - int(kv, "msgPutTotalTodayMorning"),
            int(kv, "msgGetTotalTodayNow") - int(kv, "msgGetTotalTodayMorning"),
        ),
        None => (0, 0, 0, 0),
    };
    format!(
        "{:<16}  {:<32} {:>14} {:>14} {:>14} {:>14}",
        row.cluster, row.name, in_yest, out_yest, in_today, out_today
    )
}

/// `clusterList [-m]`: every broker with its runtime figures. A broker that does not answer is
/// shown as unreachable rather than failing the whole listing.
pub async fn cluster_list(
    admin: &Admin,
    more_stats: bool,
    now_ms: i64,
    out: &mut String,
) -> Result<(), AdminError> {
    let info = admin.cluster_info().await?;
    if more_stats {
        let _ = writeln!(
            out,
            "{:<16}  {:<32} {:>14} {:>14} {:>14} {:>14}",
            "#Cluster Name",
            "#Broker Name",
            "#InTotalYest",
            "#OutTotalYest",
            "#InTotalToday",
            "#OutTotalToday"
        );
    } else {
        let _ = writeln!(
            out,
            "{:<16}  {:<22}  {:<4}  {:<22} {:<16} {:>19} {:>19} {:>10} {:>5} {:>6}",
            "#Cluster Name",
            "#Broker Name",
            "#BID",
            "#Addr",
            "#Version",
            "#InTPS(LOAD)",
            "#OutTPS(LOAD)",
            "#PCWait(ms)",
            "#Hour",
            "#SPACE"
        );
    }
    for row in broker_rows(&info, None) {
        let kv = runtime_info(admin, &row.addr).await.ok();
        let line = if more_stats {
            more_row(&row, kv.as_ref())
        } else {
            base_row(&row, kv.as_ref(), now_ms)
        };
        let _ = writeln!(out, "{line}");
    }
    Ok(())
}

async fn selected_addrs(admin: &Admin, sel: &BrokerSelector) -> Result<Vec<String>, AdminError> {
    match sel {
        BrokerSelector::Addr(a) => Ok(vec![a.clone()]),
        BrokerSelector::Cluster(c) => {
            let info = admin.cluster_info().await?;
            let addrs: Vec<String> = broker_rows(&info, Some(c)).into_iter().map(|r| r.addr).collect();
            if addrs.is_empty() {
                let known: Vec<&str> = info.cluster_addr_table.keys().map(String::as_str).collect();
                return Err(AdminError::Invalid(format!(
                    "cluster {c} has no broker; clusters known to the name server: [{}]",
                    known.join(", ")
                )));
            }
            Ok(addrs)
        }
    }
}

/// `brokerStatus -b <addr> | -c <cluster>`: every runtime key, sorted.
pub async fn broker_status(admin: &Admin, sel: &BrokerSelector, out: &mut String) -> Result<(), AdminError> {
    for addr in selected_addrs(admin, sel).await? {
        let kv = runtime_info(admin, &addr).await?;
        for (k, v) in &kv.table {
            match sel {
                BrokerSelector::Addr(_) => {
                    let _ = writeln!(out, "{k:<32}: {v}");
                }
                BrokerSelector::Cluster(_) => {
                    let _ = writeln!(out, "{addr:<24} {k:<32}: {v}");
                }
            }
        }
    }
    Ok(())
}

/// `getBrokerConfig -b <addr> | -c <cluster>`: GET_BROKER_CONFIG, printed as sorted properties.
pub async fn get_broker_config(
    admin: &Admin,
    sel: &BrokerSelector,
    out: &mut String,
) -> Result<(), AdminError> {
    for addr in selected_addrs(admin, sel).await? {
        let resp = admin
            .invoke(&addr, RemotingCommand::request(RequestCode::GET_BROKER_CONFIG))
            .await?;
        render_properties(&addr, &String::from_utf8_lossy(&resp.body), out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::body::JsonBody;

    fn row() -> BrokerRow {
        BrokerRow {
            cluster: "DefaultCluster".into(),
            name: "broker-a".into(),
            id: 0,
            addr: "127.0.0.1:10911".into(),
        }
    }

    #[test]
    fn base_row_reads_first_tps_token_and_computes_hours() {
        let kv = KvTable::decode(
            br#"{"table":{"brokerVersionDesc":"V4_9_8","putTps":"12.5 11.0 10.2","getTransferedTps":"3.0 1 1",
                "sendThreadPoolQueueSize":"2","sendThreadPoolQueueHeadWaitTimeMills":"1",
                "earliestMessageTimeStamp":"0","commitLogDiskRatio":"0.25"}}"#,
        )
        .unwrap();
        let line = base_row(&row(), Some(&kv), 7_200_000);
        assert!(line.starts_with("DefaultCluster    broker-a"), "{line}");
        assert!(line.contains("V4_9_8"));
        assert!(line.contains("12.50(2,1ms)"), "{line}");
        assert!(line.contains("3.00(0,0ms)"), "{line}");
        assert!(line.trim_end().ends_with("0.2500"), "{line}");
    }

    #[test]
    fn unreachable_brokers_still_get_a_row() {
        assert!(base_row(&row(), None, 0).contains("(unreachable)"));
    }

    #[test]
    fn rows_are_ordered_and_filtered_by_cluster() {
        let info = ClusterInfo::decode(
            br#"{"brokerAddrTable":{
                "b":{"brokerAddrs":{1:"h:2",0:"h:1"},"brokerName":"b","cluster":"C"},
                "x":{"brokerAddrs":{0:"h:9"},"brokerName":"x","cluster":"D"}},
               "clusterAddrTable":{"C":["b"],"D":["x"]}}"#,
        )
        .unwrap();
        let all = broker_rows(&info, None);
        assert_eq!(
            all.iter().map(|r| r.addr.as_str()).collect::<Vec<_>>(),
            vec!["h:1", "h:2", "h:9"]
        );
        assert_eq!(broker_rows(&info, Some("D")).len(), 1);
    }
}
