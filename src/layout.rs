//! Strict validation of the ids that come from a URL, and the only functions that turn
//! them into paths: a path below the store is built from a [`RecordingId`] and a
//! sequence number that passed [`parse_sequence`], never from request text.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::evidence::audit::{AUDIT_FILE, EVIDENCE_DIR};
use crate::store::RECORDINGS_DIR;
use crate::store::segment::{journal_name, media_name, meta_name};

/// Highest segment sequence number (six decimal digits).
pub const MAX_SEQUENCE: u32 = 999_999;
/// Longest recording id accepted (`YYYYMMDDTHHMMSSZ` is 16; the `-N` suffix is short).
const MAX_ID_LEN: usize = 32;

/// A recording id of the form `^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$` (ASCII digits only), at
/// most 32 bytes: safe to use as one path component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordingId(String);

impl RecordingId {
    /// Validate `s`; `None` unless it has exactly the recording id form.
    pub fn parse(s: &str) -> Option<RecordingId> {
        let b = s.as_bytes();
        if b.len() < 16 || b.len() > MAX_ID_LEN {
            return None;
        }
        let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
        let stamp_ok = digits(&b[0..8]) && b[8] == b'T' && digits(&b[9..15]) && b[15] == b'Z';
        let suffix_ok = match &b[16..] {
            [] => true,
            [b'-', rest @ ..] => !rest.is_empty() && digits(rest),
            _ => false,
        };
        (stamp_ok && suffix_ok).then(|| RecordingId(s.to_string()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A segment sequence number: 1 to 6 ASCII digits (leading zeros allowed, no sign),
/// value 1..=[`MAX_SEQUENCE`].
pub fn parse_sequence(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 6 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n = s.bytes().fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
    (1..=MAX_SEQUENCE).contains(&n).then_some(n)
}

/// The files of one segment that the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentPart {
    /// `NNNNNN.ts`, MPEG-TS.
    Media,
    /// `NNNNNN.journal`, signed records.
    Journal,
    /// `NNNNNN.json`, the sidecar.
    Meta,
}

impl SegmentPart {
    /// Content type served.
    pub fn content_type(self) -> &'static str {
        match self {
            SegmentPart::Media => "video/mp2t",
            SegmentPart::Journal => "application/octet-stream",
            SegmentPart::Meta => "application/json",
        }
    }

    fn file_name(self, sequence: u32) -> String {
        match self {
            SegmentPart::Media => media_name(sequence),
            SegmentPart::Journal => journal_name(sequence),
            SegmentPart::Meta => meta_name(sequence),
        }
    }
}

/// `root/recordings/<id>`.
pub fn recording_dir(root: &Path, id: &RecordingId) -> PathBuf {
    root.join(RECORDINGS_DIR).join(id.as_str())
}

/// `root/recordings/<id>/NNNNNN.<ext>`.
pub fn segment_path(root: &Path, id: &RecordingId, sequence: u32, part: SegmentPart) -> PathBuf {
    recording_dir(root, id).join(part.file_name(sequence))
}

/// `root/evidence/audit.log`.
pub fn audit_path(root: &Path) -> PathBuf {
    root.join(EVIDENCE_DIR).join(AUDIT_FILE)
}

/// The sequence number of a segment file name `NNNNNN.ts|journal|json` (exactly six
/// digits), for listing a recording directory.
pub fn sequence_of_file(name: &str) -> Option<u32> {
    let (stem, ext) = name.split_once('.')?;
    if stem.len() != 6 || !matches!(ext, "ts" | "journal" | "json") {
        return None;
    }
    parse_sequence(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_ids_of_the_exact_form_only() {
        for ok in [
            "20261125T175328Z",
            "20261125T175328Z-2",
            "20261125T175328Z-12345",
            "00000000T000000Z",
        ] {
            assert_eq!(RecordingId::parse(ok).map(|i| i.0), Some(ok.to_string()));
        }
        for bad in [
            "",
            "..",
            "../20261125T175328Z",
            "20261125T175328Z/..",
            "/etc/passwd",
            "20261125T175328",
            "20261125T175328Z-",
            "20261125T175328Z--2",
            "20261125T175328Z-2a",
            "20261125t175328Z",
            "20261125T175328z",
            "2026112AT175328Z",
            "20261125T175328Z\0",
            "20261125T175328Z\n",
            " 20261125T175328Z",
            "２０２６1125T175328Z",
            "20261125T175328Z-２",
            "20261125T175328Z-1234567890123456",
        ] {
            assert_eq!(RecordingId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sequences_from_1_to_999999() {
        assert_eq!(parse_sequence("1"), Some(1));
        assert_eq!(parse_sequence("000001"), Some(1));
        assert_eq!(parse_sequence("999999"), Some(999_999));
        for bad in [
            "", "0", "000000", "1000000", "0000001", "+1", "-1", "1 ", "1.0", "0x1", "１", "1\0",
        ] {
            assert_eq!(parse_sequence(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn paths_stay_below_the_store() {
        let id = RecordingId::parse("20261125T175328Z-3").unwrap();
        let root = Path::new("/data");
        assert_eq!(
            segment_path(root, &id, 7, SegmentPart::Journal),
            Path::new("/data/recordings/20261125T175328Z-3/000007.journal")
        );
        assert_eq!(audit_path(root), Path::new("/data/evidence/audit.log"));
        assert_eq!(sequence_of_file("000012.ts"), Some(12));
        assert_eq!(sequence_of_file("000012.json.tmp"), None);
        assert_eq!(sequence_of_file("12.ts"), None);
        assert_eq!(sequence_of_file("recording.json"), None);
    }
}
