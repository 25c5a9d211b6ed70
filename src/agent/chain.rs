//! Ledger anchoring: each segment's first record must link to the last record before
//! it: the previous segment's, or the ledger's anchor (the last record this dock
//! offloaded for the device). A gap (segments removed from the camera) or a fork shows
//! up as a first record that does not link.
//!
//! Reading a journal and the linking rule itself are the verifier's
//! ([`crate::evidence::verify::journal`], [`crate::evidence::verify::chain`]); this
//! module applies the rule from the anchor and words the result for the dock's summary
//! and quarantine reasons.

pub use crate::evidence::verify::chain::Tip;
use crate::evidence::verify::chain::{Break, follows};
use crate::evidence::verify::journal;
pub use crate::evidence::verify::journal::Span;

/// Read a journal: every record decodes, is signed by `public_key`, and links to the
/// one before it. `Err` says what is wrong ([`journal::journal_span`], as text).
pub fn journal_span(data: &[u8], public_key: &[u8; 32]) -> Result<Span, String> {
    journal::journal_span(data, public_key).map_err(|e| e.to_string())
}

/// Whether `span` continues the chain from `tip` (`None`: no earlier record known, so
/// any start is accepted except that counter 0 must have a zero `prev_hash`).
pub fn continues(tip: Option<Tip>, span: &Span) -> Result<(), String> {
    let first = span.first_counter;
    follows(tip, first, &span.first_prev).map_err(|b| match b {
        Break::Gap { from, to } => format!(
            "MISSING: {} media record(s) between counter {} and {first} are not on the camera",
            to - from + 1,
            from - 1
        ),
        Break::Behind { reached } => format!(
            "first record has counter {first} but the chain already reached {reached} (replayed or forked)"
        ),
        // The counter is the next one, so the record before is `first - 1`.
        Break::Fork => format!(
            "record {first} does not link to record {} (fork or altered history)",
            first - 1
        ),
        Break::BadOrigin => "record 0 has a non-zero previous hash".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal of records `first..=last`, each record's hash `[counter + 1; 32]`.
    fn span(first: u64, last: u64) -> Span {
        Span {
            first_counter: first,
            first_prev: if first == 0 {
                [0; 32]
            } else {
                [first as u8; 32]
            },
            last_counter: last,
            last_hash: [last as u8 + 1; 32],
        }
    }

    /// The dock agent prints these in its summary and quarantine reasons: they are
    /// pinned word for word.
    #[test]
    fn continuity_from_the_anchor_names_gaps_replays_and_forks() {
        let (sa, sb, sd) = (span(0, 2), span(3, 4), span(6, 6));
        continues(None, &sa).unwrap();
        continues(Some(sa.tip()), &sb).unwrap();
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
    }

    #[test]
    fn journal_errors_are_the_verifiers_as_text() {
        assert_eq!(
            journal_span(&[], &[0; 32]).unwrap_err(),
            "journal holds no records"
        );
        assert_eq!(
            journal_span(b"BCR1\0\0", &[0; 32]).unwrap_err(),
            "journal is not whole: byte 0: record truncated: 8 bytes needed, 6 available"
        );
    }
}
