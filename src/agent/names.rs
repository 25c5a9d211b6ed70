//! The container's layout: every blob name the dock agent writes, and the parsing of
//! them (`fetch`). Segment file names inside are [`crate::layout`]'s.
//!
//! ```text
//! <device>/<recording>/NNNNNN.journal|json|ts        a verified, acknowledged segment
//! <device>/audit/<entries, 12 digits>.log            a verified audit log snapshot
//! <device>/heads/<utc>-<nonce>.json                  the head statement of an offload
//! <device>/custody/classifications.log               append blob: who classified what, when
//! <device>/custody/deletions.log                     append blob: the retention job's deletion records
//! <device>/custody/versions-pending/<recording>      marker: the job is removing that recording's versions
//! quarantine/<device>/<recording>/NNNNNN.*           a segment that failed verification
//! quarantine/<device>/<recording>/NNNNNN.report-<h>.json   why (one per finding set)
//! quarantine/<device>/audit/<entries>-<sha>.log      an audit log that failed verification
//! ```

use crate::layout::{RecordingId, SegmentFile};

/// Blob name prefix for what failed verification.
pub const QUARANTINE_PREFIX: &str = "quarantine";
/// Folder of a device's audit log snapshots.
const AUDIT_DIR: &str = "audit";
/// Folder of a device's head statements.
const HEADS_DIR: &str = "heads";
/// Folder of a device's chain-of-custody logs (append blobs).
const CUSTODY_DIR: &str = "custody";
/// The classification log's file name in [`CUSTODY_DIR`].
const CLASSIFICATIONS_FILE: &str = "classifications.log";
/// The deletion log's file name in [`CUSTODY_DIR`].
const DELETIONS_FILE: &str = "deletions.log";
/// Folder in [`CUSTODY_DIR`] of the retention job's version-removal markers.
const VERSIONS_PENDING_DIR: &str = "versions-pending";

/// The marker the retention job keeps while it removes the stored versions of a
/// deleted recording: `<device>/custody/versions-pending/<recording>`.
pub fn versions_pending(device: &str, recording: &RecordingId) -> String {
    format!("{device}/{CUSTODY_DIR}/{VERSIONS_PENDING_DIR}/{recording}")
}

/// The device and recording of a [`versions_pending`] marker.
pub fn parse_versions_pending(name: &str) -> Option<(&str, RecordingId)> {
    let (device, rest) = name.split_once('/')?;
    let rec = rest
        .strip_prefix(CUSTODY_DIR)?
        .strip_prefix('/')?
        .strip_prefix(VERSIONS_PENDING_DIR)?
        .strip_prefix('/')?;
    if !is_device_id(device) {
        return None;
    }
    Some((device, RecordingId::parse(rec)?))
}

/// `<device>/<recording>/NNNNNN` (add `.` and a [`SegmentFile`] extension).
pub fn segment_prefix(device: &str, recording: &RecordingId, sequence: u32) -> String {
    format!("{device}/{recording}/{sequence:06}")
}

/// The blob of one of a segment's files.
pub fn segment_blob(
    device: &str,
    recording: &RecordingId,
    sequence: u32,
    file: SegmentFile,
) -> String {
    format!(
        "{}.{}",
        segment_prefix(device, recording, sequence),
        file.ext()
    )
}

/// The quarantine prefix of a segment: `quarantine/<device>/<recording>/NNNNNN`.
pub fn quarantine_prefix(device: &str, recording: &RecordingId, sequence: u32) -> String {
    format!(
        "{QUARANTINE_PREFIX}/{}",
        segment_prefix(device, recording, sequence)
    )
}

/// The report of a quarantined segment, one per distinct set of findings (`finding_hash`:
/// a hex digest of the reasons).
pub fn quarantine_report(prefix: &str, finding_hash: &str) -> String {
    format!(
        "{prefix}.report-{}.json",
        &finding_hash[..12.min(finding_hash.len())]
    )
}

/// A verified audit log snapshot with `entries` records.
pub fn audit_blob(device: &str, entries: usize) -> String {
    format!("{device}/{AUDIT_DIR}/{entries:012}.log")
}

/// An audit log that failed verification (`sha256`: hex of its bytes).
pub fn quarantined_audit_blob(device: &str, entries: usize, sha256: &str) -> String {
    format!(
        "{QUARANTINE_PREFIX}/{device}/{AUDIT_DIR}/{entries:012}-{}.log",
        &sha256[..12.min(sha256.len())]
    )
}

/// A head statement made at `utc_stamp` (`YYYYMMDDTHHMMSS.mmmZ`) for `nonce` (hex).
pub fn head_blob(device: &str, utc_stamp: &str, nonce_hex: &str) -> String {
    format!("{device}/{HEADS_DIR}/{utc_stamp}-{nonce_hex}.json")
}

/// The device's classification log: one JSON line per classification
/// (`bodycam-classification/1`).
pub fn classification_log(device: &str) -> String {
    format!("{device}/{CUSTODY_DIR}/{CLASSIFICATIONS_FILE}")
}

/// The device's deletion log: one JSON line per recording deleted under retention
/// ([`crate::evidence::deletion::DeletionRecord`]).
pub fn deletion_log(device: &str) -> String {
    format!("{device}/{CUSTODY_DIR}/{DELETIONS_FILE}")
}

/// The prefix of every segment blob of a recording: `<device>/<recording>/`.
pub fn recording_prefix(device: &str, recording: &RecordingId) -> String {
    format!("{device}/{recording}/")
}

