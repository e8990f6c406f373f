//! flare's TLS termination against TLS stacks this project did not write: GnuTLS
//! (`gnutls-cli`: ALPN h2 with a hand-made HTTP/2 request, resumption on TLS 1.3 and
//! 1.2), testssl.sh (protocols, cipher categories, ALPN), and OpenSSL's `s_client`
//! for certificate reload on a running server and SNI selection among several
//! certificates.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use flare::prelude::*;

/// How long any one peer may take before the test fails (instead of hanging).
const PEER_TIMEOUT: Duration = Duration::from_secs(30);

fn hello(req: &Request) -> Response {
    Response::text(format!("hello over {:?} {}", req.version(), req.path()))
}

fn start(tls: flare_tls::ServerConfig) -> ServerHandle {
    HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(2)
        .tls(tls)
        .configure(with_test_backend)
        .start(hello)
        .unwrap()
}

fn stop(h: ServerHandle) {
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("flare-tlsp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running peer whose stdout and stderr are read by threads into one channel,
/// so the test can wait for a line with a deadline while stdin stays open.
struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Peer {
    fn spawn(cmd: &mut Command) -> Peer {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let (tx, rx) = channel();
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for mut pipe in [out, err] {
            let tx = tx.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            });
        }
        Peer {
            stdin: child.stdin.take(),
            child,
            rx,
            seen: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stdin.as_mut().unwrap().write_all(bytes).unwrap();
        self.stdin.as_mut().unwrap().flush().unwrap();
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Reads output until it holds `needle` `times` times; panics with everything
    /// seen on timeout or when the peer's output ends first.
    fn wait_for_n(&mut self, needle: &str, times: usize) -> String {
        let deadline = Instant::now() + PEER_TIMEOUT;
        while self.text().matches(needle).count() < times {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.seen.extend_from_slice(&chunk),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "timed out waiting for {needle:?}; peer said:\n{}",
                        self.text()
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("peer ended before {needle:?}; it said:\n{}", self.text())
                }
            }
        }
        self.text()
    }

    fn wait_for(&mut self, needle: &str) -> String {
        self.wait_for_n(needle, 1)
    }

    /// Closes stdin and collects the rest of the output until the peer exits.
    fn finish(mut self) -> String {
        drop(self.stdin.take());
        let deadline = Instant::now() + PEER_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.seen.extend_from_slice(&chunk),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("peer did not exit; it said:\n{}", self.text());
                }
            }
        }
        let _ = self.child.wait();
        self.text()
    }
}

/// Runs a peer to completion with `input` on stdin, bounded by [`PEER_TIMEOUT`].
fn run_peer(cmd: &mut Command, input: &[u8]) -> String {
    let mut p = Peer::spawn(cmd);
    p.send(input);
    p.finish()
}

// ---------------------------------------------------------------- gnutls-cli

/// An HTTP/2 GET for `path` as raw frames: the client preface, an empty SETTINGS, and
/// one HEADERS frame (END_STREAM | END_HEADERS) on stream 1. The header block uses
/// HPACK static-table entries and literals only (RFC 7541 appendix A).
fn h2_get(path: &str, authority: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x87]; // :method GET, :scheme https
    for (index, value) in [(0x44u8, path), (0x41, authority)] {
        // Literal with incremental indexing, indexed name (:path 4, :authority 1).
        block.push(index);
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
    let len = block.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(&[0x1, 0x5, 0, 0, 0, 1]);
    out.extend_from_slice(&block);
    out
}

fn gnutls_cli(port: u16, ca: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(require("gnutls-cli"));
    cmd.arg(format!("--port={port}"))
        .arg(format!("--x509cafile={}", ca.display()))
        .args(extra)
        .arg("localhost");
    cmd
}

