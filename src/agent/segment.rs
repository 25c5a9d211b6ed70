//! One segment's offload: download its sidecar and media (resumably), verify it (the
//! evidence verifier, and chain continuity from the tip), then either store it (journal
//! and sidecar first, media last, each read back and compared) and acknowledge it, or
//! put it in quarantine with a report. A failure is tried once more with a fresh
//! download, since a local copy can be damaged.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::azure::{BlobError, Put};
use super::camera::{CameraClient, CameraError};
use super::chain::{Span, Tip, continues};
use super::failpoint;
use super::names;
use super::offload::{Device, Shared, ascii_header, chain_problem, remove_with_parts, sha256_hex};
use super::progress::Bar;
use super::tags;
use crate::evidence::officer::officer_label;
use crate::evidence::verify::journal::{JournalError, journal_span};
use crate::evidence::verify::{Report, VerifyOptions, verify};
use crate::layout::{self, RecordingId, SegmentFile};

/// Format tag of a quarantine report.
pub const QUARANTINE_FORMAT: &str = "bodycam-quarantine/1";

/// Why a segment's offload stopped (the camera's offload stops with it).
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// A file could not be downloaded.
    #[error("{}: {source}", part.ext())]
    Download {
        /// Which file.
        part: SegmentFile,
        /// Cause.
        source: CameraError,
    },
    /// The verifier could not run.
    #[error("verifier: {0}")]
    Verifier(String),
    /// A local copy could not be read.
    #[error("{path}: {source}")]
    Read {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The journal does not read (only when everything else verified).
    #[error("journal: {0}")]
    Journal(JournalError),
    /// Storing in the container failed.
    #[error("{what}{source}")]
    Blob {
        /// What was being stored (`""` for the segment itself).
        what: &'static str,
        /// Cause.
        source: BlobError,
    },
    /// The blob was not there after upload.
    #[error("blob {0} is not there after upload")]
    Vanished(String),
    /// A blob of that name holds other bytes: it is never overwritten.
    #[error(
        "blob {blob} holds sha256 {stored_sha256} ({stored_len} bytes), not the verified {sha256} ({len} bytes); it is never overwritten: not acknowledged, examine it"
    )]
    Mismatch {
        /// Blob name.
        blob: String,
        /// What it holds.
        stored_sha256: String,
        /// Its length.
        stored_len: u64,
        /// What was verified.
        sha256: String,
        /// Its length.
        len: u64,
    },
    /// The camera refused the acknowledgement.
    #[error("acknowledgement refused: {0}")]
    AckRefused(CameraError),
}

/// How a segment's offload ended.
pub(super) enum Done {
    /// Stored, verified and acknowledged.
    Acknowledged {
        /// Its journal's records.
        span: Span,
        /// Media bytes stored.
        bytes: u64,
        /// Recorded without an assigned officer (`officer: null`): flagged.
        unassigned: bool,
    },
    /// Failed verification: stored under quarantine, never acknowledged.
    Quarantined {
        /// Why.
        reason: String,
    },
}

/// The mirror paths of one segment.
pub(super) struct SegmentFiles {
    /// `NNNNNN.ts`.
    pub(super) media: PathBuf,
    /// `NNNNNN.journal`.
    pub(super) journal: PathBuf,
    /// `NNNNNN.json`.
    pub(super) meta: PathBuf,
}

impl SegmentFiles {
    /// Segment `seq` of `rec` in the mirror store at `mirror`.
    pub(super) fn new(mirror: &Path, rec: &RecordingId, seq: u32) -> SegmentFiles {
        let dir = layout::recording_dir(mirror, rec);
        SegmentFiles {
            media: SegmentFile::Media.path(&dir, seq),
            journal: SegmentFile::Journal.path(&dir, seq),
            meta: SegmentFile::Meta.path(&dir, seq),
        }
    }

    fn all(&self) -> [&PathBuf; 3] {
        [&self.media, &self.journal, &self.meta]
    }

    /// Remove the local copies, finished or not.
    pub(super) fn remove(&self) {
        for p in self.all() {
            remove_with_parts(p);
        }
    }

