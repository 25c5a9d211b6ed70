//! Officer ids and the camera's assignment: who wears the camera from the next recording
//! on. One definition shared by the dock API (`POST /v1/assignment`), the daemon (the
//! assignment file, `recording.json`, sidecars, the audit log) and the dock agent (blob
//! tags, the chain-of-custody report).
//!
//! An officer id is 1 to [`MAX_OFFICER_ID_LEN`] ASCII letters, digits, `.`, `_` or `-`,
//! starting with a letter or a digit. [`UNASSIGNED`] is reserved: it is what the agent
//! writes into blob tags and metadata for footage recorded while the camera had no
//! officer (`officer: null` in the sidecar), so no officer may be called that.

use serde::{Deserialize, Serialize};

/// Longest officer id accepted.
pub const MAX_OFFICER_ID_LEN: usize = 32;

/// The tag and metadata value for footage recorded without an assigned officer.
pub const UNASSIGNED: &str = "unassigned";

/// Format tag of [`Assignment`].
pub const ASSIGNMENT_FORMAT: &str = "bodycam-assignment/1";

/// A valid officer id (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct OfficerId(String);

/// Why a text is not an officer id. The messages name the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfficerIdError {
    /// Nothing given.
    #[error("officer id is empty; use 1 to 32 letters, digits, '.', '_' or '-'")]
    Empty,
    /// Longer than [`MAX_OFFICER_ID_LEN`].
    #[error("officer id {0:?} is {1} characters long; at most 32 are allowed")]
    TooLong(String, usize),
    /// A character outside the set.
    #[error(
        "officer id {id:?}: character {ch:?} at position {pos} is not allowed; use letters, digits, '.', '_' or '-'"
    )]
    BadChar {
        /// The id as given.
        id: String,
        /// The character.
        ch: char,
        /// Its position (1-based, in characters).
        pos: usize,
    },
    /// It starts with `.`, `_` or `-`.
    #[error("officer id {0:?} must start with a letter or a digit")]
    BadStart(String),
    /// The reserved word [`UNASSIGNED`].
    #[error("officer id {0:?} is reserved (it marks footage recorded without an officer)")]
    Reserved(String),
}

impl OfficerId {
    /// Validate `s`.
    pub fn parse(s: &str) -> Result<OfficerId, OfficerIdError> {
        if s.is_empty() {
            return Err(OfficerIdError::Empty);
        }
        for (i, ch) in s.chars().enumerate() {
            if !(ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-')) {
                return Err(OfficerIdError::BadChar {
                    id: s.to_string(),
                    ch,
                    pos: i + 1,
                });
            }
        }
        if s.len() > MAX_OFFICER_ID_LEN {
            return Err(OfficerIdError::TooLong(s.to_string(), s.len()));
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(OfficerIdError::BadStart(s.to_string()));
        }
        if s.eq_ignore_ascii_case(UNASSIGNED) {
            return Err(OfficerIdError::Reserved(s.to_string()));
        }
        Ok(OfficerId(s.to_string()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for OfficerId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OfficerId, D::Error> {
        let s = String::deserialize(d)?;
        OfficerId::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for OfficerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The tag or metadata value for an officer field: the id, or [`UNASSIGNED`].
pub fn officer_label(officer: Option<&str>) -> &str {
    officer.unwrap_or(UNASSIGNED)
}

/// The camera's assignment file (`<storage.path>/assignment.json`, written atomically):
/// the officer the next recording is made for. Not evidence by itself: every change is
/// in the signed audit log (`officer_assigned`), and every recording carries the officer
/// it was made for in `recording.json` and its sidecars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// Always [`ASSIGNMENT_FORMAT`].
    pub format: String,
    /// The officer, or none (unassigned).
    pub officer: Option<OfficerId>,
    /// When the dock assigned it (the camera's clock).
    pub assigned_utc: String,
    /// The dock that sent it, as the dock named itself.
    #[serde(default)]
    pub dock: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn officer_ids_follow_the_documented_set() {
        for ok in ["PC4711", "a", "j.smith", "A_B-c.9", &"x".repeat(32)] {
            assert_eq!(OfficerId::parse(ok).unwrap().as_str(), ok);
        }
        let cases: [(&str, &str); 7] = [
            ("", "empty"),
            (&"x".repeat(33), "at most 32"),
            ("pc 4711", "' ' at position 3"),
            ("../etc", "'/' at position 3"),
            ("-x", "start with a letter"),
            ("Unassigned", "reserved"),
            ("é", "'é' at position 1"),
        ];
        for (bad, says) in cases {
            let e = OfficerId::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        // The JSON form refuses what the parser refuses.
        assert!(serde_json::from_str::<OfficerId>("\"a/b\"").is_err());
        assert_eq!(
            serde_json::from_str::<OfficerId>("\"PC-1\"")
                .unwrap()
                .as_str(),
            "PC-1"
        );
        assert_eq!(officer_label(None), UNASSIGNED);
    }
}
