//! The upload order of a camera's pending segments (docs/DEPLOYMENT.md, "Upload
//! order"): segments of **priority** recordings first, newest recording first (a
//! recording's segments in order), then the routine ones in chain order (oldest first).
//!
//! A recording is priority when its `recording.json` names a trigger other than the
//! button (`gesture:…`) or the control socket (`ctl`) — a named trigger input, a peer
//! start (`peer:…`), anything not known to be routine — or when any of its segments'
//! sidecars holds a marker. Both come from the camera's listing; they only decide the
//! order, never what is accepted (every segment is verified the same way). A camera
//! taken out of the dock mid-offload has its priority footage safe first.

use std::collections::BTreeSet;

use crate::dock::wire::ListedRecording;

/// Whether a recording started by `trigger` is routine (the button or `ctl`).
pub fn routine_trigger(trigger: &str) -> bool {
    trigger.starts_with("gesture:") || trigger == "ctl"
}

/// Whether the listed recording goes first.
pub fn is_priority(r: &ListedRecording) -> bool {
    let trigger = r
        .descriptor
        .as_ref()
        .and_then(|d| d.get("trigger"))
        .and_then(serde_json::Value::as_str);
    let by_trigger = trigger.is_some_and(|t| !routine_trigger(t));
    let marked = r.segments.iter().any(|s| {
        s.meta
            .as_ref()
            .and_then(|m| m.get("markers"))
            .and_then(serde_json::Value::as_array)
            .is_some_and(|a| !a.is_empty())
    });
    by_trigger || marked
}

/// The priority recordings of a listing.
pub fn priority_recordings(listing: &[ListedRecording]) -> BTreeSet<String> {
    listing
        .iter()
        .filter(|r| is_priority(r))
        .map(|r| r.id.clone())
        .collect()
}

/// The upload order of `pending` (`(recording, sequence)` in chain order): priority
/// recordings newest first, then the rest as given. Returns indices into `pending`.
pub fn upload_order(pending: &[(String, u32)], priority: &BTreeSet<String>) -> Vec<usize> {
    let mut first: Vec<usize> = (0..pending.len())
        .filter(|&i| priority.contains(&pending[i].0))
        .collect();
    first.sort_by(|&a, &b| {
        let (ra, sa) = &pending[a];
        let (rb, sb) = &pending[b];
        rb.cmp(ra).then(sa.cmp(sb))
    });
    let rest = (0..pending.len()).filter(|&i| !priority.contains(&pending[i].0));
    first.into_iter().chain(rest).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dock::wire::{ListedSegment, OffloadState};

    fn rec(id: &str, trigger: Option<&str>, markers: &[usize]) -> ListedRecording {
        ListedRecording {
            id: id.into(),
            descriptor: trigger.map(|t| serde_json::json!({ "trigger": t })),
            segments: markers
                .iter()
                .enumerate()
                .map(|(i, n)| ListedSegment {
                    sequence: i as u32 + 1,
                    bytes: Some(1),
                    journal_bytes: Some(1),
                    closed: true,
                    offload: OffloadState::Pending,
                    meta: Some(serde_json::json!({ "markers": vec![serde_json::json!({}); *n] })),
                })
                .collect(),
        }
    }

    #[test]
    fn markers_triggers_and_peers_go_first_newest_first() {
        let listing = vec![
            rec("20261125T080000Z", Some("gesture:double"), &[0, 0]),
            rec("20261125T090000Z", Some("ctl"), &[0, 1]),
            rec("20261125T100000Z", Some("holster"), &[0]),
            rec("20261125T110000Z", Some("ctl"), &[0]),
            rec("20261125T120000Z", Some("peer:00ff"), &[0, 0]),
            rec("20261125T130000Z", None, &[0]),
        ];
        let p = priority_recordings(&listing);
        assert_eq!(
            p.iter().map(String::as_str).collect::<Vec<_>>(),
            ["20261125T090000Z", "20261125T100000Z", "20261125T120000Z"]
        );
        let pending: Vec<(String, u32)> = listing
            .iter()
            .flat_map(|r| r.segments.iter().map(|s| (r.id.clone(), s.sequence)))
            .collect();
        let order: Vec<(&str, u32)> = upload_order(&pending, &p)
            .into_iter()
            .map(|i| (&pending[i].0[9..13], pending[i].1))
            .collect();
        assert_eq!(
            order,
            [
                ("1200", 1),
                ("1200", 2),
                ("1000", 1),
                ("0900", 1),
                ("0900", 2),
                ("0800", 1),
                ("0800", 2),
                ("1100", 1),
                ("1300", 1),
            ]
        );
    }
}