#[test]
fn gnutls_cli_alpn_h2_and_resumption_on_tls13_and_tls12() {
    let dir = Scratch::new("gnutls");
    let ca = flare_tls::TestCa::new("flare gnutls CA").unwrap();
    let (cert, key) = ca.issue(&["localhost"]).unwrap();
    let ca_file = dir.write("ca.pem", &ca.cert_pem());
    let h = start(
        flare_tls::ServerConfig::builder()
            .cert_pem(&cert, &key)
            .build()
            .unwrap(),
    );
    let port = h.local_addr().port();
    for (version, priority) in [
        ("TLS1.3", "NORMAL:-VERS-ALL:+VERS-TLS1.3"),
        ("TLS1.2", "NORMAL:-VERS-ALL:+VERS-TLS1.2"),
    ] {
        let mut p = Peer::spawn(&mut gnutls_cli(
            port,
            &ca_file,
            &[
                "--alpn=h2",
                "--resume",
                "--waitresumption",
                &format!("--priority={priority}"),
            ],
        ));
        // The first connection's facts, then the resumed one's; interactive mode
        // starts whether or not the server resumed.
        let out = p.wait_for("Simple Client Mode");
        assert!(
            out.contains("*** This is a resumed session"),
            "{version}: {out}"
        );
        let first = out.split("Connecting again").next().unwrap();
        assert!(first.contains("The certificate is trusted"), "{out}");
        assert!(first.contains(&format!("({version}-")), "{version}: {out}");
        assert_eq!(
            out.matches("Application protocol: h2").count(),
            2,
            "{version}: ALPN h2 on both connections: {out}"
        );
        // On the resumed connection, one HTTP/2 request made by hand.
        p.send(&h2_get("/gnutls", "localhost"));
        p.wait_for("hello over HTTP/2.0 /gnutls");
        p.finish();
    }
    // ALPN http/1.1 over GnuTLS gives HTTP/1.1.
    let mut p = Peer::spawn(&mut gnutls_cli(port, &ca_file, &["--alpn=http/1.1"]));
    p.send(b"GET /g1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let out = p.wait_for("hello over HTTP/1.1 /g1");
    assert!(out.contains("Application protocol: http/1.1"), "{out}");
    p.finish();
    stop(h);
}

// ---------------------------------------------------------------- testssl.sh

/// One finding of testssl's flat JSON output: `(id, severity, finding)`.
fn testssl_findings(json: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(json).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let field = |o: &serde_json::Value, k: &str| o[k].as_str().unwrap_or_default().to_string();
    v.as_array()
        .unwrap_or_else(|| panic!("not a JSON array: {text}"))
        .iter()
        .map(|o| (field(o, "id"), field(o, "severity"), field(o, "finding")))
        .collect()
}

/// Runs testssl.sh's protocol section (which includes ALPN and NPN) and, with
/// `ciphers`, its cipher-category section against `https://localhost:PORT` on
/// 127.0.0.1, and returns its findings.
fn testssl(port: u16, dir: &Scratch, tag: &str, ciphers: bool) -> Vec<(String, String, String)> {
    let json = dir.0.join(format!("{tag}.json"));
    let mut cmd = Command::new(require("testssl"));
    cmd.args([
        "--quiet",
        "--color",
        "0",
        "--warnings",
        "off",
        "--nodns",
        "none",
        "--assume-http",
        "--connect-timeout",
        "5",
        "--openssl-timeout",
        "5",
        "--ip",
        "127.0.0.1",
        "--jsonfile",
    ])
    .arg(&json)
    .arg("--protocols");
    if ciphers {
        cmd.arg("--std");
    }
    cmd.arg(format!("https://localhost:{port}"));
    let out = run_peer(&mut cmd, b"");
    assert!(json.exists(), "testssl wrote no JSON:\n{out}");
    testssl_findings(&json)
}

fn finding<'a>(all: &'a [(String, String, String)], id: &str) -> &'a str {
    all.iter()
        .find(|(i, _, _)| i == id)
        .map(|(_, _, f)| f.as_str())
        .unwrap_or_else(|| panic!("testssl reported no `{id}`: {all:#?}"))
}

