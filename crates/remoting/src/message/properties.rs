//! The properties string: `key \u0001 value \u0002 key \u0001 value ...`.
//!
//! Decoding follows `MessageDecoder.string2messageProperties`: segments split on `\u0002`, each
//! split at its first `\u0001`; segments with an empty key or value are ignored.

use std::collections::HashMap;

/// Separates a key from its value.
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Separates two properties.
pub const PROPERTY_SEPARATOR: char = '\u{2}';

/// Well-known property keys (`MessageConst`).
pub mod keys {
    pub const KEYS: &str = "KEYS";
    pub const TAGS: &str = "TAGS";
    pub const WAIT: &str = "WAIT";
    pub const DELAY: &str = "DELAY";
    pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
    pub const REAL_TOPIC: &str = "REAL_TOPIC";
    pub const REAL_QID: &str = "REAL_QID";
    pub const TRAN_MSG: &str = "TRAN_MSG";
    pub const PGROUP: &str = "PGROUP";
    pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
    pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
    pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
    pub const MIN_OFFSET: &str = "MIN_OFFSET";
    pub const MAX_OFFSET: &str = "MAX_OFFSET";
    pub const UNIQ_KEY: &str = "UNIQ_KEY";
    pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
    pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
    pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
    pub const CLUSTER: &str = "CLUSTER";
    pub const MSG_REGION: &str = "MSG_REGION";
    pub const TRACE_ON: &str = "TRACE_ON";
    pub const CONSUME_START_TIME: &str = "CONSUME_START_TIME";
}

/// A message's user and system properties.
pub type Properties = HashMap<String, String>;

/// Parses a properties string.
pub fn parse(s: &str) -> Properties {
    let mut props = Properties::new();
    for segment in s.split(PROPERTY_SEPARATOR) {
        if let Some((k, v)) = segment.split_once(NAME_VALUE_SEPARATOR) {
            if !k.is_empty() && !v.is_empty() {
                props.insert(k.to_string(), v.to_string());
            }
        }
    }
    props
}

/// Renders properties (sorted by key, so the output is deterministic).
pub fn render(props: &Properties) -> String {
    let mut entries: Vec<_> = props.iter().collect();
    entries.sort();
    let mut out = String::new();
    for (k, v) in entries {
        if !out.is_empty() {
            out.push(PROPERTY_SEPARATOR);
        }
        out.push_str(k);
        out.push(NAME_VALUE_SEPARATOR);
        out.push_str(v);
    }
    out
}

/// Looks one property up in a raw properties string without building a map (the broker does
/// this several times per message, so it scans with memchr rather than char by char).
pub fn find<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let bytes = s.as_bytes();
    let mut at = 0;
    while at <= bytes.len() {
        let end = memchr::memchr(PROPERTY_SEPARATOR as u8, &bytes[at..]).map_or(bytes.len(), |n| at + n);
        let segment = &s[at..end];
        if let Some((k, v)) = segment.split_once(NAME_VALUE_SEPARATOR) {
            if k == key && !v.is_empty() {
                return Some(v);
            }
        }
        at = end + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_render_round_trip() {
        let raw = "KEYS\u{1}key-0\u{2}UNIQ_KEY\u{1}FD00\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA";
        let props = parse(raw);
        assert_eq!(props.len(), 4);
        assert_eq!(props["TAGS"], "TagA");
        assert_eq!(parse(&render(&props)), props);
        assert_eq!(find(raw, "WAIT"), Some("true"));
        assert_eq!(find(raw, "DELAY"), None);
    }

    #[test]
    fn ignores_broken_segments() {
        let props = parse("\u{1}x\u{2}k\u{1}\u{2}ok\u{1}1\u{2}junk\u{2}");
        assert_eq!(props.len(), 1);
        assert_eq!(props["ok"], "1");
    }
}
