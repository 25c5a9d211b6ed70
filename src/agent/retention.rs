//! `dock-agent retention [--apply]`: delete footage whose retention period has passed.
//!
//! 1. **Find** (Find Blobs by Tags, never a listing of the container): the blobs whose
//!    `retention` tag (the end of their period, see [`super::tags`]) is before *now −
//!    margin*. The answer is linear in what is due, whatever the container holds.
//! 2. **Decide**, per recording those blobs belong to, from a listing of that recording
//!    only (tags, creation times, legal holds): keep it if any blob is held (Azure legal
//!    hold, or `legal_hold=yes`), its category is indefinite (`evidence`) or not in the
//!    table, or **any** blob is still inside its period, measured from the blob's
//!    creation time at the service + the category's days + the margin, against the
//!    earlier of this host's clock and the service's (`Date`). A host clock that runs
//!    ahead therefore cannot delete early.
//! 3. **Record**, before anything is deleted: one line appended to the device's
//!    deletion log (`<device>/custody/deletions.log`, an append blob,
//!    [`crate::evidence::deletion::DeletionRecord`]): what, when, which rule, the blobs'
//!    hashes, and per segment its signed media hash and its journal's chain span.
//! 4. **Delete** media, sidecar and journal of every segment (journal last), then
//!    **every stored version** of them: on a versioned container deleting a blob only
//!    turns its current version into a previous one, which still holds the footage.
//!    A marker (`<device>/custody/versions-pending/<recording>`, tagged
//!    `retention_pending=versions`) is written before the first delete and removed
//!    after the last version; each run first finishes the removals that markers name
//!    (found by tag), so a crash between the deletes and the versions converges too.
//!
//! Without `--apply` it stops after 2 and prints what it would delete and the bytes.
//! Interrupted anywhere and run again, it converges: a recording already in the log is
//! not recorded twice (only blobs no record covers get a new line), and its remaining
//! blobs are deleted. Crash points for the tests (`BODYCAM_AGENT_FAILPOINT`):
//! `retention-after-record`, `retention-between-deletes`, `retention-before-versions`.
//!
//! Test seam: `BODYCAM_RETENTION_AGE_DAYS=N` treats every blob as N days older than the
//! service says (the job's "now" moves N days on). It is logged as a warning and
//! written into every deletion record it causes (`rule.test_age_days`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::AgentError;
use super::azure::BlobInfo;
use super::classify::recording_blobs;
use super::config::CategoryTable;
use super::failpoint;
use super::names;
use super::offload::Shared;
use super::tags;
use crate::evidence::deletion::{
    ChainSpan, DELETION_FORMAT, DeletedBlob, DeletedSegment, DeletionRecord, DeletionRule,
    parse_log,
};
use crate::evidence::payload::{Payload, decode_file};
use crate::evidence::verify::chain::{Tip, follows};
use crate::layout::{RecordingId, SegmentFile};

/// The test seam's environment variable (see the module documentation).
pub const AGE_ENV: &str = "BODYCAM_RETENTION_AGE_DAYS";

/// Why a recording is kept.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Keep {
    /// A blob is under a legal hold.
    Hold,
    /// Its category is kept indefinitely (`evidence`, or another without days).
    Indefinite(String),
    /// Its category is not in the table (the table changed?): never guessed.
    UnknownCategory(String),
    /// A blob has no `category` tag (uploaded before categories existed; classify it).
    NoCategory,
    /// Its blobs are in different categories (an interrupted classify; run it again).
    MixedCategories,
    /// A blob has no creation time in the listing.
    NoCreationTime,
    /// Still inside its period until then.
    InPeriod(String),
}

