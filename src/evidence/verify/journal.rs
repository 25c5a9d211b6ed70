//! One journal read on its own: an unbroken run of records, each signed by the key and
//! following the one before it (the linking rule of [`super::chain`]). The dock agent
//! checks every journal it offloads this way before linking it to its ledger.

use super::chain::{Link, Tip, follows};
use crate::evidence::payload::decode_file;
use crate::evidence::record::DecodeError;

/// The first and last record of one journal that is an unbroken run of linked records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Counter of the first record.
    pub first_counter: u64,
    /// `prev_hash` of the first record.
    pub first_prev: [u8; 32],
    /// Counter of the last record.
    pub last_counter: u64,
    /// SHA-256 of the last record.
    pub last_hash: [u8; 32],
}

impl Span {
    /// The chain's position after this journal.
    pub fn tip(&self) -> Tip {
        Tip {
            counter: self.last_counter,
            hash: self.last_hash,
        }
    }
}

/// Why a journal is not an unbroken run of records signed by the key (the dock agent's
/// enrolled key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// A record cannot be decoded, or the journal ends inside one.
    #[error("journal is not whole: byte {pos}: {source}")]
    NotWhole {
        /// Offset of the record.
        pos: usize,
        /// What is wrong with it.
        source: DecodeError,
    },
    /// A record's signature does not verify under the key.
    #[error("journal record {index} (counter {counter}) is not signed by the enrolled key")]
    NotSigned {
        /// Index of the record in the journal.
        index: usize,
        /// The counter it claims.
        counter: u64,
    },
    /// A record does not follow the one before it in the journal.
    #[error("journal record {index} (counter {counter}) does not link to record {after}")]
    Unlinked {
        /// Index of the record in the journal.
        index: usize,
        /// Its counter.
        counter: u64,
        /// Counter of the record before it.
        after: u64,
    },
    /// The journal is empty.
    #[error("journal holds no records")]
    Empty,
    /// The journal file cannot be read.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// Path.
        path: std::path::PathBuf,
        /// Cause.
        reason: String,
    },
}

/// Read a journal: every record decodes, is signed by `public_key`, and follows the one
/// before it.
pub fn journal_span(data: &[u8], public_key: &[u8; 32]) -> Result<Span, JournalError> {
    let (records, err) = decode_file(data);
    if let Some((pos, source)) = err {
        return Err(JournalError::NotWhole { pos, source });
    }
    let mut span: Option<Span> = None;
    for (index, r) in records.iter().enumerate() {
        let counter = r.header.counter;
        if !r.raw.verify(public_key) {
            return Err(JournalError::NotSigned { index, counter });
        }
        let link = Link::of(r, index);
        span = Some(match span {
            None => Span {
                first_counter: counter,
                first_prev: link.prev,
                last_counter: counter,
                last_hash: link.hash,
            },
            Some(s) => {
                if follows(Some(s.tip()), counter, &link.prev).is_err() {
                    return Err(JournalError::Unlinked {
                        index,
                        counter,
                        after: s.last_counter,
                    });
                }
                Span {
                    last_counter: counter,
                    last_hash: link.hash,
                    ..s
                }
            }
        });
    }
    span.ok_or(JournalError::Empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::identity::Identity;
    use crate::evidence::payload::{Checkpoint, Payload};
    use crate::evidence::{ChainHead, FixedTime, Signer};

    fn new_key() -> Vec<u8> {
        let rng = ring::rand::SystemRandom::new();
        let pk8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        pk8.as_ref().to_vec()
    }

    /// A signer with the key `pk8` whose media chain stands at `media`.
    fn signer_at(pk8: &[u8], media: ChainHead) -> Signer {
        let id = Identity::from_pkcs8(pk8).unwrap();
        Signer::new(
            id,
            Box::new(FixedTime {
                utc_ms: 1_764_000_000_000,
                mono_ns: 1,
            }),
            [0; 16],
            media,
            ChainHead::default(),
        )
    }

    fn checkpoint() -> Payload {
        Payload::Checkpoint(Checkpoint {
            recording_id: "20261125T175328Z".into(),
            segment: 1,
            byte_start: 0,
            byte_end: 0,
            range_sha256: [0; 32],
            pts_first: 0,
            pts_last: 0,
            video_frames: 0,
            audio_frames: 0,
        })
    }

    fn key_of(s: &Signer) -> [u8; 32] {
        s.identity().public_key().try_into().unwrap()
    }

    /// The dock agent prints these messages: they are pinned word for word.
    #[test]
    fn a_journal_is_one_run_of_linked_records_signed_by_the_key() {
        let pk8 = new_key();
        let mut s = signer_at(&pk8, ChainHead::default());
        let key = key_of(&s);
        let a: Vec<u8> = (0..3).flat_map(|_| s.sign_media(&checkpoint())).collect();
        let b: Vec<u8> = (0..2).flat_map(|_| s.sign_media(&checkpoint())).collect();
        let _c = s.sign_media(&checkpoint());
        let d = s.sign_media(&checkpoint());
        let sa = journal_span(&a, &key).unwrap();
        let sb = journal_span(&b, &key).unwrap();
        assert_eq!((sa.first_counter, sa.last_counter), (0, 2));
        assert_eq!(sa.first_prev, [0; 32]);
        assert_eq!((sb.first_counter, sb.last_counter), (3, 4));
        // Each journal's first record follows the last one before it.
        assert_eq!(
            follows(Some(sa.tip()), sb.first_counter, &sb.first_prev),
            Ok(())
        );
        let err = |data: &[u8]| journal_span(data, &key).unwrap_err();
        let text = |data: &[u8]| err(data).to_string();
        let first_len = a.len() / 3;

        assert_eq!(err(&[]), JournalError::Empty);
        assert_eq!(text(&[]), "journal holds no records");
        assert!(matches!(
            err(&a[..a.len() - 3]),
            JournalError::NotWhole { pos, source: DecodeError::Truncated { .. } }
                if pos == 2 * first_len
        ));
        assert_eq!(
            text(&a[..a.len() - 3]),
            format!(
                "journal is not whole: byte {}: record truncated: {first_len} bytes needed, {} available",
                2 * first_len,
                first_len - 3
            )
        );
        let other = key_of(&signer_at(&new_key(), ChainHead::default()));
        let foreign = journal_span(&a, &other).unwrap_err();
        assert_eq!(
            foreign,
            JournalError::NotSigned {
                index: 0,
                counter: 0
            }
        );
        assert_eq!(
            foreign.to_string(),
            "journal record 0 (counter 0) is not signed by the enrolled key"
        );
        let gap = [&a[..], &d[..]].concat();
        assert_eq!(
            err(&gap),
            JournalError::Unlinked {
                index: 3,
                counter: 6,
                after: 2
            }
        );
        assert_eq!(
            text(&gap),
            "journal record 3 (counter 6) does not link to record 2"
        );
        let replay = [&a[..], &a[2 * first_len..]].concat();
        assert_eq!(
            text(&replay),
            "journal record 3 (counter 2) does not link to record 2"
        );
        // The right counter but another previous hash (a fork).
        let mut fork = signer_at(
            &pk8,
            ChainHead {
                count: 3,
                hash: [9; 32],
            },
        );
        let forked = [&a[..], &fork.sign_media(&checkpoint())[..]].concat();
        assert_eq!(
            text(&forked),
            "journal record 3 (counter 3) does not link to record 2"
        );
    }
}
