//! The burned-in overlay: UTC date and time to the second, the camera's short id, the
//! officer's id once one is assigned, and "CLOCK NOT SYNCHRONISED" while the wall clock
//! is not, drawn into the raw frames of every source (simulated I420, libcamera NV12,
//! v4l2 I420) before the encoder.
//!
//! How, and why this way (measured in docs/PERFORMANCE.md, "Overlay candidates"): a
//! buffer probe on the raw-video pad in front of the encoder's queue. The text changes
//! once a second, so the box is *composed* only then (or when the officer or the clock
//! state changes): its luma rows are rasterised from the hand-drawn 5×7 font
//! ([`super::font`]), white on black, scaled by an integer factor. Every frame then
//! gets the box *copied* into its luma plane and its chroma set to neutral: two
//! `memcpy`/`memset` passes over the box's rows, no colour conversion (I420 and NV12
//! are written in place), and no read of the frame (camera buffers can be uncached for
//! reads on the Pi). The simulated camera also shows a frame counter: seven digit cells
//! copied per frame from pre-scaled digit bitmaps.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, Utc};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use super::font::{GLYPH_H, GLYPH_W, glyph};
use crate::config::{CameraConfig, CameraSource, OverlayPosition};

/// Luma of the text (BT.601 limited range white).
const INK: u8 = 235;
/// Luma of the box (limited range black).
const PAPER: u8 = 16;
/// Neutral chroma.
const NEUTRAL: u8 = 128;
/// A character cell in font pixels: the glyph plus one column and two rows of space.
const CELL_W: usize = GLYPH_W + 1;
/// See [`CELL_W`].
const CELL_H: usize = GLYPH_H + 2;
/// Digits of the simulated camera's frame counter.
const COUNTER_DIGITS: usize = 7;
/// What the counter line starts with.
const COUNTER_LABEL: &str = "FRAME ";

/// What the overlay shows besides the clock: set by the daemon, read by every pipeline
/// generation's probe. Changing a field makes the next frame recompose the box.
#[derive(Debug, Default)]
pub struct OverlayText {
    fields: Mutex<TextFields>,
    /// Bumped on every change, so the probe notices without taking the lock.
    version: AtomicU64,
}

#[derive(Debug, Default, Clone)]
struct TextFields {
    camera: String,
    officer: Option<String>,
}

impl OverlayText {
    /// A text showing camera id `camera` (the short device id) and no officer.
    pub fn new(camera: &str) -> Arc<OverlayText> {
        let t = OverlayText::default();
        t.set_camera(camera);
        Arc::new(t)
    }

    /// Set the camera's short id.
    pub fn set_camera(&self, camera: &str) {
        self.update(|f| f.camera = camera.to_string());
    }

    /// HOOK (issue 14, officer assignment): the camera's assigned officer, `None` when
    /// unassigned. Whoever learns the assignment (the dock API, the station) calls this
    /// through the daemon's handle; the next frame shows `OFC <id>`.
    pub fn set_officer(&self, officer: Option<&str>) {
        self.update(|f| f.officer = officer.map(str::to_string));
    }

    /// The officer shown, if any.
    pub fn officer(&self) -> Option<String> {
        self.lock().officer.clone()
    }

