//! The recorder state machine: pure (events in, actions out), no I/O, no clock.
//!
//! The daemon loop (`daemon/`) feeds it events from the pipeline, the store, the
//! button and the control socket, and carries out the actions it returns. Everything
//! the officer can see (LEDs) is derived from [`Machine::state`] and its flags.
//!
//! One file of about 600 lines on purpose: the events, the actions, the states and the
//! per-state methods that map one to the other are read together, as one table. The
//! transition tests live in `recorder/tests.rs`.

use std::ops::ControlFlow;

use serde::Serialize;

use crate::controls::Gesture;

/// What started or stopped a recording, as written to the logs (and, later, the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A button gesture.
    Gesture(Gesture),
    /// `bodycam ctl record start|stop|marker`.
    Ctl,
    /// The store ran out of space.
    StorageFull,
    /// The daemon is shutting down (SIGTERM).
    Shutdown,
    /// A write or fsync on the store failed (the store is latched).
    StorageFault,
}

/// A request from the control socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Start recording (like a double press).
    Start,
    /// Stop recording (like a 3 s hold).
    Stop,
    /// Add a marker (like a single press while recording).
    Marker,
    /// Toggle stealth mode (like a triple press).
    ToggleStealth,
}

/// Everything the state machine reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A (re)started pipeline delivered its first keyframe.
    PipelineRunning,
    /// The pipeline or sensor failed (bus error, stalled buffers).
    PipelineFailed,
    /// The back-off after a pipeline failure has elapsed.
    RetryDue,
    /// A recognised button gesture.
    Gesture(Gesture),
    /// A control-socket command.
    Command(Command),
    /// The store finished finalising the recording that a stop asked for.
    RecordingFinalized,
    /// Remaining capacity crossed `storage.reserve_hours` (true = now below it).
    StorageLow(bool),
    /// The store cannot take more footage.
    StorageFull,
    /// Space became available again (e.g. after an offload freed segments).
    StorageAvailable,
    /// The camera was put in a dock (dock contact / VBUS sense, or `ctl dock`).
    Docked,
    /// The camera was taken out of the dock.
    Undocked,
    /// SIGTERM / SIGINT.
    Shutdown,
    /// The store cannot be written: a write or fsync failed (the store latched), or it
    /// could not be opened at start.
    StorageFault,
    /// A probe write and fsync succeeded after a storage fault: the store takes writes
    /// again.
    StorageRecovered,
}

/// Feedback through the haptic motor.
pub use crate::controls::leds::HapticCue;

/// Why a request was refused. The first four refuse a start (felt as
/// [`HapticCue::Fault`] when a gesture asked); the others answer a `ctl` request that
/// would change nothing (a gesture that changes nothing stays silent, as it always was).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// No room for footage.
    StorageFull,
    /// The camera is in its dock: take it out to record.
    Docked,
    /// The pipeline failed and is being restarted.
    Fault,
    /// The store cannot be written (see [`State::StorageFault`]).
    StorageFault,
    /// A stop or a marker while no recording is open.
    NotRecording,
    /// A start while a recording is open (or suspended by a fault).
    AlreadyRecording,
    /// The daemon is shutting down.
    ShuttingDown,
}

impl Refusal {
    /// The name used in `ctl --json` answers and the audit log (`storage_full`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Refusal::StorageFull => "storage_full",
            Refusal::Docked => "docked",
            Refusal::Fault => "fault",
            Refusal::StorageFault => "storage_fault",
            Refusal::NotRecording => "not_recording",
            Refusal::AlreadyRecording => "already_recording",
            Refusal::ShuttingDown => "shutting_down",
        }
    }
}

