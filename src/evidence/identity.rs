//! The device identity: an Ed25519 key pair created once, kept as PKCS#8 (mode 0600),
//! never logged, never served, never silently replaced.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};

use crate::evidence::record::{DEVICE_ID_LEN, sha256};
use crate::flash::sync_dir;

use crate::layout::{IDENTITY_FILE, KEY_FILE};
/// Format tag of [`PublicIdentity`].
pub const IDENTITY_FORMAT: &str = "bodycam-identity/1";

/// Identity errors.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The key directory or file could not be read or written.
    #[error("device key {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The key file exists but is not a valid Ed25519 PKCS#8 key.
    #[error(
        "device key {path} is corrupt ({reason}); refusing to continue or to create a new identity over it"
    )]
    Corrupt {
        /// Path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key file is missing but evidence signed by an earlier identity exists.
    #[error(
        "device key {path} is missing but {evidence} exists; refusing to create a new identity (restore the key)"
    )]
    Missing {
        /// Expected key path.
        path: PathBuf,
        /// What shows an identity existed.
        evidence: String,
    },
    /// The key file is readable by others.
    #[error("device key {path} has mode {mode:o}; it must be 0600")]
    Permissions {
        /// Path.
        path: PathBuf,
        /// Mode found.
        mode: u32,
    },
    /// No identity was created yet.
    #[error("no device identity in {0} yet: start the daemon once to create it")]
    NotCreated(PathBuf),
    /// Key generation failed.
    #[error("cannot generate a key: {0}")]
    Generate(String),
    /// An identity file could not be parsed.
    #[error("identity file {path}: {reason}")]
    BadIdentityFile {
        /// Path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// What a verifier or dock needs to know about a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicIdentity {
    /// Always [`IDENTITY_FORMAT`].
    pub format: String,
    /// Device id, hex (32 digits).
    pub device_id: String,
    /// Ed25519 public key, hex (64 digits).
    pub public_key: String,
    /// Always `ed25519`.
    pub algorithm: String,
}

impl PublicIdentity {
    /// Read an identity file and check that its device id matches its key.
    pub fn load(path: &Path) -> Result<PublicIdentity, IdentityError> {
        let bad = |reason: String| IdentityError::BadIdentityFile {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let id: PublicIdentity = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if id.format != IDENTITY_FORMAT {
            return Err(bad(format!(
                "format is {:?}, not {IDENTITY_FORMAT:?}",
                id.format
            )));
        }
        if id.algorithm != "ed25519" {
            return Err(bad(format!(
                "algorithm is {:?}, not \"ed25519\"",
                id.algorithm
            )));
        }
        let key = id
            .public_key_bytes()
            .filter(|k| hex::encode(k) == id.public_key)
            .ok_or_else(|| bad("public_key is not 64 lower-case hex digits".into()))?;
        if hex::encode(device_id_for(&key)) != id.device_id {
            return Err(bad("device_id does not match public_key".into()));
        }
        Ok(id)
    }

    /// The raw public key.
    pub fn public_key_bytes(&self) -> Option<[u8; 32]> {
        let v = hex::decode(&self.public_key).ok()?;
        v.try_into().ok()
    }
}

/// Device id of a public key: the first 16 bytes of its SHA-256.
pub fn device_id_for(public_key: &[u8]) -> [u8; DEVICE_ID_LEN] {
    let h = sha256(public_key);
    let mut id = [0u8; DEVICE_ID_LEN];
    id.copy_from_slice(&h[..DEVICE_ID_LEN]);
    id
}

/// The device's signing identity.
pub struct Identity {
    key: Ed25519KeyPair,
    device_id: [u8; DEVICE_ID_LEN],
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Identity")
            .field("device_id", &hex::encode(self.device_id))
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Load the key from `dir`, or create it when there is none and `evidence_exists`
    /// is false. Returns whether it was created.
    pub fn load_or_create(
        dir: &Path,
        evidence_exists: bool,
    ) -> Result<(Identity, bool), IdentityError> {
        let key_path = dir.join(KEY_FILE);
        if key_path.exists() {
            return Ok((Identity::load(dir)?, false));
        }
        let id_path = dir.join(IDENTITY_FILE);
        if id_path.exists() {
            return Err(IdentityError::Missing {
                path: key_path,
                evidence: id_path.display().to_string(),
            });
        }
        if evidence_exists {
            return Err(IdentityError::Missing {
                path: key_path,
                evidence: "signed evidence on flash".into(),
            });
        }
        Ok((Identity::create(dir)?, true))
    }

