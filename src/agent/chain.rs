//! Ledger anchoring: each segment's first record must link to the last record before
//! it: the previous segment's, or the ledger's anchor (the last record this dock
//! offloaded for the device). A gap (segments removed from the camera) or a fork shows
//! up as a first record that does not link.
//!
//! Reading a journal and the linking rule itself are the verifier's
//! ([`crate::evidence::verify::journal`], [`crate::evidence::verify::chain`]); this
//! module applies the rule from the anchor and names the break for the dock's summary
//! and quarantine reasons.

pub use crate::evidence::verify::chain::Tip;
use crate::evidence::verify::chain::{Break, follows};
pub use crate::evidence::verify::journal::Span;

/// Why a journal does not continue the chain from the anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// Records between the anchor and the journal are missing.
    #[error(
        "MISSING: {count} media record(s) between counter {before} and {first} are not on the camera"
    )]
    Gap {
        /// How many.
        count: u64,
        /// The last record before the gap.
        before: u64,
        /// The journal's first record.
        first: u64,
    },
    /// The journal starts at or before what the chain already reached.
    #[error(
        "first record has counter {first} but the chain already reached {reached} (replayed or forked)"
    )]
    Behind {
        /// The journal's first record.
        first: u64,
        /// The newest record already seen.
        reached: u64,
    },
    /// The next counter, but not linked to the record before it.
    #[error("record {first} does not link to record {before} (fork or altered history)")]
    Fork {
        /// The journal's first record.
        first: u64,
        /// The record it should link to.
        before: u64,
    },
    /// Record 0 does not start from the zero hash.
    #[error("record 0 has a non-zero previous hash")]
    BadOrigin,
}

/// Whether `span` continues the chain from `tip` (`None`: no earlier record known, so
/// any start is accepted except that counter 0 must have a zero `prev_hash`).
pub fn continues(tip: Option<Tip>, span: &Span) -> Result<(), ChainBreak> {
    let first = span.first_counter;
    follows(tip, first, &span.first_prev).map_err(|b| match b {
        Break::Gap { from, to } => ChainBreak::Gap {
            count: to - from + 1,
            before: from - 1,
            first,
        },
        Break::Behind { reached } => ChainBreak::Behind { first, reached },
        // The counter is the next one, so the record before is `first - 1`.
        Break::Fork => ChainBreak::Fork {
            first,
            before: first - 1,
        },
        Break::BadOrigin => ChainBreak::BadOrigin,
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
            continues(Some(sb.tip()), &sd).unwrap_err().to_string(),
            "MISSING: 1 media record(s) between counter 4 and 6 are not on the camera"
        );
        assert_eq!(
            continues(Some(sb.tip()), &sa).unwrap_err().to_string(),
            "first record has counter 0 but the chain already reached 4 (replayed or forked)"
        );
        assert_eq!(
            continues(Some(sb.tip()), &sb).unwrap_err().to_string(),
            "first record has counter 3 but the chain already reached 4 (replayed or forked)"
        );
        let fake = Tip {
            counter: 2,
            hash: [7; 32],
        };
        assert_eq!(
            continues(Some(fake), &sb).unwrap_err().to_string(),
            "record 3 does not link to record 2 (fork or altered history)"
        );
        let bad_origin = Span {
            first_prev: [1; 32],
            ..sa
        };
        assert_eq!(
            continues(None, &bad_origin).unwrap_err().to_string(),
            "record 0 has a non-zero previous hash"
        );
        // Without an anchor any start is accepted but a bad origin.
        continues(None, &sd).unwrap();
    }
}
