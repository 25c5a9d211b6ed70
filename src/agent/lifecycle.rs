//! `dock-agent lifecycle-policy`: an Azure lifecycle-management policy (the JSON of
//! `az storage account management-policy create --policy @FILE`) that deletes what the
//! retention job would delete, for agencies that prefer the platform's own mechanism.
//!
//! One rule per category of the table that has days, none for indefinite ones
//! (`evidence`). Each rule selects by blob index tag, as the job does: `category ==
//! NAME` and `legal_hold == no` (a hold sets `yes`, so held footage never matches;
//! quarantined blobs, audit logs and head statements have no such tags), under the
//! container's prefix, and deletes the current version and previous versions more than
//! `days + ⌈margin⌉` days after creation, so the platform never deletes earlier than
//! the job. How the two relate is in docs/DEPLOYMENT.md ("Retention").

use serde_json::{Value, json};

use super::config::{AgentConfig, AgentConfigError};
use super::tags;

/// The policy for `cfg`'s category table, container and margin.
pub fn policy(cfg: &AgentConfig) -> Result<Value, AgentConfigError> {
    let table = cfg.categories()?;
    let margin_days = cfg.retention.margin_hours.div_ceil(24);
    let mut rules = Vec::new();
    for (i, c) in table.categories.iter().enumerate() {
        let Some(days) = c.days else {
            continue;
        };
        let after = json!({ "daysAfterCreationGreaterThan": days + margin_days });
        let alnum: String = c.name.chars().filter(char::is_ascii_alphanumeric).collect();
        rules.push(json!({
            "enabled": true,
            "name": format!("bodycam{i}{alnum}"),
            "type": "Lifecycle",
            "definition": {
                "filters": {
                    "blobTypes": ["blockBlob"],
                    "prefixMatch": [format!("{}/", cfg.azure.container)],
                    "blobIndexMatch": [
                        { "name": tags::CATEGORY, "op": "==", "value": c.name },
                        { "name": tags::LEGAL_HOLD, "op": "==", "value": tags::HOLD_NO },
                    ],
                },
                "actions": {
                    "baseBlob": { "delete": after },
                    "version": { "delete": after },
                },
            },
        }));
    }
    Ok(json!({ "rules": rules }))
}
