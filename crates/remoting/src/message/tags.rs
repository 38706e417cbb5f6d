//! Tag hash codes: consume-queue entries store Java's `String.hashCode()` of the `TAGS` property,
//! and subscriptions match on the same codes.

/// Java's `String.hashCode()`: `h = 31*h + c` over UTF-16 code units, wrapping at 32 bits.
pub fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// The consume-queue tags code for a message's `TAGS` property (0 when it has none).
pub fn tags_code(tags: Option<&str>) -> i64 {
    match tags {
        Some(t) if !t.is_empty() => java_hash(t) as i64,
        _ => 0,
    }
}

/// A parsed tag expression, as `FilterAPI.buildSubscriptionData` builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    /// The tags; empty means "all" (`*`).
    pub tags: Vec<String>,
    /// Hash codes of the tags.
    pub codes: Vec<i32>,
}

impl TagFilter {
    /// Parses `*`, empty, or `TagA || TagB`.
    pub fn parse(expression: &str) -> TagFilter {
        let expr = expression.trim();
        if expr.is_empty() || expr == "*" {
            return TagFilter {
                tags: Vec::new(),
                codes: Vec::new(),
            };
        }
        let tags: Vec<String> = expr
            .split("||")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        let codes = tags.iter().map(|t| java_hash(t)).collect();
        TagFilter { tags, codes }
    }

    /// Whether this filter accepts everything.
    pub fn is_all(&self) -> bool {
        self.tags.is_empty()
    }

    /// Whether a consume-queue tags code passes (the broker's coarse check).
    pub fn matches_code(&self, code: i64) -> bool {
        self.is_all() || self.codes.iter().any(|c| *c as i64 == code)
    }

    /// Whether a message's tag passes (the client's exact check).
    pub fn matches_tag(&self, tag: Option<&str>) -> bool {
        self.is_all() || tag.is_some_and(|t| self.tags.iter().any(|x| x == t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_java() {
        assert_eq!(java_hash("TagA"), 2598919);
        assert_eq!(java_hash(""), 0);
        // "hello world".hashCode() in Java
        assert_eq!(java_hash("hello world"), 1794106052);
        // wraps like Java int arithmetic
        assert_eq!(java_hash("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn filter_parses_expressions() {
        assert!(TagFilter::parse("*").is_all());
        let f = TagFilter::parse(" TagA || TagB ||");
        assert_eq!(f.tags, vec!["TagA", "TagB"]);
        assert!(f.matches_code(2598919));
        assert!(!f.matches_code(1));
        assert!(f.matches_tag(Some("TagB")));
        assert!(!f.matches_tag(None));
    }
}
