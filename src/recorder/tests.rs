use super::*;
use Action as A;
use Event as E;
use State as S;

/// Drive a machine into `state` through real events.
fn machine_in(state: S) -> Machine {
    let (mut m, _) = Machine::boot();
    let path: &[E] = match state {
        S::Booting => &[],
        S::Ready => &[E::PipelineRunning],
        S::Recording => &[E::PipelineRunning, E::Gesture(Gesture::Double)],
        S::Stopping => &[
            E::PipelineRunning,
            E::Gesture(Gesture::Double),
            E::Gesture(Gesture::Hold),
        ],
        S::StorageFull => &[E::PipelineRunning, E::StorageFull],
        S::Fault { resume: false } => &[E::PipelineRunning, E::PipelineFailed],
        S::Fault { resume: true } => &[
            E::PipelineRunning,
            E::Gesture(Gesture::Double),
            E::PipelineFailed,
        ],
        S::Docked => &[E::PipelineRunning, E::Docked],
        S::StorageFault => &[E::PipelineRunning, E::StorageFault],
        S::ShuttingDown => &[E::Shutdown],
        S::Asleep => &[E::PipelineRunning, E::Command(Command::Sleep)],
        S::PoweringOff => &[E::PowerDown(PowerReason::BatteryCritical)],
    };
    for e in path {
        m.step(*e);
    }
    assert_eq!(m.state(), state, "setup reached the wrong state");
    m
}

const DOUBLE: E = E::Gesture(Gesture::Double);
const HOLD: E = E::Gesture(Gesture::Hold);
const SINGLE: E = E::Gesture(Gesture::Single);
const G_DOUBLE: Trigger = Trigger::Gesture(Gesture::Double);
const G_HOLD: Trigger = Trigger::Gesture(Gesture::Hold);
const QUAD: E = E::Gesture(Gesture::Quad);
const CRITICAL: PowerReason = PowerReason::BatteryCritical;

fn name(n: &str) -> InputName {
    InputName::new(n).expect("valid name")
}

/// The `holster` input with `policy`.
fn holster(policy: TriggerPolicy) -> E {
    E::Input(InputTrigger {
        name: name("holster"),
        policy,
    })
}

const PEER_ID: PeerId = PeerId([7; 16]);

fn peer(policy: TriggerPolicy) -> E {
    E::Peer(PeerTrigger {
        device: PEER_ID,
        policy,
    })
}
const START: E = E::Command(Command::Start);
const STOP: E = E::Command(Command::Stop);
const MARKER: E = E::Command(Command::Marker);
const STORAGE_FAULTED: [A; 2] = [A::StopPipeline, A::Haptic(HapticCue::StorageFault)];

