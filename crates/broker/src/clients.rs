//! [`ClientRegistry`]: producers and consumers known from HEART_BEAT, keyed by group and by the
//! connection they heart-beat on, plus each consumer group's subscriptions (what a push
//! consumer's pulls are filtered with, since those pulls carry no expression).
//!
//! Membership changes are reported to the caller as the channels to notify
//! (NOTIFY_CONSUMER_IDS_CHANGED); the registry itself does no IO. Time comes in as an argument.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rmq_remoting::body::{ConsumeFromWhere, ConsumeType, MessageModel};
use rmq_remoting::message::tags::TagFilter;
use rmq_remoting::net::Connection;
use rmq_remoting::LanguageCode;

use crate::filter::{is_tag_type, Selector, SelectorCache, EXPRESSION_TYPE_SQL92};

/// How a subscription selects messages, compiled once when the subscription is registered.
#[derive(Debug, Clone, PartialEq)]
pub enum SubFilter {
    /// By tag hash code in the consume queue (the client re-checks the tag string).
    Tag(TagFilter),
    /// By a SQL92 selector over each message's properties.
    Sql(Arc<Selector>),
    /// A non-TAG expression that cannot be used: why (a compile error or an unknown type).
    Invalid(String),
}

impl SubFilter {
    /// Compiles `expression` of `expression_type` (`TAG`, empty, or `SQL92`).
    pub fn build(expression: &str, expression_type: &str, selectors: &SelectorCache) -> SubFilter {
        if is_tag_type(Some(expression_type)) {
            SubFilter::Tag(TagFilter::parse(expression))
        } else if expression_type.eq_ignore_ascii_case(EXPRESSION_TYPE_SQL92) {
            match selectors.compile(expression) {
                Ok(sel) => SubFilter::Sql(sel),
                Err(e) => SubFilter::Invalid(e.message),
            }
        } else {
            SubFilter::Invalid(format!("unsupported expression type {expression_type}"))
        }
    }

    /// Whether a consume-queue entry with this tags code may match (SQL92 reads the record).
    pub fn matches_code(&self, code: i64) -> bool {
        match self {
            SubFilter::Tag(t) => t.matches_code(code),
            SubFilter::Sql(_) | SubFilter::Invalid(_) => true,
        }
    }
}

/// One subscription of a consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Topic.
    pub topic: String,
    /// Expression as sent (`*`, `TagA || TagB`).
    pub sub_string: String,
    /// Version (client ms timestamp); a pull with a newer version means this one is stale.
    pub sub_version: i64,
    /// `TAG` or `SQL92`.
    pub expression_type: String,
    /// The compiled filter.
    pub filter: SubFilter,
}

impl Subscription {
    /// Builds a subscription from its parts, compiling a SQL92 expression through `selectors`.
    pub fn new(
        topic: &str,
        sub_string: &str,
        sub_version: i64,
        expression_type: &str,
        selectors: &SelectorCache,
    ) -> Subscription {
        Subscription {
            topic: topic.to_string(),
            sub_string: sub_string.to_string(),
            sub_version,
            expression_type: expression_type.to_string(),
            filter: SubFilter::build(sub_string, expression_type, selectors),
        }
    }
}

/// A client's channel: who it is and where to reach it.
#[derive(Debug, Clone)]
pub struct ClientChannel {
    /// The connection it heart-beats on.
    pub conn: Connection,
    /// `ip@instance`.
    pub client_id: String,
    /// Its language.
    pub language: LanguageCode,
    /// Its version ordinal.
    pub version: i32,
    /// Last heartbeat, epoch ms.
    pub last_update_ms: i64,
}

/// What a consumer declares in a heartbeat.
#[derive(Debug, Clone, Default)]
pub struct ConsumerDeclaration {
    /// Pull or push.
    pub consume_type: ConsumeType,
    /// Clustering or broadcasting.
    pub message_model: MessageModel,
    /// Where a new group starts.
    pub consume_from_where: ConsumeFromWhere,
    /// Subscriptions.
    pub subscriptions: Vec<Subscription>,
}

