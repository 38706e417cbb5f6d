//! Client requests: HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP, LOCK_BATCH_MQ,
//! UNLOCK_BATCH_MQ, CHECK_CLIENT_CONFIG, and the NOTIFY_CONSUMER_IDS_CHANGED pushes a
//! membership change triggers.

use std::sync::Arc;

use rmq_remoting::body::{
    CheckClientRequestBody, ConsumerIdList, HeartbeatData, JsonBody, LockBatchRequestBody,
    LockBatchResponseBody, MessageQueue, UnlockBatchRequestBody,
};
use rmq_remoting::headers::client::{
    GetConsumerListByGroupRequestHeader, NotifyConsumerIdsChangedRequestHeader, UnregisterClientRequestHeader,
};
use rmq_remoting::net::{Connection, HandlerError};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use crate::clients::{ClientChannel, ConsumerDeclaration, Notification, SubFilter, Subscription};
use crate::locks::QueueKey;
use crate::state::{now_ms, BrokerState};
use crate::tables::persist_topics;
use crate::topics::{perm, RETRY_PREFIX};

/// Sends NOTIFY_CONSUMER_IDS_CHANGED (one-way) to each channel of a group whose config allows it.
pub fn notify(state: &BrokerState, note: Notification) {
    let (group, conns) = note;
    if state
        .groups
        .get(&group)
        .is_some_and(|g| !g.notify_consumer_ids_changed_enable)
    {
        return;
    }
    let header = NotifyConsumerIdsChangedRequestHeader {
        consumer_group: group,
    };
    for conn in conns {
        let request = RemotingCommand::request_with(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED, &header);
        if !conn.send_oneway(request) {
            tracing::debug!(peer = %conn.peer(), "could not notify consumer of a membership change");
        }
    }
}

fn bad_body(req: &RemotingCommand, what: &str, e: impl std::fmt::Display) -> RemotingCommand {
    tracing::warn!(body = %String::from_utf8_lossy(&req.body), error = %e, "malformed {what} body");
    req.reply(
        ResponseCode::SYSTEM_ERROR,
        Some(format!("the {what} body is malformed: {e}")),
    )
}

/// Handles the client family.
pub async fn handle(
    state: &Arc<BrokerState>,
    conn: &Connection,
    code: RequestCode,
    req: RemotingCommand,
) -> Result<RemotingCommand, HandlerError> {
    Ok(match code {
        RequestCode::HEART_BEAT => heartbeat(state, conn, &req).await,
        RequestCode::UNREGISTER_CLIENT => {
            let h: UnregisterClientRequestHeader = req.decode_header()?;
            if let Some(group) = h.producer_group.as_deref().filter(|g| !g.is_empty()) {
                state.clients.unregister_producer(group, conn.id());
            }
            if let Some(group) = h.consumer_group.as_deref().filter(|g| !g.is_empty()) {
                if let Some(note) = state.clients.unregister_consumer(group, conn.id()) {
                    notify(state, note);
                }
            }
            req.reply(ResponseCode::SUCCESS, None)
        }
        RequestCode::GET_CONSUMER_LIST_BY_GROUP => {
            let h: GetConsumerListByGroupRequestHeader = req.decode_header()?;
            let ids = state.clients.consumer_ids(&h.consumer_group);
            if ids.is_empty() {
                req.reply(
                    ResponseCode::SYSTEM_ERROR,
                    Some(format!("no consumer for this group, {}", h.consumer_group)),
                )
            } else {
                req.reply(ResponseCode::SUCCESS, None).with_body(
                    ConsumerIdList {
                        consumer_id_list: ids,
                    }
                    .encode(),
                )
            }
        }
        RequestCode::LOCK_BATCH_MQ => match LockBatchRequestBody::decode(&req.body) {
            Err(e) => bad_body(&req, "LOCK_BATCH_MQ", e),
            Ok(body) => {
                let keys: Vec<QueueKey> = body.mq_set.iter().map(key).collect();
                let granted = state
                    .locks
                    .lock(&body.consumer_group, &body.client_id, &keys, now_ms());
                let lock_ok_mq_set = granted
                    .into_iter()
                    .map(|k| MessageQueue::new(k.topic, k.broker_name, k.queue_id))
                    .collect();
                req.reply(ResponseCode::SUCCESS, None)
                    .with_body(LockBatchResponseBody { lock_ok_mq_set }.encode())
            }
        },
        RequestCode::UNLOCK_BATCH_MQ => match UnlockBatchRequestBody::decode(&req.body) {
            Err(e) => bad_body(&req, "UNLOCK_BATCH_MQ", e),
            Ok(body) => {
                let keys: Vec<QueueKey> = body.mq_set.iter().map(key).collect();
                state.locks.unlock(&body.consumer_group, &body.client_id, &keys);
                req.reply(ResponseCode::SUCCESS, None)
            }
        },
        RequestCode::CHECK_CLIENT_CONFIG => check_client_config(state, &req),
        other => return Err(HandlerError::NotSupported(other.code())),
    })
}