#[test]
fn testssl_finds_only_tls12_and_tls13_no_weak_ciphers_and_alpn() {
    let dir = Scratch::new("testssl");
    let (cert, key) = flare_tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let default = start(
        flare_tls::ServerConfig::builder()
            .cert_pem(&cert, &key)
            .build()
            .unwrap(),
    );
    let tls13_only = start(
        flare_tls::ServerConfig::builder()
            .cert_pem(&cert, &key)
            .tls12(false)
            .build()
            .unwrap(),
    );
    // testssl spends most of its time waiting; the two scans run side by side.
    let scan = thread::scope(|s| {
        let only = s.spawn(|| testssl(tls13_only.local_addr().port(), &dir, "tls13", false));
        let full = testssl(default.local_addr().port(), &dir, "default", true);
        (full, only.join().unwrap())
    });
    let (full, only) = scan;
    for id in ["SSLv2", "SSLv3", "TLS1", "TLS1_1"] {
        assert_eq!(finding(&full, id), "not offered", "{id}");
        assert_eq!(finding(&only, id), "not offered", "{id}");
    }
    assert_eq!(finding(&full, "TLS1_2"), "offered");
    assert!(finding(&full, "TLS1_3").starts_with("offered"), "{full:#?}");
    assert_eq!(finding(&only, "TLS1_2"), "not offered");
    assert!(finding(&only, "TLS1_3").starts_with("offered"), "{only:#?}");
    for all in [&full, &only] {
        assert_eq!(finding(all, "ALPN_HTTP2"), "h2");
        assert!(finding(all, "ALPN").contains("http/1.1"), "{all:#?}");
    }
    // Cipher categories: nothing without encryption or authentication, no export,
    // no 64-bit block or RC4, no 3DES/IDEA, no CBC; only AEAD suites.
    for id in [
        "cipherlist_NULL",
        "cipherlist_aNULL",
        "cipherlist_EXPORT",
        "cipherlist_LOW",
        "cipherlist_3DES_IDEA",
        "cipherlist_AVERAGE",
    ] {
        assert_eq!(finding(&full, id), "not offered", "{id}");
    }
    assert_eq!(finding(&full, "cipherlist_STRONG"), "offered");
    stop(default);
    stop(tls13_only);
}

// ------------------------------------------------- openssl: reload and SNI

/// One `openssl s_client` handshake to 127.0.0.1:`port` with `args` (e.g.
/// `-servername`), an HTTP/1.1 GET of `path`, and everything it printed.
fn s_client(port: u16, ca: &Path, path: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(require("openssl"));
    cmd.args([
        "s_client",
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-CAfile",
    ])
    .arg(ca)
    .args(["-alpn", "http/1.1", "-ign_eof"])
    .args(args);
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    run_peer(&mut cmd, req.as_bytes())
}

/// The subject and issuer lines s_client printed for the server's certificate.
fn subject_issuer(out: &str) -> (String, String) {
    let line = |prefix: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{out}"))
            .trim()
            .to_string()
    };
    (line("subject="), line("issuer="))
}

/// The leaf certificate s_client printed, base64 only (whitespace removed).
fn printed_leaf(out: &str) -> String {
    let start = out.find("-----BEGIN CERTIFICATE-----").unwrap();
    let end = out[start..].find("-----END CERTIFICATE-----").unwrap();
    out[start + 27..start + end].split_whitespace().collect()
}

fn pem_body(pem: &[u8]) -> String {
    printed_leaf(std::str::from_utf8(pem).unwrap())
}

