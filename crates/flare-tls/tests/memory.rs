//! In-memory client/server pairs: no sockets, no sleeps.

mod common;

use common::{der, drain_client, drain_server, feed_server, handshake, pki, Failed};
use flare_tls::{
    Alert, CertificateProblem, ClientConfig, ClientSession, HandshakeFailure, HandshakeKind,
    ServerConfig, ServerSession, TestCa, TlsError, TlsVersion,
};

fn server_cfg(p: &common::Pki) -> ServerConfig {
    ServerConfig::builder()
        .cert_pem(&p.cert, &p.key)
        .build()
        .unwrap()
}

fn client_cfg(p: &common::Pki) -> flare_tls::ClientConfigBuilder {
    ClientConfig::builder().ca_pem(&p.ca.cert_pem())
}

fn connect(
    client: &ClientConfig,
    server: &ServerConfig,
    name: &str,
) -> (ClientSession, ServerSession) {
    let mut c = ClientSession::new(client, name).unwrap();
    let mut s = ServerSession::new(server).unwrap();
    handshake(&mut c, &mut s).unwrap();
    (c, s)
}

fn exchange(c: &mut ClientSession, s: &mut ServerSession) {
    assert_eq!(c.write_plaintext(b"ping").unwrap(), 4);
    common::pump(c, s).unwrap();
    assert_eq!(drain_server(s), b"ping");
    assert_eq!(s.write_plaintext(b"pong").unwrap(), 4);
    common::pump(c, s).unwrap();
    assert_eq!(drain_client(c), b"pong");
}

#[test]
fn tls13_handshake_and_data() {
    let p = pki();
    let (mut c, mut s) = connect(
        &client_cfg(&p).build().unwrap(),
        &server_cfg(&p),
        "localhost",
    );
    assert_eq!(s.protocol_version(), Some(TlsVersion::Tls13));
    assert_eq!(c.protocol_version(), Some(TlsVersion::Tls13));
    assert_eq!(s.handshake_kind(), Some(HandshakeKind::Full));
    assert!(s.cipher_suite().unwrap().starts_with("TLS13_"));
    assert_eq!(s.server_name(), Some("localhost"));
    assert!(s.peer_certificates().is_none(), "no client auth configured");
    let chain = c.peer_certificates().unwrap();
    assert_eq!(chain.len(), 1);
    assert_eq!(chain.end_entity().unwrap(), der(&p.cert).as_slice());
    exchange(&mut c, &mut s);
}

#[test]
fn tls12_handshake_and_data() {
    let p = pki();
    let client = client_cfg(&p).tls13(false).build().unwrap();
    let (mut c, mut s) = connect(&client, &server_cfg(&p), "localhost");
    assert_eq!(s.protocol_version(), Some(TlsVersion::Tls12));
    assert!(s.cipher_suite().unwrap().starts_with("TLS_ECDHE_"));
    exchange(&mut c, &mut s);
}