impl Keep {
    /// One word for the summary's counts.
    pub fn label(&self) -> &'static str {
        match self {
            Keep::Hold => "legal-hold",
            Keep::Indefinite(_) => "indefinite",
            Keep::UnknownCategory(_) => "unknown-category",
            Keep::NoCategory => "no-category",
            Keep::MixedCategories => "mixed-categories",
            Keep::NoCreationTime => "no-creation-time",
            Keep::InPeriod(_) => "in-period",
        }
    }
}

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Keep::Hold => write!(f, "under a legal hold"),
            Keep::Indefinite(c) => write!(f, "category {c} is kept indefinitely"),
            Keep::UnknownCategory(c) => write!(f, "category {c:?} is not in the table"),
            Keep::NoCategory => write!(f, "a blob has no category tag (classify it)"),
            Keep::MixedCategories => write!(f, "its blobs are in different categories"),
            Keep::NoCreationTime => write!(f, "a blob has no creation time"),
            Keep::InPeriod(until) => write!(f, "inside its period until {until}"),
        }
    }
}

/// What retention does with one recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Leave it.
    Keep(Keep),
    /// Delete it under this rule.
    Delete {
        /// Its category.
        category: String,
        /// Its days.
        days: u32,
        /// Newest creation + days + margin: the moment it became deletable.
        due: DateTime<Utc>,
    },
}

/// The rule (see the module documentation), for one recording's blobs at `now`.
pub fn decide(
    blobs: &[BlobInfo],
    table: &CategoryTable,
    margin_hours: u32,
    now: DateTime<Utc>,
) -> Decision {
    let held = |b: &BlobInfo| {
        b.legal_hold || b.tags.get(tags::LEGAL_HOLD).map(String::as_str) == Some(tags::HOLD_YES)
    };
    if blobs.iter().any(held) {
        return Decision::Keep(Keep::Hold);
    }
    let categories: BTreeSet<Option<&String>> =
        blobs.iter().map(|b| b.tags.get(tags::CATEGORY)).collect();
    let name = match categories.into_iter().collect::<Vec<_>>().as_slice() {
        [Some(c)] => (*c).clone(),
        [None] => return Decision::Keep(Keep::NoCategory),
        [] => return Decision::Keep(Keep::NoCategory),
        v if v.contains(&None) => return Decision::Keep(Keep::NoCategory),
        _ => return Decision::Keep(Keep::MixedCategories),
    };
    let Some(category) = table.get(&name) else {
        return Decision::Keep(Keep::UnknownCategory(name));
    };
    let indefinite_tag = blobs
        .iter()
        .any(|b| b.tags.get(tags::RETENTION).map(String::as_str) == Some(tags::INDEFINITE));
    let Some(days) = category.days.filter(|_| !indefinite_tag) else {
        return Decision::Keep(Keep::Indefinite(name));
    };
    let Some(newest) = blobs
        .iter()
        .map(|b| b.created)
        .collect::<Option<Vec<_>>>()
        .and_then(|c| c.into_iter().max())
    else {
        return Decision::Keep(Keep::NoCreationTime);
    };
    let due = newest
        + chrono::Duration::days(i64::from(days))
        + chrono::Duration::hours(i64::from(margin_hours));
    if now < due {
        return Decision::Keep(Keep::InPeriod(tags::stamp(due)));
    }
    Decision::Delete {
        category: name,
        days,
        due,
    }
}

/// The job's "now": the earlier of this host's clock and the service's, plus the test
/// seam's age.
#[derive(Debug, Clone, Copy)]
struct Now {
    /// The moment used.
    at: DateTime<Utc>,
    /// The same without the test seam's age: when records are written.
    real: DateTime<Utc>,
    /// `service` or `host`.
    source: &'static str,
    /// The test seam, if set.
    age_days: Option<u32>,
}

