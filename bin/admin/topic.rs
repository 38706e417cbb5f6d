//! `mqadmin` topic commands: updateTopic, deleteTopic, topicRoute, topicStatus, topicList,
//! updateTopicPerm and topicClusterList.
//!
//! The flag structs carry no doc comments: clap would read them as the command's help, which
//! the `Command` variant in `mqadmin.rs` holds (with the command's name), so `mqadmin -h` lists
//! every command in one place.

use rmq_admin::topic::UpdateTopic;
use rmq_admin::topic_perm::parse_perm;
use rmq_admin::{Admin, AdminError};

use super::args::{flag_bool, TargetArgs};

// The flags of `updateTopic`.
#[derive(clap::Args, Debug)]
pub struct UpdateTopicArgs {
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
}

impl UpdateTopicArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            target,
            topic,
            read_queue_nums,
            write_queue_nums,
            perm,
            order,
            unit,
            has_unit_sub,
        } = self;
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
}

// The flags of `deleteTopic`.
#[derive(clap::Args, Debug)]
pub struct DeleteTopicArgs {
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Cluster to delete it from.
    #[arg(short = 'c', long = "clusterName")]
    cluster_name: String,
}

impl DeleteTopicArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { topic, cluster_name } = self;
        rmq_admin::topic::delete_topic(admin, &topic, &cluster_name, out).await
    }
}

// The flags of `topicRoute`.
#[derive(clap::Args, Debug)]
pub struct TopicRouteArgs {
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Print as a table.
    #[arg(short = 'l', long = "list")]
    list: bool,
}

impl TopicRouteArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { topic, list } = self;
        rmq_admin::topic::topic_route(admin, &topic, list, out).await
    }
}

// The flags of `topicStatus`.
#[derive(clap::Args, Debug)]
pub struct TopicStatusArgs {
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    topic: String,
}

impl TopicStatusArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { topic } = self;
        rmq_admin::topic::topic_status(admin, &topic, out).await
    }
}

// The flags of `topicList`.
#[derive(clap::Args, Debug)]
pub struct TopicListArgs {
    /// Also print each topic's cluster.
    #[arg(short = 'c', long = "clusterModel")]
    cluster_model: bool,
}

impl TopicListArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { cluster_model } = self;
        rmq_admin::topic::topic_list(admin, cluster_model, out).await
    }
}

// The flags of `updateTopicPerm`.
#[derive(clap::Args, Debug)]
pub struct UpdateTopicPermArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// New permission: 2 (W), 4 (R) or 6 (RW).
    #[arg(short = 'p', long = "perm", value_parser = parse_perm)]
    perm: i32,
}

impl UpdateTopicPermArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { target, topic, perm } = self;
        rmq_admin::topic_perm::update_topic_perm(admin, &target.target(), topic.trim(), perm, out).await
    }
}

// The flags of `topicClusterList`.
#[derive(clap::Args, Debug)]
pub struct TopicClusterListArgs {
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    topic: String,
}

impl TopicClusterListArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { topic } = self;
        rmq_admin::topic::topic_cluster_list(admin, topic.trim(), out).await
    }
}
