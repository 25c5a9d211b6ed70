//! The examiner's export of the location track: GPX 1.1 of the samples whose location
//! records verified, one track per recording, one track segment per run of fixes (a
//! "no fix" sample ends a run), each point with its GNSS time, fix kind, altitude and
//! the receiver's horizontal accuracy, and the verdict of its segment.

use std::io::Write;

use super::report::{Report, TrackPoint};
use crate::evidence::payload::FixQuality;

/// Escape text for XML.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn point(p: &TrackPoint, out: &mut dyn Write) -> std::io::Result<()> {
    let (Some(lat), Some(lon)) = (p.lat, p.lon) else {
        return Ok(());
    };
    writeln!(out, "      <trkpt lat=\"{lat:.7}\" lon=\"{lon:.7}\">")?;
    if let Some(e) = p.alt_m {
        writeln!(out, "        <ele>{e:.2}</ele>")?;
    }
    if let Some(t) = &p.fix_utc {
        writeln!(out, "        <time>{}</time>", xml(t))?;
    }
    let fix = match p.quality {
        FixQuality::Fix3d => "3d",
        FixQuality::Fix2d | FixQuality::NoFix => "2d",
    };
    writeln!(out, "        <fix>{fix}</fix>")?;
    let acc = p
        .h_acc_m
        .map_or(String::new(), |a| format!(", horizontal accuracy {a:.1} m"));
    writeln!(
        out,
        "        <desc>{:.3} s into the recording{acc}, from {}</desc>",
        p.seconds, p.source
    )?;
    writeln!(out, "      </trkpt>")
}

/// One segment's part of a track, for [`write_tracks`].
#[derive(Debug, Clone, Copy)]
pub struct TrackPart<'a> {
    /// Recording id (one `<trk>` per recording).
    pub recording_id: &'a str,
    /// Segment sequence number.
    pub segment: u32,
    /// The segment's verdict, as the report labels it.
    pub status: &'a str,
    /// Its samples, in journal order.
    pub track: &'a [TrackPoint],
}

/// Write the verified track of `report` as GPX.
pub fn write_gpx(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let parts: Vec<TrackPart<'_>> = report
        .segments
        .iter()
        .map(|s| TrackPart {
            recording_id: &s.recording_id,
            segment: s.segment,
            status: s.status.label(),
            track: &s.track,
        })
        .collect();
    let desc = format!("{} — device {}", report.verdict, report.key.device_id);
    write_tracks("bodycam verify", &desc, &parts, out)
}

/// Write `parts` as GPX 1.1 (`creator` and a metadata description `desc`): one track
/// per recording, one track segment per run of fixes.
pub fn write_tracks(
    creator: &str,
    desc: &str,
    parts: &[TrackPart<'_>],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<gpx version="1.1" creator="{}" xmlns="http://www.topografix.com/GPX/1/1">"#,
        xml(creator)
    )?;
    writeln!(out, "  <metadata><desc>{}</desc></metadata>", xml(desc))?;
    let mut current: Option<&str> = None;
    let mut open_seg = false;
    for s in parts {
        if s.track.is_empty() {
            continue;
        }
        if current != Some(s.recording_id) {
            if open_seg {
                writeln!(out, "    </trkseg>")?;
                open_seg = false;
            }
            if current.is_some() {
                writeln!(out, "  </trk>")?;
            }
            writeln!(out, "  <trk>\n    <name>{}</name>", xml(s.recording_id))?;
            current = Some(s.recording_id);
        }
        for p in s.track {
            let fix = p.lat.is_some();
            if fix && !open_seg {
                writeln!(
                    out,
                    "    <trkseg><!-- segment {:06}: {} -->",
                    s.segment,
                    xml(s.status)
                )?;
                open_seg = true;
            } else if !fix && open_seg {
                writeln!(out, "    </trkseg>")?;
                open_seg = false;
            }
            point(p, out)?;
        }
    }
    if open_seg {
        writeln!(out, "    </trkseg>")?;
    }
    if current.is_some() {
        writeln!(out, "  </trk>")?;
    }
    writeln!(out, "</gpx>")
}
