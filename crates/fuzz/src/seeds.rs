//! Each target's corpus: valid inputs built from the Apache transcripts (or, where the shared
//! transcripts are not checked out, from a few frames shaped like them) plus the dictionary its
//! format's syntax suggests.
//!
//! REGISTER_BROKER bodies and broker.conf files are not in the transcripts: their seeds are a
//! register body of the transcripts' topics and Apache's shipped `broker.conf` files.

use std::io::{Read, Write};
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use rmq_broker::config::BrokerConfig;
use rmq_remoting::body::{DataVersion, JsonBody, RegisterBrokerBody, TopicConfig};
use rmq_remoting::codec::encode_command;
use rmq_remoting::message::batch::{self, BatchItem};
use rmq_remoting::message::record::{body_crc, MESSAGE_MAGIC};
use rmq_remoting::message::MessageRecord;
use rmq_remoting::serialize::{decode_header, encode_header, HeaderFields};
use rmq_remoting::{RemotingCommand, RequestCode, SerializeType};

use crate::mutate::Corpus;
use crate::transcript::{self, Frame};

/// The shared transcripts' frames, or stand-ins shaped like them when they are not there.
pub fn frames() -> Vec<Frame> {
    let loaded = transcript::find_dir()
        .map(|d| transcript::load(&d))
        .unwrap_or_default();
    if loaded.is_empty() {
        eprintln!("note: no shared transcripts found; fuzzing from built-in frames");
        stand_in_frames()
    } else {
        loaded
    }
}

fn stand_in_frames() -> Vec<Frame> {
    let send = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
        .with_ext("a", "interop_java_producer")
        .with_ext("b", "TopicGolden")
        .with_ext("c", "TBW102")
        .with_ext("d", 4)
        .with_ext("e", 1)
        .with_ext("i", "KEYS\u{1}key-0\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA")
        .with_body(&b"hello-0"[..]);
    let route =
        RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC).with_ext("topic", "TopicGolden");
    let reply = send.reply(rmq_remoting::ResponseCode::SUCCESS, Some("OK".into()));
    [send, route, reply]
        .into_iter()
        .filter_map(|cmd| {
            let wire = encode_command(&cmd).ok()?;
            let header_len =
                (u32::from_be_bytes([wire[4], wire[5], wire[6], wire[7]]) & 0x00FF_FFFF) as usize;
            Some(Frame {
                to_server: !cmd.is_response(),
                serialize: 0,
                header: wire[8..8 + header_len].to_vec(),
                body: wire[8 + header_len..].to_vec(),
                complete: true,
            })
        })
        .collect()
}

fn words(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|w| w.as_bytes().to_vec()).collect()
}

const JSON_WORDS: &[&str] = &[
    "\"",
    "\\",
    "\\u",
    "\\ud800",
    "\\udc00",
    "\\u0000",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "null",
    "true",
    "false",
    "-0",
    "1e309",
    "-9223372036854775809",
    "2147483648",
    "\"extFields\":",
    "\"remark\":",
    "\"code\":",
    "\"language\":",
    "\"JAVA\"",
    "\"version\":",
    "\"opaque\":",
    "\"flag\":",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "{\"a\":{\"b\":{\"c\":",
    " \t\r\n",
    "\u{0}",
    "\u{1}",
    "\u{2}",
    "\u{feff}",
    "\u{10ffff}",
];

/// Whole frames, one or two back to back.
pub fn frame_corpus(frames: &[Frame]) -> Corpus {
    let mut seeds: Vec<Vec<u8>> = frames.iter().map(Frame::wire).collect();
    if let [a, b, ..] = frames {
        seeds.push([a.wire(), b.wire()].concat());
    }
    Corpus {
        seeds,
        dictionary: words(JSON_WORDS),
    }
}

/// The JSON header bytes of every frame.
pub fn json_header_corpus(frames: &[Frame]) -> Corpus {
    Corpus {
        seeds: frames
            .iter()
            .filter(|f| f.serialize == 0)
            .map(|f| f.header.clone())
            .collect(),
        dictionary: words(JSON_WORDS),
    }
}

/// A command carrying the fields of a decoded header (and no body).
pub fn command_of(h: HeaderFields, serialize_type: SerializeType) -> RemotingCommand {
    let mut cmd = RemotingCommand::raw_request(h.code);
    cmd.language = h.language;
    cmd.version = h.version;
    cmd.opaque = h.opaque;
    cmd.flag = h.flag;
    cmd.remark = h.remark;
    cmd.ext_fields = h.ext_fields;
    cmd.serialize_type = serialize_type;
    cmd
}

/// The header bytes of `cmd` in its own serialization.
pub fn header_bytes(cmd: &RemotingCommand) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode_header(cmd, &mut buf);
    buf.to_vec()
}