/// One row per (state, event) pair worth pinning down, in the order of the state
/// documentation. Long on purpose: a table reads best in one piece, and each row is
/// data, not logic.
#[test]
fn transition_table() {
    let table: Vec<(S, E, S, Vec<A>)> = vec![
        // Booting
        (S::Booting, E::PipelineRunning, S::Ready, vec![]),
        (
            S::Booting,
            E::PipelineFailed,
            S::Fault { resume: false },
            vec![
                A::StopPipeline,
                A::ScheduleRetry,
                A::Haptic(HapticCue::Fault),
            ],
        ),
        (S::Booting, DOUBLE, S::Booting, vec![]),
        (
            S::Booting,
            E::Shutdown,
            S::ShuttingDown,
            vec![A::StopPipeline, A::Exit],
        ),
        // Ready
        (
            S::Ready,
            DOUBLE,
            S::Recording,
            vec![
                A::OpenRecording(G_DOUBLE),
                A::Haptic(HapticCue::RecordingStarted),
            ],
        ),
        (
            S::Ready,
            E::Command(Command::Start),
            S::Recording,
            vec![
                A::OpenRecording(Trigger::Ctl),
                A::Haptic(HapticCue::RecordingStarted),
            ],
        ),
        (S::Ready, SINGLE, S::Ready, vec![]),
        (S::Ready, HOLD, S::Ready, vec![]),
        (S::Ready, E::StorageFull, S::StorageFull, vec![]),
        (
            S::Ready,
            E::PipelineFailed,
            S::Fault { resume: false },
            vec![
                A::StopPipeline,
                A::ScheduleRetry,
                A::Haptic(HapticCue::Fault),
            ],
        ),
        (
            S::Ready,
            E::Shutdown,
            S::ShuttingDown,
            vec![A::StopPipeline, A::Exit],
        ),
        // Recording
        (
            S::Recording,
            SINGLE,
            S::Recording,
            vec![
                A::AddMarker(Trigger::Gesture(Gesture::Single)),
                A::MarkerFlash,
                A::Haptic(HapticCue::Marker),
            ],
        ),
        (S::Recording, DOUBLE, S::Recording, vec![]),
        (
            S::Recording,
            HOLD,
            S::Stopping,
            vec![
                A::FinalizeRecording(G_HOLD),
                A::Haptic(HapticCue::RecordingStopped),
            ],
        ),
        (
            S::Recording,
            E::Command(Command::Stop),
            S::Stopping,
            vec![
                A::FinalizeRecording(Trigger::Ctl),
                A::Haptic(HapticCue::RecordingStopped),
            ],
        ),
        (
            S::Recording,
            E::PipelineFailed,
            S::Fault { resume: true },
            vec![
                A::SuspendRecording,
                A::StopPipeline,
                A::ScheduleRetry,
                A::Haptic(HapticCue::Fault),
            ],
        ),
        (
            S::Recording,
            E::StorageFull,
            S::StorageFull,
            vec![
                A::FinalizeRecording(Trigger::StorageFull),
                A::Haptic(HapticCue::Fault),
            ],
        ),
        (
            S::Recording,
            E::Shutdown,
            S::ShuttingDown,
            vec![
                A::FinalizeRecording(Trigger::Shutdown),
                A::StopPipeline,
                A::Exit,
            ],
        ),
        // Stopping
        (S::Stopping, E::RecordingFinalized, S::Ready, vec![]),
        (S::Stopping, DOUBLE, S::Stopping, vec![]),
        (
            S::Stopping,
            E::Shutdown,
            S::ShuttingDown,
            vec![A::StopPipeline, A::Exit],
        ),
        // StorageFull
        (
            S::StorageFull,
            DOUBLE,
            S::StorageFull,
            vec![
                A::Refused(Refusal::StorageFull),
                A::Haptic(HapticCue::Fault),
            ],
        ),
        (S::StorageFull, E::StorageAvailable, S::Ready, vec![]),
        (
            S::StorageFull,
            E::Shutdown,
            S::ShuttingDown,
            vec![A::StopPipeline, A::Exit],
        ),
        // Fault
        (
            S::Fault { resume: false },
            E::RetryDue,
            S::Fault { resume: false },
            vec![A::StartPipeline],
        ),
        (
            S::Fault { resume: false },
            E::PipelineRunning,
            S::Ready,
            vec![],
        ),
        (
            S::Fault { resume: true },
            E::PipelineRunning,
            S::Recording,
            vec![A::ResumeRecording],
        ),
        (
            S::Fault { resume: true },
            E::PipelineFailed,
            S::Fault { resume: true },
            vec![A::StopPipeline, A::ScheduleRetry],
        ),
        (
            S::Fault { resume: true },
            HOLD,
            S::Fault { resume: false },
            vec![A::EndSuspendedRecording(G_HOLD)],
        ),
        (
            S::Fault { resume: true },
            E::Shutdown,
            S::ShuttingDown,
            vec![
                A::EndSuspendedRecording(Trigger::Shutdown),
                A::StopPipeline,
                A::Exit,
            ],
        ),
        // Docked
        (
            S::Ready,
            E::Docked,
            S::Docked,
            vec![A::StopPipeline, A::OpenDock],
        ),
        (S::Recording, E::Docked, S::Recording, vec![A::OpenDock]),
        (
            S::StorageFull,
            E::Docked,
            S::Docked,
            vec![A::StopPipeline, A::OpenDock],
        ),
        (
            S::Fault { resume: false },
            E::Docked,
            S::Fault { resume: false },
            vec![A::OpenDock],
        ),
        (
            S::Docked,
            E::Undocked,
            S::Booting,
            vec![A::CloseDock, A::StartPipeline],
        ),
        (
            S::Docked,
            DOUBLE,
            S::Docked,
            vec![A::Refused(Refusal::Docked), A::Haptic(HapticCue::Fault)],
        ),
        (
            S::Docked,
            E::Command(Command::Start),
            S::Docked,
            vec![A::Refused(Refusal::Docked), A::Haptic(HapticCue::Fault)],
        ),
        (S::Docked, E::Docked, S::Docked, vec![]),
        (
            S::Docked,
            E::Shutdown,
            S::ShuttingDown,
            vec![A::CloseDock, A::StopPipeline, A::Exit],
        ),
        // StorageFault: entered from every live state, what was open finalised first
        (
            S::Booting,
            E::StorageFault,
            S::StorageFault,
            STORAGE_FAULTED.to_vec(),
        ),
        (
            S::Ready,
            E::StorageFault,
            S::StorageFault,
            STORAGE_FAULTED.to_vec(),
        ),
        (
            S::Recording,
            E::StorageFault,
            S::StorageFault,
            vec![
                A::FinalizeRecording(Trigger::StorageFault),
                A::StopPipeline,
                A::Haptic(HapticCue::StorageFault),
            ],
        ),
        (
            S::Stopping,
            E::StorageFault,
            S::StorageFault,
            STORAGE_FAULTED.to_vec(),
        ),
        (
            S::StorageFull,
            E::StorageFault,
            S::StorageFault,
            STORAGE_FAULTED.to_vec(),
        ),
        (
            S::Fault { resume: false },
            E::StorageFault,
            S::StorageFault,
            STORAGE_FAULTED.to_vec(),
        ),
        (
            S::Fault { resume: true },
            E::StorageFault,
            S::StorageFault,
            vec![
                A::EndSuspendedRecording(Trigger::StorageFault),
                A::StopPipeline,
                A::Haptic(HapticCue::StorageFault),
            ],
        ),
        (
            S::Docked,
            E::StorageFault,
            S::StorageFault,
            STORAGE_FAULTED.to_vec(),
        ),
        (S::StorageFault, E::StorageFault, S::StorageFault, vec![]),
        (S::ShuttingDown, E::StorageFault, S::ShuttingDown, vec![]),
        // … and left only when a probe write succeeds
        (
            S::StorageFault,
            E::StorageRecovered,
            S::Booting,
            vec![A::StartPipeline],
        ),
        (
            S::StorageFault,
            E::StorageAvailable,
            S::StorageFault,
            vec![],
        ),
        (S::StorageFault, E::PipelineRunning, S::StorageFault, vec![]),
        (S::StorageFault, E::RetryDue, S::StorageFault, vec![]),
        (S::Ready, E::StorageRecovered, S::Ready, vec![]),
        (
            S::StorageFault,
            DOUBLE,
            S::StorageFault,
            vec![
                A::Refused(Refusal::StorageFault),
                A::Haptic(HapticCue::Fault),
            ],
        ),
        (
            S::StorageFault,
            START,
            S::StorageFault,
            vec![
                A::Refused(Refusal::StorageFault),
                A::Haptic(HapticCue::Fault),
            ],
        ),
        (
            S::StorageFault,
            STOP,
            S::StorageFault,
            vec![A::Refused(Refusal::NotRecording)],
        ),
        (S::StorageFault, HOLD, S::StorageFault, vec![]),
        (
            S::StorageFault,
            E::Docked,
            S::StorageFault,
            vec![A::OpenDock],
        ),
        (
            S::StorageFault,
            E::Shutdown,
            S::ShuttingDown,
            vec![A::StopPipeline, A::Exit],
        ),
        // Refusals: a start that cannot record is felt by the officer and answered;
        // a ctl request that would change nothing is answered, a gesture stays silent
        (
            S::Fault { resume: false },
            DOUBLE,
            S::Fault { resume: false },
            vec![A::Refused(Refusal::Fault), A::Haptic(HapticCue::Fault)],
        ),
        (
            S::Fault { resume: false },
            START,
            S::Fault { resume: false },
            vec![A::Refused(Refusal::Fault), A::Haptic(HapticCue::Fault)],
        ),
        (
            S::Fault { resume: true },
            START,
            S::Fault { resume: true },
            vec![A::Refused(Refusal::AlreadyRecording)],
        ),
        (
            S::StorageFull,
            START,
            S::StorageFull,
            vec![
                A::Refused(Refusal::StorageFull),
                A::Haptic(HapticCue::Fault),
            ],
        ),
        (
            S::Ready,
            STOP,
            S::Ready,
            vec![A::Refused(Refusal::NotRecording)],
        ),
        (
            S::Ready,
            MARKER,
            S::Ready,
            vec![A::Refused(Refusal::NotRecording)],
        ),
        (
            S::Recording,
            START,
            S::Recording,
            vec![A::Refused(Refusal::AlreadyRecording)],
        ),
        (
            S::Stopping,
            STOP,
            S::Stopping,
            vec![A::Refused(Refusal::NotRecording)],
        ),
        (
            S::Booting,
            STOP,
            S::Booting,
            vec![A::Refused(Refusal::NotRecording)],
        ),
        (
            S::Docked,
            STOP,
            S::Docked,
            vec![A::Refused(Refusal::NotRecording)],
        ),
        (
            S::StorageFull,
            MARKER,
            S::StorageFull,
            vec![A::Refused(Refusal::NotRecording)],
        ),
        (
            S::Fault { resume: false },
            STOP,
            S::Fault { resume: false },
            vec![A::Refused(Refusal::NotRecording)],
        ),
        // ShuttingDown ignores everything; ctl is told why
        (S::ShuttingDown, DOUBLE, S::ShuttingDown, vec![]),
        (S::ShuttingDown, E::PipelineRunning, S::ShuttingDown, vec![]),
        (
            S::ShuttingDown,
            START,
            S::ShuttingDown,
            vec![A::Refused(Refusal::ShuttingDown)],
        ),
    ];
    check_rows(table);
}

