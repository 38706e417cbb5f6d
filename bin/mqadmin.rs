//! `mqadmin`: Apache RocketMQ's admin tool, same command names and flags (protocol.md §8), built
//! on the `rmq-admin` library. Prints what Apache's tool prints; exits non-zero on any failure with
//! a message that says what to do next.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgGroup, Parser, Subcommand};
use rmq_admin::broker::BrokerSelector;
use rmq_admin::consume::{ConsumeMessage, TOOLS_CONSUMER};
use rmq_admin::format::{bool_value, parse_bool, parse_time_arg};
use rmq_admin::group::UpdateSubGroup;
use rmq_admin::message::SendMessage;
use rmq_admin::namesrv::WritePerm;
use rmq_admin::topic::{Target, UpdateTopic};
use rmq_admin::topic_perm::parse_perm;
use rmq_admin::{Admin, AdminError};

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
    UpdateTopic {
        #[command(flatten)]
        target: TargetArgs,
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Number of read queues.
        #[arg(short = 'r', long = "readQueueNums", default_value_t = 8)]
        read_queue_nums: i32,
        /// Number of write queues.
        #[arg(short = 'w', long = "writeQueueNums", default_value_t = 8)]
        write_queue_nums: i32,
        /// Permission: 2 (W), 4 (R) or 6 (RW).
        #[arg(short = 'p', long = "perm", default_value_t = 6)]
        perm: i32,
        /// Ordered topic (true|false): also sets the ORDER_TOPIC_CONFIG KV entry.
        #[arg(short = 'o', long = "order", default_value = "false")]
        order: String,
        /// Unit topic (true|false); accepted for compatibility, must be false.
        #[arg(short = 'u', long = "unit", default_value = "false")]
        unit: String,
        /// Has unit sub (true|false); accepted for compatibility, must be false.
        #[arg(short = 's', long = "hasUnitSub", default_value = "false")]
        has_unit_sub: String,
    },
    /// Delete a topic from every master of a cluster and from the name servers.
    #[command(name = "deleteTopic")]
    DeleteTopic {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Cluster to delete it from.
        #[arg(short = 'c', long = "clusterName")]
        cluster_name: String,
    },
    /// Make a broker's queues read-only at every name server.
    #[command(name = "wipeWritePerm")]
    WipeWritePerm {
        /// Broker name.
        #[arg(short = 'b', long = "brokerName")]
        broker_name: String,
    },
    /// Make a broker's queues writable again at every name server.
    #[command(name = "addWritePerm")]
    AddWritePerm {
        /// Broker name.
        #[arg(short = 'b', long = "brokerName")]
        broker_name: String,
    },
    /// Print a topic's route (JSON, or a table with -l).
    #[command(name = "topicRoute")]
    TopicRoute {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Print as a table.
        #[arg(short = 'l', long = "list")]
        list: bool,
    },
    /// Print min/max offsets of every queue of a topic.
    #[command(name = "topicStatus")]
    TopicStatus {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
    },
    /// List every topic known to the name server.
    #[command(name = "topicList")]
    TopicList {
        /// Also print each topic's cluster.
        #[arg(short = 'c', long = "clusterModel")]
        cluster_model: bool,
    },
    /// List brokers with their runtime figures.
    #[command(name = "clusterList")]
    ClusterList {
        /// Print message totals instead of TPS.
        #[arg(short = 'm', long = "moreStats")]
        more_stats: bool,
        /// Repeat every this many seconds (until Ctrl-C).
        #[arg(short = 'i', long = "interval")]
        interval: Option<u64>,
    },
    /// Print a broker's runtime info.
    #[command(name = "brokerStatus", group(ArgGroup::new("target").required(true).args(["broker_addr", "cluster_name"])))]
    BrokerStatus {
        /// Broker address (ip:port).
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: Option<String>,
        /// Every broker of this cluster.
        #[arg(short = 'c', long = "clusterName")]
        cluster_name: Option<String>,
    },
    /// Print a broker's configuration.
    #[command(name = "getBrokerConfig", group(ArgGroup::new("target").required(true).args(["broker_addr", "cluster_name"])))]
    GetBrokerConfig {
        /// Broker address (ip:port).
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: Option<String>,
        /// Every broker of this cluster.
        #[arg(short = 'c', long = "clusterName")]
        cluster_name: Option<String>,
    },
    /// Print a consumer group's offsets and lag per queue.
    #[command(name = "consumerProgress")]
    ConsumerProgress {
        /// Consumer group.
        #[arg(short = 'g', long = "groupName")]
        group_name: String,
        /// Show client IPs (true|false); not shown by this tool.
        #[arg(short = 's', long = "showClientIP", default_value = "false")]
        show_client_ip: String,
    },
    /// Create or update a KV config entry on every name server.
    #[command(name = "updateKvConfig")]
    UpdateKvConfig {
        /// Namespace.
        #[arg(short = 's', long = "namespace")]
        namespace: String,
        /// Key.
        #[arg(short = 'k', long = "key")]
        key: String,
        /// Value.
        #[arg(short = 'v', long = "value")]
        value: String,
    },
    /// Delete a KV config entry from every name server.
    #[command(name = "deleteKvConfig")]
    DeleteKvConfig {
        /// Namespace.
        #[arg(short = 's', long = "namespace")]
        namespace: String,
        /// Key.
        #[arg(short = 'k', long = "key")]
        key: String,
    },
    /// Print every name server's configuration.
    #[command(name = "getNamesrvConfig")]
    GetNamesrvConfig,
    /// Send one message.
    #[command(name = "sendMessage")]
    SendMessage {
        /// Topic.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Message body (UTF-8).
        #[arg(short = 'p', long = "body")]
        body: String,
        /// Message keys.
        #[arg(short = 'k', long = "key")]
        key: Option<String>,
        /// Message tag.
        #[arg(short = 'c', long = "tags")]
        tags: Option<String>,
        /// Send to this broker name.
        #[arg(short = 'b', long = "broker")]
        broker: Option<String>,
        /// Send to this queue id (needs -b).
        #[arg(short = 'i', long = "qid")]
        qid: Option<i32>,
        /// Message trace (true|false); accepted for compatibility, traces are not sent.
        #[arg(short = 'm', long = "msgTraceEnable", default_value = "false")]
        msg_trace_enable: String,
    },
    /// Read messages of a topic without committing offsets.
    #[command(name = "consumeMessage")]
    ConsumeMessage {
        /// Topic.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Only this broker name.
        #[arg(short = 'b', long = "brokerName")]
        broker_name: Option<String>,
        /// Only this queue (needs -b).
        #[arg(short = 'i', long = "queueId")]
        queue_id: Option<i32>,
        /// Start at this queue offset (needs -i).
        #[arg(short = 'o', long = "offset")]
        offset: Option<i64>,
        /// Consumer group.
        #[arg(short = 'g', long = "consumerGroup", default_value = TOOLS_CONSUMER)]
        consumer_group: String,
        /// Begin time: epoch ms or yyyy-MM-dd#HH:mm:ss:SSS (UTC).
        #[arg(short = 's', long = "beginTimestamp")]
        begin_timestamp: Option<String>,
        /// End time: epoch ms or yyyy-MM-dd#HH:mm:ss:SSS (UTC).
        #[arg(short = 'e', long = "endTimestamp")]
        end_timestamp: Option<String>,
        /// At most this many messages.
        #[arg(short = 'c', long = "MessageNumber", default_value_t = 128)]
        message_number: i64,
    },
    /// Print a message by its offset msgId.
    #[command(name = "queryMsgById")]
    QueryMsgById {
        /// Offset msgId(s), comma separated.
        #[arg(short = 'i', long = "msgId")]
        msg_id: String,
    },
    /// Change a topic's permission on one broker (-b) or every master of a cluster (-c).
    #[command(name = "updateTopicPerm")]
    UpdateTopicPerm {
        #[command(flatten)]
        target: TargetArgs,
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// New permission: 2 (W), 4 (R) or 6 (RW).
        #[arg(short = 'p', long = "perm", value_parser = parse_perm)]
        perm: i32,
    },
    /// Print the clusters that hold a topic.
    #[command(name = "topicClusterList")]
    TopicClusterList {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
    },
    /// Create or replace a subscription group on one broker (-b) or every master of a cluster (-c).
    #[command(name = "updateSubGroup")]
    UpdateSubGroup {
        #[command(flatten)]
        target: TargetArgs,
        /// Consumer group name.
        #[arg(short = 'g', long = "groupName")]
        group_name: String,
        /// Consumption allowed (true|false; default true).
        #[arg(short = 's', long = "consumeEnable", value_parser = bool_value)]
        consume_enable: Option<bool>,
        /// May start from the min offset (true|false; default false, as Apache's tool sends).
        #[arg(short = 'm', long = "consumeFromMinEnable", value_parser = bool_value)]
        consume_from_min_enable: Option<bool>,
        /// Broadcast consumption allowed (true|false; default false, as Apache's tool sends).
        #[arg(short = 'd', long = "consumeBroadcastEnable", value_parser = bool_value)]
        consume_broadcast_enable: Option<bool>,
        /// Queues of the group's %RETRY% topic (default 1).
        #[arg(short = 'q', long = "retryQueueNums")]
        retry_queue_nums: Option<i32>,
        /// Reconsume attempts before the dead-letter queue (default 16).
        #[arg(short = 'r', long = "retryMaxTimes")]
        retry_max_times: Option<i32>,
        /// Broker id to consume from (default 0).
        #[arg(short = 'i', long = "brokerId")]
        broker_id: Option<i64>,
        /// Broker id to consume from when consumption is slow (default 1).
        #[arg(short = 'w', long = "whichBrokerWhenConsumeSlowly")]
        which_broker_when_consume_slowly: Option<i64>,
        /// Notify members when the group changes (true|false; default true).
        #[arg(short = 'a', long = "notifyConsumerIdsChanged", value_parser = bool_value)]
        notify_consumer_ids_changed: Option<bool>,
    },
    /// Delete a subscription group from one broker (-b) or every master of a cluster (-c; also
    /// deletes the group's %RETRY% and %DLQ% topics there).
    #[command(name = "deleteSubGroup")]
    DeleteSubGroup {
        #[command(flatten)]
        target: TargetArgs,
        /// Subscription group name.
        #[arg(short = 'g', long = "groupName")]
        group_name: String,
        /// Also remove the group's consumer offsets (`-r` alone means true).
        #[arg(short = 'r', long = "removeOffset", num_args = 0..=1, default_missing_value = "true", value_parser = bool_value)]
        remove_offset: Option<bool>,
    },
    /// Print a consumer group's connections, subscriptions and consume settings.
    #[command(name = "consumerConnection")]
    ConsumerConnection {
        /// Consumer group.
        #[arg(short = 'g', long = "consumerGroup")]
        consumer_group: String,
    },
    /// Print a producer group's connections on the brokers of a topic.
    #[command(name = "producerConnection")]
    ProducerConnection {
        /// Producer group.
        #[arg(short = 'g', long = "producerGroup")]
        producer_group: String,
        /// A topic the group sends to (its brokers are asked).
        #[arg(short = 't', long = "topic")]
        topic: String,
    },
}

