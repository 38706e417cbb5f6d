//! [`Replication`]: the replication side a running broker keeps (a master's [`HaService`] or a
//! slave's [`HaClient`]), for GET_BROKER_RUNTIME_INFO. Starting it is [`super::replication`]'s.

use super::{HaClient, HaService};

/// The replication side a broker runs.
#[derive(Clone)]
pub enum Replication {
    /// A master's service (ASYNC_MASTER or SYNC_MASTER).
    Master(HaService),
    /// A slave's client.
    Slave(HaClient),
}

impl Replication {
    /// Replication keys for GET_BROKER_RUNTIME_INFO (see [`HaService::runtime_info`] and
    /// [`HaClient::runtime_info`]).
    pub fn runtime_info(&self) -> Vec<(String, String)> {
        match self {
            Replication::Master(s) => s.runtime_info(),
            Replication::Slave(c) => c.runtime_info(),
        }
    }
}
