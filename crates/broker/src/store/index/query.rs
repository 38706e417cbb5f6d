//! Queries by key: the offsets the index gives, read back as whole records (QUERY_MESSAGE).

use bytes::Bytes;

use super::super::MessageStore;
use super::keys::index_key;

/// The answer to a key query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryResult {
    /// Whole records, in commit-log order. They match the key's hash; a record of a colliding
    /// key may be among them (Apache's clients filter by key, as ours do).
    pub records: Vec<Bytes>,
    /// Store time of the newest index entry (`indexLastUpdateTimestamp`).
    pub index_last_update_timestamp: i64,
    /// Commit-log offset of the newest index entry (`indexLastUpdatePhyoffset`).
    pub index_last_update_phy_offset: i64,
}

impl MessageStore {
    /// Records of `topic` indexed under `key` (a KEYS token or a UNIQ_KEY) stored within
    /// `[begin, end]` (ms), at most `max_num` (capped at `max_msgs_num_batch`).
    pub fn query_messages(
        &self,
        topic: &str,
        key: &str,
        max_num: usize,
        begin: i64,
        end: i64,
    ) -> QueryResult {
        let index = &self.inner.index;
        let (ts, phy) = index.last_update();
        let max = max_num.min(self.inner.config.max_msgs_num_batch);
        let offsets = if max == 0 {
            Vec::new()
        } else {
            index.lookup(&index_key(topic, key), max, begin, end)
        };
        let records = offsets
            .into_iter()
            .filter_map(|phys| self.read_record(phys))
            .collect();
        QueryResult {
            records,
            index_last_update_timestamp: ts,
            index_last_update_phy_offset: phy,
        }
    }

    /// Commit-log offset below which every record is indexed (tests wait on it).
    pub fn indexed_offset(&self) -> u64 {
        self.inner.index.indexed_offset()
    }

    /// Number of index files.
    pub fn index_file_count(&self) -> usize {
        self.inner.index.file_count()
    }
}
