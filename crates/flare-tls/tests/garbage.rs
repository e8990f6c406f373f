//! Garbage into `read_tls` is an error, never a panic.

mod common;

use flare_tls::{ClientConfig, ClientSession, ServerConfig, ServerSession};
use proptest::prelude::*;
use std::sync::OnceLock;

fn configs() -> &'static (ServerConfig, ClientConfig) {
    static CFG: OnceLock<(ServerConfig, ClientConfig)> = OnceLock::new();
    CFG.get_or_init(|| {
        let p = common::pki();
        let server = ServerConfig::builder()
            .cert_pem(&p.cert, &p.key)
            .build()
            .unwrap();
        let client = ClientConfig::builder()
            .ca_pem(&p.ca.cert_pem())
            .build()
            .unwrap();
        (server, client)
    })
}

/// A real ClientHello, to mutate.
fn client_hello() -> Vec<u8> {
    let mut c = ClientSession::new(&configs().1, "localhost").unwrap();
    let mut out = Vec::new();
    c.write_tls(&mut out).unwrap();
    out
}

fn feed_all_server(s: &mut ServerSession, mut data: &[u8]) {
    let mut buf = [0u8; 1024];
    for _ in 0..10_000 {
        if data.is_empty() {
            return;
        }
        match s.read_tls(data) {
            Ok(n) => data = &data[n..],
            Err(_) => {
                assert!(s.has_failed());
                // Flushing the alert must not panic either.
                let mut out = Vec::new();
                s.write_tls(&mut out).unwrap();
                return;
            }
        }
        while s.read_plaintext(&mut buf).unwrap() > 0 {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_into_server(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut s = ServerSession::new(&configs().0).unwrap();
        feed_all_server(&mut s, &data);
    }

    #[test]
    fn random_records_into_server(
        records in proptest::collection::vec(
            (prop_oneof![Just(20u8), Just(21), Just(22), Just(23), any::<u8>()],
             proptest::collection::vec(any::<u8>(), 0..300)),
            1..8)
    ) {
        // Plausible record headers make the fuzz reach past the record layer.
        let mut data = Vec::new();
        for (ty, body) in &records {
            data.push(*ty);
            data.extend_from_slice(&[3, 3]);
            data.extend_from_slice(&(body.len() as u16).to_be_bytes());
            data.extend_from_slice(body);
        }
        let mut s = ServerSession::new(&configs().0).unwrap();
        feed_all_server(&mut s, &data);
    }

    #[test]
    fn mutated_client_hello_into_server(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut hello = client_hello();
        for (i, b) in &flips {
            let i = i.index(hello.len());
            hello[i] ^= b;
        }
        hello.truncate(cut.index(hello.len()) + 1);
        let mut s = ServerSession::new(&configs().0).unwrap();
        feed_all_server(&mut s, &hello);
    }

    #[test]
    fn random_bytes_into_client(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut c = ClientSession::new(&configs().1, "localhost").unwrap();
        let mut out = Vec::new();
        c.write_tls(&mut out).unwrap();
        let mut rest = &data[..];
        let mut buf = [0u8; 1024];
        for _ in 0..10_000 {
            if rest.is_empty() { break; }
            match c.read_tls(rest) {
                Ok(n) => rest = &rest[n..],
                Err(_) => { prop_assert!(c.has_failed()); break; }
            }
            while c.read_plaintext(&mut buf).unwrap() > 0 {}
        }
    }
}

#[test]
fn one_byte_at_a_time_handshake() {
    // Ciphertext split at every byte boundary still completes the handshake.
    let (server_cfg, client_cfg) = configs();
    let mut c = ClientSession::new(client_cfg, "localhost").unwrap();
    let mut s = ServerSession::new(server_cfg).unwrap();
    for _ in 0..32 {
        if !c.is_handshaking() && !s.is_handshaking() && !c.wants_write() && !s.wants_write() {
            break;
        }
        let mut wire = Vec::new();
        c.write_tls(&mut wire).unwrap();
        for b in wire.chunks(1) {
            assert_eq!(s.read_tls(b).unwrap(), 1);
        }
        wire.clear();
        s.write_tls(&mut wire).unwrap();
        for b in wire.chunks(1) {
            assert_eq!(c.read_tls(b).unwrap(), 1);
        }
    }
    assert!(!c.is_handshaking() && !s.is_handshaking());
}
