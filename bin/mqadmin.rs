//! `mqadmin`: Apache RocketMQ's admin tool, same command names and flags (protocol.md §8), built
//! on the `rmq-admin` library. Prints what Apache's tool prints; exits non-zero on any failure with
//! a message that says what to do next.
//!
//! This file holds the global flags, the list of commands with their help ([`Command`]) and the
//! dispatch; each command's flags and the code that runs it are in `bin/admin/`, one file per
//! noun (`topic`, `namesrv`, `broker`, `group`, `message`, `acl`; shared flags in `args`).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgGroup, Parser, Subcommand};
use rmq_admin::{Admin, AdminError};

#[path = "admin/acl.rs"]
mod acl;
#[path = "admin/args.rs"]
mod args;
#[path = "admin/broker.rs"]
mod broker;
#[path = "admin/group.rs"]
mod group;
#[path = "admin/message.rs"]
mod message;
#[path = "admin/namesrv.rs"]
mod namesrv;
#[path = "admin/topic.rs"]
mod topic;

#[derive(Parser, Debug)]
#[command(
    name = "mqadmin",
    version,
    about = "Admin tool for a RocketMQ 4.x cluster (Apache mqadmin's commands and flags)",
    after_help = "Examples:\n  mqadmin clusterList -n 127.0.0.1:9876\n  \
                  mqadmin updateTopic -n 127.0.0.1:9876 -c DefaultCluster -t TopicTest\n  \
                  mqadmin sendMessage -t TopicTest -p 'hello' -k key1 -c TagA\n  \
                  mqadmin consumeMessage -t TopicTest -c 10\n\n\
                  Run `mqadmin <command> -h` for a command's options."
)]
struct Cli {
    /// Name server address list, e.g. '192.168.0.1:9876;192.168.0.2:9876' (or env NAMESRV_ADDR).
    #[arg(short = 'n', long = "namesrvAddr", env = "NAMESRV_ADDR", global = true)]
    namesrv_addr: Option<String>,

    // Field names differ from the subcommands' `access_key`/`secret_key`: clap matches global
    // arguments by id, and the same id would let `updateAclConfig -a` replace the signer.
    /// Access key to sign requests with, for brokers with aclEnable=true (else
    /// $ROCKETMQ_HOME/conf/tools.yml is read, as Apache's tool does).
    #[arg(long = "ak", env = "RMQ_ACCESS_KEY", global = true)]
    sign_access_key: Option<String>,

    /// Secret key that goes with --ak (never sent; it signs).
    #[arg(long = "sk", env = "RMQ_SECRET_KEY", global = true, hide_env_values = true)]
    sign_secret_key: Option<String>,

