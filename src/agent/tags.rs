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
