//! Start-up evidence, before the loop runs: load (or create) the device identity, find
//! where both chains stand, open the audit log, record the boot, and recover segments a
//! crash left open.

use tracing::{error, info, warn};

use super::DaemonError;
use crate::confidential::sealing::Footage;
use crate::config::{Config, EncryptionMode};
use crate::evidence::audit::AuditLog;
use crate::evidence::events::AuditEvent;
use crate::evidence::identity::Identity;
use crate::evidence::{Signer, SystemTime, boot_id, scan};
use crate::layout::AUDIT_FILE;
use crate::store::Store;

/// The evidence side of a started daemon.
pub(super) struct Evidence {
    /// Signs records and advances both chains from where they stood on flash.
    pub signer: Signer,
    /// The audit log, open for appending.
    pub audit: AuditLog,
    /// Segments recovery closed.
    pub recovered: usize,
}

/// Load the identity, find the chain heads, open the audit log, record the boot, and
/// recover segments left open.
pub(super) fn open_evidence(cfg: &Config, store: &mut Store) -> Result<Evidence, DaemonError> {
    let evidence_err = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| DaemonError::Evidence { path, source }
    };
    let found = scan::scan(store.flash(), store.root()).map_err(evidence_err(store.root()))?;
    let (identity, created) = Identity::load_or_create(&cfg.key_dir(), found.any_evidence)?;
    let own = hex::encode(identity.device_id());
    for other in found.device_ids.iter().filter(|d| **d != own) {
        warn!(device = %other, "evidence on flash was signed by another device id");
    }
    if let Some((offset, reason)) = &found.audit_damaged {
        error!(offset, %reason, "the audit log is damaged before its end; left as it is");
    }
    let (media_head, audit_head) = found.heads_for(&own);
    let footage = match cfg.evidence.encryption {
        EncryptionMode::Off => Footage::off(),
        EncryptionMode::Required => Footage::required(cfg.evidence.recipients.clone())?,
    };
    match footage.mode() {
        EncryptionMode::Off => warn!(
            "footage encryption is OFF ([evidence] encryption = \"off\"): segments are written as plain MPEG-TS that anyone holding the storage can play"
        ),
        EncryptionMode::Required => info!(
            key_ids = %footage.key_ids().join(","),
            "footage encryption required: every segment is encrypted to {} recipient(s); this camera cannot decrypt it",
            footage.key_ids().len()
        ),
    }
    let mut signer = Signer::new(
        identity,
        Box::new(SystemTime),
        boot_id(),
        media_head,
        audit_head,
    )
    .with_footage(footage);
    let audit_path = store.audit_path();
    let mut audit =
        AuditLog::open(store.flash(), &audit_path).map_err(evidence_err(&audit_path))?;
    let mut log = |signer: &mut Signer, event: AuditEvent| {
        audit
            .append(signer, &event)
            .map_err(evidence_err(&audit_path))
    };
    if created {
        info!(device = %own, "device key created");
        log(
            &mut signer,
            AuditEvent::KeyCreated {
                device_id: own.clone(),
            },
        )?;
    }
    if found.audit_torn_bytes > 0 {
        log(
            &mut signer,
            AuditEvent::TornTailRemoved {
                file: AUDIT_FILE.to_string(),
                bytes: found.audit_torn_bytes,
            },
        )?;
    }
    let shutdown = AuditEvent::Shutdown {}.name();
    if found
        .last_audit_event
        .as_deref()
        .is_some_and(|e| e != shutdown)
    {
        warn!("the previous run ended without a clean shutdown");
        log(
            &mut signer,
            AuditEvent::UncleanShutdown {
                last_event: found.last_audit_event.clone(),
            },
        )?;
    }
    log(
        &mut signer,
        AuditEvent::Boot {
            firmware: env!("CARGO_PKG_VERSION").to_string(),
            config_sha256: cfg.digest(),
            device_id: own,
            media_chain_count: media_head.count,
            clock_synchronised: crate::clock::clock_synchronised(),
        },
    )?;
    let encryption = AuditEvent::Encryption {
        mode: signer.footage().mode().name().to_string(),
        key_ids: signer.footage().key_ids(),
        reason: "boot".into(),
        error: None,
    };
    log(&mut signer, encryption)?;
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
            AuditEvent::Recovery {
                recording_id: r.meta.recording_id.clone(),
                segment: r.meta.sequence,
                tail_bytes: r.tail_bytes,
                tail_seconds: r.tail_seconds,
                journal_torn_bytes: r.journal_torn_bytes,
            },
        )?;
    }
    Ok(Evidence {
        signer,
        audit,
        recovered: recovered.len(),
    })
}
