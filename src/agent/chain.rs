//! Media-chain continuity across offloads: every journal's records must be signed by the
//! enrolled key and link to each other, and each segment's first record must link to
//! the last record before it: the previous segment's, or the ledger's anchor (the last
//! record this dock offloaded for the device). A gap (segments removed from the camera)
//! or a fork shows up as a first record that does not link.

use crate::evidence::payload::decode_file;

/// The first and last media-chain record of one journal.
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

/// Where the chain stands: a record's counter and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tip {
    /// Counter.
    pub counter: u64,
    /// SHA-256 of the record.
    pub hash: [u8; 32],
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

/// Read a journal: every record decodes, is signed by `public_key`, and links to the
/// one before it. `Err` says what is wrong.
pub fn journal_span(data: &[u8], public_key: &[u8; 32]) -> Result<Span, String> {
    let (records, err) = decode_file(data);
    if let Some((pos, e)) = err {
        return Err(format!("journal is not whole: byte {pos}: {e}"));
    }
    let mut span: Option<Span> = None;
    for (i, r) in records.iter().enumerate() {
        if !r.raw.verify(public_key) {
            return Err(format!(
                "journal record {i} (counter {}) is not signed by the enrolled key",
                r.header.counter
            ));
        }
        let hash = r.raw.hash();
        span = Some(match span {
            None => Span {
                first_counter: r.header.counter,
                first_prev: r.header.prev_hash,
                last_counter: r.header.counter,
                last_hash: hash,
            },
            Some(s) => {
                if r.header.counter != s.last_counter + 1 || r.header.prev_hash != s.last_hash {
                    return Err(format!(
                        "journal record {i} (counter {}) does not link to record {}",
                        r.header.counter, s.last_counter
                    ));
                }
                Span {
                    last_counter: r.header.counter,
                    last_hash: hash,
                    ..s
                }
            }
        });
    }
    span.ok_or_else(|| "journal holds no records".to_string())
}

