//! Records: splitting a file into records, checking signatures against the key, and
//! summing up the records that fail.

use super::inputs::Key;
use super::report::{Check, Finding, Status};
use crate::evidence::payload::{self, Record};
use crate::evidence::record::{self, DEVICE_ID_LEN, DecodeError, RawRecord};

/// What a signature check says about a record.
pub(super) enum Trust {
    /// Signed by the key.
    Verified,
    /// Not signed by the key but by another key supplied: that key's device id and
    /// where the key came from.
    Foreign([u8; DEVICE_ID_LEN], String),
    /// Verifies under no key supplied: altered after signing, or signed by a key nobody
    /// named. Whatever device id it claims is not trusted.
    Altered,
}

/// Check `rec` against the key, then against each other key supplied. FOREIGN needs a
/// signature that verifies under another key; the `device_id` a record claims decides
/// nothing, since it is part of what failed to verify.
pub(super) fn trust(key: &Key, rec: &Record) -> Trust {
    if rec.raw.verify(&key.public) {
        Trust::Verified
    } else if let Some(o) = key.others.iter().find(|o| rec.raw.verify(&o.public)) {
        Trust::Foreign(o.device_id, o.from.clone())
    } else {
        Trust::Altered
    }
}

/// A parsed file of records: the decodable ones (with their index and offset) and
/// findings for the rest.
pub(super) struct Parsed {
    pub(super) records: Vec<(usize, u64, Record)>,
    pub(super) total: usize,
    pub(super) findings: Vec<Finding>,
    /// The file ends inside a record that starts at this offset (a torn or cut record);
    /// `findings` holds it as TRUNCATED.
    pub(super) torn_at: Option<u64>,
}

pub(super) fn parse_records(data: &[u8], what: &str) -> Parsed {
    let (raws, err) = record::parse_all(data);
    let mut out = Parsed {
        records: Vec::with_capacity(raws.len()),
        total: raws.len(),
        findings: Vec::new(),
        torn_at: None,
    };
    let mut offset = 0u64;
    for (i, raw) in raws.into_iter().enumerate() {
        let len = raw.bytes.len() as u64;
        match payload::decode(raw) {
            Ok(r) => out.records.push((i, offset, r)),
            Err(e) => out.findings.push(Finding::new(
                Status::Tampered,
                Check::Parse,
                format!("{what} record {i} at byte {offset} cannot be decoded: {e}"),
            )),
        }
        offset += len;
    }
    if let Some((pos, e)) = err {
        let pos = pos as u64;
        let rest = data.len() as u64 - pos;
        if e.is_torn_tail() {
            out.torn_at = Some(pos);
        }
        out.findings.push(match e {
            DecodeError::Truncated { .. } => Finding::new(
                Status::Truncated,
                Check::Parse,
                format!("{what} ends inside a record: {rest} byte(s) from byte {pos} are a torn or cut record"),
            ),
            DecodeError::BadMagic
            | DecodeError::TooLarge(_)
            | DecodeError::Version(_)
            | DecodeError::Kind(_)
            | DecodeError::Clock(_)
            | DecodeError::ShortBody
            | DecodeError::Utf8
            | DecodeError::Trailing(_)
            | DecodeError::Value { .. } => Finding::new(
                Status::Tampered,
                Check::Parse,
                format!("{what}: {rest} byte(s) from byte {pos} are not a record ({e})"),
            ),
        });
    }
    out
}

/// Sort records failing the signature check into one finding per kind of failure.
#[derive(Default)]
pub(super) struct Untrusted {
    foreign: Vec<u64>,
    foreign_ids: Vec<String>,
    altered: Vec<u64>,
}

impl Untrusted {
    pub(super) fn add(&mut self, t: &Trust, counter: u64) {
        match t {
            Trust::Verified => {}
            Trust::Foreign(id, from) => {
                self.foreign.push(counter);
                let id = format!("{} (key from {from})", hex::encode(id));
                if !self.foreign_ids.contains(&id) {
                    self.foreign_ids.push(id);
                }
            }
            Trust::Altered => self.altered.push(counter),
        }
    }

    pub(super) fn findings(self, what: &str, total: usize, key: &Key) -> Vec<Finding> {
        let mut out = Vec::new();
        if !self.foreign.is_empty() {
            out.push(Finding::new(
                Status::Foreign,
                Check::Signature,
                format!(
                    "{} of {total} {what} record(s) were signed by another device's key (device {}; this key's device {}); claimed counters {}",
                    self.foreign.len(),
                    self.foreign_ids.join(", "),
                    hex::encode(key.device_id),
                    counters_text(&self.foreign)
                ),
            ));
        }
        if !self.altered.is_empty() {
            out.push(Finding::new(
                Status::Tampered,
                Check::Signature,
                format!(
                    "{} of {total} {what} record(s) were altered after signing (the signature verifies under no key supplied); claimed counters {}",
                    self.altered.len(),
                    counters_text(&self.altered)
                ),
            ));
        }
        out
    }
}

fn counters_text(c: &[u64]) -> String {
    const SHOWN: usize = 8;
    let mut s: Vec<String> = c.iter().take(SHOWN).map(u64::to_string).collect();
    if c.len() > SHOWN {
        s.push(format!("… ({} more)", c.len() - SHOWN));
    }
    s.join(", ")
}

/// Read one record that must fill `bytes` exactly.
pub(super) fn single_record(bytes: &[u8]) -> Result<Record, DecodeError> {
    let raw: RawRecord = record::parse(bytes)?;
    if raw.bytes.len() != bytes.len() {
        return Err(DecodeError::Trailing(bytes.len() - raw.bytes.len()));
    }
    payload::decode(raw)
}
