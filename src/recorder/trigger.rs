//! The activation types the state machine shares with the config, the daemon and the
//! peer link: what a trigger input is called, what it may do (its policy), which peer
//! camera asked, and why the camera powers off. All `Copy`, so that events and actions
//! stay plain values.

use serde::{Deserialize, Serialize};

/// Longest trigger input name (`[[trigger]] name`).
pub const INPUT_NAME_MAX: usize = 32;

/// What a trigger does when it fires (`[[trigger]] policy`, `[peers] policy`).
///
/// Triggers only ever start or mark: none of them stops a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerPolicy {
    /// Start a recording; nothing more while one is open.
    #[default]
    Start,
    /// Add a marker to the open recording; nothing while none is open (it still
    /// wakes a sleeping camera).
    Mark,
    /// Start a recording, or add a marker to the one that is open.
    StartAndMark,
}

impl TriggerPolicy {
    /// Whether it starts a recording.
    pub fn starts(self) -> bool {
        match self {
            TriggerPolicy::Start | TriggerPolicy::StartAndMark => true,
            TriggerPolicy::Mark => false,
        }
    }

    /// Whether it marks an open recording.
    pub fn marks(self) -> bool {
        match self {
            TriggerPolicy::Mark | TriggerPolicy::StartAndMark => true,
            TriggerPolicy::Start => false,
        }
    }
}

/// The name of a configured trigger input: 1–[`INPUT_NAME_MAX`] bytes of `a-z`, `0-9`,
/// `_` and `-`, held inline so that a [`super::Trigger`] stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InputName {
    len: u8,
    bytes: [u8; INPUT_NAME_MAX],
}

impl InputName {
    /// `name` if it is a valid trigger name.
    pub fn new(name: &str) -> Option<InputName> {
        let valid = !name.is_empty()
            && name.len() <= INPUT_NAME_MAX
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid {
            return None;
        }
        let mut bytes = [0u8; INPUT_NAME_MAX];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Some(InputName {
            len: u8::try_from(name.len()).ok()?,
            bytes,
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Only ever built from validated ASCII in `new`.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl std::fmt::Debug for InputName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl std::fmt::Display for InputName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for InputName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A peer camera, by its device id (the first 16 bytes of SHA-256 of its public key).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub [u8; 16]);

impl std::fmt::Debug for PeerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PeerId({})", hex::encode(self.0))
    }
}

impl std::fmt::Display for PeerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl Serialize for PeerId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

/// A configured trigger input fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputTrigger {
    /// Which one.
    pub name: InputName,
    /// What it may do.
    pub policy: TriggerPolicy,
}

/// A peer camera's announcement was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerTrigger {
    /// The camera that sent it.
    pub device: PeerId,
    /// What it may do (`[peers] policy`).
    pub policy: TriggerPolicy,
}

/// Why the camera powers itself off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerReason {
    /// The battery holds less than `power.critical_minutes` of recording.
    BatteryCritical,
    /// The power-fail input says the supply is going (UPS HAT, supercap).
    PowerFail,
}

impl PowerReason {
    /// Its name in trigger names and the audit log.
    pub fn name(self) -> &'static str {
        match self {
            PowerReason::BatteryCritical => "battery_critical",
            PowerReason::PowerFail => "power_fail",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_names_are_short_lower_case_words() {
        assert_eq!(InputName::new("holster").unwrap().as_str(), "holster");
        assert_eq!(
            InputName::new("light-bar_2").unwrap().to_string(),
            "light-bar_2"
        );
        for bad in ["", "Holster", "light bar", "x".repeat(33).as_str(), "é"] {
            assert!(InputName::new(bad).is_none(), "{bad:?}");
        }
        assert!(InputName::new(&"x".repeat(32)).is_some());
    }

    #[test]
    fn policies_start_and_or_mark() {
        use TriggerPolicy::*;
        assert_eq!((Start.starts(), Start.marks()), (true, false));
        assert_eq!((Mark.starts(), Mark.marks()), (false, true));
        assert_eq!((StartAndMark.starts(), StartAndMark.marks()), (true, true));
    }
}
