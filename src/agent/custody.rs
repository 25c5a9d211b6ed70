//! `dock-agent custody DEVICE/RECORDING [--out DIR]`: the chain-of-custody report of
//! one recording in the cloud, as JSON (`bodycam-custody/1`) and as one self-contained
//! HTML page (no external assets): the device, the officer, each segment's upload
//! (dock, time, verification result), what the camera's signed audit log says about
//! the recording (start, markers, stop, the assignment it was made under, the
//! acknowledgements), the classification changes and any deletion under retention.
//!
//! Everything comes from the container: the recording's blobs (tags, metadata,
//! creation times), the newest verified audit snapshot of the device, and the device's
//! classification and deletion logs. A recording deleted under retention still has a
//! report (from the logs).

use std::path::Path;

use serde::Serialize;

use super::AgentError;
use super::azure::BlobInfo;
use super::classify::{ClassificationEntry, Classified, classified, recording_blobs};
use super::names::{self, DeviceBlob};
use super::offload::Shared;
use super::tags;
use crate::evidence::deletion::{DeletionRecord, parse_log};
use crate::evidence::events::AuditEvent;
use crate::evidence::payload::{Payload, decode_file};
use crate::layout::{RecordingId, SegmentFile};

/// Format tag of the report.
pub const CUSTODY_FORMAT: &str = "bodycam-custody/1";

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always [`CUSTODY_FORMAT`].
    pub format: &'static str,
    /// When it was made (this host's clock).
    pub generated_utc: String,
    /// Where it was made (`dock_name`).
    pub generated_on: String,
    /// The device.
    pub device: Device,
    /// The recording.
    pub recording: Recording,
    /// Each segment's blobs in the container.
    pub segments: Vec<Segment>,
    /// Uploads, one per dock that stored blobs of the recording.
    pub uploads: Vec<Upload>,
    /// What the camera's signed audit log says about the recording.
    pub camera_events: Vec<CameraEvent>,
    /// The audit snapshot those events come from.
    pub audit_source: Option<String>,
    /// The classification now (from the tags) and every change (classification log).
    pub classification: Classification,
    /// Deletion records for the recording (retention).
    pub deletions: Vec<DeletionRecord>,
    /// Remarks.
    pub notes: Vec<String>,
}

/// The device.
#[derive(Debug, Clone, Serialize)]
pub struct Device {
    /// Device id.
    pub id: String,
    /// Whether it is on this configuration's enrolment list.
    pub enrolled: bool,
    /// Its enrolled public key, when enrolled.
    pub public_key: Option<String>,
}

/// The recording.
#[derive(Debug, Clone, Serialize)]
pub struct Recording {
    /// Recording id.
    pub id: String,
    /// The officer it was made for (`null`: unassigned or unknown).
    pub officer: Option<String>,
    /// Whether it was recorded without an assigned officer (flagged).
    pub unassigned: bool,
    /// First segment's start, as the sidecar metadata says.
    pub utc_start: Option<String>,
    /// Last segment's end.
    pub utc_end: Option<String>,
    /// Segments in the container now.
    pub segments_stored: usize,
    /// Segments deleted under retention.
    pub segments_deleted: usize,
}

/// One segment.
#[derive(Debug, Clone, Serialize)]
pub struct Segment {
    /// Sequence number.
    pub segment: u32,
    /// `stored` or `deleted under retention`.
    pub state: String,
    /// UTC range (blob metadata).
    pub utc_start: Option<String>,
    /// End.
    pub utc_end: Option<String>,
    /// The blobs.
    pub blobs: Vec<Blob>,
}

/// One blob of a segment.
#[derive(Debug, Clone, Serialize)]
pub struct Blob {
    /// Name.
    pub name: String,
    /// Length.
    pub bytes: u64,
    /// SHA-256 read back at upload.
    pub sha256: Option<String>,
    /// Created (the service's time): the upload.
    pub created_utc: Option<String>,
    /// The dock that uploaded it.
    pub dock: Option<String>,
    /// The verifier's result at upload.
    pub verify_status: Option<String>,
}