/// What the daemon loop must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Build and start the capture pipeline.
    StartPipeline,
    /// Tear the capture pipeline down.
    StopPipeline,
    /// Arm the retry timer; it comes back as [`Event::RetryDue`].
    ScheduleRetry,
    /// Start a new recording: the pre-event buffer becomes the start of its first segment.
    OpenRecording(Trigger),
    /// Finalise the open segment and end the recording.
    FinalizeRecording(Trigger),
    /// Finalise the open segment but keep the recording open for [`Action::ResumeRecording`].
    SuspendRecording,
    /// Continue the suspended recording in a new segment.
    ResumeRecording,
    /// End a suspended recording without writing anything (its segments are already final).
    EndSuspendedRecording(Trigger),
    /// Add a time-stamped marker to the open segment.
    AddMarker(Trigger),
    /// Flash the marker pattern on the red LED.
    MarkerFlash,
    /// Play a haptic cue (suppressed by the loop in stealth mode).
    Haptic(HapticCue),
    /// Stealth mode changed.
    StealthChanged(bool),
    /// A request was refused; tell the officer.
    Refused(Refusal),
    /// Start serving the dock API (the camera is docked).
    OpenDock,
    /// Stop serving the dock API (the camera left the dock).
    CloseDock,
    /// Leave the daemon loop (exit 0).
    Exit,
}

/// Recorder states.
///
/// - `Booting`: the daemon started; the store has been recovered and the pipeline is
///   starting. Left for `Ready` when the pipeline delivers its first keyframe (or for
///   `Recording` when a start was asked for meanwhile, or `StorageFull`), and for
///   `Fault` when the pipeline fails.
/// - `Ready`: the pipeline runs and the pre-event buffer fills in RAM; nothing reaches
///   flash. A double press (or `ctl record start`) starts recording.
/// - `Recording`: a recording is open; footage goes to segments on flash. A single press
///   adds a marker; a 3 s hold (or `ctl record stop`) stops.
/// - `Stopping`: the stop was accepted and the open segment is being finalised; left for
///   `Ready` on [`Event::RecordingFinalized`]. A start asked for meanwhile is kept.
/// - `StorageFull`: no room for footage; the open segment, if any, was finalised and
///   start requests are refused. Left for `Ready` when space appears.
/// - `Fault`: the pipeline or sensor failed. What is on flash is finalised, the pipeline
///   is torn down and retried after a back-off. `resume` says whether recording
///   continues (in a new segment of the same recording) once the pipeline runs again.
/// - `Docked`: in the dock with no recording open: the pipeline is stopped (no pre-event
///   buffer: nothing is captured for nobody) and the dock API serves the store. Start
///   requests are refused; undocking boots the pipeline again. A recording that was in
///   progress when the camera was docked continues (the dock API already serves its
///   closed segments) and the camera enters `Docked` once it is stopped.
/// - `StorageFault`: the store cannot be written: a write or fsync failed (the store
///   latched, like redb's `PreviousIo`) or it could not be opened at start (read-only
///   mount, missing directory). What could be closed was closed, the pipeline is
///   stopped and start requests are refused; the loop probes the medium with a
///   back-off. A probe write and fsync that succeed ([`Event::StorageRecovered`]) boot
///   the pipeline again (or dock, if docked meanwhile). Docked, the dock API stays
///   open: what is on the store can still be read and offloaded.
/// - `ShuttingDown`: SIGTERM was received; the open segment was finalised. Terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// See the enum documentation.
    Booting,
    /// See the enum documentation.
    Ready,
    /// See the enum documentation.
    Recording,
    /// See the enum documentation.
    Stopping,
    /// See the enum documentation.
    StorageFull,
    /// See the enum documentation.
    Fault {
        /// Recording continues once the pipeline runs again.
        resume: bool,
    },
    /// See the enum documentation.
    Docked,
    /// See the enum documentation.
    StorageFault,
    /// See the enum documentation.
    ShuttingDown,
}

impl State {
    /// Lower-case name used by `ctl status` (`storage-full`, …).
    pub fn name(&self) -> &'static str {
        match self {
            State::Booting => "booting",
            State::Ready => "ready",
            State::Recording => "recording",
            State::Stopping => "stopping",
            State::StorageFull => "storage-full",
            State::Fault { .. } => "fault",
            State::Docked => "docked",
            State::StorageFault => "storage-fault",
            State::ShuttingDown => "shutting-down",
        }
    }
}

