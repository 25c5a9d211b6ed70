//! The agency's footage keys. An X25519 key pair made by `bodycam pki footage-key`:
//!
//! - the **recipient file** (`NAME.pub`, `bodycam-footage-recipient/1`): the public key
//!   and its key id; this is what a camera is given (`[evidence] recipients`);
//! - the **footage key file** (`NAME.key`, `bodycam-footage-key/1`, mode 0600): the
//!   private key, kept by the agency's examiners, never put on a camera.
//!
//! ```json
//! {"format": "bodycam-footage-recipient/1", "algorithm": "x25519",
//!  "key_id": "<32 hex>", "public_key": "<64 hex>"}
//! {"format": "bodycam-footage-key/1", "algorithm": "x25519",
//!  "key_id": "<32 hex>", "public_key": "<64 hex>", "private_key": "<64 hex>"}
//! ```
//! The key id is the first 16 bytes of SHA-256 of the 32-byte public key.

use std::path::{Path, PathBuf};

use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};

use super::KEY_ID_LEN;

/// Format tag of a recipient (public) file.
pub const RECIPIENT_FORMAT: &str = "bodycam-footage-recipient/1";
/// Format tag of a footage key (private) file.
pub const FOOTAGE_KEY_FORMAT: &str = "bodycam-footage-key/1";
/// The only key algorithm.
pub const ALGORITHM: &str = "x25519";
/// Largest key file read (a key file is about 300 bytes).
const MAX_KEY_FILE: u64 = 64 * 1024;

/// A key id: the first 16 bytes of SHA-256 of a recipient's public key.
pub type KeyId = [u8; KEY_ID_LEN];

/// Key id of an X25519 public key.
pub fn key_id_for(public_key: &[u8; 32]) -> KeyId {
    let h = ring::digest::digest(&ring::digest::SHA256, public_key);
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&h.as_ref()[..KEY_ID_LEN]);
    id
}

/// Problems with a key file; each names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read.
    #[error("{path}: cannot read it: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        reason: String,
    },
    /// The file is not a key file of the expected kind, or is damaged.
    #[error("{path}: {reason}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A private key file that others may read.
    #[error(
        "{path} has mode {mode:o}: a footage key must be readable by its owner only (chmod 600)"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// The mode found.
        mode: u32,
    },
    /// A private key file was given where the camera needs a public recipient file.
    #[error(
        "{path} is a PRIVATE footage key: a camera must only ever get the public recipient file (the .pub written beside it)"
    )]
    PrivateOnCamera {
        /// The file.
        path: PathBuf,
    },
    /// A public recipient file was given where a private key is needed.
    #[error(
        "{path} is a public recipient file: decrypting needs the private footage key ({FOOTAGE_KEY_FORMAT}, the .key written beside it)"
    )]
    PublicNotPrivate {
        /// The file.
        path: PathBuf,
    },
}

/// The JSON of both key files; which fields must be there depends on `format`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// [`RECIPIENT_FORMAT`] or [`FOOTAGE_KEY_FORMAT`].
    pub format: String,
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// Key id, 32 hex digits.
    pub key_id: String,
    /// X25519 public key, 64 hex digits.
    pub public_key: String,
    /// X25519 private key, 64 hex digits (footage key files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
}

/// A recipient the camera encrypts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The file it was read from.
    pub path: PathBuf,
    /// X25519 public key.
    pub public_key: [u8; 32],
    /// Its key id.
    pub key_id: KeyId,
}

