//! Every audit event the device records, with its typed detail: the one definition that
//! the daemon writes, the verifier reads and the tests check (docs/EVIDENCE-FORMAT.md
//! §3.5 lists the same events).
//!
//! On flash an audit record carries the event name and the detail as JSON text
//! ([`crate::evidence::payload::Audit`]). The detail is an object whose keys are written
//! in sorted order (the golden vectors depend on these exact bytes).

use serde::{Deserialize, Serialize};

/// One audit event. The variant name in snake case is the `event` field; the fields are
/// the `detail` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "detail", rename_all = "snake_case")]
pub enum AuditEvent {
    /// The daemon started.
    Boot {
        /// Firmware version.
        firmware: String,
        /// SHA-256 (hex) of the configuration file as read.
        config_sha256: String,
        /// Device id (hex).
        device_id: String,
        /// Number of media-chain records at start.
        media_chain_count: u64,
        /// Whether the wall clock was synchronised at start.
        clock_synchronised: bool,
    },
    /// The previous run ended without a clean shutdown.
    UncleanShutdown {
        /// Event of the last audit entry of the previous run.
        last_event: Option<String>,
    },
    /// Clean shutdown (the last entry of a run).
    Shutdown {},
    /// The device key was created.
    KeyCreated {
        /// Device id (hex).
        device_id: String,
    },
    /// A segment left open was closed by recovery.
    Recovery {
        /// Recording id.
        recording_id: String,
        /// Segment sequence number.
        segment: u32,
        /// Media bytes after the last checkpoint, signed only now.
        tail_bytes: u64,
        /// Seconds of video in that tail.
        tail_seconds: f64,
        /// Bytes of a torn journal record removed.
        journal_torn_bytes: u64,
    },
    /// A torn record was cut off the end of the audit log.
    TornTailRemoved {
        /// The file (`audit.log`).
        file: String,
        /// Bytes removed.
        bytes: u64,
    },
    /// A recording started.
    RecordingStart {
        /// Recording id.
        recording_id: String,
        /// What started it (`gesture:double`, `ctl`).
        trigger: String,
        /// Seconds of pre-event footage at its start.
        pre_event_seconds: f64,
        /// Whether the pre-event footage holds audio.
        pre_event_audio: bool,
        /// The officer the camera was assigned to (absent: unassigned, or a v1 entry).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        officer: Option<String>,
    },
    /// A recording stopped.
    RecordingStop {
        /// Recording id.
        recording_id: String,
        /// What stopped it.
        trigger: String,
        /// Seconds recorded.
        seconds: f64,
        /// Segments the recording closed.
        segments: u64,
        /// The state it ended in (`recording`, or `fault` for a suspended recording).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        during: Option<String>,
    },
    /// A marker was added.
    Marker {
        /// Recording id.
        recording_id: String,
        /// What added it.
        trigger: String,
        /// UTC of the marker.
        utc: String,
    },
    /// Stealth mode changed.
    Stealth {
        /// Whether it is on now.
        on: bool,
    },
    /// The wall clock changed.
    Clock(ClockChange),
    /// Capacity fell below or rose above `storage.reserve_hours`.
    StorageLow {
        /// Whether it is low now.
        low: bool,
        /// Hours of footage that still fit (null when unbounded).
        hours_left: Option<f64>,
    },
    /// The store is full.
    StorageFull {
        /// Bytes that may still be written.
        available_bytes: u64,
        /// Bytes of footage on the store.
        used_bytes: u64,
    },
    /// The capture pipeline failed.
    PipelineFault {
        /// Pipeline generation.
        generation: u64,
        /// What failed.
        reason: String,
    },
    /// The capture pipeline (re)started.
    PipelineStart {
        /// Pipeline generation (1 at boot).
        generation: u64,
    },
    /// A head statement was issued.
    HeadIssued {
        /// The caller's nonce (hex).
        nonce: String,
        /// Media-chain records at the time.
        media_count: u64,
        /// Audit-chain records at the time.
        audit_count: u64,
    },
    /// A dock acknowledged a stored segment with its signed hash.
    OffloadAck {
        /// Recording id.
        recording_id: String,
        /// Segment sequence number.
        segment: u32,
        /// Where the dock stored it.
        blob: String,
        /// SHA-256 of the media (hex), equal to the signed hash.
        sha256: String,
    },
    /// The media of an acknowledged segment was deleted to free space.
    SegmentFreed {
        /// Recording id.
        recording_id: String,
        /// Segment sequence number.
        segment: u32,
        /// Bytes freed.
        bytes: u64,
    },
    /// Put in the dock.
    Docked {
        /// Recorder state at the time.
        state: String,
    },
    /// Taken out of the dock.
    Undocked {
        /// Recorder state at the time.
        state: String,
    },
    /// A trigger input or a peer's announcement fired (also when it changed nothing).
    Trigger {
        /// `input:<name>` or `peer:<device id>`.
        trigger: String,
        /// Recorder state when it fired.
        state: String,
        /// `start`, `mark`, `wake`, `pending` (starts once the camera can), `refused`
        /// or `none` (e.g. already recording).
        outcome: String,
    },
    /// Audio mute changed.
    Mute {
        /// Whether the microphone is muted now.
        on: bool,
        /// The open recording.
        recording_id: Option<String>,
        /// UTC of the change.
        utc: String,
    },
    /// Sleep changed (capture stopped and the pre-event buffer emptied, or woken).
    Sleep {
        /// Whether it is asleep now.
        on: bool,
        /// What did it (`gesture:quad`, `ctl`, `input:holster`, `peer:<id>`, `dock`).
        by: String,
    },
    /// The battery fell below or rose above `power.low_minutes`.
    BatteryLow {
        /// Whether it is low now.
        low: bool,
        /// State of charge.
        percent: Option<u8>,
        /// Minutes of recording the battery holds.
        minutes_left: Option<f64>,
    },
    /// The camera finalised everything and powers off.
    PowerOff {
        /// `battery_critical` or `power_fail`.
        reason: String,
        /// State of charge.
        percent: Option<u8>,
        /// Minutes of recording the battery held.
        minutes_left: Option<f64>,
        /// The command run once the daemon has stopped.
        command: String,
    },
    /// This camera announced a start to its peers.
    PeerAnnounced {
        /// The recording.
        recording_id: String,
        /// The camera whose start it is (this one, or the peer relayed).
        origin: String,
        /// 0 for its own start, more for a relay.
        hops: u8,
    },
    /// Peer announcements were dropped (at most one entry a minute per reason).
    PeerRejected {
        /// `malformed`, `oversized`, `foreign_agency`, `unknown_peer`, `bad_signature`,
        /// `stale`, `replay` or `hop_limit`.
        reason: String,
        /// How many since the previous entry for this reason.
        count: u64,
        /// The device the newest one claimed to come from.
        sender: Option<String>,
    },
    /// The peer link came up or went down.
    PeerLink {
        /// Up.
        up: bool,
        /// The transport, or the error.
        detail: String,
    },
    /// The location receiver became reachable or unreachable.
    LocationLink {
        /// Reachable.
        connected: bool,
        /// Why not.
        error: Option<String>,
    },
    /// A dock assigned the camera to an officer (or cleared the assignment): recordings
    /// started from now on are made for `officer`.
    OfficerAssigned {
        /// The officer now assigned (null: unassigned).
        officer: Option<String>,
        /// The officer assigned before.
        previous: Option<String>,
        /// The dock that sent it, as it named itself.
        dock: Option<String>,
        /// The open recording, which keeps the officer it started with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recording_open: Option<String>,
    },
    /// Footage encryption in force: at every boot, and when the recipients change.
    Encryption {
        /// `off` or `required`.
        mode: String,
        /// Key ids of the recipients new segments are wrapped to (empty when off).
        key_ids: Vec<String>,
        /// `boot`; `rotated` (the recipient files name other keys, in force from the
        /// next segment); `unreadable` (they could not be read again: the keys listed
        /// stay in force).
        reason: String,
        /// With `unreadable`: why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A request an officer's gesture made was refused (a `ctl` refusal is answered to
    /// its caller instead).
    RequestRefused {
        /// What was asked: `start`, `stop` or `marker`.
        request: String,
        /// Why: `docked`, `storage_full`, `fault`, `storage_fault`, …
        reason: String,
        /// The gesture (`gesture:double`).
        trigger: String,
        /// Recorder state at the time.
        state: String,
    },
    /// The store could not be written (a write or fsync failed, or it could not be
    /// opened at start): it latched and the camera entered `storage-fault`.
    StorageError {
        /// The error.
        error: String,
        /// The filesystem (or a quota) was out of space.
        no_space: bool,
        /// Recorder state when it happened (`start` when the store could not be opened).
        state: String,
        /// UTC when it happened (the entry is written later when the log could not be
        /// written then).
        utc: String,
    },
    /// A probe write and fsync succeeded after a storage error: the store takes writes
    /// again.
    StorageRecovered {
        /// Seconds since the error.
        seconds: f64,
        /// Probes that failed before this one.
        failed_probes: u64,
        /// Segments the error had left open, closed by recovery now.
        recovered_segments: u64,
    },
}

/// How the wall clock changed (`detail.change`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ClockChange {
    /// It jumped against the monotonic clock by more than a second.
    Jump {
        /// Size of the jump.
        jump_ms: i64,
        /// UTC after the jump.
        utc: String,
    },
    /// Its synchronisation state changed.
    Sync {
        /// Whether it is synchronised now.
        synchronised: bool,
    },
    /// A dock sent its trusted time.
    Dock {
        /// The dock's time minus ours.
        offset_ms: i64,
        /// Whether the clock was set to it.
        applied: bool,
        /// Why not, when it was not.
        error: Option<String>,
    },
}