/// An upload: what one dock stored.
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    /// Dock name.
    pub dock: String,
    /// First and last blob creation.
    pub first_utc: Option<String>,
    /// Last.
    pub last_utc: Option<String>,
    /// Segments.
    pub segments: usize,
    /// Verification results at upload (`OK` for every segment that passed).
    pub verification: Vec<String>,
}

/// A signed audit entry about the recording.
#[derive(Debug, Clone, Serialize)]
pub struct CameraEvent {
    /// Audit counter.
    pub counter: u64,
    /// UTC when the camera signed it.
    pub utc: Option<String>,
    /// Event name.
    pub event: String,
    /// Its detail.
    pub detail: serde_json::Value,
    /// Whether its signature verified under the enrolled key.
    pub verified: bool,
}

/// The classification.
#[derive(Debug, Clone, Serialize)]
pub struct Classification {
    /// Now.
    pub current: Classified,
    /// Every change, oldest first.
    pub changes: Vec<ClassificationEntry>,
}

/// Build the report for `device`/`rec`.
pub async fn report(
    shared: &Shared,
    device: &str,
    rec: &RecordingId,
) -> Result<Report, AgentError> {
    let blobs = recording_blobs(shared, device, rec).await?;
    let deletions: Vec<DeletionRecord> = read_log(shared, &names::deletion_log(device))
        .await?
        .map(|t| {
            parse_log(&t)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|r| r.recording_id == rec.as_str())
                .collect()
        })
        .unwrap_or_default();
    let changes: Vec<ClassificationEntry> = read_log(shared, &names::classification_log(device))
        .await?
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str::<ClassificationEntry>(l).ok())
                .filter(|e| e.recording_id == rec.as_str())
                .collect()
        })
        .unwrap_or_default();
    if blobs.is_empty() && deletions.is_empty() {
        return Err(AgentError::NothingToClassify {
            prefix: names::recording_prefix(device, rec),
            container: shared.cfg.azure.container.clone(),
        });
    }
    let key = shared
        .enrolled
        .iter()
        .find(|e| e.device_id == device)
        .map(|e| e.public_key);
    let mut notes = Vec::new();
    let (camera_events, audit_source) =
        camera_events(shared, device, rec, key.as_ref(), &mut notes).await?;
    let segments = segments(&blobs, &deletions);
    let officer = blobs
        .iter()
        .find_map(|b| b.tags.get(tags::OFFICER).or(b.metadata.get("officer")))
        .cloned()
        .or_else(|| deletions.iter().find_map(|d| d.officer.clone()))
        .filter(|o| o != crate::evidence::officer::UNASSIGNED);
    if officer.is_none() {
        notes.push("UNASSIGNED: recorded without an officer assigned to the camera".into());
    }
    if key.is_none() {
        notes.push(format!(
            "device {device} is not on this configuration's enrolment list: the audit entries were not verified"
        ));
    }
    let recording = Recording {
        id: rec.as_str().to_string(),
        unassigned: officer.is_none(),
        officer,
        utc_start: segments.iter().find_map(|s| s.utc_start.clone()),
        utc_end: segments.iter().rev().find_map(|s| s.utc_end.clone()),
        segments_stored: segments.iter().filter(|s| s.state == "stored").count(),
        segments_deleted: segments.iter().filter(|s| s.state != "stored").count(),
    };
    Ok(Report {
        format: CUSTODY_FORMAT,
        generated_utc: crate::clock::rfc3339(chrono::Utc::now()),
        generated_on: shared.dock.clone(),
        device: Device {
            id: device.to_string(),
            enrolled: key.is_some(),
            public_key: key.map(hex::encode),
        },
        uploads: uploads(&blobs),
        recording,
        segments,
        camera_events,
        audit_source,
        classification: Classification {
            current: classified(&blobs),
            changes,
        },
        deletions,
        notes,
    })
}