impl Recipient {
    /// The key id as hex.
    pub fn key_id_hex(&self) -> String {
        hex::encode(self.key_id)
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> KeyError {
    KeyError::Bad {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Read and parse a key file (either kind), checking what both kinds share.
fn read_key_file(path: &Path) -> Result<(KeyFile, [u8; 32]), KeyError> {
    let read_err = |e: std::io::Error| KeyError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() {
        return Err(bad(path, "not a regular file"));
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(bad(
            path,
            format!("{} bytes: too large to be a footage key file", meta.len()),
        ));
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| bad(path, "not a footage key file (not UTF-8 text)"))?;
    let file: KeyFile = serde_json::from_str(text).map_err(|e| {
        bad(
            path,
            format!(
                "not a footage key file (expected the JSON `bodycam pki footage-key` writes): {e}"
            ),
        )
    })?;
    if file.algorithm != ALGORITHM {
        return Err(bad(
            path,
            format!(
                "algorithm {:?}: only {ALGORITHM:?} is defined",
                file.algorithm
            ),
        ));
    }
    let public =
        hex32(&file.public_key).ok_or_else(|| bad(path, "public_key is not 64 hex digits"))?;
    if hex::encode(key_id_for(&public)) != file.key_id.to_ascii_lowercase() {
        return Err(bad(
            path,
            "key_id does not match public_key (the file is damaged or was edited)",
        ));
    }
    Ok((file, public))
}

/// 32 bytes from 64 hex digits.
pub fn hex32(text: &str) -> Option<[u8; 32]> {
    hex::decode(text.trim()).ok()?.try_into().ok()
}

/// Whether `public` is a key an ephemeral X25519 agreement works with (a point of small
/// order gives the all-zero secret, which ring refuses).
fn usable(public: &[u8; 32]) -> bool {
    let rng = SystemRandom::new();
    let Ok(eph) = EphemeralPrivateKey::generate(&X25519, &rng) else {
        return false;
    };
    agreement::agree_ephemeral(eph, &UnparsedPublicKey::new(&X25519, public), |_| ()).is_ok()
}

/// Read a recipient file for the camera: a public key that an agreement works with. A
/// private footage key file is refused (it must never be on a camera).
pub fn load_recipient(path: &Path) -> Result<Recipient, KeyError> {
    let (file, public_key) = read_key_file(path)?;
    match file.format.as_str() {
        RECIPIENT_FORMAT if file.private_key.is_none() => {}
        RECIPIENT_FORMAT => return Err(bad(path, "a recipient file must not hold a private_key")),
        FOOTAGE_KEY_FORMAT => {
            return Err(KeyError::PrivateOnCamera {
                path: path.to_path_buf(),
            });
        }
        other => {
            return Err(bad(
                path,
                format!("format {other:?}: not a recipient file ({RECIPIENT_FORMAT})"),
            ));
        }
    }
    if !usable(&public_key) {
        return Err(bad(
            path,
            "public_key is not a usable X25519 key (a point of small order)",
        ));
    }
    Ok(Recipient {
        path: path.to_path_buf(),
        key_id: key_id_for(&public_key),
        public_key,
    })
}

/// The recipient file for `public_key`.
pub fn recipient_file(public_key: &[u8; 32]) -> KeyFile {
    KeyFile {
        format: RECIPIENT_FORMAT.into(),
        algorithm: ALGORITHM.into(),
        key_id: hex::encode(key_id_for(public_key)),
        public_key: hex::encode(public_key),
        private_key: None,
    }
}

/// A private footage key (the examiner's side).
#[cfg(feature = "examiner")]
pub struct FootageKey {
    /// The file it was read from.
    pub path: PathBuf,
    /// The private key.
    pub secret: x25519_dalek::StaticSecret,
    /// Its public key.
    pub public_key: [u8; 32],
    /// Its key id.
    pub key_id: KeyId,
}

#[cfg(feature = "examiner")]
impl std::fmt::Debug for FootageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FootageKey")
            .field("path", &self.path)
            .field("key_id", &hex::encode(self.key_id))
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "examiner")]
impl FootageKey {
    /// Read a footage key file: owner-only mode, the right format, a private key that
    /// matches its public key.
    pub fn load(path: &Path) -> Result<FootageKey, KeyError> {
        let mode = std::fs::metadata(path)
            .map_err(|e| KeyError::Read {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?
            .permissions();
        let mode = std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777;
        let (file, public_key) = read_key_file(path)?;
        match file.format.as_str() {
            FOOTAGE_KEY_FORMAT => {}
            RECIPIENT_FORMAT => {
                return Err(KeyError::PublicNotPrivate {
                    path: path.to_path_buf(),
                });
            }
            other => {
                return Err(bad(
                    path,
                    format!("format {other:?}: not a footage key file ({FOOTAGE_KEY_FORMAT})"),
                ));
            }
        }
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        let mut private = file
            .private_key
            .as_deref()
            .and_then(hex32)
            .ok_or_else(|| bad(path, "private_key is missing or not 64 hex digits"))?;
        let secret = x25519_dalek::StaticSecret::from(private);
        super::wipe(&mut private);
        if x25519_dalek::PublicKey::from(&secret).to_bytes() != public_key {
            return Err(bad(
                path,
                "private_key does not match public_key (the file is damaged or was edited)",
            ));
        }
        Ok(FootageKey {
            path: path.to_path_buf(),
            secret,
            key_id: key_id_for(&public_key),
            public_key,
        })
    }

    /// A new random key pair (the private key from ring's system random source).
    pub fn generate() -> Result<(KeyFile, KeyFile), KeyError> {
        use ring::rand::SecureRandom;
        let mut private = [0u8; 32];
        SystemRandom::new()
            .fill(&mut private)
            .map_err(|_| bad(Path::new("<random>"), "the system random source failed"))?;
        let out = Self::pair_from(&private);
        super::wipe(&mut private);
        Ok(out)
    }

    /// The footage key file and recipient file of a given private key (tests, vectors).
    pub fn pair_from(private: &[u8; 32]) -> (KeyFile, KeyFile) {
        let secret = x25519_dalek::StaticSecret::from(*private);
        let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        let mut key = recipient_file(&public);
        key.format = FOOTAGE_KEY_FORMAT.into();
        key.private_key = Some(hex::encode(secret.to_bytes()));
        (key, recipient_file(&public))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn bad_recipient_files_name_the_file_and_the_problem() {
        let d = tempfile::tempdir().unwrap();
        let public = [9u8; 32]; // the X25519 base point's u-coordinate is 9: a fine key
        let good = serde_json::to_string(&recipient_file(&public)).unwrap();
        let p = write(d.path(), "a.pub", &good, 0o644);
        let r = load_recipient(&p).unwrap();
        assert_eq!(r.key_id, key_id_for(&public));

        let cases: Vec<(&str, String, &str)> = vec![
            ("empty.pub", String::new(), "not a footage key file"),
            (
                "cut.pub",
                good[..good.len() / 2].to_string(),
                "not a footage key file",
            ),
            (
                "pem.pub",
                "-----BEGIN PUBLIC KEY-----\n".into(),
                "not a footage key file",
            ),
            (
                "edited.pub",
                good.replace(&hex::encode(public), &hex::encode([8u8; 32])),
                "key_id does not match",
            ),
            (
                "small.pub",
                serde_json::to_string(&recipient_file(&[0u8; 32])).unwrap(),
                "small order",
            ),
        ];
        for (name, text, want) in cases {
            let p = write(d.path(), name, &text, 0o644);
            let e = load_recipient(&p).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains(want), "{name}: {e}");
        }
        let mut private = recipient_file(&public);
        private.format = FOOTAGE_KEY_FORMAT.into();
        private.private_key = Some("00".repeat(32));
        let p = write(
            d.path(),
            "agency.key",
            &serde_json::to_string(&private).unwrap(),
            0o600,
        );
        assert!(matches!(
            load_recipient(&p),
            Err(KeyError::PrivateOnCamera { .. })
        ));
        let e = load_recipient(&d.path().join("absent.pub")).unwrap_err();
        assert!(matches!(e, KeyError::Read { .. }), "{e}");
    }

    #[cfg(feature = "examiner")]
    #[test]
    fn footage_keys_load_only_private_owner_only_and_consistent() {
        let d = tempfile::tempdir().unwrap();
        let (key, recipient) = FootageKey::pair_from(&[5u8; 32]);
        let key_text = serde_json::to_string(&key).unwrap();
        let p = write(d.path(), "k.key", &key_text, 0o600);
        let k = FootageKey::load(&p).unwrap();
        assert_eq!(hex::encode(k.key_id), recipient.key_id);
        let open = write(d.path(), "open.key", &key_text, 0o644);
        assert!(matches!(
            FootageKey::load(&open),
            Err(KeyError::Permissions { mode: 0o644, .. })
        ));
        let public = write(
            d.path(),
            "k.pub",
            &serde_json::to_string(&recipient).unwrap(),
            0o600,
        );
        assert!(matches!(
            FootageKey::load(&public),
            Err(KeyError::PublicNotPrivate { .. })
        ));
        let mut other = key.clone();
        other.private_key = Some(hex::encode([6u8; 32]));
        let p = write(
            d.path(),
            "mixed.key",
            &serde_json::to_string(&other).unwrap(),
            0o600,
        );
        let e = FootageKey::load(&p).unwrap_err().to_string();
        assert!(e.contains("does not match public_key"), "{e}");
        let p = write(d.path(), "cut.key", &key_text[..40], 0o600);
        let e = FootageKey::load(&p).unwrap_err().to_string();
        assert!(e.contains("not a footage key file"), "{e}");
    }
}
