//! TLS for flare: rustls 0.23 (ring provider) behind flare's own types.
//!
//! This crate will hold a sans-IO TLS session wrapper (ciphertext in, plaintext events
//! out), server and client config builders (PEM loading, ALPN, resumption, mTLS, SNI),
//! and typed handshake errors. It is filled by the TLS issue; nothing here yet.
#![forbid(unsafe_code)]
