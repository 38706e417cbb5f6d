//! Replays every frame captured between real Apache clients and servers
//! (`shared/data/transcripts/*.log`) through the codec, the typed headers and the body types.
//!
//! Line format: `C->S ser=0 hdr=<json header>[\n] body[N]=b'<python bytes repr>'`. The C++ client's
//! JSON header ends with a newline, which the log keeps; bodies are cut at 600 bytes, so a repr
//! shorter than `N` marks a truncated body (still fine as raw frame bytes, not as JSON).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::{BufMut, BytesMut};
use rmq_remoting::body::{ConsumerIdList, HeartbeatData, JsonBody, TopicRouteData};
use rmq_remoting::codec::encode_command;
use rmq_remoting::headers::{client, namesrv, offset, pull, send};
use rmq_remoting::{CommandHeader, RemotingCodec, RemotingCommand, RequestCode, SerializeType};
use serde_json::Value;
use tokio_util::codec::Decoder;

/// One captured frame.
struct Frame {
    file: String,
    to_server: bool,
    serialize: u8,
    header_text: String,
    header: Value,
    body: Vec<u8>,
    body_len: usize,
}

impl Frame {
    fn complete(&self) -> bool {
        self.body.len() == self.body_len
    }

    fn what(&self) -> String {
        let dir = if self.to_server { "C->S" } else { "S->C" };
        format!("{} {dir} {}", self.file, self.header_text.trim_end())
    }
}

fn transcript_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/transcripts")
}

fn load_frames() -> Option<Vec<Frame>> {
    let dir = transcript_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("note: no transcripts at {}; skipping", dir.display());
        return None;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    paths.sort();
    let mut frames = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("transcript is UTF-8");
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        frames.extend(parse_transcript(&file, &text));
    }
    Some(frames)
}

fn parse_transcript(file: &str, text: &str) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut rest = text;
    while !rest.trim().is_empty() {
        let (to_server, after) = if let Some(r) = rest.strip_prefix("C->S ser=") {
            (true, r)
        } else if let Some(r) = rest.strip_prefix("S->C ser=") {
            (false, r)
        } else {
            panic!(
                "{file}: unexpected record start {:?}",
                &rest[..rest.len().min(40)]
            );
        };
        let (ser, after) = after.split_once(" hdr=").expect("hdr=");
        let serialize: u8 = ser.parse().expect("serialize type");
        let mut stream = serde_json::Deserializer::from_str(after).into_iter::<Value>();
        let header = stream.next().expect("a header").expect("header is JSON");
        let json_end = stream.byte_offset();
        // The header bytes on the wire: the JSON plus the C++ client's trailing newline, if any.
        let after_json = &after[json_end..];
        let newline = after_json.starts_with('\n');
        let header_text = after[..json_end + usize::from(newline)].to_string();
        let body_start = after_json.find("body[").expect("body[");
        let after_body = &after_json[body_start + 5..];
        let (len, repr) = after_body.split_once("]=b").expect("]=b");
        let body_len: usize = len.parse().expect("body length");
        let (body, consumed) = parse_py_bytes(repr);
        frames.push(Frame {
            file: file.to_string(),
            to_server,
            serialize,
            header_text,
            header,
            body,
            body_len,
        });
        rest = repr[consumed..].trim_start_matches(['\n', '\r']);
    }
    frames
}

/// Decodes a python bytes literal body (`'...'` or `"..."`), returning the bytes and the number of
/// characters consumed.
fn parse_py_bytes(repr: &str) -> (Vec<u8>, usize) {
    let bytes = repr.as_bytes();
    let quote = bytes[0];
    assert!(quote == b'\'' || quote == b'"', "bytes literal quote");
    let mut out = Vec::new();
    let mut i = 1;
    loop {
        let b = bytes[i];
        i += 1;
        if b == quote {
            return (out, i);
        }
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let esc = bytes[i];
        i += 1;
        match esc {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'x' => {
                let hex = std::str::from_utf8(&bytes[i..i + 2]).unwrap();
                out.push(u8::from_str_radix(hex, 16).expect("\\x escape"));
                i += 2;
            }
            other => out.push(other), // \\ \' \"
        }
    }
}

fn frame_bytes(f: &Frame) -> BytesMut {
    let header = f.header_text.as_bytes();
    let mut buf = BytesMut::new();
    buf.put_i32((4 + header.len() + f.body.len()) as i32);
    buf.put_u32((u32::from(f.serialize) << 24) | header.len() as u32);
    buf.put_slice(header);
    buf.put_slice(&f.body);
    buf
}

