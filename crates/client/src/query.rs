//! Queries by key and by unique key across a topic's broker groups (Apache's
//! `MQAdminImpl.queryMessage` / `viewMessage`): QUERY_MESSAGE (12) to the master of every group
//! (a slave when the master is gone), at once, then the records kept that really carry the key
//! (brokers match key hashes only).
//!
//! ```no_run
//! # async fn demo() -> rmq_client::Result<()> {
//! let query = rmq_client::MessageQuery::start(rmq_client::ClientConfig::new("127.0.0.1:9876"))?;
//! let found = query.by_key("TopicTest", "order-42", 64, 0, i64::MAX).await?;
//! for m in &found.messages {
//!     println!("{} queue {} offset {}", m.msg_id(), m.queue_id, m.queue_offset);
//! }
//! query.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use futures::future::join_all;
use rmq_remoting::headers::query::QueryMessageRequestHeader;
use rmq_remoting::message::key_query::{self, keep_for_key, keep_for_unique_key};
use rmq_remoting::message::MessageRecord;
use rmq_remoting::{RemotingCommand, ResponseCode};
use tracing::warn;

use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::message::MessageExt;

/// What a key query found.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The newest index update among the brokers asked (ms).
    pub index_last_update_timestamp: i64,
    /// The messages, in broker order and commit-log order within a broker.
    pub messages: Vec<MessageExt>,
}

/// Runs queries with its own client instance, or one shared with a producer or consumer.
#[derive(Clone)]
pub struct MessageQuery {
    instance: Arc<ClientInstance>,
    owned: bool,
}

impl std::fmt::Debug for MessageQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageQuery")
            .field("client_id", &self.instance.client_id())
            .finish()
    }
}

impl MessageQuery {
    /// Starts a client instance of its own (stopped by [`Self::shutdown`]).
    pub fn start(config: ClientConfig) -> Result<Self> {
        Ok(MessageQuery {
            instance: ClientInstance::start(config)?,
            owned: true,
        })
    }

    /// Queries through an existing instance (for example [`crate::Producer::instance`]).
    pub fn with_instance(instance: Arc<ClientInstance>) -> Self {
        MessageQuery {
            instance,
            owned: false,
        }
    }

    /// Messages of `topic` whose KEYS contain `key`, stored within `[begin, end]` (ms), at most
    /// `max_num` per broker group (brokers cap it at `maxMsgsNumBatch`, 64). None found is
    /// [`ClientError::NotFound`].
    pub async fn by_key(
        &self,
        topic: &str,
        key: &str,
        max_num: i32,
        begin: i64,
        end: i64,
    ) -> Result<QueryResult> {
        let (ts, records) = self.query(topic, key, max_num, begin, end, false).await?;
        let messages = records
            .into_iter()
            .filter(|(r, _)| keep_for_key(r, topic, key))
            .map(|(r, broker)| MessageExt::from_record(r, &broker))
            .collect::<Result<Vec<_>>>()?;
        if messages.is_empty() {
            return Err(not_found());
        }
        Ok(QueryResult {
            index_last_update_timestamp: ts,
            messages,
        })
    }

    /// The message of `topic` whose client message id (UNIQ_KEY) is `uniq_key`; when a retried
    /// send stored it twice, the copy stored first.
    pub async fn by_unique_key(&self, topic: &str, uniq_key: &str) -> Result<MessageExt> {
        let (_, records) = self.query(topic, uniq_key, 32, 0, i64::MAX, true).await?;
        let (record, broker) = records
            .into_iter()
            .filter(|(r, _)| keep_for_unique_key(r, uniq_key))
            .min_by_key(|(r, _)| r.store_timestamp)
            .ok_or_else(not_found)?;
        MessageExt::from_record(record, &broker)
    }

    /// QUERY_MESSAGE at every broker group of the topic's route, at once; each record comes
    /// with its broker name.
    async fn query(
        &self,
        topic: &str,
        key: &str,
        max_num: i32,
        begin: i64,
        end: i64,
        unique: bool,
    ) -> Result<(i64, Vec<(MessageRecord, String)>)> {
        let route = self
            .instance
            .update_route(topic)
            .await?
            .ok_or_else(|| ClientError::NoRoute(topic.to_string()))?;
        let header = QueryMessageRequestHeader {
            topic: topic.to_string(),
            key: key.to_string(),
            max_num,
            begin_timestamp: begin,
            end_timestamp: end,
            unique_key_query: Some(unique),
        };
        // Apache allows three times the usual timeout: a query may read many records.
        let timeout = self.instance.config().request_timeout * 3;
        let calls = route.broker_datas.iter().filter_map(|bd| {
            let addr = key_query::query_addr(bd)?.to_string();
            let request = RemotingCommand::request_with(rmq_remoting::RequestCode::QUERY_MESSAGE, &header);
            let remoting = self.instance.remoting();
            Some(async move {
                let answer = remoting.invoke(&addr, request, timeout).await;
                (bd.broker_name.clone(), addr, answer)
            })
        });
        let mut newest = 0;
        let mut records = Vec::new();
        let mut last_err = None;
        for (broker, addr, answer) in join_all(calls).await {
            let response = match answer {
                Ok(r) => r,
                Err(e) => {
                    warn!(broker = %addr, error = %e, "QUERY_MESSAGE failed");
                    last_err = Some(ClientError::Net(e));
                    continue;
                }
            };
            if let Some(ts) = response
                .ext("indexLastUpdateTimestamp")
                .and_then(|v| v.parse::<i64>().ok())
            {
                newest = newest.max(ts);
            }
            if response.code == ResponseCode::QUERY_NOT_FOUND.code() {
                continue;
            }
            if !response.is_success() {
                last_err = Some(ClientError::broker(&addr, &response));
                continue;
            }
            let found = MessageRecord::decode_all(&response.body)
                .map_err(|e| ClientError::BadBody(format!("QUERY_MESSAGE body from {addr}: {e}")))?;
            records.extend(found.into_iter().map(|r| (r, broker.clone())));
        }
        if records.is_empty() {
            if let Some(e) = last_err {
                return Err(e);
            }
        }
        Ok((newest, records))
    }

    /// Stops the instance if this query started it.
    pub async fn shutdown(&self) {
        if self.owned {
            self.instance.shutdown().await;
        }
    }
}

fn not_found() -> ClientError {
    ClientError::NotFound("query message by key finished, but no message.".into())
}
