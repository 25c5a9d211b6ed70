//! The `spread` tag: keeps a lifecycle rule, which can only count each blob's own age,
//! from deleting part of a recording before the retention job would delete any of it.
//!
//! The job keeps a recording until its **newest** blob is past its period. A lifecycle
//! rule deletes each blob once **it** is old enough. The two differ only when a
//! recording's segments reach the container on different days (an offload cut short
//! and finished at a later dock). So every segment blob carries `spread`: how many
//! whole days, at most, it may be older than the newest blob of its recording, as one
//! of a few buckets ([`tags::SPREAD_BUCKETS`]). The lifecycle policy has one rule per
//! category and bucket and adds the bucket, plus one day, to the period
//! ([`super::lifecycle`]).
//!
//! The rule that makes the two agree (docs/DEPLOYMENT.md, "Retention"): before the
//! first segment of a recording is uploaded in a pass, every blob of that recording
//! already in the container gets a `spread` of at least its age *now*, rounded up to
//! whole days. The blobs uploaded after it, in the same pass, are younger than one day
//! by the time the pass ends (a pass takes minutes), which the policy's extra day
//! covers. The age is measured on the later of this host's clock and the service's, so
//! a host clock running behind cannot make a bucket too small; the retention test seam
//! (`BODYCAM_RETENTION_AGE_DAYS`) ages the earlier blobs, as it does for the job.
//! `classify`, which lists a whole recording, also raises each blob's bucket to cover
//! the newest blob it sees.

use chrono::{DateTime, Utc};

use super::AgentError;
use super::azure::BlobInfo;
use super::names;
use super::offload::Shared;
use super::tags;
use crate::layout::RecordingId;

/// The bucket `b` needs, at `now`, for later blobs of its recording to arrive (its age
/// rounded up to whole days); the largest bucket for a blob the listing gave no
/// creation time (never deleted early by a rule).
pub fn needed(b: &BlobInfo, now: DateTime<Utc>) -> u32 {
    match b.created {
        Some(created) => tags::spread_bucket(now - created),
        None => tags::SPREAD_LARGEST,
    }
}

/// The bucket `b` needs when `newest` is the newest blob of its recording and no later
/// one is on its way: its distance to the newest, less the day the policy adds.
pub fn covering_newest(b: &BlobInfo, newest: DateTime<Utc>) -> u32 {
    match b.created {
        Some(created) => tags::spread_bucket(newest - created - chrono::Duration::days(1)),
        None => tags::SPREAD_LARGEST,
    }
}

/// The blobs whose `spread` tag is missing or below what `now` needs, with the value
/// each must get.
pub fn to_raise(blobs: &[BlobInfo], now: DateTime<Utc>) -> Vec<(&BlobInfo, u32)> {
    blobs
        .iter()
        .filter_map(|b| {
            let need = needed(b, now);
            match tags::spread_of(&b.tags) {
                Some(have) if have >= need => None,
                Some(_) | None => Some((b, need)),
            }
        })
        .collect()
}

/// Before new segments of `rec` are uploaded: raise the `spread` tag of every blob of
/// it already in the container (one listing, and one Set Blob Tags per blob raised).
/// Returns how many were raised.
pub async fn before_upload(
    shared: &Shared,
    device: &str,
    rec: &RecordingId,
) -> Result<usize, AgentError> {
    let prefix = names::recording_prefix(device, rec);
    let (mut blobs, service) = shared.blobs.list_detailed_dated(&prefix).await?;
    blobs.retain(|b| names::parse_segment_blob(&b.name).is_some());
    if blobs.is_empty() {
        return Ok(0);
    }
    let age = chrono::Duration::days(i64::from(super::retention::test_age()?.unwrap_or(0)));
    let host = Utc::now();
    let now = service.map_or(host, |s| s.max(host)) + age;
    let raise = to_raise(&blobs, now);
    for (b, bucket) in &raise {
        let mut t = b.tags.clone();
        t.insert(tags::SPREAD.to_string(), bucket.to_string());
        let pairs: Vec<(&str, &str)> = t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        shared.blobs.set_tags(&b.name, &pairs).await?;
        tracing::info!(blob = %b.name, spread = bucket, "earlier blob of a recording continued at a later offload: spread tag raised");
    }
    Ok(raise.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn blob(created: Option<&str>, spread: Option<&str>) -> BlobInfo {
        BlobInfo {
            name: "d/r/000001.ts".into(),
            created: created.map(t),
            len: 1,
            tags: spread
                .map(|s| BTreeMap::from([(tags::SPREAD.to_string(), s.to_string())]))
                .unwrap_or_default(),
            metadata: BTreeMap::new(),
            legal_hold: false,
        }
    }

    #[test]
    fn earlier_blobs_get_a_bucket_covering_their_age_and_none_is_lowered() {
        let now = t("2026-12-10T12:00:00Z");
        let blobs = [
            // Uploaded ten days ago with 0: needs 16 (ten days and a bit, rounded up).
            blob(Some("2026-11-30T11:00:00Z"), Some("0")),
            // Already covered: left alone.
            blob(Some("2026-12-09T13:00:00Z"), Some("4")),
            // A moment ago, 0: one day, since later blobs may come within the pass.
            blob(Some("2026-12-10T11:59:00Z"), Some("0")),
            // No tag (uploaded before spread tags existed): gets one.
            blob(Some("2026-12-10T10:00:00Z"), None),
            // A bucket the tag vocabulary does not have: replaced.
            blob(Some("2026-12-10T10:00:00Z"), Some("banana")),
            // No creation time: the largest bucket.
            blob(None, Some("0")),
        ];
        let raised: Vec<u32> = to_raise(&blobs, now).into_iter().map(|(_, v)| v).collect();
        assert_eq!(raised, [16, 1, 1, 1, 65_536]);
        // Against a known newest blob, the policy's extra day counts: a blob created
        // two days before the newest needs 1, one created minutes before needs 0.
        let newest = t("2026-12-10T12:00:00Z");
        assert_eq!(
            covering_newest(&blob(Some("2026-12-08T12:00:00Z"), None), newest),
            1
        );
        assert_eq!(
            covering_newest(&blob(Some("2026-12-08T11:00:00Z"), None), newest),
            4
        );
        assert_eq!(
            covering_newest(&blob(Some("2026-12-10T11:50:00Z"), None), newest),
            0
        );
        assert_eq!(covering_newest(&blob(None, None), newest), 65_536);
        // A bigger bucket than needed is never lowered.
        assert!(to_raise(&[blob(Some("2026-12-10T11:00:00Z"), Some("1024"))], now).is_empty());
    }
}