fn decode_one(mut buf: BytesMut) -> RemotingCommand {
    let cmd = RemotingCodec::default()
        .decode(&mut buf)
        .expect("decodes")
        .expect("a whole frame");
    assert!(buf.is_empty(), "the frame is consumed exactly");
    cmd
}

fn assert_header_matches(cmd: &RemotingCommand, f: &Frame) {
    let h = &f.header;
    let what = f.what();
    assert_eq!(cmd.serialize_type, SerializeType::Json, "{what}");
    assert_eq!(i64::from(cmd.code), h["code"].as_i64().unwrap(), "code of {what}");
    assert_eq!(
        i64::from(cmd.flag),
        h["flag"].as_i64().unwrap_or(0),
        "flag of {what}"
    );
    assert_eq!(
        i64::from(cmd.opaque),
        h["opaque"].as_i64().unwrap(),
        "opaque of {what}"
    );
    assert_eq!(
        i64::from(cmd.version),
        h["version"].as_i64().unwrap(),
        "version of {what}"
    );
    assert_eq!(
        cmd.language.name(),
        h["language"].as_str().unwrap(),
        "language of {what}"
    );
    assert_eq!(cmd.remark.as_deref(), h["remark"].as_str(), "remark of {what}");
    let expected: rmq_remoting::command::ExtFields = h
        .get("extFields")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(cmd.ext_fields, expected, "extFields of {what}");
    assert_eq!(&cmd.body[..], &f.body[..], "body of {what}");
}

#[test]
fn every_frame_decodes_and_re_encodes() {
    let Some(frames) = load_frames() else { return };
    assert!(
        frames.len() >= 80,
        "expected the whole capture, got {} frames",
        frames.len()
    );
    let mut with_newline = 0;
    for f in &frames {
        with_newline += usize::from(f.header_text.ends_with('\n'));
        let cmd = decode_one(frame_bytes(f));
        assert_header_matches(&cmd, f);

        let again = decode_one(encode_command(&cmd).expect("encodes"));
        assert_eq!(again, cmd, "JSON re-encode of {}", f.what());

        // The same command in the binary header; an empty remark is null there.
        let binary = RemotingCommand {
            serialize_type: SerializeType::RocketMq,
            ..cmd.clone()
        };
        let back = decode_one(encode_command(&binary).expect("encodes"));
        let expected = RemotingCommand {
            remark: cmd.remark.clone().filter(|r| !r.is_empty()),
            ..binary
        };
        assert_eq!(back, expected, "binary re-encode of {}", f.what());
    }
    assert!(with_newline > 0, "the C++ headers end with a newline");
}

#[test]
fn request_headers_decode_into_their_types() {
    let Some(frames) = load_frames() else { return };
    let mut typed = 0;
    for f in frames.iter().filter(|f| f.to_server) {
        let cmd = decode_one(frame_bytes(f));
        let what = f.what();
        let ok = match RequestCode::try_from(cmd.code) {
            Ok(RequestCode::GET_ROUTEINFO_BY_TOPIC) => {
                let h: namesrv::GetRouteInfoRequestHeader = cmd.decode_header().expect(&what);
                assert!(!h.topic.is_empty());
                true
            }
            Ok(RequestCode::SEND_MESSAGE_V2) => {
                let h = send::decode_send_request_header(&cmd).expect(&what);
                assert_eq!(h.topic, "TopicGolden");
                assert_eq!(
                    send::SendMessageRequestHeaderV2::from(h).to_ext_fields(),
                    cmd.ext_fields
                );
                true
            }
            Ok(RequestCode::UNREGISTER_CLIENT) => {
                cmd.decode_header::<client::UnregisterClientRequestHeader>()
                    .expect(&what);
                true
            }
            Ok(RequestCode::GET_CONSUMER_LIST_BY_GROUP) => {
                cmd.decode_header::<client::GetConsumerListByGroupRequestHeader>()
                    .expect(&what);
                true
            }
            Ok(RequestCode::QUERY_CONSUMER_OFFSET) => {
                cmd.decode_header::<offset::QueryConsumerOffsetRequestHeader>()
                    .expect(&what);
                true
            }
            Ok(RequestCode::UPDATE_CONSUMER_OFFSET) => {
                assert!(cmd.is_oneway(), "{what}");
                cmd.decode_header::<offset::UpdateConsumerOffsetRequestHeader>()
                    .expect(&what);
                true
            }
            Ok(RequestCode::PULL_MESSAGE) => {
                let h: pull::PullMessageRequestHeader = cmd.decode_header().expect(&what);
                assert!(h.has_suspend());
                true
            }
            _ => false,
        };
        typed += usize::from(ok);
    }
    assert!(typed >= 30, "only {typed} requests were typed");
}