#[test]
fn server_without_tls12_refuses_a_tls12_only_client() {
    let p = pki();
    let server = ServerConfig::builder()
        .cert_pem(&p.cert, &p.key)
        .tls12(false)
        .build()
        .unwrap();
    let client = client_cfg(&p).tls13(false).build().unwrap();
    let mut c = ClientSession::new(&client, "localhost").unwrap();
    let mut s = ServerSession::new(&server).unwrap();
    match handshake(&mut c, &mut s) {
        Err(Failed::Server(TlsError::HandshakeFailed {
            reason: HandshakeFailure::PeerIncompatible(_),
            ..
        })) => {}
        other => panic!("{other:?}"),
    }
    // The alert reaches the client.
    let mut wire = Vec::new();
    s.write_tls(&mut wire).unwrap();
    match c.read_tls(&wire) {
        Err(TlsError::HandshakeFailed {
            alert: Some(Alert::ProtocolVersion),
            reason: HandshakeFailure::AlertReceived,
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(c.has_failed());
}

#[test]
fn both_versions_off_is_an_error() {
    let e = ClientConfig::builder()
        .tls12(false)
        .tls13(false)
        .build()
        .unwrap_err();
    assert!(matches!(e, TlsError::NoProtocolVersions), "{e:?}");
}

fn alpn_pick(
    server_alpn: Option<&[&[u8]]>,
    client_alpn: &[&[u8]],
) -> Result<Option<Vec<u8>>, Failed> {
    let p = pki();
    let mut b = ServerConfig::builder().cert_pem(&p.cert, &p.key);
    if let Some(a) = server_alpn {
        b = b.alpn(a);
    }
    let server = b.build().unwrap();
    let client = client_cfg(&p).alpn(client_alpn).build().unwrap();
    let mut c = ClientSession::new(&client, "localhost").unwrap();
    let mut s = ServerSession::new(&server).unwrap();
    handshake(&mut c, &mut s)?;
    assert_eq!(c.alpn_protocol(), s.alpn_protocol());
    Ok(s.alpn_protocol().map(|p| p.to_vec()))
}

#[test]
fn alpn_selection() {
    // Default server list is h2, http/1.1; the server's order wins.
    assert_eq!(
        alpn_pick(None, &[b"h2"]).unwrap().as_deref(),
        Some(&b"h2"[..])
    );
    assert_eq!(
        alpn_pick(None, &[b"http/1.1"]).unwrap().as_deref(),
        Some(&b"http/1.1"[..])
    );
    assert_eq!(
        alpn_pick(None, &[b"http/1.1", b"h2"]).unwrap().as_deref(),
        Some(&b"h2"[..])
    );
    // Client offers none: accepted, nothing negotiated.
    assert_eq!(alpn_pick(None, &[]).unwrap(), None);
    // Server with ALPN off: the client's offer is ignored.
    assert_eq!(alpn_pick(Some(&[]), &[b"h2"]).unwrap(), None);
    // A custom server list.
    assert_eq!(
        alpn_pick(Some(&[b"http/1.1"]), &[b"h2", b"http/1.1"])
            .unwrap()
            .as_deref(),
        Some(&b"http/1.1"[..])
    );
}

#[test]
fn alpn_without_overlap_is_refused_with_no_application_protocol() {
    let p = pki();
    let server = server_cfg(&p);
    let client = client_cfg(&p).alpn(&[b"spdy/3"]).build().unwrap();
    let mut c = ClientSession::new(&client, "localhost").unwrap();
    let mut s = ServerSession::new(&server).unwrap();
    match handshake(&mut c, &mut s) {
        Err(Failed::Server(TlsError::NoMatchingAlpn)) => {}
        other => panic!("{other:?}"),
    }
    // The alert reaches the client (encrypted under the handshake keys in TLS 1.3),
    // which reports the same typed error.
    let mut wire = Vec::new();
    s.write_tls(&mut wire).unwrap();
    assert!(matches!(c.read_tls(&wire), Err(TlsError::NoMatchingAlpn)));
    // The server keeps returning the error.
    assert!(matches!(
        s.read_tls(b"\x16\x03\x01"),
        Err(TlsError::NoMatchingAlpn)
    ));
}

#[test]
fn alpn_without_overlap_tls12_sends_a_plaintext_alert() {
    let p = pki();
    let client = client_cfg(&p)
        .tls13(false)
        .alpn(&[b"spdy/3"])
        .build()
        .unwrap();
    let mut c = ClientSession::new(&client, "localhost").unwrap();
    let mut s = ServerSession::new(&server_cfg(&p)).unwrap();
    assert!(matches!(
        handshake(&mut c, &mut s),
        Err(Failed::Server(TlsError::NoMatchingAlpn))
    ));
    // TLS 1.2 picks ALPN in the ServerHello, before any keys: the alert record is in the
    // clear, level fatal (2), no_application_protocol (120).
    let mut wire = Vec::new();
    s.write_tls(&mut wire).unwrap();
    assert_eq!(
        wire,
        [21, 3, 3, 0, 2, 2, Alert::NoApplicationProtocol.code()]
    );
    assert!(matches!(c.read_tls(&wire), Err(TlsError::NoMatchingAlpn)));
}

#[test]
fn sni_selects_among_certificates() {
    let ca = TestCa::new("sni CA").unwrap();
    let (a_cert, a_key) = ca.issue(&["a.test"]).unwrap();
    let (b_cert, b_key) = ca.issue(&["b.test"]).unwrap();
    let (w_cert, w_key) = ca.issue(&["*.wild.test"]).unwrap();
    let (d_cert, d_key) = ca.issue(&["default.test", "127.0.0.1"]).unwrap();
    let server = ServerConfig::builder()
        .cert_pem(&d_cert, &d_key)
        .sni_cert_pem("a.test", &a_cert, &a_key)
        .sni_cert_pem("B.Test", &b_cert, &b_key)
        .sni_cert_pem("*.wild.test", &w_cert, &w_key)
        .build()
        .unwrap();
    let client = ClientConfig::builder()
        .ca_pem(&ca.cert_pem())
        .build()
        .unwrap();
    for (name, cert) in [
        ("a.test", &a_cert),
        ("b.test", &b_cert),
        ("A.TEST", &a_cert),
        ("x.wild.test", &w_cert),
        ("default.test", &d_cert),
        // No SNI is sent for an IP address: the default certificate.
        ("127.0.0.1", &d_cert),
    ] {
        let (c, s) = connect(&client, &server, name);
        assert_eq!(
            c.peer_certificates().unwrap().end_entity().unwrap(),
            der(cert).as_slice(),
            "{name}"
        );
        if name != "127.0.0.1" {
            assert_eq!(
                s.server_name().map(str::to_ascii_lowercase),
                Some(name.to_ascii_lowercase())
            );
        } else {
            assert_eq!(s.server_name(), None);
        }
    }
    // An unknown name gets the default certificate, which does not cover it.
    let mut c = ClientSession::new(&client, "other.test").unwrap();
    let mut s = ServerSession::new(&server).unwrap();
    match handshake(&mut c, &mut s) {
        Err(Failed::Client(TlsError::HandshakeFailed {
            alert: Some(Alert::BadCertificate),
            reason: HandshakeFailure::CertificateRejected(CertificateProblem::NotValidForName),
        })) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn sni_only_server_refuses_unknown_names() {
    let ca = TestCa::new("sni CA").unwrap();
    let (a_cert, a_key) = ca.issue(&["a.test"]).unwrap();
    let server = ServerConfig::builder()
        .sni_cert_pem("a.test", &a_cert, &a_key)
        .build()
        .unwrap();
    let client = ClientConfig::builder()
        .dangerous_insecure_no_verify_for_tests_only()
        .build()
        .unwrap();
    connect(&client, &server, "a.test");
    let mut c = ClientSession::new(&client, "b.test").unwrap();
    let mut s = ServerSession::new(&server).unwrap();
    assert!(matches!(
        handshake(&mut c, &mut s),
        Err(Failed::Server(TlsError::HandshakeFailed { .. }))
    ));
}

fn resumed(server: &ServerConfig, client: &ClientConfig) -> (HandshakeKind, HandshakeKind) {
    let (mut c1, mut s1) = connect(client, server, "localhost");
    exchange(&mut c1, &mut s1);
    let first = s1.handshake_kind().unwrap();
    let (c2, s2) = connect(client, server, "localhost");
    assert_eq!(c2.handshake_kind(), s2.handshake_kind());
    (first, s2.handshake_kind().unwrap())
}

#[test]
fn resumption_tls13_with_tickets() {
    let p = pki();
    let client = client_cfg(&p).build().unwrap();
    assert_eq!(
        resumed(&server_cfg(&p), &client),
        (HandshakeKind::Full, HandshakeKind::Resumed)
    );
}

#[test]
fn resumption_tls13_stateful_cache_without_tickets() {
    let p = pki();
    let client = client_cfg(&p).build().unwrap();
    let server = ServerConfig::builder()
        .cert_pem(&p.cert, &p.key)
        .session_tickets(false)
        .build()
        .unwrap();
    assert_eq!(
        resumed(&server, &client),
        (HandshakeKind::Full, HandshakeKind::Resumed)
    );
    // Neither tickets nor cache: every handshake is full.
    let server = ServerConfig::builder()
        .cert_pem(&p.cert, &p.key)
        .session_tickets(false)
        .session_cache(0)
        .build()
        .unwrap();
    assert_eq!(
        resumed(&server, &client),
        (HandshakeKind::Full, HandshakeKind::Full)
    );
    // No TLS 1.3 tickets sent at all.
    let server = ServerConfig::builder()
        .cert_pem(&p.cert, &p.key)
        .tls13_tickets(0)
        .build()
        .unwrap();
    assert_eq!(
        resumed(&server, &client),
        (HandshakeKind::Full, HandshakeKind::Full)
    );
}

#[test]
fn resumption_tls12_ticket_and_session_id() {
    let p = pki();
    // A fresh client per server: a client holding a ticket from another server offers
    // it with a random session id (RFC 5077 section 3.4), so it would not resume by id.
    let client = || client_cfg(&p).tls13(false).build().unwrap();
    // RFC 5077 ticket.
    assert_eq!(
        resumed(&server_cfg(&p), &client()),
        (HandshakeKind::Full, HandshakeKind::Resumed)
    );
    // Session id from the server cache.
    let server = ServerConfig::builder()
        .cert_pem(&p.cert, &p.key)
        .session_tickets(false)
        .build()
        .unwrap();
    assert_eq!(
        resumed(&server, &client()),
        (HandshakeKind::Full, HandshakeKind::Resumed)
    );
    let server = ServerConfig::builder()
        .cert_pem(&p.cert, &p.key)
        .session_tickets(false)
        .session_cache(0)
        .build()
        .unwrap();
    assert_eq!(
        resumed(&server, &client()),
        (HandshakeKind::Full, HandshakeKind::Full)
    );
}

#[test]
fn client_session_store_off_means_no_resumption() {
    let p = pki();
    let client = client_cfg(&p).session_store(0).build().unwrap();
    assert_eq!(
        resumed(&server_cfg(&p), &client),
        (HandshakeKind::Full, HandshakeKind::Full)
    );
}

fn mtls_server(p: &common::Pki, client_ca: &TestCa) -> ServerConfig {
    ServerConfig::builder()
        .cert_pem(&p.cert, &p.key)
        .client_auth_ca_pem(&client_ca.cert_pem())
        .build()
        .unwrap()
}

#[test]
fn mtls_accepts_a_ca_signed_client() {
    let p = pki();
    let client_ca = TestCa::new("client CA").unwrap();
    let (cc, ck) = client_ca.issue(&["client.test"]).unwrap();
    let client = client_cfg(&p).client_cert_pem(&cc, &ck).build().unwrap();
    let (mut c, mut s) = connect(&client, &mtls_server(&p, &client_ca), "localhost");
    assert_eq!(
        s.peer_certificates().unwrap().end_entity().unwrap(),
        der(&cc).as_slice()
    );
    exchange(&mut c, &mut s);
}

#[test]
fn mtls_refuses_a_client_without_certificate() {
    let p = pki();
    let client_ca = TestCa::new("client CA").unwrap();
    let client = client_cfg(&p).build().unwrap();
    let mut c = ClientSession::new(&client, "localhost").unwrap();
    let mut s = ServerSession::new(&mtls_server(&p, &client_ca)).unwrap();
    match handshake(&mut c, &mut s) {
        Err(Failed::Server(TlsError::HandshakeFailed {
            alert: Some(Alert::CertificateRequired),
            reason: HandshakeFailure::NoPeerCertificate,
        })) => {}
        other => panic!("{other:?}"),
    }
    // The client learns why.
    let mut wire = Vec::new();
    s.write_tls(&mut wire).unwrap();
    let e = c.read_tls(&wire).unwrap_err();
    assert!(
        matches!(
            e,
            TlsError::AlertReceived(Alert::CertificateRequired)
                | TlsError::HandshakeFailed {
                    alert: Some(Alert::CertificateRequired),
                    ..
                }
        ),
        "{e:?}"
    );
}

#[test]
fn mtls_refuses_a_client_from_another_ca() {
    let p = pki();
    let client_ca = TestCa::new("client CA").unwrap();
    let rogue = TestCa::new("rogue CA").unwrap();
    let (cc, ck) = rogue.issue(&["client.test"]).unwrap();
    let client = client_cfg(&p).client_cert_pem(&cc, &ck).build().unwrap();
    let mut c = ClientSession::new(&client, "localhost").unwrap();
    let mut s = ServerSession::new(&mtls_server(&p, &client_ca)).unwrap();
    match handshake(&mut c, &mut s) {
        Err(Failed::Server(TlsError::HandshakeFailed {
            alert: Some(Alert::UnknownCa),
            reason: HandshakeFailure::CertificateRejected(CertificateProblem::UnknownIssuer),
        })) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn mtls_optional_accepts_anonymous_clients_but_still_checks_given_certs() {
    let p = pki();
    let client_ca = TestCa::new("client CA").unwrap();
    let server = ServerConfig::builder()
        .cert_pem(&p.cert, &p.key)
        .client_auth_ca_pem(&client_ca.cert_pem())
        .client_auth_optional(true)
        .build()
        .unwrap();
    let (_, s) = connect(&client_cfg(&p).build().unwrap(), &server, "localhost");
    assert!(s.peer_certificates().is_none());
    let rogue = TestCa::new("rogue CA").unwrap();
    let (cc, ck) = rogue.issue(&["client.test"]).unwrap();
    let client = client_cfg(&p).client_cert_pem(&cc, &ck).build().unwrap();
    let mut c = ClientSession::new(&client, "localhost").unwrap();
    let mut s = ServerSession::new(&server).unwrap();
    assert!(matches!(
        handshake(&mut c, &mut s),
        Err(Failed::Server(TlsError::HandshakeFailed { .. }))
    ));
}

#[test]
fn cert_reload_applies_to_new_handshakes_only() {
    let ca = TestCa::new("reload CA").unwrap();
    let (old_cert, old_key) = ca.issue(&["localhost"]).unwrap();
    let (new_cert, new_key) = ca.issue(&["localhost"]).unwrap();
    let server = ServerConfig::builder()
        .cert_pem(&old_cert, &old_key)
        .build()
        .unwrap();
    let client = ClientConfig::builder()
        .ca_pem(&ca.cert_pem())
        .session_store(0)
        .build()
        .unwrap();
    let (mut c1, mut s1) = connect(&client, &server, "localhost");
    assert_eq!(
        c1.peer_certificates().unwrap().end_entity().unwrap(),
        der(&old_cert).as_slice()
    );

    // A clone shares the store, as every worker's copy does.
    let other_worker = server.clone();
    other_worker.reload_cert_pem(&new_cert, &new_key).unwrap();
    let (c2, _) = connect(&client, &server, "localhost");
    assert_eq!(
        c2.peer_certificates().unwrap().end_entity().unwrap(),
        der(&new_cert).as_slice()
    );
    // The old session goes on.
    exchange(&mut c1, &mut s1);

    // A bad reload keeps the current certificate.
    let e = server.reload_cert_pem(&old_cert, &new_key).unwrap_err();
    assert!(matches!(e, TlsError::KeyMismatch), "{e:?}");
    let (c3, _) = connect(&client, &server, "localhost");
    assert_eq!(
        c3.peer_certificates().unwrap().end_entity().unwrap(),
        der(&new_cert).as_slice()
    );

    // SNI certificates reload too.
    let (sni_cert, sni_key) = ca.issue(&["sni.test"]).unwrap();
    server
        .reload_sni_cert_pem("sni.test", &sni_cert, &sni_key)
        .unwrap();
    let (c4, _) = connect(&client, &server, "sni.test");
    assert_eq!(
        c4.peer_certificates().unwrap().end_entity().unwrap(),
        der(&sni_cert).as_slice()
    );
}

#[test]
fn cert_reload_from_files() {
    let ca = TestCa::new("reload CA").unwrap();
    let (old_cert, old_key) = ca.issue(&["localhost"]).unwrap();
    let (new_cert, new_key) = ca.issue(&["localhost"]).unwrap();
    let dir = tempdir("reload");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, &old_cert).unwrap();
    std::fs::write(&key_path, &old_key).unwrap();
    let server = ServerConfig::builder()
        .cert_pem_file(&cert_path, &key_path)
        .build()
        .unwrap();
    // No resumption: a resumed handshake sends no certificate.
    let client = ClientConfig::builder()
        .ca_pem(&ca.cert_pem())
        .session_store(0)
        .build()
        .unwrap();
    let (c, _) = connect(&client, &server, "localhost");
    assert_eq!(
        c.peer_certificates().unwrap().end_entity().unwrap(),
        der(&old_cert).as_slice()
    );
    std::fs::write(&cert_path, &new_cert).unwrap();
    std::fs::write(&key_path, &new_key).unwrap();
    server.reload_cert_pem_file(&cert_path, &key_path).unwrap();
    let (c, _) = connect(&client, &server, "localhost");
    assert_eq!(
        c.peer_certificates().unwrap().end_entity().unwrap(),
        der(&new_cert).as_slice()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("flare-tls-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn write_plaintext_is_bounded_by_the_buffer_limit() {
    let p = pki();
    let limit = 4096;
    let server = ServerConfig::builder()
        .cert_pem(&p.cert, &p.key)
        .buffer_limit(limit)
        .build()
        .unwrap();
    assert_eq!(server.buffer_limit(), limit);
    let (mut c, mut s) = connect(&client_cfg(&p).build().unwrap(), &server, "localhost");
    let big = vec![7u8; 1 << 20];
    let n = s.write_plaintext(&big).unwrap();
    assert!(n > 0 && n <= limit, "accepted {n}");
    // Full: nothing more until the ciphertext is taken.
    assert_eq!(s.write_plaintext(&big[n..]).unwrap(), 0);
    let mut wire = Vec::new();
    s.write_tls(&mut wire).unwrap();
    assert!(wire.len() < limit + 1024, "ciphertext {}", wire.len());
    common::feed_client(&mut c, &wire).unwrap();
    assert_eq!(drain_client(&mut c).len(), n);
    let m = s.write_plaintext(&big[n..]).unwrap();
    assert!(m > 0 && m <= limit);
}

#[test]
fn write_plaintext_before_the_handshake_is_bounded_too() {
    let p = pki();
    let client = client_cfg(&p).buffer_limit(1000).build().unwrap();
    let mut c = ClientSession::new(&client, "localhost").unwrap();
    let n = c.write_plaintext(&[1u8; 5000]).unwrap();
    assert_eq!(n, 1000);
    assert_eq!(c.write_plaintext(&[1u8; 10]).unwrap(), 0);
    // Once the handshake is done it is sent.
    let mut s = ServerSession::new(&server_cfg(&p)).unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(drain_server(&mut s).len(), 1000);
}

#[test]
fn read_tls_stops_when_received_plaintext_is_full() {
    let p = pki();
    let (mut c, mut s) = connect(
        &client_cfg(&p).build().unwrap(),
        &server_cfg(&p),
        "localhost",
    );
    // 256 KiB of ciphertext from the client, fed without reading plaintext out.
    let mut wire = Vec::new();
    let chunk = vec![9u8; 16 * 1024];
    for _ in 0..16 {
        let mut off = 0;
        while off < chunk.len() {
            off += c.write_plaintext(&chunk[off..]).unwrap();
            c.write_tls(&mut wire).unwrap();
        }
    }
    let consumed = s.read_tls(&wire).unwrap();
    assert!(
        consumed < wire.len() / 4,
        "consumed {consumed} of {}",
        wire.len()
    );
    assert_eq!(s.read_tls(&wire[consumed..]).unwrap(), 0, "still full");
    // Reading plaintext out lets the rest in; everything arrives intact.
    let mut got = 0usize;
    let mut rest = &wire[consumed..];
    got += drain_server(&mut s).len();
    for _ in 0..10_000 {
        if rest.is_empty() {
            break;
        }
        let n = s.read_tls(rest).unwrap();
        rest = &rest[n..];
        got += drain_server(&mut s).len();
    }
    assert!(rest.is_empty());
    assert_eq!(got, 16 * chunk.len());
}

#[test]
fn close_notify_from_client() {
    let p = pki();
    let (mut c, mut s) = connect(
        &client_cfg(&p).build().unwrap(),
        &server_cfg(&p),
        "localhost",
    );
    c.write_plaintext(b"last words").unwrap();
    c.send_close_notify();
    let mut wire = Vec::new();
    c.write_tls(&mut wire).unwrap();
    // Bytes after close_notify are consumed and ignored.
    wire.extend_from_slice(b"trailing junk");
    assert_eq!(s.read_tls(&wire).unwrap(), wire.len());
    assert!(s.peer_closed());
    assert_eq!(drain_server(&mut s), b"last words");
    let mut buf = [0u8; 16];
    assert_eq!(s.read_plaintext(&mut buf).unwrap(), 0);
    // The server answers with its own close_notify.
    s.send_close_notify();
    wire.clear();
    s.write_tls(&mut wire).unwrap();
    common::feed_client(&mut c, &wire).unwrap();
    assert!(c.peer_closed());
}

#[test]
fn close_notify_from_server() {
    let p = pki();
    let (mut c, mut s) = connect(
        &client_cfg(&p).build().unwrap(),
        &server_cfg(&p),
        "localhost",
    );
    s.write_plaintext(b"bye").unwrap();
    s.send_close_notify();
    assert!(!c.peer_closed());
    let mut wire = Vec::new();
    s.write_tls(&mut wire).unwrap();
    common::feed_client(&mut c, &wire).unwrap();
    assert!(c.peer_closed());
    assert_eq!(drain_client(&mut c), b"bye");
    // Nothing can be written after our own close_notify... but the peer may still send.
    c.write_plaintext(b"late").unwrap();
    wire.clear();
    c.write_tls(&mut wire).unwrap();
    feed_server(&mut s, &wire).unwrap();
    assert_eq!(drain_server(&mut s), b"late");
}

#[test]
fn corrupted_record_after_handshake_is_a_typed_error() {
    let p = pki();
    let (mut c, mut s) = connect(
        &client_cfg(&p).build().unwrap(),
        &server_cfg(&p),
        "localhost",
    );
    c.write_plaintext(b"hello").unwrap();
    let mut wire = Vec::new();
    c.write_tls(&mut wire).unwrap();
    let last = wire.len() - 1;
    wire[last] ^= 0x55; // break the AEAD tag
    match s.read_tls(&wire) {
        Err(TlsError::PeerMisbehaved { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(s.has_failed());
    // Repeated calls give the same error and do not panic.
    assert!(matches!(
        s.read_tls(&wire),
        Err(TlsError::PeerMisbehaved { .. })
    ));
    assert!(s.write_plaintext(b"x").is_err());
    // An alert is queued for the peer, which reports it.
    wire.clear();
    s.write_tls(&mut wire).unwrap();
    assert!(!wire.is_empty());
    assert!(matches!(c.read_tls(&wire), Err(TlsError::AlertReceived(_))));
}

#[test]
fn client_rejects_untrusted_and_wrong_name_certificates() {
    let p = pki();
    let server = server_cfg(&p);
    let other_ca = TestCa::new("other CA").unwrap();
    let client = ClientConfig::builder()
        .ca_pem(&other_ca.cert_pem())
        .build()
        .unwrap();
    let mut c = ClientSession::new(&client, "localhost").unwrap();
    let mut s = ServerSession::new(&server).unwrap();
    match handshake(&mut c, &mut s) {
        Err(Failed::Client(TlsError::HandshakeFailed {
            alert: Some(Alert::UnknownCa),
            reason: HandshakeFailure::CertificateRejected(CertificateProblem::UnknownIssuer),
        })) => {}
        other => panic!("{other:?}"),
    }
    // The default roots (webpki-roots) do not trust a test CA either.
    let client = ClientConfig::builder().build().unwrap();
    let mut c = ClientSession::new(&client, "localhost").unwrap();
    let mut s = ServerSession::new(&server).unwrap();
    assert!(matches!(
        handshake(&mut c, &mut s),
        Err(Failed::Client(TlsError::HandshakeFailed { .. }))
    ));
    // The insecure mode accepts it, under any name.
    let client = ClientConfig::builder()
        .dangerous_insecure_no_verify_for_tests_only()
        .build()
        .unwrap();
    connect(&client, &server, "not-the-name.test");
}

#[test]
fn self_signed_certificate_is_trusted_as_its_own_ca() {
    let (cert, key) = flare_tls::self_signed(&["localhost", "::1"]).unwrap();
    let server = ServerConfig::builder()
        .cert_pem(&cert, &key)
        .build()
        .unwrap();
    let client = ClientConfig::builder().ca_pem(&cert).build().unwrap();
    connect(&client, &server, "localhost");
    connect(&client, &server, "::1");
}

#[test]
fn invalid_server_name() {
    let client = ClientConfig::builder().build().unwrap();
    let e = ClientSession::new(&client, "bad name!").unwrap_err();
    assert!(matches!(e, TlsError::InvalidServerName), "{e:?}");
}

#[test]
fn defaults() {
    let p = pki();
    let server = server_cfg(&p);
    assert_eq!(
        server.handshake_timeout(),
        std::time::Duration::from_secs(10)
    );
    assert_eq!(server.buffer_limit(), 64 * 1024);
    assert_eq!(
        server.alpn_protocols().collect::<Vec<_>>(),
        [&b"h2"[..], b"http/1.1"]
    );
    let server = ServerConfig::builder()
        .cert_pem(&p.cert, &p.key)
        .handshake_timeout(std::time::Duration::from_millis(1500))
        .build()
        .unwrap();
    assert_eq!(
        server.handshake_timeout(),
        std::time::Duration::from_millis(1500)
    );
    assert_eq!(
        flare_tls::provider_name(),
        if cfg!(feature = "aws-lc-rs") {
            "aws-lc-rs"
        } else {
            "ring"
        }
    );
}

#[test]
fn server_session_cache_is_bounded() {
    // TLS 1.2 session ids only, a cache of one entry: a second client evicts the first.
    let p = pki();
    let server = ServerConfig::builder()
        .cert_pem(&p.cert, &p.key)
        .session_tickets(false)
        .session_cache(1)
        .build()
        .unwrap();
    let a = client_cfg(&p).tls13(false).build().unwrap();
    let b = client_cfg(&p).tls13(false).build().unwrap();
    connect(&a, &server, "localhost");
    let (_, s) = connect(&a, &server, "localhost");
    assert_eq!(
        s.handshake_kind(),
        Some(HandshakeKind::Resumed),
        "fits in the cache"
    );
    connect(&b, &server, "localhost");
    let (_, s) = connect(&a, &server, "localhost");
    assert_eq!(
        s.handshake_kind(),
        Some(HandshakeKind::Full),
        "evicted by b"
    );
}

#[test]
fn client_session_store_is_bounded() {
    // One remembered server: contacting a second forgets the first.
    let p = pki();
    let server = server_cfg(&p);
    let client = client_cfg(&p).session_store(1).build().unwrap();
    connect(&client, &server, "localhost");
    let (c, _) = connect(&client, &server, "localhost");
    assert_eq!(c.handshake_kind(), Some(HandshakeKind::Resumed));
    connect(&client, &server, "127.0.0.1");
    let (c, _) = connect(&client, &server, "localhost");
    assert_eq!(c.handshake_kind(), Some(HandshakeKind::Full));
}

#[test]
fn wants_read_is_false_after_close_notify_and_after_failure() {
    let p = pki();
    let (mut c, mut s) = connect(
        &client_cfg(&p).build().unwrap(),
        &server_cfg(&p),
        "localhost",
    );
    assert!(s.wants_read());
    c.send_close_notify();
    let mut wire = Vec::new();
    c.write_tls(&mut wire).unwrap();
    feed_server(&mut s, &wire).unwrap();
    assert!(!s.wants_read());
    let mut s = ServerSession::new(&server_cfg(&p)).unwrap();
    assert!(s.read_tls(b"\x99\x03\x03\x00\x01\x00").is_err());
    assert!(!s.wants_read());
}

#[test]
fn configs_are_shared_across_threads_and_sessions_move_between_them() {
    fn shared<T: Send + Sync + Clone>() {}
    fn movable<T: Send>() {}
    shared::<ServerConfig>();
    shared::<ClientConfig>();
    movable::<ServerSession>();
    movable::<ClientSession>();
    movable::<TlsError>();
    // Workers on other threads handshake with clones of one config.
    let p = pki();
    let server = server_cfg(&p);
    let client = client_cfg(&p).build().unwrap();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (server, client) = (server.clone(), client.clone());
            std::thread::spawn(move || {
                let (mut c, mut s) = connect(&client, &server, "localhost");
                exchange(&mut c, &mut s);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