async fn read_log(shared: &Shared, blob: &str) -> Result<Option<String>, AgentError> {
    Ok(shared
        .blobs
        .get(blob)
        .await?
        .map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// Segments from the stored blobs, and those the deletion records name.
fn segments(blobs: &[BlobInfo], deletions: &[DeletionRecord]) -> Vec<Segment> {
    let mut out: std::collections::BTreeMap<u32, Segment> = Default::default();
    for b in blobs {
        let Some((_, _, seq, kind)) = names::parse_segment_blob(&b.name) else {
            continue;
        };
        let s = out.entry(seq).or_insert_with(|| Segment {
            segment: seq,
            state: "stored".into(),
            utc_start: None,
            utc_end: None,
            blobs: Vec::new(),
        });
        if kind == SegmentFile::Media || s.utc_start.is_none() {
            s.utc_start = b
                .metadata
                .get("utc_start")
                .cloned()
                .filter(|v| !v.is_empty());
            s.utc_end = b.metadata.get("utc_end").cloned().filter(|v| !v.is_empty());
        }
        s.blobs.push(Blob {
            name: b.name.clone(),
            bytes: b.len,
            sha256: b.metadata.get("sha256").cloned(),
            created_utc: b.created.map(tags::stamp),
            dock: b.metadata.get("dock").cloned(),
            verify_status: b.metadata.get("verify_status").cloned(),
        });
    }
    for d in deletions {
        for seg in &d.segments {
            let s = out.entry(seg.segment).or_insert_with(|| Segment {
                segment: seg.segment,
                state: String::new(),
                utc_start: None,
                utc_end: None,
                blobs: Vec::new(),
            });
            if s.blobs.is_empty() {
                if let Some([a, b]) = &seg.utc {
                    s.utc_start = Some(a.clone());
                    s.utc_end = Some(b.clone());
                }
                s.state = format!(
                    "deleted under retention on {} ({} days, category {})",
                    d.utc, d.rule.days, d.rule.category
                );
                s.blobs = seg
                    .blobs
                    .iter()
                    .map(|b| Blob {
                        name: b.name.clone(),
                        bytes: b.bytes,
                        sha256: b.sha256.clone(),
                        created_utc: Some(b.created_utc.clone()),
                        dock: None,
                        verify_status: None,
                    })
                    .collect();
            }
        }
    }
    out.into_values().collect()
}

/// One upload per dock: when, how many segments, the verification results.
fn uploads(blobs: &[BlobInfo]) -> Vec<Upload> {
    let mut by_dock: std::collections::BTreeMap<String, Vec<&BlobInfo>> = Default::default();
    for b in blobs {
        let dock = b
            .metadata
            .get("dock")
            .cloned()
            .unwrap_or_else(|| "?".into());
        by_dock.entry(dock).or_default().push(b);
    }
    by_dock
        .into_iter()
        .map(|(dock, bs)| {
            let created: Vec<_> = bs.iter().filter_map(|b| b.created).collect();
            let mut seqs: Vec<u32> = bs
                .iter()
                .filter_map(|b| names::parse_segment_blob(&b.name).map(|(_, _, s, _)| s))
                .collect();
            seqs.sort_unstable();
            seqs.dedup();
            let mut verification: Vec<String> = bs
                .iter()
                .filter(|b| {
                    names::parse_segment_blob(&b.name)
                        .is_some_and(|(_, _, _, k)| k == SegmentFile::Media)
                })
                .filter_map(|b| b.metadata.get("verify_status").cloned())
                .collect();
            verification.sort();
            verification.dedup();
            Upload {
                dock,
                first_utc: created.iter().min().map(|t| tags::stamp(*t)),
                last_utc: created.iter().max().map(|t| tags::stamp(*t)),
                segments: seqs.len(),
                verification,
            }
        })
        .collect()
}

/// The entries of the newest audit snapshot that concern `rec`, and the assignment it
/// was made under (the last `officer_assigned` before its start).
async fn camera_events(
    shared: &Shared,
    device: &str,
    rec: &RecordingId,
    key: Option<&[u8; 32]>,
    notes: &mut Vec<String>,
) -> Result<(Vec<CameraEvent>, Option<String>), AgentError> {
    let mut newest: Option<(u64, String)> = None;
    for name in shared.blobs.list(&format!("{device}/audit/")).await? {
        let rest = &name[device.len() + 1..];
        if let Some(DeviceBlob::Audit(n)) = names::parse_device_blob(rest)
            && newest.as_ref().is_none_or(|(m, _)| n > *m)
        {
            newest = Some((n, name.clone()));
        }
    }
    let Some((_, blob)) = newest else {
        notes.push("no audit log snapshot of the device in the container".into());
        return Ok((Vec::new(), None));
    };
    let Some(data) = shared.blobs.get(&blob).await? else {
        return Ok((Vec::new(), None));
    };
    let (records, _) = decode_file(&data);
    let mut out = Vec::new();
    let mut assignment: Option<CameraEvent> = None;
    let mut started = false;
    for r in records {
        let Payload::Audit(a) = &r.payload else {
            continue;
        };
        let Ok(event) = AuditEvent::parse(&a.event, &a.detail) else {
            continue;
        };
        let ours = match &event {
            AuditEvent::RecordingStart { recording_id, .. } => {
                let mine = recording_id == rec.as_str();
                started |= mine;
                mine
            }
            AuditEvent::RecordingStop { recording_id, .. }
            | AuditEvent::Marker { recording_id, .. }
            | AuditEvent::Recovery { recording_id, .. }
            | AuditEvent::OffloadAck { recording_id, .. }
            | AuditEvent::SegmentFreed { recording_id, .. } => recording_id == rec.as_str(),
            AuditEvent::OfficerAssigned { .. } => false,
            _ => false,
        };
        let ev = CameraEvent {
            counter: r.header.counter,
            utc: chrono::DateTime::from_timestamp_millis(r.header.utc_ms)
                .map(crate::clock::rfc3339),
            event: a.event.clone(),
            detail: serde_json::from_str(&a.detail).unwrap_or(serde_json::Value::Null),
            verified: key.is_some_and(|k| r.raw.verify(k)),
        };
        if matches!(event, AuditEvent::OfficerAssigned { .. }) && !started {
            assignment = Some(ev);
            continue;
        }
        if ours {
            if let Some(a) = assignment.take()
                && matches!(event, AuditEvent::RecordingStart { .. })
            {
                out.push(a);
            }
            out.push(ev);
        }
    }
    if key.is_some() && out.iter().any(|e| !e.verified) {
        notes.push("some audit entries do not verify under the enrolled key".into());
    }
    Ok((out, Some(blob)))
}

/// Write `custody.json` and `custody.html` into `dir` (created if needed).
pub fn write(report: &Report, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("custody.json"), &json)?;
    std::fs::write(dir.join("custody.html"), html(report))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn opt(s: &Option<String>) -> String {
    esc(s.as_deref().unwrap_or("—"))
}

/// The report as one HTML page with inline CSS.
pub fn html(r: &Report) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str(&format!(
        "<title>Chain of custody: {} / {}</title>",
        esc(&r.device.id),
        esc(&r.recording.id)
    ));
    h.push_str("<style>\
        body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:#1b1b1b;padding:0 1em}\
        h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.6em 0 .4em;border-bottom:2px solid #234;padding-bottom:.2em}\
        table{border-collapse:collapse;width:100%;margin:.4em 0}th,td{border:1px solid #ccd;padding:.3em .5em;text-align:left;vertical-align:top}\
        th{background:#eef1f6}td.mono,span.mono{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}\
        .flag{display:inline-block;background:#b3261e;color:#fff;padding:.1em .5em;border-radius:3px;font-weight:600}\
        .ok{color:#146c2e;font-weight:600}.del{color:#8a4b00;font-weight:600}.meta{color:#555}\
        dl{display:grid;grid-template-columns:12em 1fr;gap:.2em 1em}dt{font-weight:600}dd{margin:0}\
        footer{margin-top:2em;color:#666;font-size:12px}</style></head><body>");
    h.push_str(&format!(
        "<h1>Chain of custody</h1><p class=\"meta\">Recording <b>{}</b> of device <span class=\"mono\">{}</span>. Report {} made {} on {}.</p>",
        esc(&r.recording.id),
        esc(&r.device.id),
        esc(r.format),
        esc(&r.generated_utc),
        esc(&r.generated_on)
    ));
    let officer = match &r.recording.officer {
        Some(o) => esc(o),
        None => "<span class=\"flag\">UNASSIGNED</span> recorded without an officer".into(),
    };
    h.push_str("<h2>Recording</h2><dl>");
    h.push_str(&format!(
        "<dt>Device</dt><dd><span class=\"mono\">{}</span> ({})</dd>",
        esc(&r.device.id),
        if r.device.enrolled {
            "enrolled"
        } else {
            "not enrolled here"
        }
    ));
    if let Some(k) = &r.device.public_key {
        h.push_str(&format!(
            "<dt>Public key</dt><dd><span class=\"mono\">{}</span></dd>",
            esc(k)
        ));
    }
    h.push_str(&format!("<dt>Officer</dt><dd>{officer}</dd>"));
    h.push_str(&format!(
        "<dt>Recorded</dt><dd>{} to {}</dd>",
        opt(&r.recording.utc_start),
        opt(&r.recording.utc_end)
    ));
    h.push_str(&format!(
        "<dt>Segments</dt><dd>{} stored, {} deleted under retention</dd>",
        r.recording.segments_stored, r.recording.segments_deleted
    ));
    let mut c = r.classification.current.clone();
    if c.category.is_none()
        && let Some(d) = r.deletions.last()
    {
        c.category = Some(d.rule.category.clone());
        c.retention = Some(format!("deleted {}", d.utc));
    }
    let c = &c;
    h.push_str(&format!(
        "<dt>Category</dt><dd>{}</dd><dt>Case</dt><dd>{}</dd><dt>Retained until</dt><dd>{}</dd><dt>Legal hold</dt><dd>{}</dd></dl>",
        opt(&c.category),
        opt(&c.case),
        opt(&c.retention),
        if c.legal_hold { "yes" } else { "no" }
    ));
    h.push_str("<h2>Upload</h2><table><tr><th>Dock</th><th>First blob</th><th>Last blob</th><th>Segments</th><th>Verification at upload</th></tr>");
    for u in &r.uploads {
        let v: Vec<String> = u
            .verification
            .iter()
            .map(|s| {
                if s == "OK" {
                    "<span class=\"ok\">OK</span>".to_string()
                } else {
                    format!("<span class=\"flag\">{}</span>", esc(s))
                }
            })
            .collect();
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&u.dock),
            opt(&u.first_utc),
            opt(&u.last_utc),
            u.segments,
            v.join(" ")
        ));
    }
    if r.uploads.is_empty() {
        h.push_str(
            "<tr><td colspan=\"5\">no blob of the recording is left in the container</td></tr>",
        );
    }
    h.push_str("</table>");
    h.push_str("<h2>Segments</h2><p class=\"meta\">Blobs under <span class=\"mono\">");
    h.push_str(&esc(&format!("{}/{}/", r.device.id, r.recording.id)));
    h.push_str("</span>.</p><table><tr><th>#</th><th>State</th><th>UTC</th><th>Blob</th><th>Bytes</th><th>SHA-256</th><th>Created</th></tr>");
    for s in &r.segments {
        let state = if s.state == "stored" {
            "<span class=\"ok\">stored</span>".to_string()
        } else {
            format!("<span class=\"del\">{}</span>", esc(&s.state))
        };
        let n = s.blobs.len().max(1);
        for (i, b) in s.blobs.iter().enumerate() {
            h.push_str("<tr>");
            if i == 0 {
                h.push_str(&format!(
                    "<td rowspan=\"{n}\">{:06}</td><td rowspan=\"{n}\">{state}</td><td rowspan=\"{n}\">{} – {}</td>",
                    s.segment,
                    opt(&s.utc_start),
                    opt(&s.utc_end)
                ));
            }
            let file = b.name.rsplit('/').next().unwrap_or(&b.name);
            h.push_str(&format!(
                "<td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
                esc(file),
                b.bytes,
                opt(&b.sha256),
                opt(&b.created_utc)
            ));
        }
    }
    h.push_str("</table>");
    h.push_str(&format!(
        "<h2>What the camera signed</h2><p class=\"meta\">From {}.</p><table><tr><th>#</th><th>UTC (camera)</th><th>Event</th><th>Detail</th><th>Signature</th></tr>",
        opt(&r.audit_source)
    ));
    for e in &r.camera_events {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            e.counter,
            opt(&e.utc),
            esc(&e.event),
            esc(&e.detail.to_string()),
            if e.verified {
                "<span class=\"ok\">verified</span>"
            } else {
                "<span class=\"flag\">not verified</span>"
            }
        ));
    }
    h.push_str("</table>");
    h.push_str("<h2>Classification</h2><table><tr><th>When</th><th>Who</th><th>Where</th><th>Before</th><th>After</th><th>Blobs</th></tr>");
    let show = |c: &Classified| {
        format!(
            "category {}, case {}, hold {}, until {}",
            opt(&c.category),
            opt(&c.case),
            if c.legal_hold { "yes" } else { "no" },
            opt(&c.retention)
        )
    };
    for e in &r.classification.changes {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.utc),
            esc(&e.operator),
            esc(&e.host),
            show(&e.before),
            show(&e.after),
            e.blobs
        ));
    }
    if r.classification.changes.is_empty() {
        h.push_str(
            "<tr><td colspan=\"6\">never classified: standard footage since upload</td></tr>",
        );
    }
    h.push_str("</table>");
    h.push_str("<h2>Deletion under retention</h2>");
    if r.deletions.is_empty() {
        h.push_str("<p>None.</p>");
    }
    for d in &r.deletions {
        h.push_str(&format!(
            "<p><span class=\"del\">Deleted</span> {} segment(s), {} bytes, recorded {} by {} on {}: category {}, {} days + {} h margin, due {} ({} clock).</p>",
            d.segments.len(),
            d.bytes,
            esc(&d.utc),
            esc(&d.operator),
            esc(&d.host),
            esc(&d.rule.category),
            d.rule.days,
            d.rule.margin_hours,
            esc(&d.rule.due_utc),
            esc(&d.rule.clock)
        ));
    }
    if !r.notes.is_empty() {
        h.push_str("<h2>Notes</h2><ul>");
        for n in &r.notes {
            h.push_str(&format!("<li>{}</li>", esc(n)));
        }
        h.push_str("</ul>");
    }
    h.push_str("<footer>Generated by bodycam dock-agent custody. The JSON form of this report (custody.json) holds the same facts.</footer></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_html_escapes_what_it_shows_and_flags_unassigned_footage() {
        let r = Report {
            format: CUSTODY_FORMAT,
            generated_utc: "2026-11-25T00:00:00.000Z".into(),
            generated_on: "dock<1>".into(),
            device: Device {
                id: "00".repeat(16),
                enrolled: false,
                public_key: None,
            },
            recording: Recording {
                id: "20261125T175328Z".into(),
                officer: None,
                unassigned: true,
                utc_start: None,
                utc_end: None,
                segments_stored: 0,
                segments_deleted: 0,
            },
            segments: Vec::new(),
            uploads: Vec::new(),
            camera_events: vec![CameraEvent {
                counter: 1,
                utc: None,
                event: "marker".into(),
                detail: serde_json::json!({ "trigger": "<script>alert(1)</script>" }),
                verified: false,
            }],
            audit_source: None,
            classification: Classification {
                current: Classified {
                    case: Some("\"&'".into()),
                    ..Classified::default()
                },
                changes: Vec::new(),
            },
            deletions: Vec::new(),
            notes: vec!["a < b".into()],
        };
        let h = html(&r);
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("&lt;script&gt;"));
        assert!(h.contains("dock&lt;1&gt;"));
        assert!(h.contains("&quot;&amp;&#39;"));
        assert!(h.contains("UNASSIGNED"));
        assert!(h.contains("not verified"));
    }
}
