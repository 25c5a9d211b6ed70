//! `bodycam`: the daemon (`run`) and its control client (`ctl`). Thin: parse arguments,
//! load the config, call into the library, map errors to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bodycam::config::{Config, ConfigError, EncoderChoice};
use bodycam::ctl::{self, ButtonAction, RecordAction, Request};
use bodycam::evidence::identity::{Identity, IdentityError};
use bodycam::evidence::verify::{self, VerifyError, VerifyOptions};
use bodycam::pki::PkiError;
use bodycam::{capture, daemon, exit};
use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};

#[derive(Debug, Parser)]
#[command(name = "bodycam", version, about = "Open body-worn camera firmware")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the recorder daemon.
    Run {
        /// Config file (TOML); without it, developer defaults (simulated camera and controls).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the GStreamer capture pipeline the daemon would run with this config.
    Pipeline {
        /// Config file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the device identity (id and public key) for enrolment.
    Identity {
        /// Config file (to find the key directory).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print JSON (the identity file format).
        #[arg(long)]
        json: bool,
    },
    /// Verify footage: a whole store, one recording directory, or one segment (.ts).
    Verify {
        /// Store, recording directory or segment file.
        path: PathBuf,
        /// Device public key, 64 hex digits.
        #[arg(long, conflicts_with = "identity")]
        key: Option<String>,
        /// Device identity file (bodycam identity --json).
        #[arg(long)]
        identity: Option<PathBuf>,
        /// Head statement from `bodycam ctl head` to check freshness against.
        #[arg(long)]
        head: Option<PathBuf>,
        /// Another device's public key (64 hex digits; repeatable): a record that fails
        /// under the key but verifies under this one is FOREIGN rather than TAMPERED.
        #[arg(long = "other-key", value_name = "HEX")]
        other_keys: Vec<String>,
        /// Another device's identity file (repeatable), as --other-key.
        #[arg(long = "other-identity", value_name = "FILE")]
        other_identities: Vec<PathBuf>,
        /// Accept the store's own keys/identity.json as the key. Without it (and without
        /// --key/--identity) a store that verifies only against its own key exits 3.
        #[arg(long, conflicts_with_all = ["key", "identity"])]
        trust_store_key: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Also write the verified location track as GPX 1.1 to this file.
        #[arg(long)]
        gpx: Option<PathBuf>,
    },
    /// Development certificates for trying the dock link (production keys come from the agency).
    Pki {
        #[command(subcommand)]
        command: PkiCmd,
    },
    /// Talk to a running daemon over its control socket.
    Ctl {
        /// Config file of the daemon (to find its socket).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Control socket path (overrides the config).
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Print the daemon's answer as JSON (`ok`, and `refused`/`error` when it said no).
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        command: CtlCmd,
    },
    /// Examiner: verify, then decrypt with the agency's footage key to one MPEG-TS per
    /// segment and one MP4 per recording, with report.json and report.html.
    #[cfg(feature = "examiner")]
    Export {
        /// A store or a recording directory.
        path: PathBuf,
        /// The agency's private footage key file (bodycam pki footage-key).
        #[arg(long)]
        key: PathBuf,
        /// New (or empty) directory to write into.
        #[arg(long)]
        out: PathBuf,
        /// Export segments that do not verify too, marked UNVERIFIED in every output.
        #[arg(long)]
        include_unverified: bool,
        /// Device public key, 64 hex digits (as verify --key).
        #[arg(long = "device-key", conflicts_with = "identity")]
        device_key: Option<String>,
        /// Device identity file (as verify --identity).
        #[arg(long)]
        identity: Option<PathBuf>,
        /// Accept the device key found in the store itself (as verify --trust-store-key).
        #[arg(long, conflicts_with_all = ["identity", "device_key"])]
        trust_store_key: bool,
        /// Seconds between thumbnails (0: none; default: about 60 per recording).
        #[arg(long)]
        thumbnail_seconds: Option<f64>,
    },
    /// Dock side: offload every docked camera to Azure Blob Storage (runs on the dock).
    #[cfg(feature = "dock-agent")]
    DockAgent {
        /// Agent config file (TOML; see docs/DEPLOYMENT.md).
        #[arg(long)]
        config: PathBuf,
        /// One pass over the bays; exit 0 only if every docked camera is fully offloaded.
        #[arg(long)]
        once: bool,
        #[command(subcommand)]
        command: Option<AgentCmd>,
    },
}

#[cfg(feature = "dock-agent")]
#[derive(Debug, Subcommand)]
enum AgentCmd {
    /// Assign the camera docked in BAY to an officer from its next recording on.
    Assign {
        /// Bay name (a `[[camera]]` name).
        bay: String,
        /// Officer id: 1–32 letters, digits, '.', '_' or '-', starting with a letter or digit.
        #[arg(required_unless_present = "clear")]
        officer: Option<String>,
        /// Clear the assignment instead (the camera records as unassigned).
        #[arg(long, conflicts_with = "officer")]
        clear: bool,
    },
    /// Put recordings into a category of the table, give them a case id, hold or release them.
    Classify {
        /// DEVICE/RECORDING to mark as evidence (the same as --category evidence).
        #[arg(long, value_name = "DEVICE/RECORDING")]
        evidence: Option<String>,
        /// Category from the agent config's table (sets the retention period).
        #[arg(long, conflicts_with = "evidence")]
        category: Option<String>,
        /// Case id: 1–64 letters, digits, '.', '_' or '-' (no path characters).
        #[arg(long = "case")]
        case_id: Option<String>,
        /// Place a legal hold (tag `legal_hold=yes`; an Azure hold with azure.legal_hold).
        #[arg(long, conflicts_with = "release_hold")]
        hold: bool,
        /// Release the legal hold.
        #[arg(long)]
        release_hold: bool,
        /// Who classifies, for the classification log (default: the user name).
        #[arg(long)]
        by: Option<String>,
        /// DEVICE/RECORDING, one or several, e.g. 0123…cdef/20261125T175328Z.
        targets: Vec<String>,
    },
    /// Delete footage past its category's retention period (a dry run without --apply).
    Retention {
        /// Write the deletion records and delete; without it, only print what and how many bytes.
        #[arg(long)]
        apply: bool,
    },
    /// Print an Azure lifecycle-management policy matching the category table.
    LifecyclePolicy,
    /// The chain-of-custody report of one recording in the cloud (JSON and HTML).
    Custody {
        /// DEVICE/RECORDING.
        target: String,
        /// Directory to write custody.json and custody.html into (default: JSON on stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Rebuild a device's store from the container (read-only) for `bodycam verify`.
    Fetch {
        /// Device id (32 hex digits).
        device: String,
        /// New directory to write the store into.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum PkiCmd {
    /// Write a development CA, a dock client certificate and a camera server certificate.
    Dev {
        /// Directory to write into (created 0700; existing files are never overwritten).
        dir: PathBuf,
        /// Camera DNS names / IP addresses for its certificate (default: localhost, 127.0.0.1, 10.55.0.1).
        #[arg(long = "name")]
        names: Vec<String>,
    },
    /// Write an agency footage key pair: NAME.key (private, 0600, for examiners) and
    /// NAME.pub (the recipient file a camera lists in [evidence] recipients).
    #[cfg(feature = "examiner")]
    FootageKey {
        /// Directory to write into (created 0700; existing files are never overwritten).
        dir: PathBuf,
        /// File name stem.
        #[arg(long, default_value = "agency")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum CtlCmd {
    /// Show the daemon's status.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Press the simulated record button.
    Button {
        /// press (marker), double (start), triple (stealth), quad (mute / sleep / wake), hold (stop), bounce (press with contact bounce)
        action: ButtonAction,
    },
    /// Start or stop recording without the button.
    Record {
        /// start | stop
        action: RecordAction,
    },
    /// Add a marker to the open recording.
    Marker,
    /// Toggle stealth mode.
    Stealth,
    /// Simulated dock sense: put the camera in the dock.
    Dock,
    /// Simulated dock sense: take the camera out of the dock.
    Undock,
    /// Signed statement of the evidence chain heads, bound to your nonce (JSON on stdout).
    Head {
        /// Nonce, 1–64 bytes as hex (e.g. from `openssl rand -hex 16`).
        #[arg(long)]
        nonce: String,
    },
    /// Fire a configured trigger input (`[[trigger]] name`), as its GPIO line would.
    Trigger {
        /// The trigger's name.
        name: String,
    },
    /// Toggle audio mute while recording (like four presses).
    Mute,
    /// Go to sleep: capture stops and the pre-event buffer is emptied.
    Sleep,
    /// Wake up from sleep.
    Wake,
    /// Simulated gauge: set what the battery reads (percent, or anything else for garbage).
    Battery {
        /// What the gauge's `capacity` reads, e.g. 80.
        value: String,
        /// On a charger.
        #[arg(long)]
        charging: bool,
    },
    /// Simulated power-fail input: the supply is going (finalise, power off).
    PowerFail,
}

fn init_logging() {
    init_logging_default("info");
}

/// Log to stderr; `BODYCAM_LOG` (an env-filter) overrides `default`.
fn init_logging_default(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BODYCAM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Why a command failed. [`MainError::exit_code`] is the one table from errors to exit
/// codes (README "Exit codes").
#[derive(Debug, thiserror::Error)]
enum MainError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// GStreamer or a pipeline element is unusable.
    #[error(transparent)]
    Capture(#[from] capture::CaptureError),
    /// The daemon could not start or run.
    #[error(transparent)]
    Daemon(#[from] daemon::DaemonError),
    /// The device identity cannot be loaded.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The development PKI could not be written.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// The daemon cannot be reached.
    #[error(transparent)]
    Ctl(#[from] ctl::CtlError),
    /// The daemon refused the request.
    #[error("daemon refused: {0}")]
    Refused(String),
    /// A dock-agent command failed.
    #[cfg(feature = "dock-agent")]
    #[error(transparent)]
    Agent(#[from] bodycam::agent::AgentError),
    /// Output could not be written.
    #[error("cannot write the output: {0}")]
    Output(#[from] serde_json::Error),
    /// The verification could not start (bad path, key, identity or head statement).
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The verification report could not be written.
    #[error("cannot write the report: {0}")]
    Report(std::io::Error),
    /// An export could not be done.
    #[cfg(feature = "examiner")]
    #[error(transparent)]
    Export(#[from] bodycam::export::ExportError),
}

impl MainError {
    /// The process exit code for this error.
    fn exit_code(&self) -> u8 {
        let code = match self {
            MainError::Config(_) | MainError::Daemon(daemon::DaemonError::Recipients(_)) => {
                exit::CONFIG
            }
            MainError::Capture(_) | MainError::Daemon(_) | MainError::Ctl(_) => exit::RUNTIME,
            MainError::Identity(_) => exit::RUNTIME,
            MainError::Pki(_)
            | MainError::Refused(_)
            | MainError::Output(_)
            | MainError::Report(_) => exit::FAILURE,
            MainError::Verify(_) => exit::USAGE,
            #[cfg(feature = "examiner")]
            MainError::Export(e) if e.is_usage() => exit::USAGE,
            #[cfg(feature = "examiner")]
            MainError::Export(_) => exit::RUNTIME,
            #[cfg(feature = "dock-agent")]
            MainError::Agent(e) => agent_exit_code(e),
        };
        u8::try_from(code).unwrap_or(1)
    }
}

#[cfg(feature = "dock-agent")]
fn agent_exit_code(e: &bodycam::agent::AgentError) -> i32 {
    use bodycam::agent::AgentError;
    if e.is_config() {
        return exit::CONFIG;
    }
    match e {
        AgentError::Usage(_) => exit::USAGE,
        AgentError::Container(_) | AgentError::Runtime { .. } => exit::RUNTIME,
        AgentError::Config(_)
        | AgentError::Tls(_)
        | AgentError::Blob(_)
        | AgentError::StateDir { .. }
        | AgentError::NothingToClassify { .. }
        | AgentError::Vanished(_)
        | AgentError::Fetch(_)
        | AgentError::Assign(_)
        | AgentError::Incomplete(_)
        | AgentError::Write { .. } => exit::FAILURE,
    }
}

/// How a command that ran ended: positively (exit 0), negatively (exit 1: something
/// did not verify, or was left on a camera), or, for `verify`, with evidence that
/// verifies only against the key found in it (exit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Positive,
    Negative,
    Unconfirmed,
    /// `run`: the camera powered itself down (`exit::POWERED_DOWN`).
    PoweredDown,
}

/// Pretty-print `value` as JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> Result<(), MainError> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn run(config: Option<PathBuf>) -> Result<Outcome, MainError> {
    init_logging();
    let cfg = Config::load(config.as_deref())?;
    capture::init()?;
    let encoder = match capture::resolve_encoder(cfg.camera.encoder) {
        Ok(e) => e,
        // An encoder named in the config that is not there is a configuration error.
        Err(e) if cfg.camera.encoder != EncoderChoice::Auto => {
            return Err(ConfigError::Invalid {
                key: "camera.encoder",
                reason: e.to_string(),
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    let backends = daemon::Backends::from_config(&cfg, encoder)?;
    let (handle, shutdown) = daemon::shutdown_channel();
    daemon::shutdown_on_signals(handle)?;
    match daemon::run(cfg, backends, shutdown)? {
        daemon::Stopped::Clean => Ok(Outcome::Positive),
        daemon::Stopped::PoweredDown => Ok(Outcome::PoweredDown),
    }
}

fn pipeline(config: Option<PathBuf>) -> Result<Outcome, MainError> {
    let cfg = Config::load(config.as_deref())?;
    capture::init()?;
    let enc = capture::resolve_encoder(cfg.camera.encoder)?;
    let aac = if cfg.audio.enabled {
        Some(capture::resolve_aac()?)
    } else {
        None
    };
    println!("{}", capture::pipeline_description(&cfg, enc, aac));
    Ok(Outcome::Positive)
}

fn pki_dev(dir: &std::path::Path, names: Vec<String>) -> Result<Outcome, MainError> {
    let names = if names.is_empty() {
        bodycam::pki::DEFAULT_CAMERA_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        names
    };
    let p = bodycam::pki::dev_pki(dir, &names)?;
    println!(
        "development PKI written to {} (for trying it out only)",
        p.dir.display()
    );
    println!(
        "  CA:     {}  (sha256 {})",
        p.ca_cert.display(),
        p.ca_sha256
    );
    println!(
        "  dock:   {} {}",
        p.dock_cert.display(),
        p.dock_key.display()
    );
    println!(
        "  camera: {} {}",
        p.camera_cert.display(),
        p.camera_key.display()
    );
    if let Some(f) = &p.footage {
        println!(
            "  footage: {} (recipient, key id {}) {} (private, for export)",
            f.public.display(),
            f.key_id,
            f.private.display()
        );
    }
    println!(
        "camera config:\n[dock]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"",
        p.ca_cert.display(),
        p.camera_cert.display(),
        p.camera_key.display()
    );
    if let Some(f) = &p.footage {
        println!(
            "[evidence]\nencryption = \"required\"\nrecipients = [\"{}\"]",
            f.public.display()
        );
    }
    Ok(Outcome::Positive)
}

fn identity(config: Option<PathBuf>, json: bool) -> Result<Outcome, MainError> {
    let cfg = Config::load(config.as_deref())?;
    let public = Identity::load(&cfg.key_dir())?.public();
    if json {
        print_json(&public)?;
    } else {
        println!("device id:  {}", public.device_id);
        println!("public key: {} (ed25519)", public.public_key);
    }
    Ok(Outcome::Positive)
}

fn ctl_main(
    config: Option<PathBuf>,
    socket: Option<PathBuf>,
    answer_json: bool,
    command: CtlCmd,
) -> Result<Outcome, MainError> {
    let path = match socket {
        Some(p) => p,
        None => Config::load(config.as_deref())?.socket_path(),
    };
    let (req, json) = match command {
        CtlCmd::Status { json } => (Request::Status, json),
        CtlCmd::Button { action } => (Request::Button { action }, false),
        CtlCmd::Record { action } => (Request::Record { action }, false),
        CtlCmd::Marker => (Request::Marker, false),
        CtlCmd::Stealth => (Request::Stealth, false),
        CtlCmd::Dock => (Request::Dock, false),
        CtlCmd::Undock => (Request::Undock, false),
        CtlCmd::Head { nonce } => (Request::Head { nonce }, true),
        CtlCmd::Trigger { name } => (Request::Trigger { name }, false),
        CtlCmd::Mute => (Request::Mute, false),
        CtlCmd::Sleep => (Request::Sleep, false),
        CtlCmd::Wake => (Request::Wake, false),
        CtlCmd::Battery { value, charging } => (Request::Battery { value, charging }, false),
        CtlCmd::PowerFail => (Request::PowerFail, false),
    };
    let resp = ctl::call(&path, &req, Duration::from_secs(15))?;
    // `--json` prints the answer itself, whatever it is; status and head keep their
    // own JSON below.
    if answer_json && resp.status.is_none() && resp.head.is_none() {
        print_json(&resp)?;
    }
    if !resp.ok {
        return Err(MainError::Refused(
            resp.error.unwrap_or_else(|| "no reason given".into()),
        ));
    }
    if let Some(head) = resp.head {
        print_json(&head)?;
    }
    if let Some(state) = resp.state {
        println!("{state}");
    }
    if let Some(status) = resp.status {
        if json || answer_json {
            print_json(&status)?;
        } else {
            print!("{}", status.render());
        }
    }
    Ok(Outcome::Positive)
}

fn verify(opts: VerifyOptions, json: bool, gpx: Option<PathBuf>) -> Result<Outcome, MainError> {
    let report = bodycam::evidence::verify::verify(&opts)?;
    if let Some(path) = gpx {
        let mut file = std::fs::File::create(&path).map_err(MainError::Report)?;
        verify::write_gpx(&report, &mut file)
            .and_then(|()| file.sync_all())
            .map_err(MainError::Report)?;
    }
    let mut out = std::io::stdout().lock();
    let written = if json {
        verify::render_json(&report, &mut out)
    } else {
        verify::render(&report, &mut out)
    };
    written
        .and_then(|()| out.flush())
        .map_err(MainError::Report)?;
    Ok(if report.ok {
        Outcome::Positive
    } else if report.verifies {
        Outcome::Unconfirmed
    } else {
        Outcome::Negative
    })
}

#[cfg(feature = "examiner")]
fn export(opts: bodycam::export::ExportOptions) -> Result<Outcome, MainError> {
    let out = opts.out.clone();
    let report = bodycam::export::export(&opts)?;
    for r in &report.recordings {
        let mp4 = r
            .mp4
            .as_ref()
            .map_or("no MP4".to_string(), |m| m.file.clone());
        let exported = r.segments.iter().filter(|s| s.exported.is_some()).count();
        println!(
            "{}: {exported}/{} segment(s) exported, {mp4}",
            r.recording_id,
            r.segments.len()
        );
    }
    println!("encryption: {}", report.encryption);
    println!("verification: {}", report.verification.verdict);
    for i in &report.incomplete {
        println!("  ! {i}");
    }
    println!(
        "report: {} and {}",
        out.join("report.json").display(),
        out.join("report.html").display()
    );
    Ok(if report.complete {
        Outcome::Positive
    } else {
        Outcome::Negative
    })
}

#[cfg(feature = "examiner")]
fn pki_footage_key(dir: &std::path::Path, name: &str) -> Result<Outcome, MainError> {
    let k = bodycam::pki::footage_key(dir, name)?;
    println!("footage key pair written (key id {})", k.key_id);
    println!(
        "  private: {}  (0600: for the agency's examiners; never put it on a camera)",
        k.private.display()
    );
    println!("  public:  {}  (for cameras)", k.public.display());
    println!(
        "camera config:\n[evidence]\nencryption = \"required\"\nrecipients = [\"{}\"]",
        k.public.display()
    );
    Ok(Outcome::Positive)
}

#[cfg(feature = "dock-agent")]
fn dock_agent(
    config: &std::path::Path,
    once: bool,
    command: Option<AgentCmd>,
) -> Result<Outcome, MainError> {
    use bodycam::agent::{self, Finished};
    init_logging_default("warn");
    let finished = match command {
        None => agent::main(config, once)?,
        Some(AgentCmd::Assign {
            bay,
            officer,
            clear,
        }) => agent::assign_main(config, &bay, if clear { None } else { officer.as_deref() })?,
        Some(AgentCmd::Classify {
            evidence,
            category,
            case_id,
            hold,
            release_hold,
            by,
            mut targets,
        }) => {
            let category = match evidence {
                Some(t) => {
                    targets.insert(0, t);
                    Some(agent::config::EVIDENCE.to_string())
                }
                None => category,
            };
            let change = agent::classify::Change {
                category,
                case: case_id,
                hold: match (hold, release_hold) {
                    (true, _) => Some(true),
                    (false, true) => Some(false),
                    (false, false) => None,
                },
                operator: by.unwrap_or_else(agent::classify::default_operator),
            };
            agent::classify_main(config, &targets, change)?
        }
        Some(AgentCmd::Fetch { device, out }) => agent::fetch_main(config, &device, &out)?,
        Some(AgentCmd::Retention { apply }) => agent::retention_main(config, apply)?,
        Some(AgentCmd::LifecyclePolicy) => agent::lifecycle_main(config)?,
        Some(AgentCmd::Custody { target, out }) => {
            agent::custody_main(config, &target, out.as_deref())?
        }
    };
    Ok(match finished {
        Finished::Complete => Outcome::Positive,
        Finished::Incomplete => Outcome::Negative,
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE as u8 } else { 0 });
        }
    };
    let prefix = match &cli.command {
        #[cfg(feature = "dock-agent")]
        Cmd::DockAgent { .. } => "bodycam dock-agent",
        Cmd::Verify { .. } => "bodycam verify",
        #[cfg(feature = "examiner")]
        Cmd::Export { .. } => "bodycam export",
        _ => "bodycam",
    };
    let result = match cli.command {
        Cmd::Run { config } => run(config),
        Cmd::Pipeline { config } => pipeline(config),
        Cmd::Identity { config, json } => identity(config, json),
        Cmd::Pki {
            command: PkiCmd::Dev { dir, names },
        } => pki_dev(&dir, names),
        #[cfg(feature = "examiner")]
        Cmd::Pki {
            command: PkiCmd::FootageKey { dir, name },
        } => pki_footage_key(&dir, &name),
        #[cfg(feature = "examiner")]
        Cmd::Export {
            path,
            key,
            out,
            include_unverified,
            device_key,
            identity,
            trust_store_key,
            thumbnail_seconds,
        } => export(bodycam::export::ExportOptions {
            path,
            key,
            out,
            include_unverified,
            device_key,
            identity,
            trust_store_key,
            thumbnail_seconds,
            progress: std::io::stderr().is_terminal(),
            tools: bodycam::export::remux::Tools::default(),
        }),
        Cmd::Verify {
            path,
            key,
            identity,
            head,
            other_keys,
            other_identities,
            trust_store_key,
            json,
            gpx,
        } => verify(
            VerifyOptions {
                path,
                key_hex: key,
                identity,
                head,
                other_keys,
                other_identities,
                trust_store_key,
                progress: std::io::stderr().is_terminal(),
            },
            json,
            gpx,
        ),
        Cmd::Ctl {
            config,
            socket,
            json,
            command,
        } => ctl_main(config, socket, json, command),
        #[cfg(feature = "dock-agent")]
        Cmd::DockAgent {
            config,
            once,
            command,
        } => dock_agent(&config, once, command),
    };
    match result {
        Ok(Outcome::Positive) => ExitCode::SUCCESS,
        Ok(Outcome::Negative) => ExitCode::from(exit::FAILURE as u8),
        Ok(Outcome::Unconfirmed) => ExitCode::from(exit::UNCONFIRMED as u8),
        Ok(Outcome::PoweredDown) => ExitCode::from(exit::POWERED_DOWN as u8),
        Err(e) => {
            eprintln!("{prefix}: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
