//! [`clip`]: peer input cut to a bounded length before it goes into a log line or an error
//! remark, so a request carrying a megabyte-long field cannot make the server copy it whole into
//! every WARN line it writes.

use std::borrow::Cow;

/// Most bytes of peer input kept in a log line or remark.
pub const CLIP_BYTES: usize = 256;

/// `text` unchanged when it is at most [`CLIP_BYTES`] long, else its first [`CLIP_BYTES`] bytes
/// (cut at a character boundary) followed by `...(<n> bytes)` naming the full length.
pub fn clip(text: &str) -> Cow<'_, str> {
    if text.len() <= CLIP_BYTES {
        return Cow::Borrowed(text);
    }
    let mut end = CLIP_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}...({} bytes)", &text[..end], text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_and_long_text_is_cut_with_its_length() {
        assert_eq!(clip("abc"), "abc");
        let long = "7".repeat(1_000_000);
        let cut = clip(&long);
        assert!(cut.len() < CLIP_BYTES + 32, "{}", cut.len());
        assert!(cut.ends_with("...(1000000 bytes)"), "{cut}");
        // A multi-byte character straddling the cut is not split.
        let wide = "é".repeat(200);
        assert!(clip(&wide).starts_with(&"é".repeat(128)));
    }
}
