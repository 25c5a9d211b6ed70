//! The daemon before its store could be opened (read-only mount, missing directory,
//! full or failing medium): it stays up in `storage-fault` instead of exiting, shows
//! the fault on the LEDs and in its status, answers `ctl` (refusing starts with the
//! reason), keeps systemd's watchdog fed, and tries to open the store again with a
//! back-off. What it would have audited is kept and written by the loop once the store
//! opens ("audited at the next successful start"). The battery is watched as in the
//! loop (low: cue and LED; critical or the power-fail input: the shutdown command, and
//! `bodycam run` exits powered down, the kept entries lost with the store that never
//! opened); a peer's start is refused like a trigger's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::select;
use tracing::{error, info, warn};

use super::setup::{Medium, Opening, Parts, open_medium};
use super::storage_fault::StorageFault;
use super::{DaemonError, Input};
use crate::config::Config;
use crate::controls::leds::{LedInputs, LedMode, LedPatterns, patterns_for};
use crate::dock::DockError;
use crate::evidence::events::AuditEvent;
use crate::flash::Flash;
use crate::peer::PeerInput;
use crate::power::Reading;
use crate::recorder::{
    Action, Event, InputTrigger, Machine, Options, PeerTrigger, PowerReason, Refusal,
};
use crate::status::{LedStatus, Status};

/// How often the standby loop wakes (watchdog, probes, status).
const TICK: Duration = Duration::from_millis(100);

/// The standby loop's own state.
struct Standby<'a> {
    /// What runs anyway.
    parts: &'a mut Parts,
    /// The recorder machine, in `StorageFault` (the loop takes it over).
    machine: Machine,
    /// The fault: the first error, the probe back-off, the entries to write later.
    fault: StorageFault,
    /// The latest error (the status shows it).
    error: String,
    /// LED patterns last sent.
    leds: Option<LedPatterns>,
    /// Entries for the audit log once it can be written.
    pending: Vec<AuditEvent>,
    /// The machine decided to power off (battery critical, power fail).
    power_off: Option<PowerReason>,
}

/// How the wait in `storage-fault` ended.
pub(super) enum Left {
    /// The store opened: the machine, the medium and the fault for the loop to audit.
    Opened(Box<(Machine, Medium, StorageFault)>),
    /// Shut down (`Clean`) or powered down before it could.
    Stopped(super::Stopped),
}

/// Wait in `storage-fault` until the store opens, the daemon is shut down or powers
/// down ([`Left`]), or opening fails in a way a retry cannot change (`Err`).
pub(super) fn wait(
    cfg: &Config,
    flash: &Arc<dyn Flash>,
    parts: &mut Parts,
    options: Options,
    first: DaemonError,
) -> Result<Left, DaemonError> {
    let now = Instant::now();
    error!(error = %first, "the store cannot be opened: waiting in storage-fault");
    let no_space = matches!(&first, DaemonError::Store(e) if e.no_space());
    let (machine, actions) = Machine::boot_in_storage_fault(options);
    let mut s = Standby {
        parts,
        machine,
        fault: StorageFault::started(first.to_string(), no_space, "start", now),
        error: first.to_string(),
        leds: None,
        pending: Vec::new(),
        power_off: None,
    };
    s.fault.arm(now);
    // Up and handling the fault: systemd must neither time the start out nor restart it.
    s.parts.notify.ready();
    s.execute(actions, None);
    s.publish();
    let input = s.parts.input_rx.clone();
    let shutdown = s.parts.shutdown.0.clone();
    loop {
        select! {
            recv(input) -> msg => {
                if let Ok(i) = msg {
                    s.on_input(i);
                }
                if let Some(reason) = s.power_off {
                    error!(
                        reason = reason.name(),
                        unaudited = s.pending.len(),
                        "powering off in storage-fault: the entries kept for the audit log are lost with the store that never opened"
                    );
                    s.parts.notify.stopping();
                    super::power::run_shutdown_command(
                        &s.parts.settings.officer.shutdown_command,
                        reason,
                    );
                    return Ok(Left::Stopped(super::Stopped::PoweredDown));
                }
            }
            recv(shutdown) -> _ => {
                info!("shutdown requested while in storage-fault");
                s.parts.notify.stopping();
                return Ok(Left::Stopped(super::Stopped::Clean));
            }
            default(TICK) => {}
        }
        let now = Instant::now();
        s.parts.notify.watchdog(now);
        if s.fault.probe_due(now) {
            match open_medium(cfg, flash) {
                Ok(medium) => {
                    info!(
                        seconds = s.fault.seconds(now),
                        "the store opened: leaving storage-fault"
                    );
                    s.fault.keep(std::mem::take(&mut s.pending));
                    return Ok(Left::Opened(Box::new((s.machine, medium, s.fault))));
                }
                Err(Opening::Retry(e)) => {
                    s.fault.probe_failed(now);
                    warn!(error = %e, attempts = s.fault.failed_probes(), "the store still cannot be opened");
                    s.error = e.to_string();
                }
                Err(Opening::Fatal(e)) => return Err(e),
            }
        }
        s.publish();
    }
}

