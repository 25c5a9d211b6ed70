//! Footage on flash: capacity accounting, recordings and their segments being written,
//! offload bookkeeping and start-up recovery (the names are [`crate::layout`]'s).
//! Nothing here deletes or overwrites footage a dock has not acknowledged.
//!
//! After a write or fsync error the store *latches* (as redb does with `PreviousIo`):
//! it refuses new recordings and footage ([`StoreError::Latched`]) until a probe write
//! and fsync succeed ([`Store::probe`]); closing what is open is still attempted.

pub mod offload;
pub mod recording;
pub mod recovery;
pub mod segment;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::TimeRef;
use crate::config::StorageConfig;
use crate::evidence::Signer;
use crate::evidence::sidecar::{EndReason, SegmentMeta};
use crate::flash::Flash;
use crate::layout;
use crate::media::Frame;
use recording::{NewRecording, Offer, RecordingWriter};
use recovery::Recovered;

/// Bytes kept free below the quota/free space: what a segment sets aside for its close
/// when it opens (journal, sidecar and `media.head` reserves, see [`segment`]), the audit
/// log's reserve and the small files of a new recording. A store with less is full.
pub const CLOSE_RESERVE_BYTES: u64 = 256 * 1024;

/// Storage errors; each names the path involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O operation failed.
    #[error("cannot {what} {path}: {source}")]
    Io {
        /// The operation.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An earlier write or fsync failed; nothing new is written until a probe succeeds.
    #[error("the store takes no writes since an earlier error ({0}) until a probe write succeeds")]
    Latched(String),
}

impl StoreError {
    /// Build an I/O error for `what` on `path`.
    pub fn io(what: &'static str, path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the filesystem (or a quota) is out of space.
    pub fn no_space(&self) -> bool {
        match self {
            StoreError::Io { source, .. } => matches!(
                source.raw_os_error(),
                Some(libc::ENOSPC) | Some(libc::EDQUOT)
            ),
            StoreError::Latched(_) => false,
        }
    }
}

/// Why a latched store refuses writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latch {
    /// The error that latched it.
    pub error: String,
    /// It was the filesystem (or a quota) running out of space.
    pub no_space: bool,
}

/// Capacity as shown in `ctl status`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Capacity {
    /// Bytes of footage under `storage.path`.
    pub used_bytes: u64,
    /// Bytes that may still be written (quota and free space, less the close reserve).
    pub available_bytes: u64,
    /// Hours of footage that still fit at the configured bitrate.
    pub hours_left: f64,
    /// Below `storage.reserve_hours`.
    pub low: bool,
}

/// The store.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    recordings: PathBuf,
    flash: Arc<dyn Flash>,
    max_bytes: Option<u64>,
    reserve_hours: f64,
    bytes_per_second: f64,
    used_bytes: u64,
    fs_available: u64,
    written_since_refresh: u64,
    /// Set by the first write or fsync error; cleared by a probe that succeeds.
    latch: Option<Latch>,
}

impl Store {
    /// Open (creating directories). Call [`Store::recover`] once a signer exists.
    pub fn open(
        cfg: &StorageConfig,
        bytes_per_second: f64,
        flash: Arc<dyn Flash>,
    ) -> Result<Store, StoreError> {
        let root = cfg.path.clone();
        let recordings = layout::recordings_dir(&root);
        flash
            .create_dir_durable(&recordings)
            .map_err(|e| StoreError::io("create", &recordings, e))?;
        let evidence = layout::evidence_dir(&root);
        flash
            .create_dir_durable(&evidence)
            .map_err(|e| StoreError::io("create", &evidence, e))?;
        let used_bytes = dir_size(&root).map_err(|e| StoreError::io("measure", &root, e))?;
        let mut store = Store {
            root,
            recordings,
            flash,
            max_bytes: cfg.max_bytes,
            reserve_hours: cfg.reserve_hours,
            bytes_per_second,
            used_bytes,
            fs_available: 0,
            written_since_refresh: 0,
            latch: None,
        };
        store.refresh()?;
        Ok(store)
    }

    /// Close segments left open by a crash (see [`recovery`]).
    pub fn recover(&mut self, signer: &mut Signer) -> Result<Vec<Recovered>, StoreError> {
        let out = recovery::recover(self.flash.as_ref(), &self.recordings, signer)?;
        self.used_bytes =
            dir_size(&self.root).map_err(|e| StoreError::io("measure", &self.root, e))?;
        Ok(out)
    }

    /// Where the copy of the newest media record is kept.
    pub fn media_head_path(&self) -> PathBuf {
        layout::media_head_path(&self.root)
    }

