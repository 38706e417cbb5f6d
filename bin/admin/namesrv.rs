//! `mqadmin` name server commands: wipeWritePerm, addWritePerm, updateKvConfig and
//! deleteKvConfig (getNamesrvConfig takes no flags and is run by `mqadmin.rs` itself).
//!
//! The flag structs carry no doc comments: clap would read them as the command's help, which
//! the `Command` variant in `mqadmin.rs` holds (with the command's name), so `mqadmin -h` lists
//! every command in one place.

use rmq_admin::namesrv::WritePerm;
use rmq_admin::{Admin, AdminError};

// The flags of `wipeWritePerm`.
#[derive(clap::Args, Debug)]
pub struct WipeWritePermArgs {
    /// Broker name.
    #[arg(short = 'b', long = "brokerName")]
    broker_name: String,
}

impl WipeWritePermArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { broker_name } = self;
        rmq_admin::namesrv::write_perm(admin, WritePerm::Wipe, &broker_name, out).await
    }
}

// The flags of `addWritePerm`.
#[derive(clap::Args, Debug)]
pub struct AddWritePermArgs {
    /// Broker name.
    #[arg(short = 'b', long = "brokerName")]
    broker_name: String,
}

impl AddWritePermArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { broker_name } = self;
        rmq_admin::namesrv::write_perm(admin, WritePerm::Add, &broker_name, out).await
    }
}

// The flags of `updateKvConfig`.
#[derive(clap::Args, Debug)]
pub struct UpdateKvConfigArgs {
    /// Namespace.
    #[arg(short = 's', long = "namespace")]
    namespace: String,
    /// Key.
    #[arg(short = 'k', long = "key")]
    key: String,
    /// Value.
    #[arg(short = 'v', long = "value")]
    value: String,
}

impl UpdateKvConfigArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            namespace,
            key,
            value,
        } = self;
        rmq_admin::namesrv::update_kv_config(admin, &namespace, &key, &value, out).await
    }
}

// The flags of `deleteKvConfig`.
#[derive(clap::Args, Debug)]
pub struct DeleteKvConfigArgs {
    /// Namespace.
    #[arg(short = 's', long = "namespace")]
    namespace: String,
    /// Key.
    #[arg(short = 'k', long = "key")]
    key: String,
}

impl DeleteKvConfigArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self { namespace, key } = self;
        rmq_admin::namesrv::delete_kv_config(admin, &namespace, &key, out).await
    }
}
