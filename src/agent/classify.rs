//! `dock-agent classify`: put one or several recordings into a category of the table
//! (`--category NAME`, `--evidence` for `evidence`), give them a case id (`--case ID`),
//! hold or release them (`--hold`, `--release-hold`). Every change is appended to the
//! device's classification log (`<device>/custody/classifications.log`, an append
//! blob): who, when, what, and what it was before.
//!
//! Per blob, in this order: a legal hold (with `azure.legal_hold`: for `--hold`, and for
//! an indefinite category such as `evidence`; the protection that matters), the index
//! tags (`category`, `retention` recomputed from the blob's creation time at the
//! service, `case`, `legal_hold`), then the metadata (`retention_class`,
//! `retain_until`, `classified_utc`). Azure refuses metadata changes on immutable blobs,
//! so a refused metadata update is reported and tolerated: the tags and the hold are
//! the classification (docs/DEPLOYMENT.md). Idempotent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::AgentError;
use super::azure::BlobInfo;
use super::config::{CategoryTable, EVIDENCE};
use super::names;
use super::offload::Shared;
use super::tags;
use crate::layout::RecordingId;

/// Format tag of a [`ClassificationEntry`].
pub const CLASSIFICATION_FORMAT: &str = "bodycam-classification/1";

/// What to change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// The new category (must be in the table).
    pub category: Option<String>,
    /// The new case id (checked with [`tags::check_case`]).
    pub case: Option<String>,
    /// `Some(true)`: hold; `Some(false)`: release; `None`: leave it.
    pub hold: Option<bool>,
    /// Who asks (`--by`, default the user name).
    pub operator: String,
}

/// The classification of a recording as its blobs' tags say (the first blob's view;
/// a recording is always classified as a whole).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classified {
    /// `category` tag.
    pub category: Option<String>,
    /// `case` tag.
    pub case: Option<String>,
    /// `legal_hold` tag present.
    pub legal_hold: bool,
    /// `retention` tag (of the blob whose period ends last).
    pub retention: Option<String>,
}

/// One line of the classification log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassificationEntry {
    /// Always [`CLASSIFICATION_FORMAT`].
    pub format: String,
    /// When (this host's clock).
    pub utc: String,
    /// Who, as they named themselves (`--by`, or the user name).
    pub operator: String,
    /// The host it ran on (`dock_name`).
    pub host: String,
    /// Device id.
    pub device_id: String,
    /// Recording id.
    pub recording_id: String,
    /// Before.
    pub before: Classified,
    /// After.
    pub after: Classified,
    /// Blobs changed.
    pub blobs: usize,
    /// Whether Azure legal holds were placed or cleared (`azure.legal_hold`).
    pub azure_hold: bool,
}

impl Change {
    /// Refuse an unknown category or a bad case id before anything is touched.
    pub fn check(&self, table: &CategoryTable) -> Result<(), AgentError> {
        if let Some(c) = &self.category
            && table.get(c).is_none()
        {
            return Err(AgentError::Usage(format!(
                "classify: unknown category {c:?}; the table has: {}",
                table.names().join(", ")
            )));
        }
        if let Some(c) = &self.case {
            tags::check_case(c).map_err(|e| AgentError::Usage(format!("classify: {e}")))?;
        }
        if self.category.is_none() && self.case.is_none() && self.hold.is_none() {
            return Err(AgentError::Usage(
                "classify: give --category, --evidence, --case, --hold or --release-hold".into(),
            ));
        }
        Ok(())
    }
}

/// The classification a recording's blobs carry now.
pub fn classified(blobs: &[BlobInfo]) -> Classified {
    let first = blobs.first();
    let tag = |k: &str| first.and_then(|b| b.tags.get(k).cloned());
    Classified {
        category: tag(tags::CATEGORY),
        case: tag(tags::CASE),
        legal_hold: blobs
            .iter()
            .any(|b| b.tags.get(tags::LEGAL_HOLD).map(String::as_str) == Some(tags::HOLD_YES)),
        retention: blobs
            .iter()
            .filter_map(|b| b.tags.get(tags::RETENTION))
            .max()
            .cloned(),
    }
}

/// The segment blobs of a recording (anything else under its prefix is left alone).
pub async fn recording_blobs(
    shared: &Shared,
    device: &str,
    recording: &RecordingId,
) -> Result<Vec<BlobInfo>, AgentError> {
    let prefix = names::recording_prefix(device, recording);
    let mut blobs = shared.blobs.list_detailed(&prefix).await?;
    blobs.retain(|b| names::parse_segment_blob(&b.name).is_some());
    Ok(blobs)
}

