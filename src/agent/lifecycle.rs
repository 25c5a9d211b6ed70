//! `dock-agent lifecycle-policy`: an Azure lifecycle-management policy (the JSON of
//! `az storage account management-policy create --policy @FILE`) that deletes what the
//! retention job would delete, never earlier, for agencies that prefer the platform's
//! own mechanism.
//!
//! One rule per category of the table that has days and per `spread` bucket
//! ([`super::spread`], [`tags::SPREAD_BUCKETS`]), none for indefinite categories
//! (`evidence`). Each rule selects by blob index tag, as the job does: `category ==
//! NAME`, `legal_hold == no` (a hold sets `yes`, so held footage never matches;
//! quarantined blobs, audit logs and head statements have no such tags) and `spread ==
//! B`, under the container's prefix, and deletes the current version and previous
//! versions more than `days + ⌈margin⌉ + 1 + B` days after creation. A blob tagged
//! `spread = B` is at most B whole days older than its recording's newest blob (the
//! agent keeps it so, the extra day covers one offload pass), so the rule deletes it
//! no earlier than the job would delete the recording. How the two relate is in
//! docs/DEPLOYMENT.md ("Retention").

use serde_json::{Value, json};

use super::config::{AgentConfig, AgentConfigError};
use super::tags;

/// Azure's limit on the rules of one policy.
pub const MAX_RULES: usize = 100;

/// Days after creation past which the rule for a category of `days`, a margin of
/// `margin_hours` and spread bucket `bucket` deletes a blob.
pub fn rule_days(days: u32, margin_hours: u32, bucket: u32) -> u32 {
    days + margin_hours.div_ceil(24) + 1 + bucket
}

/// The policy for `cfg`'s category table, container and margin.
pub fn policy(cfg: &AgentConfig) -> Result<Value, AgentConfigError> {
    let table = cfg.categories()?;
    let margin = cfg.retention.margin_hours;
    let timed = table.categories.iter().filter(|c| c.days.is_some()).count();
    let needed = timed * tags::SPREAD_BUCKETS.len();
    if needed > MAX_RULES {
        return Err(AgentConfigError::Invalid {
            key: "category".into(),
            reason: format!(
                "{timed} categories with days need {needed} lifecycle rules ({} spread buckets each); Azure allows {MAX_RULES} in a policy: use the retention job, or fewer categories with days (at most {})",
                tags::SPREAD_BUCKETS.len(),
                MAX_RULES / tags::SPREAD_BUCKETS.len()
            ),
        });
    }
    let mut rules = Vec::new();
    for (i, c) in table.categories.iter().enumerate() {
        let Some(days) = c.days else {
            continue;
        };
        let alnum: String = c.name.chars().filter(char::is_ascii_alphanumeric).collect();
        for bucket in tags::SPREAD_BUCKETS {
            let after = json!({ "daysAfterCreationGreaterThan": rule_days(days, margin, bucket) });
            rules.push(json!({
                "enabled": true,
                "name": format!("bodycam{i}{alnum}s{bucket}"),
                "type": "Lifecycle",
                "definition": {
                    "filters": {
                        "blobTypes": ["blockBlob"],
                        "prefixMatch": [format!("{}/", cfg.azure.container)],
                        "blobIndexMatch": [
                            { "name": tags::CATEGORY, "op": "==", "value": c.name },
                            { "name": tags::LEGAL_HOLD, "op": "==", "value": tags::HOLD_NO },
                            { "name": tags::SPREAD, "op": "==", "value": bucket.to_string() },
                        ],
                    },
                    "actions": {
                        "baseBlob": { "delete": after },
                        "version": { "delete": after },
                    },
                },
            }));
        }
    }
    Ok(json!({ "rules": rules }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_never_deletes_before_the_job_for_any_spread_it_covers() {
        // For a blob created `s` before its recording's newest blob, tagged with the
        // bucket the agent gives it (its age rounded up, taken when the later blobs
        // began to arrive, up to a day before the newest), the rule's deletion comes
        // no earlier than the job's due time: newest + days + margin.
        let minute = chrono::Duration::minutes(1);
        for margin_hours in [1, 24, 36, 720] {
            for days in [1, 31, 90, 2555] {
                for s_minutes in (0..60 * 24 * 70).step_by(97) {
                    let s = minute * s_minutes;
                    // Retagged at a moment between the earlier blob and the newest, at
                    // most 23 h 59 min before the newest.
                    let tagged_at =
                        (s - chrono::Duration::hours(24) + minute).max(chrono::Duration::zero());
                    let bucket = tags::spread_bucket(tagged_at);
                    let rule =
                        chrono::Duration::days(i64::from(rule_days(days, margin_hours, bucket)));
                    let job = s
                        + chrono::Duration::days(i64::from(days))
                        + chrono::Duration::hours(i64::from(margin_hours));
                    assert!(
                        rule >= job,
                        "days {days}, margin {margin_hours} h, spread {s:?}"
                    );
                }
            }
        }
    }
}
