//! Activation in the loop: trigger inputs (GPIO or `ctl trigger`) and peers'
//! announcements go to the state machine, each audited with what it did; a start is
//! announced to the peers (or relayed, within the hop limit).

use crossbeam_channel::Sender;
use tracing::{info, warn};

use super::Loop;
use super::recording::trigger_name;
use crate::evidence::events::AuditEvent;
use crate::peer::{Outgoing, PeerInput};
use crate::recorder::{Action, Event, InputTrigger, PeerTrigger, Trigger};

/// What an event's actions did, as the `trigger` audit entry says it.
fn outcome(actions: &[Action]) -> &'static str {
    let mut out = "none";
    for a in actions {
        out = match a {
            Action::OpenRecording(_) => return "start",
            Action::AddMarker(_) => "mark",
            Action::SleepChanged(false) => "wake",
            Action::Refused(_) => "refused",
            Action::StartPipeline
            | Action::StopPipeline
            | Action::ScheduleRetry
            | Action::FinalizeRecording(_)
            | Action::SuspendRecording
            | Action::ResumeRecording
            | Action::EndSuspendedRecording(_)
            | Action::MarkerFlash
            | Action::Haptic(_)
            | Action::StealthChanged(_)
            | Action::OpenDock
            | Action::CloseDock
            | Action::Exit
            | Action::MuteChanged(_)
            | Action::SleepChanged(true)
            | Action::PowerOff(_) => continue,
        };
    }
    out
}

/// The name `peers.announce` knows a trigger by; `None` for what never starts a recording.
fn announce_name(t: Trigger) -> Option<String> {
    match t {
        Trigger::Gesture(_) => Some("gesture".into()),
        Trigger::Ctl => Some("ctl".into()),
        Trigger::Peer(_) => Some("peer".into()),
        Trigger::Input(n) => Some(n.to_string()),
        Trigger::StorageFull | Trigger::Shutdown | Trigger::Power(_) | Trigger::StorageFault => {
            None
        }
    }
}

/// Whether a start by `t` is announced under `peers.announce` (empty: every start).
fn announced(announce: &[String], t: Trigger) -> bool {
    match announce_name(t) {
        Some(name) => announce.is_empty() || announce.contains(&name),
        None => false,
    }
}

impl Loop {
    /// Dispatch an activation event and audit what it did. The entry is written after
    /// the machine has acted, so that its sync is not between the input and the
    /// `recording` state (it then follows the `recording_start` it caused).
    fn activate(&mut self, event: Event, trigger: Trigger) {
        let state = self.machine.state();
        // The machine is pure: a copy tells what the event will do.
        let mut copy = self.machine.clone();
        let preview = copy.step(event);
        let outcome = match outcome(&preview) {
            // Booting, stopping or in a fault: it starts once the camera can.
            "none" if copy.start_pending() && !self.machine.start_pending() => "pending",
            o => o,
        };
        info!(trigger = %trigger_name(trigger), state = state.name(), outcome, "trigger");
        self.officer.cause = Some(trigger_name(trigger));
        self.dispatch(event);
        self.officer.cause = None;
        self.audit(AuditEvent::Trigger {
            trigger: trigger_name(trigger),
            state: state.name().to_string(),
            outcome: outcome.to_string(),
        });
    }

    /// A trigger input fired; `reply` gets the state it led to, or why not.
    pub(super) fn on_trigger(&mut self, name: &str, reply: Option<Sender<Result<String, String>>>) {
        let found = self
            .settings
            .officer
            .triggers
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .copied();
        let Some((input, policy)) = found else {
            let known: Vec<&str> = self
                .settings
                .officer
                .triggers
                .iter()
                .map(|(n, _)| n.as_str())
                .collect();
            let why = if known.is_empty() {
                format!("unknown trigger `{name}`: no [[trigger]] is configured")
            } else {
                format!(
                    "unknown trigger `{name}` (configured: {})",
                    known.join(", ")
                )
            };
            warn!(%why, "trigger refused");
            if let Some(r) = reply {
                let _ = r.send(Err(why));
            }
            return;
        };
        self.activate(
            Event::Input(InputTrigger {
                name: input,
                policy,
            }),
            Trigger::Input(input),
        );
        if let Some(r) = reply {
            let _ = r.send(Ok(self.machine.state().name().to_string()));
        }
    }

    /// What the peer link reported.
    pub(super) fn on_peer_input(&mut self, p: PeerInput) {
        match p {
            PeerInput::Accepted(a) => {
                let Some(policy) = self.settings.officer.peers.as_ref().map(|s| s.policy) else {
                    return;
                };
                let device = a.device;
                self.officer.peer_activations.insert(device, a);
                self.activate(
                    Event::Peer(PeerTrigger { device, policy }),
                    Trigger::Peer(device),
                );
            }
            PeerInput::Rejected(s) => self.audit(rejected_entry(&s)),
            PeerInput::Link { up, detail } => self.audit(AuditEvent::PeerLink { up, detail }),
        }
    }

