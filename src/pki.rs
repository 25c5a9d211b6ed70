//! `bodycam pki dev DIR`: a throw-away development PKI (agency CA, dock client
//! certificate, camera server certificate) for trying the mutual-TLS dock API.
//!
//! Everything is ECDSA P-256 with SHA-256, written as PEM: certificates 0644, private
//! keys PKCS#8 0600. Nothing is ever overwritten. A real deployment keeps the agency CA
//! key offline and issues one certificate per camera and per dock; this module exists
//! so that a developer can run the daemon and a dock on one machine.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::Datelike;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SerialNumber, date_time_ymd,
};
use ring::rand::{SecureRandom, SystemRandom};

use crate::flash::sync_dir;

/// The development CA certificate (trusted by the camera for dock clients, and by the
/// dock for the camera).
pub const CA_CERT_FILE: &str = "ca.pem";
/// The development CA private key.
pub const CA_KEY_FILE: &str = "ca.key";
/// The dock's client certificate (`clientAuth`).
pub const DOCK_CERT_FILE: &str = "dock.pem";
/// The dock's private key.
pub const DOCK_KEY_FILE: &str = "dock.key";
/// The camera's server certificate (`serverAuth`, with the camera's names).
pub const CAMERA_CERT_FILE: &str = "camera.pem";
/// The camera's private key.
pub const CAMERA_KEY_FILE: &str = "camera.key";
/// What these files are, for whoever finds the directory.
pub const README_FILE: &str = "README.txt";
/// Stem of the development footage key pair `bodycam pki dev` writes (`.key`, `.pub`).
pub const DEV_FOOTAGE_KEY_NAME: &str = "footage-dev";

/// Names the camera answers to by default: loopback for a dock on the same machine, and
/// the camera's address on the USB dock link.
pub const DEFAULT_CAMERA_NAMES: &[&str] = &["localhost", "127.0.0.1", "10.55.0.1"];

/// Years the development CA is valid.
const CA_YEARS: i32 = 10;
/// Years the dock and camera certificates are valid.
const LEAF_YEARS: i32 = 5;

/// PKI errors.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file of the PKI already exists; nothing was written.
    #[error("{0} already exists; refusing to overwrite it (choose an empty directory)")]
    Exists(PathBuf),
    /// A file or directory could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// No name was given for the camera certificate.
    #[error("the camera certificate needs at least one name (DNS name or IP address)")]
    NoNames,
    /// A camera name is neither an IP address nor a valid DNS name.
    #[error("camera name {name:?} is neither an IP address nor a DNS name: {reason}")]
    BadName {
        /// The name.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// Key generation or certificate signing failed.
    #[error("cannot generate the {what}: {reason}")]
    Generate {
        /// Which certificate or key.
        what: &'static str,
        /// The cause.
        reason: String,
    },
}

/// Where [`dev_pki`] put everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevPki {
    /// The directory.
    pub dir: PathBuf,
    /// [`CA_CERT_FILE`].
    pub ca_cert: PathBuf,
    /// [`CA_KEY_FILE`].
    pub ca_key: PathBuf,
    /// [`DOCK_CERT_FILE`].
    pub dock_cert: PathBuf,
    /// [`DOCK_KEY_FILE`].
    pub dock_key: PathBuf,
    /// [`CAMERA_CERT_FILE`].
    pub camera_cert: PathBuf,
    /// [`CAMERA_KEY_FILE`].
    pub camera_key: PathBuf,
    /// [`README_FILE`].
    pub readme: PathBuf,
    /// SHA-256 of the CA certificate (DER), hex: lets a person compare what the dock and
    /// the camera trust.
    pub ca_sha256: String,
    /// A development footage key pair (feature `examiner`), for trying encrypted footage.
    pub footage: Option<FootageKeyFiles>,
}