    fn update(&self, change: impl FnOnce(&mut TextFields)) {
        change(&mut self.lock());
        self.version.fetch_add(1, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TextFields> {
        // A panic while holding it cannot leave the fields half-written: keep going.
        self.fields.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn snapshot(&self) -> (u64, TextFields) {
        let v = self.version.load(Ordering::Acquire);
        (v, self.lock().clone())
    }
}

/// The short camera id shown in the overlay: the first eight hex digits of the device
/// id, upper case.
pub fn short_camera_id(device_id_hex: &str) -> String {
    device_id_hex
        .chars()
        .take(8)
        .collect::<String>()
        .to_uppercase()
}

/// How the overlay looks; fixed for the daemon's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverlaySpec {
    /// Corner of the box.
    pub position: OverlayPosition,
    /// Pixels per font pixel; 0 = from the frame height ([`auto_scale`]).
    pub scale: u32,
    /// Add a line with local time and its UTC offset.
    pub local_time: bool,
    /// Add a frame counter (the simulated camera only).
    pub frame_counter: bool,
}

impl OverlaySpec {
    /// The spec `[camera]` asks for, or `None` when `camera.overlay` is off or the
    /// source is the test-only replay (pre-encoded: there is no raw picture to draw on).
    pub fn from_config(c: &CameraConfig) -> Option<OverlaySpec> {
        let drawable = c.source != CameraSource::Replay;
        (c.overlay && drawable).then_some(OverlaySpec {
            position: c.overlay_position,
            scale: c.overlay_scale,
            local_time: c.overlay_local_time,
            frame_counter: c.source == CameraSource::Simulated,
        })
    }

    fn scale_for(&self, frame_height: usize) -> usize {
        if self.scale == 0 {
            auto_scale(frame_height)
        } else {
            self.scale as usize
        }
    }
}

/// The scale used when `camera.overlay_scale = 0`: one font pixel per 360 lines (2 at
/// 720p, 3 at 1080p), at least 1.
pub fn auto_scale(frame_height: usize) -> usize {
    (frame_height / 360).max(1)
}

/// Counters of what the probe did (for the log, the status and the tests).
#[derive(Debug, Default)]
pub struct OverlayStats {
    /// Frames the box was drawn into.
    pub frames: AtomicU64,
    /// Times the box was composed (about once a second).
    pub composed: AtomicU64,
    /// Frames whose buffer was shared, so that drawing had to copy it first.
    pub copied: AtomicU64,
    /// Frames left without the overlay (a format the overlay cannot draw on, or a
    /// buffer that could not be mapped).
    pub skipped: AtomicU64,
    /// Set once a skipped frame was logged.
    warned: AtomicBool,
}

/// The overlay every pipeline generation draws: how it looks, what it says, and the
/// counters of what it did.
#[derive(Debug, Clone)]
pub struct Overlay {
    /// How it looks.
    pub spec: OverlaySpec,
    /// What it says besides the clock.
    pub text: Arc<OverlayText>,
    /// What the probes did, over all generations.
    pub stats: Arc<OverlayStats>,
}

impl Overlay {
    /// An overlay with fresh counters.
    pub fn new(spec: OverlaySpec, text: Arc<OverlayText>) -> Overlay {
        Overlay {
            spec,
            text,
            stats: Arc::new(OverlayStats::default()),
        }
    }
}

/// The text lines of the box, top to bottom. The counter line (simulated camera) has
/// placeholder digits that the probe overwrites on every frame.
pub fn lines(
    utc: DateTime<Utc>,
    local: Option<DateTime<FixedOffset>>,
    camera: &str,
    officer: Option<&str>,
    synchronised: bool,
    frame_counter: bool,
) -> Vec<String> {
    let camera = if camera.is_empty() { "-" } else { camera };
    let mut first = format!("{}  CAM {camera}", utc.format("%Y-%m-%d %H:%M:%S UTC"));
    if let Some(o) = officer {
        first.push_str("  OFC ");
        first.push_str(o);
    }
    let mut out = vec![first];
    if let Some(l) = local {
        out.push(l.format("LOCAL %Y-%m-%d %H:%M:%S %:z").to_string());
    }
    if !synchronised {
        out.push("CLOCK NOT SYNCHRONISED".into());
    }
    if frame_counter {
        out.push(format!("{COUNTER_LABEL}{}", "0".repeat(COUNTER_DIGITS)));
    }
    out
}

/// The box, composed once per text change: its luma rows (chroma is neutral
/// throughout) and where the counter's digits go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// Width in pixels (even).
    pub w: usize,
    /// Height in pixels (even).
    pub h: usize,
    /// Font scale it was drawn at.
    pub scale: usize,
    /// `w × h` luma samples, row by row.
    pub luma: Vec<u8>,
    /// Top-left pixel of the first counter digit cell, inside the box.
    pub counter_at: Option<(usize, usize)>,
}

impl Composed {
    /// Rasterise `lines` at `scale` (1 font pixel of padding around the text).
    pub fn new(lines: &[String], scale: usize, with_counter: bool) -> Composed {
        let s = scale.max(1);
        let cols = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let pad = s;
        let even = |v: usize| v + (v & 1);
        let w = even(2 * pad + (cols * CELL_W).saturating_sub(1) * s);
        let h = even(2 * pad + lines.len() * CELL_H * s);
        let mut luma = vec![PAPER; w * h];
        for (li, line) in lines.iter().enumerate() {
            for (ci, c) in line.chars().enumerate() {
                let x0 = pad + ci * CELL_W * s;
                let y0 = pad + (li * CELL_H + 1) * s;
                blit_glyph(&mut luma, w, x0, y0, glyph(c), s);
            }
        }
        let counter_at = (with_counter && !lines.is_empty()).then(|| {
            let ci = COUNTER_LABEL.len();
            (pad + ci * CELL_W * s, line_top(s, lines.len() - 1))
        });
        Composed {
            w,
            h,
            scale: s,
            luma,
            counter_at,
        }
    }
}

/// Top row of text line `line` inside a box drawn at `scale` (the box's padding, then
/// one character cell per line).
pub fn line_top(scale: usize, line: usize) -> usize {
    let s = scale.max(1);
    s + line * CELL_H * s
}

/// Set the pixels of glyph `gl` at (`x0`, `y0`) in a `w`-wide luma buffer.
fn blit_glyph(luma: &mut [u8], w: usize, x0: usize, y0: usize, gl: &[u8; GLYPH_H], s: usize) {
    for (gy, bits) in gl.iter().enumerate() {
        for gx in 0..GLYPH_W {
            if bits & (1 << (GLYPH_W - 1 - gx)) == 0 {
                continue;
            }
            for dy in 0..s {
                let row = (y0 + gy * s + dy) * w;
                let start = row + x0 + gx * s;
                if let Some(px) = luma.get_mut(start..start + s) {
                    px.fill(INK);
                }
            }
        }
    }
}

/// One digit cell (glyph plus spacing) as luma rows, for the per-frame counter.
#[derive(Debug, Clone)]
struct DigitCells {
    scale: usize,
    w: usize,
    h: usize,
    cells: Vec<Vec<u8>>,
}

impl DigitCells {
    fn new(scale: usize) -> DigitCells {
        let (w, h) = (CELL_W * scale, CELL_H * scale);
        let cells = ('0'..='9')
            .map(|c| {
                let mut cell = vec![PAPER; w * h];
                blit_glyph(&mut cell, w, 0, scale, glyph(c), scale);
                cell
            })
            .collect();
        DigitCells { scale, w, h, cells }
    }
}

/// Where the box lands in a `fw × fh` frame: its top-left corner, even so that it
/// starts on a chroma sample. The box may be cut at the frame's edges.
pub fn placement(
    position: OverlayPosition,
    fw: usize,
    fh: usize,
    bw: usize,
    bh: usize,
    scale: usize,
) -> (usize, usize) {
    let margin = 4 * scale;
    let far = |frame: usize, size: usize| frame.saturating_sub(size + margin) & !1;
    let near = margin & !1;
    match position {
        OverlayPosition::TopLeft => (near, near),
        OverlayPosition::TopRight => (far(fw, bw), near),
        OverlayPosition::BottomLeft => (near, far(fh, bh)),
        OverlayPosition::BottomRight => (far(fw, bw), far(fh, bh)),
    }
}

/// Copy a `sw × sh` block (`src`, rows of `sw` bytes) into a plane at (`x`, `y`),
/// clipped to `fw × fh`.
pub fn copy_block(
    plane: &mut [u8],
    stride: usize,
    (fw, fh): (usize, usize),
    (x, y): (usize, usize),
    src: &[u8],
    (sw, sh): (usize, usize),
) {
    if x >= fw || y >= fh {
        return;
    }
    let cols = sw.min(fw - x);
    for r in 0..sh.min(fh - y) {
        let dst = (y + r) * stride + x;
        let (Some(d), Some(s)) = (
            plane.get_mut(dst..dst + cols),
            src.get(r * sw..r * sw + cols),
        ) else {
            return;
        };
        d.copy_from_slice(s);
    }
}

/// Set `w × h` bytes at (`x`, `y`) of a plane to `value`, clipped to `fw × fh`.
pub fn fill_block(
    plane: &mut [u8],
    stride: usize,
    (fw, fh): (usize, usize),
    (x, y): (usize, usize),
    (w, h): (usize, usize),
    value: u8,
) {
    if x >= fw || y >= fh {
        return;
    }
    let cols = w.min(fw - x);
    for r in 0..h.min(fh - y) {
        let dst = (y + r) * stride + x;
        let Some(d) = plane.get_mut(dst..dst + cols) else {
            return;
        };
        d.fill(value);
    }
}

/// The 4:2:0 layouts the overlay draws on (all raw formats of the three sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Y, then two quarter-size chroma planes (I420, YV12).
    Planar,
    /// Y, then one half-height plane of interleaved chroma pairs (NV12, NV21).
    SemiPlanar,
}