/// Feed each row's event to a machine driven into its state; check state and actions.
fn check_rows(table: Vec<(S, E, S, Vec<A>)>) {
    for (i, (from, event, to, actions)) in table.into_iter().enumerate() {
        let mut m = machine_in(from);
        let got = m.step(event);
        assert_eq!(m.state(), to, "row {i}: {from:?} + {event:?}");
        assert_eq!(got, actions, "row {i}: {from:?} + {event:?}");
    }
}

/// Trigger inputs and peers: they start and/or mark as their policy says, never stop.
#[test]
fn trigger_table() {
    use TriggerPolicy::{Mark, Start, StartAndMark};
    let input = Trigger::Input(name("holster"));
    let started = |t: Trigger| vec![A::OpenRecording(t), A::Haptic(HapticCue::RecordingStarted)];
    let marked = |t: Trigger| {
        vec![
            A::AddMarker(t),
            A::MarkerFlash,
            A::Haptic(HapticCue::Marker),
        ]
    };
    let refused = |r: Refusal| vec![A::Refused(r), A::Haptic(HapticCue::Fault)];
    let woken = vec![
        A::SleepChanged(false),
        A::StartPipeline,
        A::Haptic(HapticCue::Wake),
    ];
    let table: Vec<(S, E, S, Vec<A>)> = vec![
        (S::Ready, holster(Start), S::Recording, started(input)),
        (
            S::Ready,
            holster(StartAndMark),
            S::Recording,
            started(input),
        ),
        (S::Ready, holster(Mark), S::Ready, vec![]),
        (
            S::Ready,
            peer(Start),
            S::Recording,
            started(Trigger::Peer(PEER_ID)),
        ),
        // Already recording: a start-only trigger changes nothing, and none stops.
        (S::Recording, holster(Start), S::Recording, vec![]),
        (S::Recording, holster(Mark), S::Recording, marked(input)),
        (
            S::Recording,
            holster(StartAndMark),
            S::Recording,
            marked(input),
        ),
        (S::Recording, peer(Start), S::Recording, vec![]),
        (S::Booting, holster(Start), S::Booting, vec![]),
        (S::Stopping, holster(Start), S::Stopping, vec![]),
        (
            S::StorageFull,
            holster(Start),
            S::StorageFull,
            refused(Refusal::StorageFull),
        ),
        (S::StorageFull, holster(Mark), S::StorageFull, vec![]),
        (
            S::Docked,
            holster(Start),
            S::Docked,
            refused(Refusal::Docked),
        ),
        (S::Docked, peer(Start), S::Docked, refused(Refusal::Docked)),
        (
            S::Fault { resume: false },
            holster(Start),
            S::Fault { resume: false },
            vec![],
        ),
        (
            S::Fault { resume: true },
            holster(StartAndMark),
            S::Fault { resume: true },
            vec![],
        ),
        // Any trigger wakes a sleeping camera.
        (S::Asleep, holster(Start), S::Booting, woken.clone()),
        (S::Asleep, holster(Mark), S::Booting, woken.clone()),
        (S::Asleep, peer(Start), S::Booting, woken.clone()),
        (S::ShuttingDown, holster(Start), S::ShuttingDown, vec![]),
        (S::PoweringOff, peer(Start), S::PoweringOff, vec![]),
    ];
    check_rows(table);
}

