//! The head statement (`bodycam-head/1`): a signed statement of both chain heads bound
//! to a caller's nonce, as `bodycam ctl head` prints it and the dock API answers it. The
//! one definition the daemon builds, the verifier and the dock agent read, and the tests
//! check (docs/EVIDENCE-FORMAT.md §5).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::evidence::Signer;

/// Format tag of a head statement.
pub const HEAD_FORMAT: &str = "bodycam-head/1";

/// A head statement. Only `record` is signed; the other fields repeat what it holds (or,
/// for `utc`, when it was made) for people reading the JSON, and a verifier checks
/// every one of them against the record.
///
/// Fields are declared in sorted order: the JSON is published byte for byte in the
/// golden vectors (`tests/data/golden/head.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadStatement {
    /// Audit-chain records at the time.
    pub audit_count: u64,
    /// SHA-256 (hex) of the newest audit record.
    pub audit_hash: String,
    /// Device id (hex).
    pub device_id: String,
    /// Always [`HEAD_FORMAT`].
    pub format: String,
    /// Media-chain records at the time.
    pub media_count: u64,
    /// SHA-256 (hex) of the newest media record.
    pub media_hash: String,
    /// The caller's nonce (hex).
    pub nonce: String,
    /// The signed head record (hex).
    pub record: String,
    /// UTC when the statement was made (RFC 3339, milliseconds).
    pub utc: String,
}

impl HeadStatement {
    /// Sign the signer's current heads bound to `nonce`; `utc` is when.
    pub fn sign(signer: &Signer, nonce: &[u8], utc: DateTime<Utc>) -> HeadStatement {
        let record = signer.sign_head(nonce);
        let media = signer.media_head();
        let audit = signer.audit_head();
        HeadStatement {
            audit_count: audit.count,
            audit_hash: hex::encode(audit.hash),
            device_id: hex::encode(signer.identity().device_id()),
            format: HEAD_FORMAT.to_string(),
            media_count: media.count,
            media_hash: hex::encode(media.hash),
            nonce: hex::encode(nonce),
            record: hex::encode(record),
            utc: crate::clock::rfc3339(utc),
        }
    }
}
