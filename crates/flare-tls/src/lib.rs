//! TLS for flare: rustls 0.23 behind flare's own types, as a sans-IO session.
//!
//! - [`ServerConfig`] / [`ClientConfig`]: built once from PEM (files or bytes), cheap to
//!   clone, shared by every worker. ALPN (server default `h2`, `http/1.1`), TLS 1.3
//!   always and TLS 1.2 optionally, resumption (stateless rotating tickets and a
//!   bounded session cache on the server, a bounded session store on the client),
//!   client-certificate auth (mTLS), SNI selection among several certificates and
//!   certificate reload without a restart.
//! - [`ServerSession`] / [`ClientSession`]: one per connection. Ciphertext in
//!   ([`read_tls`](ServerSession::read_tls)), plaintext out
//!   ([`read_plaintext`](ServerSession::read_plaintext)), plaintext in
//!   ([`write_plaintext`](ServerSession::write_plaintext)), ciphertext to send
//!   ([`write_tls`](ServerSession::write_tls)). No socket, no clock, no thread: the
//!   worker's driver moves the bytes and enforces
//!   [`ServerConfig::handshake_timeout`] with its timer wheel.
//! - [`TlsError`]: typed failures (bad certificate file, bad PEM, key mismatch, no
//!   matching ALPN, handshake failure with the alert).
//!
//! The crypto provider is ring; the `aws-lc-rs` feature switches to aws-lc-rs. The
//! `self-signed` feature adds `self_signed()` and `TestCa` (rcgen, ring backend).
//!
//! # Driving a session (what the worker does)
//!
//! - Readable: read the socket into a buffer; call `read_tls(&buf[..n])` until all is
//!   consumed, calling `read_plaintext` in between (a short `read_tls` count means
//!   the 16 KiB received-plaintext buffer is full; keep the rest and feed it after
//!   the codec has taken plaintext). An `Err` is fatal: flush `write_tls` (it holds
//!   the alert) and close.
//! - After every `read_tls` and every `write_plaintext`: while `wants_write()`,
//!   `write_tls(&mut out)` and write `out` to the socket. A server has bytes to send
//!   right after the handshake too (TLS 1.3 session tickets).
//! - Handshake: arm [`ServerConfig::handshake_timeout`] at accept and disarm it when
//!   `is_handshaking()` turns false; then pick the codec from `alpn_protocol()`
//!   (`h2` or HTTP/1.1 when `http/1.1` or none was negotiated).
//! - Sending: `write_plaintext` returns how much it took (bounded by
//!   [`buffer_limit`](ServerConfigBuilder::buffer_limit)); keep the rest and wait for
//!   writability after flushing `write_tls`.
//! - Closing: `send_close_notify()`, flush `write_tls`, close. `peer_closed()` tells
//!   the peer's clean close from a truncation (socket EOF without it).
//!
//! # Threat model and limits
//!
//! | Limit | Default | Prevents |
//! |---|---|---|
//! | [`buffer_limit`](ServerConfigBuilder::buffer_limit) | 64 KiB | a peer that never reads making us buffer outgoing data without bound |
//! | received plaintext | 16 KiB (rustls) | a peer flooding records faster than the application reads: `read_tls` consumes less |
//! | handshake message size | 64 KiB (rustls) | huge handshake messages held in memory |
//! | [`handshake_timeout`](ServerConfigBuilder::handshake_timeout) | 10 s | a peer stalling the handshake to hold a connection slot |
//! | [`session_cache`](ServerConfigBuilder::session_cache) | 4096 entries | clients growing server memory with fresh sessions |
//!
//! # Example: one handshake in memory
//!
//! ```
//! # #[cfg(feature = "self-signed")] {
//! use flare_tls::{ClientConfig, ClientSession, ServerConfig, ServerSession};
//!
//! let ca = flare_tls::TestCa::new("example CA").unwrap();
//! let (cert, key) = ca.issue(&["localhost"]).unwrap();
//! let server_cfg = ServerConfig::builder().cert_pem(&cert, &key).build().unwrap();
//! let client_cfg = ClientConfig::builder()
//!     .ca_pem(&ca.cert_pem())
//!     .alpn(&[b"h2"])
//!     .build()
//!     .unwrap();
//! let mut server = ServerSession::new(&server_cfg).unwrap();
//! let mut client = ClientSession::new(&client_cfg, "localhost").unwrap();
//! let mut wire = Vec::new();
//! while client.is_handshaking() || server.is_handshaking() {
//!     wire.clear();
//!     client.write_tls(&mut wire).unwrap();
//!     server.read_tls(&wire).unwrap();
//!     wire.clear();
//!     server.write_tls(&mut wire).unwrap();
//!     client.read_tls(&wire).unwrap();
//! }
//! assert_eq!(server.alpn_protocol(), Some(&b"h2"[..]));
//! # }
//! ```
#![forbid(unsafe_code)]

mod client;
mod error;
mod pem;
mod provider;
#[cfg(feature = "self-signed")]
mod self_signed;
mod server;
mod session;

pub use client::{ClientConfig, ClientConfigBuilder, ClientSession, DEFAULT_CLIENT_SESSIONS};
pub use error::{Alert, CertificateProblem, Detail, HandshakeFailure, PemError, PemItem, TlsError};
pub use provider::provider_name;
#[cfg(feature = "self-signed")]
pub use self_signed::{self_signed, test_ca, TestCa};
pub use server::{
    ServerConfig, ServerConfigBuilder, ServerSession, DEFAULT_ALPN, DEFAULT_BUFFER_LIMIT,
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_SESSION_CACHE, DEFAULT_TLS13_TICKETS,
};
pub use session::{HandshakeKind, PeerCertificates, TlsVersion};