/// The state machine with the flags that outlive a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    state: State,
    /// Stealth mode: LEDs and haptics off.
    stealth: bool,
    /// Remaining capacity is below `storage.reserve_hours`.
    storage_low: bool,
    /// The store reported full and no space has appeared since.
    storage_full: bool,
    /// A start was asked for while booting or stopping.
    pending_start: Option<Trigger>,
    /// The camera sits in its dock.
    docked: bool,
}

impl Machine {
    /// A machine in `Booting`, and the actions that boot it.
    pub fn boot() -> (Machine, Vec<Action>) {
        (
            Machine {
                state: State::Booting,
                stealth: false,
                storage_low: false,
                storage_full: false,
                pending_start: None,
                docked: false,
            },
            vec![Action::StartPipeline],
        )
    }

    /// A machine that starts in `StorageFault` (the store could not be opened), and the
    /// actions that tell the officer. The pipeline is not started until the store is
    /// back ([`Event::StorageRecovered`]).
    pub fn boot_in_storage_fault() -> (Machine, Vec<Action>) {
        let (mut m, _) = Machine::boot();
        m.state = State::StorageFault;
        (m, vec![Action::Haptic(HapticCue::StorageFault)])
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Stealth mode on.
    pub fn stealth(&self) -> bool {
        self.stealth
    }

    /// Capacity below the reserve.
    pub fn storage_low(&self) -> bool {
        self.storage_low
    }

    /// In the dock.
    pub fn docked(&self) -> bool {
        self.docked
    }

    /// Feed one event; returns the actions to carry out, in order.
    ///
    /// The flags every state keeps the same way (stealth, storage low, docked) are
    /// updated first; the event then goes to the method of the current state. Each of
    /// those names every event, and every request a gesture or command makes, with no
    /// `_ =>`, so that a new event or request forces a decision in every state.
    pub fn step(&mut self, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        if self.track_flags(event, &mut out).is_break() {
            return out;
        }
        match self.state {
            State::Booting => self.on_booting(event, &mut out),
            State::Ready => self.on_ready(event, &mut out),
            State::Recording => self.on_recording(event, &mut out),
            State::Stopping => self.on_stopping(event, &mut out),
            State::StorageFull => self.on_storage_full(event, &mut out),
            State::Fault { resume } => self.on_fault(resume, event, &mut out),
            State::Docked => self.on_docked(event, &mut out),
            State::StorageFault => self.on_storage_fault(event, &mut out),
            State::ShuttingDown => on_shutting_down(event, &mut out),
        }
        out
    }

    /// Stealth, storage-low and docked, which every state tracks the same way.
    /// `Break` when the event is fully handled here.
    fn track_flags(&mut self, event: Event, out: &mut Vec<Action>) -> ControlFlow<()> {
        match event {
            Event::StorageLow(low) => {
                self.storage_low = low;
                ControlFlow::Break(())
            }
            Event::Gesture(Gesture::Triple) | Event::Command(Command::ToggleStealth) => {
                if self.state != State::ShuttingDown {
                    self.stealth = !self.stealth;
                    out.push(Action::StealthChanged(self.stealth));
                }
                ControlFlow::Break(())
            }
            Event::Docked | Event::Undocked => {
                let docked = event == Event::Docked;
                if self.docked == docked || self.state == State::ShuttingDown {
                    return ControlFlow::Break(());
                }
                self.docked = docked;
                ControlFlow::Continue(())
            }
            Event::PipelineRunning
            | Event::PipelineFailed
            | Event::RetryDue
            | Event::Gesture(Gesture::Single | Gesture::Double | Gesture::Hold)
            | Event::Command(Command::Start | Command::Stop | Command::Marker)
            | Event::RecordingFinalized
            | Event::StorageFull
            | Event::StorageAvailable
            | Event::StorageFault
            | Event::StorageRecovered
            | Event::Shutdown => ControlFlow::Continue(()),
        }
    }

    fn on_booting(&mut self, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::PipelineRunning => self.enter_running(out),
            Event::PipelineFailed => self.fail(false, out),
            Event::StorageFull => self.storage_full = true,
            Event::StorageAvailable => self.storage_full = false,
            Event::Shutdown => self.shut_down(out),
            // Docked while booting: the dock is entered once the pipeline proved it runs.
            Event::Docked | Event::Undocked => {}
            Event::StorageFault => self.enter_storage_fault(out),
            Event::RetryDue
            | Event::RecordingFinalized
            | Event::StorageLow(_)
            | Event::StorageRecovered => {}
            Event::Gesture(_) | Event::Command(_) => match request(event) {
                // Kept until the pipeline runs.
                Some(Request::Start(t)) => self.pending_start = Some(t),
                // A stop cancels a start asked for meanwhile; without one it does nothing.
                Some(Request::Stop(t)) if self.pending_start.take().is_none() => {
                    refuse_ctl(t, Refusal::NotRecording, out)
                }
                Some(Request::Stop(_)) => {}
                Some(Request::Marker(t)) => refuse_ctl(t, Refusal::NotRecording, out),
                None => {}
            },
        }
    }

