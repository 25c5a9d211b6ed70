//! `bodycam dock-agent`: the dock side of offloading. Runs on the dock (station PC or
//! dock appliance), never on the camera, and is built only with the `dock-agent` cargo
//! feature.
//!
//! For every configured bay at once (bounded by `concurrency`) it offloads the docked
//! camera ([`offload::sync_camera`]); `--once` makes one pass and exits 0 only if every
//! docked camera is completely offloaded, otherwise it passes again every
//! `poll_seconds` until SIGTERM. `classify --evidence DEVICE/RECORDING` marks a
//! recording's blobs as evidence ([`classify`]).
//!
//! Modules:
//! - [`config`]: the agent's TOML configuration.
//! - [`camera`]: the mutual-TLS client for a camera's dock API (resumable downloads).
//! - [`chain`]: media-chain continuity across journals and offloads.
//! - [`ledger`]: per-device record of the last offloaded chain record.
//! - [`azure`]: Azure Blob Storage (object_store, plus Shared Key REST calls).
//! - [`offload`]: one camera's offload, segment by segment.
//! - [`progress`]: progress bars and summary lines.
//! - [`failpoint`]: crash injection for the interruption tests.
//! - [`fetch`]: rebuild a device's store from the container for `bodycam verify`.

pub mod azure;
pub mod camera;
pub mod chain;
pub mod config;
pub mod failpoint;
pub mod fetch;
pub mod ledger;
pub mod offload;
pub mod progress;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use crate::exit;
use crate::layout::RecordingId;
use azure::BlobStore;
use config::AgentConfig;
use offload::{Outcome, RETENTION_EVIDENCE, RETENTION_TAG, Shared, Summary};
use progress::Bars;

/// Set up everything shared; `Err` is a configuration problem (exit 78).
fn shared(cfg: AgentConfig) -> Result<Arc<Shared>, String> {
    let enrolled = cfg.enrolled_devices().map_err(|e| e.to_string())?;
    let tls = camera::client_tls(&cfg.tls).map_err(|e| e.to_string())?;
    let blobs = BlobStore::new(&cfg).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&cfg.state_dir)
        .map_err(|e| format!("state_dir {}: {e}", cfg.state_dir.display()))?;
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

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn load(config: &Path) -> Result<Arc<Shared>, i32> {
    install_crypto_provider();
    let cfg = AgentConfig::load(config).map_err(|e| {
        eprintln!("bodycam dock-agent: {e}");
        exit::CONFIG
    })?;
    shared(cfg).map_err(|e| {
        eprintln!("bodycam dock-agent: {e}");
        exit::CONFIG
    })
}

/// Configuration, shared state and the runtime every subcommand needs; `Err` is the
/// exit code (78 config, 70 runtime), already reported.
fn setup(config: &Path) -> Result<(Arc<Shared>, tokio::runtime::Runtime), i32> {
    let shared = load(config)?;
    let rt = runtime().map_err(|e| {
        eprintln!("bodycam dock-agent: {e}");
        exit::RUNTIME
    })?;
    Ok((shared, rt))
}

