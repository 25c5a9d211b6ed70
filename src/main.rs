//! `bodycam`: the daemon (`run`) and its control client (`ctl`). Thin: parse arguments,
//! load the config, call into the library, map errors to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bodycam::config::{Config, ConfigError, EncoderChoice};
use bodycam::ctl::{self, ButtonAction, RecordAction, Request};
use bodycam::evidence::identity::Identity;
use bodycam::{capture, daemon, exit};
use clap::{Parser, Subcommand};

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
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
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
        #[command(subcommand)]
        command: CtlCmd,
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
    /// Mark a recording's blobs as evidence (kept indefinitely).
    Classify {
        /// DEVICE/RECORDING, e.g. 0123…cdef/20261125T175328Z.
        #[arg(long)]
        evidence: String,
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
        /// press (marker), double (start), triple (stealth), hold (stop), bounce (press with contact bounce)
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

/// Pretty-print `value` as JSON on stdout; the exit code on failure.
fn print_json(value: &impl serde::Serialize) -> Result<(), i32> {
    match serde_json::to_string_pretty(value) {
        Ok(s) => {
            println!("{s}");
            Ok(())
        }
        Err(e) => {
            eprintln!("bodycam: {e}");
            Err(exit::FAILURE)
        }
    }
}

fn config_error(e: &ConfigError) -> i32 {
    eprintln!("bodycam: {e}");
    exit::CONFIG
}

fn run(config: Option<PathBuf>) -> i32 {
    init_logging();
    let cfg = match Config::load(config.as_deref()) {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    if let Err(e) = capture::init() {
        eprintln!("bodycam: {e}");
        return exit::RUNTIME;
    }
    let encoder = match capture::resolve_encoder(cfg.camera.encoder) {
        Ok(e) => e,
        Err(e) if cfg.camera.encoder != EncoderChoice::Auto => {
            return config_error(&ConfigError::Invalid {
                key: "camera.encoder",
                reason: e.to_string(),
            });
        }
        Err(e) => {
            eprintln!("bodycam: {e}");
            return exit::RUNTIME;
        }
    };
    let started = daemon::Backends::from_config(&cfg, encoder).and_then(|backends| {
        let (handle, shutdown) = daemon::shutdown_channel();
        daemon::shutdown_on_signals(handle)?;
        daemon::run(cfg, backends, shutdown)
    });
    match started {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("bodycam: {e}");
            exit::RUNTIME
        }
    }
}

fn pipeline(config: Option<PathBuf>) -> i32 {
    let cfg = match Config::load(config.as_deref()) {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    if let Err(e) = capture::init() {
        eprintln!("bodycam: {e}");
        return exit::RUNTIME;
    }
    let described = capture::resolve_encoder(cfg.camera.encoder).and_then(|enc| {
        let aac = if cfg.audio.enabled {
            Some(capture::resolve_aac()?)
        } else {
            None
        };
        Ok(capture::pipeline_description(&cfg, enc, aac))
    });
    match described {
        Ok(d) => {
            println!("{d}");
            exit::OK
        }
        Err(e) => {
            eprintln!("bodycam: {e}");
            exit::RUNTIME
        }
    }
}

fn pki_dev(dir: &std::path::Path, names: Vec<String>) -> i32 {
    let names = if names.is_empty() {
        bodycam::pki::DEFAULT_CAMERA_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        names
    };
    match bodycam::pki::dev_pki(dir, &names) {
        Ok(p) => {
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
            println!(
                "camera config:\n[dock]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"",
                p.ca_cert.display(),
                p.camera_cert.display(),
                p.camera_key.display()
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("bodycam: {e}");
            exit::FAILURE
        }
    }
}

fn identity(config: Option<PathBuf>, json: bool) -> i32 {
    let cfg = match Config::load(config.as_deref()) {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    match Identity::load(&cfg.key_dir()) {
        Ok(id) => {
            let public = id.public();
            if json {
                if let Err(code) = print_json(&public) {
                    return code;
                }
            } else {
                println!("device id:  {}", public.device_id);
                println!("public key: {} (ed25519)", public.public_key);
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("bodycam: {e}");
            exit::RUNTIME
        }
    }
}

fn ctl_main(config: Option<PathBuf>, socket: Option<PathBuf>, command: CtlCmd) -> i32 {
    let path = match socket {
        Some(p) => p,
        None => match Config::load(config.as_deref()) {
            Ok(c) => c.socket_path(),
            Err(e) => return config_error(&e),
        },
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
    };
    match ctl::call(&path, &req, Duration::from_secs(15)) {
        Ok(resp) if resp.ok => {
            if let Some(head) = resp.head
                && let Err(code) = print_json(&head)
            {
                return code;
            }
            if let Some(status) = resp.status {
                if json {
                    if let Err(code) = print_json(&status) {
                        return code;
                    }
                } else {
                    print!("{}", status.render());
                }
            }
            exit::OK
        }
        Ok(resp) => {
            eprintln!(
                "bodycam: daemon refused: {}",
                resp.error.unwrap_or_else(|| "no reason given".into())
            );
            exit::FAILURE
        }
        Err(e) => {
            eprintln!("bodycam: {e}");
            exit::RUNTIME
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE as u8 } else { 0 });
        }
    };
    let code = match cli.command {
        Cmd::Run { config } => run(config),
        Cmd::Pipeline { config } => pipeline(config),
        Cmd::Identity { config, json } => identity(config, json),
        Cmd::Pki {
            command: PkiCmd::Dev { dir, names },
        } => pki_dev(&dir, names),
        Cmd::Verify {
            path,
            key,
            identity,
            head,
            json,
        } => bodycam::evidence::verify::main(
            &path,
            key.as_deref(),
            identity.as_deref(),
            head.as_deref(),
            json,
        ),
        Cmd::Ctl {
            config,
            socket,
            command,
        } => ctl_main(config, socket, command),
        #[cfg(feature = "dock-agent")]
        Cmd::DockAgent {
            config,
            once,
            command,
        } => {
            init_logging_default("warn");
            match command {
                None => bodycam::agent::main(&config, once),
                Some(AgentCmd::Classify { evidence }) => {
                    bodycam::agent::classify_main(&config, &evidence)
                }
                Some(AgentCmd::Fetch { device, out }) => {
                    bodycam::agent::fetch_main(&config, &device, &out)
                }
            }
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