#[test]
fn a_start_asked_for_while_booting_stopping_or_asleep_records_once_running() {
    use TriggerPolicy::{Mark, Start};
    let input = Trigger::Input(name("holster"));
    for (from, event, recorded) in [
        (S::Booting, holster(Start), Some(input)),
        (S::Booting, holster(Mark), None),
        (S::Asleep, holster(Start), Some(input)),
        (S::Asleep, holster(Mark), None),
        (S::Asleep, peer(Start), Some(Trigger::Peer(PEER_ID))),
        (S::Asleep, DOUBLE, Some(G_DOUBLE)),
        (S::Asleep, E::Command(Command::Start), Some(Trigger::Ctl)),
        (S::Asleep, SINGLE, None),
        (S::Asleep, HOLD, None),
        (S::Asleep, QUAD, None),
        (S::Asleep, E::Command(Command::Wake), None),
        (S::Fault { resume: false }, holster(Start), Some(input)),
    ] {
        let mut m = machine_in(from);
        m.step(event);
        if from == (S::Fault { resume: false }) {
            m.step(E::RetryDue);
        }
        let a = m.step(E::PipelineRunning);
        match recorded {
            Some(t) => {
                assert_eq!(m.state(), S::Recording, "{from:?} + {event:?}");
                assert_eq!(a[0], A::OpenRecording(t), "{from:?} + {event:?}");
            }
            None => assert_eq!(m.state(), S::Ready, "{from:?} + {event:?}"),
        }
    }
    let mut m = machine_in(S::Stopping);
    assert!(!m.start_pending());
    m.step(peer(TriggerPolicy::Start));
    assert!(m.start_pending());
    let a = m.step(E::RecordingFinalized);
    assert_eq!(a[0], A::OpenRecording(Trigger::Peer(PEER_ID)));
}