/// Whether `span` continues the chain from `tip` (`None`: no earlier record known, so
/// any start is accepted except that counter 0 must have a zero `prev_hash`).
pub fn continues(tip: Option<Tip>, span: &Span) -> Result<(), String> {
    match tip {
        Some(t) => {
            if span.first_counter != t.counter + 1 {
                let missing = span.first_counter.saturating_sub(t.counter + 1);
                return Err(if span.first_counter > t.counter + 1 {
                    format!(
                        "MISSING: {missing} media record(s) between counter {} and {} are not on the camera",
                        t.counter, span.first_counter
                    )
                } else {
                    format!(
                        "first record has counter {} but the chain already reached {} (replayed or forked)",
                        span.first_counter, t.counter
                    )
                });
            }
            if span.first_prev != t.hash {
                return Err(format!(
                    "record {} does not link to record {} (fork or altered history)",
                    span.first_counter, t.counter
                ));
            }
            Ok(())
        }
        None if span.first_counter == 0 && span.first_prev != [0; 32] => {
            Err("record 0 has a non-zero previous hash".into())
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::identity::Identity;
    use crate::evidence::payload::{Checkpoint, Payload};
    use crate::evidence::{ChainHead, FixedTime, Signer};

    fn signer() -> Signer {
        let rng = ring::rand::SystemRandom::new();
        let pk8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        signer_at(pk8.as_ref(), ChainHead::default())
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

    #[test]
    fn spans_link_and_gaps_forks_and_foreign_records_are_named() {
        let mut s = signer();
        let key = key_of(&s);
        let a: Vec<u8> = (0..3).flat_map(|_| s.sign_media(&checkpoint())).collect();
        let b: Vec<u8> = (0..2).flat_map(|_| s.sign_media(&checkpoint())).collect();
        let c: Vec<u8> = s.sign_media(&checkpoint());
        let d: Vec<u8> = s.sign_media(&checkpoint());
        let sa = journal_span(&a, &key).unwrap();
        let sb = journal_span(&b, &key).unwrap();
        let sd = journal_span(&d, &key).unwrap();
        assert_eq!((sa.first_counter, sa.last_counter), (0, 2));
        continues(None, &sa).unwrap();
        continues(Some(sa.tip()), &sb).unwrap();
        // c is skipped: d does not continue b.
        let e = continues(Some(sb.tip()), &sd).unwrap_err();
        assert!(e.starts_with("MISSING: 1 media record"), "{e}");
        // Replaying b after b.
        assert!(continues(Some(sb.tip()), &sb).is_err());
        // A wrong hash at the right counter.
        let fake = Tip {
            counter: sb.last_counter,
            hash: [7; 32],
        };
        let sc = journal_span(&c, &key).unwrap();
        assert!(continues(Some(fake), &sc).unwrap_err().contains("fork"));
        continues(Some(sb.tip()), &sc).unwrap();
        // Another key.
        let other = key_of(&signer());
        assert!(journal_span(&a, &other).unwrap_err().contains("not signed"));
        // A torn journal and an internal gap.
        assert!(journal_span(&a[..a.len() - 3], &key).is_err());
        let mut gap = a.clone();
        gap.extend_from_slice(&d);
        assert!(
            journal_span(&gap, &key)
                .unwrap_err()
                .contains("does not link")
        );
        assert!(journal_span(&[], &key).is_err());
    }

    /// The dock agent prints these in its summary and quarantine reasons: they are
    /// pinned word for word.
    #[test]
    fn chain_messages_are_exact() {
        let rng = ring::rand::SystemRandom::new();
        let pk8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let mut s = signer_at(pk8.as_ref(), ChainHead::default());
        let key = key_of(&s);
        let a: Vec<u8> = (0..3).flat_map(|_| s.sign_media(&checkpoint())).collect();
        let b: Vec<u8> = (0..2).flat_map(|_| s.sign_media(&checkpoint())).collect();
        let _c = s.sign_media(&checkpoint());
        let d = s.sign_media(&checkpoint());
        let sa = journal_span(&a, &key).unwrap();
        let sb = journal_span(&b, &key).unwrap();
        let sd = journal_span(&d, &key).unwrap();
        let err = |data: &[u8]| journal_span(data, &key).unwrap_err();
        let first_len = a.len() / 3;

        // Within one journal.
        assert_eq!(err(&[]), "journal holds no records");
        assert_eq!(
            err(&a[..a.len() - 3]),
            format!(
                "journal is not whole: byte {}: record truncated: {first_len} bytes needed, {} available",
                2 * first_len,
                first_len - 3
            )
        );
        assert_eq!(
            journal_span(&a, &key_of(&signer())).unwrap_err(),
            "journal record 0 (counter 0) is not signed by the enrolled key"
        );
        let gap = [&a[..], &d[..]].concat();
        assert_eq!(
            err(&gap),
            "journal record 3 (counter 6) does not link to record 2"
        );
        let replay = [&a[..], &a[2 * first_len..]].concat();
        assert_eq!(
            err(&replay),
            "journal record 3 (counter 2) does not link to record 2"
        );
        // The right counter but another previous hash (a fork).
        let mut fork = signer_at(
            pk8.as_ref(),
            ChainHead {
                count: 3,
                hash: [9; 32],
            },
        );
        let forked = [&a[..], &fork.sign_media(&checkpoint())[..]].concat();
        assert_eq!(
            err(&forked),
            "journal record 3 (counter 3) does not link to record 2"
        );

        // From the ledger's anchor.
        assert_eq!(
            continues(Some(sb.tip()), &sd).unwrap_err(),
            "MISSING: 1 media record(s) between counter 4 and 6 are not on the camera"
        );
        assert_eq!(
            continues(Some(sb.tip()), &sa).unwrap_err(),
            "first record has counter 0 but the chain already reached 4 (replayed or forked)"
        );
        assert_eq!(
            continues(Some(sb.tip()), &sb).unwrap_err(),
            "first record has counter 3 but the chain already reached 4 (replayed or forked)"
        );
        let fake = Tip {
            counter: 2,
            hash: [7; 32],
        };
        assert_eq!(
            continues(Some(fake), &sb).unwrap_err(),
            "record 3 does not link to record 2 (fork or altered history)"
        );
        let bad_origin = Span {
            first_prev: [1; 32],
            ..sa
        };
        assert_eq!(
            continues(None, &bad_origin).unwrap_err(),
            "record 0 has a non-zero previous hash"
        );
        // Without an anchor any start is accepted but a bad origin.
        continues(None, &sd).unwrap();
        continues(None, &sa).unwrap();
        continues(Some(sa.tip()), &sb).unwrap();
    }
}