/// An audit record whose event or detail this firmware does not know how to read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventError {
    /// The event name is not one of [`AuditEvent::NAMES`] (a newer firmware's event).
    #[error("unknown audit event {0:?}")]
    Unknown(String),
    /// The event is known but its detail does not have its fields.
    #[error("audit event {event:?}: detail does not match its definition: {reason}")]
    BadDetail {
        /// The event name.
        event: String,
        /// What is wrong.
        reason: String,
    },
}

impl AuditEvent {
    /// Every event name, in the order of the enum.
    pub const NAMES: [&'static str; 34] = [
        "boot",
        "unclean_shutdown",
        "shutdown",
        "key_created",
        "recovery",
        "torn_tail_removed",
        "recording_start",
        "recording_stop",
        "marker",
        "stealth",
        "clock",
        "storage_low",
        "storage_full",
        "pipeline_fault",
        "pipeline_start",
        "head_issued",
        "offload_ack",
        "segment_freed",
        "docked",
        "undocked",
        "trigger",
        "mute",
        "sleep",
        "battery_low",
        "power_off",
        "peer_announced",
        "peer_rejected",
        "peer_link",
        "location_link",
        "officer_assigned",
        "encryption",
        "request_refused",
        "storage_error",
        "storage_recovered",
    ];