/// Whether `s` is a device id as blob names use it (32 lower-case hex digits).
pub fn is_device_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A segment blob's device, recording, sequence and kind, from its full name
/// (`<device>/<recording>/NNNNNN.<ext>`); `None` for anything else.
pub fn parse_segment_blob(name: &str) -> Option<(&str, RecordingId, u32, SegmentFile)> {
    let (device, rest) = name.split_once('/')?;
    if !is_device_id(device) {
        return None;
    }
    match parse_device_blob(rest)? {
        DeviceBlob::Segment { recording, file } => {
            let (seq, kind) = SegmentFile::parse(file)?;
            Some((device, RecordingId::parse(recording)?, seq, kind))
        }
        DeviceBlob::Audit(_) | DeviceBlob::Head(_) | DeviceBlob::Custody(_) => None,
    }
}

/// What a blob below `<device>/` is, by its name after the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceBlob<'a> {
    /// An audit log snapshot with this many entries.
    Audit(u64),
    /// A head statement file.
    Head(&'a str),
    /// A chain-of-custody log.
    Custody(CustodyLog),
    /// A segment file the camera serves (media, journal, sidecar).
    Segment {
        /// Recording id.
        recording: &'a str,
        /// The file name `NNNNNN.<ext>`.
        file: &'a str,
    },
}

/// The chain-of-custody logs of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustodyLog {
    /// [`classification_log`].
    Classifications,
    /// [`deletion_log`].
    Deletions,
}

/// Read a blob name below `<device>/` (`rest`: the name without that prefix); `None`
/// for anything else (which `fetch` skips).
pub fn parse_device_blob(rest: &str) -> Option<DeviceBlob<'_>> {
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        [AUDIT_DIR, file] => file
            .strip_suffix(".log")
            .and_then(|n| n.parse::<u64>().ok())
            .map(DeviceBlob::Audit),
        [HEADS_DIR, file] if file.ends_with(".json") && !file.contains("..") => {
            Some(DeviceBlob::Head(file))
        }
        [CUSTODY_DIR, CLASSIFICATIONS_FILE] => {
            Some(DeviceBlob::Custody(CustodyLog::Classifications))
        }
        [CUSTODY_DIR, DELETIONS_FILE] => Some(DeviceBlob::Custody(CustodyLog::Deletions)),
        [rec, file] if RecordingId::parse(rec).is_some() => match SegmentFile::parse(file) {
            Some((_, SegmentFile::Media | SegmentFile::Journal | SegmentFile::Meta)) => {
                Some(DeviceBlob::Segment {
                    recording: rec,
                    file,
                })
            }
            Some((_, SegmentFile::Ack)) | None => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_the_parser() {
        let dev = "0123456789abcdef0123456789abcdef";
        let rec = RecordingId::parse("20261125T175328Z").unwrap();
        let media = segment_blob(dev, &rec, 7, SegmentFile::Media);
        assert_eq!(media, format!("{dev}/20261125T175328Z/000007.ts"));
        let rest = &media[dev.len() + 1..];
        assert_eq!(
            parse_device_blob(rest),
            Some(DeviceBlob::Segment {
                recording: "20261125T175328Z",
                file: "000007.ts"
            })
        );
        let audit = audit_blob(dev, 42);
        assert_eq!(audit, format!("{dev}/audit/000000000042.log"));
        assert_eq!(
            parse_device_blob(&audit[dev.len() + 1..]),
            Some(DeviceBlob::Audit(42))
        );
        let head = head_blob(dev, "20261125T175328.123Z", "00ff");
        assert_eq!(
            parse_device_blob(&head[dev.len() + 1..]),
            Some(DeviceBlob::Head("20261125T175328.123Z-00ff.json"))
        );
        assert_eq!(
            quarantine_prefix(dev, &rec, 7),
            format!("quarantine/{dev}/20261125T175328Z/000007")
        );
        let marker = versions_pending(dev, &rec);
        assert_eq!(
            marker,
            format!("{dev}/custody/versions-pending/20261125T175328Z")
        );
        assert_eq!(parse_versions_pending(&marker), Some((dev, rec.clone())));
        assert_eq!(
            parse_device_blob(&marker[dev.len() + 1..]),
            None,
            "fetch skips markers"
        );
        assert_eq!(parse_versions_pending(&deletion_log(dev)), None);
        assert_eq!(
            parse_versions_pending("x/custody/versions-pending/20261125T175328Z"),
            None
        );
        assert_eq!(
            parse_device_blob(&deletion_log(dev)[dev.len() + 1..]),
            Some(DeviceBlob::Custody(CustodyLog::Deletions))
        );
        assert_eq!(
            parse_device_blob(&classification_log(dev)[dev.len() + 1..]),
            Some(DeviceBlob::Custody(CustodyLog::Classifications))
        );
        let (d, r, seq, kind) = parse_segment_blob(&media).unwrap();
        assert_eq!(
            (d, r.as_str(), seq, kind),
            (dev, "20261125T175328Z", 7, SegmentFile::Media)
        );
        assert_eq!(parse_segment_blob(&audit), None);
        assert_eq!(
            parse_segment_blob(&format!("quarantine/{dev}/20261125T175328Z/000007.ts")),
            None
        );
        assert_eq!(
            recording_prefix(dev, &rec),
            format!("{dev}/20261125T175328Z/")
        );
        for other in [
            "custody/other.log",
            "20261125T175328Z/000007.ack",
            "20261125T175328Z/000007.ts.part",
            "../x/000007.ts",
            "heads/../../x.json",
            "audit/x.log",
            "x/y/z",
        ] {
            assert_eq!(parse_device_blob(other), None, "{other}");
        }
    }
}
