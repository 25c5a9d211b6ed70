//! The camera's device-wide evidence into the container after its segments: the audit
//! log (verified, or quarantined) and the head statement the offload was made against.

use std::path::Path;

use bytes::Bytes;

use super::camera::CameraClient;
use super::names;
use super::offload::{Device, OffloadError, Shared, ascii_header, remove_with_parts, sha256_hex};
use super::summary::Summary;
use super::tags;
use crate::evidence::head::HeadStatement;
use crate::evidence::verify::verify_audit_log;
use crate::layout;

/// Download the audit log, verify it, and store it as `<device>/audit/<entries>.log`
/// (quarantine when it does not verify).
pub(super) async fn upload_audit(
    shared: &Shared,
    client: &CameraClient,
    device: &Device,
    mirror: &Path,
    summary: &mut Summary,
) -> Result<(), OffloadError> {
    let path = layout::audit_path(mirror);
    let audit_err = |e: &dyn std::fmt::Display| OffloadError::Audit(e.to_string());
    let mut attempt = 0;
    let (report, data) = loop {
        attempt += 1;
        remove_with_parts(&path);
        client
            .download("/v1/audit", &path, &|_| {})
            .await
            .map_err(|e| audit_err(&e))?;
        let key = device.key;
        let p = path.clone();
        let report = tokio::task::spawn_blocking(move || verify_audit_log(&key, &p))
            .await
            .map_err(|e| audit_err(&format!("verifier: {e}")))?;
        if report.status.passes() || attempt == 2 {
            let data = std::fs::read(&path).map_err(|e| audit_err(&e))?;
            break (report, data);
        }
    };
    let sha = sha256_hex(&data);
    let mut meta = vec![
        ("device", device.id.clone()),
        ("entries", report.entries.to_string()),
        ("sha256", sha.clone()),
        ("verify_status", report.status.label().to_string()),
        ("dock", shared.dock.clone()),
    ];
    let blob = if report.status.passes() {
        names::audit_blob(&device.id, report.entries)
    } else {
        let problems: Vec<String> = report.findings.iter().map(|f| f.message.clone()).collect();
        let reason = problems.join("; ");
        meta.push(("quarantine_reason", ascii_header(&reason)));
        summary
            .quarantined
            .push(format!("audit log: {}: {reason}", report.status.label()));
        names::quarantined_audit_blob(&device.id, report.entries, &sha)
    };
    shared
        .blobs
        .put_new(
            &blob,
            Bytes::from(data),
            "application/octet-stream",
            &meta,
            // Device-wide evidence: needed to verify what remains, never selected by
            // the retention job or a lifecycle rule.
            &[(tags::RETENTION, tags::INDEFINITE)],
        )
        .await
        .map_err(|e| audit_err(&e))?;
    let stored = shared
        .blobs
        .read_back(&blob)
        .await
        .map_err(|e| audit_err(&e))?;
    if stored.as_ref().map(|s| s.sha256.as_str()) != Some(sha.as_str()) {
        // Same number of entries, different bytes: two different histories.
        summary.errors.push(format!(
            "audit log: blob {blob} holds different bytes than the camera's log with the same number of entries (forked history?)"
        ));
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// Keep the signed head statement this offload was made against.
pub(super) async fn upload_head(
    shared: &Shared,
    device: &Device,
    head: &HeadStatement,
    nonce: &[u8],
) -> Result<(), OffloadError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let blob = names::head_blob(&device.id, &stamp, &hex::encode(nonce));
    let body = serde_json::to_vec_pretty(head).unwrap_or_default();
    let meta = vec![
        ("device", device.id.clone()),
        ("sha256", sha256_hex(&body)),
        ("dock", shared.dock.clone()),
    ];
    shared
        .blobs
        .put_new(
            &blob,
            Bytes::from(body),
            "application/json",
            &meta,
            // Device-wide evidence: needed to verify what remains, never selected by
            // the retention job or a lifecycle rule.
            &[(tags::RETENTION, tags::INDEFINITE)],
        )
        .await
        .map_err(OffloadError::StoreHead)?;
    Ok(())
}
