//! Chains: the rule by which a record links to the one signed before it ([`follows`]),
//! and the analysis of a whole chain (media or audit): duplicates, gaps, broken links,
//! order, and the counter → hash index the head checks use. The dock agent applies the
//! same rule within a journal ([`super::journal`]) and from its ledger's anchor to a journal's
//! first record.

use std::collections::BTreeMap;

use serde::Serialize;

use super::report::{Check, Finding, SegmentRef, SegmentReport, Status};
use crate::evidence::payload::Record;

/// Where a chain stands: a record's counter and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tip {
    /// Counter.
    pub counter: u64,
    /// SHA-256 of the record.
    pub hash: [u8; 32],
}

/// Why a record does not follow the record signed before it (see [`follows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// Counters `from..=to` are absent between the two.
    Gap {
        /// First absent counter.
        from: u64,
        /// Last absent counter.
        to: u64,
    },
    /// The counter is not past the one before: a replayed copy or a fork.
    Behind {
        /// The counter the chain had already reached.
        reached: u64,
    },
    /// The next counter, but `prev_hash` is not the hash of the record before: a fork
    /// or altered history.
    Fork,
    /// Counter 0 with a non-zero `prev_hash`.
    BadOrigin,
}

/// Counters absent between a record with counter `before` and one with `counter`.
fn absent(before: u64, counter: u64) -> Option<(u64, u64)> {
    (counter > before + 1).then(|| (before + 1, counter - 1))
}

/// The linking rule: a record with `counter` and `prev` (its `prev_hash`) follows
/// `before`, the record signed just before it. With no record before it known
/// (`None`) any start is accepted, except that counter 0 must have a zero `prev_hash`.
pub fn follows(before: Option<Tip>, counter: u64, prev: &[u8; 32]) -> Result<(), Break> {
    match before {
        Some(t) => {
            if let Some((from, to)) = absent(t.counter, counter) {
                return Err(Break::Gap { from, to });
            }
            if counter <= t.counter {
                return Err(Break::Behind { reached: t.counter });
            }
            if *prev != t.hash {
                return Err(Break::Fork);
            }
            Ok(())
        }
        None if counter == 0 && *prev != [0; 32] => Err(Break::BadOrigin),
        None => Ok(()),
    }
}

/// One verified record's place in a chain, and where it is.
#[derive(Debug, Clone)]
pub(super) struct Link<L> {
    pub(super) counter: u64,
    pub(super) prev: [u8; 32],
    pub(super) hash: [u8; 32],
    pub(super) at: L,
}

impl<L> Link<L> {
    /// The link of `rec`, found at `at`.
    pub(super) fn of(rec: &Record, at: L) -> Link<L> {
        Link {
            counter: rec.header.counter,
            prev: rec.header.prev_hash,
            hash: rec.raw.hash(),
            at,
        }
    }

    /// The chain's position at this record.
    pub(super) fn tip(&self) -> Tip {
        Tip {
            counter: self.counter,
            hash: self.hash,
        }
    }
}

/// Something wrong with a chain's counters or links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainProblem<L> {
    /// Counters `from..=to` are absent (MISSING), between the neighbouring records found.
    Gap {
        /// First absent counter.
        from: u64,
        /// Last absent counter.
        to: u64,
        /// The record before the gap, if any.
        after: Option<L>,
        /// The record after the gap, if any (none: the newest records are absent).
        before: Option<L>,
    },
    /// Several records carry one counter: a replayed copy (`identical`) or a fork (TAMPERED).
    DuplicateCounter {
        /// The counter.
        counter: u64,
        /// Whether all copies are byte-for-byte the same record.
        identical: bool,
        /// Where they are.
        at: Vec<L>,
    },
    /// `prev_hash` is not the hash of the previous record (TAMPERED).
    BrokenLink {
        /// Counter of the record whose link is wrong.
        counter: u64,
        /// Where it is.
        at: L,
    },
    /// A record sits before one it was signed after (REORDERED).
    OutOfOrder {
        /// Counter of the misplaced record.
        counter: u64,
        /// Where it is.
        at: L,
        /// A record with a lower counter found after it.
        after: L,
    },
}

pub(super) fn describe_problem<L>(p: &ChainProblem<L>, name: &dyn Fn(&L) -> String) -> String {
    match p {
        ChainProblem::Gap {
            from,
            to,
            after,
            before,
        } => {
            let after = after.as_ref().map_or("the start".to_string(), name);
            let before = before
                .as_ref()
                .map_or("the end (newest records absent)".to_string(), name);
            format!("MISSING records {from}..={to} between {after} and {before}")
        }
        ChainProblem::DuplicateCounter {
            counter,
            identical,
            at,
        } => {
            let places: Vec<String> = at.iter().map(name).collect();
            let what = if *identical {
                "a replayed copy"
            } else {
                "different records (fork)"
            };
            format!(
                "TAMPERED: counter {counter} appears {} times ({what}) at {}",
                at.len(),
                places.join(", ")
            )
        }
        ChainProblem::BrokenLink { counter, at } => format!(
            "TAMPERED: record {counter} at {} does not link to record {}",
            name(at),
            counter.saturating_sub(1)
        ),
        ChainProblem::OutOfOrder { counter, at, after } => format!(
            "REORDERED: record {counter} at {} comes after {} in the store but was signed before it",
            name(at),
            name(after)
        ),
    }
}

