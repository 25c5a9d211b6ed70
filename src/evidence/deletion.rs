//! Deletion records (`bodycam-deletion/1`): what the dock agent's retention job deleted
//! from the container, when, under which rule, with the hashes that let a verifier
//! account for the gap it leaves (docs/EVIDENCE-FORMAT.md §7.1). The one definition,
//! written by `dock-agent retention --apply` (one JSON line per recording, appended to
//! `<device>/custody/deletions.log` **before** anything is deleted) and read by
//! `bodycam verify` from a fetched store's `evidence/deletions.jsonl`.
//!
//! The record is not signed by the camera (it cannot be: the camera is not there). Its
//! claims are bounded by the signed chain on both sides: a deleted span only accounts
//! for a gap when the record before it hashes to the span's `first_prev_hash` and the
//! record after it names the span's `last_hash` as its `prev_hash`.

use serde::{Deserialize, Serialize};

/// Format tag of a [`DeletionRecord`].
pub const DELETION_FORMAT: &str = "bodycam-deletion/1";

/// One recording's deletion (or the rest of it, after an interrupted run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletionRecord {
    /// Always [`DELETION_FORMAT`].
    pub format: String,
    /// Device id (hex).
    pub device_id: String,
    /// Recording id.
    pub recording_id: String,
    /// When the record was written: the earlier of the job's host clock and the
    /// service's (see [`DeletionRule::clock`]); the test seam does not move it.
    pub utc: String,
    /// Why it was deleted.
    pub rule: DeletionRule,
    /// Who ran the job: operator and host as they named themselves.
    pub operator: String,
    /// The host the job ran on.
    pub host: String,
    /// The officer the recording was made for (from its sidecars), if any.
    #[serde(default)]
    pub officer: Option<String>,
    /// The case id it carried, if any.
    #[serde(default)]
    pub case: Option<String>,
    /// The segments whose blobs this record covers.
    pub segments: Vec<DeletedSegment>,
    /// Bytes deleted (sum of the blobs' lengths).
    pub bytes: u64,
}

/// The retention rule that applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionRule {
    /// The category (`category` tag) of every blob of the recording.
    pub category: String,
    /// Its retention period, days after upload.
    pub days: u32,
    /// The safety margin added, hours.
    pub margin_hours: u32,
    /// The newest blob's creation time (the service's) + days + margin: nothing was
    /// deleted before this.
    pub due_utc: String,
    /// Which clock the job's "now" came from: `service` (the service's `Date`, when
    /// earlier than the host's) or `host`.
    pub clock: String,
    /// Test seam only (`BODYCAM_RETENTION_AGE_DAYS`): days every blob was treated as
    /// older than it is. Absent in production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_age_days: Option<u32>,
}

/// One deleted segment: its signed hashes and its journal's place in the media chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletedSegment {
    /// Sequence number.
    pub segment: u32,
    /// `segment_sha256` of its final or recovery record (hex): the media's signed hash.
    pub media_sha256: Option<String>,
    /// `sidecar_sha256` of that record (hex).
    pub sidecar_sha256: Option<String>,
    /// Its journal's records in the media chain.
    pub span: Option<ChainSpan>,
    /// Whether every journal record verified under the enrolled key when read.
    pub journal_verified: bool,
    /// The segment's UTC start and end, as its blob metadata (from the sidecar) said.
    #[serde(default)]
    pub utc: Option<[String; 2]>,
    /// The blobs deleted.
    pub blobs: Vec<DeletedBlob>,
}

/// A journal's first and last record: what the chain on either side must link to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainSpan {
    /// Counter of the first record.
    pub first_counter: u64,
    /// `prev_hash` of the first record (hex).
    #[serde(with = "hex32")]
    pub first_prev_hash: [u8; 32],
    /// Counter of the last record.
    pub last_counter: u64,
    /// Record hash of the last record (hex).
    #[serde(with = "hex32")]
    pub last_hash: [u8; 32],
}

/// One blob deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedBlob {
    /// Blob name.
    pub name: String,
    /// Length.
    pub bytes: u64,
    /// Its `sha256` metadata (written at upload after reading the blob back).
    pub sha256: Option<String>,
    /// Its creation time, from the service.
    pub created_utc: String,
}

/// Read a deletion log: one record per line; lines that do not parse are returned as
/// `Err(line number, reason)` so that a reader can report them.
pub fn parse_log(text: &str) -> Vec<Result<DeletionRecord, (usize, String)>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<DeletionRecord>(l)
                .map_err(|e| (i + 1, e.to_string()))
                .and_then(|r| {
                    if r.format == DELETION_FORMAT {
                        Ok(r)
                    } else {
                        Err((i + 1, format!("unknown format {:?}", r.format)))
                    }
                })
        })
        .collect()
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(&text)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_as_json_lines() {
        let r = DeletionRecord {
            format: DELETION_FORMAT.into(),
            device_id: "00".repeat(16),
            recording_id: "20261125T175328Z".into(),
            utc: "2027-01-01T00:00:00.000Z".into(),
            rule: DeletionRule {
                category: "standard".into(),
                days: 31,
                margin_hours: 24,
                due_utc: "2026-12-27T17:53:28Z".into(),
                clock: "service".into(),
                test_age_days: None,
            },
            operator: "records".into(),
            host: "dock".into(),
            officer: Some("PC-1".into()),
            case: None,
            segments: vec![DeletedSegment {
                segment: 1,
                media_sha256: Some("ab".repeat(32)),
                sidecar_sha256: None,
                span: Some(ChainSpan {
                    first_counter: 0,
                    first_prev_hash: [0; 32],
                    last_counter: 3,
                    last_hash: [7; 32],
                }),
                journal_verified: true,
                utc: None,
                blobs: vec![],
            }],
            bytes: 10,
        };
        let line = serde_json::to_string(&r).unwrap();
        assert!(!line.contains("test_age_days"), "{line}");
        let text = format!("{line}\nnot json\n\n{line}\n");
        let parsed = parse_log(&text);
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[0].as_ref().unwrap(), &r);
        assert_eq!(parsed[1].as_ref().unwrap_err().0, 2);
        assert!(parsed[2].is_ok());
    }
}
