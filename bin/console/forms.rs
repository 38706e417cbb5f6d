//! Form values from the browser, checked before anything reaches the cluster. Each parser
//! returns the value or a sentence naming the field, the bad value and what is accepted, which
//! the page shows as it is.

use rmq_admin::format::parse_time_arg;

/// A time field: `yyyy-MM-dd HH:mm[:ss]` or `yyyy-MM-ddTHH:mm[:ss]` (UTC, what a
/// `datetime-local` input sends), epoch milliseconds, or mqadmin's `yyyy-MM-dd#HH:mm:ss:SSS`.
/// Blank gives `default`.
pub fn parse_time(field: &str, value: &str, default: i64) -> Result<i64, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(default);
    }
    let bad = || {
        format!(
            "{field}: {v:?} is not a time; write 2024-05-01 13:45, 2024-05-01 13:45:10 (UTC) or \
             epoch milliseconds"
        )
    };
    if let Some(ms) = parse_time_arg(v) {
        return Ok(ms);
    }
    let (date, clock) = v.split_once([' ', 'T']).ok_or_else(bad)?;
    let parts: Vec<&str> = clock.trim().split(':').collect();
    let (h, m, s) = match parts[..] {
        [h, m] => (h, m, "00"),
        [h, m, s] => (h, m, s),
        _ => return Err(bad()),
    };
    let two = |x: &str| x.len() == 2 && x.bytes().all(|b| b.is_ascii_digit());
    if !(two(h) && two(m) && two(s)) {
        return Err(bad());
    }
    parse_time_arg(&format!("{}#{h}:{m}:{s}:000", date.trim())).ok_or_else(bad)
}

/// A queue count field: 1 to 1024, as the broker accepts.
pub fn parse_queue_nums(field: &str, value: &str) -> Result<i32, String> {
    match value.trim().parse::<i32>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err(format!(
            "{field}: {:?} is not a queue count; use a whole number from 1 to 1024",
            value.trim()
        )),
    }
}

/// The permission field: 2 (write only), 4 (read only) or 6 (read and write).
pub fn parse_perm(value: &str) -> Result<i32, String> {
    match value.trim() {
        "2" => Ok(2),
        "4" => Ok(4),
        "6" => Ok(6),
        other => Err(format!(
            "permission: {other:?} is not one of 2 (write only), 4 (read only), 6 (read and write)"
        )),
    }
}

/// A name field (topic or group): not blank, checked as the broker checks topic names.
pub fn parse_name(field: &str, value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(format!("{field}: the name is empty; type one"));
    }
    rmq_admin::topic::validate_topic(v).map_err(|e| format!("{field}: {e}"))?;
    Ok(v.to_string())
}

/// The "max results" field: 1 to `limit`; blank gives `default`.
pub fn parse_max(value: &str, default: usize, limit: usize) -> Result<usize, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(default);
    }
    match v.parse::<usize>() {
        Ok(n) if (1..=limit).contains(&n) => Ok(n),
        _ => Err(format!("max results: {v:?} is not a number from 1 to {limit}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_accepted_form() {
        let want = 1_700_000_000_000 - 20_000; // 2023-11-14 22:13:00 UTC
        assert_eq!(parse_time("begin", "2023-11-14 22:13", 0), Ok(want));
        assert_eq!(parse_time("begin", "2023-11-14T22:13", 0), Ok(want));
        assert_eq!(parse_time("begin", " 2023-11-14 22:13:20 ", 0), Ok(want + 20_000));
        assert_eq!(parse_time("begin", "1700000000000", 0), Ok(1_700_000_000_000));
        assert_eq!(
            parse_time("begin", "2023-11-14#22:13:20:000", 0),
            Ok(1_700_000_000_000)
        );
        assert_eq!(parse_time("begin", "", 42), Ok(42));
    }

    #[test]
    fn bad_times_name_the_field_and_the_accepted_forms() {
        for bad in [
            "yesterday",
            "2023-13-01 10:00",
            "2023-11-14 25:00",
            "2023-11-14 1:2",
            "2023-11-14",
        ] {
            let e = parse_time("end", bad, 0).unwrap_err();
            assert!(e.starts_with("end: "), "{e}");
            assert!(e.contains("epoch milliseconds"), "{e}");
        }
    }

    #[test]
    fn queue_counts_perms_names_and_limits() {
        assert_eq!(parse_queue_nums("read queues", " 8 "), Ok(8));
        assert!(parse_queue_nums("read queues", "0")
            .unwrap_err()
            .contains("1 to 1024"));
        assert!(parse_queue_nums("write queues", "abc")
            .unwrap_err()
            .starts_with("write queues"));
        assert_eq!(parse_perm("4"), Ok(4));
        assert!(parse_perm("7").is_err());
        assert_eq!(parse_name("topic", " T1 "), Ok("T1".into()));
        assert!(parse_name("topic", "a b").unwrap_err().contains("' '"));
        assert!(parse_name("topic", "").is_err());
        assert_eq!(parse_max("", 50, 500), Ok(50));
        assert!(parse_max("0", 50, 500).is_err());
        assert!(parse_max("501", 50, 500).is_err());
    }
}
