//! Java `.properties` files, the format of `broker.conf` and `namesrv.conf`: `key=value`,
//! `key: value` or `key value` lines, `#`/`!` comments, `\` line continuations and the usual
//! escapes. Later keys win, as in `java.util.Properties`.

use std::collections::BTreeMap;

/// Parsed properties in key order; each value remembers its line for error messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JavaProperties {
    entries: BTreeMap<String, (String, usize)>,
}

impl JavaProperties {
    /// Parses the text of a properties file.
    pub fn parse(text: &str) -> JavaProperties {
        let mut entries = BTreeMap::new();
        let mut lines = text.lines().enumerate();
        while let Some((index, line)) = lines.next() {
            let mut logical = line.trim_start().to_string();
            if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
                continue;
            }
            while ends_with_continuation(&logical) {
                logical.pop();
                match lines.next() {
                    Some((_, next)) => logical.push_str(next.trim_start()),
                    None => break,
                }
            }
            let (key, value) = split_key_value(&logical);
            entries.insert(unescape(&key), (unescape(value.trim_end()), index + 1));
        }
        JavaProperties { entries }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(|(v, _)| v.as_str())
    }

    /// The line `key` was defined on (1-based).
    pub fn line_of(&self, key: &str) -> Option<usize> {
        self.entries.get(key).map(|(_, line)| *line)
    }

    /// Sets a value (for overrides from flags).
    pub fn set(&mut self, key: &str, value: &str) {
        self.entries.insert(key.to_string(), (value.to_string(), 0));
    }

    /// Every key and value, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, (v, _))| (k.as_str(), v.as_str()))
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn ends_with_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

fn split_key_value(line: &str) -> (String, &str) {
    let mut key = String::new();
    let mut chars = line.char_indices();
    let mut rest_start = line.len();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                key.push('\\');
                if let Some((_, escaped)) = chars.next() {
                    key.push(escaped);
                }
            }
            '=' | ':' | ' ' | '\t' => {
                rest_start = i;
                break;
            }
            _ => key.push(c),
        }
    }
    let rest = line[rest_start..].trim_start_matches([' ', '\t']);
    let rest = rest
        .strip_prefix(['=', ':'])
        .unwrap_or(rest)
        .trim_start_matches([' ', '\t']);
    (key, rest)
}

/// `value` written so that [`JavaProperties::parse`] (and Java's `Properties.load`) reads it back
/// unchanged: backslashes, line breaks, tabs and form feeds escaped, and whitespace at either end
/// (which a reader skips or trims) written as `\uXXXX`. Other characters stay as they are, so a
/// path or an address prints as itself.
pub fn escape_value(value: &str) -> String {
    let inner_from = value.len() - value.trim_start().len();
    let inner_to = value.trim_end().len().max(inner_from);
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.char_indices() {
        match c {
            c if (i < inner_from || i >= inner_to) => out.push_str(&format!("\\u{:04X}", c as u32)),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_values_read_back_unchanged() {
        for value in [
            "plain",
            "/store path/with spaces",
            "!\n# broker-a",
            "back\\slash\ttab\rcr\u{c}ff",
            "  lead and trail  ",
            " ",
            "\t\u{3000}wide\u{a0}",
            "",
            "127.0.0.1:9876;127.0.0.2:9876",
        ] {
            let text = format!("k={}\n", escape_value(value));
            assert_eq!(JavaProperties::parse(&text).get("k"), Some(value), "{text:?}");
        }
        assert_eq!(escape_value("/a b/c"), "/a b/c", "inner spaces stay readable");
    }

    #[test]
    fn parses_broker_conf_shapes() {
        let text = "# comment\n! also\nbrokerClusterName = DefaultCluster\nbrokerName:broker-a\nbrokerId 0\n\
                    namesrvAddr=127.0.0.1:9876;127.0.0.1:9877\nlong=a\\\n   b\npath=C\\:\\\\x\nempty=\n";
        let p = JavaProperties::parse(text);
        assert_eq!(p.get("brokerClusterName"), Some("DefaultCluster"));
        assert_eq!(p.get("brokerName"), Some("broker-a"));
        assert_eq!(p.get("brokerId"), Some("0"));
        assert_eq!(p.get("namesrvAddr"), Some("127.0.0.1:9876;127.0.0.1:9877"));
        assert_eq!(p.get("long"), Some("ab"));
        assert_eq!(p.get("path"), Some("C:\\x"));
        assert_eq!(p.get("empty"), Some(""));
        assert_eq!(p.line_of("brokerName"), Some(4));
    }
}