#[test]
fn server_pushes_and_responses_decode_into_their_types() {
    let Some(frames) = load_frames() else { return };
    // Request code per (file, opaque), to know what each response answers.
    let mut pending: HashMap<(String, i32), i32> = HashMap::new();
    let (mut routes, mut sends, mut id_lists, mut notifies, mut heartbeats) = (0, 0, 0, 0, 0);
    for f in &frames {
        let cmd = decode_one(frame_bytes(f));
        let what = f.what();
        if f.to_server {
            pending.insert((f.file.clone(), cmd.opaque), cmd.code);
            if cmd.code == RequestCode::HEART_BEAT.code() && f.complete() {
                HeartbeatData::decode(&cmd.body).expect(&what);
                heartbeats += 1;
            }
            continue;
        }
        if !cmd.is_response() {
            assert_eq!(
                cmd.code,
                RequestCode::NOTIFY_CONSUMER_IDS_CHANGED.code(),
                "{what}"
            );
            assert!(cmd.is_oneway());
            let h: client::NotifyConsumerIdsChangedRequestHeader = cmd.decode_header().expect(&what);
            assert_eq!(h.consumer_group, "interop_java_consumer");
            notifies += 1;
            continue;
        }
        let Some(code) = pending.get(&(f.file.clone(), cmd.opaque)).copied() else {
            continue;
        };
        if !cmd.is_success() || !f.complete() {
            continue;
        }
        match RequestCode::try_from(code) {
            Ok(RequestCode::GET_ROUTEINFO_BY_TOPIC) => {
                let route = TopicRouteData::decode(&cmd.body).expect(&what);
                let broker = &route.broker_datas[0];
                assert_eq!(broker.broker_name, "broker-a");
                assert!(
                    broker.master_addr().is_some_and(|a| a.starts_with("127.0.0.1:")),
                    "{what}"
                );
                assert_eq!(route.queue_datas[0].broker_name, "broker-a");
                assert_eq!(TopicRouteData::decode(&route.encode()).unwrap(), route);
                routes += 1;
            }
            Ok(RequestCode::SEND_MESSAGE_V2) => {
                let h: send::SendMessageResponseHeader = cmd.decode_header().expect(&what);
                assert_eq!(h.msg_id.len(), 32);
                assert_eq!(h.msg_region.as_deref(), Some(send::DEFAULT_REGION));
                assert_eq!(h.trace_on, Some(true));
                sends += 1;
            }
            Ok(RequestCode::QUERY_CONSUMER_OFFSET) => {
                cmd.decode_header::<offset::QueryConsumerOffsetResponseHeader>()
                    .expect(&what);
            }
            Ok(RequestCode::GET_CONSUMER_LIST_BY_GROUP) => {
                let list = ConsumerIdList::decode(&cmd.body).expect(&what);
                assert_eq!(list.consumer_id_list.len(), 1);
                assert_eq!(list.encode(), cmd.body);
                id_lists += 1;
            }
            _ => {}
        }
    }
    assert!(routes >= 8, "route bodies decoded: {routes}");
    assert_eq!(sends, 3);
    assert!(id_lists >= 1);
    assert_eq!(notifies, 1);
    // Heartbeat bodies in the capture are longer than 600 bytes, hence truncated.
    assert_eq!(heartbeats, 0);
}

#[test]
fn truncated_heartbeat_prefix_is_the_expected_shape() {
    let Some(frames) = load_frames() else { return };
    let hb = frames
        .iter()
        .find(|f| f.to_server && f.header["code"] == 34)
        .expect("a heartbeat in the capture");
    assert!(!hb.complete());
    // A cut body is an error, never a panic.
    assert!(HeartbeatData::decode(&hb.body).is_err());
    let text = String::from_utf8_lossy(&hb.body);
    assert!(text.starts_with(r#"{"clientID":"192.0.2.2@"#));
    assert!(text.contains(r#""consumeType":"CONSUME_PASSIVELY""#));
}