    /// The journal's records, checked against `key`.
    pub(super) fn span(&self, key: &[u8; 32]) -> Result<Span, JournalError> {
        let data = std::fs::read(&self.journal).map_err(|e| JournalError::Unreadable {
            path: self.journal.clone(),
            reason: e.to_string(),
        })?;
        journal_span(&data, key)
    }
}

/// Download one of a segment's files to `dest` (resuming an interrupted download).
pub(super) async fn download(
    client: &CameraClient,
    rec: &RecordingId,
    seq: u32,
    part: SegmentFile,
    dest: &Path,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64, CameraError> {
    let api_part = match part {
        SegmentFile::Media => "media",
        SegmentFile::Journal => "journal",
        SegmentFile::Meta | SegmentFile::Ack => "meta",
    };
    let api = format!("/v1/recordings/{rec}/segments/{seq}/{api_part}");
    client.download(&api, dest, progress).await
}

/// Everything one segment's offload works with.
pub(super) struct Job<'a> {
    /// Shared by all bays.
    pub(super) shared: &'a Shared,
    /// The camera.
    pub(super) client: &'a CameraClient,
    /// Its enrolled identity.
    pub(super) device: &'a Device,
    /// Its progress bar.
    pub(super) bar: &'a Bar,
    /// The recording.
    pub(super) rec: &'a RecordingId,
    /// The segment.
    pub(super) seq: u32,
    /// Where its files are mirrored.
    pub(super) files: &'a SegmentFiles,
    /// Where the chain stands before it.
    pub(super) tip: Option<Tip>,
}

/// The verification of the local copy.
struct Checked {
    report: Report,
    problems: Vec<String>,
    span: Result<Span, JournalError>,
}

