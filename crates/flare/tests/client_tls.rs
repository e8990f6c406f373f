//! The client's TLS against nginx on loopback: session resumption across
//! reconnects (TLS 1.3 tickets, TLS 1.2 session ids and TLS 1.2 tickets), seen
//! by both sides (`Client::tls_handshakes` and nginx's `$ssl_session_reused`);
//! client certificates to a server with `ssl_verify_client on`.

mod client_support;
mod common;

use client_support::*;
use flare::client::{Client, Error, TlsHandshakes};
use http::StatusCode;

struct Servers {
    _nginx: Nginx,
    tls13: u16,
    tls12_ids: u16,
    tls12_tickets: u16,
    mtls13: u16,
    mtls12: u16,
    ca: flare::tls::TestCa,
}

fn servers() -> Servers {
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let [tls13, tls12_ids, tls12_tickets, mtls13, mtls12] = ports[..] else {
        unreachable!()
    };
    let ca = flare::tls::test_ca("flare client TLS test CA").unwrap();
    let (chain, key) = ca.issue(&["localhost"]).unwrap();
    let ca_pem = ca.cert_pem();
    let cert = "ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;";
    let reused = r#"location / { return 200 "$ssl_protocol $ssl_session_reused"; }"#;
    let who = r#"location / { return 200 "$ssl_protocol $ssl_client_verify $ssl_client_s_dn"; }"#;
    let mtls = "ssl_verify_client on; ssl_client_certificate {d}/ca.pem;";
    let conf = format!(
        "server {{ listen 127.0.0.1:{tls13} ssl; {cert} ssl_protocols TLSv1.3;\n\
           ssl_session_tickets on; {reused} }}\n\
         server {{ listen 127.0.0.1:{tls12_ids} ssl; {cert} ssl_protocols TLSv1.2;\n\
           ssl_session_cache shared:ids:1m; ssl_session_tickets off; {reused} }}\n\
         server {{ listen 127.0.0.1:{tls12_tickets} ssl; {cert} ssl_protocols TLSv1.2;\n\
           ssl_session_cache off; ssl_session_tickets on; {reused} }}\n\
         server {{ listen 127.0.0.1:{mtls13} ssl http2; {cert} ssl_protocols TLSv1.3; {mtls} {who} }}\n\
         server {{ listen 127.0.0.1:{mtls12} ssl http2; {cert} ssl_protocols TLSv1.2; {mtls} {who} }}\n"
    );
    let nginx = nginx("tls", &conf, &ports, |d| {
        std::fs::write(d.join("cert.pem"), &chain).unwrap();
        std::fs::write(d.join("key.pem"), &key).unwrap();
        std::fs::write(d.join("ca.pem"), &ca_pem).unwrap();
    });
    Servers {
        _nginx: nginx,
        tls13,
        tls12_ids,
        tls12_tickets,
        mtls13,
        mtls12,
        ca,
    }
}

fn body(c: &Client, url: &str) -> String {
    c.get(url).send().unwrap().text().unwrap()
}

fn handshakes(full: u64, resumed: u64) -> TlsHandshakes {
    let mut h = TlsHandshakes::default();
    h.full = full;
    h.resumed = resumed;
    h
}

#[test]
fn a_second_connection_resumes_the_session_tls13_and_tls12() {
    let n = servers();
    // No keep-alive: every request opens a new connection and handshakes.
    let builder = || {
        Client::builder()
            .no_proxy()
            .http1_only()
            .pool_max_idle_per_host(0)
            .add_root_certificate_pem(&n.ca.cert_pem())
    };
    for (port, version) in [
        (n.tls13, "TLSv1.3"),
        (n.tls12_ids, "TLSv1.2"),
        (n.tls12_tickets, "TLSv1.2"),
    ] {
        let url = format!("https://localhost:{port}/");
        let client = builder().build().unwrap();
        assert_eq!(body(&client, &url), format!("{version} ."), "port {port}");
        assert_eq!(client.tls_handshakes(), handshakes(1, 0));
        for i in 1..=3 {
            assert_eq!(body(&client, &url), format!("{version} r"), "port {port}");
            assert_eq!(client.tls_handshakes(), handshakes(1, i));
        }
        // Clones share the session store.
        assert_eq!(body(&client.clone(), &url), format!("{version} r"));
        assert_eq!(client.tls_handshakes(), handshakes(1, 4));
        // Another client has its own: a full handshake.
        let other = builder().build().unwrap();
        assert_eq!(body(&other, &url), format!("{version} ."));
        assert_eq!(other.tls_handshakes(), handshakes(1, 0));
        // Resumption off: every handshake is full.
        let off = builder()
            .tls_config(flare::tls::ClientConfig::builder().session_store(0))
            .build()
            .unwrap();
        for _ in 0..3 {
            assert_eq!(body(&off, &url), format!("{version} ."));
        }
        assert_eq!(off.tls_handshakes(), handshakes(3, 0));
    }
}

#[test]
fn client_certificates_to_nginx_with_ssl_verify_client_on() {
    let n = servers();
    let (chain, key) = n.ca.issue(&["flare-client"]).unwrap();
    let with = Client::builder()
        .no_proxy()
        .add_root_certificate_pem(&n.ca.cert_pem())
        .identity(&chain, &key)
        .build()
        .unwrap();
    let without = Client::builder()
        .no_proxy()
        .add_root_certificate_pem(&n.ca.cert_pem())
        .build()
        .unwrap();
    let stranger_ca = flare::tls::test_ca("someone else").unwrap();
    let (s_chain, s_key) = stranger_ca.issue(&["flare-client"]).unwrap();
    let stranger = Client::builder()
        .no_proxy()
        .add_root_certificate_pem(&n.ca.cert_pem())
        .identity(&s_chain, &s_key)
        .build()
        .unwrap();
    for (port, version) in [(n.mtls13, "TLSv1.3"), (n.mtls12, "TLSv1.2")] {
        let url = format!("https://localhost:{port}/");
        let r = with.get(&url).send().unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.version(), http::Version::HTTP_2);
        assert_eq!(
            r.text().unwrap(),
            format!("{version} SUCCESS CN=flare-client")
        );
        // nginx completes the handshake without a certificate (or with one it
        // cannot verify) and answers 400: a response, a typed error through
        // `error_for_status`.
        for (c, says) in [
            (&without, "No required SSL certificate was sent"),
            (&stranger, "The SSL certificate error"),
        ] {
            let r = c.get(&url).send().unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{version}");
            let e = c.get(&url).send().unwrap().error_for_status().unwrap_err();
            assert!(
                matches!(&e, Error::Status { status, .. } if *status == StatusCode::BAD_REQUEST),
                "{e:?}"
            );
            let text = r.text().unwrap();
            assert!(text.contains(says), "{version}: {text}");
        }
    }
    // A key that is not PEM fails the build, typed.
    let e = Client::builder()
        .identity(&chain, b"not a key")
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
}