/// One consumer group as the broker sees it.
#[derive(Debug, Clone, Default)]
pub struct ConsumerGroupInfo {
    /// Channels by connection id.
    pub channels: HashMap<u64, ClientChannel>,
    /// Subscriptions by topic.
    pub subscriptions: HashMap<String, Arc<Subscription>>,
    /// Consume type of the last heartbeat.
    pub consume_type: ConsumeType,
    /// Message model of the last heartbeat.
    pub message_model: MessageModel,
    /// Where to start of the last heartbeat.
    pub consume_from_where: ConsumeFromWhere,
    /// Last heartbeat, epoch ms.
    pub last_update_ms: i64,
}

impl ConsumerGroupInfo {
    /// `updateSubscription`: adds new topics, takes newer versions, drops topics no longer
    /// listed. True when the set of topics changed.
    fn update_subscriptions(&mut self, subs: &[Subscription]) -> bool {
        let mut changed = false;
        for s in subs {
            match self.subscriptions.get(&s.topic) {
                None => {
                    self.subscriptions.insert(s.topic.clone(), Arc::new(s.clone()));
                    changed = true;
                }
                Some(old) if s.sub_version > old.sub_version => {
                    self.subscriptions.insert(s.topic.clone(), Arc::new(s.clone()));
                }
                Some(_) => {}
            }
        }
        let before = self.subscriptions.len();
        self.subscriptions
            .retain(|topic, _| subs.iter().any(|s| &s.topic == topic));
        changed || self.subscriptions.len() != before
    }

    fn connections(&self) -> Vec<Connection> {
        self.channels.values().map(|c| c.conn.clone()).collect()
    }
}

/// Channels to tell that `group`'s membership changed.
pub type Notification = (String, Vec<Connection>);

/// Every client channel, for the metrics page.
#[derive(Debug, Default)]
pub struct Census {
    /// `(language, version)` of every producer channel (once per producer group).
    pub producers: Vec<(LanguageCode, i32)>,
    /// `(group, consume type, language, version)` of every consumer channel.
    pub consumers: Vec<(String, ConsumeType, LanguageCode, i32)>,
}

/// Producers and consumers. Each lock guards one map and is held for one update.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    producers: RwLock<HashMap<String, HashMap<u64, ClientChannel>>>,
    consumers: RwLock<HashMap<String, ConsumerGroupInfo>>,
}

impl ClientRegistry {
    /// Registers (or refreshes) a producer.
    pub fn register_producer(&self, group: &str, channel: ClientChannel) {
        let mut p = self.producers.write().unwrap_or_else(|e| e.into_inner());
        p.entry(group.to_string())
            .or_default()
            .insert(channel.conn.id(), channel);
    }

    /// Removes one producer channel.
    pub fn unregister_producer(&self, group: &str, conn_id: u64) {
        let mut p = self.producers.write().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = p.get_mut(group) {
            g.remove(&conn_id);
            if g.is_empty() {
                p.remove(group);
            }
        }
    }

    /// The live channels of a producer group (GET_PRODUCER_CONNECTION_LIST), by client id.
    pub fn producer_channels(&self, group: &str) -> Vec<ClientChannel> {
        let p = self.producers.read().unwrap_or_else(|e| e.into_inner());
        let mut chans: Vec<ClientChannel> = p
            .get(group)
            .map(|g| g.values().cloned().collect())
            .unwrap_or_default();
        chans.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        chans
    }

    /// Registers (or refreshes) a consumer. Returns the channels to notify when the group's
    /// members or topics changed (a new channel or a different set of subscribed topics).
    pub fn register_consumer(
        &self,
        group: &str,
        channel: ClientChannel,
        decl: ConsumerDeclaration,
    ) -> Option<Notification> {
        let now = channel.last_update_ms;
        let mut c = self.consumers.write().unwrap_or_else(|e| e.into_inner());
        let info = c.entry(group.to_string()).or_default();
        let new_channel = match info.channels.get_mut(&channel.conn.id()) {
            Some(existing) if existing.client_id == channel.client_id => {
                existing.last_update_ms = now;
                false
            }
            _ => {
                info.channels.insert(channel.conn.id(), channel);
                true
            }
        };
        let topics_changed = info.update_subscriptions(&decl.subscriptions);
        info.consume_type = decl.consume_type;
        info.message_model = decl.message_model;
        info.consume_from_where = decl.consume_from_where;
        info.last_update_ms = now;
        (new_channel || topics_changed).then(|| (group.to_string(), info.connections()))
    }