/// `-b <brokerAddr>` or `-c <clusterName>`, exactly one.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
struct TargetArgs {
    /// Broker address (ip:port).
    #[arg(short = 'b', long = "brokerAddr")]
    broker_addr: Option<String>,
    /// Every master of this cluster.
    #[arg(short = 'c', long = "clusterName")]
    cluster_name: Option<String>,
}

impl TargetArgs {
    fn target(self) -> Target {
        match self.broker_addr {
            Some(b) => Target::Broker(b),
            // The required group guarantees one of the two.
            None => Target::Cluster(self.cluster_name.unwrap_or_default()),
        }
    }
}

fn broker_selector(addr: Option<String>, cluster: Option<String>) -> BrokerSelector {
    match (addr, cluster) {
        (Some(a), _) => BrokerSelector::Addr(a),
        (None, Some(c)) => BrokerSelector::Cluster(c),
        // clap's required group guarantees one of the two.
        (None, None) => BrokerSelector::Cluster(String::new()),
    }
}

fn time_arg(flag: &str, v: Option<String>) -> Result<Option<i64>, AdminError> {
    v.map(|s| {
        parse_time_arg(&s).ok_or_else(|| {
            AdminError::Invalid(format!(
                "{flag} takes epoch ms or yyyy-MM-dd#HH:mm:ss:SSS, not {s:?}"
            ))
        })
    })
    .transpose()
}

