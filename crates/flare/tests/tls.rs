//! TLS in the server with real peers: curl (HTTP/1.1 and HTTP/2 over HTTPS, verified
//! against the CA), openssl s_client (TLS 1.3 and 1.2, ALPN), Python httpx (http2),
//! mTLS, a slow handshake closed at its deadline, and plaintext + TLS ports together.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use flare::prelude::*;
use flare::ServerConfig;

fn hello(req: &Request) -> Response {
    Response::text(format!("hello over {:?} {}", req.version(), req.path()))
}

struct Certs {
    dir: PathBuf,
    ca: PathBuf,
    tls: flare_tls::ServerConfig,
}

fn certs(
    name: &str,
    mutate: impl FnOnce(flare_tls::ServerConfigBuilder) -> flare_tls::ServerConfigBuilder,
) -> Certs {
    let dir = std::env::temp_dir().join(format!("flare-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = flare_tls::TestCa::new("flare test CA").unwrap();
    let (cert, key) = ca.issue(&["localhost", "127.0.0.1"]).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.cert_pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.join("key.pem"), &key).unwrap();
    let tls = mutate(flare_tls::ServerConfig::builder().cert_pem(&cert, &key))
        .build()
        .unwrap();
    Certs {
        ca: dir.join("ca.pem"),
        dir,
        tls,
    }
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

#[test]
fn curl_over_https_http1_and_http2_verified() {
    let curl = require("curl");
    let c = certs("curl", |b| b);
    let h = start(c.tls.clone());
    let port = h.local_addr().port();
    let url = format!("https://localhost:{port}/x");
    let resolve = format!("localhost:{port}:127.0.0.1");
    for (flag, want) in [("--http1.1", "HTTP/1.1"), ("--http2", "HTTP/2.0")] {
        let out = run_ok(Command::new(&curl).args([
            "-sS",
            flag,
            "--cacert",
            c.ca.to_str().unwrap(),
            "--resolve",
            &resolve,
            &url,
            &url,
        ]));
        assert_eq!(
            out.matches(&format!("hello over {want} /x")).count(),
            2,
            "{flag}: {out}"
        );
    }
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
    std::fs::remove_dir_all(&c.dir).unwrap();
}

fn s_client(port: u16, ca: &PathBuf, extra: &[&str]) -> String {
    let openssl = require("openssl");
    let mut child = Command::new(openssl)
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
            "-CAfile",
        ])
        .arg(ca)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET /s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn openssl_s_client_tls13_tls12_alpn_and_resumption() {
    let c = certs("openssl", |b| b);
    let h = start(c.tls.clone());
    let port = h.local_addr().port();
    let v13 = s_client(port, &c.ca, &["-tls1_3", "-alpn", "http/1.1", "-ign_eof"]);
    assert!(
        v13.contains("Protocol  : TLSv1.3") || v13.contains("TLSv1.3"),
        "{v13}"
    );
    assert!(v13.contains("ALPN protocol: http/1.1"), "{v13}");
    assert!(v13.contains("Verify return code: 0 (ok)"), "{v13}");
    assert!(v13.contains("hello over HTTP/1.1 /s"), "{v13}");
    let v12 = s_client(
        port,
        &c.ca,
        &["-tls1_2", "-alpn", "h2,http/1.1", "-ign_eof"],
    );
    assert!(v12.contains("TLSv1.2"), "{v12}");
    assert!(v12.contains("ALPN protocol: h2"), "{v12}");
    // Resumption, both versions: the second handshake reports Reused.
    for v in ["-tls1_3", "-tls1_2"] {
        let sess = c.dir.join(format!("sess{v}"));
        let first = s_client(
            port,
            &c.ca,
            &[v, "-sess_out", sess.to_str().unwrap(), "-ign_eof"],
        );
        assert!(first.contains("hello over"), "{first}");
        let second = s_client(
            port,
            &c.ca,
            &[v, "-sess_in", sess.to_str().unwrap(), "-ign_eof"],
        );
        assert!(second.contains("Reused, "), "{v}: {second}");
    }
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
    std::fs::remove_dir_all(&c.dir).unwrap();
}

#[test]
fn python_httpx_http2_over_tls() {
    let py = python();
    let c = certs("httpx", |b| b);
    let h = start(c.tls.clone());
    let port = h.local_addr().port();
    let script = format!(
        "import httpx\n\
         with httpx.Client(http2=True, verify={ca:?}) as c:\n\
         \x20   for i in range(20):\n\
         \x20       r = c.get('https://localhost:{port}/py')\n\
         \x20       assert r.http_version == 'HTTP/2', r.http_version\n\
         \x20       assert r.text == 'hello over HTTP/2.0 /py', r.text\n\
         print('ok')\n",
        ca = c.ca.to_str().unwrap()
    );
    // httpx resolves localhost itself; the certificate names localhost.
    let out = run_ok(Command::new(py).arg("-c").arg(script));
    assert!(out.contains("ok"), "{out}");
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
    std::fs::remove_dir_all(&c.dir).unwrap();
}

#[test]
fn mtls_refuses_clients_without_a_ca_signed_certificate() {
    let curl = require("curl");
    let dir = std::env::temp_dir().join(format!("flare-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = flare_tls::TestCa::new("flare mtls CA").unwrap();
    let (cert, key) = ca.issue(&["localhost"]).unwrap();
    let (ccert, ckey) = ca.issue(&["client"]).unwrap();
    let w = |n: &str, b: &[u8]| {
        let p = dir.join(n);
        std::fs::write(&p, b).unwrap();
        p
    };
    let ca_p = w("ca.pem", &ca.cert_pem());
    let cc = w("client.pem", &ccert);
    let ck = w("client.key", &ckey);
    let tls = flare_tls::ServerConfig::builder()
        .cert_pem(&cert, &key)
        .client_auth_ca_pem(&ca.cert_pem())
        .build()
        .unwrap();
    let h = start(tls);
    let port = h.local_addr().port();
    let url = format!("https://localhost:{port}/m");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let base = [
        "-sS",
        "--http1.1",
        "--resolve",
        &resolve,
        "--cacert",
        ca_p.to_str().unwrap(),
    ];
    let refused = Command::new(&curl).args(base).arg(&url).output().unwrap();
    assert!(
        !refused.status.success(),
        "served without a client certificate"
    );
    let out = run_ok(
        Command::new(&curl)
            .args(base)
            .args([
                "--cert",
                cc.to_str().unwrap(),
                "--key",
                ck.to_str().unwrap(),
            ])
            .arg(&url),
    );
    assert!(out.contains("hello over HTTP/1.1 /m"), "{out}");
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stalled_handshake_is_closed_at_its_deadline_while_others_are_served() {
    let c = certs("slow", |b| b.handshake_timeout(Duration::from_millis(500)));
    let h = start(c.tls.clone());
    let addr = h.local_addr();
    // Connects and sends half a ClientHello, then nothing.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    let t = Instant::now();
    // Meanwhile a real client is served.
    let out = run_ok(Command::new(require("curl")).args([
        "-sS",
        "--cacert",
        c.ca.to_str().unwrap(),
        "--resolve",
        &format!("localhost:{}:127.0.0.1", addr.port()),
        &format!("https://localhost:{}/ok", addr.port()),
    ]));
    assert!(out.contains("hello over"), "{out}");
    // Generous bounds (the deadline is 0.5 s; a handshake never closed would hit the
    // 10 s read timeout): curl alone can take seconds on a loaded CI box.
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 64];
    // A signal to the test process (a child exiting) may interrupt the read: retry.
    let read = loop {
        match slow.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => break r,
        }
    };
    let took = t.elapsed();
    let closed = match &read {
        Ok(0) => true,
        Err(e) => {
            e.kind() != std::io::ErrorKind::WouldBlock && e.kind() != std::io::ErrorKind::TimedOut
        }
        Ok(_) => false,
    };
    assert!(
        closed && took >= Duration::from_millis(400) && took < Duration::from_secs(8),
        "closed {closed} ({read:?}) after {took:?}"
    );
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
    std::fs::remove_dir_all(&c.dir).unwrap();
}

#[test]
fn plaintext_and_tls_ports_in_one_process_with_h2c_only_on_plaintext() {
    let curl = require("curl");
    let c = certs("both", |b| b);
    let h = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(2)
        .bind_tls("127.0.0.1:0", c.tls.clone())
        .unwrap()
        .config(with_test_backend(ServerConfig::default()))
        .start(hello)
        .unwrap();
    let plain = h.local_addrs()[0];
    let tls = h.local_addrs()[1];
    let out = run_ok(Command::new(&curl).args([
        "-sS",
        "--http2-prior-knowledge",
        &format!("http://{plain}/p"),
    ]));
    assert_eq!(out, "hello over HTTP/2.0 /p");
    let out = run_ok(Command::new(&curl).args([
        "-sS",
        "--http2",
        "--cacert",
        c.ca.to_str().unwrap(),
        "--resolve",
        &format!("localhost:{}:127.0.0.1", tls.port()),
        &format!("https://localhost:{}/t", tls.port()),
    ]));
    assert_eq!(out, "hello over HTTP/2.0 /t");
    // Plain HTTP to the TLS port is not served as HTTP.
    let got = raw_exchange(
        tls,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        !got.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
    std::fs::remove_dir_all(&c.dir).unwrap();
}
