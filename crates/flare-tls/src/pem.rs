//! PEM loading: certificate chains, private keys and CA bundles, from bytes or files,
//! with `rustls-pki-types`' parser.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{from_config_error, Detail, PemError, PemItem, TlsError};

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::CertFile {
        path: path.to_path_buf(),
        source,
    })
}

/// Every `CERTIFICATE` section in `pem`, in order; at least one.
pub(crate) fn certificates(
    pem: &[u8],
    item: PemItem,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut out = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        out.push(cert.map_err(|e| bad_pem(item, e))?);
    }
    if out.is_empty() {
        return Err(TlsError::NoCertificates);
    }
    Ok(out)
}

/// The first private key section in `pem` (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(key) => Ok(key),
        Err(rustls_pki_types::pem::Error::NoItemsFound) => Err(TlsError::NoPrivateKey),
        Err(e) => Err(bad_pem(PemItem::PrivateKey, e)),
    }
}

/// A chain and its key, checked to belong together.
pub(crate) fn certified_key(
    chain: &[u8],
    key: &[u8],
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = certificates(chain, PemItem::CertificateChain)?;
    let key = private_key(key)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::UnsupportedKey(Detail::new(e)))?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        // A key that cannot report its public key is accepted as rustls does.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(Arc::new(certified))
        }
        Err(e) => Err(from_config_error(e)),
    }
}

/// A root store holding every certificate of a CA bundle.
pub(crate) fn root_store(pem: &[u8]) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(pem, PemItem::CaBundle)? {
        roots
            .add(cert)
            .map_err(|e| TlsError::BadCertificate(Detail::new(e)))?;
    }
    Ok(roots)
}

fn bad_pem(item: PemItem, e: rustls_pki_types::pem::Error) -> TlsError {
    TlsError::BadPem {
        item,
        source: PemError::new(e),
    }
}
