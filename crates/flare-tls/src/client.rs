//! Client side: [`ClientConfig`] and [`ClientSession`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::{from_config_error, Detail, PemItem, TlsError};
use crate::pem;
use crate::provider::provider;
use crate::server::DEFAULT_BUFFER_LIMIT;
use crate::session::{session_methods, Engine, HandshakeKind, PeerCertificates, TlsVersion};

/// Default client-side session store size (servers remembered for resumption).
pub const DEFAULT_CLIENT_SESSIONS: usize = 256;

/// Client TLS configuration: trust roots, ALPN, versions, resumption, client
/// certificate. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct ClientConfig {
    rustls: Arc<rustls::ClientConfig>,
    buffer_limit: usize,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("alpn", &self.rustls.alpn_protocols)
            .field("buffer_limit", &self.buffer_limit)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// A builder with the defaults: the Mozilla roots from `webpki-roots`; no ALPN;
    /// TLS 1.3 and 1.2; a 256-entry session store for resumption; SNI on; no client
    /// certificate; 64 KiB buffer limit.
    pub fn builder() -> ClientConfigBuilder {
        ClientConfigBuilder::default()
    }

    /// The outgoing buffer limit each session gets (bytes).
    pub fn buffer_limit(&self) -> usize {
        self.buffer_limit
    }

    /// The same configuration with another ALPN list (roots, versions, client
    /// certificate and the session store for resumption are shared), for a caller
    /// that must not be offered a protocol it cannot speak.
    pub fn with_alpn(&self, protocols: &[&[u8]]) -> ClientConfig {
        let mut cfg = (*self.rustls).clone();
        cfg.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
        ClientConfig {
            rustls: Arc::new(cfg),
            buffer_limit: self.buffer_limit,
        }
    }
}

/// Builds a [`ClientConfig`]; errors surface at [`build`](Self::build).
#[derive(Debug)]
pub struct ClientConfigBuilder {
    webpki_roots: Option<bool>,
    ca_pems: Vec<Vec<u8>>,
    ca_files: Vec<std::path::PathBuf>,
    alpn: Vec<Vec<u8>>,
    tls12: bool,
    tls13: bool,
    sessions: usize,
    sni: bool,
    client_cert: Option<(Vec<u8>, Vec<u8>)>,
    insecure: bool,
    buffer_limit: usize,
}

impl Default for ClientConfigBuilder {
    fn default() -> Self {
        Self {
            webpki_roots: None,
            ca_pems: Vec::new(),
            ca_files: Vec::new(),
            alpn: Vec::new(),
            tls12: true,
            tls13: true,
            sessions: DEFAULT_CLIENT_SESSIONS,
            sni: true,
            client_cert: None,
            insecure: false,
            buffer_limit: DEFAULT_BUFFER_LIMIT,
        }
    }
}

impl ClientConfigBuilder {
    /// Trust the CAs in this PEM bundle. Once a bundle is given, the `webpki-roots`
    /// set is no longer trusted unless [`webpki_roots(true)`](Self::webpki_roots) is
    /// called. May be called several times.
    pub fn ca_pem(mut self, ca: &[u8]) -> Self {
        self.ca_pems.push(ca.to_vec());
        self
    }

    /// [`ca_pem`](Self::ca_pem) from a file.
    pub fn ca_pem_file(mut self, ca: impl AsRef<Path>) -> Self {
        self.ca_files.push(ca.as_ref().to_path_buf());
        self
    }

    /// Whether to trust the Mozilla root set shipped in `webpki-roots`. Default: true
    /// when no CA bundle is given, false otherwise.
    pub fn webpki_roots(mut self, on: bool) -> Self {
        self.webpki_roots = Some(on);
        self
    }