/// Where [`footage_key`] put an agency footage key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FootageKeyFiles {
    /// The private key file (0600): for the agency's examiners, never for a camera.
    pub private: PathBuf,
    /// The recipient file (0644): for `[evidence] recipients` on cameras.
    pub public: PathBuf,
    /// The key id (hex).
    pub key_id: String,
}

/// The footage key outputs for `name` in `dir`: NAME.key (private) and NAME.pub.
#[cfg(feature = "examiner")]
fn footage_outputs(dir: &Path, name: &str) -> Result<(FootageKeyFiles, [Output; 2]), PkiError> {
    if name.is_empty() || name.starts_with('.') || name.contains('/') || name.contains('\0') {
        return Err(PkiError::BadName {
            name: name.into(),
            reason: "a footage key name is a plain file name stem".into(),
        });
    }
    let (key, recipient) =
        crate::confidential::keys::FootageKey::generate().map_err(|e| PkiError::Generate {
            what: "footage key",
            reason: e.to_string(),
        })?;
    let json = |k: &crate::confidential::keys::KeyFile| {
        serde_json::to_string_pretty(k).unwrap_or_default() + "\n"
    };
    let files = FootageKeyFiles {
        private: dir.join(format!("{name}.key")),
        public: dir.join(format!("{name}.pub")),
        key_id: recipient.key_id.clone(),
    };
    let outputs = [
        Output::private(&files.private, json(&key)),
        Output::public(&files.public, json(&recipient)),
    ];
    Ok((files, outputs))
}

/// `bodycam pki footage-key DIR`: a new X25519 footage key pair, NAME.key (private,
/// 0600) and NAME.pub (the recipient file). Nothing is overwritten.
#[cfg(feature = "examiner")]
pub fn footage_key(dir: &Path, name: &str) -> Result<FootageKeyFiles, PkiError> {
    let (files, outputs) = footage_outputs(dir, name)?;
    write_all_new(dir, &outputs)?;
    Ok(files)
}

/// One file to write.
struct Output {
    path: PathBuf,
    contents: String,
    mode: u32,
}

impl Output {
    /// A certificate or the README: world-readable.
    fn public(path: &Path, contents: String) -> Output {
        Output {
            path: path.to_path_buf(),
            contents,
            mode: 0o644,
        }
    }

    /// A private key: owner only.
    fn private(path: &Path, contents: String) -> Output {
        Output {
            path: path.to_path_buf(),
            contents,
            mode: 0o600,
        }
    }
}

/// A certificate and its private key, both PEM.
struct Pem {
    cert: String,
    key: String,
}

/// The development CA, ready to sign the leaves.
struct DevCa {
    pem: Pem,
    /// SHA-256 of the certificate (DER), hex.
    sha256: String,
    issuer: Issuer<'static, KeyPair>,
}

/// Write a development CA, a dock client certificate and a camera server certificate
/// for `camera_names` (DNS names or IP addresses) into `dir` (created 0700 if missing).
///
/// Refuses to overwrite: if any of the files exists, nothing is written. If writing
/// fails half-way, the files this call created are removed again.
pub fn dev_pki(dir: &Path, camera_names: &[String]) -> Result<DevPki, PkiError> {
    check_names(camera_names)?;
    let year = chrono::Utc::now().year();
    let ca = DevCa::new(year)?;
    let dock = ca.issue(
        Vec::new(),
        "bodycam development dock",
        ExtendedKeyUsagePurpose::ClientAuth,
        "dock certificate",
        year,
    )?;
    let camera = ca.issue(
        camera_names.to_vec(),
        "bodycam development camera",
        ExtendedKeyUsagePurpose::ServerAuth,
        "camera certificate",
        year,
    )?;
    #[cfg_attr(not(feature = "examiner"), allow(unused_mut))]
    let mut out = DevPki::in_dir(dir, ca.sha256);
    #[cfg_attr(not(feature = "examiner"), allow(unused_mut))]
    let mut files = vec![
        Output::public(&out.ca_cert, ca.pem.cert),
        Output::private(&out.ca_key, ca.pem.key),
        Output::public(&out.dock_cert, dock.cert),
        Output::private(&out.dock_key, dock.key),
        Output::public(&out.camera_cert, camera.cert),
        Output::private(&out.camera_key, camera.key),
        Output::public(&out.readme, readme(camera_names, &out.ca_sha256)),
    ];
    #[cfg(feature = "examiner")]
    {
        let (footage, outputs) = footage_outputs(dir, DEV_FOOTAGE_KEY_NAME)?;
        files.extend(outputs);
        out.footage = Some(footage);
    }
    write_all_new(dir, &files)?;
    Ok(out)
}

