use super::*;

/// Build the controls backend named by the config (picked once, here).
pub(super) fn controls_backend(
    cfg: &Config,
    timings: GestureTimings,
) -> Result<(Box<dyn ControlsBackend>, Option<SimButton>), controls::ControlsError> {
    match cfg.controls.backend {
        ControlsBackendKind::Simulated => {
            let sim = SimulatedControls::new(timings);
            let button = sim.button();
            Ok((Box::new(sim), Some(button)))
        }
        ControlsBackendKind::Gpio => {
            let k = &cfg.controls;
            let gpio = controls::gpio::GpioControls::new(controls::gpio::GpioPins {
                button: k.button_pin,
                red: k.red_pin,
                green: k.green_pin,
                amber: k.amber_pin,
                haptic: k.haptic_pin,
            })?;
            Ok((Box::new(gpio), None))
        }
    }
}

/// Gesture timings from the config.
pub fn gesture_timings(cfg: &Config) -> GestureTimings {
    let k = &cfg.controls;
    GestureTimings {
        debounce: Duration::from_millis(u64::from(k.debounce_ms)),
        multi_press_gap: Duration::from_millis(u64::from(k.multi_press_gap_ms)),
        hold: Duration::from_millis(u64::from(k.hold_ms)),
        max_tap: Duration::from_millis(u64::from(k.max_tap_ms)),
    }
}

/// Milliseconds between the wall clock and the monotonic clock (changes when the wall
/// clock is set or jumps).
pub(super) fn clock_offset_ms() -> i64 {
    chrono::Utc::now().timestamp_millis() - (crate::clock::monotonic_ns() / 1_000_000) as i64
}

/// Load the identity, find the chain heads, open the audit log, record the boot, and
/// recover segments left open.
pub(super) fn open_evidence(
    cfg: &Config,
    store: &mut Store,
) -> Result<(Signer, AuditLog, Vec<crate::store::recovery::Recovered>), DaemonError> {
    let found =
        scan::scan(store.flash(), store.root()).map_err(|source| DaemonError::Evidence {
            path: store.root().to_path_buf(),
            source,
        })?;
    let (identity, created) = Identity::load_or_create(&cfg.key_dir(), found.any_evidence)?;
    let own = hex::encode(identity.device_id());
    for other in found.device_ids.iter().filter(|d| **d != own) {
        warn!(device = %other, "evidence on flash was signed by another device id");
    }
    if let Some((offset, reason)) = &found.audit_damaged {
        error!(offset, %reason, "the audit log is damaged before its end; left as it is");
    }
    let (media_head, audit_head) = found.heads_for(&own);
    let mut signer = Signer::new(
        identity,
        Box::new(SystemTime),
        boot_id(),
        media_head,
        audit_head,
    );
    let audit_path = store.audit_path();
    let mut audit =
        AuditLog::open(store.flash(), &audit_path).map_err(|source| DaemonError::Evidence {
            path: audit_path.clone(),
            source,
        })?;
    let mut log = |signer: &mut Signer, event: &str, detail: serde_json::Value| {
        audit
            .append(signer, event, detail)
            .map_err(|source| DaemonError::Evidence {
                path: audit_path.clone(),
                source,
            })
    };
    if created {
        info!(device = %own, "device key created");
        log(
            &mut signer,
            events::KEY_CREATED,
            serde_json::json!({ "device_id": own }),
        )?;
    }
    if found.audit_torn_bytes > 0 {
        log(
            &mut signer,
            events::TORN_TAIL_REMOVED,
            serde_json::json!({ "file": "audit.log", "bytes": found.audit_torn_bytes }),
        )?;
    }
    if found
        .last_audit_event
        .as_deref()
        .is_some_and(|e| e != events::SHUTDOWN)
    {
        warn!("the previous run ended without a clean shutdown");
        log(
            &mut signer,
            events::UNCLEAN_SHUTDOWN,
            serde_json::json!({ "last_event": found.last_audit_event }),
        )?;
    }
    log(
        &mut signer,
        events::BOOT,
        serde_json::json!({
            "firmware": env!("CARGO_PKG_VERSION"),
            "config_sha256": cfg.digest(),
            "device_id": own,
            "media_chain_count": media_head.count,
            "clock_synchronised": crate::clock::clock_synchronised(),
        }),
    )?;
    let recovered = store.recover(&mut signer)?;
    for r in &recovered {
        warn!(
            path = %r.path.display(),
            tail_seconds = r.tail_seconds,
            tail_bytes = r.tail_bytes,
            "recovered a segment left open by an unclean shutdown"
        );
        log(
            &mut signer,
            events::RECOVERY,
            serde_json::json!({
                "recording_id": r.meta.recording_id,
                "segment": r.meta.sequence,
                "tail_bytes": r.tail_bytes,
                "tail_seconds": r.tail_seconds,
                "journal_torn_bytes": r.journal_torn_bytes,
            }),
        )?;
    }
    Ok((signer, audit, recovered))
}

pub(super) fn spawn_signal_thread(tx: Sender<Input>) -> Result<(), DaemonError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGINT]).map_err(DaemonError::Signals)?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                let _ = tx.send(Input::Shutdown);
            }
        })
        .map_err(DaemonError::Signals)?;
    Ok(())
}
