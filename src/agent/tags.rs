//! The blob index tags of segment blobs: the one vocabulary the upload, `classify`,
//! `retention`, `lifecycle-policy` and the custody report share (docs/DEPLOYMENT.md,
//! "Blob layout").
//!
//! | tag | value |
//! |---|---|
//! | `category` | the category (`standard` at upload; `classify --category`) |
//! | `retention` | when the blob's period ends, `YYYY-MM-DDTHH:MM:SSZ` (upload or creation time + the category's days), or `indefinite` |
//! | `officer` | the officer the recording was made for, or `unassigned` |
//! | `case` | the case id, once classified with `--case` |
//! | `legal_hold` | `no` at upload, `yes` while `classify --hold` holds it (a lifecycle rule can only match equality, so "not held" is a value) |
//! | `spread` | whole days, one of [`SPREAD_BUCKETS`], that the blob may be older than the newest blob of its recording (`0` at upload; raised by [`super::spread`] when later segments of the recording arrive on a later day) |
//!
//! The retention job's markers (`<device>/custody/versions-pending/<recording>`) carry
//! only `retention_pending=versions`.
//!
//! Quarantined blobs carry no tags, so neither the retention job nor a lifecycle rule
//! can ever select them. Timestamps in `retention` sort as text in time order, so Find
//! Blobs by Tags can ask for `"retention" < 'NOW'` and get only what is due.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// The category tag.
pub const CATEGORY: &str = "category";
/// When the retention period ends, or [`INDEFINITE`].
pub const RETENTION: &str = "retention";
/// The officer id, or [`crate::evidence::officer::UNASSIGNED`].
pub const OFFICER: &str = "officer";
/// The case id.
pub const CASE: &str = "case";
/// A hold placed with `classify --hold`: [`HOLD_YES`].
pub const LEGAL_HOLD: &str = "legal_hold";
/// The `retention` value of footage kept indefinitely.
pub const INDEFINITE: &str = "indefinite";
/// The `legal_hold` value of held footage.
pub const HOLD_YES: &str = "yes";
/// The `legal_hold` value of footage not held.
pub const HOLD_NO: &str = "no";

/// How much older than its recording's newest blob this blob may be, in whole days
/// (one of [`SPREAD_BUCKETS`]): what a lifecycle rule adds to the period, as it can
/// only count each blob's own age.
pub const SPREAD: &str = "spread";
/// The values of [`SPREAD`]: 0, then powers of 4 up to beyond the longest period
/// allowed plus any margin (a fixed, short list: a lifecycle policy needs one rule per
/// category and value, and Azure allows 100 rules).
pub const SPREAD_BUCKETS: [u32; 10] = [0, 1, 4, 16, 64, 256, 1024, 4096, 16384, SPREAD_LARGEST];
/// The largest [`SPREAD`] value: for a blob whose age cannot be told, and any age beyond.
pub const SPREAD_LARGEST: u32 = 65536;

/// The [`SPREAD`] value for a blob created `age` before the newest blob of its
/// recording will be: the smallest bucket of at least `age` rounded up to whole days
/// (the last bucket beyond that, which covers any period the table allows).
pub fn spread_bucket(age: chrono::Duration) -> u32 {
    const DAY_MS: u64 = 86_400_000;
    let whole_days = u64::try_from(age.num_milliseconds()).map_or(0, |ms| ms.div_ceil(DAY_MS));
    SPREAD_BUCKETS
        .into_iter()
        .find(|b| u64::from(*b) >= whole_days)
        .unwrap_or(SPREAD_LARGEST)
}

/// The bucket a blob's tags carry (`None`: no `spread` tag, or not a bucket).
pub fn spread_of(tags: &BTreeMap<String, String>) -> Option<u32> {
    tags.get(SPREAD)
        .and_then(|v| v.parse().ok())
        .filter(|b| SPREAD_BUCKETS.contains(b))
}

/// The tag of the retention job's version-removal markers
/// ([`super::names::versions_pending`]), value [`VERSIONS`]: Find Blobs by Tags finds
/// the removals a crash left unfinished.
pub const RETENTION_PENDING: &str = "retention_pending";
/// The [`RETENTION_PENDING`] value.
pub const VERSIONS: &str = "versions";

