//! The SEND_BATCH_MESSAGE body: per message
//!
//! ```text
//! i32 TOTALSIZE (= 22 + bodyLen + propsLen, every byte of the member) | i32 MAGIC (0) | i32 BODYCRC (0) | i32 FLAG
//! i32 bodyLen | body | i16 propsLen | properties
//! ```
//!
//! [`decode_bounded`] checks the size the members will take once stored while it decodes, so a
//! 4 MiB body of 190,000 empty members is refused after the first members past the limit, not
//! after all of them have been expanded into records.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::record::RecordError;

/// One member of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    /// User flag.
    pub flag: i32,
    /// Body.
    pub body: Bytes,
    /// Raw properties string.
    pub properties: String,
}

/// Encodes a batch body.
pub fn encode(items: &[BatchItem]) -> Bytes {
    let mut buf = BytesMut::new();
    for item in items {
        let total = 22 + item.body.len() + item.properties.len();
        buf.put_i32(total as i32);
        buf.put_i32(0);
        buf.put_i32(0);
        buf.put_i32(item.flag);
        buf.put_i32(item.body.len() as i32);
        buf.put_slice(&item.body);
        buf.put_i16(item.properties.len() as i16);
        buf.put_slice(item.properties.as_bytes());
    }
    buf.freeze()
}

/// Why a batch body is refused.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The layout is inconsistent.
    #[error(transparent)]
    Malformed(#[from] RecordError),
    /// The members would store more than the limit.
    #[error("the batch would store more than {limit} bytes (the limit is passed at member {members})")]
    TooLarge {
        /// Members decoded when the limit was passed.
        members: usize,
        /// The limit.
        limit: usize,
    },
}

/// Decodes a batch body; any inconsistency is an error, never a panic.
pub fn decode(body: &Bytes) -> Result<Vec<BatchItem>, RecordError> {
    decode_bounded(body, 0, usize::MAX).map_err(|e| match e {
        BatchError::Malformed(e) => e,
        BatchError::TooLarge { .. } => RecordError::Inconsistent(e.to_string()),
    })
}

/// Decodes a batch body whose members will each take `overhead` bytes plus their body and
/// properties once stored; stops as soon as their sum passes `max_stored`.
pub fn decode_bounded(
    body: &Bytes,
    overhead: usize,
    max_stored: usize,
) -> Result<Vec<BatchItem>, BatchError> {
    let mut items = Vec::new();
    let mut rest = body.clone();
    let mut stored = 0usize;
    while !rest.is_empty() {
        if rest.len() < 20 {
            return Err(RecordError::Truncated {
                needed: 20,
                available: rest.len(),
            }
            .into());
        }
        let total = (&rest[0..4]).get_i32();
        if total < 22 || total as usize > rest.len() {
            return Err(RecordError::Inconsistent(format!(
                "batch member size {total} with {} bytes left",
                rest.len()
            ))
            .into());
        }
        let mut member = rest.split_to(total as usize);
        member.advance(12);
        let flag = member.get_i32();
        let body_len = member.get_i32();
        if body_len < 0 || body_len as usize + 2 > member.len() {
            return Err(RecordError::Inconsistent(format!("batch member body length {body_len}")).into());
        }
        let body = member.split_to(body_len as usize);
        let props_len = member.get_i16();
        if props_len < 0 || props_len as usize != member.len() {
            return Err(
                RecordError::Inconsistent(format!("batch member properties length {props_len}")).into(),
            );
        }
        stored = stored.saturating_add(overhead + body.len() + member.len());
        if stored > max_stored {
            return Err(BatchError::TooLarge {
                members: items.len() + 1,
                limit: max_stored,
            });
        }
        let properties = String::from_utf8_lossy(&member).into_owned();
        items.push(BatchItem {
            flag,
            body,
            properties,
        });
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_size_is_bounded_while_decoding() {
        let empty = BatchItem {
            flag: 0,
            body: Bytes::new(),
            properties: String::new(),
        };
        let body = encode(&vec![empty; 1000]);
        // 100 bytes a member once stored: the limit of 10,000 is passed at member 101.
        match decode_bounded(&body, 100, 10_000) {
            Err(BatchError::TooLarge { members, limit }) => assert_eq!((members, limit), (101, 10_000)),
            other => panic!("{other:?}"),
        }
        assert_eq!(decode_bounded(&body, 10, 10_000).unwrap().len(), 1000);
    }

    #[test]
    fn batch_round_trip_and_garbage() {
        let items = vec![
            BatchItem {
                flag: 1,
                body: Bytes::from_static(b"a"),
                properties: "TAGS\u{1}x".into(),
            },
            BatchItem {
                flag: 0,
                body: Bytes::from_static(b"bb"),
                properties: String::new(),
            },
        ];
        let body = encode(&items);
        assert_eq!(decode(&body).unwrap(), items);
        assert!(decode(&body.slice(..body.len() - 1)).is_err());
        assert!(decode(&Bytes::from_static(&[0, 0, 0, 5, 1, 2, 3])).is_err());
    }
}
