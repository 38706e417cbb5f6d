//! The console's one shared handle: the admin connection to the cluster, the brokers seen so
//! far and the TPS histories. Each lock guards one table, is held only to read or update it and
//! never across an `.await`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmq_admin::broker::{broker_rows, runtime_info};
use rmq_admin::{Admin, AdminError};

use super::liveness::{BrokerKey, BrokerStatus, Figures, Liveness};
use super::series::Series;

/// Shared by every handler and the sampler.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    admin: Admin,
    namesrv: String,
    sample_interval: Duration,
    /// Written by every cluster refresh (page or sampler), read by the cluster page.
    liveness: Mutex<Liveness>,
    /// Written by the sampler, read by the chart endpoint.
    series: Mutex<Series>,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl AppState {
    /// A state over `admin`; charts keep `history` points per series.
    pub fn new(admin: Admin, namesrv: &str, sample_interval: Duration, history: usize) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                admin,
                namesrv: namesrv.to_string(),
                sample_interval,
                liveness: Mutex::new(Liveness::default()),
                series: Mutex::new(Series::new(history)),
            }),
        }
    }

    /// The admin connection.
    pub fn admin(&self) -> &Admin {
        &self.inner.admin
    }

    /// The name server list as given.
    pub fn namesrv(&self) -> &str {
        &self.inner.namesrv
    }

    /// How often the sampler runs.
    pub fn sample_interval(&self) -> Duration {
        self.inner.sample_interval
    }

    /// Runs `f` on the TPS histories.
    pub fn with_series<T>(&self, f: impl FnOnce(&mut Series) -> T) -> T {
        let mut s = self.inner.series.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    }

    /// Asks the name server for every broker and each broker for its runtime info (all at
    /// once), records the round and returns every broker seen so far. Fails only when no name
    /// server answers.
    pub async fn refresh_brokers(&self) -> Result<Vec<BrokerStatus>, AdminError> {
        let admin = self.admin();
        let info = admin.cluster_info().await?;
        let rows = broker_rows(&info, None);
        let answers = futures::future::join_all(rows.iter().map(|r| runtime_info(admin, &r.addr))).await;
        let round = rows
            .into_iter()
            .zip(answers)
            .map(|(r, a)| {
                let key = BrokerKey {
                    cluster: r.cluster,
                    name: r.name,
                    id: r.id,
                    addr: r.addr,
                };
                (key, a.map(|kv| Figures::from_kv(&kv)).map_err(|e| e.to_string()))
            })
            .collect();
        let mut l = self.inner.liveness.lock().unwrap_or_else(|e| e.into_inner());
        l.observe(round, now_ms());
        Ok(l.statuses())
    }

    /// The brokers as last recorded, without asking anyone.
    pub fn known_brokers(&self) -> Vec<BrokerStatus> {
        self.inner
            .liveness
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .statuses()
    }
}

/// The page text for an error reaching the cluster: an unreachable name server says which
/// addresses were tried and what to check.
pub fn explain(state: &AppState, e: &AdminError) -> String {
    let text = e.to_string();
    let namesrv_down = matches!(e, AdminError::Net(_))
        && state
            .admin()
            .namesrvs()
            .iter()
            .any(|ns| text.contains(ns.as_str()));
    if namesrv_down {
        format!(
            "Cannot reach the name server ({}): {text}. Check that mqnamesrv is running there and \
             that mqconsole's -n/--namesrv names it.",
            state.namesrv()
        )
    } else {
        text
    }
}
