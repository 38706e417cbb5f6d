//! `mqadmin` broker commands: clusterList, brokerStatus and getBrokerConfig.
//!
//! The flag structs carry no doc comments: clap would read them as the command's help, which
//! the `Command` variant in `mqadmin.rs` holds (with the command's name), so `mqadmin -h` lists
//! every command in one place.

use std::time::Duration;

use rmq_admin::{Admin, AdminError};

use super::args::{broker_selector, now_ms};

// The flags of `clusterList`.
#[derive(clap::Args, Debug)]
pub struct ClusterListArgs {
    /// Print message totals instead of TPS.
    #[arg(short = 'm', long = "moreStats")]
    more_stats: bool,
    /// Repeat every this many seconds (until Ctrl-C).
    #[arg(short = 'i', long = "interval")]
    interval: Option<u64>,
}

impl ClusterListArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { more_stats, interval } = self;
        match interval {
            None => rmq_admin::broker::cluster_list(admin, more_stats, now_ms(), out).await,
            Some(secs) => loop {
                let mut page = String::new();
                rmq_admin::broker::cluster_list(admin, more_stats, now_ms(), &mut page).await?;
                print!("{page}");
                tokio::time::sleep(Duration::from_secs(secs.max(1))).await;
            },
        }
    }
}

// The flags of `brokerStatus`.
#[derive(clap::Args, Debug)]
pub struct BrokerStatusArgs {
    /// Broker address (ip:port).
    #[arg(short = 'b', long = "brokerAddr")]
    broker_addr: Option<String>,
    /// Every broker of this cluster.
    #[arg(short = 'c', long = "clusterName")]
    cluster_name: Option<String>,
}

impl BrokerStatusArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            broker_addr,
            cluster_name,
        } = self;
        rmq_admin::broker::broker_status(admin, &broker_selector(broker_addr, cluster_name), out).await
    }
}

// The flags of `getBrokerConfig`.
#[derive(clap::Args, Debug)]
pub struct GetBrokerConfigArgs {
    /// Broker address (ip:port).
    #[arg(short = 'b', long = "brokerAddr")]
    broker_addr: Option<String>,
    /// Every broker of this cluster.
    #[arg(short = 'c', long = "clusterName")]
    cluster_name: Option<String>,
}

impl GetBrokerConfigArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            broker_addr,
            cluster_name,
        } = self;
        rmq_admin::broker::get_broker_config(admin, &broker_selector(broker_addr, cluster_name), out).await
    }
}
