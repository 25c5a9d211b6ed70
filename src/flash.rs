//! The flash filesystem behind a small trait, so that tests can put a crash double
//! (separate "written" and "durable" images) where the real filesystem goes.
//!
//! Closing a segment must never need a block the filesystem may no longer have (another
//! writer can fill it at any moment), so the space a close writes into is set aside
//! when the segment opens: [`FlashFile::reserve`] allocates blocks past a journal's end
//! without changing its length, and [`Flash::reserve_atomic`] allocates the temporary
//! file that a later [`Flash::write_atomic`] fills in place. [`Flash::probe`] tells
//! whether the medium takes writes again after an error.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file being appended to on flash.
pub trait FlashFile: Send + std::fmt::Debug {
    /// Append all of `buf`.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Make everything written so far durable (`fdatasync`).
    fn sync_data(&mut self) -> io::Result<()>;
    /// The file's length as the filesystem has it: after a failed append, how much of
    /// it landed.
    fn file_len(&self) -> io::Result<u64>;
    /// Allocate blocks for the next `bytes` bytes past the end, without changing the
    /// length (`fallocate(FALLOC_FL_KEEP_SIZE)`): appends up to there need no new
    /// block. [`io::ErrorKind::Unsupported`] where the filesystem cannot.
    fn reserve(&mut self, bytes: u64) -> io::Result<()>;
    /// Give back the blocks [`FlashFile::reserve`] allocated past the end.
    fn release_reserve(&mut self) -> io::Result<()>;
}

/// Filesystem operations the store needs.
pub trait Flash: Send + Sync + std::fmt::Debug {
    /// Create a new file for appending; fails if it exists (never overwrite footage).
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn FlashFile>>;
    /// Open a journal or log for appending, creating it if missing.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn FlashFile>>;
    /// Cut a torn record off the end of a journal or the audit log. Never used on media.
    fn truncate_torn(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Replace `path` with `bytes` atomically and durably (temp file, fsync, rename, dir
    /// fsync). A temporary file [`Flash::reserve_atomic`] set aside is filled in place.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Set aside `bytes` of allocated blocks for a later [`Flash::write_atomic`] of
    /// `path`: its temporary file ([`crate::layout::tmp_path`]), created (or kept) with
    /// that many bytes allocated, and made durable.
    fn reserve_atomic(&self, path: &Path, bytes: u64) -> io::Result<()>;
    /// Whether the filesystem holding directory `dir` takes writes: write a small file
    /// there, fsync it and the directory, then remove it.
    fn probe(&self, dir: &Path) -> io::Result<()>;
    /// Create a directory (and parents) and make the new entry durable.
    fn create_dir_durable(&self, path: &Path) -> io::Result<()>;
    /// Bytes available to this process on the filesystem holding `path`.
    fn available_bytes(&self, path: &Path) -> io::Result<u64>;
}

/// The real filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFlash;

/// An append-only file, with the end of the blocks reserved past its end.
#[derive(Debug)]
struct RealFile {
    file: File,
    /// Offset up to which blocks were reserved (0: none).
    reserved_to: u64,
}

impl RealFile {
    fn new(file: File) -> RealFile {
        RealFile {
            file,
            reserved_to: 0,
        }
    }
}

/// `fallocate(2)` on `file`; `Unsupported` where the filesystem has no such call.
fn fallocate(file: &File, mode: libc::c_int, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "range too large",
        ));
    };
    if len == 0 {
        return Ok(());
    }
    // SAFETY: fallocate on an open descriptor owned by `file`; no memory is passed.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), mode, offset, len) };
    if rc == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => {
            Err(io::Error::new(io::ErrorKind::Unsupported, e))
        }
        Some(_) | None => Err(e),
    }
}

impl FlashFile for RealFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
    fn file_len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    fn reserve(&mut self, bytes: u64) -> io::Result<()> {
        let end = self.file_len()?;
        let want = end.saturating_add(bytes);
        if want <= self.reserved_to {
            return Ok(());
        }
        // Already-allocated blocks in the range are left as they are.
        fallocate(&self.file, libc::FALLOC_FL_KEEP_SIZE, end, bytes)?;
        self.reserved_to = want;
        Ok(())
    }
    fn release_reserve(&mut self) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let m = self.file.metadata()?;
        self.reserved_to = 0;
        // ext4 frees blocks past the end on a truncate to the same length (and does
        // not punch holes past it); tmpfs only punches. Whatever is allocated past the
        // end lies within as many bytes past it as the file has blocks.
        self.file.set_len(m.len())?;
        let allocated = m.blocks().saturating_mul(512);
        if allocated == 0 {
            return Ok(());
        }
        let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
        fallocate(&self.file, mode, m.len(), allocated)
    }
}

