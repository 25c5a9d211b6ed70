//! What ffprobe and ffmpeg make of the footage, and the sidecars beside it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

/// Segment media files of a recording, in order.
pub fn segments(recording: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(recording)
        .expect("read recording dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ts"))
        .collect();
    v.sort();
    v
}

pub fn sidecar(ts: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(ts.with_extension("json")).ok()?;
    serde_json::from_str(&text).ok()
}

fn tool(name: &str) -> Command {
    let probe = Command::new(name).arg("-version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "required tool `{name}` is missing: install ffmpeg (apt-get install ffmpeg)"
    );
    Command::new(name)
}

/// Packets of one stream (`v` or `a`) as (pts, keyframe).
pub fn packets(path: &Path, stream: &str) -> Vec<(i64, bool)> {
    let out = tool("ffprobe")
        .args(["-v", "error", "-select_streams", stream])
        .args(["-show_entries", "packet=pts,flags", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(out.status.success(), "ffprobe failed on {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split(',');
            let pts = it.next()?.trim().parse().ok()?;
            let flags = it.next().unwrap_or("");
            Some((pts, flags.contains('K')))
        })
        .collect()
}

/// Decoded frame counts (video, audio) by really decoding the file.
pub fn decoded_frames(path: &Path) -> (u64, u64) {
    let out = tool("ffprobe")
        .args(["-v", "error", "-count_frames"])
        .args([
            "-show_entries",
            "stream=codec_type,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(out.status.success(), "ffprobe failed on {}", path.display());
    let (mut v, mut a) = (0, 0);
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let mut it = l.split(',');
        let kind = it.next().unwrap_or("");
        let n: u64 = it.next().and_then(|n| n.trim().parse().ok()).unwrap_or(0);
        match kind {
            "video" => v = n,
            "audio" => a = n,
            _ => {}
        }
    }
    (v, a)
}

/// Decode the whole file with ffmpeg; returns ffmpeg's error output (empty = clean).
pub fn decode_errors(path: &Path) -> String {
    let out = tool("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    let mut s = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        s.push_str(&format!("\nffmpeg exit {:?}", out.status.code()));
    }
    s
}

/// The audio of `path` decoded by ffmpeg: 48 kHz mono samples in [-1, 1], from the
/// first audio frame.
pub fn audio_samples(path: &Path) -> Vec<f32> {
    let out = tool("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-map", "0:a", "-ac", "1", "-ar", "48000", "-f", "f32le", "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg cannot decode the audio of {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// `ffmpeg -c copy` of every stream of `path` into `out` (the container by its
/// extension); returns ffmpeg's error output (empty = clean).
pub fn copy_streams(path: &Path, out: &Path) -> String {
    let o = tool("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(path)
        .args(["-map", "0", "-c", "copy"])
        .arg(out)
        .output()
        .expect("ffmpeg");
    let mut s = String::from_utf8_lossy(&o.stderr).into_owned();
    if !o.status.success() {
        s.push_str(&format!("\nffmpeg exit {:?}", o.status.code()));
    }
    s
}

pub fn wait_secs(s: f64) {
    std::thread::sleep(Duration::from_secs_f64(s));
}

/// Frame `n` (0-based, in decode order) of the video of `path`, decoded by ffmpeg, as
/// its luma plane (`width × height` bytes, row by row).
pub fn luma_frame(path: &Path, n: usize, width: usize, height: usize) -> Vec<u8> {
    let out = tool("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-vf", &format!("select=eq(n\\,{n})"), "-frames:v", "1"])
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success() && out.stdout.len() == width * height,
        "ffmpeg could not give frame {n} of {} as {width}x{height} gray ({} bytes): {}",
        path.display(),
        out.stdout.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Frame `n` of `path` as a PNG file at `png` (to look at).
pub fn save_png(path: &Path, n: usize, png: &Path) {
    let out = tool("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(path)
        .args(["-vf", &format!("select=eq(n\\,{n})"), "-frames:v", "1"])
        .arg(png)
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ffprobe -show_entries stream=…` of `path`: one map of the named entries per stream.
pub fn streams(path: &Path, entries: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let out = tool("ffprobe")
        .args(["-v", "error", "-show_entries", &format!("stream={entries}")])
        .args(["-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(out.status.success(), "ffprobe failed on {}", path.display());
    let v: Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    v["streams"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    s.as_object()
                        .map(|o| {
                            o.iter()
                                .map(|(k, v)| {
                                    let text =
                                        v.as_str().map_or_else(|| v.to_string(), str::to_string);
                                    (k.clone(), text)
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Copy `ts` to an MP4 at `mp4` with `ffmpeg -c copy` (default probe sizes); returns
/// ffmpeg's error output (empty = clean).
pub fn copy_to_mp4(ts: &Path, mp4: &Path) -> String {
    let out = tool("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(ts)
        .args(["-map", "0", "-c", "copy"])
        .arg(mp4)
        .output()
        .expect("ffmpeg");
    let mut s = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        s.push_str(&format!("\nffmpeg exit {:?}", out.status.code()));
    }
    s
}

/// Share of the overlay's first text line where the decoded `width`-wide frame `luma`
/// and the composed `box_` at `at` disagree about ink (bright) or paper (dark).
pub fn first_line_mismatch(
    luma: &[u8],
    width: usize,
    box_: &bodycam::capture::overlay::Composed,
    at: (usize, usize),
) -> f64 {
    let rows = bodycam::capture::overlay::line_top(box_.scale, 1);
    let mut wrong = 0usize;
    for r in 0..rows {
        for c in 0..box_.w {
            let got = luma[(at.1 + r) * width + at.0 + c] >= 128;
            let want = box_.luma[r * box_.w + c] >= 128;
            wrong += usize::from(got != want);
        }
    }
    wrong as f64 / (rows * box_.w) as f64
}

/// The UTC second (near `around`) whose overlay box, composed at scale 1 in the top
/// left corner for `camera` and `officer`, matches the decoded frame `luma` of `size`
/// best, with its mismatch and the second best's.
pub fn overlay_fit(
    luma: &[u8],
    size: (usize, usize),
    around: chrono::DateTime<chrono::Utc>,
    camera: &str,
    officer: Option<&str>,
    synchronised: bool,
) -> (i64, f64, f64) {
    use bodycam::capture::overlay::{Composed, lines, placement};
    let mut scored: Vec<(i64, f64)> = (-2..=3)
        .map(|k| {
            let t = around + chrono::Duration::seconds(k);
            let text = lines(t, None, camera, officer, synchronised, true);
            let b = Composed::new(&text, 1, true);
            let at = placement(
                bodycam::config::OverlayPosition::TopLeft,
                size.0,
                size.1,
                b.w,
                b.h,
                1,
            );
            (t.timestamp(), first_line_mismatch(luma, size.0, &b, at))
        })
        .collect();
    scored.sort_by(|a, b| a.1.total_cmp(&b.1));
    (scored[0].0, scored[0].1, scored[1].1)
}
