//! [`TransactionProducer`]: transactional messages (features.md §1.2, §1.8).
//!
//! `send_in_transaction` sends the message as a half message (`TRAN_MSG=true`, `PGROUP`, the
//! prepared sysFlag bit; any `DELAY` dropped) with the normal sync send and its retries. On
//! SEND_OK it runs the local transaction; a stored-but-not-OK status (flush or slave timeout)
//! rolls back without running it. Then END_TRANSACTION goes one-way to the master that took the
//! half message: commit (8), rollback (12) or unknown (0, the broker will check back).
//!
//! A broker's CHECK_TRANSACTION_STATE reaches [`TransactionListener::check_local_transaction`]
//! on a blocking thread (at most [`CHECK_REQUEST_HOLD_MAX`] checks waiting; more are dropped
//! with a log line, the broker asks again next round), and the answer goes back one-way to the
//! broker that asked, with `fromTransactionCheck=true` and the check's offsets.
//!
//! The broker can only check back with a producer that has sent it a heartbeat. Java waits for
//! its 30 s heartbeat; this producer also sends one right after the first half message to each
//! broker, so a check can reach it from the first round on.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use rmq_remoting::headers::transaction::{CheckTransactionStateRequestHeader, EndTransactionRequestHeader};
use rmq_remoting::message::id::decode_offset_msg_id;
use rmq_remoting::message::properties::keys;
use rmq_remoting::message::sys_flag;
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::error::{ClientError, Result};
use crate::members::TransactionMember;
use crate::message::{Message, MessageExt};
use crate::producer::{Producer, ProducerConfig, SendResult, SendStatus};

/// Checks waiting to be answered at once (Java's `checkRequestHoldMax`).
pub const CHECK_REQUEST_HOLD_MAX: usize = 2000;

/// What the application says about its local transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTransactionState {
    /// Deliver the message.
    Commit,
    /// Drop the message.
    Rollback,
    /// Not known yet (Java's `UNKNOW`): the broker checks back later.
    Unknown,
}

impl LocalTransactionState {
    /// The `commitOrRollback` value of END_TRANSACTION.
    pub fn code(self) -> i32 {
        match self {
            LocalTransactionState::Commit => sys_flag::TRANSACTION_COMMIT,
            LocalTransactionState::Rollback => sys_flag::TRANSACTION_ROLLBACK,
            LocalTransactionState::Unknown => sys_flag::TRANSACTION_NOT_TYPE,
        }
    }
}

/// The application's side of a transaction.
pub trait TransactionListener: Send + Sync + 'static {
    /// Runs the local transaction once the half message is stored (on the sending task: keep it
    /// short or make the send from a task that may block).
    fn execute_local_transaction(&self, msg: &Message, sent: &SendResult) -> LocalTransactionState;

    /// Answers a broker's check about a half message left open (on a blocking thread).
    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState;
}

/// The outcome of [`TransactionProducer::send_in_transaction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSendResult {
    /// The half message's send result (`queue_offset` is its half-queue offset).
    pub send: SendResult,
    /// What END_TRANSACTION told the broker.
    pub local_state: LocalTransactionState,
}

/// A producer of transactional messages.
#[derive(Clone)]
pub struct TransactionProducer {
    producer: Producer,
    shared: Arc<Shared>,
}

struct Shared {
    group: String,
    listener: Arc<dyn TransactionListener>,
    remoting: RemotingClient,
    checks: TaskTracker,
    check_permits: Arc<Semaphore>,
    // Broker addresses this producer has sent a heartbeat to after a half message.
    heartbeated: Mutex<HashSet<String>>,
}

impl TransactionProducer {
    /// Starts a producer whose group answers checks with `listener`.
    pub async fn start(config: ProducerConfig, listener: Arc<dyn TransactionListener>) -> Result<Self> {
        let group = config.group.clone();
        let producer = Producer::start(config).await?;
        let shared = Arc::new(Shared {
            group: group.clone(),
            listener,
            remoting: producer.instance().remoting().clone(),
            checks: TaskTracker::new(),
            check_permits: Arc::new(Semaphore::new(CHECK_REQUEST_HOLD_MAX)),
            heartbeated: Mutex::new(HashSet::new()),
        });
        producer.instance().register_checker(&group, shared.clone());
        Ok(TransactionProducer { producer, shared })
    }

