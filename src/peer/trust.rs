//! Which announcements a camera acts on: the enrolled peer list (`bodycam-peers/1`), and
//! the [`Checker`] that accepts an announcement only when it is well formed, from this
//! agency, from an enrolled camera, signed by that camera's key, fresh, new (not a
//! replay) and within the hop limit. Rejections are counted, and summarised for the
//! audit log at a bounded rate by [`RejectLog`]. Pure: the caller passes the time.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::wire::{self, Announcement, WireError};
use crate::evidence::identity::{PublicIdentity, device_id_for};
use crate::recorder::PeerId;

/// Format tag of the enrolled peer list.
pub const PEERS_FORMAT: &str = "bodycam-peers/1";
/// Sessions remembered per peer (a peer restarts its daemon with a new session).
pub const SESSIONS_PER_PEER: usize = 4;
/// Activations remembered, so that the copies of one are acted on once.
pub const SEEN_ACTIVATIONS: usize = 64;
/// At most one audit entry per rejection reason this often.
pub const AUDIT_INTERVAL: Duration = Duration::from_secs(60);

/// The enrolled peer list an agency gives its cameras (`peers.enrolled`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeersFile {
    /// Always [`PEERS_FORMAT`].
    pub format: String,
    /// The agency the cameras belong to.
    pub agency: String,
    /// Their identities (`bodycam identity --json` of each).
    pub peers: Vec<PublicIdentity>,
}

/// What is wrong with a peers file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PeersFileError(pub String);

/// The enrolled cameras: device id → public key.
#[derive(Debug, Clone, Default)]
pub struct Enrolled {
    /// The agency of the list.
    pub agency: String,
    keys: HashMap<PeerId, [u8; 32]>,
}

impl Enrolled {
    /// Read and check a peers file: its format, its agency (must be `agency`), and that
    /// every device id is the hash of its key.
    pub fn load(path: &Path, agency: &str) -> Result<Enrolled, PeersFileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PeersFileError(format!("cannot read {}: {e}", path.display())))?;
        let file: PeersFile = serde_json::from_str(&text)
            .map_err(|e| PeersFileError(format!("{}: {e}", path.display())))?;
        Enrolled::from_file(&file, agency)
            .map_err(|e| PeersFileError(format!("{}: {}", path.display(), e.0)))
    }

    /// Check a parsed peers file.
    pub fn from_file(file: &PeersFile, agency: &str) -> Result<Enrolled, PeersFileError> {
        if file.format != PEERS_FORMAT {
            return Err(PeersFileError(format!(
                "format is {:?}, not {PEERS_FORMAT}",
                file.format
            )));
        }
        if file.agency != agency {
            return Err(PeersFileError(format!(
                "the list is for agency {:?}, this camera's is {agency:?}",
                file.agency
            )));
        }
        let mut keys = HashMap::new();
        for p in &file.peers {
            let key = p
                .public_key_bytes()
                .ok_or_else(|| PeersFileError(format!("peer {}: bad public key", p.device_id)))?;
            let id = device_id_for(&key);
            if hex::encode(id) != p.device_id {
                return Err(PeersFileError(format!(
                    "peer {}: device id is not the hash of its key",
                    p.device_id
                )));
            }
            keys.insert(PeerId(id), key);
        }
        Ok(Enrolled {
            agency: agency.to_string(),
            keys,
        })
    }

    /// Number of enrolled cameras.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether none is enrolled.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Why an announcement was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reject {
    /// Not a `bodycam-peer/1` announcement.
    Malformed,
    /// Longer than the format allows.
    Oversized,
    /// From a camera of another agency.
    ForeignAgency,
    /// From a camera that is not on the enrolled list.
    UnknownPeer,
    /// Its signature does not verify under the enrolled key: a forgery.
    BadSignature,
    /// Its time is more than `peers.max_age_seconds` from ours.
    Stale,
    /// Its session and counter were seen already: a replay.
    Replay,
    /// It has travelled `peers.hop_limit` hops already.
    HopLimit,
}