/// What a run did (or, dry, would do).
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Blobs Find Blobs by Tags returned.
    pub found: usize,
    /// Recordings they belong to.
    pub candidates: usize,
    /// Recordings deleted (or, dry, that would be).
    pub deleted: usize,
    /// Blobs deleted (would be).
    pub blobs: usize,
    /// Bytes deleted (would be).
    pub bytes: u64,
    /// Recordings kept, by reason.
    pub kept: BTreeMap<&'static str, usize>,
    /// Deletion records written.
    pub records: usize,
    /// Previous versions deleted (would be: versions left by an interrupted run).
    pub versions: usize,
    /// What went wrong (the recording concerned is left for the next run).
    pub errors: Vec<String>,
    /// Requests sent to the service.
    pub requests: u64,
}

/// Run the job. `apply`: delete; otherwise only report.
pub async fn run(
    shared: &Shared,
    table: &CategoryTable,
    apply: bool,
) -> Result<Outcome, AgentError> {
    let start_requests = shared.blobs.requests();
    let age_days = test_age()?;
    let margin = shared.cfg.retention.margin_hours;
    let local = Utc::now() + age(age_days);
    let cutoff = local - chrono::Duration::hours(i64::from(margin));
    let expression = format!("\"{}\" < '{}'", tags::RETENTION, tags::stamp(cutoff));
    let (found, service_date) = shared.blobs.find_by_tags(&expression).await?;
    let now = trusted_now(local, service_date, age_days);
    let mut out = Outcome {
        found: found.len(),
        ..Outcome::default()
    };
    let mut recordings: BTreeMap<String, BTreeSet<RecordingId>> = BTreeMap::new();
    for f in &found {
        if let Some((device, rec, _, _)) = names::parse_segment_blob(&f.name) {
            recordings
                .entry(device.to_string())
                .or_default()
                .insert(rec);
        }
    }
    out.candidates = recordings.values().map(BTreeSet::len).sum();
    // Version removals a crash left unfinished come first: their recordings no longer
    // answer the tag query.
    finish_version_removals(shared, apply, &mut out).await?;
    for (device, recs) in &recordings {
        let mut log = DeviceLog::load(shared, device).await?;
        for rec in recs {
            if let Err(e) = one(shared, table, device, rec, now, apply, &mut log, &mut out).await {
                out.errors.push(format!("{device}/{rec}: {e}"));
            }
        }
    }
    out.requests = shared.blobs.requests() - start_requests;
    Ok(out)
}

/// The job's "now" from this host's clock (`local`, already aged by the seam) and the
/// service's `Date` (`service`): the earlier of the two, so that a host clock running
/// ahead cannot delete early.
fn trusted_now(local: DateTime<Utc>, service: Option<DateTime<Utc>>, age_days: Option<u32>) -> Now {
    match service.map(|d| d + age(age_days)) {
        Some(s) if s < local => Now {
            at: s,
            real: s - age(age_days),
            source: "service",
            age_days,
        },
        Some(_) | None => Now {
            at: local,
            real: local - age(age_days),
            source: "host",
            age_days,
        },
    }
}

/// The test seam's value.
pub(super) fn test_age() -> Result<Option<u32>, AgentError> {
    match std::env::var(AGE_ENV) {
        Err(_) => Ok(None),
        Ok(v) => {
            let days: u32 = v
                .parse()
                .ok()
                .filter(|d| *d <= crate::agent::config::MAX_RETENTION_DAYS)
                .ok_or_else(|| AgentError::Usage(format!("{AGE_ENV}={v:?} is not 0 to 36500")))?;
            tracing::warn!(
                days,
                "{AGE_ENV} is set: every blob is treated as {days} days older (test seam; recorded in each deletion record)"
            );
            Ok(Some(days))
        }
    }
}

fn age(days: Option<u32>) -> chrono::Duration {
    chrono::Duration::days(i64::from(days.unwrap_or(0)))
}

/// A device's deletion log as read at the start: which blobs records cover.
struct DeviceLog {
    /// Recording id → the records about it.
    by_recording: BTreeMap<String, Vec<DeletionRecord>>,
    /// Whether the log blob exists (then an append is one request).
    exists: bool,
}

