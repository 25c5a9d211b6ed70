//! Peer-assisted recording between real daemons, in a network namespace the test
//! creates (multicast on its private loopback): one start brings the others in; replays,
//! forgeries, stale announcements, another agency's camera and garbage are ignored,
//! counted and audited; no storm when all start at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bodycam::evidence::events::AuditEvent;
use bodycam::evidence::identity::{Identity, PublicIdentity};
use bodycam::peer::PeerTransport;
use bodycam::peer::udp::UdpMulticast;
use bodycam::peer::wire::{self, Announcement};
use bodycam::recorder::PeerId;
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;
use serde_json::Value;

use crate::common::netns::NetNs;
use crate::common::*;

const GROUP: &str = "239.255.66.77:47913";
const METRO: &str = "metro-pd";

/// Cameras in one namespace, each with its identity.
struct Fleet {
    cams: Vec<Daemon>,
    ids: Vec<PeerId>,
    /// Last: the namespace outlives the daemons in it.
    ns: NetNs,
}

/// The `[peers]` section for `agency` with the list at `enrolled`.
fn peers_section(agency: &str, enrolled: &std::path::Path, hop_limit: u8) -> String {
    format!(
        "[peers]\nenabled = true\ninterface = \"lo\"\ngroup = \"{GROUP}\"\nagency = \"{agency}\"\nenrolled = \"{}\"\nhop_limit = {hop_limit}\nmax_age_seconds = 30\n",
        enrolled.display()
    )
}

impl Fleet {
    /// Start one camera per entry of `agencies`; cameras of one agency enrol each other.
    fn start(agencies: &[&str]) -> Fleet {
        Fleet::start_with(agencies, 1)
    }

    /// [`Fleet::start`] with `peers.hop_limit = hop_limit`.
    fn start_with(agencies: &[&str], hop_limit: u8) -> Fleet {
        let ns = NetNs::new();
        let mut cams: Vec<Daemon> = agencies.iter().map(|_| Daemon::new("")).collect();
        let mut ids = Vec::new();
        let mut publics: Vec<PublicIdentity> = Vec::new();
        for d in &cams {
            let (id, _) = Identity::load_or_create(&d.data.join("keys"), false).expect("key");
            ids.push(PeerId(id.device_id()));
            publics.push(id.public());
        }
        for (i, d) in cams.iter_mut().enumerate() {
            let agency = agencies[i];
            let peers: Vec<&PublicIdentity> = publics
                .iter()
                .zip(agencies)
                .filter(|(_, a)| **a == agency)
                .map(|(p, _)| p)
                .collect();
            let list = d.dir.path().join("peers.json");
            let file =
                serde_json::json!({"format": "bodycam-peers/1", "agency": agency, "peers": peers});
            std::fs::write(&list, file.to_string()).unwrap();
            std::fs::write(
                &d.config,
                base_config(&d.data, &peers_section(agency, &list, hop_limit)),
            )
            .unwrap();
            d.netns = Some(ns.name.clone());
            d.spawn();
        }
        for d in &cams {
            d.wait_state("ready", Duration::from_secs(30));
            d.wait_for("peer link up", Duration::from_secs(10), |s| {
                s["peers"]["link"] == true
            });
        }
        Fleet { ns, cams, ids }
    }
}

/// Datagrams heard, with when.
type Heard = Arc<Mutex<Vec<(Instant, Vec<u8>)>>>;

/// A socket of the test's own on the group, recording every datagram it hears.
struct Listener {
    transport: Arc<UdpMulticast>,
    heard: Heard,
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Listener {
    fn join(ns: &NetNs) -> Listener {
        let group = GROUP.parse().unwrap();
        let transport = Arc::new(ns.within(move || UdpMulticast::open("lo", group).expect("join")));
        let heard: Heard = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, h, st) = (transport.clone(), heard.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while !st.load(Ordering::SeqCst) {
                match t.recv(&mut buf, Duration::from_millis(200)) {
                    Ok(Some(n)) => h.lock().unwrap().push((Instant::now(), buf[..n].to_vec())),
                    Ok(None) => {}
                    Err(_) => return,
                }
            }
        });
        Listener {
            transport,
            heard,
            stop,
        }
    }

    /// The announcements heard so far (what decodes).
    fn announcements(&self) -> Vec<(Vec<u8>, Announcement)> {
        self.heard
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, d)| wire::decode(d).ok().map(|u| (d.clone(), u.announcement)))
            .collect()
    }

    fn send(&self, datagram: &[u8]) {
        self.transport.send(datagram).expect("send");
    }
}

fn recording_info(d: &Daemon) -> Value {
    let rec = d.recordings().pop().expect("a recording");
    serde_json::from_str(&std::fs::read_to_string(rec.join("recording.json")).unwrap()).unwrap()
}

