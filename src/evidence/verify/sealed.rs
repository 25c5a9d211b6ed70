//! An encrypted segment, checked without the key (docs/EVIDENCE-FORMAT.md §9.6): the
//! keys record is the journal's first record and the only one; the media is a run of
//! whole chunks in index order; every checkpoint ends on a chunk boundary; a torn last
//! chunk is reported; the tails' lengths in seconds come from the chunk headers.

use std::io::Read;
use std::path::Path;

use super::report::{Check, EncryptionReport, Finding, SegmentReport, Status};
use crate::confidential::{AEAD_NAME, chunk};
use crate::evidence::payload::{Payload, Record, SegmentKeys};
use crate::ts::TIMESTAMP_MODULUS;

/// Check what is encrypted about a segment whose journal's `verified` records were
/// checked and whose media is at `media`; add findings and the encryption summary.
pub(super) fn check_sealed(verified: &[(usize, Record)], media: &Path, r: &mut SegmentReport) {
    let keys = keys_record(verified, r);
    location_findings(verified, keys.is_some(), r);
    let starts_sealed = first_bytes(media).is_some_and(|b| chunk::looks_sealed(&b));
    let Some(keys) = keys else {
        if starts_sealed {
            r.findings.push(Finding::new(
                Status::Tampered,
                Check::Sealing,
                "the media is encrypted chunks but the journal has no signed keys record: nobody could decrypt it",
            ));
        }
        return;
    };
    let walk = match chunk::walk(media) {
        Ok(w) => w,
        Err(e) => {
            r.findings.push(Finding::new(
                Status::Missing,
                Check::Read,
                format!("cannot read {}: {e}", media.display()),
            ));
            return;
        }
    };
    structure_findings(&walk, r);
    boundary_findings(verified, &walk, r);
    torn_finding(&walk, r);
    tail_lengths(verified, &walk, r);
    r.encryption = Some(EncryptionReport {
        aead: AEAD_NAME.into(),
        key_ids: keys
            .recipients
            .iter()
            .map(|w| hex::encode(w.key_id))
            .collect(),
        chunks: walk.chunks.len() as u64,
        torn_chunk_bytes: walk.torn.map(|(_, n)| n),
    });
}

/// The segment's keys record: first in the journal, only one.
fn keys_record<'a>(
    verified: &'a [(usize, Record)],
    r: &mut SegmentReport,
) -> Option<&'a SegmentKeys> {
    let mut found = None;
    for (index, rec) in verified {
        if let Payload::Keys(k) = &rec.payload {
            if *index != 0 || found.is_some() {
                r.findings.push(Finding::new(
                    Status::Tampered,
                    Check::Sealing,
                    format!("record {index} is a keys record, which belongs only first in the journal, once"),
                ));
            }
            found.get_or_insert(k);
        }
    }
    found
}

/// Location records must match the segment's sealing: sealed ones (with `seq` 0, 1, 2 …
/// in journal order) only in an encrypted segment, plain ones only in a plain segment.
fn location_findings(verified: &[(usize, Record)], sealed: bool, r: &mut SegmentReport) {
    let mut next_seq = 0u32;
    for (index, rec) in verified {
        match &rec.payload {
            Payload::SealedLocation(l) if !sealed => r.findings.push(Finding::new(
                Status::Tampered,
                Check::Sealing,
                format!(
                    "record {index} is a sealed location (seq {}) in a segment without a keys record: nobody could open it",
                    l.seq
                ),
            )),
            Payload::SealedLocation(l) => {
                if l.seq != next_seq {
                    r.findings.push(Finding::new(
                        Status::Tampered,
                        Check::Sealing,
                        format!(
                            "record {index} is sealed location seq {} where seq {next_seq} belongs",
                            l.seq
                        ),
                    ));
                }
                next_seq = l.seq.saturating_add(1);
            }
            Payload::Location(_) if sealed => r.findings.push(Finding::new(
                Status::Tampered,
                Check::Sealing,
                format!(
                    "record {index} is a location in the clear in an encrypted segment (a camera seals every location there)"
                ),
            )),
            _ => {}
        }
    }
}

