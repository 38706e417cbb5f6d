//! Property tests of the frame codec and the commit-log record: hostile bytes never panic the
//! decoder nor make it hold more memory than its frame limit allows, and every representable
//! command and record survives an encode/decode round trip in both header serializations.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use rmq_remoting::body::fastjson;
use rmq_remoting::codec::encode_command;
use rmq_remoting::message::record::body_crc;
use rmq_remoting::message::MessageRecord;
use rmq_remoting::{LanguageCode, RemotingCodec, RemotingCommand, SerializeType};
use tokio_util::codec::Decoder;

/// Decodes until the decoder wants more input or fails; returns the frames decoded.
fn drain(codec: &mut RemotingCodec, buf: &mut BytesMut) -> usize {
    let mut frames = 0;
    while let Ok(Some(_)) = codec.decode(buf) {
        frames += 1;
    }
    frames
}

fn serialize_type() -> impl Strategy<Value = SerializeType> {
    prop_oneof![Just(SerializeType::Json), Just(SerializeType::RocketMq)]
}

fn ext_fields() -> impl Strategy<Value = HashMap<String, String>> {
    prop::collection::hash_map(
        "[a-zA-Z_]{1,12}|\\PC{0,8}",
        "\\PC{0,40}|[\u{1}\u{2}a-z]{0,20}",
        0..8,
    )
}

prop_compose! {
    /// A command any peer could send. The binary header holds code and version in 16 bits and
    /// reads an empty remark as null, so those are generated in range / non-empty for it.
    fn command()(
        kind in serialize_type(),
        code in any::<i16>(),
        wide_code in any::<i32>(),
        language in prop::sample::select(LanguageCode::ALL),
        version in any::<i16>(),
        opaque in any::<i32>(),
        flag in any::<i32>(),
        remark in proptest::option::of("\\PC{1,60}"),
        ext in ext_fields(),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) -> RemotingCommand {
        let mut cmd = RemotingCommand::raw_request(if kind == SerializeType::Json { wide_code } else { code.into() });
        cmd.serialize_type = kind;
        cmd.language = language;
        cmd.version = version.into();
        cmd.opaque = opaque;
        cmd.flag = flag;
        cmd.remark = remark;
        cmd.ext_fields = ext.into_iter().collect();
        cmd.body = Bytes::from(body);
        cmd
    }
}

fn host() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port)),
    ]
}