impl DeviceLog {
    async fn load(shared: &Shared, device: &str) -> Result<DeviceLog, AgentError> {
        let mut by_recording: BTreeMap<String, Vec<DeletionRecord>> = BTreeMap::new();
        let log = shared.blobs.get(&names::deletion_log(device)).await?;
        let exists = log.is_some();
        if let Some(bytes) = log {
            for r in parse_log(&String::from_utf8_lossy(&bytes)) {
                match r {
                    Ok(r) => by_recording
                        .entry(r.recording_id.clone())
                        .or_default()
                        .push(r),
                    Err((line, e)) => {
                        tracing::warn!(device, line, error = %e, "unreadable line in the deletion log");
                    }
                }
            }
        }
        Ok(DeviceLog {
            by_recording,
            exists,
        })
    }

    /// Blob names already recorded as deleted for `rec`.
    fn covered(&self, rec: &str) -> BTreeSet<String> {
        self.by_recording
            .get(rec)
            .into_iter()
            .flatten()
            .flat_map(|r| &r.segments)
            .flat_map(|s| &s.blobs)
            .map(|b| b.name.clone())
            .collect()
    }

    /// The recorded facts of segment `seq` of `rec`, if a record has them.
    fn segment(&self, rec: &str, seq: u32) -> Option<&DeletedSegment> {
        self.by_recording
            .get(rec)
            .into_iter()
            .flatten()
            .flat_map(|r| &r.segments)
            .find(|s| s.segment == seq && s.span.is_some())
    }
}

/// Decide about one recording and, with `apply`, record and delete it.
#[allow(clippy::too_many_arguments)]
async fn one(
    shared: &Shared,
    table: &CategoryTable,
    device: &str,
    rec: &RecordingId,
    now: Now,
    apply: bool,
    log: &mut DeviceLog,
    out: &mut Outcome,
) -> Result<(), AgentError> {
    let blobs = recording_blobs(shared, device, rec).await?;
    if blobs.is_empty() {
        return Ok(());
    }
    let margin = shared.cfg.retention.margin_hours;
    let (category, days, due) = match decide(&blobs, table, margin, now.at) {
        Decision::Keep(k) => {
            println!("keep {device}/{rec}: {k}");
            *out.kept.entry(k.label()).or_default() += 1;
            return Ok(());
        }
        Decision::Delete {
            category,
            days,
            due,
        } => (category, days, due),
    };
    let bytes: u64 = blobs.iter().map(|b| b.len).sum();
    let verb = if apply { "delete" } else { "would delete" };
    println!(
        "{verb} {device}/{rec}: {} blob(s), {bytes} bytes (category {category}, {days} days, due {})",
        blobs.len(),
        tags::stamp(due)
    );
    if !apply {
        out.deleted += 1;
        out.blobs += blobs.len();
        out.bytes += bytes;
        return Ok(());
    }
    let rule = DeletionRule {
        category,
        days,
        margin_hours: margin,
        due_utc: tags::stamp(due),
        clock: now.source.to_string(),
        test_age_days: now.age_days,
    };
    if let Some(record) = record_for(shared, device, rec, &blobs, rule, now, log).await? {
        let mut line =
            serde_json::to_vec(&record).map_err(|e| AgentError::Incomplete(e.to_string()))?;
        line.push(b'\n');
        shared
            .blobs
            .append(&names::deletion_log(device), &line, log.exists)
            .await?;
        log.exists = true;
        out.records += 1;
        log.by_recording
            .entry(rec.as_str().to_string())
            .or_default()
            .push(record);
        failpoint::hit("retention-after-record");
    }
    // The marker first: from here until its versions are gone, a rerun finds this
    // recording by the marker's tag even once no current blob answers the query.
    let marker = names::versions_pending(device, rec);
    shared
        .blobs
        .put_new(
            &marker,
            bytes::Bytes::from(format!("{{\"recording\":\"{device}/{rec}\"}}\n")),
            "application/json",
            &[],
            &[(tags::RETENTION_PENDING, tags::VERSIONS)],
        )
        .await?;
    // Media and sidecar first, each segment's journal last: a rerun after a crash can
    // still read what it needs.
    let mut order: Vec<&BlobInfo> = blobs.iter().collect();
    order.sort_by_key(|b| {
        let (_, _, seq, kind) = names::parse_segment_blob(&b.name).unwrap_or((
            "",
            rec.clone(),
            0,
            SegmentFile::Journal,
        ));
        (seq, kind == SegmentFile::Journal)
    });
    for (i, b) in order.iter().enumerate() {
        if shared.blobs.delete(&b.name).await? {
            out.blobs += 1;
            out.bytes += b.len;
        }
        if i == 0 {
            failpoint::hit("retention-between-deletes");
        }
    }
    failpoint::hit("retention-before-versions");
    out.versions += remove_versions(shared, device, rec).await?;
    out.deleted += 1;
    Ok(())
}