/// The signed time of a camera's first `recording_start`.
fn started_at(d: &Daemon) -> i64 {
    audit_timed(&d.audit_log())
        .into_iter()
        .find(|(_, e)| matches!(e, AuditEvent::RecordingStart { .. }))
        .map(|(t, _)| t)
        .expect("recording_start in the audit log")
}

fn stop_all(f: &Fleet) {
    for c in &f.cams {
        if c.status().is_some_and(|s| s["state"] == "recording") {
            c.ctl_ok(&["record", "stop"]);
        }
        c.wait_state("ready", Duration::from_secs(10));
    }
}

fn key() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[test]
fn one_start_brings_the_other_two_cameras_in_within_a_second() {
    let f = Fleet::start(&[METRO, METRO, METRO]);
    let heard = Listener::join(&f.ns);
    f.cams[0].ctl_ok(&["record", "start"]);
    for c in &f.cams[1..] {
        c.wait_state("recording", Duration::from_secs(5));
    }
    let origin = started_at(&f.cams[0]);
    for c in &f.cams[1..] {
        assert_eq!(
            recording_info(c)["trigger"],
            format!("peer:{}", f.ids[0]),
            "{}",
            c.log_text()
        );
        let lag = started_at(c) - origin;
        assert!(
            (0..1000).contains(&lag),
            "followed {lag} ms after the first camera"
        );
        let events = audit_events(&c.audit_log());
        assert!(events.iter().any(|e| matches!(e,
            AuditEvent::Trigger { trigger, outcome, .. }
                if *trigger == format!("peer:{}", f.ids[0]) && outcome == "start")));
    }
    // The first camera's start went out in three copies, signed, from hop 0; the
    // followers do not relay (hop limit 1).
    std::thread::sleep(Duration::from_millis(800));
    let a = heard.announcements();
    assert_eq!(a.len(), 3, "{a:?}");
    assert!(
        a.iter()
            .all(|(_, x)| x.device == f.ids[0] && x.origin == f.ids[0] && x.hops == 0)
    );
    let counters: Vec<u64> = a.iter().map(|(_, x)| x.counter).collect();
    assert_eq!(counters, vec![1, 2, 3]);
    let first = &f.cams[0];
    assert!(
        audit_events(&first.audit_log())
            .iter()
            .any(|e| matches!(e, AuditEvent::PeerAnnounced { hops: 0, .. }))
    );
    stop_all(&f);
    // Stopping is never contagious: each camera stops only by its own officer.
    assert_eq!(first.status().unwrap()["peers"]["sent"], 3);
}

#[test]
fn no_storm_when_all_three_start_at_once() {
    let f = Fleet::start(&[METRO, METRO, METRO]);
    let heard = Listener::join(&f.ns);
    std::thread::scope(|s| {
        for c in &f.cams {
            // A peer's announcement may have started it first: then the start is
            // refused as already recording, and that is all right.
            s.spawn(move || {
                let out = c.ctl(&["--json", "record", "start"]);
                if !out.status.success() {
                    let answer: serde_json::Value =
                        serde_json::from_slice(&out.stdout).expect("ctl --json answer");
                    assert_eq!(answer["refused"], "already_recording", "{answer}");
                }
            });
        }
    });
    for c in &f.cams {
        c.wait_state("recording", Duration::from_secs(5));
    }
    std::thread::sleep(Duration::from_secs(3));
    let a = heard.announcements();
    // Each camera announces its own start at most once (three copies); a camera that
    // was started by a peer first announces nothing (hop limit 1).
    assert!((3..=9).contains(&a.len()), "{} datagrams: {a:?}", a.len());
    assert!(a.iter().all(|(_, x)| x.hops == 0 && x.origin == x.device));
    for c in &f.cams {
        assert_eq!(c.recordings().len(), 1, "{}", c.log_text());
        assert_eq!(c.status().unwrap()["state"], "recording");
    }
    stop_all(&f);
}

