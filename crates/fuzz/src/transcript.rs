//! The frames captured between real Apache clients and servers, `shared/data/transcripts/*.log`.
//!
//! Line format: `C->S ser=0 hdr=<json header>[\n] body[N]=b'<python bytes repr>'`. The C++
//! client's JSON header ends with a newline, which the log keeps. Bodies are cut at 600 bytes, so a
//! repr shorter than `N` marks a truncated body ([`Frame::complete`] is false).

use std::path::{Path, PathBuf};

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Client to server (a request) or back.
    pub to_server: bool,
    /// The serialize type byte.
    pub serialize: u8,
    /// The header bytes as they were on the wire.
    pub header: Vec<u8>,
    /// The body, possibly cut (see [`Frame::complete`]).
    pub body: Vec<u8>,
    /// Whether `body` is the whole body.
    pub complete: bool,
}

impl Frame {
    /// The frame as it was on the wire (with the cut body, if it was cut).
    pub fn wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.header.len() + self.body.len());
        out.extend_from_slice(&((4 + self.header.len() + self.body.len()) as i32).to_be_bytes());
        out.extend_from_slice(&((u32::from(self.serialize) << 24) | self.header.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.header);
        out.extend_from_slice(&self.body);
        out
    }
}

/// `shared/data/transcripts` in the nearest ancestor of this crate that has it (the main checkout
/// keeps `shared` beside it; a worktree is one or two levels further down).
pub fn find_dir() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/data/transcripts"))
        .find(|p| p.is_dir())
}

/// Every frame of every `.log` file in `dir`, files in name order; unreadable files or records
/// that do not parse are skipped.
pub fn load(dir: &Path) -> Vec<Frame> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|text| parse(&text))
        .collect()
}

/// Parses the records of one transcript, stopping at the first that does not parse.
pub fn parse(text: &str) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut rest = text;
    while let Some((frame, after)) = parse_one(rest) {
        frames.push(frame);
        rest = after;
    }
    frames
}

fn parse_one(text: &str) -> Option<(Frame, &str)> {
    let text = text.trim_start_matches(['\n', '\r']);
    let (to_server, after) = if let Some(r) = text.strip_prefix("C->S ser=") {
        (true, r)
    } else {
        (false, text.strip_prefix("S->C ser=")?)
    };
    let (ser, after) = after.split_once(" hdr=")?;
    let serialize: u8 = ser.parse().ok()?;
    let mut stream = serde_json::Deserializer::from_str(after).into_iter::<serde_json::Value>();
    stream.next()?.ok()?;
    let json_end = stream.byte_offset();
    let after_json = &after[json_end..];
    let newline = usize::from(after_json.starts_with('\n'));
    let header = after.as_bytes()[..json_end + newline].to_vec();
    let body_start = after_json.find("body[")?;
    let (len, repr) = after_json[body_start + 5..].split_once("]=b")?;
    let body_len: usize = len.parse().ok()?;
    let (body, consumed) = parse_py_bytes(repr)?;
    let complete = body.len() == body_len;
    Some((
        Frame {
            to_server,
            serialize,
            header,
            body,
            complete,
        },
        &repr[consumed..],
    ))
}

/// Decodes a python bytes literal (`'...'` or `"..."`): the bytes and the characters consumed.
fn parse_py_bytes(repr: &str) -> Option<(Vec<u8>, usize)> {
    let bytes = repr.as_bytes();
    let quote = *bytes.first()?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 1;
    loop {
        let b = *bytes.get(i)?;
        i += 1;
        if b == quote {
            return Some((out, i));
        }
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let esc = *bytes.get(i)?;
        i += 1;
        match esc {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'x' => {
                let hex = std::str::from_utf8(bytes.get(i..i + 2)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_with_and_without_the_header_newline() {
        let text = "C->S ser=0 hdr={\"code\":105}\n body[3]=b'a\\x00\\''\n\
                    S->C ser=0 hdr={\"code\":0} body[700]=b\"cut\"\n";
        let frames = parse(text);
        assert_eq!(frames.len(), 2);
        assert!(frames[0].to_server && frames[0].complete);
        assert_eq!(frames[0].header, b"{\"code\":105}\n");
        assert_eq!(frames[0].body, b"a\0'");
        assert!(!frames[1].to_server && !frames[1].complete);
        let wire = frames[1].wire();
        assert_eq!(&wire[..8], &[0, 0, 0, 17, 0, 0, 0, 10]);
    }

    #[test]
    fn the_shared_transcripts_load_when_present() {
        let Some(dir) = find_dir() else {
            eprintln!("note: no shared/data/transcripts above this crate; skipping");
            return;
        };
        let frames = load(&dir);
        assert!(frames.len() > 40, "{} frames", frames.len());
        assert!(frames.iter().any(|f| f.to_server) && frames.iter().any(|f| !f.to_server));
    }
}