/// fsync a directory so that entries created or renamed in it survive a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        Some(_) | None => PathBuf::from("."),
    }
}

impl Flash for RealFlash {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn FlashFile>> {
        let f = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(path)?;
        sync_dir(&parent_of(path))?;
        Ok(Box::new(RealFile::new(f)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn FlashFile>> {
        let existed = path.exists();
        let f = OpenOptions::new().append(true).create(true).open(path)?;
        if !existed {
            sync_dir(&parent_of(path))?;
        }
        Ok(Box::new(RealFile::new(f)))
    }

    fn truncate_torn(&self, path: &Path, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.sync_all()
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let dir = parent_of(path);
        if path.file_name().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "path has no file name",
            ));
        }
        let tmp = crate::layout::tmp_path(path);
        {
            // Not truncated first: blocks reserve_atomic allocated are written in place
            // (and whatever a stale temporary file held past the new end is cut).
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&tmp)?;
            f.write_all(bytes)?;
            f.set_len(bytes.len() as u64)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        sync_dir(&dir)
    }

    fn reserve_atomic(&self, path: &Path, bytes: u64) -> io::Result<()> {
        let tmp = crate::layout::tmp_path(path);
        let existed = tmp.exists();
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&tmp)?;
        // Mode 0 allocates and extends the length; a larger temporary file is kept.
        fallocate(&f, 0, 0, bytes)?;
        f.sync_all()?;
        if !existed {
            sync_dir(&parent_of(path))?;
        }
        Ok(())
    }

    fn probe(&self, dir: &Path) -> io::Result<()> {
        let path = dir.join(crate::layout::PROBE_FILE);
        let written = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)?;
            f.write_all(&[0u8; 512])?;
            f.sync_all()?;
            sync_dir(dir)
        })();
        let removed = fs::remove_file(&path).and_then(|()| sync_dir(dir));
        written.and(removed)
    }

    fn create_dir_durable(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)?;
        sync_dir(path)?;
        sync_dir(&parent_of(path))
    }

    fn available_bytes(&self, path: &Path) -> io::Result<u64> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
        // SAFETY: a zeroed statvfs is a valid out-parameter.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
        let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(st.f_bavail as u64 * st.f_frsize as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_new_refuses_to_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.ts");
        let mut f = RealFlash.create_new(&p).unwrap();
        f.write_all(b"footage").unwrap();
        f.sync_data().unwrap();
        let e = RealFlash.create_new(&p).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).unwrap(), b"footage");
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.json");
        RealFlash.write_atomic(&p, b"one").unwrap();
        RealFlash.write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_reserved_temporary_file_is_filled_in_place_and_renamed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("000001.json");
        let tmp = crate::layout::tmp_path(&p);
        RealFlash.reserve_atomic(&p, 16 * 1024).unwrap();
        let m = fs::metadata(&tmp).unwrap();
        assert_eq!(m.len(), 16 * 1024);
        RealFlash.write_atomic(&p, b"{}").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"{}");
        assert!(!tmp.exists());
        // Reserving again over a larger stale temporary file keeps it usable.
        fs::write(&tmp, vec![b'x'; 20_000]).unwrap();
        RealFlash.reserve_atomic(&p, 1024).unwrap();
        RealFlash.write_atomic(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
    }

    #[test]
    fn reserve_keeps_the_length_and_release_gives_the_blocks_back() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("000001.journal");
        let mut f = RealFlash.create_new(&p).unwrap();
        f.write_all(b"record").unwrap();
        match f.reserve(64 * 1024) {
            Ok(()) => {}
            // A filesystem without fallocate (the caller carries on without).
            Err(e) if e.kind() == io::ErrorKind::Unsupported => return,
            Err(e) => panic!("{e}"),
        }
        assert_eq!(f.file_len().unwrap(), 6);
        let blocks = fs::metadata(&p).unwrap().blocks();
        assert!(blocks * 512 >= 64 * 1024, "{blocks} blocks reserved");
        f.write_all(b" more").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"record more");
        f.release_reserve().unwrap();
        assert!(fs::metadata(&p).unwrap().blocks() < blocks);
        assert_eq!(fs::read(&p).unwrap(), b"record more");
    }

    #[test]
    fn probe_leaves_nothing_behind_and_fails_on_a_missing_directory() {
        let d = tempfile::tempdir().unwrap();
        RealFlash.probe(d.path()).unwrap();
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
        assert!(RealFlash.probe(&d.path().join("gone")).is_err());
    }

    #[test]
    fn available_bytes_is_positive() {
        let d = tempfile::tempdir().unwrap();
        assert!(RealFlash.available_bytes(d.path()).unwrap() > 0);
        assert!(
            RealFlash
                .available_bytes(Path::new("/no/such/dir"))
                .is_err()
        );
    }
}