/// Counter → record hashes, for head checks.
#[derive(Debug, Default)]
pub(super) struct ChainIndex {
    pub(super) hashes: BTreeMap<u64, Vec<[u8; 32]>>,
    pub(super) first: Option<u64>,
    pub(super) last: Option<u64>,
}

impl ChainIndex {
    pub(super) fn of<L>(links: &[Link<L>]) -> ChainIndex {
        let mut hashes: BTreeMap<u64, Vec<[u8; 32]>> = BTreeMap::new();
        for l in links {
            hashes.entry(l.counter).or_default().push(l.hash);
        }
        ChainIndex {
            first: hashes.keys().next().copied(),
            last: hashes.keys().next_back().copied(),
            hashes,
        }
    }

    /// Whether the record `counter` with hash `hash` is present, and if not, why.
    pub(super) fn find(&self, counter: u64, hash: &[u8; 32]) -> Result<(), (Status, String)> {
        match self.hashes.get(&counter) {
            Some(h) if h.contains(hash) => Ok(()),
            Some(_) => Err((
                Status::Tampered,
                format!("record {counter} in the store is not the one signed into the head"),
            )),
            None => match self.last {
                Some(last) if counter > last => Err((
                    Status::Missing,
                    format!(
                        "the store ends at record {last} but records up to {counter} existed: the newest are missing"
                    ),
                )),
                Some(_) => Err((
                    Status::Missing,
                    format!("record {counter} is not in the store"),
                )),
                None => Err((
                    Status::Missing,
                    format!("the store holds no record but records up to {counter} existed"),
                )),
            },
        }
    }
}

/// Duplicates, gaps and broken links of a chain. Records are grouped by counter; each
/// must follow (see [`follows`]) one of the records of the counter before it.
pub(super) fn analyse_chain<L: Clone>(
    links: &[Link<L>],
    must_start_at_zero: bool,
) -> Vec<ChainProblem<L>> {
    let mut by_counter: BTreeMap<u64, Vec<&Link<L>>> = BTreeMap::new();
    for l in links {
        by_counter.entry(l.counter).or_default().push(l);
    }
    let mut out = Vec::new();
    let mut prev: Option<(u64, &Vec<&Link<L>>)> = None;
    for (&counter, group) in &by_counter {
        let Some(first) = group.first() else {
            continue;
        };
        if group.len() > 1 {
            out.push(ChainProblem::DuplicateCounter {
                counter,
                identical: group.iter().all(|l| l.hash == first.hash),
                at: group.iter().map(|l| l.at.clone()).collect(),
            });
        }
        let gap = match prev {
            None if must_start_at_zero && counter > 0 => Some((0, counter - 1)),
            None => None,
            Some((p, _)) => absent(p, counter),
        };
        if let Some((from, to)) = gap {
            out.push(ChainProblem::Gap {
                from,
                to,
                after: prev.and_then(|(_, pg)| pg.last()).map(|l| l.at.clone()),
                before: Some(first.at.clone()),
            });
        } else {
            let linked = |l: &Link<L>| match prev {
                None => follows(None, counter, &l.prev).is_ok(),
                Some((_, pg)) => pg
                    .iter()
                    .any(|q| follows(Some(q.tip()), counter, &l.prev).is_ok()),
            };
            for l in group.iter().filter(|l| !linked(l)) {
                out.push(ChainProblem::BrokenLink {
                    counter,
                    at: l.at.clone(),
                });
            }
        }
        prev = Some((counter, group));
    }
    out
}