/// Mute (four presses or `ctl mute`) while recording, sleep (four presses or `ctl
/// sleep`) while ready, and how both end.
#[test]
fn mute_and_sleep_table() {
    let mute = E::Command(Command::ToggleMute);
    let sleep = E::Command(Command::Sleep);
    let asleep = vec![
        A::StopPipeline,
        A::SleepChanged(true),
        A::Haptic(HapticCue::Sleep),
    ];
    let refused = |r: Refusal| vec![A::Refused(r), A::Haptic(HapticCue::Fault)];
    let table: Vec<(S, E, S, Vec<A>)> = vec![
        (
            S::Recording,
            QUAD,
            S::Recording,
            vec![A::MuteChanged(true), A::Haptic(HapticCue::MuteOn)],
        ),
        (
            S::Recording,
            mute,
            S::Recording,
            vec![A::MuteChanged(true), A::Haptic(HapticCue::MuteOn)],
        ),
        (
            S::Recording,
            sleep,
            S::Recording,
            refused(Refusal::Recording),
        ),
        (S::Ready, mute, S::Ready, refused(Refusal::NotRecording)),
        (S::Ready, QUAD, S::Asleep, asleep.clone()),
        (S::Ready, sleep, S::Asleep, asleep.clone()),
        (S::Booting, sleep, S::Asleep, asleep.clone()),
        (S::StorageFull, QUAD, S::Asleep, asleep.clone()),
        (S::Fault { resume: false }, sleep, S::Asleep, asleep.clone()),
        (
            S::Fault { resume: true },
            sleep,
            S::Fault { resume: true },
            refused(Refusal::Recording),
        ),
        (
            S::Fault { resume: true },
            mute,
            S::Fault { resume: true },
            vec![A::MuteChanged(true), A::Haptic(HapticCue::MuteOn)],
        ),
        (S::Stopping, sleep, S::Stopping, refused(Refusal::Recording)),
        (S::Docked, sleep, S::Docked, refused(Refusal::Docked)),
        (S::Docked, QUAD, S::Docked, vec![]),
        // Asleep
        (
            S::Asleep,
            QUAD,
            S::Booting,
            vec![
                A::SleepChanged(false),
                A::StartPipeline,
                A::Haptic(HapticCue::Wake),
            ],
        ),
        (S::Asleep, sleep, S::Asleep, vec![]),
        (S::Asleep, mute, S::Asleep, refused(Refusal::NotRecording)),
        (S::Asleep, E::RetryDue, S::Asleep, vec![]),
        (S::Asleep, E::PipelineRunning, S::Asleep, vec![]),
        (
            S::Asleep,
            E::Docked,
            S::Docked,
            vec![A::SleepChanged(false), A::StopPipeline, A::OpenDock],
        ),
        (
            S::Asleep,
            E::Shutdown,
            S::ShuttingDown,
            vec![A::StopPipeline, A::Exit],
        ),
        (
            S::Asleep,
            E::Gesture(Gesture::Triple),
            S::Asleep,
            vec![A::StealthChanged(true)],
        ),
    ];
    check_rows(table);
}

#[test]
fn mute_toggles_and_ends_with_the_recording() {
    let mut m = machine_in(S::Recording);
    m.step(QUAD);
    assert!(m.muted());
    assert_eq!(
        m.step(QUAD),
        vec![A::MuteChanged(false), A::Haptic(HapticCue::MuteOff)]
    );
    m.step(QUAD);
    // A stop closes the mute span before the segment is finalised.
    assert_eq!(
        m.step(HOLD),
        vec![
            A::MuteChanged(false),
            A::FinalizeRecording(G_HOLD),
            A::Haptic(HapticCue::RecordingStopped),
        ]
    );
    assert!(!m.muted());
    // Storage full and shutdown end it too.
    for (event, end) in [
        (E::StorageFull, A::FinalizeRecording(Trigger::StorageFull)),
        (E::Shutdown, A::FinalizeRecording(Trigger::Shutdown)),
    ] {
        let mut m = machine_in(S::Recording);
        m.step(QUAD);
        let a = m.step(event);
        assert_eq!(a[..2], [A::MuteChanged(false), end], "{event:?}");
        assert!(!m.muted());
    }
    // A fault keeps it: the resumed recording is still muted.
    let mut m = machine_in(S::Recording);
    m.step(QUAD);
    m.step(E::PipelineFailed);
    m.step(E::RetryDue);
    assert_eq!(m.step(E::PipelineRunning), vec![A::ResumeRecording]);
    assert!(m.muted());
}

#[test]
fn mute_can_be_disabled() {
    let (mut m, _) = Machine::boot_with(Options {
        mute_enabled: false,
    });
    m.step(E::PipelineRunning);
    m.step(DOUBLE);
    assert_eq!(
        m.step(QUAD),
        vec![
            A::Refused(Refusal::MuteDisabled),
            A::Haptic(HapticCue::Fault)
        ]
    );
    assert!(!m.muted());
    assert_eq!(m.state(), S::Recording);
}

