//! Reads from the slave (RocketMQ's `slaveReadEnable`): which broker id a pull reply suggests.
//!
//! A master whose consumer pulls data that has mostly left memory (the pulled record is further
//! behind the commit log's end than `accessMessageInMemoryMaxRatio` of physical memory) suggests
//! the group's `whichBrokerWhenConsumeSlowly` (1, the slave), so the slow consumer's disk reads
//! land on the slave; otherwise the group's own `brokerId` (0). With slave reads disabled the
//! answer is always the master. Pure functions; the pull processor supplies the numbers.

/// RocketMQ's `accessMessageInMemoryMaxRatio` (40 %).
pub const DEFAULT_IN_MEMORY_RATIO_PERCENT: u64 = 40;

/// Bytes of commit log that count as "still in memory": `ratio_percent` of `total_memory`.
pub fn in_memory_bytes(total_memory: u64, ratio_percent: u64) -> u64 {
    total_memory / 100 * ratio_percent.min(100)
}

/// Whether a pull whose last record starts at `last_pulled_offset` reads cold data, given the
/// commit log's max offset (`diff > memory` in `DefaultMessageStore.getMessage`).
pub fn pulling_cold_data(commit_log_max: u64, last_pulled_offset: u64, in_memory: u64) -> bool {
    commit_log_max.saturating_sub(last_pulled_offset) > in_memory
}

/// The `suggestWhichBrokerId` of a pull reply.
pub fn suggest_broker_id(slave_read_enable: bool, cold: bool, when_slow: i64, group_broker_id: i64) -> i64 {
    match (slave_read_enable, cold) {
        (false, _) => 0,
        (true, true) => when_slow,
        (true, false) => group_broker_id,
    }
}

/// Total physical memory from `/proc/meminfo`, for [`in_memory_bytes`]; `None` elsewhere.
pub fn total_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_total(&text)
}

fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_pulls_go_to_the_slave_only_when_enabled() {
        let mem = in_memory_bytes(1000 * 100, DEFAULT_IN_MEMORY_RATIO_PERCENT);
        assert_eq!(mem, 40_000);
        assert!(pulling_cold_data(100_000, 50_000, mem));
        assert!(
            !pulling_cold_data(100_000, 60_000, mem),
            "exactly the threshold is still warm"
        );
        assert!(
            !pulling_cold_data(10, 20, mem),
            "a record past the end is not cold"
        );
        assert_eq!(suggest_broker_id(true, true, 1, 0), 1);
        assert_eq!(suggest_broker_id(true, false, 1, 0), 0);
        assert_eq!(suggest_broker_id(false, true, 1, 0), 0);
    }

    #[test]
    fn meminfo_is_parsed() {
        let text = "MemTotal:        2048 kB\nMemFree:  10 kB\n";
        assert_eq!(parse_mem_total(text), Some(2048 * 1024));
        assert_eq!(parse_mem_total("garbage"), None);
        assert_eq!(parse_mem_total("MemTotal: lots kB"), None);
    }
}