impl Reject {
    /// Its name in the status and the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Reject::Malformed => "malformed",
            Reject::Oversized => "oversized",
            Reject::ForeignAgency => "foreign_agency",
            Reject::UnknownPeer => "unknown_peer",
            Reject::BadSignature => "bad_signature",
            Reject::Stale => "stale",
            Reject::Replay => "replay",
            Reject::HopLimit => "hop_limit",
        }
    }
}

/// What to do with a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Act on it.
    Accept(Announcement),
    /// Valid, but an activation already acted on (a resent copy, or a relay of it).
    Duplicate,
    /// This camera's own announcement (multicast loops back), or its own activation relayed back.
    Own,
    /// Drop it; `sender` when the datagram named one.
    Reject {
        /// Why.
        reason: Reject,
        /// The device it claims to come from.
        sender: Option<PeerId>,
    },
}

/// Per-peer replay state: the newest counter of each recent session.
#[derive(Debug, Clone, Default)]
struct Sessions(VecDeque<([u8; 16], u64)>);

impl Sessions {
    /// Accept `counter` of `session` if it is newer than any seen of that session.
    fn admit(&mut self, session: [u8; 16], counter: u64) -> bool {
        if let Some(i) = self.0.iter().position(|(s, _)| *s == session) {
            if counter <= self.0[i].1 {
                return false;
            }
            self.0.remove(i);
        } else if self.0.len() >= SESSIONS_PER_PEER {
            self.0.pop_front();
        }
        self.0.push_back((session, counter));
        true
    }
}

/// Decides on each datagram.
#[derive(Debug, Clone)]
pub struct Checker {
    own: PeerId,
    enrolled: Enrolled,
    max_age_ms: i64,
    hop_limit: u8,
    sessions: HashMap<PeerId, Sessions>,
    seen: VecDeque<(PeerId, String)>,
}

impl Checker {
    /// A checker for camera `own` of `enrolled.agency`.
    pub fn new(own: PeerId, enrolled: Enrolled, max_age: Duration, hop_limit: u8) -> Checker {
        Checker {
            own,
            enrolled,
            max_age_ms: i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX),
            hop_limit,
            sessions: HashMap::new(),
            seen: VecDeque::new(),
        }
    }

    /// The checks, cheapest first; the signature only for an enrolled sender, the replay
    /// state only after the signature (so that no forgery can touch it).
    pub fn check(&mut self, datagram: &[u8], now_utc_ms: i64) -> Verdict {
        let reject = |reason, sender| Verdict::Reject { reason, sender };
        let u = match wire::decode(datagram) {
            Ok(u) => u,
            Err(WireError::Oversized) => return reject(Reject::Oversized, None),
            Err(WireError::Malformed) => return reject(Reject::Malformed, None),
        };
        let a = &u.announcement;
        let sender = Some(a.device);
        if a.device == self.own {
            return Verdict::Own;
        }
        if a.agency != self.enrolled.agency {
            return reject(Reject::ForeignAgency, sender);
        }
        let Some(key) = self.enrolled.keys.get(&a.device) else {
            return reject(Reject::UnknownPeer, sender);
        };
        if !u.verify(key) {
            return reject(Reject::BadSignature, sender);
        }
        if now_utc_ms.saturating_sub(a.utc_ms).abs() > self.max_age_ms {
            return reject(Reject::Stale, sender);
        }
        if !self
            .sessions
            .entry(a.device)
            .or_default()
            .admit(a.session, a.counter)
        {
            return reject(Reject::Replay, sender);
        }
        if a.hops >= self.hop_limit {
            return reject(Reject::HopLimit, sender);
        }
        if a.origin == self.own {
            return Verdict::Own;
        }
        let activation = (a.origin, a.origin_recording.clone());
        if self.seen.contains(&activation) {
            return Verdict::Duplicate;
        }
        if self.seen.len() >= SEEN_ACTIVATIONS {
            self.seen.pop_front();
        }
        self.seen.push_back(activation);
        Verdict::Accept(u.announcement)
    }
}

/// One audit entry about rejected announcements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectSummary {
    /// Why they were dropped.
    pub reason: Reject,
    /// How many since the previous entry for this reason.
    pub count: u64,
    /// The device the newest one claimed to come from.
    pub sender: Option<PeerId>,
}

/// Per reason: dropped since the last entry, the newest sender, when last audited.
#[derive(Debug, Clone, Default)]
struct Pending {
    count: u64,
    sender: Option<PeerId>,
    audited: Option<Instant>,
}

