//! `bodycam dock-agent`: the dock side of offloading. Runs on the dock (station PC or
//! dock appliance), never on the camera, and is built only with the `dock-agent` cargo
//! feature.
//!
//! For every configured bay at once (bounded by `concurrency`) it offloads the docked
//! camera ([`offload::sync_camera`]); `--once` makes one pass and exits 0 only if every
//! docked camera is completely offloaded, otherwise it passes again every
//! `poll_seconds` until SIGTERM. Other commands: `assign` ([`assign`]), `classify`
//! ([`classify`]), `retention` ([`retention`]), `lifecycle-policy` ([`lifecycle`]),
//! `custody` ([`custody`]), `fetch` ([`fetch`]).
//!
//! Modules:
//! - [`config`]: the agent's TOML configuration.
//! - [`camera`]: the mutual-TLS client for a camera's dock API (resumable downloads).
//! - [`chain`]: media-chain continuity across journals and offloads.
//! - [`ledger`]: per-device record of the last offloaded chain record.
//! - [`azure`]: Azure Blob Storage (object_store, plus Shared Key REST calls).
//! - [`offload`]: one camera's offload, segment by segment.
//! - [`segment`]: one segment: download, verify, store, read back, acknowledge.
//! - [`names`]: the blob names in the container.
//! - [`records`]: the audit log and head statement into the container.
//! - [`summary`]: what a camera's offload did, as one line.
//! - [`progress`]: progress bars and summary lines.
//! - [`failpoint`]: crash injection for the interruption tests.
//! - [`fetch`]: rebuild a device's store from the container for `bodycam verify`.
//! - [`assign`]: officer assignment (`assign`, and the bays' assignment files).
//! - [`tags`]: the blob index tags (category, retention, officer, case, legal hold).
//! - [`classify`]: categories, case ids and holds, with the classification log.
//! - [`retention`]: the retention job (Find Blobs by Tags, deletion records).
//! - [`lifecycle`]: the equivalent Azure lifecycle-management policy.
//! - [`custody`]: the chain-of-custody report of one recording (JSON and HTML).
//! - [`priority`]: the upload order (markers, triggers and peer starts first).

pub mod assign;
pub mod azure;
pub mod camera;
pub mod chain;
pub mod classify;
pub mod config;
pub mod custody;
pub mod failpoint;
pub mod fetch;
pub mod ledger;
pub mod lifecycle;
pub mod names;
pub mod offload;
pub mod priority;
pub mod progress;
pub mod records;
pub mod retention;
pub mod segment;
pub mod spread;
pub mod summary;
pub mod tags;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use crate::layout::RecordingId;
use azure::BlobStore;
use config::{AgentConfig, AgentConfigError};
use offload::{Outcome, Shared, Summary};
use progress::Bars;