/// Every transcript header re-encoded in the ROCKETMQ binary layout.
pub fn binary_header_corpus(frames: &[Frame]) -> Corpus {
    let seeds = frames
        .iter()
        .filter_map(|f| decode_header(SerializeType::Json, &f.header).ok())
        .map(|h| header_bytes(&command_of(h, SerializeType::RocketMq)))
        .collect();
    Corpus {
        seeds,
        dictionary: vec![vec![0; 4], vec![0xFF; 4], vec![0x7F, 0xFF, 0xFF, 0xFF]],
    }
}

/// (topic, properties, body) of every SEND_MESSAGE_V2 request.
fn sent_messages(frames: &[Frame]) -> Vec<(String, String, Vec<u8>)> {
    frames
        .iter()
        .filter(|f| f.to_server && f.complete && f.serialize == 0)
        .filter_map(|f| Some((decode_header(SerializeType::Json, &f.header).ok()?, f)))
        .filter(|(h, _)| h.code == RequestCode::SEND_MESSAGE_V2 as i32)
        .filter_map(|(h, f)| {
            let topic = h.ext_fields.get("b")?.clone();
            let props = h.ext_fields.get("i").cloned().unwrap_or_default();
            Some((topic, props, f.body.clone()))
        })
        .collect()
}

/// Commit-log records: the whole records of the transcripts' pull replies, and records of the
/// messages the transcripts send, with IPv4 and IPv6 hosts.
pub fn record_corpus(frames: &[Frame]) -> Corpus {
    let mut seeds = Vec::new();
    for f in frames.iter().filter(|f| !f.to_server && f.body.len() > 8) {
        if f.body[4..8] != MESSAGE_MAGIC.to_be_bytes() {
            continue;
        }
        let mut rest = Bytes::from(f.body.clone());
        while let Ok((_, size)) = MessageRecord::decode_bytes(&rest, true) {
            seeds.push(rest[..size].to_vec());
            rest = rest.slice(size..);
        }
    }
    let v4: SocketAddr = "127.0.0.1:10911".parse().expect("literal address");
    let v6: SocketAddr = "[::1]:10911".parse().expect("literal address");
    for (i, (topic, properties, body)) in sent_messages(frames).into_iter().enumerate() {
        let record = MessageRecord {
            queue_id: i as i32,
            queue_offset: i as i64,
            physical_offset: 202 * i as i64,
            born_timestamp: 1_795_263_447_712,
            store_timestamp: 1_795_263_447_800,
            born_host: if i % 2 == 0 { v4 } else { v6 },
            store_host: v4,
            body_crc: body_crc(&body),
            body: body.into(),
            topic,
            properties,
            ..MessageRecord::default()
        };
        if let Ok(bytes) = record.to_bytes() {
            seeds.push(bytes.to_vec());
        }
    }
    if seeds.is_empty() {
        seeds.push(vec![0; 4]);
    }
    Corpus {
        dictionary: vec![MESSAGE_MAGIC.to_be_bytes().to_vec(), vec![0xCB, 0xD4, 0x31, 0x94]],
        seeds,
    }
}

/// SEND_BATCH_MESSAGE bodies of the transcripts' messages: each alone, and all of them together.
pub fn batch_corpus(frames: &[Frame]) -> Corpus {
    let items: Vec<BatchItem> = sent_messages(frames)
        .into_iter()
        .map(|(_, properties, body)| BatchItem {
            flag: 0,
            body: body.into(),
            properties,
        })
        .collect();
    let mut seeds: Vec<Vec<u8>> = items
        .iter()
        .map(|i| batch::encode(std::slice::from_ref(i)).to_vec())
        .collect();
    seeds.push(batch::encode(&items).to_vec());
    Corpus {
        seeds,
        dictionary: words(&["\u{1}", "\u{2}", "TAGS\u{1}", "KEYS\u{1}"]),
    }
}