/// `bodycam dock-agent --config FILE [--once]`; returns the exit code.
pub fn main(config: &Path, once: bool) -> i32 {
    let (shared, rt) = match setup(config) {
        Ok(v) => v,
        Err(code) => return code,
    };
    rt.block_on(async move {
        if shared.cfg.azure.create_container
            && let Err(e) = shared.blobs.ensure_container().await
        {
            eprintln!("bodycam dock-agent: {e}");
            return exit::RUNTIME;
        }
        let bars = Bars::new(std::io::stderr().is_terminal());
        if once {
            let summaries = pass(&shared, &bars, &BTreeMap::new()).await;
            let complete = summaries
                .iter()
                .all(|s| matches!(s.outcome, Outcome::Complete | Outcome::NotDocked));
            return if complete { exit::OK } else { exit::FAILURE };
        }
        let mut last: BTreeMap<String, Outcome> = BTreeMap::new();
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("bodycam dock-agent: cannot watch SIGTERM: {e}");
                    return exit::RUNTIME;
                }
            };
        loop {
            for s in pass(&shared, &bars, &last).await {
                last.insert(s.camera.clone(), s.outcome);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(shared.cfg.poll_seconds)) => {}
                _ = term.recv() => return exit::OK,
                _ = tokio::signal::ctrl_c() => return exit::OK,
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

/// `bodycam dock-agent --config FILE classify --evidence DEVICE/RECORDING`.
pub fn classify_main(config: &Path, target: &str) -> i32 {
    let Some((device, recording)) = parse_target(target) else {
        eprintln!(
            "bodycam dock-agent classify: {target:?} is not DEVICE/RECORDING (32 hex digits / YYYYMMDDTHHMMSSZ)"
        );
        return exit::USAGE;
    };
    let (shared, rt) = match setup(config) {
        Ok(v) => v,
        Err(code) => return code,
    };
    rt.block_on(async move {
        match classify(&shared, &device, &recording).await {
            Ok(n) => {
                println!("classified {n} blob(s) of {device}/{recording} as evidence");
                exit::OK
            }
            Err(e) => {
                eprintln!("bodycam dock-agent classify: {e}");
                exit::FAILURE
            }
        }
    })
}

/// `bodycam dock-agent --config FILE fetch DEVICE --out DIR`.
pub fn fetch_main(config: &Path, device: &str, out: &Path) -> i32 {
    let device = device.to_ascii_lowercase();
    if device.len() != 32 || !device.bytes().all(|b| b.is_ascii_hexdigit()) {
        eprintln!("bodycam dock-agent fetch: {device:?} is not a device id (32 hex digits)");
        return exit::USAGE;
    }
    let (shared, rt) = match setup(config) {
        Ok(v) => v,
        Err(code) => return code,
    };
    rt.block_on(async move {
        match fetch::fetch(&shared, &device, out).await {
            Ok(f) => {
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
                exit::OK
            }
            Err(e) => {
                eprintln!("bodycam dock-agent fetch: {e}");
                exit::FAILURE
            }
        }
    })
}

fn parse_target(t: &str) -> Option<(String, String)> {
    let (dev, rec) = t.trim_end_matches('/').split_once('/')?;
    let dev_ok = dev.len() == 32 && dev.bytes().all(|b| b.is_ascii_hexdigit());
    let rec = RecordingId::parse(rec)?;
    dev_ok.then(|| (dev.to_ascii_lowercase(), rec.as_str().to_string()))
}

/// Mark every blob of the recording as evidence: a legal hold first (when configured:
/// the protection that matters), then the `retention` index tag, then the metadata's
/// `retention_class`. Azure refuses metadata changes on immutable blobs, so a refused
/// metadata update is reported and tolerated: the tag and the hold are the
/// classification (docs/DEPLOYMENT.md). Idempotent. Returns the number of blobs.
pub async fn classify(shared: &Shared, device: &str, recording: &str) -> Result<usize, String> {
    let prefix = format!("{device}/{recording}/");
    let blobs = shared
        .blobs
        .list(&prefix)
        .await
        .map_err(|e| e.to_string())?;
    if blobs.is_empty() {
        return Err(format!(
            "no blobs under {prefix} in container {} (not offloaded yet?)",
            shared.cfg.azure.container
        ));
    }
    let when = crate::clock::rfc3339(chrono::Utc::now());
    for b in &blobs {
        if shared.cfg.azure.legal_hold {
            shared
                .blobs
                .set_legal_hold(b)
                .await
                .map_err(|e| e.to_string())?;
        }
        shared
            .blobs
            .set_tags(b, &[(RETENTION_TAG, RETENTION_EVIDENCE)])
            .await
            .map_err(|e| e.to_string())?;
        let mut meta = shared
            .blobs
            .metadata(b)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{b} disappeared while classifying"))?;
        meta.insert("retention_class".into(), RETENTION_EVIDENCE.into());
        meta.insert("retain_until".into(), "indefinite".into());
        meta.insert("classified_utc".into(), when.clone());
        match shared.blobs.set_metadata(b, &meta).await {
            Ok(()) => println!("{b}: evidence"),
            Err(e) => println!(
                "{b}: evidence (tag{}; metadata unchanged: {e})",
                if shared.cfg.azure.legal_hold {
                    " and legal hold"
                } else {
                    ""
                }
            ),
        }
    }
    Ok(blobs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_targets_are_strict() {
        let dev = "0123456789abcdef0123456789ABCDEF";
        assert_eq!(
            parse_target(&format!("{dev}/20261125T175328Z")),
            Some((dev.to_ascii_lowercase(), "20261125T175328Z".into()))
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