impl Standby<'_> {
    fn on_input(&mut self, input: Input) {
        match input {
            Input::Gesture(g) => {
                let actions = self.machine.step(Event::Gesture(g));
                self.execute(actions, Some(g));
            }
            Input::Command(c, reply) => {
                let actions = self.machine.step(Event::Command(c));
                let refused = actions.iter().find_map(|a| match a {
                    Action::Refused(r) => Some(*r),
                    _ => None,
                });
                self.execute(actions, None);
                let answer = match refused {
                    None => Ok(()),
                    Some(r) => Err((r, self.refusal_text(r))),
                };
                let _ = reply.send(answer);
            }
            Input::Dock(docked) => {
                if self.machine.docked() != docked {
                    let state = self.machine.state().name().to_string();
                    self.pending.push(if docked {
                        AuditEvent::Docked { state }
                    } else {
                        AuditEvent::Undocked { state }
                    });
                }
                let event = if docked {
                    Event::Docked
                } else {
                    Event::Undocked
                };
                let actions = self.machine.step(event);
                self.execute(actions, None);
            }
            Input::Head(_, reply) => {
                let _ = reply.send(Err(format!("storage fault: {}", self.error)));
            }
            Input::DockCall(_, reply) => {
                let _ = reply.send(Err(DockError::Unavailable(format!(
                    "storage fault: {}",
                    self.error
                ))));
            }
            // A trigger input asks for a start: refused, and felt, like a double press.
            Input::Trigger(name, reply) => {
                let found = self
                    .parts
                    .settings
                    .officer
                    .triggers
                    .iter()
                    .find(|(n, _)| n.as_str() == name)
                    .copied();
                let answer = match found {
                    Some((name, policy)) => {
                        let actions = self
                            .machine
                            .step(Event::Input(InputTrigger { name, policy }));
                        self.execute(actions, None);
                        Ok(self.machine.state().name().to_string())
                    }
                    None => Err(format!("unknown trigger `{name}`")),
                };
                if let Some(r) = reply {
                    let _ = r.send(answer);
                }
            }
            Input::Battery(r) => self.on_battery(r),
            Input::PowerFail => {
                error!("power failing in storage-fault: powering off");
                let actions = self.machine.step(Event::PowerDown(PowerReason::PowerFail));
                self.execute(actions, None);
            }
            // A peer's start is refused like a trigger's (felt, and kept for the audit
            // log); what the link says is kept for the audit log.
            Input::Peer(PeerInput::Accepted(a)) => {
                if let Some(policy) = self.parts.settings.officer.peers.as_ref().map(|p| p.policy) {
                    let actions = self.machine.step(Event::Peer(PeerTrigger {
                        device: a.device,
                        policy,
                    }));
                    self.execute(actions, None);
                }
            }
            Input::Peer(PeerInput::Rejected(r)) => {
                self.pending.push(super::activation::rejected_entry(&r))
            }
            Input::Peer(PeerInput::Link { up, detail }) => {
                self.pending.push(AuditEvent::PeerLink { up, detail })
            }
            Input::LocationLink(connected, error) => self
                .pending
                .push(super::officer::location_link_entry(connected, error)),
        }
        self.publish();
    }

    /// A gauge reading: low (cue, LED, kept for the audit log) and critical (power off),
    /// as in the loop.
    fn on_battery(&mut self, r: Reading) {
        for (entry, event) in super::power::reading_changes(&mut self.parts.officer.power, r) {
            self.pending.extend(entry);
            let actions = self.machine.step(event);
            self.execute(actions, None);
        }
    }

    fn refusal_text(&self, r: Refusal) -> String {
        match r {
            Refusal::StorageFault => format!("storage fault: {}", self.error),
            Refusal::NotRecording => "not recording".into(),
            Refusal::StorageFull
            | Refusal::Docked
            | Refusal::Fault
            | Refusal::AlreadyRecording
            | Refusal::ShuttingDown
            | Refusal::Recording
            | Refusal::MuteDisabled => r.name().replace('_', " "),
        }
    }

    /// Carry out what the machine asks while there is no store: feedback to the
    /// officer, and audit entries kept for later. Nothing else can occur in
    /// `StorageFault`; the dock API opens once the store is back.
    fn execute(&mut self, actions: Vec<Action>, gesture: Option<crate::controls::Gesture>) {
        for a in actions {
            match a {
                Action::Haptic(cue) => {
                    if !self.machine.stealth() {
                        self.parts.controls.haptic(cue);
                    }
                }
                Action::StealthChanged(on) => self.pending.push(AuditEvent::Stealth { on }),
                Action::Refused(r) => {
                    warn!(reason = r.name(), "request refused: storage fault");
                    if let Some(g) = gesture {
                        self.pending.push(AuditEvent::RequestRefused {
                            request: super::recording::gesture_request(g).to_string(),
                            reason: r.name().to_string(),
                            trigger: format!("gesture:{}", super::recording::gesture_name(g)),
                            state: self.machine.state().name().to_string(),
                        });
                    }
                }
                Action::OpenDock => warn!("docked: the dock API opens once the store is back"),
                Action::PowerOff(reason) => {
                    self.pending.push(super::power::power_off_entry(
                        reason,
                        &self.parts.officer.power,
                        &self.parts.settings.officer.shutdown_command,
                    ));
                    self.power_off = Some(reason);
                }
                Action::StartPipeline
                | Action::StopPipeline
                | Action::ScheduleRetry
                | Action::OpenRecording(_)
                | Action::FinalizeRecording(_)
                | Action::SuspendRecording
                | Action::ResumeRecording
                | Action::EndSuspendedRecording(_)
                | Action::AddMarker(_)
                | Action::MarkerFlash
                | Action::CloseDock
                | Action::MuteChanged(_)
                | Action::SleepChanged(_)
                | Action::Exit => {}
            }
        }
    }

    /// LEDs, the status snapshot and systemd's STATUS line.
    fn publish(&mut self) {
        let p = patterns_for(&LedInputs {
            mode: LedMode::StorageFault,
            storage_low: false,
            marker_flash: false,
            stealth: self.machine.stealth(),
            battery_low: self.machine.battery_low(),
            muted: false,
        });
        if self.leds != Some(p) {
            self.leds = Some(p);
            self.parts.controls.set_patterns(p);
        }
        let settings = &self.parts.settings;
        let s = Status {
            state: self.machine.state().name().to_string(),
            stealth: self.machine.stealth(),
            leds: LedStatus {
                red: super::publish::pattern_name(p.red),
                green: super::publish::pattern_name(p.green),
                amber: super::publish::pattern_name(p.amber),
            },
            camera: settings.camera_status.clone(),
            controls: settings.controls_name.to_string(),
            last_fault: Some(self.error.clone()),
            storage_fault: Some(self.error.clone()),
            storage_path: settings.storage_path.clone(),
            uptime_seconds: settings.started.elapsed().as_secs_f64(),
            battery: super::power::battery_status(
                settings.officer.gauge.clone(),
                &self.parts.officer.power,
            ),
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Status::default()
        };
        self.parts
            .notify
            .status(&format!("storage-fault: {}", self.error));
        if let Ok(mut g) = self.parts.status.lock() {
            *g = s;
        }
    }
}
