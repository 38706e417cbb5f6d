//! [`HeldPulls`]: pulls parked until a message arrives for their queue (long polling).
//!
//! A pull that finds nothing registers a waiter for its (topic, queue), re-checks the store
//! (so a message that landed in between is not missed), then sleeps until [`HeldPulls::wake`]
//! is called for that queue or its suspend time runs out. The send path calls `wake` after every
//! append, and on a slave the store's arrival listener calls it for each queue a replicated
//! chunk filled; when nothing is held it costs one atomic load. There is no polling timer: an idle
//! consumer costs nothing until its hold expires.
//!
//! The number of held pulls is bounded; past the bound a pull is refused so that a flood of
//! consumers cannot grow memory without limit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Debug)]
struct Slot {
    notify: Arc<Notify>,
    waiters: usize,
}

/// Held pulls by topic and queue. The mutex guards the map; it is never held across `.await`.
#[derive(Debug)]
pub struct HeldPulls {
    slots: Mutex<HashMap<String, HashMap<i32, Slot>>>,
    held: AtomicUsize,
    max_held: usize,
}

/// A registration for one held pull; dropping it unregisters.
#[derive(Debug)]
pub struct Hold<'a> {
    owner: &'a HeldPulls,
    topic: String,
    queue_id: i32,
    notify: Arc<Notify>,
}

impl Hold<'_> {
    /// The notifier to wait on (create the `notified()` future before re-checking the store).
    pub fn notify(&self) -> &Notify {
        &self.notify
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        self.owner.held.fetch_sub(1, Ordering::AcqRel);
        let mut slots = self.owner.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(queues) = slots.get_mut(&self.topic) {
            if let Some(slot) = queues.get_mut(&self.queue_id) {
                slot.waiters -= 1;
                if slot.waiters == 0 {
                    queues.remove(&self.queue_id);
                }
            }
            if queues.is_empty() {
                slots.remove(&self.topic);
            }
        }
    }
}

impl HeldPulls {
    /// An empty registry holding at most `max_held` pulls.
    pub fn new(max_held: usize) -> HeldPulls {
        HeldPulls {
            slots: Mutex::new(HashMap::new()),
            held: AtomicUsize::new(0),
            max_held,
        }
    }

    /// Registers a pull for (topic, queue); `None` when the bound is reached.
    pub fn hold(&self, topic: &str, queue_id: i32) -> Option<Hold<'_>> {
        if self.held.fetch_add(1, Ordering::AcqRel) >= self.max_held {
            self.held.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slots
            .entry(topic.to_string())
            .or_default()
            .entry(queue_id)
            .or_insert_with(|| Slot {
                notify: Arc::new(Notify::new()),
                waiters: 0,
            });
        slot.waiters += 1;
        Some(Hold {
            owner: self,
            topic: topic.to_string(),
            queue_id,
            notify: slot.notify.clone(),
        })
    }

    /// Wakes every pull held on (topic, queue).
    pub fn wake(&self, topic: &str, queue_id: i32) {
        if self.held.load(Ordering::Acquire) == 0 {
            return;
        }
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get(topic).and_then(|q| q.get(&queue_id)) {
            slot.notify.notify_waiters();
        }
    }

    /// Wakes every held pull (shutdown, or a slave whose data arrived in bulk).
    pub fn wake_all(&self) {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        for slot in slots.values().flat_map(HashMap::values) {
            slot.notify.notify_waiters();
        }
    }

    /// Pulls held right now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn wake_reaches_only_its_queue_and_bound_holds() {
        let h = HeldPulls::new(2);
        let a = h.hold("T", 0).unwrap();
        let b = h.hold("T", 1).unwrap();
        assert!(h.hold("T", 2).is_none(), "bound reached");
        {
            let wa = a.notify().notified();
            let wb = b.notify().notified();
            tokio::pin!(wa, wb);
            wa.as_mut().enable();
            wb.as_mut().enable();
            h.wake("T", 0);
            tokio::time::timeout(Duration::from_secs(1), wa)
                .await
                .expect("queue 0 woken");
            assert!(
                tokio::time::timeout(Duration::from_millis(20), wb).await.is_err(),
                "queue 1 not woken"
            );
        }
        drop(a);
        drop(b);
        assert_eq!(h.held(), 0);
        assert!(h.slots.lock().unwrap().is_empty());
    }
}