/// Delete every stored version of `rec`'s segment blobs (none is current any more),
/// then its marker with the marker's own versions. Returns the segment versions
/// deleted. A version Azure still protects (time-based policy, legal hold) fails the
/// call: the marker stays, and the next run tries again.
async fn remove_versions(
    shared: &Shared,
    device: &str,
    rec: &RecordingId,
) -> Result<usize, AgentError> {
    let mut deleted = 0;
    for v in shared
        .blobs
        .list_versions(&names::recording_prefix(device, rec))
        .await?
    {
        if names::parse_segment_blob(&v.name).is_none() {
            continue;
        }
        // A current blob is not this job's to remove here: one uploaded after the
        // decision (it is in its period), or, unversioned, one whose delete failed (the
        // error was reported and the recording is retried).
        if let (Some(id), false) = (&v.version_id, v.current)
            && shared.blobs.delete_version(&v.name, id).await?
        {
            deleted += 1;
        }
    }
    let marker = names::versions_pending(device, rec);
    shared.blobs.delete(&marker).await?;
    for v in shared.blobs.list_versions(&marker).await? {
        if let (true, Some(id)) = (v.name == marker, &v.version_id) {
            shared.blobs.delete_version(&v.name, id).await?;
        }
    }
    Ok(deleted)
}

/// Finish the version removals that markers name (Find Blobs by Tags
/// `retention_pending = 'versions'`); dry, only count them.
async fn finish_version_removals(
    shared: &Shared,
    apply: bool,
    out: &mut Outcome,
) -> Result<(), AgentError> {
    let expression = format!("\"{}\" = '{}'", tags::RETENTION_PENDING, tags::VERSIONS);
    let (markers, _) = shared.blobs.find_by_tags(&expression).await?;
    for m in markers {
        let Some((device, rec)) = names::parse_versions_pending(&m.name) else {
            continue;
        };
        if !apply {
            println!(
                "would finish removing the stored versions of {device}/{rec} (an interrupted run)"
            );
            continue;
        }
        match remove_versions(shared, device, &rec).await {
            Ok(n) => {
                println!("finished removing the stored versions of {device}/{rec}: {n} version(s)");
                out.versions += n;
            }
            Err(e) => out.errors.push(format!("{device}/{rec}: versions: {e}")),
        }
    }
    Ok(())
}

