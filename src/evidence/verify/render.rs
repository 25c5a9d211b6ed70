//! Output: the human-readable report, the JSON report, and the progress bar on stderr.

use std::io::Write;
use std::time::Instant;

use super::chain::describe_problem;
use super::report::{
    AuditRef, AuditReport, ChainReport, InputKind, KeySource, RecordingSummary, Report, SegmentRef,
    SegmentReport,
};

/// Progress on stderr: segments and bytes done.
#[derive(Debug)]
pub(super) struct Progress {
    enabled: bool,
    segments: usize,
    segments_done: usize,
    bytes: u64,
    bytes_done: u64,
    started: Instant,
    drawn: Option<Instant>,
}

impl Progress {
    pub(super) fn new(enabled: bool, segments: usize, bytes: u64) -> Progress {
        Progress {
            enabled,
            segments,
            segments_done: 0,
            bytes,
            bytes_done: 0,
            started: Instant::now(),
            drawn: None,
        }
    }

    pub(super) fn add(&mut self, n: u64) {
        self.bytes_done += n;
        self.draw(false);
    }

    pub(super) fn segment_done(&mut self) {
        self.segments_done += 1;
        self.draw(false);
    }

    fn draw(&mut self, force: bool) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if !force
            && self
                .drawn
                .is_some_and(|t| now.duration_since(t).as_millis() < 100)
        {
            return;
        }
        self.drawn = Some(now);
        const WIDTH: usize = 30;
        let frac = if self.bytes > 0 {
            (self.bytes_done as f64 / self.bytes as f64).min(1.0)
        } else {
            self.segments_done as f64 / self.segments.max(1) as f64
        };
        let filled = (frac * WIDTH as f64) as usize;
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let _ = write!(
            std::io::stderr(),
            "\r[{}{}] {:3.0}%  {}/{} segments  {:.0}/{:.0} MiB  {:.0} MiB/s ",
            "=".repeat(filled),
            " ".repeat(WIDTH - filled),
            frac * 100.0,
            self.segments_done,
            self.segments,
            mib(self.bytes_done),
            mib(self.bytes),
            mib(self.bytes_done) / secs
        );
    }

    pub(super) fn finish(&mut self) {
        if self.enabled {
            self.draw(true);
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}

fn range_text(s: Option<[f64; 2]>) -> String {
    s.map_or(String::new(), |[a, b]| format!("{a:.2}–{b:.2} s"))
}

/// The human-readable report.
pub fn render(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    render_key(r, out)?;
    render_segments(&r.segments, &r.recordings, out)?;
    render_chain(&r.chain, out)?;
    if let Some(m) = &r.media_head {
        writeln!(out, "media.head   {}: {}", m.status.label(), m.message)?;
    }
    if let Some(a) = &r.audit {
        render_audit(a, out)?;
    }
    for f in &r.cross_checks {
        writeln!(out, "audit/media  {} {}", f.status.label(), f.message)?;
    }
    render_head(r, out)?;
    for e in &r.errors {
        writeln!(out, "error        {e}")?;
    }
    for n in &r.notes {
        writeln!(out, "note         {n}")?;
    }
    writeln!(out, "VERDICT: {}", r.verdict)
}

/// The report as pretty-printed JSON, one line break at the end.
pub fn render_json(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_string_pretty(r)
        .map_err(std::io::Error::other)
        .and_then(|s| writeln!(out, "{s}"))
}

/// What was examined, and the key.
fn render_key(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let input = match r.input {
        InputKind::Store => "store",
        InputKind::Recording => "recording",
        InputKind::Segment => "segment",
    };
    writeln!(out, "bodycam verify {} ({input})", r.path)?;
    let source = match r.key.source {
        KeySource::Key => "--key".to_string(),
        KeySource::IdentityFile => format!("--identity {}", r.key.path.as_deref().unwrap_or("")),
        KeySource::Store if r.key.accepted => format!(
            "{} (NOT independently supplied; accepted with --trust-store-key)",
            r.key.path.as_deref().unwrap_or("the store")
        ),
        KeySource::Store => format!(
            "{} (NOT independently supplied)",
            r.key.path.as_deref().unwrap_or("the store")
        ),
    };
    writeln!(out, "key      device {} from {source}", r.key.device_id)?;
    if !r.key.other_keys.is_empty() {
        writeln!(
            out,
            "         other devices' keys: {}",
            r.key.other_keys.join(", ")
        )?;
    }
    for n in &r.key.notes {
        writeln!(out, "         ! {n}")?;
    }
    Ok(())
}

/// One line per segment under its recording, then its findings.
fn render_segments(
    segments: &[SegmentReport],
    recordings: &[RecordingSummary],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut current = None;
    for s in segments {
        if current != Some(&s.recording_id) {
            match recordings.iter().find(|r| r.recording_id == s.recording_id) {
                Some(r) => writeln!(
                    out,
                    "recording {} officer {}",
                    s.recording_id,
                    r.officer_text()
                )?,
                None => writeln!(out, "recording {}", s.recording_id)?,
            }
            current = Some(&s.recording_id);
        }
        let counters = s
            .counters
            .map_or(String::new(), |[a, b]| format!("records {a}–{b}"));
        writeln!(
            out,
            "  {:06}  {:<15} {:<18} {}",
            s.segment,
            s.status.label(),
            range_text(s.seconds),
            counters
        )?;
        if let Some(e) = &s.encryption {
            writeln!(
                out,
                "          encrypted ({}, {} chunks) to key id(s) {}",
                e.aead,
                e.chunks,
                e.key_ids.join(", ")
            )?;
        }
        for n in &s.inserted_silence {
            writeln!(
                out,
                "          NOTE audio {} is inserted silence: {} frames of the encoder's silent frame{}, {}",
                range_text(Some(n.seconds)),
                n.frames,
                if n.checked { " (checked)" } else { "" },
                super::silence::reason_text(n.reason)
            )?;
        }
        for f in &s.findings {
            let mut extra = String::new();
            if let Some(sec) = f.seconds {
                extra.push_str(&format!(" at {}", range_text(Some(sec))));
            }
            if let Some(u) = &f.signed_utc {
                extra.push_str(&format!(" signed {u}"));
            }
            writeln!(out, "          {} {}{extra}", f.status.label(), f.message)?;
        }
        if !s.track.is_empty() {
            writeln!(out, "          track {}", track_text(&s.track))?;
        }
        if s.sealed_locations > 0 {
            writeln!(
                out,
                "          track {} encrypted location sample(s): readable only with the footage key (bodycam export)",
                s.sealed_locations
            )?;
        }
        for m in &s.mute_spans {
            writeln!(
                out,
                "          muted {:.2}–{:.2} s of the segment ({} – {}): audio is encoded silence",
                m.start_offset_seconds, m.end_offset_seconds, m.utc_start, m.utc_end
            )?;
        }
    }
    Ok(())
}

/// One line about a segment's signed location track.
fn track_text(track: &[super::report::TrackPoint]) -> String {
    let fixes: Vec<_> = track.iter().filter(|p| p.lat.is_some()).collect();
    let place = |p: &super::report::TrackPoint| {
        format!(
            "({:.6}, {:.6})",
            p.lat.unwrap_or_default(),
            p.lon.unwrap_or_default()
        )
    };
    let mut s = format!(
        "{} sample(s): {} fix(es), {} without a fix",
        track.len(),
        fixes.len(),
        track.len() - fixes.len()
    );
    if let (Some(a), Some(b)) = (fixes.first(), fixes.last()) {
        s.push_str(&format!(", {} to {}", place(a), place(b)));
        if let Some(best) = fixes
            .iter()
            .filter_map(|p| p.h_acc_m)
            .min_by(|x, y| x.total_cmp(y))
        {
            s.push_str(&format!(", best ±{best:.1} m"));
        }
    }
    s
}

fn render_chain(chain: &ChainReport, out: &mut dyn Write) -> std::io::Result<()> {
    let counters = match (chain.first_counter, chain.last_counter) {
        (Some(a), Some(b)) => format!("counters {a}–{b}"),
        (Some(_), None) | (None, Some(_)) | (None, None) => "no records".into(),
    };
    let name = |x: &SegmentRef| format!("{}/{:06}", x.recording_id, x.segment);
    if chain.problems.is_empty() {
        writeln!(
            out,
            "media chain  {} records, {counters}: intact",
            chain.records
        )?;
    } else {
        writeln!(out, "media chain  {} records, {counters}:", chain.records)?;
        for p in &chain.problems {
            writeln!(out, "             {}", describe_problem(p, &name))?;
        }
    }
    Ok(())
}

fn render_audit(a: &AuditReport, out: &mut dyn Write) -> std::io::Result<()> {
    if a.present {
        writeln!(
            out,
            "audit log    {}: {} entries ({} verified)",
            a.status.label(),
            a.entries,
            a.verified
        )?;
    } else {
        writeln!(out, "audit log    {}: absent", a.status.label())?;
    }
    for f in &a.findings {
        writeln!(out, "             {} {}", f.status.label(), f.message)?;
    }
    for p in &a.problems {
        writeln!(
            out,
            "             {}",
            describe_problem(p, &|x: &AuditRef| format!("entry {}", x.entry))
        )?;
    }
    for e in &a.notable {
        writeln!(
            out,
            "             event {} {} {}",
            e.utc.as_deref().unwrap_or("?"),
            e.event,
            e.detail
        )?;
    }
    for e in &a.unknown_events {
        writeln!(
            out,
            "             unknown event (not checked) {} {} {}",
            e.utc.as_deref().unwrap_or("?"),
            e.event,
            e.detail
        )?;
    }
    Ok(())
}

/// The head statement, or (for a store) that none was given.
fn render_head(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    match &r.head {
        Some(h) => {
            writeln!(
                out,
                "head         {}: nonce {} signed {} ({} media, {} audit records)",
                h.status.label(),
                h.nonce,
                h.signed_utc.as_deref().unwrap_or("?"),
                h.media_count,
                h.audit_count
            )?;
            for f in &h.findings {
                writeln!(out, "             {} {}", f.status.label(), f.message)?;
            }
        }
        None => {
            if r.input == InputKind::Store {
                writeln!(out, "head         not given (--head)")?;
            }
        }
    }
    Ok(())
}