/// Records must sit in signing order: within a group (a recording; the audit log),
/// positions must grow with the counter. Counters held by several records are left
/// to the duplicate check.
pub(super) fn out_of_order<L: Clone, G: Ord + Clone, P: Ord + Copy>(
    links: &[Link<L>],
    position: impl Fn(&L) -> (G, P),
) -> Vec<ChainProblem<L>> {
    let mut count: BTreeMap<u64, usize> = BTreeMap::new();
    for l in links {
        *count.entry(l.counter).or_default() += 1;
    }
    let mut sorted: Vec<&Link<L>> = links
        .iter()
        .filter(|l| count.get(&l.counter) == Some(&1))
        .collect();
    sorted.sort_by_key(|l| l.counter);
    let mut furthest: BTreeMap<G, (P, &Link<L>)> = BTreeMap::new();
    let mut out = Vec::new();
    let mut reported: Vec<G> = Vec::new();
    for l in sorted {
        let (group, pos) = position(&l.at);
        match furthest.get(&group) {
            Some((best, by)) if pos < *best => {
                if !reported.contains(&group) {
                    reported.push(group.clone());
                    out.push(ChainProblem::OutOfOrder {
                        counter: l.counter,
                        at: l.at.clone(),
                        after: by.at.clone(),
                    });
                }
            }
            Some(_) | None => {
                furthest.insert(group, (pos, l));
            }
        }
    }
    out
}

/// Put chain problems that concern one segment into that segment's findings.
pub(super) fn mark_chain_findings(
    problems: &[ChainProblem<SegmentRef>],
    segments: &mut [SegmentReport],
) {
    let mut add = |at: &SegmentRef, f: Finding| {
        if let Some(s) = segments
            .iter_mut()
            .find(|s| s.recording_id == at.recording_id && s.segment == at.segment)
        {
            s.findings.push(f);
            s.status = Status::of(&s.findings);
        }
    };
    for p in problems {
        match p {
            ChainProblem::BrokenLink { counter, at } => add(
                at,
                Finding::new(
                    Status::Tampered,
                    Check::Chain,
                    format!("record {counter} does not link to the record signed before it"),
                ),
            ),
            ChainProblem::OutOfOrder { counter, at, after } => add(
                at,
                Finding::new(
                    Status::Reordered,
                    Check::Chain,
                    format!(
                        "record {counter} was signed before {}/{:06} but sits after it",
                        after.recording_id, after.segment
                    ),
                ),
            ),
            ChainProblem::Gap { .. } | ChainProblem::DuplicateCounter { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(counter: u64, prev: [u8; 32], hash: u8, at: usize) -> Link<usize> {
        Link {
            counter,
            prev,
            hash: [hash; 32],
            at,
        }
    }

    #[test]
    fn chain_analysis_finds_gaps_duplicates_and_broken_links() {
        let z = [0u8; 32];
        let good = vec![
            link(0, z, 1, 0),
            link(1, [1; 32], 2, 1),
            link(2, [2; 32], 3, 2),
        ];
        assert!(analyse_chain(&good, true).is_empty());
        // Not starting at 0 only matters for a whole store.
        assert!(analyse_chain(&good[1..], false).is_empty());
        assert_eq!(
            analyse_chain(&good[1..], true),
            vec![ChainProblem::Gap {
                from: 0,
                to: 0,
                after: None,
                before: Some(1)
            }]
        );
        let gap = vec![good[0].clone(), good[2].clone()];
        assert_eq!(
            analyse_chain(&gap, true),
            vec![ChainProblem::Gap {
                from: 1,
                to: 1,
                after: Some(0),
                before: Some(2)
            }]
        );
        let mut dup = good.clone();
        dup.push(link(1, [1; 32], 2, 9));
        assert_eq!(
            analyse_chain(&dup, true),
            vec![ChainProblem::DuplicateCounter {
                counter: 1,
                identical: true,
                at: vec![1, 9]
            }]
        );
        let mut broken = good.clone();
        broken[2].prev = [7; 32];
        assert_eq!(
            analyse_chain(&broken, true),
            vec![ChainProblem::BrokenLink { counter: 2, at: 2 }]
        );
        let mut swapped = good;
        swapped[0].at = 5;
        let p = out_of_order(&swapped, |a: &usize| ((), *a));
        assert_eq!(
            p,
            vec![ChainProblem::OutOfOrder {
                counter: 1,
                at: 1,
                after: 5
            }]
        );
    }

    #[test]
    fn follows_is_the_linking_rule() {
        let tip = Tip {
            counter: 4,
            hash: [4; 32],
        };
        assert_eq!(follows(Some(tip), 5, &[4; 32]), Ok(()));
        assert_eq!(
            follows(Some(tip), 7, &[4; 32]),
            Err(Break::Gap { from: 5, to: 6 })
        );
        assert_eq!(
            follows(Some(tip), 4, &[3; 32]),
            Err(Break::Behind { reached: 4 })
        );
        assert_eq!(
            follows(Some(tip), 0, &[0; 32]),
            Err(Break::Behind { reached: 4 })
        );
        assert_eq!(follows(Some(tip), 5, &[9; 32]), Err(Break::Fork));
        assert_eq!(follows(None, 0, &[0; 32]), Ok(()));
        assert_eq!(follows(None, 0, &[1; 32]), Err(Break::BadOrigin));
        assert_eq!(follows(None, 9, &[1; 32]), Ok(()));
    }
}
