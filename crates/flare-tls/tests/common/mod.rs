//! Shared test helpers: certificates and an in-memory pump between two sessions.
#![allow(dead_code)]

use flare_tls::{ClientSession, ServerSession, TestCa, TlsError};

/// A CA plus a leaf for `localhost` / `127.0.0.1` signed by it.
pub struct Pki {
    pub ca: TestCa,
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

pub fn pki() -> Pki {
    let ca = TestCa::new("flare test CA").unwrap();
    let (cert, key) = ca.issue(&["localhost", "127.0.0.1"]).unwrap();
    Pki { ca, cert, key }
}

/// The first certificate of a PEM chain, as DER.
pub fn der(pem: &[u8]) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(pem)
        .unwrap()
        .as_ref()
        .to_vec()
}

/// Which side failed first, with its error.
#[derive(Debug)]
pub enum Failed {
    Client(TlsError),
    Server(TlsError),
}

/// Moves bytes both ways until both handshakes are done and nothing is left to send
/// (so TLS 1.3 tickets reach the client). Bounded: 32 rounds.
pub fn handshake(client: &mut ClientSession, server: &mut ServerSession) -> Result<(), Failed> {
    for _ in 0..32 {
        if !client.is_handshaking()
            && !server.is_handshaking()
            && !client.wants_write()
            && !server.wants_write()
        {
            return Ok(());
        }
        pump(client, server)?;
    }
    panic!("handshake did not finish in 32 rounds");
}

/// One round: client -> server, then server -> client.
pub fn pump(client: &mut ClientSession, server: &mut ServerSession) -> Result<(), Failed> {
    let mut wire = Vec::new();
    client.write_tls(&mut wire).map_err(Failed::Client)?;
    feed_server(server, &wire).map_err(Failed::Server)?;
    wire.clear();
    server.write_tls(&mut wire).map_err(Failed::Server)?;
    feed_client(client, &wire).map_err(Failed::Client)?;
    Ok(())
}

/// Feeds everything (the test reads plaintext separately, so it must fit).
pub fn feed_server(server: &mut ServerSession, mut wire: &[u8]) -> Result<(), TlsError> {
    while !wire.is_empty() {
        let n = server.read_tls(wire)?;
        assert!(n > 0, "server consumed nothing: plaintext buffer full");
        wire = &wire[n..];
    }
    Ok(())
}

pub fn feed_client(client: &mut ClientSession, mut wire: &[u8]) -> Result<(), TlsError> {
    while !wire.is_empty() {
        let n = client.read_tls(wire)?;
        assert!(n > 0, "client consumed nothing: plaintext buffer full");
        wire = &wire[n..];
    }
    Ok(())
}

/// All plaintext buffered in a session.
pub fn drain_server(server: &mut ServerSession) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = server.read_plaintext(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

pub fn drain_client(client: &mut ClientSession) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = client.read_plaintext(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}