    /// ALPN protocols to offer, most preferred first. Default none. If the server
    /// picks one not offered, the handshake fails.
    pub fn alpn(mut self, protocols: &[&[u8]]) -> Self {
        self.alpn = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// Whether TLS 1.2 may be negotiated besides TLS 1.3. Default true.
    pub fn tls12(mut self, on: bool) -> Self {
        self.tls12 = on;
        self
    }

    /// Whether TLS 1.3 may be negotiated. Default true; turn it off only to talk to
    /// (or test) a TLS 1.2 server. Turning both versions off is
    /// [`TlsError::NoProtocolVersions`] at build.
    pub fn tls13(mut self, on: bool) -> Self {
        self.tls13 = on;
        self
    }

    /// How many servers' sessions (tickets, TLS 1.2 session ids) to remember for
    /// resumption. Default 256; 0 turns resumption off. Bounded so the store cannot
    /// grow with the number of servers contacted.
    pub fn session_store(mut self, entries: usize) -> Self {
        self.sessions = entries;
        self
    }

    /// Whether to send SNI. Default true (it is never sent for IP addresses).
    pub fn sni(mut self, on: bool) -> Self {
        self.sni = on;
        self
    }

    /// A client certificate chain and key for servers that ask for one (mTLS).
    pub fn client_cert_pem(mut self, chain: &[u8], key: &[u8]) -> Self {
        self.client_cert = Some((chain.to_vec(), key.to_vec()));
        self
    }

    /// Outgoing buffer limit per session (bytes). Default 64 KiB.
    pub fn buffer_limit(mut self, bytes: usize) -> Self {
        self.buffer_limit = bytes;
        self
    }

    /// **Insecure, tests only**: accept any server certificate, for any name, from any
    /// issuer. Handshake signatures are still checked, but anyone on the path can
    /// impersonate the server. Never use this outside tests.
    pub fn dangerous_insecure_no_verify_for_tests_only(mut self) -> Self {
        self.insecure = true;
        self
    }

    /// Loads the roots and builds the configuration.
    pub fn build(self) -> Result<ClientConfig, TlsError> {
        let provider = provider();
        let mut roots = rustls::RootCertStore::empty();
        for pem in &self.ca_pems {
            roots.roots.extend(pem::root_store(pem)?.roots);
        }
        for path in &self.ca_files {
            roots
                .roots
                .extend(pem::root_store(&pem::read_file(path)?)?.roots);
        }
        let custom = !self.ca_pems.is_empty() || !self.ca_files.is_empty();
        if self.webpki_roots.unwrap_or(!custom) {
            roots
                .roots
                .extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }

        let versions: &[&'static rustls::SupportedProtocolVersion] = match (self.tls13, self.tls12)
        {
            (true, true) => &[&rustls::version::TLS13, &rustls::version::TLS12],
            (true, false) => &[&rustls::version::TLS13],
            (false, true) => &[&rustls::version::TLS12],
            (false, false) => return Err(TlsError::NoProtocolVersions),
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(from_config_error)?;
        let builder = if self.insecure {
            log::warn!("TLS client built with certificate verification OFF (tests only)");
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider.clone())))
        } else {
            builder.with_root_certificates(roots)
        };
        let mut cfg = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => {
                let chain = pem::certificates(chain, PemItem::CertificateChain)?;
                let key = pem::private_key(key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(from_config_error)?
            }
        };
        cfg.alpn_protocols = self.alpn;
        cfg.enable_sni = self.sni;
        cfg.resumption = if self.sessions > 0 {
            rustls::client::Resumption::in_memory_sessions(self.sessions)
        } else {
            rustls::client::Resumption::disabled()
        };
        Ok(ClientConfig {
            rustls: Arc::new(cfg),
            buffer_limit: self.buffer_limit,
        })
    }
}

/// One client-side TLS connection, sans-IO (the same surface as
/// [`ServerSession`](crate::ServerSession)). The client speaks first: call
/// [`write_tls`](Self::write_tls) right after [`new`](Self::new).
pub struct ClientSession {
    engine: Engine,
    server_name: String,
}

impl fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSession")
            .field("server_name", &self.server_name)
            .field("handshaking", &self.is_handshaking())
            .field("version", &self.protocol_version())
            .finish_non_exhaustive()
    }
}

impl ClientSession {
    /// A new session to `server_name` (a DNS name, verified against the certificate
    /// and sent as SNI, or an IP address literal). Its ClientHello is queued.
    pub fn new(config: &ClientConfig, server_name: &str) -> Result<Self, TlsError> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| TlsError::InvalidServerName)?;
        let conn = rustls::ClientConnection::new(config.rustls.clone(), name)
            .map_err(|e| TlsError::Rustls(Detail::new(e)))?;
        Ok(Self {
            engine: Engine::new(conn, config.buffer_limit),
            server_name: server_name.to_owned(),
        })
    }

    /// The name this session was opened for.
    pub fn server_name(&self) -> Option<&str> {
        Some(&self.server_name)
    }

    session_methods!();
}

/// Accepts every certificate; still checks handshake signatures with the provider's
/// algorithms so the handshake itself is sound.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