prop_compose! {
    fn record()(
        queue_id in any::<i32>(),
        flag in any::<i32>(),
        queue_offset in any::<i64>(),
        physical_offset in any::<i64>(),
        sys_flag in any::<i32>(),
        born_timestamp in any::<i64>(),
        born_host in host(),
        store_timestamp in any::<i64>(),
        store_host in host(),
        reconsume_times in any::<i32>(),
        prepared_transaction_offset in any::<i64>(),
        body in prop::collection::vec(any::<u8>(), 0..300),
        topic in "[%a-zA-Z0-9_|-]{0,127}",
        properties in "\\PC{0,100}",
    ) -> MessageRecord {
        MessageRecord {
            queue_id, flag, queue_offset, physical_offset,
            // The host bits follow the addresses; the encoder sets them.
            sys_flag: sys_flag & !0x30,
            born_timestamp, born_host, store_timestamp, store_host, reconsume_times,
            prepared_transaction_offset,
            body_crc: body_crc(&body),
            body: Bytes::from(body),
            topic,
            properties,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048), max in 8usize..4096) {
        let mut codec = RemotingCodec::new(max);
        let mut buf = BytesMut::from(&bytes[..]);
        drain(&mut codec, &mut buf);
        let _ = codec.decode_eof(&mut buf);
        let _ = fastjson::parse(&bytes);
    }

    #[test]
    fn mutated_frames_never_panic(
        cmd in command(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        tail in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = encode_command(&cmd).unwrap().to_vec();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        bytes.extend_from_slice(&tail);
        let mut codec = RemotingCodec::default();
        let mut buf = BytesMut::from(&bytes[..]);
        drain(&mut codec, &mut buf);
        // Byte-at-a-time delivery must behave the same.
        let mut codec = RemotingCodec::new(1 << 16);
        let mut buf = BytesMut::new();
        for b in bytes {
            buf.extend_from_slice(&[b]);
            if codec.decode(&mut buf).is_err() {
                break;
            }
        }
    }

    #[test]
    fn buffer_stays_within_the_frame_limit(
        stream in prop::collection::vec(any::<u8>(), 0..8192),
        valid in prop::collection::vec(command(), 0..4),
        chunk in 1usize..700,
        max in 16usize..2048,
    ) {
        // Valid frames followed by garbage, read the way tokio's FramedRead reads: into the spare
        // capacity, reserving a little when there is none.
        let mut input = Vec::new();
        for cmd in &valid {
            input.extend_from_slice(&encode_command(cmd).unwrap());
        }
        input.extend_from_slice(&stream);
        const INITIAL: usize = 64;
        const SLACK: usize = 64;
        let mut codec = RemotingCodec::new(max);
        let mut buf = BytesMut::with_capacity(INITIAL);
        let mut rest = &input[..];
        while !rest.is_empty() {
            if buf.capacity() == buf.len() {
                buf.reserve(SLACK);
            }
            let n = chunk.min(buf.capacity() - buf.len()).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            let failed = loop {
                match codec.decode(&mut buf) {
                    Ok(Some(_)) => continue,
                    Ok(None) => break false,
                    Err(_) => break true,
                }
            };
            // `BytesMut::reserve` grows like `Vec` (at least doubling), so a buffer that held part
            // of a frame can end up to twice the limit; what matters is that no announced length,
            // however large, is reserved beyond the limit.
            let bound = 2 * INITIAL.max(max) + SLACK;
            prop_assert!(buf.capacity() <= bound, "capacity {} > {bound} (max_frame {max})", buf.capacity());
            if failed {
                break;
            }
        }
    }

    #[test]
    fn commands_round_trip(cmd in command()) {
        let mut buf = encode_command(&cmd).unwrap();
        let decoded = RemotingCodec::default().decode(&mut buf).unwrap().unwrap();
        prop_assert!(buf.is_empty());
        prop_assert_eq!(decoded, cmd);
    }

    #[test]
    fn commands_round_trip_when_split_anywhere(cmd in command(), at in any::<prop::sample::Index>()) {
        let full = encode_command(&cmd).unwrap();
        let split = at.index(full.len());
        let mut codec = RemotingCodec::default();
        let mut buf = BytesMut::from(&full[..split]);
        prop_assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&full[split..]);
        prop_assert_eq!(codec.decode(&mut buf).unwrap().unwrap(), cmd);
    }

    #[test]
    fn records_round_trip(rec in record()) {
        let bytes = rec.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), rec.encoded_len());
        let (back, size) = MessageRecord::decode(&bytes, true).unwrap();
        prop_assert_eq!(size, bytes.len());
        let mut expected = rec.clone();
        if rec.born_host.is_ipv6() {
            expected.sys_flag |= 0x10;
        }
        if rec.store_host.is_ipv6() {
            expected.sys_flag |= 0x20;
        }
        prop_assert_eq!(&back, &expected);
        // Back to back, as in a pull body.
        let mut two = BytesMut::from(&bytes[..]);
        two.extend_from_slice(&bytes);
        let all = MessageRecord::decode_all(&two.freeze()).unwrap();
        prop_assert_eq!(all.len(), 2);
    }

    #[test]
    fn mutated_records_never_panic(
        rec in record(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = rec.to_bytes().unwrap().to_vec();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = MessageRecord::decode(&bytes, true);
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = MessageRecord::decode_all(&Bytes::from(bytes));
    }
}