    fn on_ready(&mut self, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::PipelineFailed => self.fail(false, out),
            Event::StorageFull => self.enter_storage_full(),
            Event::Shutdown => self.shut_down(out),
            Event::StorageAvailable => self.storage_full = false,
            Event::Docked => self.enter_docked(true, out),
            Event::Undocked => {}
            Event::StorageFault => self.enter_storage_fault(out),
            Event::PipelineRunning
            | Event::RetryDue
            | Event::RecordingFinalized
            | Event::StorageLow(_)
            | Event::StorageRecovered => {}
            Event::Gesture(_) | Event::Command(_) => match request(event) {
                Some(Request::Start(t)) => self.open(t, out),
                Some(Request::Stop(t) | Request::Marker(t)) => {
                    refuse_ctl(t, Refusal::NotRecording, out)
                }
                None => {}
            },
        }
    }

    fn on_recording(&mut self, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::PipelineFailed => {
                out.push(Action::SuspendRecording);
                self.fail(true, out);
            }
            Event::StorageFull => {
                out.push(Action::FinalizeRecording(Trigger::StorageFull));
                out.push(Action::Haptic(HapticCue::Fault));
                self.enter_storage_full();
            }
            Event::Shutdown => {
                out.push(Action::FinalizeRecording(Trigger::Shutdown));
                self.shut_down(out);
            }
            Event::StorageAvailable => self.storage_full = false,
            // The recording goes on; its closed segments can already be offloaded.
            Event::Docked => out.push(Action::OpenDock),
            Event::Undocked => out.push(Action::CloseDock),
            Event::StorageFault => {
                out.push(Action::FinalizeRecording(Trigger::StorageFault));
                self.enter_storage_fault(out);
            }
            Event::PipelineRunning
            | Event::RetryDue
            | Event::RecordingFinalized
            | Event::StorageLow(_)
            | Event::StorageRecovered => {}
            Event::Gesture(_) | Event::Command(_) => match request(event) {
                Some(Request::Stop(t)) => self.stop(t, out),
                Some(Request::Marker(t)) => add_marker(t, out),
                Some(Request::Start(t)) => refuse_ctl(t, Refusal::AlreadyRecording, out),
                None => {}
            },
        }
    }

    fn on_stopping(&mut self, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::RecordingFinalized => self.finalized(out),
            Event::Docked => out.push(Action::OpenDock),
            Event::Undocked => out.push(Action::CloseDock),
            Event::PipelineFailed => self.fail(false, out),
            Event::StorageFull => self.enter_storage_full(),
            Event::Shutdown => self.shut_down(out),
            Event::StorageAvailable => self.storage_full = false,
            Event::StorageFault => self.enter_storage_fault(out),
            Event::PipelineRunning
            | Event::RetryDue
            | Event::StorageLow(_)
            | Event::StorageRecovered => {}
            Event::Gesture(_) | Event::Command(_) => match request(event) {
                // Kept until the segment is final.
                Some(Request::Start(t)) => self.pending_start = Some(t),
                Some(Request::Stop(t) | Request::Marker(t)) => {
                    refuse_ctl(t, Refusal::NotRecording, out)
                }
                None => {}
            },
        }
    }

    fn on_storage_full(&mut self, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::StorageAvailable => {
                self.storage_full = false;
                self.state = State::Ready;
            }
            // The dock is where space is freed.
            Event::Docked => self.enter_docked(true, out),
            Event::Undocked => {}
            Event::PipelineFailed => self.fail(false, out),
            Event::Shutdown => self.shut_down(out),
            Event::StorageFull => self.storage_full = true,
            Event::StorageFault => self.enter_storage_fault(out),
            Event::PipelineRunning
            | Event::RetryDue
            | Event::RecordingFinalized
            | Event::StorageLow(_)
            | Event::StorageRecovered => {}
            Event::Gesture(_) | Event::Command(_) => match request(event) {
                Some(Request::Start(_)) => refuse(Refusal::StorageFull, out),
                Some(Request::Stop(t) | Request::Marker(t)) => {
                    refuse_ctl(t, Refusal::NotRecording, out)
                }
                None => {}
            },
        }
    }

    fn on_fault(&mut self, resume: bool, event: Event, out: &mut Vec<Action>) {
        match event {
            // Docked with nothing to record: no point restarting the camera.
            Event::RetryDue if self.docked && !resume => self.enter_docked(false, out),
            Event::RetryDue => out.push(Action::StartPipeline),
            Event::Docked => out.push(Action::OpenDock),
            Event::Undocked => out.push(Action::CloseDock),
            Event::PipelineRunning => self.pipeline_back(resume, out),
            Event::PipelineFailed => {
                out.push(Action::StopPipeline);
                out.push(Action::ScheduleRetry);
            }
            Event::Shutdown => {
                if resume {
                    out.push(Action::EndSuspendedRecording(Trigger::Shutdown));
                }
                self.shut_down(out);
            }
            Event::StorageFull => self.storage_full = true,
            Event::StorageAvailable => self.storage_full = false,
            Event::StorageFault => {
                if resume {
                    out.push(Action::EndSuspendedRecording(Trigger::StorageFault));
                }
                self.enter_storage_fault(out);
            }
            Event::RecordingFinalized | Event::StorageLow(_) | Event::StorageRecovered => {}
            Event::Gesture(_) | Event::Command(_) => match request(event) {
                // The camera does not work now: say so rather than promise a recording.
                Some(Request::Start(_)) if !resume => refuse(Refusal::Fault, out),
                // The suspended recording resumes by itself.
                Some(Request::Start(t)) => refuse_ctl(t, Refusal::AlreadyRecording, out),
                Some(Request::Stop(t)) => self.stop_in_fault(resume, t, out),
                Some(Request::Marker(t)) => refuse_ctl(t, Refusal::NotRecording, out),
                None => {}
            },
        }
    }

    fn on_docked(&mut self, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::Undocked => {
                self.state = State::Booting;
                out.push(Action::CloseDock);
                out.push(Action::StartPipeline);
            }
            Event::Shutdown => {
                out.push(Action::CloseDock);
                self.shut_down(out);
            }
            Event::StorageFull => self.storage_full = true,
            Event::StorageAvailable => self.storage_full = false,
            // The dock API stays open: the store can still be read.
            Event::StorageFault => self.enter_storage_fault(out),
            Event::Docked
            | Event::PipelineRunning
            | Event::PipelineFailed
            | Event::RetryDue
            | Event::RecordingFinalized
            | Event::StorageLow(_)
            | Event::StorageRecovered => {}
            Event::Gesture(_) | Event::Command(_) => match request(event) {
                Some(Request::Start(_)) => refuse(Refusal::Docked, out),
                Some(Request::Stop(t) | Request::Marker(t)) => {
                    refuse_ctl(t, Refusal::NotRecording, out)
                }
                None => {}
            },
        }
    }

    fn on_storage_fault(&mut self, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::StorageRecovered => self.storage_recovered(out),
            // Whatever is on the store may still be read: serve it.
            Event::Docked => out.push(Action::OpenDock),
            Event::Undocked => out.push(Action::CloseDock),
            Event::Shutdown => self.shut_down(out),
            Event::StorageFull => self.storage_full = true,
            Event::StorageAvailable => self.storage_full = false,
            // The pipeline is stopped; a retry scheduled before the fault is void.
            Event::StorageFault
            | Event::PipelineRunning
            | Event::PipelineFailed
            | Event::RetryDue
            | Event::RecordingFinalized
            | Event::StorageLow(_) => {}
            Event::Gesture(_) | Event::Command(_) => match request(event) {
                Some(Request::Start(_)) => refuse(Refusal::StorageFault, out),
                Some(Request::Stop(t) | Request::Marker(t)) => {
                    refuse_ctl(t, Refusal::NotRecording, out)
                }
                None => {}
            },
        }
    }

    fn open(&mut self, t: Trigger, out: &mut Vec<Action>) {
        self.pending_start = None;
        self.state = State::Recording;
        out.push(Action::OpenRecording(t));
        out.push(Action::Haptic(HapticCue::RecordingStarted));
    }

    /// Accept a stop: finalise the open segment and wait for [`Event::RecordingFinalized`].
    fn stop(&mut self, t: Trigger, out: &mut Vec<Action>) {
        out.push(Action::FinalizeRecording(t));
        out.push(Action::Haptic(HapticCue::RecordingStopped));
        self.state = State::Stopping;
    }

    /// The stop is complete: dock if docked meanwhile, else ready (or recording again
    /// when a start was asked for while stopping).
    fn finalized(&mut self, out: &mut Vec<Action>) {
        if self.docked {
            self.pending_start = None;
            self.enter_docked(false, out);
        } else {
            self.state = State::Ready;
            if let Some(t) = self.pending_start.take() {
                self.open(t, out);
            }
        }
    }

    /// A stop during a fault ends the suspended recording, if any, and forgets a start;
    /// with neither, there is nothing to stop.
    fn stop_in_fault(&mut self, resume: bool, t: Trigger, out: &mut Vec<Action>) {
        if resume {
            out.push(Action::EndSuspendedRecording(t));
            self.state = State::Fault { resume: false };
        } else if self.pending_start.is_none() {
            refuse_ctl(t, Refusal::NotRecording, out);
        }
        self.pending_start = None;
    }

    /// The pipeline runs again after a fault: back to where the fault interrupted.
    fn pipeline_back(&mut self, resume: bool, out: &mut Vec<Action>) {
        if self.storage_full {
            if resume {
                out.push(Action::EndSuspendedRecording(Trigger::StorageFull));
            }
            self.state = State::StorageFull;
        } else if resume {
            out.push(Action::ResumeRecording);
            self.state = State::Recording;
        } else {
            self.enter_running(out);
        }
    }

    /// Enter `StorageFault`: forget a start asked for meanwhile, stop the camera, tell
    /// the officer. (Whatever was open was finalised by the caller's actions first.)
    fn enter_storage_fault(&mut self, out: &mut Vec<Action>) {
        self.pending_start = None;
        self.state = State::StorageFault;
        out.push(Action::StopPipeline);
        out.push(Action::Haptic(HapticCue::StorageFault));
    }

    /// The store takes writes again: dock if docked meanwhile, else boot the pipeline.
    fn storage_recovered(&mut self, out: &mut Vec<Action>) {
        if self.docked {
            self.enter_docked(true, out);
        } else {
            self.state = State::Booting;
            out.push(Action::StartPipeline);
        }
    }

    fn enter_storage_full(&mut self) {
        self.storage_full = true;
        self.state = State::StorageFull;
    }

    /// Enter `Docked`: stop the camera; open the dock API if it is not open yet.
    fn enter_docked(&mut self, open_api: bool, out: &mut Vec<Action>) {
        self.state = State::Docked;
        out.push(Action::StopPipeline);
        if open_api {
            out.push(Action::OpenDock);
        }
    }

    fn enter_running(&mut self, out: &mut Vec<Action>) {
        if self.docked {
            self.pending_start = None;
            self.enter_docked(true, out);
        } else if self.storage_full {
            self.state = State::StorageFull;
            if self.pending_start.take().is_some() {
                out.push(Action::Refused(Refusal::StorageFull));
            }
        } else if let Some(t) = self.pending_start.take() {
            self.open(t, out);
        } else {
            self.state = State::Ready;
        }
    }

    fn fail(&mut self, resume: bool, out: &mut Vec<Action>) {
        self.state = State::Fault { resume };
        out.push(Action::StopPipeline);
        out.push(Action::ScheduleRetry);
        out.push(Action::Haptic(HapticCue::Fault));
    }

    fn shut_down(&mut self, out: &mut Vec<Action>) {
        self.state = State::ShuttingDown;
        out.push(Action::StopPipeline);
        out.push(Action::Exit);
    }
}