/// Longest case id.
pub const MAX_CASE_LEN: usize = 64;

/// The `retention` value for a blob created at `created` in a category kept `days`
/// (`None`: indefinitely): the end of the period to the second, in UTC.
pub fn retention_value(created: DateTime<Utc>, days: Option<u32>) -> String {
    match days {
        Some(d) => stamp(created + chrono::Duration::days(i64::from(d))),
        None => INDEFINITE.to_string(),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`: the form tags and tag queries compare as text.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Check a case id: 1 to 64 ASCII letters, digits, `.`, `_` or `-`, starting with a
/// letter or digit, no `..` (so it can never be read as a path, and is a valid tag
/// value).
pub fn check_case(s: &str) -> Result<(), String> {
    let rule = "use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit";
    if s.is_empty() || s.len() > MAX_CASE_LEN {
        return Err(format!("case id {s:?}: {rule}"));
    }
    if let Some(ch) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "case id {s:?}: character {ch:?} is not allowed (no path characters); {rule}"
        ));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) || s.contains("..") {
        return Err(format!("case id {s:?}: {rule}; no \"..\""));
    }
    Ok(())
}

/// The tags a segment blob gets when it is uploaded.
pub fn upload_tags(
    now: DateTime<Utc>,
    standard_days: u32,
    officer: Option<&str>,
) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        (CATEGORY, crate::agent::config::STANDARD.to_string()),
        (RETENTION, retention_value(now, Some(standard_days))),
        (
            OFFICER,
            crate::evidence::officer::officer_label(officer).to_string(),
        ),
        (LEGAL_HOLD, HOLD_NO.to_string()),
        (SPREAD, "0".to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_values_sort_in_time_order_and_indefinite_never_matches() {
        let t = DateTime::parse_from_rfc3339("2026-11-25T17:53:28.9Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retention_value(t, Some(31)), "2026-12-26T17:53:28Z");
        assert_eq!(retention_value(t, None), INDEFINITE);
        // A query `"retention" < 'cutoff'` compares text.
        assert!(retention_value(t, Some(31)) < stamp(t + chrono::Duration::days(32)));
        assert!(INDEFINITE > stamp(t + chrono::Duration::days(36_500)).as_str());
        let tags = upload_tags(t, 31, None);
        assert_eq!(tags[OFFICER], "unassigned");
        assert_eq!(tags[CATEGORY], "standard");
        assert_eq!(tags[SPREAD], "0");
    }

    #[test]
    fn spread_buckets_round_up_to_whole_days_then_to_a_bucket() {
        let h = chrono::Duration::hours;
        let d = chrono::Duration::days;
        for (age, want) in [
            (h(0), 0),
            (h(-5), 0),
            (chrono::Duration::seconds(1), 1),
            (h(24), 1),
            (h(25), 4),
            (d(4), 4),
            (d(4) + chrono::Duration::seconds(1), 16),
            (d(31), 64),
            (d(36_500), 65_536),
            (d(100_000), 65_536),
        ] {
            assert_eq!(spread_bucket(age), want, "{age:?}");
        }
        // The largest bucket is beyond the longest period allowed plus a margin of a
        // year, so every blob that can still be in its period has a bucket that covers it.
        assert!(
            i64::from(SPREAD_LARGEST) > i64::from(crate::agent::config::MAX_RETENTION_DAYS) + 366
        );
        let t = |v: &str| BTreeMap::from([(SPREAD.to_string(), v.to_string())]);
        assert_eq!(spread_of(&t("16")), Some(16));
        assert_eq!(spread_of(&t("17")), None);
        assert_eq!(spread_of(&BTreeMap::new()), None);
    }

    #[test]
    fn case_ids_with_path_characters_are_refused() {
        for ok in ["2026-0042", "CASE.7_b", "a"] {
            check_case(ok).unwrap();
        }
        for bad in [
            "",
            "a/b",
            "..",
            "a..b",
            "-x",
            "a b",
            "c\\d",
            &"x".repeat(65),
        ] {
            assert!(check_case(bad).is_err(), "{bad:?}");
        }
        assert!(check_case("a/b").unwrap_err().contains("path"));
    }
}
