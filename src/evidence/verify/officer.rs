//! Who wore the camera (issue 14): each recording's officer, from the sidecars that a
//! closing record's signature binds. `recording.json` is not signed; it is used, and
//! said to be used, only when no sidecar of the recording is bound.

use std::path::Path;

use super::inputs::{Input, RecordingFiles};
use super::report::{InputKind, OfficerValue, RecordingSummary, SegmentReport};
use crate::layout;
use crate::store::recording::RecordingInfo;

/// One summary per recording in `recordings` (in their order); a note for each
/// recording whose signed sidecars disagree.
pub(super) fn summarize(
    input: &Input,
    recordings: &[RecordingFiles],
    segments: &[SegmentReport],
    notes: &mut Vec<String>,
) -> Vec<RecordingSummary> {
    recordings
        .iter()
        .map(|rec| {
            let dir = match input.kind {
                InputKind::Store => layout::recordings_dir(&input.root).join(&rec.id),
                InputKind::Recording | InputKind::Segment => input.dir.clone(),
            };
            let s = summarize_one(&rec.id, &dir, segments);
            if s.officer_conflict {
                notes.push(format!(
                    "recording {}: officer {}",
                    s.recording_id,
                    s.officer_text()
                ));
            }
            s
        })
        .collect()
}

fn summarize_one(id: &str, dir: &Path, segments: &[SegmentReport]) -> RecordingSummary {
    let mut officers: Vec<OfficerValue> = Vec::new();
    for s in segments
        .iter()
        .filter(|s| s.recording_id == id && s.sidecar_signed)
    {
        match officers.iter_mut().find(|v| v.officer == s.officer) {
            Some(v) => v.segments.push(s.segment),
            None => officers.push(OfficerValue {
                officer: s.officer.clone(),
                segments: vec![s.segment],
            }),
        }
    }
    let mut source = "sidecars";
    if officers.is_empty() {
        let descriptor = std::fs::read(dir.join(layout::RECORDING_INFO))
            .ok()
            .and_then(|b| serde_json::from_slice::<RecordingInfo>(&b).ok());
        match descriptor {
            Some(d) => {
                source = "recording.json";
                officers.push(OfficerValue {
                    officer: d.officer,
                    segments: Vec::new(),
                });
            }
            None => source = "none",
        }
    }
    let conflict = officers.len() > 1;
    let single = match officers.as_slice() {
        [one] => Some(one.officer.clone()),
        _ => None,
    };
    RecordingSummary {
        recording_id: id.to_string(),
        officer: single.clone().flatten(),
        unassigned: single.is_some_and(|o| o.is_none()),
        officer_source: source,
        officer_conflict: conflict,
        officers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(rec: &str, seq: u32, officer: Option<&str>, signed: bool) -> SegmentReport {
        let mut s = super::super::segment::empty_report(rec, seq);
        s.officer = officer.map(str::to_string);
        s.sidecar_signed = signed;
        s
    }

    #[test]
    fn signed_sidecars_name_the_officer_and_disagreeing_ones_are_each_reported() {
        let none = Path::new("/nonexistent");
        let segs = vec![
            seg("a", 1, Some("PC-1"), true),
            seg("a", 2, Some("PC-1"), true),
            // An unsigned sidecar says nothing.
            seg("a", 3, Some("PC-2"), false),
            seg("b", 1, None, true),
            seg("c", 1, Some("PC-1"), true),
            seg("c", 2, None, true),
            seg("c", 3, Some("PC-2"), true),
        ];
        let a = summarize_one("a", none, &segs);
        assert_eq!(a.officer.as_deref(), Some("PC-1"));
        assert!(!a.unassigned && !a.officer_conflict);
        assert_eq!(a.officer_text(), "PC-1");
        let b = summarize_one("b", none, &segs);
        assert_eq!(b.officer, None);
        assert!(b.unassigned);
        assert_eq!(b.officer_text(), "unassigned");
        let c = summarize_one("c", none, &segs);
        assert!(c.officer_conflict && !c.unassigned);
        assert_eq!(c.officer, None);
        assert_eq!(c.officers.len(), 3);
        assert_eq!(
            c.officer_text(),
            "CONFLICT: the signed sidecars name different officers: PC-1 (segment 000001); \
             unassigned (segment 000002); PC-2 (segment 000003)"
        );
        let d = summarize_one("d", none, &segs);
        assert_eq!(d.officer_source, "none");
        assert!(!d.unassigned);
        assert!(d.officer_text().starts_with("unknown"));
    }

    #[test]
    fn without_a_signed_sidecar_recording_json_is_used_and_said_to_be_unsigned() {
        let dir = tempfile::tempdir().unwrap();
        let info = serde_json::json!({
            "format": "bodycam-recording/1", "recording_id": "r", "started_utc": "2026-01-01T00:00:00Z",
            "trigger": "ctl", "pre_event_seconds": 0.0, "pre_event_audio": false,
            "capture": { "source": "simulated", "encoder": "x264enc", "width": 640, "height": 480,
                         "framerate": 30, "audio": true },
            "officer": "PC-9"
        });
        std::fs::write(
            dir.path().join(layout::RECORDING_INFO),
            serde_json::to_vec(&info).unwrap(),
        )
        .unwrap();
        let s = summarize_one("r", dir.path(), &[seg("r", 1, Some("PC-1"), false)]);
        assert_eq!(s.officer.as_deref(), Some("PC-9"));
        assert_eq!(s.officer_source, "recording.json");
        assert!(
            s.officer_text().contains("not signed"),
            "{}",
            s.officer_text()
        );
    }
}