impl Layout {
    /// The layout of a GStreamer raw format, if the overlay can draw on it.
    pub fn of(format: gst_video::VideoFormat) -> Option<Layout> {
        use gst_video::VideoFormat as F;
        match format {
            F::I420 | F::Yv12 => Some(Layout::Planar),
            F::Nv12 | F::Nv21 => Some(Layout::SemiPlanar),
            _ => None,
        }
    }
}

/// A frame's planes as `(bytes, stride)`: luma first.
pub type Planes<'a> = [(&'a mut [u8], usize)];

/// Draw `box_` (and the counter's digits) into a frame of `fw × fh` at (`x`, `y`).
fn draw(
    layout: Layout,
    planes: &mut Planes<'_>,
    (fw, fh): (usize, usize),
    (x, y): (usize, usize),
    box_: &Composed,
    counter: Option<(&DigitCells, u64)>,
) {
    let (bw, bh) = (box_.w, box_.h);
    if let Some((luma, stride)) = planes.first_mut() {
        copy_block(luma, *stride, (fw, fh), (x, y), &box_.luma, (bw, bh));
        if let (Some((cx, cy)), Some((digits, n))) = (box_.counter_at, counter) {
            let mut n = n;
            for i in (0..COUNTER_DIGITS).rev() {
                let d = (n % 10) as usize;
                n /= 10;
                let at = (x + cx + i * digits.w, y + cy);
                copy_block(
                    luma,
                    *stride,
                    (fw, fh),
                    at,
                    &digits.cells[d],
                    (digits.w, digits.h),
                );
            }
        }
    }
    let (cw, ch) = (fw.div_ceil(2), fh.div_ceil(2));
    match layout {
        Layout::Planar => {
            for (plane, stride) in planes.iter_mut().skip(1).take(2) {
                let at = (x / 2, y / 2);
                fill_block(plane, *stride, (cw, ch), at, (bw / 2, bh / 2), NEUTRAL);
            }
        }
        Layout::SemiPlanar => {
            if let Some((plane, stride)) = planes.get_mut(1) {
                fill_block(
                    plane,
                    *stride,
                    (cw * 2, ch),
                    (x, y / 2),
                    (bw, bh / 2),
                    NEUTRAL,
                );
            }
        }
    }
}