/// The deletion record for the blobs of `rec` that no earlier record covers (`None`
/// when every blob is covered: an interrupted run is being finished).
async fn record_for(
    shared: &Shared,
    device: &str,
    rec: &RecordingId,
    blobs: &[BlobInfo],
    rule: DeletionRule,
    now: Now,
    log: &DeviceLog,
) -> Result<Option<DeletionRecord>, AgentError> {
    let covered = log.covered(rec.as_str());
    let mut by_seq: BTreeMap<u32, Vec<&BlobInfo>> = BTreeMap::new();
    for b in blobs.iter().filter(|b| !covered.contains(&b.name)) {
        if let Some((_, _, seq, _)) = names::parse_segment_blob(&b.name) {
            by_seq.entry(seq).or_default().push(b);
        }
    }
    if by_seq.is_empty() {
        return Ok(None);
    }
    let key = shared
        .enrolled
        .iter()
        .find(|e| e.device_id == device)
        .map(|e| e.public_key);
    let mut segments = Vec::new();
    for (seq, seg_blobs) in by_seq {
        let journal = blobs.iter().find(|b| {
            names::parse_segment_blob(&b.name).map(|(_, _, s, k)| (s, k))
                == Some((seq, SegmentFile::Journal))
        });
        let facts = match journal {
            Some(j) => {
                let data = shared
                    .blobs
                    .get(&j.name)
                    .await?
                    .ok_or_else(|| AgentError::Vanished(j.name.clone()))?;
                journal_facts(&data, key.as_ref()).map_err(|e| {
                    AgentError::Incomplete(format!(
                        "{}: {e}; not deleted (a deletion must account for the chain)",
                        j.name
                    ))
                })?
            }
            None => match log.segment(rec.as_str(), seq) {
                Some(s) => JournalFacts {
                    span: s.span.unwrap_or(ChainSpan {
                        first_counter: 0,
                        first_prev_hash: [0; 32],
                        last_counter: 0,
                        last_hash: [0; 32],
                    }),
                    media_sha256: s.media_sha256.clone(),
                    sidecar_sha256: s.sidecar_sha256.clone(),
                    verified: s.journal_verified,
                },
                None => {
                    return Err(AgentError::Incomplete(format!(
                        "segment {seq:06} has no journal in the container and no earlier deletion record; not deleted"
                    )));
                }
            },
        };
        segments.push(DeletedSegment {
            segment: seq,
            media_sha256: facts.media_sha256,
            sidecar_sha256: facts.sidecar_sha256,
            span: Some(facts.span),
            journal_verified: facts.verified,
            utc: seg_blobs.iter().find_map(|b| {
                let m = |k: &str| b.metadata.get(k).filter(|v| !v.is_empty()).cloned();
                Some([m("utc_start")?, m("utc_end")?])
            }),
            blobs: seg_blobs
                .iter()
                .map(|b| DeletedBlob {
                    name: b.name.clone(),
                    bytes: b.len,
                    sha256: b.metadata.get("sha256").cloned(),
                    created_utc: b.created.map(tags::stamp).unwrap_or_default(),
                })
                .collect(),
        });
    }
    let first = blobs.first();
    let officer = first
        .and_then(|b| b.tags.get(tags::OFFICER))
        .filter(|o| *o != crate::evidence::officer::UNASSIGNED)
        .cloned();
    let bytes = segments
        .iter()
        .flat_map(|s| &s.blobs)
        .map(|b| b.bytes)
        .sum();
    Ok(Some(DeletionRecord {
        format: DELETION_FORMAT.into(),
        device_id: device.to_string(),
        recording_id: rec.as_str().to_string(),
        utc: crate::clock::rfc3339(now.real),
        rule,
        operator: super::classify::default_operator(),
        host: shared.dock.clone(),
        officer,
        case: first.and_then(|b| b.tags.get(tags::CASE)).cloned(),
        segments,
        bytes,
    }))
}

/// What a journal tells a deletion record.
struct JournalFacts {
    span: ChainSpan,
    media_sha256: Option<String>,
    sidecar_sha256: Option<String>,
    verified: bool,
}

