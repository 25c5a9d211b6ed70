//! The on-flash layout: every file and directory name the camera writes below
//! `storage.path` and in its key directory, the grammar of recording ids and segment file
//! names, and the walks over them. No other module spells or parses one of these names.
//!
//! ```text
//! <storage.path>/
//!   ctl.sock                         control socket (unless [ctl] socket is set)
//!   recordings/<recording-id>/
//!     recording.json                 the recording's descriptor
//!     NNNNNN.ts                      segment media (MPEG-TS)
//!     NNNNNN.journal                 the segment's signed records
//!     NNNNNN.json                    the segment's sidecar
//!     NNNNNN.ack                     a dock's acknowledgement
//!   evidence/audit.log               the signed audit log
//!   evidence/media.head              copy of the newest media-chain record
//!   evidence/deletions.jsonl         a fetched copy only: the container's deletion records
//!   assignment.json                  the officer assigned by the dock (next recording on)
//!   .probe                           written and removed to test the medium after a fault
//!   keys/device.pk8, identity.json   default key directory
//! ```
//!
//! Ids that come from outside (a URL, a blob name) are validated here before any path is
//! built from them: a path below the store is built from a [`RecordingId`] and a sequence
//! number that passed [`parse_sequence`], never from request text.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Directory below `storage.path` holding one directory per recording.
pub const RECORDINGS_DIR: &str = "recordings";
/// Directory below `storage.path` holding device-wide evidence files.
pub const EVIDENCE_DIR: &str = "evidence";
/// The audit log, in [`EVIDENCE_DIR`].
pub const AUDIT_FILE: &str = "audit.log";
/// Copy of the newest media-chain record, in [`EVIDENCE_DIR`] (kept when segments are
/// later freed).
pub const MEDIA_HEAD_FILE: &str = "media.head";
/// In a store fetched from the cloud (`dock-agent fetch`), in [`EVIDENCE_DIR`]: the
/// retention job's deletion records for the device, one JSON object per line
/// (docs/EVIDENCE-FORMAT.md §7). Never on a camera.
pub const DELETIONS_FILE: &str = "deletions.jsonl";
/// The officer a dock assigned the camera to (`crate::evidence::officer::Assignment`),
/// below `storage.path`; written atomically.
pub const ASSIGNMENT_FILE: &str = "assignment.json";
/// The recording descriptor in each recording directory.
pub const RECORDING_INFO: &str = "recording.json";
/// Default key directory below `storage.path` (`[evidence] key_dir`).
pub const KEY_DIR: &str = "keys";
/// The device's Ed25519 private key (PKCS#8, 0600) in the key directory.
pub const KEY_FILE: &str = "device.pk8";
/// The device's public identity (for enrolment) in the key directory.
pub const IDENTITY_FILE: &str = "identity.json";
/// Default control socket below `storage.path` (`[ctl] socket`).
pub const CTL_SOCKET: &str = "ctl.sock";
/// Suffix of the temporary file an atomic replacement writes first (`.NAME.tmp`).
const TMP_SUFFIX: &str = ".tmp";
/// The file [`crate::flash::Flash::probe`] writes, fsyncs and removes below
/// `storage.path` to tell whether the medium takes writes again (hidden: never evidence).
pub const PROBE_FILE: &str = ".probe";

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

/// The files of one segment, `NNNNNN.<ext>` with exactly six digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SegmentFile {
    /// `NNNNNN.ts`, MPEG-TS.
    Media,
    /// `NNNNNN.journal`, signed records.
    Journal,
    /// `NNNNNN.json`, the sidecar.
    Meta,
    /// `NNNNNN.ack`, a dock's acknowledgement.
    Ack,
}

impl SegmentFile {
    /// Every kind, in the order a segment's files are made.
    pub const ALL: [SegmentFile; 4] = [
        SegmentFile::Media,
        SegmentFile::Journal,
        SegmentFile::Meta,
        SegmentFile::Ack,
    ];

