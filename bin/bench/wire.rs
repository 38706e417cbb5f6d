//! The few bytes of the RocketMQ protocol the load tool writes and reads by hand, so that the
//! tool spends about a microsecond per message and the broker, not the tool, is what is
//! measured on a shared 2-core machine.
//!
//! Requests are SEND_MESSAGE_V2 frames with a JSON header, as the Java client sends them; each
//! message carries its own `UNIQ_KEY`, born timestamp and queue id. With a batch size above
//! one they are SEND_BATCH_MESSAGE (320) frames instead, whose body holds that many members
//! (`rmq_remoting::message::batch` layout), each with `WAIT` and its own `UNIQ_KEY`. Responses
//! are split into frames and only `code` and `opaque` are read from their header; a failed one
//! is decoded in full to show its remark.
//!
//! Every body of at least [`STAMP_LEN`] bytes starts with a stamp, `RMQB` and the send time in
//! µs since the epoch (big-endian u64), so a consumer can time each message to the microsecond
//! ([`body_stamp_us`]); the broker's born timestamp only has milliseconds.

use std::io::Write;

use bytes::{Buf, BufMut, BytesMut};
use rmq_remoting::message::id::UniqIdGenerator;
use rmq_remoting::{RemotingCodec, RemotingCommand};
use tokio_util::codec::Decoder;

/// Bytes of the send-time stamp at the start of a body.
pub const STAMP_LEN: usize = 12;
const STAMP_MAGIC: &[u8; 4] = b"RMQB";

/// Microseconds since the epoch.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The send time stamped at the start of `body`, if it carries one.
pub fn body_stamp_us(body: &[u8]) -> Option<u64> {
    let stamp = body.get(..STAMP_LEN)?;
    (&stamp[..4] == STAMP_MAGIC).then(|| u64::from_be_bytes(stamp[4..].try_into().unwrap_or_default()))
}

/// Encodes SEND_MESSAGE_V2 or SEND_BATCH_MESSAGE requests for one topic and producer group.
pub struct SendEncoder {
    /// `{"code":310,"extFields":{"a":"<group>","b":"<topic>","c":"TBW102","d":"4",` plus the
    /// fixed fields: everything before the queue id.
    prefix: Vec<u8>,
    body: Vec<u8>,
    /// Messages per request: 1 = SEND_MESSAGE_V2, more = SEND_BATCH_MESSAGE.
    batch: usize,
    header: Vec<u8>,
    batch_body: Vec<u8>,
    /// Signs every request (a broker with `aclEnable=true`); costs one HMAC per request.
    signer: Option<Signer>,
}

/// What signing needs: the credentials and the fixed extField values.
struct Signer {
    credentials: rmq_remoting::acl::SessionCredentials,
    group: String,
    topic: String,
}

impl SendEncoder {
    /// Requests of `batch` messages each (one message when `batch` is 1).
    pub fn batched(group: &str, topic: &str, body: Vec<u8>, batch: usize) -> Self {
        let batch = batch.max(1);
        let (code, is_batch) = if batch > 1 { (320, "true") } else { (310, "false") };
        let mut prefix = Vec::new();
        write!(
            prefix,
            r#"{{"code":{code},"extFields":{{"a":{},"b":{},"c":"TBW102","d":"4","f":"0","h":"0","j":"0","k":"false","m":"{is_batch}","#,
            json_string(group),
            json_string(topic)
        )
        .expect("writing to a Vec cannot fail");
        SendEncoder {
            prefix,
            body,
            batch,
            header: Vec::with_capacity(512),
            batch_body: Vec::new(),
            signer: None,
        }
    }

    /// Messages per request.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Signs every request with `credentials`.
    pub fn signed(
        mut self,
        credentials: Option<rmq_remoting::acl::SessionCredentials>,
        group: &str,
        topic: &str,
    ) -> Self {
        self.signer = credentials.map(|credentials| Signer {
            credentials,
            group: group.to_string(),
            topic: topic.to_string(),
        });
        self
    }