/// A journal's chain span and signed hashes: every record decodes and follows the one
/// before it; with the enrolled key, every signature must verify too.
fn journal_facts(data: &[u8], key: Option<&[u8; 32]>) -> Result<JournalFacts, String> {
    let (records, err) = decode_file(data);
    if let Some((pos, e)) = err {
        return Err(format!("journal is not whole at byte {pos}: {e}"));
    }
    let mut span: Option<ChainSpan> = None;
    let mut media = None;
    let mut sidecar = None;
    for r in &records {
        if let Some(k) = key
            && !r.raw.verify(k)
        {
            return Err(format!(
                "journal record {} is not signed by the enrolled key",
                r.header.counter
            ));
        }
        let hash = r.raw.hash();
        span = Some(match span {
            None => ChainSpan {
                first_counter: r.header.counter,
                first_prev_hash: r.header.prev_hash,
                last_counter: r.header.counter,
                last_hash: hash,
            },
            Some(s) => {
                let tip = Tip {
                    counter: s.last_counter,
                    hash: s.last_hash,
                };
                follows(Some(tip), r.header.counter, &r.header.prev_hash)
                    .map_err(|_| format!("journal record {} does not link", r.header.counter))?;
                ChainSpan {
                    last_counter: r.header.counter,
                    last_hash: hash,
                    ..s
                }
            }
        });
        match &r.payload {
            Payload::Final(f) => {
                media = Some(hex::encode(f.segment_sha256));
                sidecar = Some(hex::encode(f.sidecar_sha256));
            }
            Payload::Recovery(rc) => {
                media = Some(hex::encode(rc.segment_sha256));
                sidecar = Some(hex::encode(rc.sidecar_sha256));
            }
            Payload::Keys(_)
            | Payload::Checkpoint(_)
            | Payload::Location(_)
            | Payload::SealedLocation(_)
            | Payload::Audit(_)
            | Payload::Head(_) => {}
        }
    }
    Ok(JournalFacts {
        span: span.ok_or("journal holds no records")?,
        media_sha256: media,
        sidecar_sha256: sidecar,
        verified: key.is_some(),
    })
}

