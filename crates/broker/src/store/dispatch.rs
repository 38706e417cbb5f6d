//! Turning commit-log bytes into consume-queue entries: what the dispatcher, recovery and a
//! slave's raw appends share. A record is only dispatched after it passes the full layout and
//! body-CRC check of [`MessageRecord::decode`] and its PHYSICALOFFSET field equals its real
//! position, so a torn write, a flipped byte in the body, or a stale record left behind by an
//! earlier cut never reaches a consume queue.

use rmq_remoting::message::record::BLANK_MAGIC;
use rmq_remoting::message::tags::tags_code;
use rmq_remoting::message::MessageRecord;

use super::consume_queue::CqEntry;

/// What a consume queue needs from one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchEntry {
    /// Topic.
    pub topic: String,
    /// Queue id.
    pub queue_id: i32,
    /// Logical offset in the queue.
    pub queue_offset: u64,
    /// Store timestamp.
    pub store_timestamp: i64,
    /// The consume-queue entry.
    pub entry: CqEntry,
}

/// What the bytes at a position hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A valid message record of `entry.entry.size` bytes.
    Message(DispatchEntry),
    /// The end-of-file filler: skip to the next file.
    Blank,
    /// A record that continues past the bytes available (a slave's partial tail).
    Incomplete,
    /// Zeroes, garbage, a torn or corrupt record: the log ends here.
    End(String),
}

/// Parses the record at `phys`, whose bytes are `buf` (running to the end of its file, or to the
/// end of what is written for [`Parsed::Incomplete`] to be meaningful).
pub fn parse(buf: &[u8], phys: u64, at_file_end: bool) -> Parsed {
    if buf.len() < 8 {
        return if at_file_end {
            Parsed::End(format!("{} bytes left in the file", buf.len()))
        } else {
            Parsed::Incomplete
        };
    }
    let total = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let magic = i32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if magic == BLANK_MAGIC {
        // A filler must run exactly to the end of its file.
        return if at_file_end && total as i64 == buf.len() as i64 {
            Parsed::Blank
        } else if !at_file_end && total as i64 >= buf.len() as i64 {
            Parsed::Incomplete
        } else {
            Parsed::End(format!(
                "filler of {total} bytes with {} left in the file",
                buf.len()
            ))
        };
    }
    if total <= 0 {
        return Parsed::End(format!("TOTALSIZE {total}"));
    }
    if total as usize > buf.len() {
        return if at_file_end {
            Parsed::End(format!("record of {total} bytes passes the file end"))
        } else {
            Parsed::Incomplete
        };
    }
    let (record, size) = match MessageRecord::decode(&buf[..total as usize], true) {
        Ok(r) => r,
        Err(e) => return Parsed::End(e.to_string()),
    };
    if record.physical_offset < 0 || record.physical_offset as u64 != phys {
        return Parsed::End(format!(
            "PHYSICALOFFSET {} at position {phys}",
            record.physical_offset
        ));
    }
    if record.queue_offset < 0 || record.queue_id < 0 || record.topic.is_empty() {
        return Parsed::End("negative queue offset or id, or empty topic".into());
    }
    let tags = tags_code(record.tags());
    Parsed::Message(DispatchEntry {
        entry: CqEntry {
            phys,
            size: size as i32,
            tags_code: tags,
        },
        queue_offset: record.queue_offset as u64,
        queue_id: record.queue_id,
        store_timestamp: record.store_timestamp,
        topic: record.topic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn record(phys: i64) -> Vec<u8> {
        MessageRecord {
            topic: "T".into(),
            queue_id: 2,
            queue_offset: 5,
            physical_offset: phys,
            body: Bytes::from_static(b"body"),
            properties: "TAGS\u{1}TagA".into(),
            ..Default::default()
        }
        .to_bytes()
        .unwrap()
        .to_vec()
    }

    #[test]
    fn parses_checks_and_rejects() {
        let r = record(100);
        match parse(&r, 100, false) {
            Parsed::Message(d) => {
                assert_eq!((d.topic.as_str(), d.queue_id, d.queue_offset), ("T", 2, 5));
                assert_eq!(
                    d.entry,
                    CqEntry {
                        phys: 100,
                        size: r.len() as i32,
                        tags_code: 2598919
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse(&r, 101, false), Parsed::End(_)), "stale position");
        assert!(matches!(parse(&r[..50], 100, false), Parsed::Incomplete));
        assert!(matches!(parse(&r[..50], 100, true), Parsed::End(_)));
        let mut flipped = r.clone();
        flipped[88] ^= 1; // first body byte (IPv4 hosts)
        assert!(matches!(parse(&flipped, 100, false), Parsed::End(e) if e.contains("CRC")));
        assert!(matches!(parse(&[0u8; 64], 0, false), Parsed::End(_)));
        let mut blank = 16i32.to_be_bytes().to_vec();
        blank.extend_from_slice(&BLANK_MAGIC.to_be_bytes());
        blank.resize(16, 0);
        assert_eq!(parse(&blank, 0, true), Parsed::Blank);
        assert!(matches!(parse(&blank[..12], 0, true), Parsed::End(_)));
    }
}