/// A register body holding the transcripts' topics and the system topics a broker registers.
pub fn register_body(frames: &[Frame]) -> RegisterBrokerBody {
    let mut body = RegisterBrokerBody::default();
    let wrapper = &mut body.topic_config_serialize_wrapper;
    wrapper.data_version = DataVersion {
        counter: 3,
        timestamp: 1_795_263_440_000,
    };
    let mut names: Vec<String> = [
        "TBW102",
        "SELF_TEST_TOPIC",
        "DefaultCluster",
        "%RETRY%interop_java_consumer",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.extend(sent_messages(frames).into_iter().map(|(t, _, _)| t));
    for (i, name) in names.into_iter().enumerate() {
        // The compressed form has no `order` field (Java's TopicConfig.encode), so none is set.
        let tc = TopicConfig::new(name.clone(), 4 + i as i32);
        wrapper.topic_config_table.insert(name, tc);
    }
    body
}

/// Plain REGISTER_BROKER bodies (JSON).
pub fn register_json_corpus(frames: &[Frame]) -> Corpus {
    let full = register_body(frames);
    let mut ordered = full.clone();
    for tc in ordered
        .topic_config_serialize_wrapper
        .topic_config_table
        .values_mut()
    {
        tc.order = true;
    }
    let mut empty = full.clone();
    empty.topic_config_serialize_wrapper.topic_config_table.clear();
    Corpus {
        seeds: vec![
            full.encode().to_vec(),
            ordered.encode().to_vec(),
            empty.encode().to_vec(),
        ],
        dictionary: words(JSON_WORDS),
    }
}

/// Inflated compressed-form register bodies (the layout before zlib; the target deflates).
pub fn register_raw_corpus(frames: &[Frame]) -> Corpus {
    let seeds = vec![inflate(&register_body(frames).encode_compressed()).unwrap_or_default()];
    Corpus {
        seeds,
        dictionary: words(&[
            " ",
            "SINGLE_TAG",
            "MULTI_TAG",
            "-1",
            "2147483648",
            "{}",
            "[]",
            "\"a\"",
        ]),
    }
}

/// Java's `DeflaterOutputStream` form of `raw`.
pub fn deflate(raw: &[u8]) -> Vec<u8> {
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(raw);
    enc.finish().unwrap_or_default()
}

/// Inflates a zlib stream.
pub fn inflate(z: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    ZlibDecoder::new(z).read_to_end(&mut out).ok()?;
    Some(out)
}

/// Apache 4.9's shipped `conf/broker.conf` and `conf/2m-2s-sync/broker-a(-s).conf`, and the
/// effective configuration this broker prints.
pub fn broker_conf_corpus() -> Corpus {
    let apache = "brokerClusterName = DefaultCluster\nbrokerName = broker-a\nbrokerId = 0\ndeleteWhen = 04\n\
                  fileReservedTime = 48\nbrokerRole = ASYNC_MASTER\nflushDiskType = ASYNC_FLUSH\n";
    let sync_master =
        "#  Licensed to the Apache Software Foundation (ASF)\nbrokerClusterName=DefaultCluster\n\
                       brokerName=broker-a\nbrokerId=0\ndeleteWhen=04\nfileReservedTime=48\n\
                       brokerRole=SYNC_MASTER\nflushDiskType=ASYNC_FLUSH\n";
    let slave = "brokerClusterName=DefaultCluster\r\nbrokerName=broker-a\r\nbrokerId=1\r\ndeleteWhen=04\r\n\
                 fileReservedTime=48\r\nbrokerRole=SLAVE\r\nflushDiskType=ASYNC_FLUSH\r\n\
                 namesrvAddr=127.0.0.1:9876;127.0.0.1:9877\r\nmessageDelayLevel=1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h\r\n";
    let effective = BrokerConfig::default().to_properties();
    let mut dictionary = words(&[
        "=",
        ":",
        " ",
        "\t",
        "\\",
        "\\u",
        "\\u00",
        "\\\n",
        "\n",
        "\r\n",
        "#",
        "!",
        "true",
        "false",
        "SLAVE",
        "SYNC_MASTER",
        "SYNC_FLUSH",
        "-1",
        "0",
        "65536",
        "99999999999999999999",
        "0.5",
        "NaN",
        "1s",
        "2h",
        "127.0.0.1:9876",
        ";",
    ]);
    dictionary.extend(
        effective
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, _)| format!("\n{k}=").into_bytes()),
    );
    Corpus {
        seeds: vec![
            apache.as_bytes().to_vec(),
            sync_master.as_bytes().to_vec(),
            slave.as_bytes().to_vec(),
            effective.into_bytes(),
        ],
        dictionary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_corpus_has_valid_seeds() {
        let frames = frames();
        assert!(frame_corpus(&frames).seeds.len() >= 3);
        let headers = json_header_corpus(&frames);
        for h in &headers.seeds {
            decode_header(SerializeType::Json, h).unwrap();
        }
        for h in &binary_header_corpus(&frames).seeds {
            decode_header(SerializeType::RocketMq, h).unwrap();
        }
        let records = record_corpus(&frames);
        assert!(records.seeds.len() >= 2);
        for r in &records.seeds {
            MessageRecord::decode(r, true).unwrap();
        }
        for b in &batch_corpus(&frames).seeds {
            assert!(!batch::decode(&Bytes::from(b.clone())).unwrap().is_empty());
        }
        let body = register_body(&frames);
        for seed in &register_json_corpus(&frames).seeds {
            RegisterBrokerBody::decode(seed).unwrap();
        }
        let raw = &register_raw_corpus(&frames).seeds[0];
        assert_eq!(
            RegisterBrokerBody::decode_compressed(&deflate(raw)).unwrap(),
            body
        );
        for conf in &broker_conf_corpus().seeds {
            let text = std::str::from_utf8(conf).unwrap();
            let props = rmq_remoting::java_properties::JavaProperties::parse(text);
            BrokerConfig::from_properties(&props).unwrap();
        }
    }
}