    /// Load an existing key.
    pub fn load(dir: &Path) -> Result<Identity, IdentityError> {
        let key_path = dir.join(KEY_FILE);
        let io = |source| IdentityError::Io {
            path: key_path.clone(),
            source,
        };
        let meta = std::fs::metadata(&key_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                IdentityError::NotCreated(dir.to_path_buf())
            } else {
                io(e)
            }
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(IdentityError::Permissions {
                path: key_path,
                mode,
            });
        }
        let pkcs8 = std::fs::read(&key_path).map_err(io)?;
        let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).map_err(|e| {
            IdentityError::Corrupt {
                path: key_path.clone(),
                reason: e.to_string(),
            }
        })?;
        let device_id = device_id_for(key.public_key().as_ref());
        Ok(Identity { key, device_id })
    }

    /// An identity from PKCS#8 bytes held in memory (fixed test keys, golden vectors).
    /// The device never uses this: its key lives only in [`KEY_FILE`].
    pub fn from_pkcs8(bytes: &[u8]) -> Result<Identity, IdentityError> {
        let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes).map_err(|e| {
            IdentityError::Corrupt {
                path: PathBuf::from("<in-memory PKCS#8>"),
                reason: e.to_string(),
            }
        })?;
        let device_id = device_id_for(key.public_key().as_ref());
        Ok(Identity { key, device_id })
    }

    fn create(dir: &Path) -> Result<Identity, IdentityError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| IdentityError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|e| IdentityError::Generate(e.to_string()))?;
        let key_path = dir.join(KEY_FILE);
        let tmp = crate::layout::tmp_path(&key_path);
        {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io(&tmp))?;
            f.write_all(pkcs8.as_ref()).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &key_path).map_err(io(&key_path))?;
        let identity = Identity::load(dir)?;
        let public = identity.public();
        let json = serde_json::to_vec_pretty(&public)
            .map_err(|e| IdentityError::Generate(e.to_string()))?;
        let id_path = dir.join(IDENTITY_FILE);
        std::fs::write(&id_path, json).map_err(io(&id_path))?;
        sync_dir(dir).map_err(io(dir))?;
        Ok(identity)
    }

    /// Device id.
    pub fn device_id(&self) -> [u8; DEVICE_ID_LEN] {
        self.device_id
    }

    /// Raw public key.
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// The signing key.
    pub fn key(&self) -> &Ed25519KeyPair {
        &self.key
    }

    /// The public identity for enrolment.
    pub fn public(&self) -> PublicIdentity {
        PublicIdentity {
            format: IDENTITY_FORMAT.into(),
            device_id: hex::encode(self.device_id),
            public_key: hex::encode(self.public_key()),
            algorithm: "ed25519".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_loaded_with_0600() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("keys");
        let (a, created) = Identity::load_or_create(&dir, false).unwrap();
        assert!(created);
        let mode = std::fs::metadata(dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let (b, created) = Identity::load_or_create(&dir, false).unwrap();
        assert!(!created);
        assert_eq!(a.device_id(), b.device_id());
        let public = PublicIdentity::load(&dir.join(IDENTITY_FILE)).unwrap();
        assert_eq!(public, a.public());
        // Debug output shows the id, never key material.
        assert!(format!("{a:?}").contains(&hex::encode(a.device_id())));
    }

    #[test]
    fn corrupt_key_is_a_clear_error_and_is_not_replaced() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("keys");
        Identity::load_or_create(&dir, false).unwrap();
        let key_path = dir.join(KEY_FILE);
        std::fs::write(&key_path, b"garbage").unwrap();
        let e = Identity::load_or_create(&dir, false).unwrap_err();
        assert!(matches!(e, IdentityError::Corrupt { .. }), "{e}");
        assert!(e.to_string().contains("device.pk8"));
        assert_eq!(std::fs::read(&key_path).unwrap(), b"garbage");
    }

    #[test]
    fn missing_key_with_existing_identity_or_evidence_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("keys");
        Identity::load_or_create(&dir, false).unwrap();
        std::fs::remove_file(dir.join(KEY_FILE)).unwrap();
        assert!(matches!(
            Identity::load_or_create(&dir, false),
            Err(IdentityError::Missing { .. })
        ));
        let other = d.path().join("other");
        assert!(matches!(
            Identity::load_or_create(&other, true),
            Err(IdentityError::Missing { .. })
        ));
        assert!(!other.join(KEY_FILE).exists());
    }

    #[test]
    fn world_readable_key_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("keys");
        Identity::load_or_create(&dir, false).unwrap();
        std::fs::set_permissions(dir.join(KEY_FILE), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        assert!(matches!(
            Identity::load(&dir),
            Err(IdentityError::Permissions { .. })
        ));
    }

    #[test]
    fn identity_file_with_wrong_device_id_is_rejected() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("keys");
        let (id, _) = Identity::load_or_create(&dir, false).unwrap();
        let mut p = id.public();
        p.device_id = "00".repeat(16);
        let path = d.path().join("id.json");
        std::fs::write(&path, serde_json::to_string(&p).unwrap()).unwrap();
        assert!(PublicIdentity::load(&path).is_err());
    }

    /// docs/EVIDENCE-FORMAT.md section 2: the format tag, the algorithm and lower-case hex.
    #[test]
    fn identity_file_must_have_its_format_algorithm_and_lower_case_hex() {
        let d = tempfile::tempdir().unwrap();
        let (id, _) = Identity::load_or_create(&d.path().join("keys"), false).unwrap();
        let path = d.path().join("id.json");
        let load = |p: &PublicIdentity| {
            std::fs::write(&path, serde_json::to_string(p).unwrap()).unwrap();
            PublicIdentity::load(&path)
        };
        assert_eq!(load(&id.public()).unwrap(), id.public());
        let mut p = id.public();
        p.format = "bodycam-identity/2".into();
        assert!(load(&p).is_err());
        let mut p = id.public();
        p.algorithm = "ecdsa-p256".into();
        assert!(load(&p).is_err());
        let mut p = id.public();
        p.public_key = p.public_key.to_ascii_uppercase();
        assert!(load(&p).is_err());
    }
}
