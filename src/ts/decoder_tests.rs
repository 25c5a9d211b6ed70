//! The muxer's output checked by real decoders (GStreamer makes the media, FFmpeg
//! decodes the result).

use super::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

struct Media {
    /// (keyframe, Annex-B access unit)
    video: Vec<(bool, Vec<u8>)>,
    audio: Vec<Vec<u8>>,
}

const VIDEO_FRAMES: usize = 45;
const START_PTS: u64 = 2 * 90_000;
const VIDEO_TICKS: u64 = 6000; // 15 fps
const AUDIO_TICKS: u64 = 1920; // 1024 samples at 48 kHz

/// Runs an external tool; fails the test (never skips) if it is missing.
fn run(tool: &str, args: &[&str]) -> Output {
    match Command::new(tool).args(args).output() {
        Ok(o) => o,
        Err(e) => panic!(
            "required tool `{tool}` could not be run ({e}); install it \
             (gstreamer1.0-tools + plugins-good/ugly + gstreamer1.0-libav, ffmpeg)"
        ),
    }
}

fn run_ok(tool: &str, args: &[&str]) -> Output {
    let o = run(tool, args);
    assert!(
        o.status.success(),
        "`{tool} {}` failed: {}\n{}",
        args.join(" "),
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn gst(pipeline: &str, location: &Path) {
    let loc = format!("location={}", location.display());
    let mut args: Vec<&str> = vec!["-q"];
    args.extend(pipeline.split_whitespace());
    args.push(&loc);
    run_ok("gst-launch-1.0", &args);
}

/// Splits an Annex-B stream into NAL units (start code included).
fn split_nals(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            let s = if i > 0 && data[i - 1] == 0 { i - 1 } else { i };
            starts.push(s);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(data.len());
        nals.push(&data[s..e]);
    }
    nals
}

fn nal_header(nal: &[u8]) -> (u8, Option<u8>) {
    let p = nal.iter().position(|&b| b == 1).unwrap();
    (nal[p + 1] & 0x1F, nal.get(p + 2).copied())
}

/// Groups NAL units into access units: a new AU starts at an AUD, SEI,
/// SPS or PPS, or at a slice with first_mb_in_slice == 0, once the
/// current AU already holds a slice.
fn split_access_units(data: &[u8]) -> Vec<(bool, Vec<u8>)> {
    let mut aus: Vec<(bool, Vec<u8>)> = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let (mut has_slice, mut key) = (false, false);
    for nal in split_nals(data) {
        let (ty, next) = nal_header(nal);
        let is_slice = ty == 1 || ty == 5;
        // ue(v) == 0 is coded as a single '1' bit.
        let first_mb_zero = is_slice && next.is_some_and(|b| b & 0x80 != 0);
        let starts_au = matches!(ty, 6..=9) || first_mb_zero;
        if starts_au && has_slice {
            aus.push((key, std::mem::take(&mut cur)));
            has_slice = false;
            key = false;
        }
        cur.extend_from_slice(nal);
        has_slice |= is_slice;
        key |= ty == 5;
    }
    if has_slice {
        aus.push((key, cur));
    }
    aus
}

fn split_adts(data: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut i = 0;
    while i + 7 <= data.len() {
        assert!(data[i] == 0xFF && data[i + 1] & 0xF0 == 0xF0, "ADTS sync");
        let len = (usize::from(data[i + 3] & 3) << 11)
            | (usize::from(data[i + 4]) << 3)
            | usize::from(data[i + 5] >> 5);
        assert!(len >= 7 && i + len <= data.len());
        frames.push(data[i..i + len].to_vec());
        i += len;
    }
    assert_eq!(i, data.len());
    frames
}

fn media() -> &'static Media {
    static MEDIA: OnceLock<Media> = OnceLock::new();
    MEDIA.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let v = dir.path().join("v.h264");
        let a = dir.path().join("a.aac");
        gst(
            "videotestsrc num-buffers=45 ! video/x-raw,format=I420,width=160,height=120,framerate=15/1 \
             ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 \
             ! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au \
             ! filesink",
            &v,
        );
        gst(
            "audiotestsrc num-buffers=60 ! audio/x-raw,rate=48000,channels=1 ! audioconvert \
             ! avenc_aac ! aacparse ! audio/mpeg,mpegversion=4,stream-format=adts ! filesink",
            &a,
        );
        let video = split_access_units(&std::fs::read(&v).expect("read h264"));
        let audio = split_adts(&std::fs::read(&a).expect("read aac"));
        assert_eq!(video.len(), VIDEO_FRAMES, "access units from x264");
        assert!(video[0].0, "first AU must be a keyframe");
        assert!(audio.len() >= 60, "ADTS frames: {}", audio.len());
        Media { video, audio }
    })
}