/// Classify one recording; returns the number of blobs changed.
pub async fn classify(
    shared: &Shared,
    table: &CategoryTable,
    device: &str,
    recording: &RecordingId,
    change: &Change,
) -> Result<usize, AgentError> {
    let blobs = recording_blobs(shared, device, recording).await?;
    if blobs.is_empty() {
        return Err(AgentError::NothingToClassify {
            prefix: names::recording_prefix(device, recording),
            container: shared.cfg.azure.container.clone(),
        });
    }
    let before = classified(&blobs);
    let category = change
        .category
        .as_deref()
        .and_then(|c| table.get(c))
        .cloned();
    let indefinite = category.as_ref().is_some_and(|c| c.days.is_none());
    let azure_hold = shared.cfg.azure.legal_hold
        && (change.hold.is_some() || (indefinite && change.hold != Some(false)));
    let when = crate::clock::rfc3339(chrono::Utc::now());
    // Each blob's spread tag covers the newest blob of the recording seen here
    // ([`super::spread`]; never lowered).
    let newest = blobs.iter().filter_map(|b| b.created).max();
    for b in &blobs {
        if azure_hold {
            if change.hold == Some(false) {
                shared.blobs.clear_legal_hold(&b.name).await?;
            } else {
                shared.blobs.set_legal_hold(&b.name).await?;
            }
        }
        let mut t: BTreeMap<String, String> = b.tags.clone();
        if let Some(c) = &category {
            t.insert(tags::CATEGORY.into(), c.name.clone());
            let created = b.created.unwrap_or_else(chrono::Utc::now);
            t.insert(
                tags::RETENTION.into(),
                tags::retention_value(created, c.days),
            );
        }
        let spread = match newest {
            Some(n) => super::spread::covering_newest(b, n),
            None => tags::SPREAD_LARGEST,
        };
        let spread = tags::spread_of(&b.tags).map_or(spread, |have| have.max(spread));
        t.insert(tags::SPREAD.into(), spread.to_string());
        if let Some(case) = &change.case {
            t.insert(tags::CASE.into(), case.clone());
        }
        match change.hold {
            Some(true) => {
                t.insert(tags::LEGAL_HOLD.into(), tags::HOLD_YES.into());
            }
            Some(false) => {
                t.insert(tags::LEGAL_HOLD.into(), tags::HOLD_NO.into());
            }
            None => {}
        }
        let pairs: Vec<(&str, &str)> = t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        shared.blobs.set_tags(&b.name, &pairs).await?;
        update_metadata(shared, b, &t, &when).await?;
    }
    let after = classified(
        &recording_blobs(shared, device, recording)
            .await
            .unwrap_or_default(),
    );
    let entry = ClassificationEntry {
        format: CLASSIFICATION_FORMAT.into(),
        utc: when,
        operator: change.operator.clone(),
        host: shared.dock.clone(),
        device_id: device.to_string(),
        recording_id: recording.as_str().to_string(),
        before,
        after,
        blobs: blobs.len(),
        azure_hold,
    };
    let mut line = serde_json::to_vec(&entry).map_err(|e| AgentError::Incomplete(e.to_string()))?;
    line.push(b'\n');
    shared
        .blobs
        .append(&names::classification_log(device), &line, true)
        .await?;
    Ok(blobs.len())
}

/// The metadata that mirrors the tags (Azure refuses it on protected blobs: tolerated).
async fn update_metadata(
    shared: &Shared,
    b: &BlobInfo,
    t: &BTreeMap<String, String>,
    when: &str,
) -> Result<(), AgentError> {
    let mut meta = b.metadata.clone();
    let class = t.get(tags::CATEGORY).cloned().unwrap_or_default();
    let until = t.get(tags::RETENTION).cloned().unwrap_or_default();
    meta.insert("retention_class".into(), class.clone());
    meta.insert("retain_until".into(), until);
    meta.insert("classified_utc".into(), when.to_string());
    let label = if class == EVIDENCE {
        "evidence".to_string()
    } else {
        format!("category {class}")
    };
    match shared.blobs.set_metadata(&b.name, &meta).await {
        Ok(()) => println!("{}: {label}", b.name),
        Err(e) => println!("{}: {label} (tags set; metadata unchanged: {e})", b.name),
    }
    Ok(())
}

/// The operator's name when `--by` is not given: `$USER`, else the numeric user id.
pub fn default_operator() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty() && u.len() <= 64)
        // SAFETY: getuid(2) cannot fail and has no preconditions.
        .unwrap_or_else(|| format!("uid:{}", unsafe { libc::getuid() }))
}