/// Per-generation state of the probe (one streaming thread calls it; the mutex is never
/// contended).
#[derive(Debug)]
struct ProbeState {
    overlay: Overlay,
    /// Caps the cached `info` is for.
    caps: Option<gst::Caps>,
    info: Option<gst_video::VideoInfo>,
    /// What the current box shows: UTC second, text version, clock state, scale.
    key: Option<(i64, u64, bool, usize)>,
    /// Clock state, re-read when the second changes.
    synchronised: bool,
    last_second: Option<i64>,
    composed: Option<Composed>,
    digits: Option<DigitCells>,
    /// Frames seen by this generation (the simulated camera's counter).
    frames: u64,
}

impl ProbeState {
    fn new(overlay: Overlay) -> ProbeState {
        ProbeState {
            overlay,
            caps: None,
            info: None,
            key: None,
            synchronised: crate::clock::clock_synchronised(),
            last_second: None,
            composed: None,
            digits: None,
            frames: 0,
        }
    }

    fn skip(&self, why: &str) {
        let s = &self.overlay.stats;
        s.skipped.fetch_add(1, Ordering::Relaxed);
        if !s.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(reason = why, "overlay not drawn on a frame");
        }
    }

    fn video_info(&mut self, pad: &gst::Pad) -> Option<gst_video::VideoInfo> {
        let caps = pad.current_caps()?;
        let same = self
            .caps
            .as_ref()
            .is_some_and(|c| c.as_ptr() == caps.as_ptr());
        if !same {
            self.info = gst_video::VideoInfo::from_caps(&caps).ok();
            self.caps = Some(caps);
        }
        self.info.clone()
    }

    /// Recompose the box if the second, the text, the clock state or the scale changed.
    fn refresh(&mut self, utc: DateTime<Utc>, frame_height: usize) {
        let second = utc.timestamp();
        if self.last_second != Some(second) {
            self.last_second = Some(second);
            self.synchronised = crate::clock::clock_synchronised();
        }
        let spec = self.overlay.spec;
        let scale = spec.scale_for(frame_height);
        let (version, fields) = self.overlay.text.snapshot();
        let key = (second, version, self.synchronised, scale);
        if self.key == Some(key) {
            return;
        }
        let local = spec
            .local_time
            .then(|| utc.with_timezone(&chrono::Local).fixed_offset());
        let text = lines(
            utc,
            local,
            &fields.camera,
            fields.officer.as_deref(),
            self.synchronised,
            spec.frame_counter,
        );
        self.composed = Some(Composed::new(&text, scale, spec.frame_counter));
        if spec.frame_counter && self.digits.as_ref().is_none_or(|d| d.scale != scale) {
            self.digits = Some(DigitCells::new(scale));
        }
        self.key = Some(key);
        self.overlay.stats.composed.fetch_add(1, Ordering::Relaxed);
    }

    fn on_buffer(&mut self, pad: &gst::Pad, buffer: &mut gst::Buffer) {
        self.frames += 1;
        let Some(info) = self.video_info(pad) else {
            return self.skip("no video caps");
        };
        let Some(layout) = Layout::of(info.format()) else {
            return self.skip("raw format is not 4:2:0 (I420/YV12/NV12/NV21)");
        };
        let utc = frame_utc(pad, buffer);
        let (fw, fh) = (info.width() as usize, info.height() as usize);
        self.refresh(utc, fh);
        let Some(box_) = self.composed.as_ref() else {
            return;
        };
        if !buffer.is_writable() {
            // Drawing needs a private copy of a shared buffer: count it.
            self.overlay.stats.copied.fetch_add(1, Ordering::Relaxed);
        }
        let buf = buffer.make_mut();
        let Ok(mut frame) = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &info) else {
            return self.skip("cannot map the frame for writing");
        };
        let strides: Vec<usize> = frame
            .plane_stride()
            .iter()
            .map(|s| usize::try_from(*s).unwrap_or(0))
            .collect();
        let mut planes: Vec<(&mut [u8], usize)> = frame
            .planes_data_mut()
            .into_iter()
            .zip(strides)
            .filter(|(p, _)| !p.is_empty())
            .collect();
        let at = placement(
            self.overlay.spec.position,
            fw,
            fh,
            box_.w,
            box_.h,
            box_.scale,
        );
        let counter = self.digits.as_ref().map(|d| (d, self.frames));
        draw(layout, &mut planes, (fw, fh), at, box_, counter);
        self.overlay.stats.frames.fetch_add(1, Ordering::Relaxed);
    }
}