#[test]
fn replays_forgeries_stale_announcements_foreign_cameras_and_garbage_are_ignored() {
    // A and B of one agency; C of another, whose start B must not follow.
    let f = Fleet::start(&[METRO, METRO, "county-so"]);
    let (a, b, c) = (&f.cams[0], &f.cams[1], &f.cams[2]);
    let heard = Listener::join(&f.ns);
    a.ctl_ok(&["record", "start"]);
    b.wait_state("recording", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(800));
    let (captured, original) = heard.announcements().remove(0);
    assert_eq!(original.device, f.ids[0]);
    assert_eq!(
        c.status().unwrap()["state"],
        "ready",
        "another agency's camera followed"
    );
    stop_all(&f);

    // Another agency's camera records: B stays.
    c.ctl_ok(&["record", "start"]);
    c.wait_state("recording", Duration::from_secs(5));
    // A replay of A's real announcement.
    heard.send(&captured);
    // A forgery: A's device id, a key that is not A's.
    let forged = Announcement {
        session: [7; 16],
        counter: 1,
        utc_ms: now_ms(),
        origin_recording: "forged".into(),
        ..original.clone()
    };
    heard.send(&wire::sign(&forged, &key()));
    // A stale one, really signed by A's key, from ten minutes ago.
    let a_key = Identity::load(&a.data.join("keys")).unwrap();
    let stale = Announcement {
        session: [8; 16],
        counter: 1,
        utc_ms: now_ms() - 600_000,
        origin_recording: "stale".into(),
        ..original.clone()
    };
    heard.send(&wire::sign(&stale, a_key.key()));
    // Garbage, and one datagram over the size limit.
    for i in 0..200u32 {
        heard.send(&i.to_be_bytes().repeat(7));
    }
    heard.send(&vec![0x42; 1000]);
    std::thread::sleep(Duration::from_secs(2));

    let s = b.status().expect("B still answers");
    assert_eq!(s["state"], "ready", "{}", b.log_text());
    assert_eq!(
        b.recordings().len(),
        1,
        "only the recording A really started"
    );
    let rejected = &s["peers"]["rejected"];
    for (reason, at_least) in [
        ("replay", 1),
        ("bad_signature", 1),
        ("stale", 1),
        ("foreign_agency", 3),
        ("malformed", 200),
        ("oversized", 1),
    ] {
        assert!(
            rejected[reason].as_u64() >= Some(at_least),
            "{reason}: {rejected}"
        );
    }
    // Audited, at a bounded rate: one entry per reason so far, not one per datagram.
    let audited: Vec<String> = audit_events(&b.audit_log())
        .into_iter()
        .filter_map(|e| match e {
            AuditEvent::PeerRejected { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    for reason in [
        "replay",
        "bad_signature",
        "stale",
        "foreign_agency",
        "malformed",
        "oversized",
    ] {
        let n = audited.iter().filter(|r| *r == reason).count();
        assert_eq!(n, 1, "{reason}: {audited:?}");
    }
    // And the link still works for real announcements.
    c.ctl_ok(&["record", "stop"]);
    a.ctl_ok(&["record", "start"]);
    b.wait_state("recording", Duration::from_secs(5));
    assert_eq!(b.recordings().len(), 2);
    stop_all(&f);
}

/// With `hop_limit = 2` the followers relay. One multicast loopback cannot build a
/// topology where the relay matters (every camera hears every datagram), so this
/// asserts what it can: each follower relays A's start once (three copies) at hops 1
/// with A kept as the origin and A's recording id; nobody relays a relay (hops 1 is
/// at the limit); each follower counts the other's relays and A's resent copies as
/// duplicates and starts once; nine datagrams in all.
#[test]
fn with_hop_limit_two_followers_relay_once_keeping_the_origin() {
    let f = Fleet::start_with(&[METRO, METRO, METRO], 2);
    let heard = Listener::join(&f.ns);
    f.cams[0].ctl_ok(&["record", "start"]);
    for c in &f.cams[1..] {
        c.wait_state("recording", Duration::from_secs(5));
    }
    std::thread::sleep(Duration::from_secs(2));
    let a = heard.announcements();
    assert_eq!(a.len(), 9, "{a:?}");
    let a_rec = f.cams[0].recordings()[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    for (i, c) in f.cams.iter().enumerate() {
        let sent: Vec<&Announcement> = a
            .iter()
            .map(|(_, x)| x)
            .filter(|x| x.device == f.ids[i])
            .collect();
        assert_eq!(sent.len(), 3, "camera {i}: {sent:?}");
        for x in sent {
            assert_eq!(x.origin, f.ids[0], "camera {i}: {x:?}");
            assert_eq!(x.origin_recording, a_rec, "camera {i}: {x:?}");
            assert_eq!(x.hops, u8::from(i > 0), "camera {i}: {x:?}");
        }
        assert_eq!(c.recordings().len(), 1, "{}", c.log_text());
        if i > 0 {
            let s = c.status().unwrap();
            assert_eq!(s["peers"]["accepted"], 1, "{s}");
            // A's two resent copies and the other follower's three relays.
            assert_eq!(s["peers"]["duplicates"], 5, "{s}");
            assert!(audit_events(&c.audit_log()).iter().any(|e| matches!(e,
                AuditEvent::PeerAnnounced { hops: 1, origin, .. } if *origin == f.ids[0].to_string())));
        }
    }
    stop_all(&f);
}
