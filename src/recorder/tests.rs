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
    for (i, (from, event, to, actions)) in table.into_iter().enumerate() {
        let mut m = machine_in(from);
        let got = m.step(event);
        assert_eq!(m.state(), to, "row {i}: {from:?} + {event:?}");
        assert_eq!(got, actions, "row {i}: {from:?} + {event:?}");
    }
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
    let (mut m, actions) = Machine::boot_in_storage_fault();
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
    let (mut m, _) = Machine::boot_in_storage_fault();
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
    assert_eq!(S::StorageFault.name(), "storage-fault");
}
