//! Encoded media as it leaves the capture pipeline: one H.264 access unit or one AAC frame.

/// Which elementary stream a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    /// H.264 Annex-B access unit.
    Video,
    /// AAC-LC frame with its ADTS header.
    Audio,
}

/// One encoded frame.
///
/// Timestamps are in nanoseconds of the monotonic clock (`CLOCK_MONOTONIC`, which is
/// also GStreamer's system clock): `base_time + running_time` of the buffer. They are
/// continuous across pipeline restarts, so a recording that survives a sensor fault
/// keeps one timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Stream.
    pub kind: StreamKind,
    /// Presentation time, monotonic ns.
    pub pts_ns: u64,
    /// Decode time, monotonic ns (equal to `pts_ns` without B-frames).
    pub dts_ns: u64,
    /// Duration in ns (0 when unknown).
    pub duration_ns: u64,
    /// A video keyframe (IDR with SPS/PPS in front). Always false for audio.
    pub keyframe: bool,
    /// Encoded bytes.
    pub data: Vec<u8>,
}

impl Frame {
    /// Video keyframe.
    pub fn is_video_keyframe(&self) -> bool {
        self.kind == StreamKind::Video && self.keyframe
    }

    /// An audio frame whose timestamps were kept but whose sound was not (empty
    /// `data`): the pre-event buffer keeps these when `recording.pre_event_audio` is
    /// off, and a recording writes encoded silence in their place
    /// ([`crate::capture::silence`]). Never written as it is.
    pub fn sound_dropped(&self) -> bool {
        self.kind == StreamKind::Audio && self.data.is_empty()
    }
}

/// Nanoseconds to 90 kHz ticks (rounded down).
pub fn ns_to_90k(ns: u64) -> u64 {
    // 90_000 / 1e9 = 9 / 100_000; u128 avoids overflow for long uptimes.
    ((u128::from(ns) * 9) / 100_000) as u64
}

/// Convert a monotonic nanosecond value to seconds as f64.
pub fn ns_to_secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ns_to_90k_is_exact_for_whole_frames() {
        assert_eq!(ns_to_90k(1_000_000_000), 90_000);
        assert_eq!(ns_to_90k(33_333_333), 2999);
        assert_eq!(ns_to_90k(66_666_667), 6000);
        // 30 days of uptime does not overflow
        assert_eq!(ns_to_90k(30 * 86_400 * 1_000_000_000), 30 * 86_400 * 90_000);
    }
}
