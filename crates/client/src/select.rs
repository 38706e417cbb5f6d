//! Choosing the queue of a send attempt (protocol.md §7.2–7.3), pure: the round-robin index, the
//! `lastBrokerName` walk of a retry, and the fault-aware choice.
//!
//! RocketMQ keeps the index per thread (`ThreadLocalIndex`); an async producer has no useful
//! notion of thread, so [`SendWhichQueue`] is one atomic counter per producer with a random start,
//! which spreads consecutive sends over the queues the same way.
//!
//! The fault-aware choice is RocketMQ 4.9's, with one addition the issue asks for: a retry first
//! looks for an available queue on a broker other than the one that just failed, so "after a
//! failure the retry goes to another broker" holds even when the failure was a broker error that
//! does not bench the broker (a quick NO_PERMISSION or SYSTEM_ERROR answer).

use std::sync::atomic::{AtomicU32, Ordering};

use crate::fault::LatencyFaultTolerance;
use crate::route::TopicPublishInfo;
use rmq_remoting::body::MessageQueue;

/// The round-robin index of a producer.
#[derive(Debug)]
pub struct SendWhichQueue(AtomicU32);

impl Default for SendWhichQueue {
    fn default() -> Self {
        SendWhichQueue::starting_at(rand::random::<u32>() & 0x7FFF_FFFF)
    }
}

impl SendWhichQueue {
    /// An index whose next value is `start + 1` (tests start it where they want).
    pub fn starting_at(start: u32) -> Self {
        SendWhichQueue(AtomicU32::new(start))
    }

    /// `incrementAndGet() & 0x7FFFFFFF`.
    pub fn next(&self) -> u32 {
        self.0.fetch_add(1, Ordering::Relaxed).wrapping_add(1) & 0x7FFF_FFFF
    }
}

fn at(queues: &[MessageQueue], index: u32) -> &MessageQueue {
    &queues[index as usize % queues.len()]
}

/// `selectOneMessageQueue(lastBrokerName)` without fault avoidance: the next round-robin queue;
/// on a retry, the next one whose broker is not `last_broker`, if any.
pub fn select_queue(
    info: &TopicPublishInfo,
    last_broker: Option<&str>,
    index: &SendWhichQueue,
) -> Option<MessageQueue> {
    let queues = &info.queues;
    if queues.is_empty() {
        return None;
    }
    if let Some(last) = last_broker {
        for _ in 0..queues.len() {
            let mq = at(queues, index.next());
            if mq.broker_name != last {
                return Some(mq.clone());
            }
        }
    }
    Some(at(queues, index.next()).clone())
}