/// At least one camera name, each a valid DNS name or IP address; checked one at a
/// time so that the error names the bad one.
fn check_names(camera_names: &[String]) -> Result<(), PkiError> {
    if camera_names.is_empty() {
        return Err(PkiError::NoNames);
    }
    for name in camera_names {
        CertificateParams::new(vec![name.clone()]).map_err(|e| PkiError::BadName {
            name: name.clone(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// Valid from the start of last year (a camera without a battery-backed clock may boot
/// a little behind, and TLS would refuse a certificate "not yet valid") until the
/// start of the year `years` after `year`.
fn set_validity(params: &mut CertificateParams, year: i32, years: i32) {
    params.not_before = date_time_ymd(year - 1, 1, 1);
    params.not_after = date_time_ymd(year + years, 1, 1);
}

/// The subject of every certificate: the organisation and `common_name`.
fn subject(params: &mut CertificateParams, common_name: &str) {
    params
        .distinguished_name
        .push(DnType::OrganizationName, "bodycam development");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
}

impl DevCa {
    /// A new self-signed CA, valid [`CA_YEARS`], that may sign leaves only.
    fn new(year: i32) -> Result<DevCa, PkiError> {
        let key = new_key("CA key")?;
        let mut params = CertificateParams::default();
        subject(&mut params, "bodycam development agency CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, year, CA_YEARS);
        params.serial_number = Some(serial()?);
        let cert = params
            .self_signed(&key)
            .map_err(gen_err("CA certificate"))?;
        Ok(DevCa {
            pem: Pem {
                cert: cert.pem(),
                key: key.serialize_pem(),
            },
            sha256: hex::encode(crate::evidence::record::sha256(cert.der())),
            issuer: Issuer::new(params, key),
        })
    }

    /// A leaf certificate for `names`, valid [`LEAF_YEARS`], for `usage` only, with a
    /// new key. `what` names it in errors.
    fn issue(
        &self,
        names: Vec<String>,
        common_name: &str,
        usage: ExtendedKeyUsagePurpose,
        what: &'static str,
        year: i32,
    ) -> Result<Pem, PkiError> {
        let mut params = CertificateParams::new(names.clone()).map_err(|e| PkiError::BadName {
            name: names.join(","),
            reason: e.to_string(),
        })?;
        subject(&mut params, common_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, year, LEAF_YEARS);
        params.serial_number = Some(serial()?);
        let key = new_key(what)?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(gen_err(what))?;
        Ok(Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}

impl DevPki {
    /// The file names under `dir`.
    fn in_dir(dir: &Path, ca_sha256: String) -> DevPki {
        DevPki {
            dir: dir.to_path_buf(),
            ca_cert: dir.join(CA_CERT_FILE),
            ca_key: dir.join(CA_KEY_FILE),
            dock_cert: dir.join(DOCK_CERT_FILE),
            dock_key: dir.join(DOCK_KEY_FILE),
            camera_cert: dir.join(CAMERA_CERT_FILE),
            camera_key: dir.join(CAMERA_KEY_FILE),
            readme: dir.join(README_FILE),
            ca_sha256,
            footage: None,
        }
    }
}

/// Write every file or none: refuse if any exists, create `dir` (0700), write each
/// file new, remove what this call wrote if one fails, then sync `dir`.
fn write_all_new(dir: &Path, files: &[Output]) -> Result<(), PkiError> {
    for f in files {
        if f.path.symlink_metadata().is_ok() {
            return Err(PkiError::Exists(f.path.clone()));
        }
    }
    let dir_err = |source| PkiError::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(dir_err)?;
    let mut written = Vec::new();
    for f in files {
        if let Err(e) = write_new(f) {
            for p in &written {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
        written.push(&f.path);
    }
    sync_dir(dir).map_err(dir_err)
}

fn gen_err(what: &'static str) -> impl Fn(rcgen::Error) -> PkiError {
    move |e| PkiError::Generate {
        what,
        reason: e.to_string(),
    }
}

fn new_key(what: &'static str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err(what))
}

/// A random positive 128-bit serial number (RFC 5280: unique per CA, ≤ 20 bytes).
fn serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::Generate {
            what: "serial number",
            reason: "the system random generator failed".into(),
        })?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Create `f.path` (never replacing anything) with its mode, write and fsync it.
fn write_new(f: &Output) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: f.path.clone(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(f.mode)
        .open(&f.path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                PkiError::Exists(f.path.clone())
            } else {
                io(e)
            }
        })?;
    file.write_all(f.contents.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

fn readme(camera_names: &[String], ca_sha256: &str) -> String {
    format!(
        "bodycam DEVELOPMENT PKI: for trying out the dock API only.\n\
         \n\
         These certificates and keys were generated by `bodycam pki dev`. The CA key lies\n\
         next to the certificates it signed, so anyone who can read this directory can mint\n\
         a dock certificate that the camera trusts and download its footage. Never use\n\
         them on a camera that records real evidence. A real deployment keeps the agency CA\n\
         key offline and issues one certificate per camera and per dock.\n\
         \n\
         {CA_CERT_FILE}      development agency CA (SHA-256 of its DER: {ca_sha256})\n\
         {CA_KEY_FILE}      its private key (0600)\n\
         {DOCK_CERT_FILE}    dock client certificate (clientAuth), signed by the CA\n\
         {DOCK_KEY_FILE}    its private key (0600)\n\
         {CAMERA_CERT_FILE}  camera server certificate (serverAuth) for: {names}\n\
         {CAMERA_KEY_FILE}  its private key (0600)\n\
         \n\
         Camera: serve the dock API with {CAMERA_CERT_FILE} + {CAMERA_KEY_FILE} and require\n\
         client certificates from {CA_CERT_FILE}.\n\
         Dock: present {DOCK_CERT_FILE} + {DOCK_KEY_FILE} and trust {CA_CERT_FILE} for the\n\
         camera, e.g.\n\
         curl --cacert {CA_CERT_FILE} --cert {DOCK_CERT_FILE} --key {DOCK_KEY_FILE} https://127.0.0.1:PORT/v1/device\n\
         \n\
         {DEV_FOOTAGE_KEY_NAME}.pub  development footage recipient: camera [evidence] recipients\n\
         {DEV_FOOTAGE_KEY_NAME}.key  its private key (0600), for `bodycam export --key`; a real\n\
         agency keeps its footage key off every camera and off this machine.\n",
        names = camera_names.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    use rustls::RootCertStore;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, UnixTime};
    use rustls::server::WebPkiClientVerifier;
    use rustls::server::danger::ClientCertVerifier;

    fn names() -> Vec<String> {
        DEFAULT_CAMERA_NAMES.iter().map(|s| s.to_string()).collect()
    }

    fn cert(path: &Path) -> CertificateDer<'static> {
        CertificateDer::from_pem_file(path).unwrap()
    }

    fn verifier(ca: &Path) -> Arc<dyn ClientCertVerifier> {
        let mut roots = RootCertStore::empty();
        roots.add(cert(ca)).unwrap();
        WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap()
    }

    #[test]
    fn writes_every_file_with_key_modes_0600() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("pki");
        let p = dev_pki(&dir, &names()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for key in [&p.ca_key, &p.dock_key, &p.camera_key] {
            assert_eq!(mode(key), 0o600, "{}", key.display());
            let pem = std::fs::read_to_string(key).unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        }
        for c in [&p.ca_cert, &p.dock_cert, &p.camera_cert] {
            assert_eq!(mode(c), 0o644);
        }
        let readme = std::fs::read_to_string(&p.readme).unwrap();
        assert!(readme.contains("for trying out the dock API only"));
        assert!(readme.contains(&p.ca_sha256));
        assert!(readme.contains("10.55.0.1"));
    }

    #[test]
    fn dock_cert_chains_to_its_ca_and_not_to_another() {
        let d = tempfile::tempdir().unwrap();
        let a = dev_pki(&d.path().join("a"), &names()).unwrap();
        let b = dev_pki(&d.path().join("b"), &names()).unwrap();
        assert_ne!(a.ca_sha256, b.ca_sha256);
        let now = UnixTime::now();
        let v = verifier(&a.ca_cert);
        assert!(v.client_auth_mandatory());
        v.verify_client_cert(&cert(&a.dock_cert), &[], now)
            .expect("dock.pem chains to ca.pem");
        assert!(
            v.verify_client_cert(&cert(&b.dock_cert), &[], now).is_err(),
            "a dock certificate from another CA must be refused"
        );
        // The camera's server certificate cannot act as a dock (serverAuth only).
        assert!(
            v.verify_client_cert(&cert(&a.camera_cert), &[], now)
                .is_err()
        );
    }

    #[test]
    fn camera_cert_is_valid_for_its_names() {
        let d = tempfile::tempdir().unwrap();
        let p = dev_pki(d.path(), &names()).unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(cert(&p.ca_cert)).unwrap();
        let v = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let now = UnixTime::now();
        for name in ["127.0.0.1", "localhost", "10.55.0.1"] {
            let sn = rustls::pki_types::ServerName::try_from(name).unwrap();
            v.verify_server_cert(&cert(&p.camera_cert), &[], &sn, &[], now)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let other = rustls::pki_types::ServerName::try_from("10.55.0.2").unwrap();
        assert!(
            v.verify_server_cert(&cert(&p.camera_cert), &[], &other, &[], now)
                .is_err()
        );
    }

    #[test]
    fn refuses_to_overwrite_and_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(DOCK_KEY_FILE), b"keep me").unwrap();
        let e = dev_pki(d.path(), &names()).unwrap_err();
        assert!(
            matches!(e, PkiError::Exists(ref p) if p.ends_with(DOCK_KEY_FILE)),
            "{e}"
        );
        assert_eq!(
            std::fs::read(d.path().join(DOCK_KEY_FILE)).unwrap(),
            b"keep me"
        );
        assert!(!d.path().join(CA_CERT_FILE).exists());
        assert!(!d.path().join(CA_KEY_FILE).exists());

        let d = tempfile::tempdir().unwrap();
        dev_pki(d.path(), &names()).unwrap();
        let before = std::fs::read(d.path().join(CA_KEY_FILE)).unwrap();
        assert!(matches!(
            dev_pki(d.path(), &names()),
            Err(PkiError::Exists(_))
        ));
        assert_eq!(std::fs::read(d.path().join(CA_KEY_FILE)).unwrap(), before);
    }

    #[test]
    fn rejects_no_names_and_bad_names() {
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(dev_pki(d.path(), &[]), Err(PkiError::NoNames)));
        let e = dev_pki(d.path(), &["ok.local".into(), "bad name\u{e9}".into()]).unwrap_err();
        assert!(
            matches!(e, PkiError::BadName { ref name, .. } if name == "bad name\u{e9}"),
            "{e}"
        );
        assert!(std::fs::read_dir(d.path()).unwrap().next().is_none());
    }
}