/// Audits rejections at most once per [`AUDIT_INTERVAL`] per reason: the first at once,
/// later ones summed into the next entry.
#[derive(Debug, Clone, Default)]
pub struct RejectLog {
    pending: BTreeMap<Reject, Pending>,
}

impl RejectLog {
    /// Count one rejection; returns an entry to audit now, if one is due.
    pub fn record(
        &mut self,
        reason: Reject,
        sender: Option<PeerId>,
        now: Instant,
    ) -> Option<RejectSummary> {
        let p = self.pending.entry(reason).or_default();
        p.count += 1;
        if sender.is_some() {
            p.sender = sender;
        }
        let due = p
            .audited
            .is_none_or(|t| now.saturating_duration_since(t) >= AUDIT_INTERVAL);
        due.then(|| Self::take(reason, p, now))
    }

    /// Entries due at `now` for reasons that have waiting counts.
    pub fn flush(&mut self, now: Instant) -> Vec<RejectSummary> {
        self.pending
            .iter_mut()
            .filter(|(_, p)| {
                p.count > 0
                    && p.audited
                        .is_none_or(|t| now.saturating_duration_since(t) >= AUDIT_INTERVAL)
            })
            .map(|(r, p)| Self::take(*r, p, now))
            .collect()
    }

    fn take(reason: Reject, p: &mut Pending, now: Instant) -> RejectSummary {
        p.audited = Some(now);
        RejectSummary {
            reason,
            count: std::mem::take(&mut p.count),
            sender: p.sender.take(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::wire::sign;
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    struct Cam {
        key: Ed25519KeyPair,
        id: PeerId,
    }

    fn cam() -> Cam {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let id = PeerId(device_id_for(key.public_key().as_ref()));
        Cam { key, id }
    }

    fn file(agency: &str, cams: &[&Cam]) -> PeersFile {
        PeersFile {
            format: PEERS_FORMAT.into(),
            agency: agency.into(),
            peers: cams
                .iter()
                .map(|c| PublicIdentity {
                    format: "bodycam-identity/1".into(),
                    device_id: c.id.to_string(),
                    public_key: hex::encode(c.key.public_key().as_ref()),
                    algorithm: "ed25519".into(),
                })
                .collect(),
        }
    }

    const NOW: i64 = 1_764_000_000_000;

    fn announce(c: &Cam, counter: u64, utc_ms: i64, agency: &str) -> Vec<u8> {
        sign(
            &Announcement {
                device: c.id,
                session: [9; 16],
                counter,
                utc_ms,
                hops: 0,
                origin: c.id,
                origin_recording: format!("rec-{counter}"),
                agency: agency.into(),
            },
            &c.key,
        )
    }

    fn rejected(v: &Verdict) -> Option<Reject> {
        match v {
            Verdict::Reject { reason, .. } => Some(*reason),
            Verdict::Accept(_) | Verdict::Duplicate | Verdict::Own => None,
        }
    }

    #[test]
    fn the_peers_file_is_checked() {
        let (a, b) = (cam(), cam());
        let f = file("metro", &[&a, &b]);
        assert_eq!(Enrolled::from_file(&f, "metro").unwrap().len(), 2);
        assert!(Enrolled::from_file(&f, "county").is_err());
        let mut wrong = f.clone();
        wrong.peers[0].device_id = b.id.to_string();
        assert!(Enrolled::from_file(&wrong, "metro").is_err());
        let mut fmt = f;
        fmt.format = "other/1".into();
        assert!(Enrolled::from_file(&fmt, "metro").is_err());
    }

    #[test]
    fn only_a_fresh_new_signed_announcement_of_an_enrolled_peer_is_accepted() {
        let (me, peer, stranger, other_agency) = (cam(), cam(), cam(), cam());
        let enrolled = Enrolled::from_file(&file("metro", &[&me, &peer]), "metro").unwrap();
        let mut c = Checker::new(me.id, enrolled, Duration::from_secs(30), 2);
        let good = announce(&peer, 1, NOW, "metro");
        assert!(matches!(c.check(&good, NOW + 500), Verdict::Accept(_)));
        // The same datagram again: a replay.
        assert_eq!(rejected(&c.check(&good, NOW + 600)), Some(Reject::Replay));
        // A newer copy of the same activation: acted on once.
        let copy = sign(
            &Announcement {
                counter: 2,
                origin_recording: "rec-1".into(),
                ..wire::decode(&good).unwrap().announcement
            },
            &peer.key,
        );
        assert_eq!(c.check(&copy, NOW + 700), Verdict::Duplicate);
        // Stale, in the past and in the future.
        assert_eq!(
            rejected(&c.check(&announce(&peer, 3, NOW - 31_000, "metro"), NOW)),
            Some(Reject::Stale)
        );
        assert_eq!(
            rejected(&c.check(&announce(&peer, 4, NOW + 31_000, "metro"), NOW)),
            Some(Reject::Stale)
        );
        // Signed by someone else's key under the peer's id: a forgery.
        let mut forged = announce(&stranger, 5, NOW, "metro");
        forged[6..22].copy_from_slice(&peer.id.0);
        assert_eq!(rejected(&c.check(&forged, NOW)), Some(Reject::BadSignature));
        // Not enrolled; another agency; garbage.
        assert_eq!(
            rejected(&c.check(&announce(&stranger, 1, NOW, "metro"), NOW)),
            Some(Reject::UnknownPeer)
        );
        assert_eq!(
            rejected(&c.check(&announce(&other_agency, 1, NOW, "county"), NOW)),
            Some(Reject::ForeignAgency)
        );
        assert_eq!(rejected(&c.check(b"hello", NOW)), Some(Reject::Malformed));
        assert_eq!(
            rejected(&c.check(&[0u8; 600], NOW)),
            Some(Reject::Oversized)
        );
        // Our own, looped back.
        assert_eq!(c.check(&announce(&me, 1, NOW, "metro"), NOW), Verdict::Own);
        // A forgery never advanced the peer's replay state: the next real one passes.
        assert!(matches!(
            c.check(&announce(&peer, 6, NOW, "metro"), NOW),
            Verdict::Accept(_)
        ));
    }

    #[test]
    fn hops_stop_at_the_limit_and_relays_of_our_own_start_are_ours() {
        let (me, peer) = (cam(), cam());
        let enrolled = Enrolled::from_file(&file("metro", &[&me, &peer]), "metro").unwrap();
        let mut c = Checker::new(me.id, enrolled, Duration::from_secs(30), 2);
        let relay = |counter, hops, origin| {
            sign(
                &Announcement {
                    device: peer.id,
                    session: [1; 16],
                    counter,
                    utc_ms: NOW,
                    hops,
                    origin,
                    origin_recording: format!("r{counter}"),
                    agency: "metro".into(),
                },
                &peer.key,
            )
        };
        assert!(matches!(
            c.check(&relay(1, 1, PeerId([5; 16])), NOW),
            Verdict::Accept(_)
        ));
        assert_eq!(
            rejected(&c.check(&relay(2, 2, PeerId([5; 16])), NOW)),
            Some(Reject::HopLimit)
        );
        assert_eq!(c.check(&relay(3, 1, me.id), NOW), Verdict::Own);
    }

    #[test]
    fn rejections_are_audited_at_most_once_a_minute_per_reason() {
        let t0 = Instant::now();
        let mut log = RejectLog::default();
        let sender = Some(PeerId([1; 16]));
        let first = log
            .record(Reject::Replay, sender, t0)
            .expect("the first at once");
        assert_eq!(first.count, 1);
        for i in 1..1000 {
            assert!(
                log.record(Reject::Replay, sender, t0 + Duration::from_millis(i))
                    .is_none()
            );
        }
        // Another reason has its own budget.
        assert!(log.record(Reject::Stale, None, t0).is_some());
        assert!(log.flush(t0 + Duration::from_secs(30)).is_empty());
        let later = log.flush(t0 + AUDIT_INTERVAL);
        assert_eq!(later.len(), 1);
        assert_eq!(
            (later[0].reason, later[0].count, later[0].sender),
            (Reject::Replay, 999, sender)
        );
        assert!(
            log.flush(t0 + 3 * AUDIT_INTERVAL).is_empty(),
            "nothing waiting"
        );
    }
}
