//! Plain-ACL permissions (Apache's `Permission`): DENY 1, ANY 2, PUB 4, SUB 8, parsed from the
//! strings of `plain_acl.yml` (`DENY`, `PUB`, `SUB`, `PUB|SUB`, `SUB|PUB`).

/// Denied, whatever else is set.
pub const DENY: u8 = 1;
/// Either publish or subscribe (what a resource needs when any access will do).
pub const ANY: u8 = 2;
/// Publish.
pub const PUB: u8 = 4;
/// Subscribe.
pub const SUB: u8 = 8;

/// Parses a permission string; a missing or unknown one is DENY, as in Apache.
pub fn parse(text: &str) -> u8 {
    match text.trim() {
        "PUB" => PUB,
        "SUB" => SUB,
        "PUB|SUB" | "SUB|PUB" => PUB | SUB,
        "ANY" => ANY,
        _ => DENY,
    }
}

/// Whether `text` names a permission (the admin RPC refuses others instead of storing DENY).
pub fn is_valid(text: &str) -> bool {
    matches!(text.trim(), "PUB" | "SUB" | "PUB|SUB" | "SUB|PUB" | "DENY")
}

/// The name of a permission, for remarks.
pub fn name(perm: u8) -> &'static str {
    match perm {
        PUB => "PUB",
        SUB => "SUB",
        x if x == PUB | SUB => "PUB|SUB",
        ANY => "ANY",
        _ => "DENY",
    }
}

/// Apache's `checkPermission(needed, owned)`.
pub fn granted(needed: u8, owned: u8) -> bool {
    if owned & DENY != 0 {
        return false;
    }
    if needed & ANY != 0 {
        return owned & (PUB | SUB) != 0;
    }
    needed & owned != 0
}

/// Parses `resource=PERM` list entries (`topicPerms`, `groupPerms`); entries without `=` are
/// skipped, as Apache does.
pub fn parse_resource_perms<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<(String, u8)> {
    items
        .into_iter()
        .filter_map(|item| {
            let (res, p) = item.split_once('=')?;
            Some((res.trim().to_string(), parse(p)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_follow_apache() {
        assert_eq!(parse("PUB|SUB"), PUB | SUB);
        assert_eq!(parse("SUB|PUB"), PUB | SUB);
        assert_eq!(parse("nonsense"), DENY);
        assert!(granted(PUB, PUB | SUB));
        assert!(!granted(SUB, PUB));
        assert!(!granted(PUB, DENY));
        assert!(granted(ANY, SUB));
        assert!(!granted(ANY, DENY));
        assert_eq!(
            parse_resource_perms(["a=PUB", "junk", "b = SUB"]),
            vec![("a".to_string(), PUB), ("b".to_string(), SUB)]
        );
    }
}