    /// File name extension (without the dot).
    pub fn ext(self) -> &'static str {
        match self {
            SegmentFile::Media => "ts",
            SegmentFile::Journal => "journal",
            SegmentFile::Meta => "json",
            SegmentFile::Ack => "ack",
        }
    }

    /// Content type (as served to a dock and stored in the cloud).
    pub fn content_type(self) -> &'static str {
        match self {
            SegmentFile::Media => "video/mp2t",
            SegmentFile::Journal => "application/octet-stream",
            SegmentFile::Meta | SegmentFile::Ack => "application/json",
        }
    }

    /// The file name of segment `sequence`: `NNNNNN.<ext>`.
    pub fn name(self, sequence: u32) -> String {
        format!("{sequence:06}.{}", self.ext())
    }

    /// Segment `sequence`'s file in the recording directory `dir`.
    pub fn path(self, dir: &Path, sequence: u32) -> PathBuf {
        dir.join(self.name(sequence))
    }

    /// The sequence number and kind of a segment file name: exactly six digits, a dot,
    /// one of the extensions (nothing after it).
    pub fn parse(name: &str) -> Option<(u32, SegmentFile)> {
        let (stem, ext) = name.split_once('.')?;
        let kind = SegmentFile::ALL.into_iter().find(|k| k.ext() == ext)?;
        if stem.len() != 6 {
            return None;
        }
        Some((parse_sequence(stem)?, kind))
    }
}

/// `root/recordings`.
pub fn recordings_dir(root: &Path) -> PathBuf {
    root.join(RECORDINGS_DIR)
}

/// `root/recordings/<id>`.
pub fn recording_dir(root: &Path, id: &RecordingId) -> PathBuf {
    recordings_dir(root).join(id.as_str())
}

/// `root/recordings/<id>/NNNNNN.<ext>`.
pub fn segment_path(root: &Path, id: &RecordingId, sequence: u32, file: SegmentFile) -> PathBuf {
    file.path(&recording_dir(root, id), sequence)
}

/// `root/evidence`.
pub fn evidence_dir(root: &Path) -> PathBuf {
    root.join(EVIDENCE_DIR)
}

/// `root/evidence/audit.log`.
pub fn audit_path(root: &Path) -> PathBuf {
    evidence_dir(root).join(AUDIT_FILE)
}

/// `root/evidence/media.head`.
pub fn media_head_path(root: &Path) -> PathBuf {
    evidence_dir(root).join(MEDIA_HEAD_FILE)
}

/// `root/evidence/deletions.jsonl`.
pub fn deletions_path(root: &Path) -> PathBuf {
    evidence_dir(root).join(DELETIONS_FILE)
}

/// `root/assignment.json`.
pub fn assignment_path(root: &Path) -> PathBuf {
    root.join(ASSIGNMENT_FILE)
}

/// The temporary file an atomic replacement of `path` writes first: `.NAME.tmp` in the
/// same directory. Never evidence: only the renamed file counts.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(TMP_SUFFIX);
    path.with_file_name(name)
}

/// A new recording id for a recording started at `stamp` (`YYYYMMDDTHHMMSSZ`, UTC):
/// the stamp itself, or `stamp-2`, `stamp-3` … when `taken` says an id is in use.
pub fn new_recording_id(stamp: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut id = stamp.to_string();
    let mut n = 1;
    while taken(&id) {
        n += 1;
        id = format!("{stamp}-{n}");
    }
    id
}

