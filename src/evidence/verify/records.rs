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
    /// Not signed by the key; the record names another device.
    Foreign([u8; DEVICE_ID_LEN]),
    /// Not signed by the key although it names the key's device: altered.
    Altered,
}

pub(super) fn trust(key: &Key, rec: &Record) -> Trust {
    if rec.raw.verify(&key.public) {
        Trust::Verified
    } else if rec.header.device_id != key.device_id {
        Trust::Foreign(rec.header.device_id)
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
}

pub(super) fn parse_records(data: &[u8], what: &str) -> Parsed {
    let (raws, err) = record::parse_all(data);
    let mut out = Parsed {
        records: Vec::with_capacity(raws.len()),
        total: raws.len(),
        findings: Vec::new(),
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
            Trust::Foreign(id) => {
                self.foreign.push(counter);
                let id = hex::encode(id);
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
                    "{} of {total} {what} record(s) were not signed by this key (device {}; key's device {}); counters {}",
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
                    "{} of {total} {what} record(s) were altered after signing (signature does not verify); claimed counters {}",
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