/// UTC of the frame's capture instant: its running time on the pipeline's clock
/// (GStreamer's system clock is `CLOCK_MONOTONIC`) placed on the wall clock; now, when
/// the buffer has no timestamp.
fn frame_utc(pad: &gst::Pad, buffer: &gst::Buffer) -> DateTime<Utc> {
    let now = Utc::now();
    let running = buffer.pts().and_then(|pts| {
        let seg = pad.sticky_event::<gst::event::Segment>(0)?;
        seg.segment()
            .downcast_ref::<gst::ClockTime>()?
            .to_running_time(pts)
    });
    // Zero until the pipeline first reaches PLAYING (a prerolling, non-live pipeline).
    let base = pad
        .parent_element()
        .and_then(|e| e.base_time())
        .filter(|b| b.nseconds() > 0);
    let (Some(rt), Some(base)) = (running, base) else {
        return now;
    };
    let frame_mono = (base + rt).nseconds();
    let age = crate::clock::monotonic_ns() as i128 - i128::from(frame_mono);
    // A frame is stamped within milliseconds of its capture; anything else means the
    // pipeline's clock is not the monotonic clock: then the frame's time is now.
    match i64::try_from(age) {
        Ok(age) if age.abs() < MAX_FRAME_AGE_NS => now - chrono::Duration::nanoseconds(age),
        Ok(_) | Err(_) => now,
    }
}