    /// The plain producer underneath (routes, client id, ordinary sends).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Sends `msg` as a half message, runs the local transaction and ends it.
    pub async fn send_in_transaction(&self, mut msg: Message) -> Result<TransactionSendResult> {
        msg.properties.remove(keys::DELAY);
        msg.properties
            .insert(keys::TRAN_MSG.to_string(), "true".to_string());
        msg.properties
            .insert(keys::PGROUP.to_string(), self.shared.group.clone());
        let sent = self.producer.send(msg.clone()).await?;
        let instance = self.producer.instance();
        let addr = instance
            .master_addr(&sent.queue.broker_name)
            .ok_or_else(|| ClientError::BrokerNotFound(sent.queue.broker_name.clone()))?;
        let first = self
            .shared
            .heartbeated
            .lock()
            .expect("heartbeated lock")
            .insert(addr.clone());
        if first {
            instance.send_heartbeat_to_all().await;
        }
        msg.properties
            .insert(keys::UNIQ_KEY.to_string(), sent.msg_id.clone());
        let local_state = if sent.status == SendStatus::SendOk {
            self.shared.listener.execute_local_transaction(&msg, &sent)
        } else {
            debug!(status = ?sent.status, "half message not stored OK; rolling back");
            LocalTransactionState::Rollback
        };
        let header = EndTransactionRequestHeader {
            producer_group: self.shared.group.clone(),
            tran_state_table_offset: sent.queue_offset,
            commit_log_offset: decode_offset_msg_id(&sent.offset_msg_id).map_or(-1, |(_, o)| o),
            commit_or_rollback: local_state.code(),
            from_transaction_check: Some(false),
            msg_id: sent.msg_id.clone(),
            transaction_id: None,
            bname: Some(sent.queue.broker_name.clone()),
        };
        let request = RemotingCommand::request_with(RequestCode::END_TRANSACTION, &header);
        if let Err(e) = self.shared.remoting.invoke_oneway(&addr, request).await {
            // As Java: the transaction stays open on the broker, which checks back later.
            warn!(broker = %addr, error = %e, msg_id = %sent.msg_id, "END_TRANSACTION not sent; the broker will check back");
        }
        Ok(TransactionSendResult {
            send: sent,
            local_state,
        })
    }

    /// Stops answering checks, waits for running ones, and shuts the producer down.
    pub async fn shutdown(&self) {
        self.producer.instance().unregister_checker(&self.shared.group);
        self.shared.checks.close();
        self.shared.checks.wait().await;
        self.producer.shutdown().await;
    }
}

impl TransactionMember for Shared {
    fn on_check(&self, broker_addr: &str, header: CheckTransactionStateRequestHeader, msg: MessageExt) {
        let Ok(permit) = self.check_permits.clone().try_acquire_owned() else {
            warn!(
                broker = broker_addr,
                "too many transaction checks waiting; this one is dropped"
            );
            return;
        };
        let listener = self.listener.clone();
        let remoting = self.remoting.clone();
        let group = self.group.clone();
        let addr = broker_addr.to_string();
        self.checks.spawn(async move {
            let uniq = msg.msg_id().to_string();
            let state =
                match tokio::task::spawn_blocking(move || listener.check_local_transaction(&msg)).await {
                    Ok(s) => s,
                    Err(e) => {
                        warn!(error = %e, "transaction check callback failed; answering unknown");
                        LocalTransactionState::Unknown
                    }
                };
            let end = EndTransactionRequestHeader {
                producer_group: group,
                tran_state_table_offset: header.tran_state_table_offset,
                commit_log_offset: header.commit_log_offset,
                commit_or_rollback: state.code(),
                from_transaction_check: Some(true),
                msg_id: uniq,
                transaction_id: header.transaction_id,
                bname: header.bname,
            };
            let request = RemotingCommand::request_with(RequestCode::END_TRANSACTION, &end);
            if let Err(e) = remoting.invoke_oneway(&addr, request).await {
                warn!(broker = %addr, error = %e, "could not answer a transaction check");
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_to_the_sys_flag_values() {
        assert_eq!(LocalTransactionState::Commit.code(), 8);
        assert_eq!(LocalTransactionState::Rollback.code(), 12);
        assert_eq!(LocalTransactionState::Unknown.code(), 0);
    }
}
