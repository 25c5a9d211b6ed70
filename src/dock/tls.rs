//! The dock API's TLS: the camera's server certificate and key, and mandatory client
//! certificates chaining to the agency CA (no anonymous clients). TLS 1.3 and 1.2 with
//! the `ring` provider only; ALPN `http/1.1`.
//!
//! PEM is read with `rustls::pki_types::pem` (the successor of the unmaintained
//! `rustls-pemfile`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ServerConfig, WebPkiClientVerifier};

use super::DockError;

/// The crypto provider used everywhere in the dock API (`ring`: no C toolchain beyond
/// what `ring` needs, cross-compiles for aarch64 without cmake).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Server configuration: `cert` (PEM chain, leaf first) and `key` (PEM PKCS#8/SEC1/
/// PKCS#1, mode 0600 or stricter); every client must present a certificate chaining to
/// one of the CA certificates in `client_ca` (PEM), with the `clientAuth` usage.
pub fn server_tls(
    cert: &Path,
    key: &Path,
    client_ca: &Path,
) -> Result<Arc<ServerConfig>, DockError> {
    let provider = provider();
    let chain = load_certs(cert)?;
    let key = load_key(key)?;
    let mut roots = RootCertStore::empty();
    for ca in load_certs(client_ca)? {
        roots.add(ca).map_err(|e| DockError::Pem {
            path: client_ca.to_path_buf(),
            reason: format!("not a usable CA certificate: {e}"),
        })?;
    }
    // Client authentication is mandatory unless `allow_unauthenticated` is called: it
    // is not, so a client without a certificate is refused in the handshake.
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| DockError::Tls(format!("client CA {}: {e}", client_ca.display())))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| DockError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| DockError::Tls(format!("server certificate {}: {e}", cert.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file (at least one).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, DockError> {
    let pem_err = |reason: String| DockError::Pem {
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_err("no CERTIFICATE in the file".into()));
    }
    Ok(certs)
}

/// The private key in a PEM file, refusing a key readable by group or others.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, DockError> {
    let meta = std::fs::metadata(path).map_err(|e| DockError::Pem {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(DockError::KeyPermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    PrivateKeyDer::from_pem_file(path).map_err(|e| DockError::Pem {
        path: path.to_path_buf(),
        reason: format!("no usable private key: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{DEFAULT_CAMERA_NAMES, dev_pki};

    #[test]
    fn builds_from_a_dev_pki_and_refuses_bad_inputs() {
        let d = tempfile::tempdir().unwrap();
        let names: Vec<String> = DEFAULT_CAMERA_NAMES.iter().map(|s| s.to_string()).collect();
        let p = dev_pki(d.path(), &names).unwrap();
        let cfg = server_tls(&p.camera_cert, &p.camera_key, &p.ca_cert).unwrap();
        assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);

        // A key readable by others is refused.
        std::fs::set_permissions(&p.camera_key, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            server_tls(&p.camera_cert, &p.camera_key, &p.ca_cert),
            Err(DockError::KeyPermissions { mode: 0o644, .. })
        ));
        std::fs::set_permissions(&p.camera_key, std::fs::Permissions::from_mode(0o600)).unwrap();
        // A key that does not belong to the certificate is refused.
        assert!(matches!(
            server_tls(&p.camera_cert, &p.dock_key, &p.ca_cert),
            Err(DockError::Tls(_))
        ));
        // A client CA file without certificates is refused.
        assert!(matches!(
            server_tls(&p.camera_cert, &p.camera_key, &p.readme),
            Err(DockError::Pem { .. })
        ));
        assert!(matches!(
            server_tls(&p.camera_cert, &p.camera_key, &d.path().join("missing.pem")),
            Err(DockError::Pem { .. })
        ));
    }
}