/// Battery low is a flag with a cue; critical battery and power-fail end everything.
#[test]
fn battery_and_power_table() {
    let off = |first: Vec<A>, r: PowerReason| {
        let mut v = first;
        v.extend([
            A::Haptic(HapticCue::PowerOff),
            A::StopPipeline,
            A::PowerOff(r),
            A::Exit,
        ]);
        v
    };
    let fail = PowerReason::PowerFail;
    let table: Vec<(S, E, S, Vec<A>)> = vec![
        (
            S::Recording,
            E::BatteryLow(true),
            S::Recording,
            vec![A::Haptic(HapticCue::BatteryLow)],
        ),
        (
            S::Ready,
            E::BatteryLow(true),
            S::Ready,
            vec![A::Haptic(HapticCue::BatteryLow)],
        ),
        (S::Ready, E::BatteryLow(false), S::Ready, vec![]),
        (
            S::ShuttingDown,
            E::BatteryLow(true),
            S::ShuttingDown,
            vec![],
        ),
        (
            S::Recording,
            E::PowerDown(CRITICAL),
            S::PoweringOff,
            off(
                vec![A::FinalizeRecording(Trigger::Power(CRITICAL))],
                CRITICAL,
            ),
        ),
        (
            S::Recording,
            E::PowerDown(fail),
            S::PoweringOff,
            off(vec![A::FinalizeRecording(Trigger::Power(fail))], fail),
        ),
        (
            S::Fault { resume: true },
            E::PowerDown(CRITICAL),
            S::PoweringOff,
            off(
                vec![A::EndSuspendedRecording(Trigger::Power(CRITICAL))],
                CRITICAL,
            ),
        ),
        (
            S::Ready,
            E::PowerDown(CRITICAL),
            S::PoweringOff,
            off(vec![], CRITICAL),
        ),
        (
            S::Booting,
            E::PowerDown(fail),
            S::PoweringOff,
            off(vec![], fail),
        ),
        (
            S::Stopping,
            E::PowerDown(fail),
            S::PoweringOff,
            off(vec![], fail),
        ),
        (
            S::StorageFull,
            E::PowerDown(fail),
            S::PoweringOff,
            off(vec![], fail),
        ),
        (
            S::Asleep,
            E::PowerDown(CRITICAL),
            S::PoweringOff,
            off(vec![], CRITICAL),
        ),
        (
            S::Docked,
            E::PowerDown(fail),
            S::PoweringOff,
            off(vec![A::CloseDock], fail),
        ),
        (S::PoweringOff, E::PowerDown(fail), S::PoweringOff, vec![]),
        (S::ShuttingDown, E::PowerDown(fail), S::ShuttingDown, vec![]),
        // Powering off is terminal.
        (S::PoweringOff, DOUBLE, S::PoweringOff, vec![]),
        (S::PoweringOff, E::Shutdown, S::PoweringOff, vec![]),
        (
            S::PoweringOff,
            E::Gesture(Gesture::Triple),
            S::PoweringOff,
            vec![],
        ),
    ];
    check_rows(table);
}

#[test]
fn a_muted_recording_unmutes_before_it_is_finalised_for_power() {
    let mut m = machine_in(S::Recording);
    m.step(QUAD);
    let a = m.step(E::PowerDown(CRITICAL));
    assert_eq!(
        a[..2],
        [
            A::MuteChanged(false),
            A::FinalizeRecording(Trigger::Power(CRITICAL))
        ]
    );
}

#[test]
fn battery_low_is_a_flag_not_a_state() {
    let mut m = machine_in(S::Recording);
    m.step(E::BatteryLow(true));
    assert!(m.battery_low());
    // Only the change to low plays the cue.
    assert!(m.step(E::BatteryLow(true)).is_empty());
    m.step(E::BatteryLow(false));
    assert!(!m.battery_low());
    assert_eq!(m.state(), S::Recording);
}

#[test]
fn recording_in_progress_continues_in_the_dock_then_docks_when_stopped() {
    let mut m = machine_in(S::Recording);
    assert_eq!(m.step(E::Docked), vec![A::OpenDock]);
    assert!(m.docked());
    // A marker still works; the recording is not cut by docking.
    assert_eq!(
        m.step(SINGLE)[0],
        A::AddMarker(Trigger::Gesture(Gesture::Single))
    );
    m.step(HOLD);
    assert_eq!(m.state(), S::Stopping);
    assert_eq!(m.step(E::RecordingFinalized), vec![A::StopPipeline]);
    assert_eq!(m.state(), S::Docked);
    // Out of the dock: the camera boots its pipeline again and becomes ready.
    m.step(E::Undocked);
    m.step(E::PipelineRunning);
    assert_eq!(m.state(), S::Ready);
}