/// Largest believable distance between a frame's capture and its passing the probe.
const MAX_FRAME_AGE_NS: i64 = 5_000_000_000;

/// Draw `overlay` into every buffer that passes `pad` (raw 4:2:0 video).
pub fn install(pad: &gst::Pad, overlay: Overlay) {
    let state = Mutex::new(ProbeState::new(overlay));
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        if let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() {
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            st.on_buffer(pad, buffer);
        }
        gst::PadProbeReturn::Ok
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn lines_say_time_camera_officer_and_clock_state() {
        let t = utc("2026-12-01T21:45:07.900Z");
        let l = lines(t, None, "7F3A91C2", None, true, false);
        assert_eq!(l, ["2026-12-01 21:45:07 UTC  CAM 7F3A91C2"]);
        let l = lines(t, None, "7F3A91C2", Some("4711"), false, true);
        assert_eq!(
            l,
            [
                "2026-12-01 21:45:07 UTC  CAM 7F3A91C2  OFC 4711",
                "CLOCK NOT SYNCHRONISED",
                "FRAME 0000000",
            ]
        );
        let local = t.with_timezone(&FixedOffset::east_opt(3600).unwrap());
        let l = lines(t, Some(local), "", None, true, false);
        assert_eq!(l[0], "2026-12-01 21:45:07 UTC  CAM -");
        assert_eq!(l[1], "LOCAL 2026-12-01 22:45:07 +01:00");
    }

    #[test]
    fn composed_box_has_ink_only_where_glyphs_are() {
        let b = Composed::new(&["1".into()], 2, false);
        // 1 px padding (2 at scale 2), one 5-wide glyph: 2 + 5·2 + 2 = 14 wide,
        // 2 + 9·2 + 2 = 22 high.
        assert_eq!((b.w, b.h), (14, 22));
        let at = |x: usize, y: usize| b.luma[y * b.w + x];
        // The glyph's row 0 is "..#..": ink at font column 2 (pixels 6–7), starting one
        // font row down (y = 2 + 2).
        assert_eq!(at(2 + 4, 4), INK);
        assert_eq!(at(2 + 5, 5), INK);
        assert_eq!(at(2, 4), PAPER);
        assert_eq!(at(0, 0), PAPER);
        let inked = b.luma.iter().filter(|v| **v == INK).count();
        let lit: u32 = glyph('1').iter().map(|r| r.count_ones()).sum();
        assert_eq!(inked, lit as usize * 4);
    }

    #[test]
    fn boxes_are_even_sized_and_grow_with_lines() {
        let one = Composed::new(&["ab".into()], 3, false);
        let two = Composed::new(&["ab".into(), "abc".into()], 3, false);
        for b in [&one, &two] {
            assert_eq!(b.w % 2, 0);
            assert_eq!(b.h % 2, 0);
        }
        assert!(two.w > one.w && two.h > one.h);
    }

    #[test]
    fn placement_is_even_and_inside() {
        for pos in [
            OverlayPosition::TopLeft,
            OverlayPosition::TopRight,
            OverlayPosition::BottomLeft,
            OverlayPosition::BottomRight,
        ] {
            let (x, y) = placement(pos, 1920, 1080, 851, 61, 3);
            assert_eq!((x % 2, y % 2), (0, 0), "{pos:?}");
            assert!(x + 851 <= 1920 && y + 61 <= 1080, "{pos:?}");
        }
        assert_eq!(
            placement(OverlayPosition::TopLeft, 160, 120, 400, 30, 1),
            (4, 4)
        );
        assert_eq!(
            placement(OverlayPosition::BottomRight, 160, 120, 400, 30, 1).0,
            0
        );
    }

    /// A frame of `layout` filled with `fill`, drawn, and returned as its planes.
    fn drawn(
        layout: Layout,
        fw: usize,
        fh: usize,
        box_: &Composed,
        at: (usize, usize),
    ) -> Vec<Vec<u8>> {
        let stride = fw + 8; // padded rows, as a camera may deliver them
        let cstride = fw / 2 + 4;
        let mut planes: Vec<(Vec<u8>, usize)> = match layout {
            Layout::Planar => vec![
                (vec![77; stride * fh], stride),
                (vec![99; cstride * fh / 2], cstride),
                (vec![99; cstride * fh / 2], cstride),
            ],
            Layout::SemiPlanar => vec![
                (vec![77; stride * fh], stride),
                (vec![99; stride * fh / 2], stride),
            ],
        };
        {
            let mut refs: Vec<(&mut [u8], usize)> = planes
                .iter_mut()
                .map(|(p, s)| (p.as_mut_slice(), *s))
                .collect();
            draw(layout, &mut refs, (fw, fh), at, box_, None);
        }
        planes.into_iter().map(|(p, _)| p).collect()
    }

    #[test]
    fn draws_the_box_into_i420_and_nv12_and_nothing_else() {
        let b = Composed::new(&["12:34".into()], 2, false);
        let (fw, fh) = (96, 48);
        for layout in [Layout::Planar, Layout::SemiPlanar] {
            let p = drawn(layout, fw, fh, &b, (4, 6));
            let stride = fw + 8;
            for y in 0..fh {
                for x in 0..fw {
                    let v = p[0][y * stride + x];
                    let inside = (4..4 + b.w).contains(&x) && (6..6 + b.h).contains(&y);
                    if inside {
                        assert_eq!(v, b.luma[(y - 6) * b.w + x - 4], "{layout:?} {x},{y}");
                    } else {
                        assert_eq!(v, 77, "{layout:?} luma outside the box at {x},{y}");
                    }
                }
                // Row padding is never written.
                assert!(
                    p[0][y * stride + fw..(y + 1) * stride]
                        .iter()
                        .all(|v| *v == 77)
                );
            }
            let neutral = p[1..].iter().flatten().filter(|v| **v == NEUTRAL).count();
            // Chroma: (w/2 × h/2) samples per plane, two planes (or pairs).
            assert_eq!(neutral, b.w / 2 * b.h / 2 * 2, "{layout:?}");
        }
    }

    #[test]
    fn clips_at_the_frame_edge() {
        let b = Composed::new(&["0123456789".into()], 2, false);
        let (fw, fh) = (40, 20);
        assert!(b.w > fw);
        for layout in [Layout::Planar, Layout::SemiPlanar] {
            let p = drawn(layout, fw, fh, &b, (10, 10));
            let stride = fw + 8;
            for y in 0..fh {
                assert!(
                    p[0][y * stride + fw..(y + 1) * stride]
                        .iter()
                        .all(|v| *v == 77)
                );
            }
            let drawn_luma = p[0].iter().filter(|v| **v != 77).count();
            assert_eq!(drawn_luma, (fw - 10) * (fh - 10), "{layout:?}");
        }
    }

    #[test]
    fn counter_digits_follow_the_frame_number() {
        let text = lines(utc("2026-12-01T00:00:00Z"), None, "X", None, true, true);
        let b = Composed::new(&text, 1, true);
        let digits = DigitCells::new(1);
        let (fw, fh) = (b.w, b.h);
        let mut luma = vec![0u8; fw * fh];
        let mut chroma = vec![0u8; fw * fh / 2];
        let mut planes = [(&mut luma[..], fw), (&mut chroma[..], fw)];
        draw(
            Layout::SemiPlanar,
            &mut planes,
            (fw, fh),
            (0, 0),
            &b,
            Some((&digits, 1_234_567)),
        );
        let (cx, cy) = b.counter_at.unwrap();
        for (i, d) in [1usize, 2, 3, 4, 5, 6, 7].iter().enumerate() {
            for r in 0..digits.h {
                let row = (cy + r) * fw + cx + i * digits.w;
                assert_eq!(
                    &luma[row..row + digits.w],
                    &digits.cells[*d][r * digits.w..(r + 1) * digits.w],
                    "digit {i}"
                );
            }
        }
    }

    /// Frames of `format` from a red test source through the real probe, as planes.
    fn through_probe(
        format: &str,
        w: usize,
        h: usize,
    ) -> (Vec<u8>, gst_video::VideoInfo, Composed) {
        use gstreamer_app as gst_app;
        gst::init().unwrap();
        let desc = format!(
            "videotestsrc num-buffers=2 pattern=red ! video/x-raw,format={format},width={w},height={h},framerate=30/1 \
             ! queue name=vq ! appsink name=out sync=false"
        );
        let p = gst::parse::launch(&desc)
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        let spec = OverlaySpec {
            position: OverlayPosition::BottomRight,
            scale: 1,
            local_time: false,
            frame_counter: false,
        };
        let ov = Overlay::new(spec, OverlayText::new("CAFE0042"));
        let stats = ov.stats.clone();
        install(&p.by_name("vq").unwrap().static_pad("sink").unwrap(), ov);
        let sink = p
            .by_name("out")
            .unwrap()
            .dynamic_cast::<gst_app::AppSink>()
            .unwrap();
        p.set_state(gst::State::Playing).unwrap();
        let sample = sink.pull_sample().unwrap();
        let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
        let data = sample.buffer().unwrap().map_readable().unwrap().to_vec();
        p.set_state(gst::State::Null).unwrap();
        assert!(stats.frames.load(Ordering::Relaxed) >= 1);
        assert_eq!(stats.skipped.load(Ordering::Relaxed), 0);
        // What the probe composed for that second (the clock may have ticked since:
        // only the geometry and the non-time columns are compared).
        let synced = crate::clock::clock_synchronised();
        let text = lines(Utc::now(), None, "CAFE0042", None, synced, false);
        (data, info, Composed::new(&text, 1, false))
    }

    #[test]
    fn the_probe_draws_into_real_nv12_and_i420_buffers() {
        let (w, h) = (320, 240);
        for format in ["NV12", "I420"] {
            let (data, info, b) = through_probe(format, w, h);
            let (x, y) = placement(OverlayPosition::BottomRight, w, h, b.w, b.h, 1);
            let (ys, yo) = (info.stride()[0] as usize, info.offset()[0]);
            // "  CAM CAFE0042": the columns after the time, in the first line's rows.
            let from = ("2026-12-01 21:45:07 UTC".len()) * CELL_W;
            for r in 0..line_top(1, 1) {
                for c in from..b.w {
                    let got = data[yo + (y + r) * ys + x + c];
                    assert_eq!(got, b.luma[r * b.w + c], "{format} luma at {c},{r}");
                }
            }
            // Left of the box: the red picture's luma (not the box's black).
            assert_ne!(data[yo + y * ys + x - 2], PAPER, "{format}");
            // Chroma is neutral inside the box and red's outside.
            let (cs, co) = (info.stride()[1] as usize, info.offset()[1]);
            let cx = if format == "NV12" { x } else { x / 2 };
            assert_eq!(data[co + (y / 2 + 1) * cs + cx + 2], NEUTRAL, "{format}");
            assert_ne!(data[co + (y / 2 + 1) * cs + cx - 2], NEUTRAL, "{format}");
        }
    }

    #[test]
    fn officer_change_bumps_the_version() {
        let t = OverlayText::new("ABCD");
        let (v0, f0) = t.snapshot();
        assert_eq!(f0.camera, "ABCD");
        t.set_officer(Some("4711"));
        let (v1, f1) = t.snapshot();
        assert!(v1 > v0);
        assert_eq!(f1.officer.as_deref(), Some("4711"));
        assert_eq!(t.officer().as_deref(), Some("4711"));
        assert_eq!(short_camera_id("7f3a91c2deadbeef"), "7F3A91C2");
    }
}
