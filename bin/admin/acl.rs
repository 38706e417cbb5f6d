//! `mqadmin` plain-ACL commands: updateAclConfig, deleteAclConfig, updateGlobalWhiteAddr,
//! clusterAclConfigVersion and getAclConfig.
//!
//! The flag structs carry no doc comments: clap would read them as the command's help, which
//! the `Command` variant in `mqadmin.rs` holds (with the command's name), so `mqadmin -h` lists
//! every command in one place.

use rmq_admin::acl::UpdateAcl;
use rmq_admin::{Admin, AdminError};

use super::args::{flag_bool, TargetArgs};

// The flags of `updateAclConfig`.
#[derive(clap::Args, Debug)]
pub struct UpdateAclConfigArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Access key (more than 6 characters).
    #[arg(short = 'a', long = "accessKey")]
    access_key: String,
    /// Secret key (more than 6 characters).
    #[arg(short = 's', long = "secretKey")]
    secret_key: String,
    /// Address pattern whose peers need no signature (e.g. 192.168.1.*).
    #[arg(short = 'w', long = "whiteRemoteAddress")]
    white_remote_address: Option<String>,
    /// Default topic permission: DENY, PUB, SUB or PUB|SUB.
    #[arg(short = 'i', long = "defaultTopicPerm")]
    default_topic_perm: Option<String>,
    /// Default group permission: DENY, PUB, SUB or PUB|SUB.
    #[arg(short = 'u', long = "defaultGroupPerm")]
    default_group_perm: Option<String>,
    /// Topic permissions, e.g. 'topicA=PUB,topicB=SUB'.
    #[arg(short = 't', long = "topicPerms")]
    topic_perms: Option<String>,
    /// Group permissions, e.g. 'groupA=SUB,groupB=DENY'.
    #[arg(short = 'g', long = "groupPerms")]
    group_perms: Option<String>,
    /// Admin account (true|false): may use the admin request codes.
    #[arg(short = 'm', long = "admin", default_value = "false")]
    admin: String,
}

impl UpdateAclConfigArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            target,
            access_key,
            secret_key,
            white_remote_address,
            default_topic_perm,
            default_group_perm,
            topic_perms,
            group_perms,
            admin: is_admin,
        } = self;
        let u = UpdateAcl {
            access_key,
            secret_key,
            white_remote_address,
            default_topic_perm,
            default_group_perm,
            topic_perms,
            group_perms,
            admin: flag_bool("-m/--admin", &is_admin)?,
        };
        rmq_admin::acl::update_acl_config(admin, &target.acl_target(), &u, out).await
    }
}

// The flags of `deleteAclConfig`.
#[derive(clap::Args, Debug)]
pub struct DeleteAclConfigArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Access key of the account.
    #[arg(short = 'a', long = "accessKey")]
    access_key: String,
}

impl DeleteAclConfigArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { target, access_key } = self;
        rmq_admin::acl::delete_acl_config(admin, &target.acl_target(), &access_key, out).await
    }
}

// The flags of `updateGlobalWhiteAddr`.
#[derive(clap::Args, Debug)]
pub struct UpdateGlobalWhiteAddrArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Comma-separated address patterns, e.g. '10.10.103.*,192.168.0.*'.
    #[arg(short = 'g', long = "globalWhiteRemoteAddresses")]
    addresses: String,
    /// ACL file to change (default: the broker's plain_acl.yml).
    #[arg(short = 'p', long = "aclFilePath")]
    acl_file: Option<String>,
}

impl UpdateGlobalWhiteAddrArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            target,
            addresses,
            acl_file,
        } = self;
        rmq_admin::acl::update_global_white_addr(
            admin,
            &target.acl_target(),
            &addresses,
            acl_file.as_deref(),
            out,
        )
        .await
    }
}

// The flags of `clusterAclConfigVersion`.
#[derive(clap::Args, Debug)]
pub struct ClusterAclConfigVersionArgs {
    #[command(flatten)]
    target: TargetArgs,
}

impl ClusterAclConfigVersionArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { target } = self;
        rmq_admin::acl::cluster_acl_config_version(admin, &target.acl_target(), out).await
    }
}

// The flags of `getAclConfig`.
#[derive(clap::Args, Debug)]
pub struct GetAclConfigArgs {
    #[command(flatten)]
    target: TargetArgs,
}

impl GetAclConfigArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { target } = self;
        rmq_admin::acl::get_acl_config(admin, &target.acl_target(), out).await
    }
}