fn first_bytes(path: &Path) -> Option<[u8; 4]> {
    let mut b = [0u8; 4];
    std::fs::File::open(path).ok()?.read_exact(&mut b).ok()?;
    Some(b)
}

/// Bytes that are not the next chunk.
fn structure_findings(walk: &chunk::Walk, r: &mut SegmentReport) {
    if let Some((offset, what)) = &walk.damaged {
        r.findings.push(
            Finding::new(
                Status::Tampered,
                Check::Sealing,
                format!("the media is not a run of chunks from byte {offset}: {what}"),
            )
            .bytes(*offset, walk.len),
        );
    }
}

/// Every checkpoint must end where a chunk ends (the camera seals a chunk at each).
fn boundary_findings(verified: &[(usize, Record)], walk: &chunk::Walk, r: &mut SegmentReport) {
    for (index, rec) in verified {
        if let Payload::Checkpoint(c) = &rec.payload
            && c.byte_end <= walk.len
            && !walk.is_boundary(c.byte_end)
            && walk.damaged.is_none()
        {
            r.findings.push(
                Finding::new(
                    Status::Tampered,
                    Check::Sealing,
                    format!(
                        "checkpoint (record {index}) ends at byte {}, inside a chunk",
                        c.byte_end
                    ),
                )
                .bytes(c.byte_start, c.byte_end),
            );
        }
    }
}

/// A torn last chunk: the power went while it was being written.
fn torn_finding(walk: &chunk::Walk, r: &mut SegmentReport) {
    let Some((offset, present)) = walk.torn else {
        return;
    };
    let recovered = matches!(
        r.end_reason,
        Some(crate::evidence::sidecar::EndReason::Recovered)
    );
    let (status, what) = if recovered {
        (
            Status::RecoveredTail,
            "signed by recovery as found, but it cannot be decrypted (its tag was never written)",
        )
    } else if r.unsigned_tail.is_some() {
        (Status::Open, "unsigned, and it cannot be decrypted")
    } else {
        (
            Status::Tampered,
            "a closed segment cannot end in a torn chunk",
        )
    };
    r.findings.push(
        Finding::new(
            status,
            Check::Sealing,
            format!(
                "torn last chunk: {present} byte(s) at byte {offset} of a chunk cut short by a power loss; {what}"
            ),
        )
        .bytes(offset, walk.len),
    );
}

/// The recovered or unsigned tail's video, from the headers of the chunks in it (the
/// TS inside cannot be read without the key).
fn tail_lengths(verified: &[(usize, Record)], walk: &chunk::Walk, r: &mut SegmentReport) {
    let last_signed_pts = verified
        .iter()
        .filter_map(|(_, rec)| match &rec.payload {
            Payload::Checkpoint(c) if c.video_frames > 0 => Some(c.pts_last),
            _ => None,
        })
        .next_back();
    for tail in [r.recovered_tail.as_mut(), r.unsigned_tail.as_mut()]
        .into_iter()
        .flatten()
    {
        let t = walk.totals_from(tail.byte_range[0]);
        tail.video_frames = u64::from(t.video_frames);
        tail.seconds = match (last_signed_pts, t.video_frames) {
            (_, 0) => 0.0,
            (Some(prev), _) => {
                ((t.pts_last.wrapping_sub(prev)) & (TIMESTAMP_MODULUS - 1)) as f64 / 90_000.0
            }
            (None, n) if n > 1 => {
                let span = (t.pts_last.wrapping_sub(t.pts_first) & (TIMESTAMP_MODULUS - 1)) as f64;
                span * f64::from(n) / f64::from(n - 1) / 90_000.0
            }
            (None, _) => 0.0,
        };
    }
}
