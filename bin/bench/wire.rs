//! The few bytes of the RocketMQ protocol the load tool writes and reads by hand, so that the
//! tool spends about a microsecond per message and the broker, not the tool, is what is
//! measured on a shared 2-core machine.
//!
//! Requests are SEND_MESSAGE_V2 frames with a JSON header, as the Java client sends them; each
//! message carries its own `UNIQ_KEY`, born timestamp and queue id. Responses are split into
//! frames and only `code` and `opaque` are read from their header; a failed one is decoded in
//! full to show its remark.

use std::io::Write;

use bytes::{Buf, BufMut, BytesMut};
use rmq_remoting::{RemotingCodec, RemotingCommand};
use tokio_util::codec::Decoder;

/// Encodes SEND_MESSAGE_V2 requests for one topic and producer group.
pub struct SendEncoder {
    /// `{"code":310,"extFields":{"a":"<group>","b":"<topic>","c":"TBW102","d":"4",` plus the
    /// fixed fields: everything before the queue id.
    prefix: Vec<u8>,
    body: Vec<u8>,
    header: Vec<u8>,
}

impl SendEncoder {
    pub fn new(group: &str, topic: &str, body: Vec<u8>) -> Self {
        let mut prefix = Vec::new();
        write!(
            prefix,
            r#"{{"code":310,"extFields":{{"a":{},"b":{},"c":"TBW102","d":"4","f":"0","h":"0","j":"0","k":"false","m":"false","#,
            json_string(group),
            json_string(topic)
        )
        .expect("writing to a Vec cannot fail");
        SendEncoder {
            prefix,
            body,
            header: Vec::with_capacity(512),
        }
    }

    /// Appends one request frame to `out`.
    pub fn encode(&mut self, out: &mut BytesMut, opaque: i32, queue_id: i32, born_ms: i64, uniq_key: &str) {
        let h = &mut self.header;
        h.clear();
        h.extend_from_slice(&self.prefix);
        // WAIT=true, UNIQ_KEY=<id>, separated by \u0001 / \u0002 as JSON escapes.
        let _ = write!(
            h,
            r#""e":"{queue_id}","g":"{born_ms}","i":"WAIT\u0001true\u0002UNIQ_KEY\u0001{uniq_key}"}},"flag":0,"language":"JAVA","opaque":{opaque},"serializeTypeCurrentRPC":"JSON","version":409}}"#
        );
        let total = 4 + h.len() + self.body.len();
        out.reserve(4 + total);
        out.put_u32(total as u32);
        out.put_u32(h.len() as u32); // serialize type 0 (JSON) in the top byte
        out.put_slice(h);
        out.put_slice(&self.body);
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
}

/// One response: its opaque, and the full command when it failed.
pub struct Reply {
    pub opaque: i32,
    pub failure: Option<RemotingCommand>,
}

/// Takes the next complete response frame off `buf`.
pub fn next_reply(buf: &mut BytesMut) -> Result<Option<Reply>, String> {
    if buf.len() < 8 {
        return Ok(None);
    }
    let total = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize + 4;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    let header_len = (u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) & 0x00FF_FFFF) as usize;
    if buf[4] != 0 || 8 + header_len > total {
        // Not a JSON header (or not a frame): decode it the slow, general way.
        return match RemotingCodec::default().decode(buf) {
            Ok(Some(cmd)) => Ok(Some(Reply {
                opaque: cmd.opaque,
                failure: (cmd.code != 0).then_some(cmd),
            })),
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        };
    }
    let header = &buf[8..8 + header_len];
    let code = int_field(header, b"\"code\":");
    let opaque = int_field(header, b"\"opaque\":");
    let (Some(code), Some(opaque)) = (code, opaque) else {
        return Err(format!(
            "response header without code or opaque: {}",
            String::from_utf8_lossy(header)
        ));
    };
    if code != 0 {
        let cmd = RemotingCodec::default()
            .decode(buf)
            .map_err(|e| e.to_string())?
            .ok_or("incomplete frame")?;
        return Ok(Some(Reply {
            opaque,
            failure: Some(cmd),
        }));
    }
    buf.advance(total);
    Ok(Some(Reply {
        opaque,
        failure: None,
    }))
}

/// The integer after `key` in a JSON text (the broker writes `code` and `opaque` at the top
/// level and no extField value of a send reply contains such a key).
fn int_field(json: &[u8], key: &[u8]) -> Option<i32> {
    let at = json.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = &json[at..];
    let end = rest
        .iter()
        .position(|&b| !(b.is_ascii_digit() || b == b'-'))
        .unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::headers::send::decode_send_request_header;
    use rmq_remoting::{codec::encode_command, ResponseCode};

    #[test]
    fn encoded_request_decodes_as_a_send_v2() {
        let mut enc = SendEncoder::new("g1", "Topic\"X", vec![b'x'; 10]);
        let mut buf = BytesMut::new();
        enc.encode(&mut buf, 42, 3, 1_700_000_000_000, "ABCDEF");
        let cmd = RemotingCodec::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(cmd.code, 310);
        assert_eq!(cmd.opaque, 42);
        assert_eq!(&cmd.body[..], &[b'x'; 10]);
        let h = decode_send_request_header(&cmd).unwrap();
        assert_eq!(h.topic, "Topic\"X");
        assert_eq!(h.producer_group, "g1");
        assert_eq!(h.queue_id, 3);
        assert_eq!(h.born_timestamp, 1_700_000_000_000);
        assert_eq!(
            h.properties.as_deref(),
            Some("WAIT\u{1}true\u{2}UNIQ_KEY\u{1}ABCDEF")
        );
    }

    #[test]
    fn replies_are_read_whole_and_failures_kept() {
        let req = RemotingCommand::raw_request(310);
        let mut ok = req.reply(ResponseCode::SUCCESS, None).with_ext("msgId", "x");
        ok.opaque = 7;
        let mut bad = req.reply(ResponseCode::NO_PERMISSION, Some("no".into()));
        bad.opaque = -8;
        let mut buf = encode_command(&ok).unwrap();
        buf.extend_from_slice(&encode_command(&bad).unwrap());
        let first = next_reply(&mut buf).unwrap().unwrap();
        assert_eq!(first.opaque, 7);
        assert!(first.failure.is_none());
        let second = next_reply(&mut buf).unwrap().unwrap();
        assert_eq!(second.opaque, -8);
        let failure = second.failure.unwrap();
        assert_eq!(failure.code, ResponseCode::NO_PERMISSION.code());
        assert_eq!(failure.remark.as_deref(), Some("no"));
        assert!(buf.is_empty());
        assert!(next_reply(&mut buf).unwrap().is_none());
    }
}
