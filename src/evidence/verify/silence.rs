//! Declared inserted silence: every span a segment's sidecar lists in `audio_silence`
//! is reported to the examiner, and checked against the media: the audio frames whose
//! PTS lies in the span must be exactly the declared silent frame, as many as declared.

use std::path::Path;

use super::report::{Check, Finding, SegmentReport, SilenceNote, Status, pts_seconds};
use crate::evidence::sidecar::{EndReason, SegmentMeta, SilenceReason};

/// Report and check the sidecar's declared silence (nothing when there is none). The
/// frames of `encrypted` media cannot be read without the footage key: the spans are
/// reported unchecked (an examiner's `export` decrypts and plays them).
pub(super) fn check_silence(
    media: &Path,
    sidecar: Option<&Path>,
    encrypted: bool,
    r: &mut SegmentReport,
) {
    let Some(meta) = sidecar
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<SegmentMeta>(&b).ok())
    else {
        return;
    };
    if meta.audio_silence.is_empty() {
        return;
    }
    if encrypted {
        for span in &meta.audio_silence {
            r.inserted_silence.push(SilenceNote {
                seconds: [
                    pts_seconds(span.first_pts_90k),
                    pts_seconds(span.end_pts_90k),
                ],
                frames: span.frames,
                reason: span.reason,
                checked: false,
            });
        }
        return;
    }
    let Ok(bytes) = std::fs::read(media) else {
        return;
    };
    let frames = crate::ts::audio_frames(&bytes);
    for span in &meta.audio_silence {
        let silent = hex::decode(&span.frame_hex).unwrap_or_default();
        let inside: Vec<_> = frames
            .iter()
            .filter(|f| (span.first_pts_90k..span.end_pts_90k).contains(&f.pts))
            .collect();
        let differing = inside.iter().filter(|f| f.data != silent).count();
        let found = inside.len() as u64;
        let seconds = [
            pts_seconds(span.first_pts_90k),
            pts_seconds(span.end_pts_90k),
        ];
        // Recovery copies the declaration from recording.json: a file cut by a power loss
        // inside the span holds only its first frames.
        let cut_short = meta.end_reason == EndReason::Recovered && found < span.frames;
        let count_ok = found == span.frames || cut_short;
        if silent.is_empty() || differing > 0 || !count_ok {
            r.findings.push(Finding {
                seconds: Some(seconds),
                ..Finding::new(
                    Status::Tampered,
                    Check::Silence,
                    format!(
                        "the sidecar declares {} frames of inserted silence; the media has {found} audio frames there, {differing} of them not the declared silent frame",
                        span.frames
                    ),
                )
            });
        }
        r.inserted_silence.push(SilenceNote {
            seconds,
            frames: span.frames,
            reason: span.reason,
            checked: differing == 0 && count_ok && !silent.is_empty(),
        });
    }
}

/// How the examiner's text names a reason.
pub(super) fn reason_text(reason: SilenceReason) -> &'static str {
    match reason {
        SilenceReason::PreEventAudioDisabled => {
            "pre-event audio not recorded (recording.pre_event_audio = false)"
        }
    }
}
