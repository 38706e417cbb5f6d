//! `mqadmin` group commands: consumerProgress, resetOffsetByTime, updateSubGroup,
//! deleteSubGroup, consumerConnection and producerConnection.
//!
//! The flag structs carry no doc comments: clap would read them as the command's help, which
//! the `Command` variant in `mqadmin.rs` holds (with the command's name), so `mqadmin -h` lists
//! every command in one place.

use rmq_admin::format::bool_value;
use rmq_admin::group::UpdateSubGroup;
use rmq_admin::{Admin, AdminError};

use super::args::{flag_bool, now_ms, TargetArgs};

// The flags of `consumerProgress`.
#[derive(clap::Args, Debug)]
pub struct ConsumerProgressArgs {
    /// Consumer group.
    #[arg(short = 'g', long = "groupName")]
    group_name: String,
    /// Show client IPs (true|false); not shown by this tool.
    #[arg(short = 's', long = "showClientIP", default_value = "false")]
    show_client_ip: String,
}

impl ConsumerProgressArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            group_name,
            show_client_ip,
        } = self;
        flag_bool("-s/--showClientIP", &show_client_ip)?;
        rmq_admin::consumer::consumer_progress(admin, &group_name, out).await
    }
}

// The flags of `resetOffsetByTime`.
#[derive(clap::Args, Debug)]
pub struct ResetOffsetByTimeArgs {
    /// Consumer group.
    #[arg(short = 'g', long = "group")]
    group: String,
    /// Topic.
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// The time: now, epoch milliseconds, or yyyy-MM-dd#HH:mm:ss:SSS (UTC).
    #[arg(short = 's', long = "timestamp")]
    timestamp: String,
    /// Also move offsets forward (true|false); false only moves them back.
    #[arg(short = 'f', long = "force", default_value = "true")]
    force: String,
    /// Ask the brokers to push the reset in the form C++ clients read.
    #[arg(short = 'c', long = "cplus")]
    cplus: bool,
}

impl ResetOffsetByTimeArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            group,
            topic,
            timestamp,
            force,
            cplus,
        } = self;
        let force = flag_bool("-f/--force", &force)?;
        let text = timestamp.trim();
        let ts = if text == "now" {
            now_ms()
        } else {
            rmq_admin::format::parse_time_arg(text).ok_or_else(|| {
                AdminError::Invalid(format!(
                    "-s/--timestamp {text:?} is not a time; give now, epoch milliseconds or \
                         yyyy-MM-dd#HH:mm:ss:SSS"
                ))
            })?
        };
        let outcome =
            rmq_admin::reset::reset_offset_by_timestamp(admin, group.trim(), topic.trim(), ts, force, cplus)
                .await?;
        rmq_admin::reset::write_reset(out, group.trim(), topic.trim(), force, text, ts, &outcome);
        Ok(())
    }
}

// The flags of `updateSubGroup`.
#[derive(clap::Args, Debug)]
pub struct UpdateSubGroupArgs {
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
}

impl UpdateSubGroupArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
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
        } = self;
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
}

// The flags of `deleteSubGroup`.
#[derive(clap::Args, Debug)]
pub struct DeleteSubGroupArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Subscription group name.
    #[arg(short = 'g', long = "groupName")]
    group_name: String,
    /// Also remove the group's consumer offsets (`-r` alone means true).
    #[arg(short = 'r', long = "removeOffset", num_args = 0..=1, default_missing_value = "true", value_parser = bool_value)]
    remove_offset: Option<bool>,
}

impl DeleteSubGroupArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            target,
            group_name,
            remove_offset,
        } = self;
        let t = target.target();
        let remove = remove_offset.unwrap_or(false);
        rmq_admin::group::delete_sub_group(admin, &t, &group_name, remove, out).await
    }
}

// The flags of `consumerConnection`.
#[derive(clap::Args, Debug)]
pub struct ConsumerConnectionArgs {
    /// Consumer group.
    #[arg(short = 'g', long = "consumerGroup")]
    consumer_group: String,
}

impl ConsumerConnectionArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { consumer_group } = self;
        rmq_admin::connection::consumer_connection(admin, &consumer_group, out).await
    }
}

// The flags of `producerConnection`.
#[derive(clap::Args, Debug)]
pub struct ProducerConnectionArgs {
    /// Producer group.
    #[arg(short = 'g', long = "producerGroup")]
    producer_group: String,
    /// A topic the group sends to (its brokers are asked).
    #[arg(short = 't', long = "topic")]
    topic: String,
}

impl ProducerConnectionArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            producer_group,
            topic,
        } = self;
        rmq_admin::connection::producer_connection(admin, &producer_group, topic.trim(), out).await
    }
}
