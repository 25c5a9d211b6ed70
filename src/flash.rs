//! The flash filesystem behind a small trait, so that tests can put a crash double
//! (separate "written" and "durable" images) where the real filesystem goes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file being appended to on flash.
pub trait FlashFile: Send + std::fmt::Debug {
    /// Append all of `buf`.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Make everything written so far durable (`fdatasync`).
    fn sync_data(&mut self) -> io::Result<()>;
}

/// Filesystem operations the store needs.
pub trait Flash: Send + Sync + std::fmt::Debug {
    /// Create a new file for appending; fails if it exists (never overwrite footage).
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn FlashFile>>;
    /// Open a journal or log for appending, creating it if missing.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn FlashFile>>;
    /// Cut a torn record off the end of a journal or the audit log. Never used on media.
    fn truncate_torn(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Replace `path` with `bytes` atomically and durably (temp file, fsync, rename, dir fsync).
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Create a directory (and parents) and make the new entry durable.
    fn create_dir_durable(&self, path: &Path) -> io::Result<()>;
    /// Bytes available to this process on the filesystem holding `path`.
    fn available_bytes(&self, path: &Path) -> io::Result<u64>;
}

/// The real filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFlash;

#[derive(Debug)]
struct RealFile(File);

impl FlashFile for RealFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
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
        Ok(Box::new(RealFile(f)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn FlashFile>> {
        let existed = path.exists();
        let f = OpenOptions::new().append(true).create(true).open(path)?;
        if !existed {
            sync_dir(&parent_of(path))?;
        }
        Ok(Box::new(RealFile(f)))
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
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        sync_dir(&dir)
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