/// Muxes video frames `[v0, v1)` plus all audio frames whose PTS falls in
/// the same PTS range (or all remaining audio for the last segment),
/// interleaved in PTS order (video first on ties).
fn mux_range(m: &mut TsMuxer, out: &mut Vec<u8>, v0: usize, v1: usize, last: bool) {
    let md = media();
    let lo = START_PTS + v0 as u64 * VIDEO_TICKS;
    let hi = START_PTS + v1 as u64 * VIDEO_TICKS;
    let mut audio = md
        .audio
        .iter()
        .enumerate()
        .map(|(j, f)| (START_PTS + j as u64 * AUDIO_TICKS, f))
        .filter(|(p, _)| *p >= lo && (last || *p < hi))
        .peekable();
    for (i, (key, au)) in md.video.iter().enumerate().take(v1).skip(v0) {
        let pts = START_PTS + i as u64 * VIDEO_TICKS;
        while let Some((p, f)) = audio.next_if(|(p, _)| *p < pts) {
            m.write_audio(out, p, f);
        }
        m.write_video(out, pts, pts, *key, au);
    }
    for (p, f) in audio {
        m.write_audio(out, p, f);
    }
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write ts");
    p
}

/// Parses ffprobe `-of flat` output: for top-level entries named
/// `{section}s.{section}.N.key=value`, returns the key/value maps of
/// entries 0, 1, ... in order (program-nested copies are ignored).
fn flat_entries(stdout: &[u8], section: &str) -> Vec<HashMap<String, String>> {
    let prefix = format!("{section}s.{section}.");
    let mut entries: Vec<HashMap<String, String>> = Vec::new();
    for line in String::from_utf8_lossy(stdout).lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let Some((idx, kv)) = rest.split_once('.') else {
            continue;
        };
        let Some((key, value)) = kv.split_once('=') else {
            continue;
        };
        let idx: usize = idx.parse().expect("entry index");
        if entries.len() <= idx {
            entries.resize_with(idx + 1, HashMap::new);
        }
        entries[idx].insert(key.to_string(), value.trim_matches('"').to_string());
    }
    entries
}

/// (codec_name, nb_read_frames) per stream, via ffprobe -count_frames.
fn probe_frames(path: &Path) -> Vec<(String, u64)> {
    let p = path.display().to_string();
    let o = run_ok(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,nb_read_frames",
            "-of",
            "flat",
            &p,
        ],
    );
    flat_entries(&o.stdout, "stream")
        .into_iter()
        .map(|f| {
            let n = f
                .get("nb_read_frames")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            (f.get("codec_name").cloned().unwrap_or_default(), n)
        })
        .collect()
}

/// Packet PTS values of the video and audio streams, via ffprobe.
fn probe_pts(path: &Path) -> (Vec<u64>, Vec<u64>) {
    let p = path.display().to_string();
    let o = run_ok(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type:packet=pts,stream_index",
            "-of",
            "flat",
            &p,
        ],
    );
    let kinds: Vec<String> = flat_entries(&o.stdout, "stream")
        .into_iter()
        .map(|f| f.get("codec_type").cloned().unwrap_or_default())
        .collect();
    let (mut v, mut a) = (Vec::new(), Vec::new());
    for f in flat_entries(&o.stdout, "packet") {
        let pts: u64 = f["pts"].parse().expect("numeric pts");
        let index: usize = f["stream_index"].parse().expect("stream index");
        match kinds.get(index).map(String::as_str) {
            Some("video") => v.push(pts),
            Some("audio") => a.push(pts),
            other => panic!("unexpected stream {other:?}"),
        }
    }
    (v, a)
}

