//! Server side: [`ServerConfig`] (built once, shared by every worker) and
//! [`ServerSession`] (one per connection).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;

use crate::error::{from_config_error, Detail, TlsError};
use crate::pem;
use crate::provider::{provider, ticketer};
use crate::session::{session_methods, Engine, HandshakeKind, PeerCertificates, TlsVersion};

/// Default ALPN list: HTTP/2 preferred, then HTTP/1.1.
pub const DEFAULT_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];
/// Default server-side session cache size (entries).
pub const DEFAULT_SESSION_CACHE: usize = 4096;
/// Default TLS 1.3 tickets sent after each full handshake.
pub const DEFAULT_TLS13_TICKETS: usize = 2;
/// Default limit on buffered outgoing data per session (bytes), plaintext and
/// ciphertext each.
pub const DEFAULT_BUFFER_LIMIT: usize = 64 * 1024;
/// Default handshake timeout.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Server TLS configuration: certificates, ALPN, versions, resumption, client auth and
/// limits. Cheap to clone (an `Arc` inside); build it once and give a clone to every
/// worker.
#[derive(Clone)]
pub struct ServerConfig {
    rustls: Arc<rustls::ServerConfig>,
    certs: Arc<CertStore>,
    provider: Arc<CryptoProvider>,
    buffer_limit: usize,
    handshake_timeout: Duration,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("alpn", &self.rustls.alpn_protocols)
            .field("buffer_limit", &self.buffer_limit)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// A builder with the defaults: ALPN `h2`, `http/1.1`; TLS 1.3 and 1.2; stateless
    /// session tickets; a 4096-entry session cache; no client auth; 64 KiB buffer limit;
    /// 10 s handshake timeout. A certificate must be given.
    pub fn builder() -> ServerConfigBuilder {
        ServerConfigBuilder::default()
    }

    /// Replaces the default certificate without a restart: handshakes that start
    /// afterwards present the new one; established sessions are unaffected. On error
    /// the old certificate stays.
    pub fn reload_cert_pem(&self, chain: &[u8], key: &[u8]) -> Result<(), TlsError> {
        let ck = match pem::certified_key(chain, key, &self.provider) {
            Ok(ck) => ck,
            Err(e) => {
                log::warn!("tls: certificate reload refused, the old one stays: {e}");
                return Err(e);
            }
        };
        *write(&self.certs.default) = Some(ck);
        log::info!("tls: certificate reloaded");
        Ok(())
    }

