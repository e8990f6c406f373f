//! Typed configuration errors: files, PEM, keys.

mod common;

use flare_tls::{ClientConfig, PemItem, ServerConfig, TestCa, TlsError};

#[test]
fn missing_cert_file_names_the_path() {
    let e = ServerConfig::builder()
        .cert_pem_file("/nonexistent/flare/cert.pem", "/nonexistent/flare/key.pem")
        .build()
        .unwrap_err();
    match &e {
        TlsError::CertFile { path, source } => {
            assert_eq!(path, std::path::Path::new("/nonexistent/flare/cert.pem"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("/nonexistent/flare/cert.pem"), "{e}");
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn missing_key_file_names_the_path() {
    let p = common::pki();
    let dir = std::env::temp_dir().join(format!("flare-tls-keyfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    std::fs::write(&cert, &p.cert).unwrap();
    let e = ServerConfig::builder()
        .cert_pem_file(&cert, dir.join("missing-key.pem"))
        .build()
        .unwrap_err();
    assert!(
        matches!(&e, TlsError::CertFile { path, .. } if path.ends_with("missing-key.pem")),
        "{e:?}"
    );
    let e = ClientConfig::builder()
        .ca_pem_file(dir.join("missing-ca.pem"))
        .build()
        .unwrap_err();
    assert!(matches!(&e, TlsError::CertFile { .. }), "{e:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn garbage_pem() {
    let p = common::pki();
    // Not PEM at all: no certificate found.
    let e = ServerConfig::builder()
        .cert_pem(b"hello world", &p.key)
        .build()
        .unwrap_err();
    assert!(matches!(e, TlsError::NoCertificates), "{e:?}");
    // A section with broken base64.
    let broken = b"-----BEGIN CERTIFICATE-----\n@@@@not base64@@@@\n-----END CERTIFICATE-----\n";
    let e = ServerConfig::builder()
        .cert_pem(broken, &p.key)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            TlsError::BadPem {
                item: PemItem::CertificateChain,
                ..
            }
        ),
        "{e:?}"
    );
    // A section that never ends.
    let e = ServerConfig::builder()
        .cert_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n", &p.key)
        .build()
        .unwrap_err();
    assert!(matches!(e, TlsError::BadPem { .. }), "{e:?}");
    // Valid base64 that is no certificate.
    let not_der = b"-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n";
    let e = ServerConfig::builder()
        .cert_pem(not_der, &p.key)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            TlsError::KeyMismatch | TlsError::BadCertificate(_) | TlsError::Rustls(_)
        ),
        "{e:?}"
    );
    // No key section.
    let e = ServerConfig::builder()
        .cert_pem(&p.cert, &p.cert)
        .build()
        .unwrap_err();
    assert!(matches!(e, TlsError::NoPrivateKey), "{e:?}");
    // A key section with garbage inside.
    let bad_key = b"-----BEGIN PRIVATE KEY-----\nAAAAAAAA\n-----END PRIVATE KEY-----\n";
    let e = ServerConfig::builder()
        .cert_pem(&p.cert, bad_key)
        .build()
        .unwrap_err();
    assert!(matches!(e, TlsError::UnsupportedKey(_)), "{e:?}");
    // A CA bundle of garbage.
    let e = ClientConfig::builder()
        .ca_pem(b"garbage")
        .build()
        .unwrap_err();
    assert!(matches!(e, TlsError::NoCertificates), "{e:?}");
    let e = ServerConfig::builder()
        .cert_pem(&p.cert, &p.key)
        .client_auth_ca_pem(broken)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            TlsError::BadPem {
                item: PemItem::CaBundle,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn key_not_matching_the_certificate() {
    let ca = TestCa::new("mismatch CA").unwrap();
    let (cert_a, _) = ca.issue(&["a.test"]).unwrap();
    let (_, key_b) = ca.issue(&["b.test"]).unwrap();
    let e = ServerConfig::builder()
        .cert_pem(&cert_a, &key_b)
        .build()
        .unwrap_err();
    assert!(matches!(e, TlsError::KeyMismatch), "{e:?}");
    let e = ServerConfig::builder()
        .cert_pem(&cert_a, &ca.issue(&["x"]).unwrap().1)
        .sni_cert_pem("a.test", &cert_a, &key_b)
        .build()
        .unwrap_err();
    assert!(matches!(e, TlsError::KeyMismatch), "{e:?}");
    let e = ClientConfig::builder()
        .client_cert_pem(&cert_a, &key_b)
        .build()
        .unwrap_err();
    assert!(matches!(e, TlsError::KeyMismatch), "{e:?}");
}

#[test]
fn no_certificate_at_all() {
    let e = ServerConfig::builder().build().unwrap_err();
    assert!(matches!(e, TlsError::NoCertificates), "{e:?}");
}

#[test]
fn chain_with_intermediate_and_rsa_style_key_formats_load() {
    // A chain file with the leaf and the CA, as servers usually ship it.
    let p = common::pki();
    let mut chain = p.cert.clone();
    chain.extend_from_slice(&p.ca.cert_pem());
    ServerConfig::builder()
        .cert_pem(&chain, &p.key)
        .build()
        .unwrap();
}