impl Job<'_> {
    fn name(&self) -> String {
        format!("{}/{:06}", self.rec, self.seq)
    }

    /// Offload the segment whose journal is already downloaded (`span`: its records).
    pub(super) async fn offload(
        &self,
        span: Result<Span, JournalError>,
    ) -> Result<Done, SegmentError> {
        let checked = self.fetch_and_check(span).await?;
        let mut meta = self.metadata(&checked.report);
        if !checked.problems.is_empty() {
            return self.quarantine(checked, meta).await;
        }
        let span = checked.span.map_err(SegmentError::Journal)?;
        let unassigned = read_officer(&self.files.meta).is_none();
        if unassigned {
            tracing::warn!(segment = %self.name(), "UNASSIGNED: recorded without an officer assigned to the camera; stored with officer=unassigned");
        }
        let (sha, bytes) = self.store(&mut meta).await?;
        failpoint::hit("before-ack");
        self.acknowledge(&sha).await?;
        self.files.remove();
        Ok(Done::Acknowledged {
            span,
            bytes,
            unassigned,
        })
    }

    /// Download sidecar and media, verify; on problems, once more from scratch.
    async fn fetch_and_check(
        &self,
        mut span: Result<Span, JournalError>,
    ) -> Result<Checked, SegmentError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.fetch_rest().await?;
            failpoint::hit("after-download");
            self.bar.message(&format!("{}: verify", self.name()));
            let report = self.verify_local().await?;
            let mut problems: Vec<String> = report.failures.clone();
            match &span {
                Ok(sp) => {
                    if let Err(e) = continues(self.tip, sp) {
                        problems.push(chain_problem(&e));
                    }
                }
                Err(e) => problems.push(format!("journal: {e}")),
            }
            if problems.is_empty() || attempt == 2 {
                return Ok(Checked {
                    report,
                    problems,
                    span,
                });
            }
            // A local copy can be damaged (disk, an earlier run): fetch everything again once.
            tracing::warn!(segment = %self.name(), problems = ?problems, "verification failed; downloading the segment again");
            for p in self.files.all() {
                let _ = std::fs::remove_file(p);
            }
            download(
                self.client,
                self.rec,
                self.seq,
                SegmentFile::Journal,
                &self.files.journal,
                &|_| {},
            )
            .await
            .map_err(|source| SegmentError::Download {
                part: SegmentFile::Journal,
                source,
            })?;
            span = self.files.span(&self.device.key);
        }
    }

    /// The sidecar, then the media (counted on the progress bar).
    async fn fetch_rest(&self) -> Result<(), SegmentError> {
        for (part, path) in [
            (SegmentFile::Meta, &self.files.meta),
            (SegmentFile::Media, &self.files.media),
        ] {
            let label = if part == SegmentFile::Meta {
                "meta"
            } else {
                "media"
            };
            self.bar
                .message(&format!("{}: download {label}", self.name()));
            let counted = part == SegmentFile::Media;
            download(self.client, self.rec, self.seq, part, path, &|n| {
                if counted {
                    self.bar.inc(n);
                }
            })
            .await
            .map_err(|source| SegmentError::Download { part, source })?;
        }
        Ok(())
    }

    /// The evidence verifier over the local copy, on the blocking pool.
    async fn verify_local(&self) -> Result<Report, SegmentError> {
        let opts = VerifyOptions {
            path: self.files.media.clone(),
            key_hex: Some(hex::encode(self.device.key)),
            identity: None,
            head: None,
            progress: false,
            ..VerifyOptions::default()
        };
        let media = self.files.media.clone();
        tokio::task::spawn_blocking(move || verify(&opts))
            .await
            .map_err(|e| SegmentError::Verifier(e.to_string()))?
            .map_err(|e| SegmentError::Verifier(format!("{e} ({})", media.display())))
    }

    /// The blob metadata every file of the segment gets.
    fn metadata(&self, report: &Report) -> Vec<(&'static str, String)> {
        let status = report
            .segments
            .first()
            .map_or("MISSING", |s| s.status.label());
        let (utc_start, utc_end) = read_utc_range(&self.files.meta);
        vec![
            ("device", self.device.id.clone()),
            ("recording", self.rec.as_str().to_string()),
            ("segment", self.seq.to_string()),
            ("utc_start", utc_start),
            ("utc_end", utc_end),
            ("verify_status", status.to_string()),
            ("dock", self.shared.dock.clone()),
            (
                "officer",
                ascii_header(officer_label(read_officer(&self.files.meta).as_deref())),
            ),
        ]
    }

    /// Store what failed under `quarantine/`, with a report; never acknowledged.
    async fn quarantine(
        &self,
        checked: Checked,
        mut meta: Vec<(&'static str, String)>,
    ) -> Result<Done, SegmentError> {
        self.bar.message(&format!("{}: QUARANTINE", self.name()));
        let reason = checked.problems.join("; ");
        let prefix = names::quarantine_prefix(&self.device.id, self.rec, self.seq);
        meta.push(("quarantine_reason", ascii_header(&reason)));
        let blob_err = |source| SegmentError::Blob {
            what: "quarantine upload: ",
            source,
        };
        for (path, file) in self.parts() {
            let Ok(data) = std::fs::read(path) else {
                continue;
            };
            let mut m = meta.clone();
            m.push(("sha256", sha256_hex(&data)));
            let name = format!("{prefix}.{}", file.ext());
            self.shared
                .blobs
                .put_new(&name, Bytes::from(data), file.content_type(), &m, &[])
                .await
                .map_err(blob_err)?;
        }
        let report_json = serde_json::json!({
            "format": QUARANTINE_FORMAT,
            "device_id": self.device.id,
            "recording_id": self.rec.as_str(),
            "segment": self.seq,
            "dock": self.shared.dock,
            "utc": crate::clock::rfc3339(chrono::Utc::now()),
            "problems": checked.problems,
            "verifier": checked.report,
        });
        let body = serde_json::to_vec_pretty(&report_json).unwrap_or_default();
        // One report per distinct finding set; an identical rerun adds nothing.
        let report_name = names::quarantine_report(&prefix, &sha256_hex(reason.as_bytes()));
        self.shared
            .blobs
            .put_new(
                &report_name,
                Bytes::from(body),
                "application/json",
                &meta,
                &[],
            )
            .await
            .map_err(|source| SegmentError::Blob {
                what: "quarantine report: ",
                source,
            })?;
        for p in self.files.all() {
            let _ = std::fs::remove_file(p);
        }
        Ok(Done::Quarantined { reason })
    }

    /// The files in upload order: journal and sidecar first, media last.
    fn parts(&self) -> [(&PathBuf, SegmentFile); 3] {
        [
            (&self.files.journal, SegmentFile::Journal),
            (&self.files.meta, SegmentFile::Meta),
            (&self.files.media, SegmentFile::Media),
        ]
    }

    /// Upload the three files (each read back and compared); the media's SHA-256 and
    /// length as stored.
    async fn store(
        &self,
        meta: &mut Vec<(&'static str, String)>,
    ) -> Result<(String, u64), SegmentError> {
        let now = chrono::Utc::now();
        let days = self.shared.cfg.azure.retention_days;
        let retain_until = crate::clock::rfc3339(now + chrono::Duration::days(i64::from(days)));
        meta.push((
            "retention_class",
            crate::agent::config::STANDARD.to_string(),
        ));
        meta.push(("retain_until", retain_until));
        let officer = read_officer(&self.files.meta);
        let tag_map = tags::upload_tags(now, days, officer.as_deref());
        let tag_list: Vec<(&str, &str)> = tag_map.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut media = (String::new(), 0);
        for (path, file) in self.parts() {
            self.bar
                .message(&format!("{}: upload {}", self.name(), file.ext()));
            let stored = self.upload_one(path, file, meta, &tag_list).await?;
            if file == SegmentFile::Media {
                media = stored;
            }
        }
        Ok(media)
    }

    /// Upload one file create-only and read it back: its SHA-256 and length.
    async fn upload_one(
        &self,
        path: &Path,
        file: SegmentFile,
        meta: &[(&'static str, String)],
        tags: &[(&str, &str)],
    ) -> Result<(String, u64), SegmentError> {
        let data = std::fs::read(path).map_err(|source| SegmentError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let sha = sha256_hex(&data);
        let len = data.len() as u64;
        let blob = names::segment_blob(&self.device.id, self.rec, self.seq, file);
        let mut m = meta.to_vec();
        m.push(("sha256", sha.clone()));
        let blob_err = |source| SegmentError::Blob { what: "", source };
        let put = self
            .shared
            .blobs
            .put_new(&blob, Bytes::from(data), file.content_type(), &m, tags)
            .await
            .map_err(blob_err)?;
        if put == Put::AlreadyExists {
            tracing::info!(blob = %blob, "blob exists already (earlier run); comparing");
        }
        failpoint::hit("after-upload");
        let stored = self
            .shared
            .blobs
            .read_back(&blob)
            .await
            .map_err(blob_err)?
            .ok_or_else(|| SegmentError::Vanished(blob.clone()))?;
        if stored.sha256 != sha || stored.len != len {
            return Err(SegmentError::Mismatch {
                blob,
                stored_sha256: stored.sha256,
                stored_len: stored.len,
                sha256: sha,
                len,
            });
        }
        Ok((stored.sha256, stored.len))
    }

    /// Tell the camera the media is stored, by the hash read back.
    async fn acknowledge(&self, sha: &str) -> Result<(), SegmentError> {
        self.bar.message(&format!("{}: acknowledge", self.name()));
        let media_blob =
            names::segment_blob(&self.device.id, self.rec, self.seq, SegmentFile::Media);
        let qualified = self.shared.blobs.qualified(&media_blob);
        self.client
            .acknowledge(self.rec.as_str(), self.seq, &qualified, sha)
            .await
            .map_err(SegmentError::AckRefused)?;
        failpoint::hit("after-ack");
        tracing::info!(segment = %self.name(), blob = %qualified, sha256 = %sha, "stored, verified and acknowledged");
        Ok(())
    }
}

/// The officer a sidecar names (`None`: unassigned, a v1 sidecar, or unreadable).
pub(super) fn read_officer(meta: &Path) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(meta).ok()?).ok()?;
    v.get("officer")?.as_str().map(str::to_string)
}

/// `utc_start`, `utc_end` from a sidecar (empty if unreadable).
fn read_utc_range(meta: &Path) -> (String, String) {
    let v: serde_json::Value = std::fs::read(meta)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    let get = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .map(ascii_header)
            .unwrap_or_default()
    };
    (get("utc_start"), get("utc_end"))
}
