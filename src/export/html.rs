//! `report.html`: one self-contained page (inline CSS, SVG timeline, thumbnails as
//! data URIs) rendered from the same [`ExportReport`] as `report.json`.

use std::fmt::Write;
use std::path::Path;

use base64::Engine;

use super::report::{ExportReport, RecordingReport, SegmentOut};

/// Escape text for HTML.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.meta{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:10px 0}
.meta div:nth-child(odd){color:#57606a}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;word-break:break-all}
.banner{padding:10px 14px;border-radius:6px;margin:12px 0;font-weight:600}
.ok{background:#dafbe1;color:#116329;border:1px solid #4ac26b}
.bad{background:#ffebe9;color:#a40e26;border:1px solid #ff8182}
.warn{background:#fff8c5;color:#7d4e00;border:1px solid #d4a72c}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.badge{display:inline-block;padding:0 6px;border-radius:10px;font-size:12px;font-weight:600}
.b-ok{background:#1f883d;color:#fff}.b-warn{background:#bf8700;color:#fff}.b-bad{background:#cf222e;color:#fff}
.thumbs{display:flex;flex-wrap:wrap;gap:8px}.thumbs figure{margin:0;width:160px}.thumbs img{width:160px;border:1px solid #d0d7de}
.thumbs figcaption{font-size:12px;color:#57606a}
.unverified{outline:3px solid #cf222e}
small{color:#57606a}
.nw{white-space:nowrap}
"#;

/// The page.
pub(super) fn render(r: &ExportReport, out_dir: &Path) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>bodycam export {}</title><style>{STYLE}</style></head><body>",
        esc(&r.input)
    );
    let _ = write!(
        h,
        "<h1>bodycam export report</h1><small>exported {} from <code>{}</code></small>",
        esc(&r.exported_utc),
        esc(&r.input)
    );
    header(&mut h, r);
    for rec in &r.recordings {
        recording(&mut h, rec, out_dir);
    }
    h.push_str("</body></html>\n");
    h
}

fn header(h: &mut String, r: &ExportReport) {
    let (class, text) = if r.verification.ok {
        ("ok", format!("Verified: {}", r.verification.verdict))
    } else {
        ("bad", format!("NOT verified: {}", r.verification.verdict))
    };
    let _ = write!(h, "<div class=\"banner {class}\">{}</div>", esc(&text));
    let enc_class = if r.encryption.contains("NOT") {
        "warn"
    } else {
        "ok"
    };
    let _ = write!(
        h,
        "<div class=\"banner {enc_class}\">Encryption: {}</div>",
        esc(&r.encryption)
    );
    if r.include_unverified {
        h.push_str("<div class=\"banner bad\">--include-unverified: segments that did not verify were exported and are marked UNVERIFIED</div>");
    }
    let key_note = if r.device.independently_supplied {
        String::new()
    } else {
        " <span class=\"badge b-warn\">taken from the store, not independently supplied</span>"
            .into()
    };
    let _ = write!(
        h,
        "<div class=\"meta\"><div>device id</div><div class=\"mono\">{}</div>\
         <div>identity fingerprint (SHA-256 of the public key)</div><div class=\"mono\">{}</div>\
         <div>device public key</div><div class=\"mono\">{} <small>({})</small>{key_note}</div>\
         <div>decrypted with key id</div><div class=\"mono\">{} <small>{}</small></div></div>",
        esc(&r.device.device_id),
        esc(&r.device.fingerprint),
        esc(&r.device.public_key),
        esc(&r.device.key_source),
        esc(&r.footage_key.key_id),
        esc(&r.footage_key.path),
    );
    if !r.incomplete.is_empty() {
        h.push_str("<h3>Not exported or not verified</h3><ul>");
        for i in &r.incomplete {
            let _ = write!(h, "<li>{}</li>", esc(i));
        }
        h.push_str("</ul>");
    }
}

fn badge(s: &SegmentOut) -> String {
    let class = match (s.verified, s.status.as_str()) {
        (true, "OK") => "b-ok",
        (true, _) => "b-warn",
        (false, _) => "b-bad",
    };
    let mut b = format!("<span class=\"badge {class}\">{}</span>", esc(&s.status));
    if !s.verified && s.exported.is_some() {
        b.push_str(" <span class=\"badge b-bad\">UNVERIFIED</span>");
    }
    b
}

fn recording(h: &mut String, rec: &RecordingReport, out_dir: &Path) {
    let _ = write!(h, "<h2>Recording {}</h2>", esc(&rec.recording_id));
    if rec.officer_conflict {
        let _ = write!(
            h,
            "<div class=\"banner bad\">Officer {}</div>",
            esc(&rec.officer_text)
        );
    }
    let officer = match (&rec.officer, rec.unassigned, rec.officer_conflict) {
        (_, _, true) => "<span class=\"badge b-bad\">CONFLICT</span>".to_string(),
        (Some(o), _, _) => format!("<strong>{}</strong>", esc(o)),
        (None, true, _) => {
            "<span class=\"badge b-warn\">unassigned</span> <small>recorded without an assigned officer</small>".to_string()
        }
        (None, false, _) => "<span class=\"badge b-warn\">unknown</span>".to_string(),
    };
    let source = match rec.officer_source.as_str() {
        "recording.json" => " <small>(from recording.json, not signed)</small>".to_string(),
        _ => String::new(),
    };
    let _ = write!(
        h,
        "<div class=\"meta\"><div>officer</div><div>{officer}{source}</div>"
    );
    let _ = write!(
        h,
        "<div>start (UTC)</div><div>{}</div><div>end (UTC)</div><div>{}</div>\
         <div>span</div><div>{:.1} s ({:.1} s exported)</div><div>pre-event</div><div>{:.1} s{}</div>",
        esc(rec.utc_start.as_deref().unwrap_or("?")),
        esc(rec.utc_end.as_deref().unwrap_or("?")),
        rec.span_seconds,
        rec.exported_seconds,
        rec.pre_event_seconds,
        if rec.pre_event_seconds > 0.0 {
            if rec.pre_event_audio {
                " with audio"
            } else {
                " video only"
            }
        } else {
            ""
        }
    );
    if let Some(m) = &rec.mp4 {
        let p = m.probe.clone().unwrap_or_default();
        let _ = write!(
            h,
            "<div>MP4</div><div><code>{}</code>{} — {:.2} s, {} video / {} audio frames<br><span class=\"mono\">sha256 {}</span></div>",
            esc(&m.file),
            if m.unverified_segments.is_empty() {
                String::new()
            } else {
                format!(
                    " <span class=\"badge b-bad\">includes UNVERIFIED segment(s) {:?}</span>",
                    m.unverified_segments
                )
            },
            p.duration_seconds.unwrap_or(0.0),
            p.video_frames.map_or("?".into(), |n| n.to_string()),
            p.audio_frames.map_or("?".into(), |n| n.to_string()),
            esc(&m.sha256)
        );
    }
    if let Some(g) = &rec.gpx {
        let points: usize = rec.segments.iter().map(|s| s.track.len()).sum();
        let fixes = rec
            .segments
            .iter()
            .flat_map(|s| &s.track)
            .filter(|p| p.lat.is_some())
            .count();
        let _ = write!(
            h,
            "<div>Location track</div><div><code>{}</code> — {points} sample(s), {fixes} with a fix</div>",
            esc(g)
        );
    }
    h.push_str("</div>");
    h.push_str("<h3>Timeline</h3>");
    timeline(h, rec);
    thumbnails(h, rec, out_dir);
    segments_table(h, rec);
    items(h, "Markers", &rec.markers);
    items(h, "Audit events", &rec.events);
    if !rec.gaps.is_empty() {
        h.push_str("<h3>Gaps</h3><ul>");
        for g in &rec.gaps {
            let _ = write!(h, "<li>at {:.1} s: {}</li>", g.offset_seconds, esc(&g.what));
        }
        h.push_str("</ul>");
    }
}

/// An SVG timeline: segments as bars (by status), pre-event shaded, gaps, markers and
/// audit events as ticks, a time axis.
fn timeline(h: &mut String, rec: &RecordingReport) {
    let end = rec
        .segments
        .iter()
        .filter_map(|s| Some(s.offset_seconds? + s.duration_seconds?))
        .fold(rec.span_seconds, f64::max)
        .max(1.0);
    let start = rec
        .events
        .iter()
        .map(|e| e.offset_seconds)
        .fold(0.0_f64, f64::min);
    let end = rec
        .events
        .iter()
        .map(|e| e.offset_seconds)
        .fold(end, f64::max);
    let (w, left, right) = (1000.0, 10.0, 990.0);
    let x = |t: f64| left + (t - start) / (end - start).max(1e-9) * (right - left);
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 {w} 175\" width=\"100%\" role=\"img\" aria-label=\"timeline\" style=\"max-width:1000px;font:11px sans-serif\">"
    );
    // Pre-event.
    if rec.pre_event_seconds > 0.0 {
        let _ = write!(
            h,
            "<rect x=\"{:.1}\" y=\"30\" width=\"{:.1}\" height=\"34\" fill=\"#8250df\" opacity=\"0.25\"/><text x=\"{:.1}\" y=\"26\" fill=\"#8250df\">pre-event {:.1} s</text>",
            x(0.0),
            (x(rec.pre_event_seconds) - x(0.0)).max(1.0),
            x(0.0),
            rec.pre_event_seconds
        );
    }
    for s in &rec.segments {
        let (Some(at), Some(d)) = (s.offset_seconds, s.duration_seconds) else {
            continue;
        };
        let color = match (s.verified, s.status.as_str()) {
            (true, "OK") => "#1f883d",
            (true, _) => "#bf8700",
            (false, _) => "#cf222e",
        };
        let _ = write!(
            h,
            "<rect x=\"{:.1}\" y=\"36\" width=\"{:.1}\" height=\"22\" fill=\"{color}\" stroke=\"#fff\"><title>segment {:06}: {} ({:.1} s)</title></rect><text x=\"{:.1}\" y=\"74\" fill=\"#57606a\">{:06}</text>",
            x(at),
            (x(at + d) - x(at)).max(1.0),
            s.segment,
            esc(&s.status),
            d,
            x(at) + 2.0,
            s.segment
        );
    }
    for g in &rec.gaps {
        let _ = write!(
            h,
            "<rect x=\"{:.1}\" y=\"32\" width=\"{:.1}\" height=\"30\" fill=\"none\" stroke=\"#cf222e\" stroke-dasharray=\"3 2\"><title>{}</title></rect>",
            x(g.offset_seconds),
            (x(g.offset_seconds + g.seconds) - x(g.offset_seconds)).max(3.0),
            esc(&g.what)
        );
    }
    for m in &rec.markers {
        let _ = write!(
            h,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"30\" y2=\"64\" stroke=\"#0969da\" stroke-width=\"2\"/><polygon points=\"{0:.1},30 {1:.1},22 {2:.1},22\" fill=\"#0969da\"><title>marker {3} at {4}</title></polygon>",
            x(m.offset_seconds),
            x(m.offset_seconds) - 5.0,
            x(m.offset_seconds) + 5.0,
            esc(&m.what),
            esc(&m.utc)
        );
    }
    // Event labels in up to four rows, each placed where it does not overlap the
    // previous label of its row; an event with no room keeps its dot and tooltip.
    let mut row_end = [f64::MIN; 4];
    for e in &rec.events {
        let at = x(e.offset_seconds);
        let width = e.what.len() as f64 * 6.2;
        let _ = write!(
            h,
            "<circle cx=\"{at:.1}\" cy=\"86\" r=\"3\" fill=\"#57606a\"><title>{} {}</title></circle>",
            esc(&e.what),
            esc(&e.utc)
        );
        // Near the right edge a label ends at its dot instead of starting there.
        let (from, anchor) = if at + width > right {
            (at - width, "end")
        } else {
            (at, "start")
        };
        if let Some(row) = row_end.iter().position(|end| *end + 6.0 < from) {
            row_end[row] = from + width;
            let _ = write!(
                h,
                "<text x=\"{at:.1}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"#57606a\">{}</text>",
                100 + row * 13,
                esc(&e.what)
            );
        }
    }
    // Axis.
    let _ = write!(
        h,
        "<line x1=\"{left}\" x2=\"{right}\" y1=\"160\" y2=\"160\" stroke=\"#8c959f\"/>"
    );
    let step = nice_step(end - start);
    let mut t = (start / step).ceil() * step;
    while t <= end + 1e-9 {
        // A label centred on a tick at either end would be cut by the picture's edge
        // (a leading minus sign, a last digit): those start or end at their tick.
        let label = clock_text(t);
        let half = label.len() as f64 * 3.3;
        let anchor = if x(t) - half < 0.0 {
            "start"
        } else if x(t) + half > w {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            h,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"156\" y2=\"164\" stroke=\"#8c959f\"/><text x=\"{0:.1}\" y=\"174\" text-anchor=\"{2}\" fill=\"#57606a\">{1}</text>",
            x(t),
            label,
            anchor
        );
        t += step;
    }
    h.push_str("</svg>");
    h.push_str("<div><small><span style=\"color:#1f883d\">■</span> verified <span style=\"color:#bf8700\">■</span> verified, recovered tail <span style=\"color:#cf222e\">■</span> not verified <span style=\"color:#8250df\">■</span> pre-event <span style=\"color:#0969da\">▼</span> marker ● audit event; times from the recording's first frame</small></div>");
}

fn nice_step(span: f64) -> f64 {
    for s in [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
    ] {
        if span / s <= 12.0 {
            return s;
        }
    }
    7200.0
}

fn clock_text(t: f64) -> String {
    let neg = t < 0.0;
    let s = t.abs().round() as u64;
    format!("{}{}:{:02}", if neg { "-" } else { "" }, s / 60, s % 60)
}

fn thumbnails(h: &mut String, rec: &RecordingReport, out_dir: &Path) {
    if rec.thumbnails.is_empty() {
        return;
    }
    h.push_str("<h3>Thumbnails</h3><div class=\"thumbs\">");
    let unverified: Vec<(f64, f64)> = rec
        .segments
        .iter()
        .filter(|s| !s.verified && s.exported.as_ref().is_some_and(|f| f.bytes > 0))
        .filter_map(|s| Some((s.offset_seconds?, s.offset_seconds? + s.duration_seconds?)))
        .collect();
    for t in &rec.thumbnails {
        let Ok(bytes) = std::fs::read(out_dir.join(&t.file)) else {
            continue;
        };
        let within = |(a, b): &(f64, f64)| t.offset_seconds >= *a && t.offset_seconds < *b;
        let mark = unverified.iter().any(within);
        // Where the export has no footage, the MP4's picture is the last frame before it.
        let absent = rec
            .gaps
            .iter()
            .any(|g| within(&(g.offset_seconds, g.offset_seconds + g.seconds)));
        let (class, caption) = match (absent, mark) {
            (true, _) => (
                " style=\"opacity:.3\"",
                " no footage here (last frame before)",
            ),
            (false, true) => (" class=\"unverified\"", " UNVERIFIED"),
            (false, false) => ("", ""),
        };
        let _ = write!(
            h,
            "<figure><img{class} alt=\"frame at {}\" src=\"data:image/jpeg;base64,{}\"><figcaption>{}{caption}</figcaption></figure>",
            clock_text(t.offset_seconds),
            base64::engine::general_purpose::STANDARD.encode(bytes),
            clock_text(t.offset_seconds),
        );
    }
    h.push_str("</div>");
}

fn segments_table(h: &mut String, rec: &RecordingReport) {
    h.push_str("<h3>Segments</h3><table><tr><th>segment</th><th>verdict</th><th>UTC</th><th>video / audio frames</th><th>encrypted to</th><th>signed SHA-256 (bytes on flash)</th><th>exported file (in the recording's directory) and SHA-256</th><th>notes</th></tr>");
    for s in &rec.segments {
        let exported = match &s.exported {
            // The recording's own directory is the same on every row (the header
            // names it): the file within it, unbroken, then its hash.
            Some(f) => format!(
                "<code class=\"nw\" title=\"{0}\">{1}</code><br><span class=\"mono\">{2}</span>",
                esc(&f.file),
                esc(f
                    .file
                    .strip_prefix(&format!("{}/", rec.recording_id))
                    .unwrap_or(&f.file)),
                esc(&f.sha256)
            ),
            None => "—".into(),
        };
        let mut notes: Vec<String> = s.notes.clone();
        notes.extend(s.findings.iter().cloned());
        if s.utc_estimated {
            notes.push("UTC estimated by recovery".into());
        }
        let _ = write!(
            h,
            "<tr><td>{:06}</td><td>{}</td><td><span class=\"nw\">{} –</span><br><span class=\"nw\">{}</span><br><small>{:.2} s, ended {}</small></td><td>{} / {}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{exported}</td><td>{}</td></tr>",
            s.segment,
            badge(s),
            esc(s.utc_start.as_deref().unwrap_or("?")),
            esc(s.utc_end.as_deref().unwrap_or("?")),
            s.duration_seconds.unwrap_or(0.0),
            esc(s.end_reason.as_deref().unwrap_or("?")),
            s.video_frames.map_or("?".into(), |n| n.to_string()),
            s.audio_frames.map_or("?".into(), |n| n.to_string()),
            if s.encrypted {
                esc(&s.key_ids.join(" "))
            } else {
                "not encrypted".into()
            },
            esc(s.signed_sha256.as_deref().unwrap_or("—")),
            notes
                .iter()
                .map(|n| esc(n))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    h.push_str("</table>");
}

fn items(h: &mut String, title: &str, items: &[super::report::TimelineItem]) {
    if items.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<h3>{title}</h3><table><tr><th>at</th><th>UTC</th><th>what</th><th>detail</th></tr>"
    );
    for i in items {
        let _ = write!(
            h,
            "<tr><td class=\"nw\">{}</td><td class=\"nw\">{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
            clock_text(i.offset_seconds),
            esc(&i.utc),
            esc(&i.what),
            esc(&i.detail)
        );
    }
    h.push_str("</table>");
}