    /// Where the audit log is kept.
    pub fn audit_path(&self) -> PathBuf {
        layout::audit_path(&self.root)
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The recordings directory.
    pub fn recordings_dir(&self) -> &Path {
        &self.recordings
    }

    /// The flash backend.
    pub fn flash(&self) -> &dyn Flash {
        self.flash.as_ref()
    }

    /// Re-read free space from the filesystem (about once a second).
    pub fn refresh(&mut self) -> Result<(), StoreError> {
        self.fs_available = self
            .flash
            .available_bytes(&self.root)
            .map_err(|e| StoreError::io("read free space of", &self.root, e))?;
        self.written_since_refresh = 0;
        Ok(())
    }

    /// Bytes that may still be appended to footage.
    pub fn budget(&self) -> u64 {
        let fs = self
            .fs_available
            .saturating_sub(self.written_since_refresh)
            .saturating_sub(CLOSE_RESERVE_BYTES);
        match self.max_bytes {
            Some(max) => fs.min(
                max.saturating_sub(self.used_bytes)
                    .saturating_sub(CLOSE_RESERVE_BYTES),
            ),
            None => fs,
        }
    }

    /// Account for `n` bytes appended.
    pub fn account(&mut self, n: u64) {
        self.used_bytes += n;
        self.written_since_refresh += n;
    }

    /// Account for `n` bytes freed.
    pub fn release(&mut self, n: u64) {
        self.used_bytes = self.used_bytes.saturating_sub(n);
    }

    /// Current capacity.
    pub fn capacity(&self) -> Capacity {
        let available = self.budget();
        let hours_left = if self.bytes_per_second > 0.0 {
            available as f64 / self.bytes_per_second / 3600.0
        } else {
            f64::INFINITY
        };
        Capacity {
            used_bytes: self.used_bytes,
            available_bytes: available,
            hours_left,
            low: hours_left < self.reserve_hours,
        }
    }

    /// Whether not even one second of footage fits any more.
    pub fn is_full(&self) -> bool {
        (self.budget() as f64) < self.bytes_per_second
    }

    /// Why the store refuses writes, if it latched.
    pub fn latched(&self) -> Option<&Latch> {
        self.latch.as_ref()
    }

    /// Latch the store after `e` (the first error is kept).
    pub fn latch(&mut self, e: &StoreError) {
        if self.latch.is_none() {
            self.latch = Some(Latch {
                error: e.to_string(),
                no_space: e.no_space(),
            });
        }
    }

    /// `r`, latching the store if it failed.
    fn latching<T>(&mut self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &r {
            self.latch(e);
        }
        r
    }

    /// `Err` while latched.
    fn check(&self) -> Result<(), StoreError> {
        match &self.latch {
            Some(l) => Err(StoreError::Latched(l.error.clone())),
            None => Ok(()),
        }
    }

    /// Write and fsync a probe file below the store's root. On success the latch is
    /// released and free space re-read; on failure the store stays latched.
    pub fn probe(&mut self) -> Result<(), StoreError> {
        self.flash
            .probe(&self.root)
            .map_err(|e| StoreError::io("write a probe file in", &self.root, e))?;
        self.used_bytes =
            dir_size(&self.root).map_err(|e| StoreError::io("measure", &self.root, e))?;
        self.refresh()?;
        self.latch = None;
        Ok(())
    }

    /// Start a new recording directory (refused while latched).
    pub fn new_recording(
        &mut self,
        time: &TimeRef,
        plan: NewRecording,
    ) -> Result<RecordingWriter, StoreError> {
        self.check()?;
        let r = RecordingWriter::create(
            self.flash.as_ref(),
            &self.recordings,
            time,
            plan,
            self.media_head_path(),
        );
        self.latching(r)
    }

    /// Offer the next frame to `rec` within the budget, and account for what was
    /// written (refused while latched; an error latches).
    pub fn offer(
        &mut self,
        rec: &mut RecordingWriter,
        frame: &Frame,
        time: &TimeRef,
        signer: &mut Signer,
    ) -> Result<Offer, StoreError> {
        self.check()?;
        let budget = self.budget();
        let r = rec.offer(self.flash.as_ref(), frame, budget, time, signer);
        if let Ok(Offer::Written(n)) = r {
            self.account(n);
        }
        self.latching(r)
    }

    /// Make `rec`'s open segment durable under a signed checkpoint (refused while
    /// latched; an error latches).
    pub fn checkpoint(
        &mut self,
        rec: &mut RecordingWriter,
        signer: &mut Signer,
    ) -> Result<(), StoreError> {
        self.check()?;
        let r = rec.checkpoint(signer);
        self.latching(r)
    }

    /// Close `rec`'s open segment. Tried even while latched: whatever can still be
    /// closed is closed (its reserved blocks need no new ones); an error latches.
    pub fn close_segment<'r>(
        &mut self,
        rec: &'r mut RecordingWriter,
        reason: EndReason,
        time: &TimeRef,
        signer: &mut Signer,
    ) -> Result<Option<(&'r SegmentMeta, Vec<u8>)>, StoreError> {
        let r = rec.close_segment(self.flash.as_ref(), reason, time, signer);
        if let Err(e) = &r {
            self.latch(e);
        }
        r
    }
}

/// Total size of regular files below `path`.
pub fn dir_size(path: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            total += dir_size(&entry.path())?;
        } else if ft.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StorageConfig;

    fn cfg(path: &Path, max: Option<u64>) -> StorageConfig {
        StorageConfig {
            path: path.to_path_buf(),
            reserve_hours: 12.0,
            max_bytes: max,
            delete_after_ack: false,
        }
    }

    #[test]
    fn quota_limits_budget_and_hours() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(
            &cfg(d.path(), Some(10 * 1024 * 1024)),
            500_000.0,
            Arc::new(crate::flash::RealFlash),
        )
        .unwrap();
        let b = s.budget();
        assert!(b <= 10 * 1024 * 1024 - CLOSE_RESERVE_BYTES);
        let c = s.capacity();
        assert!(c.low, "10 MiB is far below 12 h");
        assert!((c.hours_left - b as f64 / 500_000.0 / 3600.0).abs() < 1e-9);
        s.account(1024 * 1024);
        assert_eq!(s.budget(), b - 1024 * 1024);
        assert!(!s.is_full());
        s.account(9 * 1024 * 1024);
        assert!(s.is_full());
    }

    #[test]
    fn used_bytes_counts_existing_footage() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("recordings/x")).unwrap();
        std::fs::write(d.path().join("recordings/x/000001.json"), vec![0u8; 1000]).unwrap();
        let s = Store::open(&cfg(d.path(), None), 1.0, Arc::new(crate::flash::RealFlash)).unwrap();
        assert_eq!(s.capacity().used_bytes, 1000);
    }
}
