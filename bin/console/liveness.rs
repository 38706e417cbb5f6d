//! The brokers the console has seen and when: every successful GET_BROKER_RUNTIME_INFO
//! refreshes a broker's figures and last-seen time; a broker that stops answering, or that the
//! name server no longer lists, keeps its last figures so the cluster page can show it greyed
//! out with when it was last seen. Pure: the caller passes the clock.

use std::collections::BTreeMap;

use rmq_remoting::body::KvTable;

/// Identifies one broker process: cluster, broker name, broker id, address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BrokerKey {
    /// Cluster name.
    pub cluster: String,
    /// `brokerName`.
    pub name: String,
    /// 0 = master.
    pub id: i64,
    /// `ip:port`.
    pub addr: String,
}

/// What a broker reported about itself (GET_BROKER_RUNTIME_INFO keys).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// `brokerVersionDesc`.
    pub version: String,
    /// `putTps`, first figure (last 10 s).
    pub in_tps: f64,
    /// `getTransferedTps`, first figure.
    pub out_tps: f64,
    /// Messages stored since midnight.
    pub put_today: i64,
    /// Messages read since midnight.
    pub get_today: i64,
    /// `commitLogDiskRatio`: used share of the commit-log disk, 0..1.
    pub disk_ratio: f64,
    /// `commitLogMaxOffset` - `commitLogMinOffset`: bytes of commit log held.
    pub commit_log_bytes: i64,
}

impl Figures {
    /// Reads the figures from a runtime-info table; missing keys read as zero.
    pub fn from_kv(kv: &KvTable) -> Figures {
        let first = |k: &str| {
            kv.get(k)
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let int = |k: &str| kv.get(k).and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0);
        Figures {
            version: kv.get("brokerVersionDesc").unwrap_or("").to_string(),
            in_tps: first("putTps"),
            out_tps: first("getTransferedTps"),
            put_today: int("msgPutTotalTodayNow") - int("msgPutTotalTodayMorning"),
            get_today: int("msgGetTotalTodayNow") - int("msgGetTotalTodayMorning"),
            disk_ratio: first("commitLogDiskRatio"),
            commit_log_bytes: int("commitLogMaxOffset") - int("commitLogMinOffset"),
        }
    }
}

/// One broker's state as the cluster page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerStatus {
    /// Which broker.
    pub key: BrokerKey,
    /// Answered the last time it was asked.
    pub up: bool,
    /// Listed by the name server the last time it was asked.
    pub registered: bool,
    /// When it last answered (epoch ms), if ever.
    pub last_seen_ms: Option<i64>,
    /// Its figures from that answer.
    pub figures: Option<Figures>,
    /// Why the last request failed.
    pub error: Option<String>,
}

/// Every broker seen since the console started.
#[derive(Debug, Default)]
pub struct Liveness {
    brokers: BTreeMap<BrokerKey, BrokerStatus>,
}

/// One round of observations: every broker the name server lists, each with its answer.
pub type Round = Vec<(BrokerKey, Result<Figures, String>)>;

impl Liveness {
    /// Records one round at `now_ms`; brokers seen before but absent from the round are marked
    /// as no longer registered (and down).
    pub fn observe(&mut self, round: Round, now_ms: i64) {
        for s in self.brokers.values_mut() {
            s.registered = false;
        }
        for (key, answer) in round {
            let entry = self.brokers.entry(key.clone()).or_insert_with(|| BrokerStatus {
                key,
                up: false,
                registered: true,
                last_seen_ms: None,
                figures: None,
                error: None,
            });
            entry.registered = true;
            match answer {
                Ok(f) => {
                    entry.up = true;
                    entry.last_seen_ms = Some(now_ms);
                    entry.figures = Some(f);
                    entry.error = None;
                }
                Err(e) => {
                    entry.up = false;
                    entry.error = Some(e);
                }
            }
        }
        for s in self.brokers.values_mut() {
            if !s.registered {
                s.up = false;
                s.error
                    .get_or_insert_with(|| "no longer registered at the name server".into());
            }
        }
    }

    /// Every broker, ordered by cluster, name, id and address.
    pub fn statuses(&self) -> Vec<BrokerStatus> {
        self.brokers.values().cloned().collect()
    }
}

/// "12 s ago", "5 min ago", "3 h ago".
pub fn ago(now_ms: i64, then_ms: i64) -> String {
    let s = (now_ms - then_ms).max(0) / 1000;
    match s {
        0..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::body::JsonBody;

    fn key(name: &str) -> BrokerKey {
        BrokerKey {
            cluster: "C".into(),
            name: name.into(),
            id: 0,
            addr: format!("{name}:10911"),
        }
    }

    #[test]
    fn a_broker_that_stops_answering_keeps_its_last_figures_and_time() {
        let mut l = Liveness::default();
        let f = Figures {
            version: "V4_9_8".into(),
            ..Default::default()
        };
        l.observe(vec![(key("a"), Ok(f.clone())), (key("b"), Ok(f.clone()))], 1_000);
        l.observe(
            vec![(key("a"), Err("refused".into())), (key("b"), Ok(f.clone()))],
            6_000,
        );
        let s = l.statuses();
        assert!(!s[0].up && s[0].registered);
        assert_eq!(s[0].last_seen_ms, Some(1_000));
        assert_eq!(s[0].figures.as_ref().unwrap().version, "V4_9_8");
        assert_eq!(s[0].error.as_deref(), Some("refused"));
        assert!(s[1].up);
        assert_eq!(s[1].last_seen_ms, Some(6_000));
        // b disappears from the name server: kept, down, not registered.
        l.observe(vec![(key("a"), Ok(f))], 11_000);
        let s = l.statuses();
        assert!(s[0].up);
        assert!(!s[1].up && !s[1].registered);
        assert_eq!(s[1].last_seen_ms, Some(6_000));
    }

    #[test]
    fn a_broker_never_seen_has_no_last_seen_time() {
        let mut l = Liveness::default();
        l.observe(vec![(key("a"), Err("timeout".into()))], 1_000);
        assert_eq!(l.statuses()[0].last_seen_ms, None);
    }

    #[test]
    fn figures_come_from_runtime_keys() {
        let kv = KvTable::decode(
            br#"{"table":{"brokerVersionDesc":"V4_9_8","putTps":"12.5 11.0 10.2","getTransferedTps":"3.0 1 1",
                "msgPutTotalTodayNow":"150","msgPutTotalTodayMorning":"50","msgGetTotalTodayNow":"7",
                "commitLogDiskRatio":"0.25","commitLogMaxOffset":"4096"}}"#,
        )
        .unwrap();
        let f = Figures::from_kv(&kv);
        assert_eq!(
            (f.in_tps, f.out_tps, f.put_today, f.get_today),
            (12.5, 3.0, 100, 7)
        );
        assert_eq!((f.disk_ratio, f.commit_log_bytes), (0.25, 4096));
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(10_000, 4_000), "6 s ago");
        assert_eq!(ago(1_000_000, 0), "16 min ago");
        assert_eq!(ago(10_000_000, 0), "2 h ago");
    }
}