    /// Timeout of each request in milliseconds.
    #[arg(long = "timeoutMillis", default_value_t = 5000, global = true)]
    timeout_millis: u64,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Update or create a topic on one broker (-b) or every master of a cluster (-c).
    #[command(name = "updateTopic")]
    UpdateTopic(topic::UpdateTopicArgs),
    /// Delete a topic from every master of a cluster and from the name servers.
    #[command(name = "deleteTopic")]
    DeleteTopic(topic::DeleteTopicArgs),
    /// Make a broker's queues read-only at every name server.
    #[command(name = "wipeWritePerm")]
    WipeWritePerm(namesrv::WipeWritePermArgs),
    /// Make a broker's queues writable again at every name server.
    #[command(name = "addWritePerm")]
    AddWritePerm(namesrv::AddWritePermArgs),
    /// Print a topic's route (JSON, or a table with -l).
    #[command(name = "topicRoute")]
    TopicRoute(topic::TopicRouteArgs),
    /// Print min/max offsets of every queue of a topic.
    #[command(name = "topicStatus")]
    TopicStatus(topic::TopicStatusArgs),
    /// List every topic known to the name server.
    #[command(name = "topicList")]
    TopicList(topic::TopicListArgs),
    /// List brokers with their runtime figures.
    #[command(name = "clusterList")]
    ClusterList(broker::ClusterListArgs),
    /// Print a broker's runtime info.
    #[command(name = "brokerStatus", group(ArgGroup::new("target").required(true).args(["broker_addr", "cluster_name"])))]
    BrokerStatus(broker::BrokerStatusArgs),
    /// Print a broker's configuration.
    #[command(name = "getBrokerConfig", group(ArgGroup::new("target").required(true).args(["broker_addr", "cluster_name"])))]
    GetBrokerConfig(broker::GetBrokerConfigArgs),
    /// Print a consumer group's offsets and lag per queue.
    #[command(name = "consumerProgress")]
    ConsumerProgress(group::ConsumerProgressArgs),
    /// Reset a consumer group's offsets on a topic to a time, without restarting its consumers
    /// (they are told by the brokers); a group with no consumer online gets its stored offsets
    /// rewritten instead.
    #[command(name = "resetOffsetByTime")]
    ResetOffsetByTime(group::ResetOffsetByTimeArgs),
    /// Create or update a KV config entry on every name server.
    #[command(name = "updateKvConfig")]
    UpdateKvConfig(namesrv::UpdateKvConfigArgs),
    /// Delete a KV config entry from every name server.
    #[command(name = "deleteKvConfig")]
    DeleteKvConfig(namesrv::DeleteKvConfigArgs),
    /// Print every name server's configuration.
    #[command(name = "getNamesrvConfig")]
    GetNamesrvConfig,
    /// Send one message.
    #[command(name = "sendMessage")]
    SendMessage(message::SendMessageArgs),
    /// Read messages of a topic without committing offsets.
    #[command(name = "consumeMessage")]
    ConsumeMessage(message::ConsumeMessageArgs),
    /// Print a message by its offset msgId.
    #[command(name = "queryMsgById")]
    QueryMsgById(message::QueryMsgByIdArgs),
    /// Print the messages of a topic with a key (QUERY_MESSAGE on every broker group).
    #[command(name = "queryMsgByKey")]
    QueryMsgByKey(message::QueryMsgByKeyArgs),
    /// Print a message by its unique key (the client msgId a send returns).
    #[command(name = "queryMsgByUniqueKey")]
    QueryMsgByUniqueKey(message::QueryMsgByUniqueKeyArgs),
    /// Print the message at a queue offset.
    #[command(name = "queryMsgByOffset")]
    QueryMsgByOffset(message::QueryMsgByOffsetArgs),
    /// Change a topic's permission on one broker (-b) or every master of a cluster (-c).
    #[command(name = "updateTopicPerm")]
    UpdateTopicPerm(topic::UpdateTopicPermArgs),
    /// Print the clusters that hold a topic.
    #[command(name = "topicClusterList")]
    TopicClusterList(topic::TopicClusterListArgs),
    /// Create or replace a subscription group on one broker (-b) or every master of a cluster (-c).
    #[command(name = "updateSubGroup")]
    UpdateSubGroup(group::UpdateSubGroupArgs),
    /// Delete a subscription group from one broker (-b) or every master of a cluster (-c; also
    /// deletes the group's %RETRY% and %DLQ% topics there).
    #[command(name = "deleteSubGroup")]
    DeleteSubGroup(group::DeleteSubGroupArgs),
    /// Print a consumer group's connections, subscriptions and consume settings.
    #[command(name = "consumerConnection")]
    ConsumerConnection(group::ConsumerConnectionArgs),
    /// Print a producer group's connections on the brokers of a topic.
    #[command(name = "producerConnection")]
    ProducerConnection(group::ProducerConnectionArgs),
    /// Create or update a plain-ACL account on one broker (-b) or every broker of a cluster (-c).
    #[command(name = "updateAclConfig")]
    UpdateAclConfig(acl::UpdateAclConfigArgs),
    /// Delete a plain-ACL account on one broker (-b) or every broker of a cluster (-c).
    #[command(name = "deleteAclConfig", alias = "deleteAccessConfig")]
    DeleteAclConfig(acl::DeleteAclConfigArgs),
    /// Replace the global white address list on one broker (-b) or every broker of a cluster (-c).
    #[command(name = "updateGlobalWhiteAddr")]
    UpdateGlobalWhiteAddr(acl::UpdateGlobalWhiteAddrArgs),
    /// Print the ACL file version of one broker (-b) or every master of a cluster (-c).
    #[command(name = "clusterAclConfigVersion")]
    ClusterAclConfigVersion(acl::ClusterAclConfigVersionArgs),
    /// Print the ACL accounts of one broker (-b) or every master of a cluster (-c).
    #[command(name = "getAclConfig")]
    GetAclConfig(acl::GetAclConfigArgs),
}

