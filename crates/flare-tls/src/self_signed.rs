//! Certificates made on the spot (feature `self-signed`): a self-signed certificate for
//! the example server's `--tls-self-signed`, and a throwaway CA that issues leaf
//! certificates, for tests (mTLS, chains). Keys are ECDSA P-256, made with ring.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::error::{Detail, TlsError};

/// A self-signed certificate for `names` (DNS names or IP literals, e.g.
/// `["localhost", "127.0.0.1"]`), valid for server and client authentication.
/// Returns `(certificate PEM, private key PEM)` (PKCS#8).
pub fn self_signed(names: &[&str]) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let key = KeyPair::generate().map_err(generation)?;
    let params = leaf_params(names)?;
    let cert = params.self_signed(&key).map_err(generation)?;
    Ok((cert.pem().into_bytes(), key.serialize_pem().into_bytes()))
}

/// A throwaway certificate authority for tests: [`issue`](Self::issue) makes leaf
/// certificates signed by it, and [`cert_pem`](Self::cert_pem) is the bundle a peer
/// trusts.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

/// A new [`TestCa`] whose subject common name is `common_name`.
pub fn test_ca(common_name: &str) -> Result<TestCa, TlsError> {
    TestCa::new(common_name)
}

impl TestCa {
    /// A new self-signed CA whose subject common name is `common_name`.
    pub fn new(common_name: &str) -> Result<Self, TlsError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(generation)?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(generation)?;
        let issuer = CertifiedIssuer::self_signed(params, key).map_err(generation)?;
        Ok(Self { issuer })
    }

    /// The CA certificate (PEM): the bundle to trust.
    pub fn cert_pem(&self) -> Vec<u8> {
        self.issuer.pem().into_bytes()
    }

    /// A leaf certificate for `names`, signed by this CA, valid for server and client
    /// authentication. Returns `(certificate PEM, private key PEM)`.
    pub fn issue(&self, names: &[&str]) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
        let key = KeyPair::generate().map_err(generation)?;
        let params = leaf_params(names)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(generation)?;
        Ok((cert.pem().into_bytes(), key.serialize_pem().into_bytes()))
    }
}

fn leaf_params(names: &[&str]) -> Result<CertificateParams, TlsError> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names.clone()).map_err(generation)?;
    if let Some(first) = names.first() {
        params
            .distinguished_name
            .push(DnType::CommonName, first.as_str());
    }
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    Ok(params)
}

fn generation(e: rcgen::Error) -> TlsError {
    TlsError::CertificateGeneration(Detail::new(rustls::Error::General(e.to_string())))
}