/// Print the run's summary.
pub fn print_outcome(o: &Outcome, apply: bool) {
    let kept: Vec<String> = o.kept.iter().map(|(k, n)| format!("{k}={n}")).collect();
    let verb = if apply { "deleted" } else { "would delete" };
    println!(
        "retention: {} due blob(s) found by tag, {} recording(s) looked at; {verb} {} recording(s), {} blob(s), {} bytes, {} previous version(s); kept {}; {} deletion record(s) written; {} request(s){}",
        o.found,
        o.candidates,
        o.deleted,
        o.blobs,
        o.bytes,
        o.versions,
        if kept.is_empty() {
            "none".to_string()
        } else {
            kept.join(" ")
        },
        o.records,
        o.requests,
        if apply {
            ""
        } else {
            " (dry run: nothing deleted; --apply to delete)"
        }
    );
    for e in &o.errors {
        println!("retention: ERROR {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::config::{Category, CategoryTable};

    fn table() -> CategoryTable {
        CategoryTable {
            categories: vec![
                Category {
                    name: "standard".into(),
                    days: Some(31),
                },
                Category {
                    name: "evidence".into(),
                    days: None,
                },
                Category {
                    name: "traffic".into(),
                    days: Some(90),
                },
            ],
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn blob(created: &str, tags: &[(&str, &str)]) -> BlobInfo {
        BlobInfo {
            name: "x".into(),
            created: Some(t(created)),
            len: 1,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            metadata: BTreeMap::new(),
            legal_hold: false,
        }
    }

    #[test]
    fn a_recording_goes_only_when_every_blob_is_past_its_period_and_the_margin() {
        let std = [("category", "standard")];
        let old = blob("2026-01-01T00:00:00Z", &std);
        let newer = blob("2026-01-20T00:00:00Z", &std);
        let now = t("2026-02-10T00:00:00Z");
        // The older blob alone would be due (31 days + 24 h passed on Feb 2)...
        assert!(matches!(
            decide(std::slice::from_ref(&old), &table(), 24, now),
            Decision::Delete { days: 31, .. }
        ));
        // ...but the newer one keeps the whole recording until Feb 21 + 24 h.
        assert_eq!(
            decide(&[old.clone(), newer.clone()], &table(), 24, now),
            Decision::Keep(Keep::InPeriod("2026-02-21T00:00:00Z".into()))
        );
        // The margin: 31 days exactly is not enough.
        assert!(matches!(
            decide(
                std::slice::from_ref(&old),
                &table(),
                24,
                t("2026-02-01T12:00:00Z")
            ),
            Decision::Keep(Keep::InPeriod(_))
        ));
        assert!(matches!(
            decide(
                std::slice::from_ref(&old),
                &table(),
                24,
                t("2026-02-02T00:00:00Z")
            ),
            Decision::Delete { .. }
        ));
    }

    #[test]
    fn a_host_clock_running_ahead_does_not_move_now() {
        let service = t("2026-03-01T00:00:00Z");
        let ahead = t("2026-06-01T00:00:00Z");
        let n = trusted_now(ahead, Some(service), None);
        assert_eq!((n.at, n.source), (service, "service"));
        // A recording due on Apr 1 by the host's clock stays.
        let b = blob("2026-02-20T00:00:00Z", &[("category", "standard")]);
        assert!(matches!(
            decide(std::slice::from_ref(&b), &table(), 24, n.at),
            Decision::Keep(Keep::InPeriod(_))
        ));
        // A host clock behind the service's is used as it is (late, never early).
        let behind = t("2026-02-01T00:00:00Z");
        assert_eq!(trusted_now(behind, Some(service), None).source, "host");
        assert_eq!(trusted_now(behind, None, None).at, behind);
        // The seam ages both; records keep the real time.
        let n = trusted_now(ahead + chrono::Duration::days(40), Some(service), Some(40));
        assert_eq!(n.at, service + chrono::Duration::days(40));
        assert_eq!(n.real, service);
    }

    #[test]
    fn evidence_holds_unknown_and_mixed_categories_are_kept() {
        let now = t("2030-01-01T00:00:00Z");
        let d = |b: &[BlobInfo]| decide(b, &table(), 24, now);
        assert_eq!(
            d(&[blob("2026-01-01T00:00:00Z", &[("category", "evidence")])]),
            Decision::Keep(Keep::Indefinite("evidence".into()))
        );
        assert_eq!(
            d(&[blob(
                "2026-01-01T00:00:00Z",
                &[("category", "standard"), ("legal_hold", "yes")]
            )]),
            Decision::Keep(Keep::Hold)
        );
        let mut azure_hold = blob("2026-01-01T00:00:00Z", &[("category", "standard")]);
        azure_hold.legal_hold = true;
        assert_eq!(d(&[azure_hold]), Decision::Keep(Keep::Hold));
        assert_eq!(
            d(&[blob("2026-01-01T00:00:00Z", &[("category", "gone")])]),
            Decision::Keep(Keep::UnknownCategory("gone".into()))
        );
        assert_eq!(
            d(&[blob("2026-01-01T00:00:00Z", &[("retention", "standard")])]),
            Decision::Keep(Keep::NoCategory)
        );
        assert_eq!(
            d(&[
                blob("2026-01-01T00:00:00Z", &[("category", "standard")]),
                blob("2026-01-01T00:00:00Z", &[("category", "traffic")])
            ]),
            Decision::Keep(Keep::MixedCategories)
        );
        assert_eq!(
            d(&[blob(
                "2026-01-01T00:00:00Z",
                &[("category", "standard"), ("retention", "indefinite")]
            )]),
            Decision::Keep(Keep::Indefinite("standard".into()))
        );
        let mut unknown_time = blob("2026-01-01T00:00:00Z", &[("category", "standard")]);
        unknown_time.created = None;
        assert_eq!(d(&[unknown_time]), Decision::Keep(Keep::NoCreationTime));
    }
}