/// What a button gesture or a control-socket command asks of the recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    /// Start recording (double press, `ctl record start`).
    Start(Trigger),
    /// Stop recording (3 s hold, `ctl record stop`).
    Stop(Trigger),
    /// Add a marker (single press, `ctl record marker`).
    Marker(Trigger),
}

/// The request an event makes, if any. Stealth toggles are flags, handled by
/// [`Machine::track_flags`] before any state sees the event.
fn request(event: Event) -> Option<Request> {
    match event {
        Event::Gesture(g @ Gesture::Double) => Some(Request::Start(Trigger::Gesture(g))),
        Event::Gesture(g @ Gesture::Hold) => Some(Request::Stop(Trigger::Gesture(g))),
        Event::Gesture(g @ Gesture::Single) => Some(Request::Marker(Trigger::Gesture(g))),
        Event::Command(Command::Start) => Some(Request::Start(Trigger::Ctl)),
        Event::Command(Command::Stop) => Some(Request::Stop(Trigger::Ctl)),
        Event::Command(Command::Marker) => Some(Request::Marker(Trigger::Ctl)),
        Event::Gesture(Gesture::Triple)
        | Event::Command(Command::ToggleStealth)
        | Event::PipelineRunning
        | Event::PipelineFailed
        | Event::RetryDue
        | Event::RecordingFinalized
        | Event::StorageLow(_)
        | Event::StorageFull
        | Event::StorageAvailable
        | Event::StorageFault
        | Event::StorageRecovered
        | Event::Docked
        | Event::Undocked
        | Event::Shutdown => None,
    }
}