    /// [`reload_cert_pem`](Self::reload_cert_pem) from files.
    pub fn reload_cert_pem_file(
        &self,
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<(), TlsError> {
        let chain = pem::read_file(chain.as_ref())?;
        let key = pem::read_file(key.as_ref())?;
        self.reload_cert_pem(&chain, &key)
    }

    /// Adds or replaces the certificate served for one SNI name (see
    /// [`ServerConfigBuilder::sni_cert_pem`]) without a restart.
    pub fn reload_sni_cert_pem(
        &self,
        server_name: &str,
        chain: &[u8],
        key: &[u8],
    ) -> Result<(), TlsError> {
        let ck = pem::certified_key(chain, key, &self.provider)?;
        write(&self.certs.by_name).insert(server_name.to_ascii_lowercase(), ck);
        Ok(())
    }

    /// Stops serving a dedicated certificate for `server_name`; its clients get the
    /// default certificate from the next handshake on. Returns whether one was there.
    pub fn remove_sni_cert(&self, server_name: &str) -> bool {
        write(&self.certs.by_name)
            .remove(&server_name.to_ascii_lowercase())
            .is_some()
    }

    /// How long a handshake may take before the driver closes the connection.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// The outgoing buffer limit each session gets (bytes).
    pub fn buffer_limit(&self) -> usize {
        self.buffer_limit
    }

    /// The ALPN protocols offered, most preferred first.
    pub fn alpn_protocols(&self) -> impl Iterator<Item = &[u8]> {
        self.rustls.alpn_protocols.iter().map(|p| p.as_slice())
    }
}

/// Builds a [`ServerConfig`]. Errors (unreadable files, bad PEM, a key that does not
/// match) surface at [`build`](Self::build).
#[derive(Debug)]
pub struct ServerConfigBuilder {
    default_cert: Option<CertSource>,
    sni_certs: Vec<(String, CertSource)>,
    alpn: Vec<Vec<u8>>,
    tls12: bool,
    tickets: bool,
    tls13_tickets: usize,
    session_cache: usize,
    client_ca: Option<CaSource>,
    client_auth_optional: bool,
    buffer_limit: usize,
    handshake_timeout: Duration,
}

#[derive(Debug)]
enum CertSource {
    Pem { chain: Vec<u8>, key: Vec<u8> },
    Files { chain: PathBuf, key: PathBuf },
}

impl CertSource {
    fn load(&self, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, TlsError> {
        match self {
            Self::Pem { chain, key } => pem::certified_key(chain, key, provider),
            Self::Files { chain, key } => {
                let chain = pem::read_file(chain)?;
                let key = pem::read_file(key)?;
                pem::certified_key(&chain, &key, provider)
            }
        }
    }
}

#[derive(Debug)]
enum CaSource {
    Pem(Vec<u8>),
    File(PathBuf),
}

impl CaSource {
    fn load(&self) -> Result<rustls::RootCertStore, TlsError> {
        match self {
            Self::Pem(pem) => pem::root_store(pem),
            Self::File(path) => pem::root_store(&pem::read_file(path)?),
        }
    }
}

impl Default for ServerConfigBuilder {
    fn default() -> Self {
        Self {
            default_cert: None,
            sni_certs: Vec::new(),
            alpn: DEFAULT_ALPN.iter().map(|p| p.to_vec()).collect(),
            tls12: true,
            tickets: true,
            tls13_tickets: DEFAULT_TLS13_TICKETS,
            session_cache: DEFAULT_SESSION_CACHE,
            client_ca: None,
            client_auth_optional: false,
            buffer_limit: DEFAULT_BUFFER_LIMIT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

impl ServerConfigBuilder {
    /// The default certificate chain (leaf first) and private key, from PEM files.
    /// Read at [`build`](Self::build); a missing file is [`TlsError::CertFile`].
    pub fn cert_pem_file(mut self, chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        self.default_cert = Some(CertSource::Files {
            chain: chain.as_ref().to_path_buf(),
            key: key.as_ref().to_path_buf(),
        });
        self
    }

    /// The default certificate chain (leaf first) and private key, as PEM bytes
    /// (PKCS#8, PKCS#1 or SEC1 keys).
    pub fn cert_pem(mut self, chain: &[u8], key: &[u8]) -> Self {
        self.default_cert = Some(CertSource::Pem {
            chain: chain.to_vec(),
            key: key.to_vec(),
        });
        self
    }

    /// A certificate served when the client's SNI is `server_name` (case-insensitive;
    /// `*.example.com` matches one label). Clients without SNI, or with a name that
    /// matches nothing, get the default certificate ([`cert_pem`](Self::cert_pem)); if
    /// there is none, their handshake fails.
    pub fn sni_cert_pem(mut self, server_name: &str, chain: &[u8], key: &[u8]) -> Self {
        self.sni_certs.push((
            server_name.to_ascii_lowercase(),
            CertSource::Pem {
                chain: chain.to_vec(),
                key: key.to_vec(),
            },
        ));
        self
    }

    /// ALPN protocols, most preferred first. Default `h2`, `http/1.1`. A client that
    /// offers ALPN with no protocol in common is refused with `no_application_protocol`
    /// (RFC 7301 section 3.2); a client that offers none is accepted. An empty list
    /// turns ALPN off.
    pub fn alpn(mut self, protocols: &[&[u8]]) -> Self {
        self.alpn = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// Whether TLS 1.2 is accepted besides TLS 1.3. Default true.
    pub fn tls12(mut self, on: bool) -> Self {
        self.tls12 = on;
        self
    }

    /// Stateless session tickets (RFC 5077 for TLS 1.2, TLS 1.3 tickets), encrypted
    /// with rustls' rotating ticket keys (new random key every 6 hours, tickets valid
    /// 12 hours). Default on. Off, TLS 1.3 resumption uses the session cache.
    pub fn session_tickets(mut self, on: bool) -> Self {
        self.tickets = on;
        self
    }

    /// How many TLS 1.3 tickets to send after a full handshake. Default 2 (one for
    /// each of a browser's typical parallel connections); 0 turns TLS 1.3 resumption
    /// off.
    pub fn tls13_tickets(mut self, count: usize) -> Self {
        self.tls13_tickets = count;
        self
    }

    /// Size of the server-side session cache (TLS 1.2 session ids; TLS 1.3 stateful
    /// tickets when stateless tickets are off). Default 4096 entries, bounded so a
    /// client cannot grow it; 0 turns it off.
    pub fn session_cache(mut self, entries: usize) -> Self {
        self.session_cache = entries;
        self
    }

    /// Mutual TLS: require a client certificate chaining to a CA in this PEM bundle.
    /// Clients without one are refused with `certificate_required`, others with a
    /// certificate alert (`unknown_ca`, ...).
    pub fn client_auth_ca_pem(mut self, ca: &[u8]) -> Self {
        self.client_ca = Some(CaSource::Pem(ca.to_vec()));
        self
    }

    /// [`client_auth_ca_pem`](Self::client_auth_ca_pem) from a file.
    pub fn client_auth_ca_pem_file(mut self, ca: impl AsRef<Path>) -> Self {
        self.client_ca = Some(CaSource::File(ca.as_ref().to_path_buf()));
        self
    }

    /// With client auth configured: also accept clients that send no certificate
    /// (those that send one must still pass). Default false.
    pub fn client_auth_optional(mut self, on: bool) -> Self {
        self.client_auth_optional = on;
        self
    }

    /// Limit on outgoing data a session buffers (plaintext queued before the
    /// handshake ends, and ciphertext not yet taken by `write_tls`), in bytes. Default
    /// 64 KiB. `write_plaintext` accepts no more than this, so a peer that does not
    /// read cannot make the server buffer without bound.
    pub fn buffer_limit(mut self, bytes: usize) -> Self {
        self.buffer_limit = bytes;
        self
    }

    /// How long a handshake may take; the worker closes connections that stall past
    /// it (slowloris on the handshake). Default 10 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Loads every certificate and key and builds the configuration.
    pub fn build(self) -> Result<ServerConfig, TlsError> {
        let provider = provider();
        let store = CertStore::default();
        if let Some(src) = &self.default_cert {
            *write(&store.default) = Some(src.load(&provider)?);
        }
        for (name, src) in &self.sni_certs {
            let ck = src.load(&provider)?;
            write(&store.by_name).insert(name.clone(), ck);
        }
        if self.default_cert.is_none() && self.sni_certs.is_empty() {
            return Err(TlsError::NoCertificates);
        }
        let store = Arc::new(store);

        let versions: &[&'static rustls::SupportedProtocolVersion] = if self.tls12 {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13]
        };
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(from_config_error)?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let roots = Arc::new(ca.load()?);
                let mut v = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
                if self.client_auth_optional {
                    v = v.allow_unauthenticated();
                }
                let verifier = v.build().map_err(|e| {
                    TlsError::BadCertificate(Detail::new(rustls::Error::General(e.to_string())))
                })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut cfg = builder.with_cert_resolver(store.clone());
        cfg.alpn_protocols = self.alpn;
        cfg.session_storage = if self.session_cache > 0 {
            rustls::server::ServerSessionMemoryCache::new(self.session_cache)
        } else {
            Arc::new(rustls::server::NoServerSessionStorage {})
        };
        if self.tickets {
            cfg.ticketer = ticketer()?;
        }
        cfg.send_tls13_tickets = self.tls13_tickets;
        Ok(ServerConfig {
            rustls: Arc::new(cfg),
            certs: store,
            provider,
            buffer_limit: self.buffer_limit,
            handshake_timeout: self.handshake_timeout,
        })
    }
}

/// The certificates, swappable at run time: the default and one per SNI name.
#[derive(Debug, Default)]
struct CertStore {
    default: RwLock<Option<Arc<CertifiedKey>>>,
    by_name: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl CertStore {
    fn lookup(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let name = name.to_ascii_lowercase();
        let by_name = read(&self.by_name);
        if let Some(ck) = by_name.get(&name) {
            return Some(ck.clone());
        }
        let (_, parent) = name.split_once('.')?;
        by_name.get(&format!("*.{parent}")).cloned()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(ck) = hello.server_name().and_then(|n| self.lookup(n)) {
            return Some(ck);
        }
        read(&self.default).clone()
    }
}

// A writer that panicked mid-swap left a whole Arc in place, so poisoning is harmless.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

/// One server-side TLS connection, sans-IO: ciphertext in ([`read_tls`]), plaintext
/// out ([`read_plaintext`]), plaintext in ([`write_plaintext`]), ciphertext to send
/// ([`write_tls`]). It never touches a socket or a clock.
///
/// [`read_tls`]: Self::read_tls
/// [`read_plaintext`]: Self::read_plaintext
/// [`write_plaintext`]: Self::write_plaintext
/// [`write_tls`]: Self::write_tls
pub struct ServerSession {
    engine: Engine,
}

impl fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSession")
            .field("handshaking", &self.is_handshaking())
            .field("version", &self.protocol_version())
            .finish_non_exhaustive()
    }
}

impl ServerSession {
    /// A new session waiting for the client's hello.
    pub fn new(config: &ServerConfig) -> Result<Self, TlsError> {
        let conn = rustls::ServerConnection::new(config.rustls.clone())
            .map_err(|e| TlsError::Rustls(Detail::new(e)))?;
        Ok(Self {
            engine: Engine::new(conn, config.buffer_limit),
        })
    }

    /// The SNI name the client sent, once its hello has been read.
    pub fn server_name(&self) -> Option<&str> {
        match self.engine.conn() {
            rustls::Connection::Server(c) => c.server_name(),
            rustls::Connection::Client(_) => None,
        }
    }

    session_methods!();
}