#[test]
fn docked_while_booting_or_faulted_docks_without_recording() {
    let (mut m, _) = Machine::boot();
    assert!(m.step(E::Docked).is_empty());
    assert_eq!(
        m.step(E::PipelineRunning),
        vec![A::StopPipeline, A::OpenDock]
    );
    assert_eq!(m.state(), S::Docked);
    let mut m = machine_in(S::Fault { resume: false });
    m.step(E::Docked);
    assert_eq!(m.step(E::RetryDue), vec![A::StopPipeline]);
    assert_eq!(m.state(), S::Docked);
}

#[test]
fn start_while_booting_records_once_running() {
    let mut m = machine_in(S::Booting);
    assert!(m.step(DOUBLE).is_empty());
    let a = m.step(E::PipelineRunning);
    assert_eq!(m.state(), S::Recording);
    assert_eq!(a[0], A::OpenRecording(G_DOUBLE));
}

#[test]
fn a_stop_while_booting_cancels_a_pending_start_and_is_not_refused() {
    let mut m = machine_in(S::Booting);
    assert!(m.step(START).is_empty());
    assert!(m.step(STOP).is_empty(), "the stop cancelled the start");
    assert_eq!(m.step(STOP), vec![A::Refused(Refusal::NotRecording)]);
    m.step(E::PipelineRunning);
    assert_eq!(m.state(), S::Ready);
}

#[test]
fn boot_in_storage_fault_waits_for_the_store_then_boots_or_docks() {
    let (mut m, actions) = Machine::boot_in_storage_fault(Options::default());
    assert_eq!(m.state(), S::StorageFault);
    assert_eq!(actions, vec![A::Haptic(HapticCue::StorageFault)]);
    assert_eq!(
        m.step(DOUBLE),
        vec![
            A::Refused(Refusal::StorageFault),
            A::Haptic(HapticCue::Fault)
        ]
    );
    assert_eq!(m.step(E::StorageRecovered), vec![A::StartPipeline]);
    assert_eq!(m.state(), S::Booting);
    m.step(E::PipelineRunning);
    assert_eq!(m.state(), S::Ready);
    // Docked meanwhile: the camera docks instead of booting the pipeline.
    let (mut m, _) = Machine::boot_in_storage_fault(Options::default());
    assert_eq!(m.step(E::Docked), vec![A::OpenDock]);
    assert_eq!(
        m.step(E::StorageRecovered),
        vec![A::StopPipeline, A::OpenDock]
    );
    assert_eq!(m.state(), S::Docked);
}

#[test]
fn a_recording_interrupted_by_a_storage_fault_is_finalised_and_not_resumed() {
    let mut m = machine_in(S::Recording);
    m.step(E::StorageFault);
    assert_eq!(m.state(), S::StorageFault);
    // The finalisation the fault asked for completes while faulted: nothing happens.
    assert!(m.step(E::RecordingFinalized).is_empty());
    m.step(E::StorageRecovered);
    assert_eq!(m.step(E::PipelineRunning), vec![]);
    assert_eq!(m.state(), S::Ready, "a new start is needed");
}

#[test]
fn start_while_stopping_restarts_after_finalize() {
    let mut m = machine_in(S::Stopping);
    m.step(DOUBLE);
    let a = m.step(E::RecordingFinalized);
    assert_eq!(m.state(), S::Recording);
    assert_eq!(a[0], A::OpenRecording(G_DOUBLE));
}

#[test]
fn fault_while_storage_full_returns_to_storage_full() {
    let mut m = machine_in(S::StorageFull);
    m.step(E::PipelineFailed);
    m.step(E::RetryDue);
    m.step(E::PipelineRunning);
    assert_eq!(m.state(), S::StorageFull);
}

#[test]
fn stealth_toggles_in_every_live_state_and_keeps_state() {
    for s in [
        S::Booting,
        S::Ready,
        S::Recording,
        S::Stopping,
        S::StorageFull,
        S::Fault { resume: true },
        S::Docked,
        S::Asleep,
        S::StorageFault,
    ] {
        let mut m = machine_in(s);
        assert_eq!(
            m.step(E::Gesture(Gesture::Triple)),
            vec![A::StealthChanged(true)]
        );
        assert!(m.stealth());
        assert_eq!(m.state(), s);
        assert_eq!(
            m.step(E::Command(Command::ToggleStealth)),
            vec![A::StealthChanged(false)]
        );
    }
    let mut m = machine_in(S::ShuttingDown);
    assert!(m.step(E::Gesture(Gesture::Triple)).is_empty());
}

#[test]
fn storage_low_is_a_flag_not_a_state() {
    let mut m = machine_in(S::Recording);
    assert!(m.step(E::StorageLow(true)).is_empty());
    assert!(m.storage_low());
    assert_eq!(m.state(), S::Recording);
    m.step(E::StorageLow(false));
    assert!(!m.storage_low());
}