/// Why a dock-agent command could not do its work. The binary maps each to its exit
/// code.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration file is unusable.
    #[error(transparent)]
    Config(#[from] AgentConfigError),
    /// The TLS files towards the cameras are unusable.
    #[error(transparent)]
    Tls(#[from] camera::CameraError),
    /// The Azure store cannot be set up, or a request to it failed.
    #[error(transparent)]
    Blob(#[from] azure::BlobError),
    /// The state directory cannot be created.
    #[error("state_dir {path}: {source}")]
    StateDir {
        /// Path.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The container could not be created (`azure.create_container`).
    #[error("cannot create the container: {0}")]
    Container(azure::BlobError),
    /// The async runtime or the SIGTERM watch cannot start.
    #[error("cannot start the {what}: {source}")]
    Runtime {
        /// What.
        what: &'static str,
        /// Cause.
        source: std::io::Error,
    },
    /// A command-line argument is malformed.
    #[error("{0}")]
    Usage(String),
    /// `classify` found nothing to classify.
    #[error("no blobs under {prefix} in container {container} (not offloaded yet?)")]
    NothingToClassify {
        /// The blob prefix.
        prefix: String,
        /// The container.
        container: String,
    },
    /// A blob went away while it was being classified.
    #[error("{0} disappeared while classifying")]
    Vanished(String),
    /// `fetch` could not rebuild the store.
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    /// `assign` could not assign the camera.
    #[error(transparent)]
    Assign(#[from] assign::AssignError),
    /// `retention` or `custody` could not do all of its work.
    #[error("{0}")]
    Incomplete(String),
    /// A report could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// Path.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

impl AgentError {
    /// Whether the configuration (rather than the world) is at fault.
    pub fn is_config(&self) -> bool {
        match self {
            AgentError::Config(_) | AgentError::Tls(_) | AgentError::StateDir { .. } => true,
            AgentError::Blob(azure::BlobError::Setup(_)) => true,
            AgentError::Blob(azure::BlobError::Request { .. })
            | AgentError::Container(_)
            | AgentError::Runtime { .. }
            | AgentError::Usage(_)
            | AgentError::NothingToClassify { .. }
            | AgentError::Vanished(_)
            | AgentError::Fetch(_)
            | AgentError::Assign(_)
            | AgentError::Incomplete(_)
            | AgentError::Write { .. } => false,
        }
    }
}

/// How a completed `dock-agent` command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Everything was done (`--once`: every docked camera fully offloaded).
    Complete,
    /// `--once`: something was left on a camera or quarantined.
    Incomplete,
}

/// Set up everything shared; the TLS files towards the cameras only when `cameras`
/// (offload, `assign`): a records workstation running `classify`, `retention`,
/// `custody` or `fetch` needs no dock certificate.
fn shared(cfg: AgentConfig, cameras: bool) -> Result<Arc<Shared>, AgentError> {
    let enrolled = cfg.enrolled_devices()?;
    let tls = if cameras {
        Some(camera::client_tls(&cfg.tls)?)
    } else {
        None
    };
    let blobs = BlobStore::new(&cfg)?;
    std::fs::create_dir_all(&cfg.state_dir).map_err(|source| AgentError::StateDir {
        path: cfg.state_dir.clone(),
        source,
    })?;
    let dock = cfg.dock_name();
    Ok(Arc::new(Shared {
        cfg: Arc::new(cfg),
        enrolled,
        blobs,
        tls,
        dock,
    }))
}

/// reqwest is built without a default TLS provider: use ring everywhere (the camera
/// link, and HTTPS to Azure). Call before any client is built.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Configuration, shared state and the runtime every subcommand needs (`cameras`: see
/// [`shared`]).
fn setup(
    config: &Path,
    cameras: bool,
) -> Result<(Arc<Shared>, tokio::runtime::Runtime), AgentError> {
    install_crypto_provider();
    let shared = shared(AgentConfig::load(config)?, cameras)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| AgentError::Runtime {
            what: "async runtime",
            source,
        })?;
    Ok((shared, rt))
}

/// `bodycam dock-agent --config FILE [--once]`: offload the bays once, or every
/// `poll_seconds` until SIGTERM.
pub fn main(config: &Path, once: bool) -> Result<Finished, AgentError> {
    let (shared, rt) = setup(config, true)?;
    rt.block_on(async move {
        if shared.cfg.azure.create_container {
            shared
                .blobs
                .ensure_container()
                .await
                .map_err(AgentError::Container)?;
        }
        let bars = Bars::new(std::io::stderr().is_terminal());
        if once {
            let summaries = pass(&shared, &bars, &BTreeMap::new()).await;
            let complete = summaries
                .iter()
                .all(|s| matches!(s.outcome, Outcome::Complete | Outcome::NotDocked));
            return Ok(if complete {
                Finished::Complete
            } else {
                Finished::Incomplete
            });
        }
        let mut last: BTreeMap<String, Outcome> = BTreeMap::new();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|source| AgentError::Runtime {
                what: "SIGTERM watch",
                source,
            })?;
        loop {
            for s in pass(&shared, &bars, &last).await {
                last.insert(s.camera.clone(), s.outcome);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(shared.cfg.poll_seconds)) => {}
                _ = term.recv() => return Ok(Finished::Complete),
                _ = tokio::signal::ctrl_c() => return Ok(Finished::Complete),
            }
        }
    })
}

/// One pass over every bay, `concurrency` at a time; prints a summary line per camera
/// that is docked. `last`: outcomes of the previous pass (a camera found complete
/// is only looked at again when it has new segments).
async fn pass(shared: &Arc<Shared>, bars: &Bars, last: &BTreeMap<String, Outcome>) -> Vec<Summary> {
    let jobs = shared.cfg.cameras.iter().cloned().map(|cam| {
        let shared = shared.clone();
        let bar = bars.bar(&cam.name);
        let quiet = last.get(&cam.name) == Some(&Outcome::Complete);
        tokio::spawn(offload::sync_camera(shared, cam, bar, quiet))
    });
    let results: Vec<_> = futures::stream::iter(jobs)
        .buffer_unordered(shared.cfg.concurrency)
        .collect()
        .await;
    let mut out = Vec::new();
    for r in results {
        match r {
            Ok(s) => {
                let repeat_empty_bay = s.outcome == Outcome::NotDocked
                    && last.get(&s.camera) == Some(&Outcome::NotDocked);
                if !s.quiet && !repeat_empty_bay {
                    bars.println(&s.line());
                }
                out.push(s);
            }
            Err(e) => {
                bars.println(&format!("internal error: camera task failed: {e}"));
                let mut s = Summary::failed("?", format!("task failed: {e}"));
                s.outcome = Outcome::Incomplete;
                out.push(s);
            }
        }
    }
    out.sort_by(|a, b| a.camera.cmp(&b.camera));
    out
}

/// `bodycam dock-agent --config FILE classify [--category C] [--case ID] [--hold |
/// --release-hold] TARGET...` (`--evidence TARGET` is `--category evidence TARGET`).
pub fn classify_main(
    config: &Path,
    targets: &[String],
    change: classify::Change,
) -> Result<Finished, AgentError> {
    if targets.is_empty() {
        return Err(AgentError::Usage(
            "classify: name at least one DEVICE/RECORDING".into(),
        ));
    }
    let mut parsed = Vec::new();
    for t in targets {
        let Some((device, recording)) = parse_target(t) else {
            return Err(AgentError::Usage(format!(
                "classify: {t:?} is not DEVICE/RECORDING (32 hex digits / YYYYMMDDTHHMMSSZ)"
            )));
        };
        parsed.push((device, recording));
    }
    let (shared, rt) = setup(config, false)?;
    let table = shared.cfg.categories()?;
    change.check(&table)?;
    rt.block_on(async {
        for (device, recording) in &parsed {
            let n = classify::classify(&shared, &table, device, recording, &change).await?;
            println!("classified {n} blob(s) of {device}/{recording}");
        }
        Ok::<(), AgentError>(())
    })?;
    Ok(Finished::Complete)
}

/// `bodycam dock-agent --config FILE assign BAY (OFFICER_ID | --clear)`.
pub fn assign_main(
    config: &Path,
    bay: &str,
    officer: Option<&str>,
) -> Result<Finished, AgentError> {
    let officer = match officer {
        Some(o) => Some(
            crate::evidence::officer::OfficerId::parse(o)
                .map_err(|e| AgentError::Usage(format!("assign: {e}")))?,
        ),
        None => None,
    };
    let (shared, rt) = setup(config, true)?;
    let r = rt.block_on(assign::assign_bay(&shared, bay, officer.as_ref()))?;
    let now = r.officer.as_deref().unwrap_or("nobody (unassigned)");
    let before = r.previous.as_deref().unwrap_or("unassigned");
    println!(
        "{bay}: assigned to {now} (was {before}) at {}",
        r.assigned_utc
    );
    if let Some(open) = &r.recording_open {
        println!(
            "{bay}: recording {open} is in progress and keeps its officer; the assignment applies from the next recording"
        );
    }
    Ok(Finished::Complete)
}

/// `bodycam dock-agent --config FILE retention [--apply]`: exit 0 when every due
/// recording was dealt with (deleted, or kept for a reason), 1 when some could not be.
pub fn retention_main(config: &Path, apply: bool) -> Result<Finished, AgentError> {
    let (shared, rt) = setup(config, false)?;
    let table = shared.cfg.categories()?;
    let started = std::time::Instant::now();
    let o = rt.block_on(retention::run(&shared, &table, apply))?;
    retention::print_outcome(&o, apply);
    println!("retention: {:.2} s", started.elapsed().as_secs_f64());
    Ok(if o.errors.is_empty() {
        Finished::Complete
    } else {
        Finished::Incomplete
    })
}

/// `bodycam dock-agent --config FILE lifecycle-policy`: print the policy (JSON).
pub fn lifecycle_main(config: &Path) -> Result<Finished, AgentError> {
    let cfg = AgentConfig::load(config)?;
    let p = lifecycle::policy(&cfg)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&p).map_err(|e| AgentError::Incomplete(e.to_string()))?
    );
    Ok(Finished::Complete)
}

