//! `ctl` requests, on the control socket's threads: answered from the status snapshot,
//! performed on the simulated button, or passed to the loop as inputs.

use std::os::unix::net::UnixListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;

use super::{DaemonError, Input};
use crate::controls::sim::{SimAction, SimButton};
use crate::ctl::{self, ButtonAction, CtlServer, RecordAction, Request, Response};
use crate::recorder::{Command, Refusal};
use crate::status::Status;

/// How long `ctl head` waits for the loop to sign.
const HEAD_ANSWER: Duration = Duration::from_secs(5);
/// How long a `ctl` command waits for the loop to say what the machine did.
const COMMAND_ANSWER: Duration = Duration::from_secs(5);
/// Answer when the loop has stopped taking inputs.
const SHUTTING_DOWN: &str = "the daemon is shutting down";

/// Serve the control socket on its own threads until [`CtlServer::stop`].
pub(super) fn serve(
    listener: UnixListener,
    status: Arc<Mutex<Status>>,
    input: Sender<Input>,
    sim: Option<SimButton>,
) -> Result<CtlServer, DaemonError> {
    let handler: ctl::Handler = Arc::new(move |req| handle(req, &status, &input, sim.as_ref()));
    Ok(CtlServer::spawn(listener, handler)?)
}

/// Answer one request.
fn handle(
    req: Request,
    status: &Mutex<Status>,
    input: &Sender<Input>,
    sim: Option<&SimButton>,
) -> Response {
    match req {
        Request::Status => status_of(status),
        Request::Button { action } => press(sim, action),
        Request::Record { action } => command(
            input,
            match action {
                RecordAction::Start => Command::Start,
                RecordAction::Stop => Command::Stop,
            },
        ),
        Request::Marker => command(input, Command::Marker),
        Request::Stealth => command(input, Command::ToggleStealth),
        Request::Dock => dock_sense(input, sim, true),
        Request::Undock => dock_sense(input, sim, false),
        Request::Head { nonce } => head(input, &nonce),
    }
}

fn status_of(status: &Mutex<Status>) -> Response {
    match status.lock() {
        Ok(s) => Response {
            status: Some(s.clone()),
            ..Response::ok()
        },
        Err(_) => Response::error("status unavailable"),
    }
}

/// Pass a command to the loop and answer with what the machine did: carried out, or
/// refused with its reason.
fn command(input: &Sender<Input>, c: Command) -> Response {
    let (tx, rx) = crossbeam_channel::bounded(1);
    if input.send(Input::Command(c, tx)).is_err() {
        return Response::refused(Refusal::ShuttingDown.name(), SHUTTING_DOWN);
    }
    match rx.recv_timeout(COMMAND_ANSWER) {
        Ok(Ok(())) => Response::ok(),
        Ok(Err((why, text))) => Response::refused(why.name(), text),
        Err(_) => Response::error(format!(
            "the daemon did not answer within {} s",
            COMMAND_ANSWER.as_secs()
        )),
    }
}

fn press(sim: Option<&SimButton>, action: ButtonAction) -> Response {
    let Some(button) = sim else {
        return Response::error(
            "button injection needs controls.backend = \"simulated\"; this daemon uses GPIO",
        );
    };
    let action = match action {
        ButtonAction::Press => SimAction::Press,
        ButtonAction::Double => SimAction::Double,
        ButtonAction::Triple => SimAction::Triple,
        ButtonAction::Hold => SimAction::Hold,
        ButtonAction::Bounce => SimAction::Bounce,
    };
    match button.perform(action) {
        Ok(()) => Response::ok(),
        Err(e) => Response::error(e.to_string()),
    }
}

fn dock_sense(input: &Sender<Input>, sim: Option<&SimButton>, docked: bool) -> Response {
    if sim.is_none() {
        return Response::error(
            "ctl dock/undock needs controls.backend = \"simulated\"; this daemon senses the dock on GPIO",
        );
    }
    match input.send(Input::Dock(docked)) {
        Ok(()) => Response::ok(),
        Err(_) => Response::error(SHUTTING_DOWN),
    }
}

fn head(input: &Sender<Input>, nonce: &str) -> Response {
    let nonce = match hex::decode(nonce.trim()) {
        Ok(n) if (1..=64).contains(&n.len()) => n,
        Ok(_) | Err(_) => return Response::error("nonce must be 1–64 bytes of hex"),
    };
    let (tx, rx) = crossbeam_channel::bounded(1);
    if input.send(Input::Head(nonce, tx)).is_err() {
        return Response::error(SHUTTING_DOWN);
    }
    match rx.recv_timeout(HEAD_ANSWER) {
        Ok(Ok(head)) => Response {
            head: Some(head),
            ..Response::ok()
        },
        Ok(Err(why)) => Response::error(why),
        Err(_) => Response::error("the daemon did not answer"),
    }
}