async fn run(admin: &Admin, command: Command, out: &mut String) -> Result<(), AdminError> {
    match command {
        Command::UpdateTopic(a) => a.run(admin, out).await,
        Command::DeleteTopic(a) => a.run(admin, out).await,
        Command::WipeWritePerm(a) => a.run(admin, out).await,
        Command::AddWritePerm(a) => a.run(admin, out).await,
        Command::TopicRoute(a) => a.run(admin, out).await,
        Command::TopicStatus(a) => a.run(admin, out).await,
        Command::TopicList(a) => a.run(admin, out).await,
        Command::ClusterList(a) => a.run(admin, out).await,
        Command::BrokerStatus(a) => a.run(admin, out).await,
        Command::GetBrokerConfig(a) => a.run(admin, out).await,
        Command::ConsumerProgress(a) => a.run(admin, out).await,
        Command::ResetOffsetByTime(a) => a.run(admin, out).await,
        Command::UpdateKvConfig(a) => a.run(admin, out).await,
        Command::DeleteKvConfig(a) => a.run(admin, out).await,
        Command::GetNamesrvConfig => rmq_admin::namesrv::get_namesrv_config(admin, out).await,
        Command::SendMessage(a) => a.run(admin, out).await,
        Command::ConsumeMessage(a) => a.run(admin, out).await,
        Command::QueryMsgById(a) => a.run(admin, out).await,
        Command::QueryMsgByKey(a) => a.run(admin, out).await,
        Command::QueryMsgByUniqueKey(a) => a.run(admin, out).await,
        Command::QueryMsgByOffset(a) => a.run(admin, out).await,
        Command::UpdateTopicPerm(a) => a.run(admin, out).await,
        Command::TopicClusterList(a) => a.run(admin, out).await,
        Command::UpdateSubGroup(a) => a.run(admin, out).await,
        Command::DeleteSubGroup(a) => a.run(admin, out).await,
        Command::ConsumerConnection(a) => a.run(admin, out).await,
        Command::ProducerConnection(a) => a.run(admin, out).await,
        Command::UpdateAclConfig(a) => a.run(admin, out).await,
        Command::DeleteAclConfig(a) => a.run(admin, out).await,
        Command::UpdateGlobalWhiteAddr(a) => a.run(admin, out).await,
        Command::ClusterAclConfigVersion(a) => a.run(admin, out).await,
        Command::GetAclConfig(a) => a.run(admin, out).await,
    }
}

fn command_name(c: &Command) -> String {
    let dbg = format!("{c:?}");
    let variant = dbg.split([' ', '{', '(']).next().unwrap_or("").to_string();
    let mut chars = variant.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => variant,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = command_name(&cli.command);
    let Some(ns) = cli.namesrv_addr.as_deref().filter(|s| !s.trim().is_empty()) else {
        eprintln!("mqadmin {name}: no name server address: pass -n 127.0.0.1:9876 or set NAMESRV_ADDR");
        return ExitCode::FAILURE;
    };
    let result = (|| -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting runtime")?;
        let mut admin = Admin::new(ns)?.with_timeout(Duration::from_millis(cli.timeout_millis.max(1)));
        let home = std::env::var_os("ROCKETMQ_HOME").map(std::path::PathBuf::from);
        if let Some(c) = rmq_admin::acl::tool_credentials(
            cli.sign_access_key.as_deref(),
            cli.sign_secret_key.as_deref(),
            home.as_deref(),
        )? {
            admin = admin.with_credentials(c);
        }
        let mut out = String::new();
        let result = rt.block_on(run(&admin, cli.command, &mut out));
        print!("{out}");
        admin.shutdown();
        result.map_err(anyhow::Error::from)
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mqadmin {name}: {e}");
            ExitCode::FAILURE
        }
    }
}