/// `bodycam dock-agent --config FILE custody DEVICE/RECORDING [--out DIR]`: the
/// chain-of-custody report, into DIR (`custody.json`, `custody.html`) or as JSON on
/// stdout.
pub fn custody_main(
    config: &Path,
    target: &str,
    out: Option<&Path>,
) -> Result<Finished, AgentError> {
    let Some((device, recording)) = parse_target(target) else {
        return Err(AgentError::Usage(format!(
            "custody: {target:?} is not DEVICE/RECORDING (32 hex digits / YYYYMMDDTHHMMSSZ)"
        )));
    };
    let (shared, rt) = setup(config, false)?;
    let report = rt.block_on(custody::report(&shared, &device, &recording))?;
    match out {
        Some(dir) => {
            custody::write(&report, dir).map_err(|source| AgentError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
            println!(
                "custody report for {device}/{recording}: {} and {}",
                dir.join("custody.json").display(),
                dir.join("custody.html").display()
            );
        }
        None => println!(
            "{}",
            serde_json::to_string_pretty(&report)
                .map_err(|e| AgentError::Incomplete(e.to_string()))?
        ),
    }
    Ok(Finished::Complete)
}

/// `bodycam dock-agent --config FILE fetch DEVICE --out DIR`.
pub fn fetch_main(config: &Path, device: &str, out: &Path) -> Result<Finished, AgentError> {
    let device = device.to_ascii_lowercase();
    if device.len() != 32 || !device.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AgentError::Usage(format!(
            "fetch: {device:?} is not a device id (32 hex digits)"
        )));
    }
    let (shared, rt) = setup(config, false)?;
    let f = rt.block_on(fetch::fetch(&shared, &device, out))?;
    println!(
        "fetched {} segment file(s), audit log {}, {} head statement(s) into {}",
        f.segment_files,
        f.audit.as_deref().unwrap_or("(none)"),
        f.heads.len(),
        out.display()
    );
    if let Some(h) = f.heads.last() {
        println!(
            "verify with: bodycam verify --identity <enrolled identity.json> --head {h} {}",
            out.display()
        );
    }
    Ok(Finished::Complete)
}

fn parse_target(t: &str) -> Option<(String, RecordingId)> {
    let (dev, rec) = t.trim_end_matches('/').split_once('/')?;
    let dev_ok = dev.len() == 32 && dev.bytes().all(|b| b.is_ascii_hexdigit());
    let rec = RecordingId::parse(rec)?;
    dev_ok.then(|| (dev.to_ascii_lowercase(), rec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_targets_are_strict() {
        let dev = "0123456789abcdef0123456789ABCDEF";
        assert_eq!(
            parse_target(&format!("{dev}/20261125T175328Z")),
            Some((
                dev.to_ascii_lowercase(),
                RecordingId::parse("20261125T175328Z").unwrap()
            ))
        );
        for bad in [
            "x/20261125T175328Z".to_string(),
            format!("{dev}/../20261125T175328Z"),
            format!("{dev}/20261125T175328Z/000001.ts"),
            dev.to_string(),
            format!("{dev}/2026"),
        ] {
            assert_eq!(parse_target(&bad), None, "{bad}");
        }
    }
}
