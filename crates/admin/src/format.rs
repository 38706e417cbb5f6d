//! Text helpers shared by the commands: Java-style timestamps, Java `toString()` renderings, and
//! parsing of the time arguments mqadmin accepts.
//!
//! Times are rendered in UTC (Apache's tools use the JVM's zone; servers and containers here run
//! in UTC, and a fixed zone keeps the output testable).

use std::collections::BTreeMap;

use rmq_remoting::body::route::perm;
use rmq_remoting::body::{SubscriptionGroupConfig, TopicConfig};

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn split_millis(ms: i64) -> (i64, u32, u32, i64, i64, i64, i64) {
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    let (y, mo, d) = civil_from_days(days);
    (
        y,
        mo,
        d,
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    )
}

/// `yyyy-MM-dd HH:mm:ss,SSS` (Java's `UtilAll.timeMillisToHumanString2`).
pub fn human_millis(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli) = split_millis(ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02},{milli:03}")
}

/// `yyyy-MM-dd HH:mm:ss`.
pub fn human_seconds(ms: i64) -> String {
    let (y, mo, d, h, mi, s, _) = split_millis(ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// Parses a time argument: epoch milliseconds, or `yyyy-MM-dd#HH:mm:ss:SSS` (UTC).
pub fn parse_time_arg(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let (date, time) = s.split_once('#')?;
    let mut dp = date.split('-').map(str::parse::<i64>);
    let (y, mo, d) = (dp.next()?.ok()?, dp.next()?.ok()?, dp.next()?.ok()?);
    let tp: Vec<i64> = time.split(':').map(str::parse).collect::<Result<_, _>>().ok()?;
    let [h, mi, sec, milli] = tp[..] else { return None };
    let valid = (1..=12).contains(&mo)
        && (1..=31).contains(&d)
        && (0..24).contains(&h)
        && (0..60).contains(&mi)
        && (0..60).contains(&sec)
        && (0..1000).contains(&milli);
    if !valid || dp.next().is_some() {
        return None;
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    Some(days * 86_400_000 + h * 3_600_000 + mi * 60_000 + sec * 1000 + milli)
}

/// Java's `TopicConfig.toString()`.
pub fn topic_config(c: &TopicConfig) -> String {
    format!(
        "TopicConfig [topicName={}, readQueueNums={}, writeQueueNums={}, perm={}, topicFilterType={}, topicSysFlag={}, order={}]",
        c.topic_name,
        c.read_queue_nums,
        c.write_queue_nums,
        perm::to_string(c.perm),
        c.topic_filter_type.name(),
        c.topic_sys_flag,
        c.order
    )
}

/// Java's `SubscriptionGroupConfig.toString()`.
pub fn subscription_group_config(c: &SubscriptionGroupConfig) -> String {
    format!(
        "SubscriptionGroupConfig [groupName={}, consumeEnable={}, consumeFromMinEnable={}, consumeBroadcastEnable={}, \
         retryQueueNums={}, retryMaxTimes={}, brokerId={}, whichBrokerWhenConsumeSlowly={}, notifyConsumerIdsChangedEnable={}]",
        c.group_name,
        c.consume_enable,
        c.consume_from_min_enable,
        c.consume_broadcast_enable,
        c.retry_queue_nums,
        c.retry_max_times,
        c.broker_id,
        c.which_broker_when_consume_slowly,
        c.notify_consumer_ids_changed_enable
    )
}

/// Ordinal of `V4_0_0_SNAPSHOT` in Java's `MQVersion.Version`; from there every release
/// `Vmajor_minor_patch` (minor and patch 0..=9) has a `_SNAPSHOT` ordinal followed by its own.
const V4_0_0_SNAPSHOT: i32 = 212;
/// Ordinal of `HIGHER_VERSION`, the enum's last entry (after `V5_9_9`).
const HIGHER_VERSION: i32 = V4_0_0_SNAPSHOT + 2 * 200;

/// Java's `MQVersion.getVersionDesc`: the version name of a wire version ordinal, e.g. 409 →
/// `V4_9_8`. Ordinals of the 3.x line (irregular names) are shown as the bare number.
pub fn version_desc(ordinal: i32) -> String {
    if ordinal >= HIGHER_VERSION {
        return "HIGHER_VERSION".into();
    }
    if ordinal < V4_0_0_SNAPSHOT {
        return ordinal.to_string();
    }
    let k = ordinal - V4_0_0_SNAPSHOT;
    let (major, within) = (4 + k / 200, k % 200);
    let (minor, patch) = (within / 2 / 10, within / 2 % 10);
    let snapshot = if within % 2 == 0 { "_SNAPSHOT" } else { "" };
    format!("V{major}_{minor}_{patch}{snapshot}")
}

/// Java's `HashMap.toString()` of string properties (sorted here, for stable output).
pub fn java_map<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let sorted: BTreeMap<&str, &str> = entries.into_iter().collect();
    let parts: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// Parses a `true`/`false` option value the way Java's `Boolean.parseBoolean` would not: anything
/// else is an error, so a typo does not silently mean `false`.
pub fn parse_bool(flag: &str, v: &str) -> Result<bool, String> {
    bool_value(v).map_err(|_| format!("{flag} takes true or false, not {v:?}"))
}

/// [`parse_bool`] for a clap `value_parser` (clap names the flag and the value itself).
pub fn bool_value(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_and_known_instants() {
        assert_eq!(human_millis(0), "1970-01-01 00:00:00,000");
        assert_eq!(human_millis(1_700_000_000_123), "2023-11-14 22:13:20,123");
        assert_eq!(human_seconds(951_782_400_000), "2000-02-29 00:00:00");
    }

    #[test]
    fn time_args_round_trip() {
        assert_eq!(parse_time_arg("1700000000123"), Some(1_700_000_000_123));
        assert_eq!(parse_time_arg("2023-11-14#22:13:20:123"), Some(1_700_000_000_123));
        assert_eq!(parse_time_arg("2000-02-29#00:00:00:000"), Some(951_782_400_000));
        assert_eq!(parse_time_arg("2023-13-01#00:00:00:000"), None);
        assert_eq!(parse_time_arg("yesterday"), None);
        assert_eq!(parse_time_arg("2023-11-14#22:13"), None);
    }

    #[test]
    fn topic_config_matches_java_to_string() {
        let c = TopicConfig::new("T", 8);
        assert_eq!(
            topic_config(&c),
            "TopicConfig [topicName=T, readQueueNums=8, writeQueueNums=8, perm=RW-, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=false]"
        );
    }

    #[test]
    fn version_ordinals_have_java_names() {
        // protocol.md §1.5's table.
        for (ordinal, name) in [
            (213, "V4_0_0"),
            (317, "V4_5_2"),
            (355, "V4_7_1"),
            (393, "V4_9_0"),
            (401, "V4_9_4"),
            (409, "V4_9_8"),
            (408, "V4_9_8_SNAPSHOT"),
            (413, "V5_0_0"),
            (433, "V5_1_0"),
        ] {
            assert_eq!(version_desc(ordinal), name, "{ordinal}");
        }
        assert_eq!(version_desc(63), "63");
        assert_eq!(version_desc(900), "HIGHER_VERSION");
    }

    #[test]
    fn subscription_group_config_matches_java_to_string() {
        let c = SubscriptionGroupConfig::new("cg");
        assert_eq!(
            subscription_group_config(&c),
            "SubscriptionGroupConfig [groupName=cg, consumeEnable=true, consumeFromMinEnable=true, \
             consumeBroadcastEnable=true, retryQueueNums=1, retryMaxTimes=16, brokerId=0, \
             whichBrokerWhenConsumeSlowly=1, notifyConsumerIdsChangedEnable=true]"
        );
    }

    #[test]
    fn bools_are_strict() {
        assert_eq!(parse_bool("-o", "TRUE"), Ok(true));
        assert_eq!(parse_bool("-o", "false"), Ok(false));
        assert!(parse_bool("-o", "yes").is_err());
    }
}