/// The recording directories below `recordings` (real directories, not symlinks),
/// sorted by name (oldest first, as ids are UTC stamps). A missing `recordings` is empty.
pub fn recording_dirs(recordings: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let entries = match std::fs::read_dir(recordings) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        if let Some(name) = entry.file_name().to_str() {
            out.push((name.to_string(), entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The files one segment has in its recording directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentFiles {
    /// `NNNNNN.ts`.
    pub media: Option<PathBuf>,
    /// `NNNNNN.journal`.
    pub journal: Option<PathBuf>,
    /// `NNNNNN.json`.
    pub meta: Option<PathBuf>,
    /// `NNNNNN.ack`.
    pub ack: Option<PathBuf>,
}

impl SegmentFiles {
    /// The path of one kind, if present.
    pub fn get(&self, file: SegmentFile) -> Option<&Path> {
        match file {
            SegmentFile::Media => self.media.as_deref(),
            SegmentFile::Journal => self.journal.as_deref(),
            SegmentFile::Meta => self.meta.as_deref(),
            SegmentFile::Ack => self.ack.as_deref(),
        }
    }

    fn slot(&mut self, file: SegmentFile) -> &mut Option<PathBuf> {
        match file {
            SegmentFile::Media => &mut self.media,
            SegmentFile::Journal => &mut self.journal,
            SegmentFile::Meta => &mut self.meta,
            SegmentFile::Ack => &mut self.ack,
        }
    }
}

/// The segments of the recording directory `dir`, by sequence number: every regular
/// file (not a symlink) whose name [`SegmentFile::parse`] accepts. Anything else in the
/// directory (`recording.json`, temporary files) is not a segment file.
pub fn segment_files(dir: &Path) -> std::io::Result<BTreeMap<u32, SegmentFiles>> {
    let mut out: BTreeMap<u32, SegmentFiles> = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some((seq, kind)) = entry.file_name().to_str().and_then(SegmentFile::parse) else {
            continue;
        };
        if entry.file_type()?.is_file() {
            *out.entry(seq).or_default().slot(kind) = Some(entry.path());
        }
    }
    Ok(out)
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
            segment_path(root, &id, 7, SegmentFile::Journal),
            Path::new("/data/recordings/20261125T175328Z-3/000007.journal")
        );
        assert_eq!(audit_path(root), Path::new("/data/evidence/audit.log"));
        assert_eq!(
            media_head_path(root),
            Path::new("/data/evidence/media.head")
        );
    }

    #[test]
    fn segment_file_names_round_trip_and_nothing_else_parses() {
        for kind in SegmentFile::ALL {
            let name = kind.name(12);
            assert_eq!(SegmentFile::parse(&name), Some((12, kind)), "{name}");
        }
        assert_eq!(SegmentFile::Media.name(1), "000001.ts");
        assert_eq!(SegmentFile::Ack.name(999_999), "999999.ack");
        for bad in [
            "000012.json.tmp",
            ".000012.json.tmp",
            "12.ts",
            "0000012.ts",
            "000000.ts",
            "00001a.ts",
            "000012.TS",
            "000012.mp4",
            "000012",
            "recording.json",
            "000012.ts.part",
        ] {
            assert_eq!(SegmentFile::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn tmp_files_are_hidden_siblings() {
        assert_eq!(
            tmp_path(Path::new("/d/r/000001.json")),
            Path::new("/d/r/.000001.json.tmp")
        );
        assert_eq!(SegmentFile::parse(".000001.json.tmp"), None);
    }

    #[test]
    fn recording_ids_are_unique_within_a_second() {
        let taken = ["20261125T175328Z", "20261125T175328Z-2"];
        assert_eq!(
            new_recording_id("20261125T175328Z", |id| taken.contains(&id)),
            "20261125T175328Z-3"
        );
        assert_eq!(
            new_recording_id("20261125T175329Z", |_| false),
            "20261125T175329Z"
        );
    }

    #[test]
    fn walks_list_recordings_and_segments_but_not_symlinks_or_strays() {
        let d = tempfile::tempdir().unwrap();
        let recs = recordings_dir(d.path());
        assert!(recording_dirs(&recs).unwrap().is_empty());
        let a = recs.join("20261125T175328Z");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(recs.join("20261125T170000Z")).unwrap();
        std::fs::write(recs.join("stray-file"), b"x").unwrap();
        std::os::unix::fs::symlink(&a, recs.join("20261125T180000Z")).unwrap();
        let names: Vec<String> = recording_dirs(&recs)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["20261125T170000Z", "20261125T175328Z"]);

        for f in [
            "000001.ts",
            "000001.journal",
            "000002.journal",
            "recording.json",
            ".000002.json.tmp",
        ] {
            std::fs::write(a.join(f), b"x").unwrap();
        }
        std::os::unix::fs::symlink(a.join("000001.ts"), a.join("000003.ts")).unwrap();
        let segs = segment_files(&a).unwrap();
        assert_eq!(segs.keys().copied().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(
            segs[&1].media.as_deref(),
            Some(a.join("000001.ts").as_path())
        );
        assert!(segs[&1].journal.is_some() && segs[&1].meta.is_none());
        assert!(segs[&2].media.is_none() && segs[&2].get(SegmentFile::Journal).is_some());
    }
}
