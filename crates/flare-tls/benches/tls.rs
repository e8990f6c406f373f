//! In-memory TLS costs of flare's session wrapper against rustls driven directly (the
//! named peer, same provider, same certificates, same run): full and resumed TLS 1.3
//! handshakes, and bulk transfer. Prints each figure and the flare/rustls ratio.
//!
//! `cargo bench -p flare-tls --bench tls` (bounded: a few seconds).

use std::hint::black_box;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flare_tls::{ClientConfig, ClientSession, ServerConfig, ServerSession, TestCa};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

const HANDSHAKES: usize = 400;
const ROUNDS: usize = 8;
const BULK_BYTES: usize = 64 << 20;

struct Certs {
    ca: Vec<u8>,
    cert: Vec<u8>,
    key: Vec<u8>,
}

fn flare_pair(s: &ServerConfig, c: &ClientConfig) -> (ClientSession, ServerSession) {
    let mut client = ClientSession::new(c, "localhost").unwrap();
    let mut server = ServerSession::new(s).unwrap();
    let mut wire = Vec::with_capacity(16 << 10);
    for _ in 0..16 {
        if !client.is_handshaking()
            && !server.is_handshaking()
            && !client.wants_write()
            && !server.wants_write()
        {
            break;
        }
        wire.clear();
        client.write_tls(&mut wire).unwrap();
        server.read_tls(&wire).unwrap();
        wire.clear();
        server.write_tls(&mut wire).unwrap();
        client.read_tls(&wire).unwrap();
    }
    assert!(!client.is_handshaking() && !server.is_handshaking());
    (client, server)
}

fn rustls_configs(
    certs: &Certs,
    resume: bool,
) -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&certs.cert)
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_slice(&certs.key).unwrap();
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if resume {
        server.ticketer = rustls::crypto::ring::Ticketer::new().unwrap();
    }
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&certs.ca) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"h2".to_vec()];
    if !resume {
        client.resumption = rustls::client::Resumption::disabled();
    }
    (Arc::new(server), Arc::new(client))
}

fn rustls_pair(
    s: &Arc<rustls::ServerConfig>,
    c: &Arc<rustls::ClientConfig>,
) -> (rustls::ClientConnection, rustls::ServerConnection) {
    let mut client =
        rustls::ClientConnection::new(c.clone(), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut server = rustls::ServerConnection::new(s.clone()).unwrap();
    let mut wire = Vec::with_capacity(16 << 10);
    for _ in 0..16 {
        if !client.is_handshaking()
            && !server.is_handshaking()
            && !client.wants_write()
            && !server.wants_write()
        {
            break;
        }
        wire.clear();
        client.write_tls(&mut wire).unwrap();
        server.read_tls(&mut &wire[..]).unwrap();
        server.process_new_packets().unwrap();
        wire.clear();
        server.write_tls(&mut wire).unwrap();
        client.read_tls(&mut &wire[..]).unwrap();
        client.process_new_packets().unwrap();
    }
    assert!(!client.is_handshaking() && !server.is_handshaking());
    (client, server)
}

fn per_op(start: Instant, n: usize) -> Duration {
    start.elapsed() / n as u32
}

fn report(what: &str, flare: f64, rustls: f64, unit: &str) {
    println!(
        "{what:<28} flare {flare:>10.1} {unit:<6} rustls {rustls:>10.1} {unit:<6} ratio flare/rustls {:.3}",
        flare / rustls
    );
}

fn handshakes(certs: &Certs, resume: bool) {
    let mut sb = ServerConfig::builder()
        .cert_pem(&certs.cert, &certs.key)
        .tls12(false);
    let mut cb = ClientConfig::builder()
        .ca_pem(&certs.ca)
        .tls12(false)
        .alpn(&[b"h2"]);
    if !resume {
        sb = sb.session_tickets(false).session_cache(0);
        cb = cb.session_store(0);
    }
    let (fs, fc) = (sb.build().unwrap(), cb.build().unwrap());
    let (rs, rc) = rustls_configs(certs, resume);
    // Warm up (and, for resumption, fill the session stores).
    flare_pair(&fs, &fc);
    rustls_pair(&rs, &rc);

    // Alternate in rounds and keep each side's best round: the machine is shared, so
    // the minimum is the least disturbed figure.
    let (mut flare, mut rustls) = (Duration::MAX, Duration::MAX);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..HANDSHAKES / ROUNDS {
            black_box(flare_pair(&fs, &fc));
        }
        flare = flare.min(per_op(t, HANDSHAKES / ROUNDS));
        let t = Instant::now();
        for _ in 0..HANDSHAKES / ROUNDS {
            black_box(rustls_pair(&rs, &rc));
        }
        rustls = rustls.min(per_op(t, HANDSHAKES / ROUNDS));
    }
    let what = if resume {
        "TLS 1.3 resumed handshake"
    } else {
        "TLS 1.3 full handshake"
    };
    report(
        what,
        1e6 / flare.as_micros().max(1) as f64,
        1e6 / rustls.as_micros().max(1) as f64,
        "hs/s",
    );
}

fn bulk(certs: &Certs) {
    let fs = ServerConfig::builder()
        .cert_pem(&certs.cert, &certs.key)
        .build()
        .unwrap();
    let fc = ClientConfig::builder().ca_pem(&certs.ca).build().unwrap();
    let (mut client, mut server) = flare_pair(&fs, &fc);
    let chunk = vec![0x5au8; 16 << 10];
    let mut wire = Vec::with_capacity(64 << 10);
    let mut plain = vec![0u8; 64 << 10];
    let t = Instant::now();
    let mut got = 0;
    while got < BULK_BYTES {
        let mut off = 0;
        while off < chunk.len() {
            off += server.write_plaintext(&chunk[off..]).unwrap();
            wire.clear();
            server.write_tls(&mut wire).unwrap();
            let mut rest = &wire[..];
            while !rest.is_empty() {
                let n = client.read_tls(rest).unwrap();
                rest = &rest[n..];
                loop {
                    let n = client.read_plaintext(&mut plain).unwrap();
                    if n == 0 {
                        break;
                    }
                    got += n;
                }
            }
        }
    }
    let flare = BULK_BYTES as f64 / t.elapsed().as_secs_f64() / (1 << 20) as f64;

    let (rs, rc) = rustls_configs(certs, false);
    let (mut client, mut server) = rustls_pair(&rs, &rc);
    let t = Instant::now();
    let mut got = 0;
    while got < BULK_BYTES {
        let mut off = 0;
        while off < chunk.len() {
            off += server.writer().write(&chunk[off..]).unwrap();
            wire.clear();
            server.write_tls(&mut wire).unwrap();
            let mut rest = &wire[..];
            while !rest.is_empty() {
                // An Err is back-pressure (plaintext buffer full): drain and retry.
                let _ = client.read_tls(&mut rest);
                client.process_new_packets().unwrap();
                loop {
                    match client.reader().read(&mut plain) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got += n,
                    }
                }
            }
        }
    }
    let rustls = BULK_BYTES as f64 / t.elapsed().as_secs_f64() / (1 << 20) as f64;
    report("bulk server->client", flare, rustls, "MiB/s");
}

fn main() {
    let ca = TestCa::new("bench CA").unwrap();
    let (cert, key) = ca.issue(&["localhost"]).unwrap();
    let certs = Certs {
        ca: ca.cert_pem(),
        cert,
        key,
    };
    println!(
        "flare-tls in-memory, provider {}",
        flare_tls::provider_name()
    );
    handshakes(&certs, false);
    handshakes(&certs, true);
    bulk(&certs);
}