    /// `"AccessKey":…,"Signature":…,` for one request, computed over the same values the
    /// header carries (Apache's scheme; see `rmq_remoting::acl`).
    fn auth_fields(&self, queue_id: i32, born_ms: i64, props: &str, body: &[u8]) -> String {
        let Some(s) = &self.signer else {
            return String::new();
        };
        let ak = &s.credentials.access_key;
        let is_batch = if self.batch > 1 { "true" } else { "false" };
        let ext: rmq_remoting::ExtFields = [
            ("AccessKey", ak.as_str()),
            ("a", &s.group),
            ("b", &s.topic),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", &queue_id.to_string()),
            ("f", "0"),
            ("g", &born_ms.to_string()),
            ("h", "0"),
            ("i", props),
            ("j", "0"),
            ("k", "false"),
            ("m", is_batch),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sig = rmq_remoting::acl::signature(s.credentials.secret_key.as_bytes(), &ext, body, &[]);
        format!(
            r#""AccessKey":{},"Signature":{},"#,
            json_string(ak),
            json_string(&sig)
        )
    }

    /// The body with the send-time stamp written over its first bytes.
    fn stamp_body(&mut self, stamp_us: u64) {
        if self.body.len() >= STAMP_LEN {
            self.body[..4].copy_from_slice(STAMP_MAGIC);
            self.body[4..STAMP_LEN].copy_from_slice(&stamp_us.to_be_bytes());
        }
    }

    /// Appends one request frame to `out`: one message, or a batch of [`Self::batch`] members,
    /// each with its own id from `ids`.
    pub fn encode(
        &mut self,
        out: &mut BytesMut,
        opaque: i32,
        queue_id: i32,
        born_ms: i64,
        ids: &UniqIdGenerator,
    ) {
        self.stamp_body(now_us());
        let props = if self.batch == 1 {
            format!("WAIT\u{1}true\u{2}UNIQ_KEY\u{1}{}", ids.next_id(born_ms))
        } else {
            let mut b = std::mem::take(&mut self.batch_body);
            b.clear();
            for _ in 0..self.batch {
                let member_props = format!("WAIT\u{1}true\u{2}UNIQ_KEY\u{1}{}", ids.next_id(born_ms));
                // TOTALSIZE | MAGIC | BODYCRC | FLAG | bodyLen | body | propsLen | properties
                let total = 22 + self.body.len() + member_props.len();
                b.put_i32(total as i32);
                b.put_i32(0);
                b.put_i32(0);
                b.put_i32(0);
                b.put_i32(self.body.len() as i32);
                b.put_slice(&self.body);
                b.put_i16(member_props.len() as i16);
                b.put_slice(member_props.as_bytes());
            }
            self.batch_body = b;
            String::new()
        };
        let body: &[u8] = if self.batch == 1 {
            &self.body
        } else {
            &self.batch_body
        };
        let auth = self.auth_fields(queue_id, born_ms, &props, body);
        let h = &mut self.header;
        h.clear();
        h.extend_from_slice(&self.prefix);
        h.extend_from_slice(auth.as_bytes());
        // Properties use \u0001 / \u0002 separators, written as JSON escapes.
        let _ = write!(
            h,
            r#""e":"{queue_id}","g":"{born_ms}","i":{}}},"flag":0,"language":"JAVA","opaque":{opaque},"serializeTypeCurrentRPC":"JSON","version":409}}"#,
            json_string(&props)
        );
        let total = 4 + h.len() + body.len();
        out.reserve(4 + total);
        out.put_u32(total as u32);
        out.put_u32(h.len() as u32); // serialize type 0 (JSON) in the top byte
        out.put_slice(h);
        out.put_slice(body);
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

    fn ids() -> UniqIdGenerator {
        UniqIdGenerator::new(std::net::Ipv4Addr::LOCALHOST, 1, 7)
    }

    #[test]
    fn encoded_request_decodes_as_a_send_v2() {
        let mut enc = SendEncoder::batched("g1", "Topic\"X", vec![b'x'; 20], 1);
        let mut buf = BytesMut::new();
        let before = now_us();
        enc.encode(&mut buf, 42, 3, 1_700_000_000_000, &ids());
        let cmd = RemotingCodec::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(cmd.code, 310);
        assert_eq!(cmd.opaque, 42);
        assert_eq!(cmd.body.len(), 20);
        assert_eq!(&cmd.body[STAMP_LEN..], &[b'x'; 8]);
        let stamp = body_stamp_us(&cmd.body).expect("stamped body");
        assert!(stamp >= before && stamp <= now_us());
        let h = decode_send_request_header(&cmd).unwrap();
        assert_eq!(h.topic, "Topic\"X");
        assert_eq!(h.producer_group, "g1");
        assert_eq!(h.queue_id, 3);
        assert_eq!(h.born_timestamp, 1_700_000_000_000);
        assert!(!h.is_batch());
        let props = h.properties.as_deref().unwrap();
        assert!(props.starts_with("WAIT\u{1}true\u{2}UNIQ_KEY\u{1}"), "{props:?}");
    }

    #[test]
    fn short_bodies_are_not_stamped() {
        let mut enc = SendEncoder::batched("g", "T", vec![b'x'; 5], 1);
        let mut buf = BytesMut::new();
        enc.encode(&mut buf, 1, 0, 1, &ids());
        let cmd = RemotingCodec::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(&cmd.body[..], b"xxxxx");
        assert_eq!(body_stamp_us(&cmd.body), None);
        assert_eq!(body_stamp_us(b"RMQBshort"), None);
    }

    #[test]
    fn batch_requests_hold_members_with_their_own_ids() {
        let mut enc = SendEncoder::batched("g1", "T", vec![b'y'; 16], 3);
        assert_eq!(enc.batch(), 3);
        let mut buf = BytesMut::new();
        enc.encode(&mut buf, 5, 1, 1_700_000_000_000, &ids());
        let cmd = RemotingCodec::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(cmd.code, 320);
        let h = decode_send_request_header(&cmd).unwrap();
        assert!(h.is_batch());
        let members = rmq_remoting::message::batch::decode(&cmd.body).unwrap();
        assert_eq!(members.len(), 3);
        let keys: std::collections::HashSet<String> = members
            .iter()
            .map(|m| {
                assert!(body_stamp_us(&m.body).is_some());
                rmq_remoting::message::properties::parse(&m.properties)["UNIQ_KEY"].clone()
            })
            .collect();
        assert_eq!(keys.len(), 3, "each member has its own UNIQ_KEY");
    }

    #[test]
    fn signed_requests_carry_a_signature_the_broker_recomputes() {
        let creds = rmq_remoting::acl::SessionCredentials::new("benchak1", "benchsecret");
        for batch in [1, 4] {
            let mut enc =
                SendEncoder::batched("g1", "T", vec![b'x'; 20], batch).signed(Some(creds.clone()), "g1", "T");
            let mut buf = BytesMut::new();
            enc.encode(&mut buf, 1, 2, 1_700_000_000_000, &ids());
            let cmd = RemotingCodec::default().decode(&mut buf).unwrap().unwrap();
            assert_eq!(cmd.ext("AccessKey"), Some("benchak1"));
            let expected =
                rmq_remoting::acl::signature(b"benchsecret", &cmd.ext_fields, &cmd.body, &["Signature"]);
            assert_eq!(cmd.ext("Signature"), Some(expected.as_str()), "batch {batch}");
        }
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