fn add_marker(t: Trigger, out: &mut Vec<Action>) {
    out.push(Action::AddMarker(t));
    out.push(Action::MarkerFlash);
    out.push(Action::Haptic(HapticCue::Marker));
}

/// Refuse a start: the officer feels it, whoever asked.
fn refuse(why: Refusal, out: &mut Vec<Action>) {
    out.push(Action::Refused(why));
    out.push(Action::Haptic(HapticCue::Fault));
}

/// Refuse a request that would change nothing: answered when `ctl` asked, silent (as
/// it always was) when a gesture did.
fn refuse_ctl(t: Trigger, why: Refusal, out: &mut Vec<Action>) {
    if t == Trigger::Ctl {
        out.push(Action::Refused(why));
    }
}

/// `ShuttingDown` is terminal: every event is ignored; a `ctl` request is told why.
fn on_shutting_down(event: Event, out: &mut Vec<Action>) {
    match event {
        Event::Docked
        | Event::Undocked
        | Event::PipelineRunning
        | Event::PipelineFailed
        | Event::RetryDue
        | Event::RecordingFinalized
        | Event::StorageLow(_)
        | Event::StorageFull
        | Event::StorageAvailable
        | Event::StorageFault
        | Event::StorageRecovered
        | Event::Shutdown => {}
        Event::Gesture(_) | Event::Command(_) => match request(event) {
            Some(Request::Start(t) | Request::Stop(t) | Request::Marker(t)) => {
                refuse_ctl(t, Refusal::ShuttingDown, out)
            }
            None => {}
        },
    }
}

#[cfg(test)]
mod tests;