fn assert_decodes_cleanly(path: &Path) {
    let p = path.display().to_string();
    let o = run(
        "ffmpeg",
        &["-nostdin", "-v", "error", "-i", &p, "-f", "null", "-"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.trim().is_empty(),
        "{p}: {}\n{err}",
        o.status
    );
}

#[test]
fn ffprobe_counts_frames_and_continuous_pts() {
    let md = media();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = TsMuxer::new(true);
    let mut out = Vec::new();
    mux_range(&mut m, &mut out, 0, VIDEO_FRAMES, true);
    let path = write_file(dir.path(), "all.ts", &out);

    let s = scan(&out);
    assert_eq!(s.video_frames, VIDEO_FRAMES as u64);
    assert_eq!(s.audio_frames, md.audio.len() as u64);
    assert_eq!(
        s.keyframes,
        md.video.iter().filter(|(k, _)| *k).count() as u64
    );
    assert_eq!(s.first_video_pts, Some(START_PTS));

    let mut streams = probe_frames(&path);
    streams.sort();
    assert_eq!(
        streams,
        vec![
            ("aac".to_string(), md.audio.len() as u64),
            ("h264".to_string(), VIDEO_FRAMES as u64)
        ]
    );

    let (v, a) = probe_pts(&path);
    assert_eq!(v.len(), VIDEO_FRAMES);
    assert_eq!(a.len(), md.audio.len());
    assert_eq!(v[0], START_PTS);
    assert_eq!(a[0], START_PTS);
    assert!(v.windows(2).all(|w| w[1] - w[0] == VIDEO_TICKS), "{v:?}");
    assert!(a.windows(2).all(|w| w[1] - w[0] == AUDIO_TICKS), "{a:?}");
    assert_decodes_cleanly(&path);
}

#[test]
fn segments_decode_independently_with_continuous_pts() {
    let md = media();
    let split = md
        .video
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, (k, _))| *k)
        .map(|(i, _)| i)
        .expect("a second keyframe");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = TsMuxer::new(true);
    let (mut seg1, mut seg2) = (Vec::new(), Vec::new());
    m.write_tables(&mut seg1);
    mux_range(&mut m, &mut seg1, 0, split, false);
    m.write_tables(&mut seg2);
    mux_range(&mut m, &mut seg2, split, VIDEO_FRAMES, true);
    let p1 = write_file(dir.path(), "seg1.ts", &seg1);
    let p2 = write_file(dir.path(), "seg2.ts", &seg2);

    assert_decodes_cleanly(&p1);
    assert_decodes_cleanly(&p2);
    let f1 = probe_frames(&p1);
    let f2 = probe_frames(&p2);
    let video = |f: &[(String, u64)]| f.iter().find(|(c, _)| c == "h264").map(|x| x.1);
    assert_eq!(video(&f1), Some(split as u64));
    assert_eq!(video(&f2), Some((VIDEO_FRAMES - split) as u64));

    let (v1, a1) = probe_pts(&p1);
    let (v2, a2) = probe_pts(&p2);
    assert_eq!(v2[0], v1[v1.len() - 1] + VIDEO_TICKS);
    assert_eq!(a2[0], a1[a1.len() - 1] + AUDIO_TICKS);
    assert_eq!(a1.len() + a2.len(), md.audio.len());

    // Both segments also concatenate into one valid stream (shared CCs).
    let both = [seg1.as_slice(), seg2.as_slice()].concat();
    let pb = write_file(dir.path(), "both.ts", &both);
    assert_decodes_cleanly(&pb);
    let s2 = scan(&seg2);
    assert_eq!(s2.first_video_pts, Some(v2[0]));
    let keys2 = md.video[split..].iter().filter(|(k, _)| *k).count();
    assert_eq!(s2.keyframes, keys2 as u64);
}

#[test]
fn truncated_segments_still_decode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = TsMuxer::new(true);
    let mut out = Vec::new();
    mux_range(&mut m, &mut out, 0, VIDEO_FRAMES, true);
    let len = out.len();
    let cuts = [
        len / 5,
        len / 3 + 1,
        len / 2 + 94,
        (len / 2 / TS_PACKET) * TS_PACKET,
        2 * len / 3 + 187,
        len - 1,
        len - 95,
    ];
    for cut in cuts {
        let prefix = &out[..cut];
        let s = scan(prefix);
        assert!(s.video_frames >= 2, "cut {cut} too early for this test");
        let path = write_file(dir.path(), &format!("cut{cut}.ts"), prefix);
        let frames = probe_frames(&path);
        let video = frames
            .iter()
            .find(|(c, _)| c == "h264")
            .map(|x| x.1)
            .unwrap_or(0);
        // The last PES may be cut short; everything before it decodes.
        assert!(
            video + 1 >= s.video_frames && video >= 1,
            "cut {cut}: ffprobe decoded {video} of {} video frames",
            s.video_frames
        );
    }
}