fn flag_bool(flag: &str, v: &str) -> Result<bool, AdminError> {
    parse_bool(flag, v).map_err(AdminError::Invalid)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn run(admin: &Admin, command: Command, out: &mut String) -> Result<(), AdminError> {
    match command {
        Command::UpdateTopic {
            target,
            topic,
            read_queue_nums,
            write_queue_nums,
            perm,
            order,
            unit,
            has_unit_sub,
        } => {
            if flag_bool("-u/--unit", &unit)? || flag_bool("-s/--hasUnitSub", &has_unit_sub)? {
                return Err(AdminError::Invalid(
                    "unit topics are not supported; leave -u and -s false".into(),
                ));
            }
            let u = UpdateTopic {
                target: target.target(),
                topic,
                read_queue_nums,
                write_queue_nums,
                perm,
                order: flag_bool("-o/--order", &order)?,
            };
            rmq_admin::topic::update_topic(admin, &u, out).await
        }
        Command::DeleteTopic { topic, cluster_name } => {
            rmq_admin::topic::delete_topic(admin, &topic, &cluster_name, out).await
        }
        Command::WipeWritePerm { broker_name } => {
            rmq_admin::namesrv::write_perm(admin, WritePerm::Wipe, &broker_name, out).await
        }
        Command::AddWritePerm { broker_name } => {
            rmq_admin::namesrv::write_perm(admin, WritePerm::Add, &broker_name, out).await
        }
        Command::TopicRoute { topic, list } => rmq_admin::topic::topic_route(admin, &topic, list, out).await,
        Command::TopicStatus { topic } => rmq_admin::topic::topic_status(admin, &topic, out).await,
        Command::TopicList { cluster_model } => rmq_admin::topic::topic_list(admin, cluster_model, out).await,
        Command::ClusterList { more_stats, interval } => match interval {
            None => rmq_admin::broker::cluster_list(admin, more_stats, now_ms(), out).await,
            Some(secs) => loop {
                let mut page = String::new();
                rmq_admin::broker::cluster_list(admin, more_stats, now_ms(), &mut page).await?;
                print!("{page}");
                tokio::time::sleep(Duration::from_secs(secs.max(1))).await;
            },
        },
        Command::BrokerStatus {
            broker_addr,
            cluster_name,
        } => rmq_admin::broker::broker_status(admin, &broker_selector(broker_addr, cluster_name), out).await,
        Command::GetBrokerConfig {
            broker_addr,
            cluster_name,
        } => {
            rmq_admin::broker::get_broker_config(admin, &broker_selector(broker_addr, cluster_name), out)
                .await
        }
        Command::ConsumerProgress {
            group_name,
            show_client_ip,
        } => {
            flag_bool("-s/--showClientIP", &show_client_ip)?;
            rmq_admin::consumer::consumer_progress(admin, &group_name, out).await
        }
        Command::UpdateKvConfig {
            namespace,
            key,
            value,
        } => rmq_admin::namesrv::update_kv_config(admin, &namespace, &key, &value, out).await,
        Command::DeleteKvConfig { namespace, key } => {
            rmq_admin::namesrv::delete_kv_config(admin, &namespace, &key, out).await
        }
        Command::GetNamesrvConfig => rmq_admin::namesrv::get_namesrv_config(admin, out).await,
        Command::SendMessage {
            topic,
            body,
            key,
            tags,
            broker,
            qid,
            msg_trace_enable,
        } => {
            flag_bool("-m/--msgTraceEnable", &msg_trace_enable)?;
            let m = SendMessage {
                topic,
                body,
                keys: key,
                tags,
                broker_name: broker,
                queue_id: qid,
            };
            rmq_admin::message::send_message(admin, &m, out).await
        }
        Command::ConsumeMessage {
            topic,
            broker_name,
            queue_id,
            offset,
            consumer_group,
            begin_timestamp,
            end_timestamp,
            message_number,
        } => {
            let c = ConsumeMessage {
                topic,
                broker_name,
                queue_id,
                offset,
                group: consumer_group,
                begin_ms: time_arg("-s/--beginTimestamp", begin_timestamp)?,
                end_ms: time_arg("-e/--endTimestamp", end_timestamp)?,
                count: message_number,
            };
            rmq_admin::consume::consume_message(admin, &c, out).await
        }
        Command::QueryMsgById { msg_id } => rmq_admin::message::query_msg_by_id(admin, &msg_id, out).await,
        Command::UpdateTopicPerm { target, topic, perm } => {
            rmq_admin::topic_perm::update_topic_perm(admin, &target.target(), topic.trim(), perm, out).await
        }
        Command::TopicClusterList { topic } => {
            rmq_admin::topic::topic_cluster_list(admin, topic.trim(), out).await
        }
        Command::UpdateSubGroup {
            target,
            group_name,
            consume_enable,
            consume_from_min_enable,
            consume_broadcast_enable,
            retry_queue_nums,
            retry_max_times,
            broker_id,
            which_broker_when_consume_slowly,
            notify_consumer_ids_changed,
        } => {
            let u = UpdateSubGroup {
                target: target.target(),
                group: group_name,
                consume_enable,
                consume_from_min_enable,
                consume_broadcast_enable,
                retry_queue_nums,
                retry_max_times,
                broker_id,
                which_broker_when_consume_slowly,
                notify_consumer_ids_changed,
            };
            rmq_admin::group::update_sub_group(admin, &u, out).await
        }
        Command::DeleteSubGroup {
            target,
            group_name,
            remove_offset,
        } => {
            let t = target.target();
            let remove = remove_offset.unwrap_or(false);
            rmq_admin::group::delete_sub_group(admin, &t, &group_name, remove, out).await
        }
        Command::ConsumerConnection { consumer_group } => {
            rmq_admin::connection::consumer_connection(admin, &consumer_group, out).await
        }
        Command::ProducerConnection {
            producer_group,
            topic,
        } => rmq_admin::connection::producer_connection(admin, &producer_group, topic.trim(), out).await,
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
        let admin = Admin::new(ns)?.with_timeout(Duration::from_millis(cli.timeout_millis.max(1)));
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
