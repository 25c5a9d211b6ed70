//! ffmpeg and ffprobe: the recording's segments remuxed into one MP4 (`-c copy`: every
//! frame of both streams as recorded, no re-encode, timestamps kept so gaps stay gaps),
//! thumbnails from its keyframes, and what ffprobe says the files hold.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The tools, from `BODYCAM_FFMPEG` / `BODYCAM_FFPROBE` or the `PATH`.
#[derive(Debug, Clone)]
pub struct Tools {
    /// ffmpeg.
    pub ffmpeg: PathBuf,
    /// ffprobe.
    pub ffprobe: PathBuf,
}

impl Default for Tools {
    fn default() -> Self {
        let env =
            |k: &str, d: &str| std::env::var_os(k).map_or_else(|| PathBuf::from(d), PathBuf::from);
        Tools {
            ffmpeg: env("BODYCAM_FFMPEG", "ffmpeg"),
            ffprobe: env("BODYCAM_FFPROBE", "ffprobe"),
        }
    }
}

/// A tool that failed.
#[derive(Debug, thiserror::Error)]
#[error("{tool} {what}: {reason}")]
pub struct ToolError {
    /// Which tool.
    pub tool: String,
    /// What it was doing.
    pub what: String,
    /// Why it failed (its stderr, or why it could not start).
    pub reason: String,
}

fn fail(tool: &Path, what: &str, reason: impl Into<String>) -> ToolError {
    ToolError {
        tool: tool.display().to_string(),
        what: what.into(),
        reason: reason.into(),
    }
}

/// Concatenate the segments (in order) into one MPEG-TS stream on ffmpeg's stdin and
/// remux it to `out` (MP4, moov first).
pub fn to_mp4(tools: &Tools, segments: &[PathBuf], out: &Path) -> Result<(), ToolError> {
    let what = "remuxing to MP4";
    let mut child = Command::new(&tools.ffmpeg)
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "mpegts", "-i", "pipe:0"])
        .args(["-map", "0:v?", "-map", "0:a?", "-c", "copy"])
        .args(["-bsf:a", "aac_adtstoasc", "-movflags", "+faststart"])
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(&tools.ffmpeg, what, format!("cannot start it: {e}")))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| fail(&tools.ffmpeg, what, "no stdin"))?;
    let feed = segments.to_vec();
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        for p in feed {
            let mut f = std::fs::File::open(p)?;
            std::io::copy(&mut f, &mut stdin)?;
        }
        stdin.flush()
    });
    let output = child
        .wait_with_output()
        .map_err(|e| fail(&tools.ffmpeg, what, e.to_string()))?;
    let fed = writer
        .join()
        .map_err(|_| fail(&tools.ffmpeg, what, "the feeding thread panicked"))?;
    if !output.status.success() {
        return Err(fail(
            &tools.ffmpeg,
            what,
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    fed.map_err(|e| fail(&tools.ffmpeg, what, format!("feeding the segments: {e}")))
}

/// One JPEG every `every` seconds of `mp4`, decoded from keyframes only, into `dir`
/// (`0001.jpg` … at 0, `every`, 2 × `every` … seconds). Returns the files in order.
pub fn thumbnails(
    tools: &Tools,
    mp4: &Path,
    every: f64,
    dir: &Path,
) -> Result<Vec<PathBuf>, ToolError> {
    let what = "making thumbnails";
    std::fs::create_dir_all(dir).map_err(|e| fail(&tools.ffmpeg, what, e.to_string()))?;
    let output = Command::new(&tools.ffmpeg)
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(["-skip_frame", "nokey", "-i"])
        .arg(mp4)
        .args(["-an", "-vf"])
        .arg(format!("fps=1/{every},scale=240:-2"))
        .args(["-q:v", "6"])
        .arg(dir.join("%04d.jpg"))
        .output()
        .map_err(|e| fail(&tools.ffmpeg, what, format!("cannot start it: {e}")))?;
    if !output.status.success() {
        return Err(fail(
            &tools.ffmpeg,
            what,
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| fail(&tools.ffmpeg, what, e.to_string()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    files.sort();
    Ok(files)
}

/// What ffprobe says a media file holds.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Probe {
    /// Container duration, seconds.
    pub duration_seconds: Option<f64>,
    /// Video packets (frames).
    pub video_frames: Option<u64>,
    /// Audio packets (AAC frames).
    pub audio_frames: Option<u64>,
    /// Video codec.
    pub video_codec: Option<String>,
    /// Audio codec.
    pub audio_codec: Option<String>,
}

/// Probe `path` (packets counted, not decoded).
pub fn probe(tools: &Tools, path: &Path) -> Result<Probe, ToolError> {
    let what = "probing";
    let output = Command::new(&tools.ffprobe)
        .args(["-v", "error", "-count_packets", "-show_entries"])
        .args([
            "stream=codec_type,codec_name,nb_read_packets:format=duration",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .map_err(|e| fail(&tools.ffprobe, what, format!("cannot start it: {e}")))?;
    if !output.status.success() {
        return Err(fail(
            &tools.ffprobe,
            what,
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| fail(&tools.ffprobe, what, e.to_string()))?;
    let mut p = Probe {
        duration_seconds: v["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse().ok()),
        ..Probe::default()
    };
    for s in v["streams"].as_array().into_iter().flatten() {
        let packets = s["nb_read_packets"].as_str().and_then(|n| n.parse().ok());
        let codec = s["codec_name"].as_str().map(str::to_string);
        match s["codec_type"].as_str() {
            Some("video") => {
                p.video_frames = packets;
                p.video_codec = codec;
            }
            Some("audio") => {
                p.audio_frames = packets;
                p.audio_codec = codec;
            }
            Some(_) | None => {}
        }
    }
    Ok(p)
}