    /// Removes one consumer channel; returns the remaining members to notify.
    pub fn unregister_consumer(&self, group: &str, conn_id: u64) -> Option<Notification> {
        let mut c = self.consumers.write().unwrap_or_else(|e| e.into_inner());
        let info = c.get_mut(group)?;
        info.channels.remove(&conn_id)?;
        if info.channels.is_empty() {
            c.remove(group);
            return None;
        }
        Some((group.to_string(), info.connections()))
    }

    /// Forgets a closed connection everywhere; returns the consumer groups to notify.
    pub fn connection_closed(&self, conn_id: u64) -> Vec<Notification> {
        self.remove_channels(|ch| ch.conn.id() == conn_id)
    }

    /// Drops channels silent since before `now_ms − timeout_ms` (or already closed).
    pub fn expire(&self, now_ms: i64, timeout_ms: i64) -> Vec<Notification> {
        self.remove_channels(|ch| ch.conn.is_closed() || now_ms - ch.last_update_ms > timeout_ms)
    }

    fn remove_channels(&self, dead: impl Fn(&ClientChannel) -> bool) -> Vec<Notification> {
        {
            let mut p = self.producers.write().unwrap_or_else(|e| e.into_inner());
            p.retain(|_, chans| {
                chans.retain(|_, ch| !dead(ch));
                !chans.is_empty()
            });
        }
        let mut notes = Vec::new();
        let mut c = self.consumers.write().unwrap_or_else(|e| e.into_inner());
        c.retain(|group, info| {
            let before = info.channels.len();
            info.channels.retain(|_, ch| !dead(ch));
            if info.channels.is_empty() {
                return false;
            }
            if info.channels.len() != before {
                notes.push((group.clone(), info.connections()));
            }
            true
        });
        notes
    }

    /// What a pull without its own subscription needs of a live group: its message model and
    /// its subscription of `topic` (if any). `None` when the group has no live member. Copies
    /// one `Arc`, not the group.
    pub fn pull_view(&self, group: &str, topic: &str) -> Option<(MessageModel, Option<Arc<Subscription>>)> {
        let c = self.consumers.read().unwrap_or_else(|e| e.into_inner());
        let info = c.get(group)?;
        Some((info.message_model, info.subscriptions.get(topic).cloned()))
    }

    /// Whether the group has any live member.
    pub fn has_consumer_group(&self, group: &str) -> bool {
        self.consumers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(group)
    }

    /// Client ids of the group's members, sorted.
    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        let c = self.consumers.read().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<String> = c
            .get(group)
            .map(|info| info.channels.values().map(|ch| ch.client_id.clone()).collect())
            .unwrap_or_default();
        ids.sort();
        ids.dedup();
        ids
    }

    /// A copy of one group's state.
    pub fn consumer_group(&self, group: &str) -> Option<ConsumerGroupInfo> {
        self.consumers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(group)
            .cloned()
    }

    /// Groups with members subscribed to `topic`.
    pub fn groups_subscribing(&self, topic: &str) -> Vec<String> {
        let c = self.consumers.read().unwrap_or_else(|e| e.into_inner());
        c.iter()
            .filter(|(_, info)| info.subscriptions.contains_key(topic))
            .map(|(g, _)| g.clone())
            .collect()
    }

    /// Who is connected, for the metrics page.
    pub fn census(&self) -> Census {
        let p = self.producers.read().unwrap_or_else(|e| e.into_inner());
        let producers = p
            .values()
            .flat_map(|chans| chans.values().map(|c| (c.language, c.version)))
            .collect();
        drop(p);
        let c = self.consumers.read().unwrap_or_else(|e| e.into_inner());
        let consumers = c
            .iter()
            .flat_map(|(group, info)| {
                info.channels
                    .values()
                    .map(move |ch| (group.clone(), info.consume_type, ch.language, ch.version))
            })
            .collect();
        Census { producers, consumers }
    }

    /// Number of producer and consumer channels.
    pub fn counts(&self) -> (usize, usize) {
        let p = self.producers.read().unwrap_or_else(|e| e.into_inner());
        let c = self.consumers.read().unwrap_or_else(|e| e.into_inner());
        (
            p.values().map(HashMap::len).sum(),
            c.values().map(|i| i.channels.len()).sum(),
        )
    }
}
