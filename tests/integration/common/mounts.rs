//! Small filesystems a test mounts itself (tmpfs), to fault the medium from outside: a
//! read-only mount made writable later, a full filesystem. Mounting needs root; without
//! it [`Tmpfs::mount`] says why and the caller skips or falls back.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted by this test; unmounted (lazily) when dropped.
#[derive(Debug)]
pub struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mount a tmpfs of `size` (e.g. `"4m"`) at `path` (created), read-only if asked.
    pub fn mount(path: &Path, size: &str, read_only: bool) -> Result<Tmpfs, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root: cannot mount a tmpfs".into());
        }
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let mode = if read_only { "ro" } else { "rw" };
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size},{mode},mode=0755"))
            .arg("tmpfs")
            .arg(path)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(Tmpfs {
            path: path.to_path_buf(),
        })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remount read-write (the medium "comes back").
    pub fn remount_rw(&self) {
        let st = Command::new("mount")
            .args(["-o", "remount,rw"])
            .arg(&self.path)
            .status()
            .expect("mount -o remount,rw");
        assert!(st.success(), "remount rw failed");
    }

    /// Fill the filesystem from outside (another writer) until it is full; returns the
    /// filler file.
    pub fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler.bin");
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0xa5u8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", self.path.display()),
            }
        }
        let _ = f.sync_all();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