/// CHECK_CLIENT_CONFIG (`checkClientConfig`): TAG is always fine; a property filter needs
/// `enablePropertyFilter` (else SYSTEM_ERROR) and an expression that compiles (else
/// SUBSCRIPTION_PARSE_FAILED with the reason as the remark).
fn check_client_config(state: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let body = match CheckClientRequestBody::decode(&req.body) {
        Ok(b) => b,
        Err(e) => return bad_body(req, "CHECK_CLIENT_CONFIG", e),
    };
    let Some(sub) = body.subscription_data else {
        return req.reply(ResponseCode::SUCCESS, None);
    };
    if sub.is_tag_type() {
        return req.reply(ResponseCode::SUCCESS, None);
    }
    if !state.config.enable_property_filter {
        return req.reply(
            ResponseCode::SYSTEM_ERROR,
            Some(format!(
                "The broker does not support consumer to filter message by {}",
                sub.expression_type
            )),
        );
    }
    match SubFilter::build(&sub.sub_string, &sub.expression_type, &state.selectors) {
        SubFilter::Invalid(why) => {
            tracing::warn!(client = %body.client_id, group = %body.group, expression = %sub.sub_string,
                error = %why, "client filters messages, but its expression does not compile");
            req.reply(ResponseCode::SUBSCRIPTION_PARSE_FAILED, Some(why))
        }
        SubFilter::Tag(_) | SubFilter::Sql(_) => req.reply(ResponseCode::SUCCESS, None),
    }
}

fn key(mq: &MessageQueue) -> QueueKey {
    QueueKey {
        topic: mq.topic.clone(),
        broker_name: mq.broker_name.clone(),
        queue_id: mq.queue_id,
    }
}

async fn heartbeat(state: &Arc<BrokerState>, conn: &Connection, req: &RemotingCommand) -> RemotingCommand {
    let data = match HeartbeatData::decode(&req.body) {
        Ok(d) => d,
        Err(e) => return bad_body(req, "HEART_BEAT", e),
    };
    let now = now_ms();
    let channel = ClientChannel {
        conn: conn.clone(),
        client_id: data.client_id.clone(),
        language: req.language,
        version: req.version,
        last_update_ms: now,
    };
    let mut topics_created = false;
    for consumer in data.consumer_data_set {
        if let Some(group_cfg) = state.groups.find_or_create(&consumer.group_name, now) {
            let retry = format!("{RETRY_PREFIX}{}", consumer.group_name);
            let (_, created) = state.topics.get_or_create(
                &retry,
                group_cfg.retry_queue_nums.max(1),
                perm::READ | perm::WRITE,
                now,
            );
            topics_created |= created;
        }
        let decl = ConsumerDeclaration {
            consume_type: consumer.consume_type,
            message_model: consumer.message_model,
            consume_from_where: consumer.consume_from_where,
            subscriptions: consumer
                .subscription_data_set
                .iter()
                .map(|s| {
                    let sub = Subscription::new(
                        &s.topic,
                        &s.sub_string,
                        s.sub_version,
                        &s.expression_type,
                        &state.selectors,
                    );
                    if let SubFilter::Invalid(why) = &sub.filter {
                        tracing::warn!(group = %consumer.group_name, topic = %s.topic, expression = %s.sub_string,
                            error = %why, "subscription expression does not compile; its pulls get FILTER_DATA_NOT_EXIST");
                    }
                    sub
                })
                .collect(),
        };
        if let Some(note) = state
            .clients
            .register_consumer(&consumer.group_name, channel.clone(), decl)
        {
            tracing::info!(group = %note.0, members = note.1.len(), "consumer group changed");
            notify(state, note);
        }
    }
    for producer in data.producer_data_set {
        state
            .clients
            .register_producer(&producer.group_name, channel.clone());
    }
    if topics_created {
        persist_topics(state).await;
        state.request_register();
    }
    req.reply(ResponseCode::SUCCESS, None)
}