    /// A recording started by `t` is open as `recording_id`: tell the peers (a start by a
    /// peer is relayed while below the hop limit).
    pub(super) fn announce_start(&mut self, t: Trigger, recording_id: &str) {
        let (Some(link), Some(s)) = (&self.officer.peers, &self.settings.officer.peers) else {
            return;
        };
        if !announced(&s.announce, t) {
            return;
        }
        let out = match t {
            Trigger::Peer(device) => match self.officer.peer_activations.get(&device) {
                Some(a) if a.hops.saturating_add(1) < s.hop_limit => Outgoing {
                    origin: a.origin,
                    origin_recording: a.origin_recording.clone(),
                    hops: a.hops + 1,
                },
                // At the hop limit: not relayed.
                Some(_) | None => return,
            },
            Trigger::Gesture(_)
            | Trigger::Ctl
            | Trigger::Input(_)
            | Trigger::StorageFull
            | Trigger::Shutdown
            | Trigger::Power(_)
            | Trigger::StorageFault => Outgoing {
                origin: self.settings.officer.own,
                origin_recording: recording_id.to_string(),
                hops: 0,
            },
        };
        link.announce(out.clone());
        info!(
            recording = recording_id,
            hops = out.hops,
            "start announced to peers"
        );
        self.audit(AuditEvent::PeerAnnounced {
            recording_id: recording_id.to_string(),
            origin: out.origin.to_string(),
            hops: out.hops,
        });
    }
}

/// The audit entry of a summary of rejected peer announcements (logged here).
pub(super) fn rejected_entry(s: &crate::peer::trust::RejectSummary) -> AuditEvent {
    warn!(
        reason = s.reason.name(),
        count = s.count,
        "peer announcements rejected"
    );
    AuditEvent::PeerRejected {
        reason: s.reason.name().to_string(),
        count: s.count,
        sender: s.sender.map(|p| p.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::Gesture;
    use crate::recorder::{HapticCue, Refusal};

    #[test]
    fn peers_announce_filters_starts_by_source_and_trigger_name() {
        let holster = Trigger::Input(crate::recorder::InputName::new("holster").expect("name"));
        let lightbar = Trigger::Input(crate::recorder::InputName::new("lightbar").expect("name"));
        let peer = Trigger::Peer(crate::recorder::PeerId([7; 16]));
        let gesture = Trigger::Gesture(Gesture::Double);
        let never = [
            Trigger::StorageFull,
            Trigger::Shutdown,
            Trigger::StorageFault,
            Trigger::Power(crate::recorder::PowerReason::PowerFail),
        ];
        // Empty: every start is announced; what never starts a recording never is.
        for t in [holster, lightbar, peer, gesture, Trigger::Ctl] {
            assert!(announced(&[], t), "{t:?}");
        }
        for t in never {
            assert!(!announced(&[], t), "{t:?}");
        }
        // A list: only the sources and `[[trigger]]` names it names.
        let list = ["holster".to_string(), "gesture".to_string()];
        assert!(announced(&list, holster));
        assert!(announced(&list, gesture));
        assert!(!announced(&list, lightbar));
        assert!(!announced(&list, peer));
        assert!(!announced(&list, Trigger::Ctl));
        let relays = ["peer".to_string()];
        assert!(announced(&relays, peer));
        assert!(!announced(&relays, holster));
        for t in never {
            assert!(!announced(&list, t), "{t:?}");
        }
    }

    #[test]
    fn outcomes_name_what_the_trigger_did() {
        let t = Trigger::Ctl;
        assert_eq!(
            outcome(&[
                Action::OpenRecording(t),
                Action::Haptic(HapticCue::RecordingStarted)
            ]),
            "start"
        );
        assert_eq!(
            outcome(&[Action::AddMarker(t), Action::MarkerFlash]),
            "mark"
        );
        assert_eq!(
            outcome(&[Action::SleepChanged(false), Action::StartPipeline]),
            "wake"
        );
        assert_eq!(
            outcome(&[
                Action::Refused(Refusal::Docked),
                Action::Haptic(HapticCue::Fault)
            ]),
            "refused"
        );
        assert_eq!(outcome(&[]), "none");
    }

    #[test]
    fn only_starts_are_announced() {
        assert_eq!(
            announce_name(Trigger::Gesture(Gesture::Double)).as_deref(),
            Some("gesture")
        );
        assert_eq!(
            announce_name(Trigger::Peer(crate::recorder::PeerId([0; 16]))).as_deref(),
            Some("peer")
        );
        assert_eq!(announce_name(Trigger::Shutdown), None);
    }
}