/// The fault-aware choice at `now` (ms): an available queue on another broker than
/// `last_broker`, else any available queue, else a queue of the least bad benched broker
/// (`pickOneAtLeast`), else the plain walk.
pub fn select_queue_avoiding_faults(
    info: &TopicPublishInfo,
    last_broker: Option<&str>,
    index: &SendWhichQueue,
    faults: &mut LatencyFaultTolerance,
    now: u64,
) -> Option<MessageQueue> {
    let queues = &info.queues;
    if queues.is_empty() {
        return None;
    }
    let start = index.next();
    let n = queues.len() as u32;
    let candidates = || (0..n).map(|i| at(queues, start.wrapping_add(i) & 0x7FFF_FFFF));
    if let Some(mq) = candidates()
        .find(|mq| Some(mq.broker_name.as_str()) != last_broker && faults.is_available(&mq.broker_name, now))
    {
        return Some(mq.clone());
    }
    if let Some(mq) = candidates().find(|mq| faults.is_available(&mq.broker_name, now)) {
        return Some(mq.clone());
    }
    if let Some(not_best) = faults.pick_one_at_least(now) {
        match info.write_queue_nums(&not_best) {
            Some(write_queues) if write_queues > 0 && !info.order_topic => {
                let queue_id = (index.next() % write_queues as u32) as i32;
                let topic = queues[0].topic.clone();
                return Some(MessageQueue::new(topic, not_best, queue_id));
            }
            Some(write_queues) if write_queues > 0 => {
                if let Some(mq) = candidates().find(|mq| mq.broker_name == not_best) {
                    return Some(mq.clone());
                }
            }
            _ => faults.remove(&not_best),
        }
    }
    select_queue(info, last_broker, index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::body::{BrokerData, QueueData, TopicRouteData};

    /// Two brokers a, b with 4 queues each, both with a master: a0..a3 b0..b3.
    fn info() -> TopicPublishInfo {
        let mut route = TopicRouteData::default();
        for name in ["a", "b"] {
            let mut bd = BrokerData::new("C", name);
            bd.broker_addrs.insert(0, format!("{name}:1"));
            route.broker_datas.push(bd);
            route.queue_datas.push(QueueData {
                broker_name: name.into(),
                perm: 6,
                read_queue_nums: 4,
                write_queue_nums: 4,
                topic_sys_flag: 0,
            });
        }
        TopicPublishInfo::from_route("T", &route)
    }

    fn s(mq: Option<MessageQueue>) -> String {
        mq.map(|q| format!("{}{}", q.broker_name, q.queue_id))
            .unwrap_or_default()
    }

    #[test]
    fn round_robin_walks_the_list() {
        let info = info();
        let idx = SendWhichQueue::starting_at(0);
        let picks: Vec<String> = (0..9).map(|_| s(select_queue(&info, None, &idx))).collect();
        assert_eq!(picks, ["a1", "a2", "a3", "b0", "b1", "b2", "b3", "a0", "a1"]);
    }

    #[test]
    fn protocol_md_worked_example_retry_walk() {
        // Index at 5: the first attempt takes position 6 (b2); the retry with lastBroker b skips
        // b3 and lands on a0.
        let info = info();
        let idx = SendWhichQueue::starting_at(5);
        assert_eq!(s(select_queue(&info, None, &idx)), "b2");
        assert_eq!(s(select_queue(&info, Some("b"), &idx)), "a0");
        // A retry when every queue is on the failed broker still picks one.
        let mut only_a = info.clone();
        only_a.queues.retain(|q| q.broker_name == "a");
        assert_eq!(
            s(select_queue(&only_a, Some("a"), &idx)).chars().next(),
            Some('a')
        );
    }

    #[test]
    fn index_wraps_like_java() {
        let idx = SendWhichQueue::starting_at(0x7FFF_FFFE);
        assert_eq!(idx.next(), 0x7FFF_FFFF);
        assert_eq!(idx.next(), 0);
        assert_eq!(s(select_queue(&TopicPublishInfo::default(), None, &idx)), "");
    }

    #[test]
    fn benched_broker_is_avoided_until_its_time_is_up() {
        let info = info();
        let idx = SendWhichQueue::starting_at(0);
        let mut faults = LatencyFaultTolerance::default();
        faults.update("a", 600, false, 0); // slow answer: benched 30 s
        for _ in 0..8 {
            let pick = select_queue_avoiding_faults(&info, None, &idx, &mut faults, 1_000).unwrap();
            assert_eq!(pick.broker_name, "b");
        }
        let picks: Vec<String> = (0..8)
            .map(|_| {
                select_queue_avoiding_faults(&info, None, &idx, &mut faults, 30_000)
                    .unwrap()
                    .broker_name
            })
            .collect();
        assert!(picks.iter().any(|b| b == "a") && picks.iter().any(|b| b == "b"));
    }

    #[test]
    fn all_benched_still_sends_to_the_least_bad() {
        let info = info();
        let idx = SendWhichQueue::starting_at(0);
        let mut faults = LatencyFaultTolerance::default();
        faults.update("a", 0, true, 0); // exception: 600 s
        faults.update("b", 1000, false, 0); // 60 s
        let pick = select_queue_avoiding_faults(&info, None, &idx, &mut faults, 10).unwrap();
        assert_eq!(pick.topic, "T");
        assert!(pick.queue_id < 4);
        // A broker the route does not know is dropped from the table rather than used.
        let mut faults = LatencyFaultTolerance::default();
        faults.update("gone", 0, true, 0);
        faults.update("a", 0, true, 0);
        faults.update("b", 0, true, 0);
        for _ in 0..6 {
            assert!(select_queue_avoiding_faults(&info, None, &idx, &mut faults, 10).is_some());
        }
    }

    #[test]
    fn retry_goes_to_another_broker_even_without_bench() {
        let info = info();
        let idx = SendWhichQueue::starting_at(0);
        let mut faults = LatencyFaultTolerance::default();
        for _ in 0..8 {
            let first = select_queue_avoiding_faults(&info, None, &idx, &mut faults, 0).unwrap();
            faults.update(&first.broker_name, 3, false, 0); // fast error answer: not benched
            let retry =
                select_queue_avoiding_faults(&info, Some(&first.broker_name), &idx, &mut faults, 0).unwrap();
            assert_ne!(retry.broker_name, first.broker_name);
        }
    }
}