#[test]
fn state_names_are_lower_case() {
    assert_eq!(S::StorageFull.name(), "storage-full");
    assert_eq!(S::Recording.name(), "recording");
    assert_eq!(S::Fault { resume: true }.name(), "fault");
    assert_eq!(S::Asleep.name(), "asleep");
    assert_eq!(S::PoweringOff.name(), "powering-off");
    assert_eq!(S::StorageFault.name(), "storage-fault");
}

/// The storage fault (issue 11) meets the officer's states and inputs (issue 13).
#[test]
fn storage_fault_with_sleep_mute_triggers_and_power() {
    let refused = |r: Refusal| vec![A::Refused(r), A::Haptic(HapticCue::Fault)];
    // In storage-fault: an input or a peer that starts is refused like a start, sleep is
    // refused (it would stop the probes), a mute has nothing to mute.
    let table: Vec<(E, Vec<A>)> = vec![
        (
            holster(TriggerPolicy::Start),
            refused(Refusal::StorageFault),
        ),
        (
            peer(TriggerPolicy::StartAndMark),
            refused(Refusal::StorageFault),
        ),
        (holster(TriggerPolicy::Mark), vec![]),
        (
            E::Command(Command::Sleep),
            vec![A::Refused(Refusal::StorageFault)],
        ),
        (QUAD, vec![]),
        (
            E::Command(Command::ToggleMute),
            refused(Refusal::NotRecording),
        ),
        (E::Command(Command::Wake), vec![]),
    ];
    for (event, actions) in table {
        let mut m = machine_in(S::StorageFault);
        assert_eq!(m.step(event), actions, "{event:?}");
        assert_eq!(m.state(), S::StorageFault, "{event:?}");
    }

    // A muted recording that hits a storage fault ends its mute inside the segment.
    let mut m = machine_in(S::Recording);
    m.step(E::Command(Command::ToggleMute));
    let mut want = vec![
        A::MuteChanged(false),
        A::FinalizeRecording(Trigger::StorageFault),
    ];
    want.extend(STORAGE_FAULTED);
    assert_eq!(m.step(E::StorageFault), want);
    assert!(!m.muted());
    assert_eq!(m.state(), S::StorageFault);

    // Asleep, a failed audit write latches the store but the camera stays asleep (a
    // probe's success would boot the pipeline); waking enters storage-fault, and a
    // start asked with the wake is refused.
    let mut m = machine_in(S::Asleep);
    assert!(m.step(E::StorageFault).is_empty());
    assert_eq!(m.state(), S::Asleep);
    assert!(m.step(E::StorageRecovered).is_empty());
    let mut want = vec![A::SleepChanged(false), A::Haptic(HapticCue::Wake)];
    want.extend(refused(Refusal::StorageFault));
    want.extend(STORAGE_FAULTED);
    assert_eq!(m.step(DOUBLE), want);
    assert_eq!(m.state(), S::StorageFault);
    // Once back, it boots as after any storage fault.
    assert_eq!(m.step(E::StorageRecovered), vec![A::StartPipeline]);
    assert_eq!(m.state(), S::Booting);
    // Docked while asleep, the latch is forgotten: the dock serves the store.
    let mut m = machine_in(S::Asleep);
    m.step(E::StorageFault);
    m.step(E::Docked);
    m.step(E::Undocked);
    m.step(E::PipelineRunning);
    m.step(E::Command(Command::Sleep));
    assert_eq!(
        m.step(E::Command(Command::Wake)),
        vec![
            A::SleepChanged(false),
            A::StartPipeline,
            A::Haptic(HapticCue::Wake)
        ]
    );

    // Power down in storage-fault: nothing to close but an open dock API.
    let mut m = machine_in(S::StorageFault);
    m.step(E::Docked);
    let out = m.step(E::PowerDown(CRITICAL));
    assert_eq!(out[0], A::CloseDock, "{out:?}");
    assert!(out.contains(&A::PowerOff(CRITICAL)), "{out:?}");
    assert_eq!(m.state(), S::PoweringOff);
    // Powering off is terminal: a ctl request is told so, an input changes nothing.
    assert_eq!(
        m.step(E::Command(Command::Start)),
        vec![A::Refused(Refusal::ShuttingDown)]
    );
    assert!(m.step(holster(TriggerPolicy::Start)).is_empty());

    // A fault without a recording: a double press is refused (nobody would know the
    // start was kept), an input's start waits for the camera.
    let mut m = machine_in(S::Fault { resume: false });
    assert_eq!(m.step(DOUBLE), refused(Refusal::Fault));
    assert!(m.step(holster(TriggerPolicy::Start)).is_empty());
    assert!(m.start_pending());
    m.step(E::RetryDue);
    let out = m.step(E::PipelineRunning);
    assert_eq!(out[0], A::OpenRecording(Trigger::Input(name("holster"))));
}
