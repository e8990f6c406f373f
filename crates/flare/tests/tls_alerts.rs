//! TLS alerts reach the peer before an orderly close: a Python suite
//! (`tests/py/tls_alerts.py`, tlslite-ng and hand-built records) sends what rustls must
//! refuse, before and after the handshake (empty records, content type 0, an empty
//! alert, a ClientHello cut short or without a usable signature algorithm, a
//! ClientHello after the handshake), over TLS 1.3 and 1.2 and under both the HTTP/1.1
//! and the HTTP/2 driver, and checks each answer is the right fatal alert followed by
//! EOF (never a reset); session tickets queued before a bad record still go out
//! first, and a KeyUpdate (with and without update_requested) keeps the connection.

mod common;

use std::process::Command;

use common::{python, with_test_backend};
use flare::prelude::*;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/tls_alerts.py");

fn hello(_req: &Request) -> Response {
    Response::text("hello")
}

fn tls_config() -> flare_tls::ServerConfig {
    let ca = flare_tls::TestCa::new("flare test CA").unwrap();
    let (cert, key) = ca.issue(&["localhost", "127.0.0.1"]).unwrap();
    flare_tls::ServerConfig::builder()
        .cert_pem(&cert, &key)
        .build()
        .unwrap()
}

/// Runs the suite against a TLS server; panics with its whole output unless every
/// case passed.
fn run_suite(workers: usize) {
    let server = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(workers)
        .tls(tls_config())
        .configure(with_test_backend)
        .start(hello)
        .unwrap();
    let port = server.local_addr().port();
    let mut cmd = Command::new(python());
    cmd.arg(SCRIPT).arg("--port").arg(port.to_string());
    // One case (or a few) by name, while debugging.
    if let Ok(only) = std::env::var("FLARE_TLS_ALERTS_ONLY") {
        cmd.arg("--only").arg(only);
    }
    let out = cmd.output().expect("run the Python TLS alert suite");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let counted = stdout
        .lines()
        .last()
        .unwrap_or_default()
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse::<u32>().ok());
    assert!(
        out.status.success() && counted.is_some_and(|n| n > 0),
        "TLS alert suite failed ({}):\n{stdout}\nstderr:\n{stderr}\n\
         (tlslite-ng missing? run `cargo xtask peers`)",
        out.status
    );
    println!("{stdout}");
    server.shutdown(std::time::Duration::from_secs(2));
    server.join().unwrap();
}

#[test]
fn every_refused_record_gets_its_alert_then_an_orderly_close() {
    run_suite(2);
}