    /// The `event` field.
    pub fn name(&self) -> &'static str {
        match self {
            AuditEvent::Boot { .. } => "boot",
            AuditEvent::UncleanShutdown { .. } => "unclean_shutdown",
            AuditEvent::Shutdown {} => "shutdown",
            AuditEvent::KeyCreated { .. } => "key_created",
            AuditEvent::Recovery { .. } => "recovery",
            AuditEvent::TornTailRemoved { .. } => "torn_tail_removed",
            AuditEvent::RecordingStart { .. } => "recording_start",
            AuditEvent::RecordingStop { .. } => "recording_stop",
            AuditEvent::Marker { .. } => "marker",
            AuditEvent::Stealth { .. } => "stealth",
            AuditEvent::Clock(_) => "clock",
            AuditEvent::StorageLow { .. } => "storage_low",
            AuditEvent::StorageFull { .. } => "storage_full",
            AuditEvent::PipelineFault { .. } => "pipeline_fault",
            AuditEvent::PipelineStart { .. } => "pipeline_start",
            AuditEvent::HeadIssued { .. } => "head_issued",
            AuditEvent::OffloadAck { .. } => "offload_ack",
            AuditEvent::SegmentFreed { .. } => "segment_freed",
            AuditEvent::Docked { .. } => "docked",
            AuditEvent::Undocked { .. } => "undocked",
            AuditEvent::Trigger { .. } => "trigger",
            AuditEvent::Mute { .. } => "mute",
            AuditEvent::Sleep { .. } => "sleep",
            AuditEvent::BatteryLow { .. } => "battery_low",
            AuditEvent::PowerOff { .. } => "power_off",
            AuditEvent::PeerAnnounced { .. } => "peer_announced",
            AuditEvent::PeerRejected { .. } => "peer_rejected",
            AuditEvent::PeerLink { .. } => "peer_link",
            AuditEvent::LocationLink { .. } => "location_link",
            AuditEvent::OfficerAssigned { .. } => "officer_assigned",
            AuditEvent::Encryption { .. } => "encryption",
            AuditEvent::RequestRefused { .. } => "request_refused",
            AuditEvent::StorageError { .. } => "storage_error",
            AuditEvent::StorageRecovered { .. } => "storage_recovered",
        }
    }

    /// The `detail` field: a JSON object with sorted keys.
    pub fn detail_json(&self) -> String {
        // Through a `Value`: its maps keep keys sorted, whatever the field order above.
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut m)) => m
                .remove("detail")
                .unwrap_or_else(|| serde_json::Value::Object(Default::default()))
                .to_string(),
            // Every variant serialises to {"event", "detail"}; nothing else can occur.
            Ok(_) | Err(_) => "{}".to_string(),
        }
    }

    /// Read an audit record's `event` and `detail`.
    pub fn parse(event: &str, detail: &str) -> Result<AuditEvent, EventError> {
        if !AuditEvent::NAMES.contains(&event) {
            return Err(EventError::Unknown(event.to_string()));
        }
        let bad = |reason: String| EventError::BadDetail {
            event: event.to_string(),
            reason,
        };
        let detail: serde_json::Value =
            serde_json::from_str(detail).map_err(|e| bad(format!("not JSON: {e}")))?;
        let tagged = serde_json::json!({ "event": event, "detail": detail });
        serde_json::from_value(tagged).map_err(|e| bad(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of_each() -> Vec<AuditEvent> {
        let s = |x: &str| x.to_string();
        vec![
            AuditEvent::Boot {
                firmware: s("0.1.0"),
                config_sha256: s("ab"),
                device_id: s("00"),
                media_chain_count: 7,
                clock_synchronised: true,
            },
            AuditEvent::UncleanShutdown { last_event: None },
            AuditEvent::Shutdown {},
            AuditEvent::KeyCreated { device_id: s("00") },
            AuditEvent::Recovery {
                recording_id: s("r"),
                segment: 2,
                tail_bytes: 10,
                tail_seconds: 0.5,
                journal_torn_bytes: 0,
            },
            AuditEvent::TornTailRemoved {
                file: s("audit.log"),
                bytes: 3,
            },
            AuditEvent::RecordingStart {
                recording_id: s("r"),
                trigger: s("ctl"),
                pre_event_seconds: 0.0,
                pre_event_audio: false,
                officer: Some(s("PC-4711")),
            },
            AuditEvent::RecordingStop {
                recording_id: s("r"),
                trigger: s("ctl"),
                seconds: 4.0,
                segments: 2,
                during: Some(s("recording")),
            },
            AuditEvent::Marker {
                recording_id: s("r"),
                trigger: s("ctl"),
                utc: s("2026-01-01T00:00:00.000Z"),
            },
            AuditEvent::Stealth { on: true },
            AuditEvent::Clock(ClockChange::Dock {
                offset_ms: -5,
                applied: false,
                error: Some(s("off")),
            }),
            AuditEvent::StorageLow {
                low: true,
                hours_left: None,
            },
            AuditEvent::StorageFull {
                available_bytes: 1,
                used_bytes: 2,
            },
            AuditEvent::PipelineFault {
                generation: 1,
                reason: s("x"),
            },
            AuditEvent::PipelineStart { generation: 1 },
            AuditEvent::HeadIssued {
                nonce: s("42"),
                media_count: 1,
                audit_count: 2,
            },
            AuditEvent::OffloadAck {
                recording_id: s("r"),
                segment: 1,
                blob: s("b"),
                sha256: s("00"),
            },
            AuditEvent::SegmentFreed {
                recording_id: s("r"),
                segment: 1,
                bytes: 5,
            },
            AuditEvent::Docked { state: s("ready") },
            AuditEvent::Undocked { state: s("docked") },
            AuditEvent::Trigger {
                trigger: s("input:holster"),
                state: s("ready"),
                outcome: s("start"),
            },
            AuditEvent::Mute {
                on: true,
                recording_id: Some(s("r")),
                utc: s("2026-01-01T00:00:00.000Z"),
            },
            AuditEvent::Sleep {
                on: true,
                by: s("gesture:quad"),
            },
            AuditEvent::BatteryLow {
                low: true,
                percent: Some(15),
                minutes_left: Some(19.5),
            },
            AuditEvent::PowerOff {
                reason: s("battery_critical"),
                percent: Some(1),
                minutes_left: Some(4.0),
                command: s("systemctl poweroff"),
            },
            AuditEvent::PeerAnnounced {
                recording_id: s("r"),
                origin: s("00"),
                hops: 0,
            },
            AuditEvent::PeerRejected {
                reason: s("replay"),
                count: 3,
                sender: None,
            },
            AuditEvent::PeerLink {
                up: true,
                detail: s("udp"),
            },
            AuditEvent::LocationLink {
                connected: false,
                error: Some(s("refused")),
            },
            AuditEvent::OfficerAssigned {
                officer: Some(s("PC-4711")),
                previous: None,
                dock: Some(s("dock-1")),
                recording_open: None,
            },
            AuditEvent::Encryption {
                mode: s("required"),
                key_ids: vec![s("00")],
                reason: s("boot"),
                error: None,
            },
            AuditEvent::RequestRefused {
                request: s("start"),
                reason: s("docked"),
                trigger: s("gesture:double"),
                state: s("docked"),
            },
            AuditEvent::StorageError {
                error: s("No space left on device"),
                no_space: true,
                state: s("recording"),
                utc: s("2026-01-01T00:00:00.000Z"),
            },
            AuditEvent::StorageRecovered {
                seconds: 3.5,
                failed_probes: 2,
                recovered_segments: 0,
            },
        ]
    }

    #[test]
    fn every_event_round_trips_under_its_own_name() {
        let events = one_of_each();
        let names: Vec<&str> = events.iter().map(AuditEvent::name).collect();
        assert_eq!(
            names,
            AuditEvent::NAMES,
            "NAMES must list every variant in order"
        );
        for e in events {
            let detail = e.detail_json();
            assert!(detail.starts_with('{'), "{detail}");
            assert_eq!(AuditEvent::parse(e.name(), &detail), Ok(e));
        }
    }

    #[test]
    fn details_are_written_with_sorted_keys_as_before() {
        // The bytes the daemon wrote before the events were typed (serde_json::json!).
        let e = AuditEvent::Boot {
            firmware: "test".into(),
            config_sha256: "00".into(),
            device_id: "ab".into(),
            media_chain_count: 0,
            clock_synchronised: true,
        };
        assert_eq!(
            e.detail_json(),
            r#"{"clock_synchronised":true,"config_sha256":"00","device_id":"ab","firmware":"test","media_chain_count":0}"#
        );
        let c = AuditEvent::Clock(ClockChange::Sync {
            synchronised: false,
        });
        assert_eq!(c.detail_json(), r#"{"change":"sync","synchronised":false}"#);
        assert_eq!(AuditEvent::Shutdown {}.detail_json(), "{}");
        let stop = AuditEvent::RecordingStop {
            recording_id: "r".into(),
            trigger: "ctl".into(),
            seconds: 4.0,
            segments: 2,
            during: None,
        };
        assert_eq!(
            stop.detail_json(),
            r#"{"recording_id":"r","seconds":4.0,"segments":2,"trigger":"ctl"}"#
        );
    }

    #[test]
    fn unknown_events_and_bad_details_are_told_apart() {
        assert_eq!(
            AuditEvent::parse("teleported", "{}"),
            Err(EventError::Unknown("teleported".into()))
        );
        for bad in ["{}", "[]", "not json", r#"{"on":"yes"}"#] {
            assert!(
                matches!(
                    AuditEvent::parse("stealth", bad),
                    Err(EventError::BadDetail { .. })
                ),
                "{bad}"
            );
        }
        // Infinite hours are written as null and read back as none.
        let low = AuditEvent::parse("storage_low", r#"{"hours_left":null,"low":false}"#);
        assert_eq!(
            low,
            Ok(AuditEvent::StorageLow {
                low: false,
                hours_left: None
            })
        );
    }
}
