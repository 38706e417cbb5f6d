//! Offset resets a broker pushes (RESET_CONSUMER_CLIENT_OFFSET, decoded by [`crate::reset`]),
//! applied by a push consumer one at a time: each held queue of the reset gets a fresh
//! [`ProcessQueue`], its old pull loop is stopped, and pulling goes on from the new offset.

use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::body::MqMap;
use tokio::sync::mpsc;
use tracing::info;

use crate::process_queue::ProcessQueue;
use crate::push_shared::Shared;
use crate::MessageQueue;

/// Resets a broker pushed and [`reset_task`] has not applied yet; more are dropped with a warning.
pub(crate) const RESETS_QUEUED: usize = 16;
/// How long a reset waits for the old pull loop of a queue to end (it ends at its next step).
const RESET_STOP_WAIT: Duration = Duration::from_secs(5);

/// Applies the resets queued on `resets`, in order, until the consumer stops.
pub(crate) async fn reset_task(s: Arc<Shared>, mut resets: mpsc::Receiver<(String, MqMap<i64>)>) {
    loop {
        let (topic, offsets) = tokio::select! {
            _ = s.cancel.cancelled() => return,
            r = resets.recv() => match r { Some(r) => r, None => return },
        };
        apply_reset(&s, &topic, offsets).await;
    }
}

/// Apache's `resetOffset` on the client: each held queue of the table gets a fresh process queue
/// (the messages cached or in flight in the old one are forgotten: their completions no longer
/// move the offset), the new offset is set and committed, and pulling goes on from it. Queues
/// this member does not hold are left to their owners.
async fn apply_reset(s: &Arc<Shared>, topic: &str, offsets: MqMap<i64>) {
    let swapped: Vec<(MessageQueue, Arc<ProcessQueue>, Arc<ProcessQueue>, i64)> = {
        let mut queues = s.queues.lock().expect("queues lock");
        offsets
            .iter()
            .filter(|(mq, _)| mq.topic == topic)
            .filter_map(|(mq, offset)| {
                let fresh = Arc::new(ProcessQueue::new(&s.cancel));
                let old = queues.get_mut(mq)?;
                let old = std::mem::replace(old, fresh.clone());
                Some((mq.clone(), old, fresh, *offset))
            })
            .collect()
    };
    for (_, old, _, _) in &swapped {
        old.dropped().cancel();
    }
    let ends = swapped
        .iter()
        .map(|(_, old, _, _)| tokio::time::timeout(RESET_STOP_WAIT, old.stopped().cancelled()));
    futures::future::join_all(ends).await;
    for (mq, _, _, offset) in &swapped {
        s.offsets.update(mq, *offset, false);
    }
    let mqs: Vec<MessageQueue> = swapped.iter().map(|(mq, ..)| mq.clone()).collect();
    s.offsets.persist(&mqs).await;
    for (mq, _, fresh, offset) in swapped {
        info!(group = %s.config.group, queue = %mq, offset, "[reset-offset] consuming from the reset offset");
        s.tasks
            .spawn(crate::push_queue::run(s.clone(), mq, fresh, offset));
    }
}