#[test]
fn certificate_reload_reaches_new_handshakes_on_the_running_server() {
    let dir = Scratch::new("reload");
    let ca1 = flare_tls::TestCa::new("flare reload CA one").unwrap();
    let ca2 = flare_tls::TestCa::new("flare reload CA two").unwrap();
    let (cert1, key1) = ca1.issue(&["localhost"]).unwrap();
    let (cert2, key2) = ca2.issue(&["localhost"]).unwrap();
    let cas = dir.write("cas.pem", &[ca1.cert_pem(), ca2.cert_pem()].concat());
    let cfg = flare_tls::ServerConfig::builder()
        .cert_pem(&cert1, &key1)
        .build()
        .unwrap();
    // The server gets a clone; the test keeps the handle it reloads through.
    let h = start(cfg.clone());
    let port = h.local_addr().port();

    let before = s_client(port, &cas, "/one", &[]);
    assert_eq!(
        subject_issuer(&before).1,
        "CN = flare reload CA one",
        "{before}"
    );
    assert_eq!(printed_leaf(&before), pem_body(&cert1));
    assert!(before.contains("hello over HTTP/1.1 /one"), "{before}");

    // A connection established before the reload keeps serving afterwards.
    let mut kept = Peer::spawn(
        Command::new(require("openssl"))
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-CAfile",
            ])
            .arg(&cas)
            .args(["-alpn", "http/1.1", "-ign_eof"]),
    );
    kept.send(b"GET /kept1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    kept.wait_for("hello over HTTP/1.1 /kept1");

    // A certificate whose key does not match is refused and changes nothing.
    assert!(cfg.reload_cert_pem(&cert2, &key1).is_err());
    let still = s_client(port, &cas, "/still", &[]);
    assert_eq!(printed_leaf(&still), pem_body(&cert1), "{still}");

    cfg.reload_cert_pem(&cert2, &key2).unwrap();
    for i in 0..4 {
        // Several connections, so both workers are seen to have the new one.
        let after = s_client(port, &cas, &format!("/two{i}"), &[]);
        assert_eq!(
            subject_issuer(&after).1,
            "CN = flare reload CA two",
            "{after}"
        );
        assert_eq!(printed_leaf(&after), pem_body(&cert2));
        assert!(after.contains("Verify return code: 0 (ok)"), "{after}");
        assert!(
            after.contains(&format!("hello over HTTP/1.1 /two{i}")),
            "{after}"
        );
    }

    kept.send(b"GET /kept2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let out = kept.finish();
    assert!(out.contains("hello over HTTP/1.1 /kept2"), "{out}");
    // The old connection still shows the first certificate.
    assert_eq!(printed_leaf(&out), pem_body(&cert1));
    stop(h);
}

#[test]
fn sni_selects_among_certificates_and_follows_reloads() {
    let dir = Scratch::new("sni");
    let ca = flare_tls::TestCa::new("flare sni CA").unwrap();
    let (def, def_key) = ca.issue(&["localhost"]).unwrap();
    let (a, a_key) = ca.issue(&["a.test"]).unwrap();
    let (b, b_key) = ca.issue(&["b.test"]).unwrap();
    let (w, w_key) = ca.issue(&["*.w.test"]).unwrap();
    let ca_file = dir.write("ca.pem", &ca.cert_pem());
    let cfg = flare_tls::ServerConfig::builder()
        .cert_pem(&def, &def_key)
        .sni_cert_pem("a.test", &a, &a_key)
        .sni_cert_pem("b.test", &b, &b_key)
        .sni_cert_pem("*.w.test", &w, &w_key)
        .build()
        .unwrap();
    let h = start(cfg.clone());
    let port = h.local_addr().port();
    let cn = |args: &[&str]| {
        let out = s_client(port, &ca_file, "/sni", args);
        assert!(out.contains("hello over HTTP/1.1 /sni"), "{out}");
        assert!(
            out.contains("Verify return code: 0 (ok)"),
            "{args:?}: {out}"
        );
        subject_issuer(&out).0
    };
    let sni = |name: &'static str| ["-servername", name, "-verify_hostname", name];
    assert_eq!(cn(&sni("a.test")), "CN = a.test");
    assert_eq!(cn(&sni("b.test")), "CN = b.test");
    assert_eq!(cn(&sni("A.TEST")), "CN = a.test", "SNI is case-insensitive");
    assert_eq!(cn(&sni("x.w.test")), "CN = *.w.test");
    // A wildcard covers one label only; unknown names and no SNI get the default.
    assert_eq!(cn(&["-servername", "y.x.w.test"]), "CN = localhost");
    assert_eq!(cn(&["-servername", "c.test"]), "CN = localhost");
    assert_eq!(cn(&["-noservername"]), "CN = localhost");

    // gnutls-cli, a second stack, sees the same selection.
    let out = run_peer(
        &mut gnutls_cli(
            port,
            &ca_file,
            &["--sni-hostname=b.test", "--verify-hostname=b.test"],
        ),
        b"",
    );
    assert!(out.contains("subject `CN=b.test'"), "{out}");
    assert!(out.contains("The certificate is trusted"), "{out}");

    // Through the running server: replace b.test's certificate, drop a.test's.
    let (b2, b2_key) = ca.issue(&["b.test", "b2.test"]).unwrap();
    cfg.reload_sni_cert_pem("b.test", &b2, &b2_key).unwrap();
    assert!(cfg.remove_sni_cert("a.test"));
    assert!(!cfg.remove_sni_cert("a.test"));
    let out = s_client(port, &ca_file, "/sni", &sni("b.test"));
    assert_eq!(printed_leaf(&out), pem_body(&b2), "{out}");
    assert_eq!(cn(&["-servername", "a.test"]), "CN = localhost");
    stop(h);
}
