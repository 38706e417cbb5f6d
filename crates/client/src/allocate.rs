//! Queue allocation among the members of a consumer group (protocol.md §7.4), pure and IO-free.
//!
//! Every member computes its own share from the same inputs: all queues of a topic sorted by
//! (topic, brokerName, queueId) and all member ids sorted as strings. Because each member sorts
//! the same lists, the shares are disjoint and cover every queue without any coordination.

/// How a group splits the queues of a topic among its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AllocateStrategy {
    /// `AllocateMessageQueueAveragely`: contiguous runs, the first `n % c` members get one more.
    #[default]
    Averagely,
    /// `AllocateMessageQueueAveragelyByCircle`: member `i` takes queues `i, i + c, i + 2c, …`.
    Circular,
}

impl AllocateStrategy {
    /// The share of `me` among `members` (both lists sorted by the caller); empty when `me` is not
    /// a member.
    pub fn allocate<T: Clone>(self, queues: &[T], members: &[String], me: &str) -> Vec<T> {
        match self {
            AllocateStrategy::Averagely => allocate_averagely(queues, members, me),
            AllocateStrategy::Circular => allocate_circular(queues, members, me),
        }
    }
}

/// `AllocateMessageQueueAveragely.allocate`, step for step.
pub fn allocate_averagely<T: Clone>(queues: &[T], members: &[String], me: &str) -> Vec<T> {
    let Some(index) = members.iter().position(|m| m == me) else {
        return Vec::new();
    };
    let n = queues.len();
    let c = members.len();
    if n == 0 {
        return Vec::new();
    }
    let rem = n % c;
    let avg = if n <= c {
        1
    } else if rem > 0 && index < rem {
        n / c + 1
    } else {
        n / c
    };
    let start = if rem > 0 && index < rem {
        index * avg
    } else {
        index * avg + rem
    };
    let range = avg.min(n.saturating_sub(start));
    (0..range).map(|k| queues[(start + k) % n].clone()).collect()
}

/// `AllocateMessageQueueAveragelyByCircle.allocate`.
pub fn allocate_circular<T: Clone>(queues: &[T], members: &[String], me: &str) -> Vec<T> {
    let Some(index) = members.iter().position(|m| m == me) else {
        return Vec::new();
    };
    queues
        .iter()
        .skip(index)
        .step_by(members.len())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    fn queues(n: usize) -> Vec<usize> {
        (0..n).collect()
    }

    #[test]
    fn eight_queues_three_consumers_is_3_3_2() {
        let members = ids(3);
        let q = queues(8);
        assert_eq!(allocate_averagely(&q, &members, "c0"), vec![0, 1, 2]);
        assert_eq!(allocate_averagely(&q, &members, "c1"), vec![3, 4, 5]);
        assert_eq!(allocate_averagely(&q, &members, "c2"), vec![6, 7]);
    }

    #[test]
    fn three_queues_five_consumers_leaves_two_idle() {
        let members = ids(5);
        let q = queues(3);
        let shares: Vec<Vec<usize>> = members
            .iter()
            .map(|m| allocate_averagely(&q, &members, m))
            .collect();
        assert_eq!(shares, vec![vec![0], vec![1], vec![2], vec![], vec![]]);
    }

    #[test]
    fn stranger_and_empty_inputs_get_nothing() {
        assert!(allocate_averagely(&queues(4), &ids(2), "zz").is_empty());
        assert!(allocate_averagely::<usize>(&[], &ids(2), "c0").is_empty());
        assert!(allocate_circular(&queues(4), &[], "c0").is_empty());
    }

    #[test]
    fn every_split_is_a_partition() {
        for n in 0..20 {
            for c in 1..9 {
                let members = ids(c);
                for strategy in [AllocateStrategy::Averagely, AllocateStrategy::Circular] {
                    let mut all: Vec<usize> = members
                        .iter()
                        .flat_map(|m| strategy.allocate(&queues(n), &members, m))
                        .collect();
                    all.sort_unstable();
                    assert_eq!(all, queues(n), "{strategy:?} n={n} c={c}");
                }
            }
        }
    }

    #[test]
    fn circular_interleaves() {
        let members = ids(3);
        assert_eq!(allocate_circular(&queues(8), &members, "c0"), vec![0, 3, 6]);
        assert_eq!(allocate_circular(&queues(8), &members, "c1"), vec![1, 4, 7]);
        assert_eq!(allocate_circular(&queues(8), &members, "c2"), vec![2, 5]);
    }
}
