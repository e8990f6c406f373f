//! Real TLS peers over loopback: `openssl s_client` and `gnutls-cli` against a
//! [`ServerSession`] behind a small blocking driver, and `openssl s_server` against a
//! [`ClientSession`]. A missing peer fails the test ("run `cargo xtask peers`").

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use flare_tls::{
    ClientConfig, ClientSession, HandshakeKind, ServerConfig, ServerSession, TlsError, TlsVersion,
};

const IO_TIMEOUT: Duration = Duration::from_secs(20);
const PEER_TIMEOUT: Duration = Duration::from_secs(60);

fn require(binary: &str, version_arg: &str) {
    match Command::new(binary).arg(version_arg).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`{binary} {version_arg}` failed ({}): run `cargo xtask peers`",
            o.status
        ),
        Err(e) => panic!("{binary} not found ({e}): run `cargo xtask peers`"),
    }
}

/// A scratch directory with the CA and the server's certificate files.
struct Files {
    dir: PathBuf,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    _pki: common::Pki,
}

impl Files {
    fn new(tag: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("flare-tls-peers-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = common::pki();
        let (ca, cert, key) = (
            dir.join("ca.pem"),
            dir.join("cert.pem"),
            dir.join("key.pem"),
        );
        std::fs::write(&ca, pki.ca.cert_pem()).unwrap();
        std::fs::write(&cert, &pki.cert).unwrap();
        std::fs::write(&key, &pki.key).unwrap();
        Self {
            dir,
            ca,
            cert,
            key,
            _pki: pki,
        }
    }

    fn server_config(&self) -> ServerConfig {
        ServerConfig::builder()
            .cert_pem_file(&self.cert, &self.key)
            .build()
            .unwrap()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What one served connection looked like.
#[derive(Debug)]
struct Served {
    alpn: Option<Vec<u8>>,
    version: Option<TlsVersion>,
    kind: Option<HandshakeKind>,
    received: Vec<u8>,
    error: Option<String>,
}

/// Blocking server driver: handshake, read until a full line arrives (answer
/// `pong <line>` and close with close_notify) or until the peer closes.
fn serve_conn(mut sock: TcpStream, config: &ServerConfig) -> Served {
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut tls = ServerSession::new(config).unwrap();
    let mut received = Vec::new();
    let result = (|| -> Result<(), TlsError> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        let mut plain = [0u8; 4096];
        let mut answered = false;
        loop {
            out.clear();
            tls.write_tls(&mut out)?;
            if !out.is_empty() && sock.write_all(&out).is_err() {
                return Ok(());
            }
            if answered {
                return Ok(());
            }
            let n = match sock.read(&mut buf) {
                Ok(0) | Err(_) => return Ok(()),
                Ok(n) => n,
            };
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                let used = match tls.read_tls(rest) {
                    Ok(used) => used,
                    Err(e) => {
                        out.clear();
                        let _ = tls.write_tls(&mut out);
                        let _ = sock.write_all(&out);
                        return Err(e);
                    }
                };
                rest = &rest[used..];
                loop {
                    let got = tls.read_plaintext(&mut plain)?;
                    if got == 0 {
                        break;
                    }
                    received.extend_from_slice(&plain[..got]);
                }
            }
            if let Some(end) = received.iter().position(|&b| b == b'\n') {
                let mut reply = b"pong ".to_vec();
                reply.extend_from_slice(&received[..=end]);
                let mut off = 0;
                while off < reply.len() {
                    off += tls.write_plaintext(&reply[off..])?;
                    out.clear();
                    tls.write_tls(&mut out)?;
                    let _ = sock.write_all(&out);
                }
                tls.send_close_notify();
                answered = true;
            } else if tls.peer_closed() {
                tls.send_close_notify();
                answered = true;
            }
        }
    })();
    Served {
        alpn: tls.alpn_protocol().map(<[u8]>::to_vec),
        version: tls.protocol_version(),
        kind: tls.handshake_kind(),
        received,
        error: result.err().map(|e| e.to_string()),
    }
}

/// Serves `count` connections one after another on a loopback listener.
fn spawn_server(config: ServerConfig, count: usize) -> (u16, thread::JoinHandle<Vec<Served>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        (0..count)
            .map(|_| {
                let (sock, _) = listener.accept().unwrap();
                serve_conn(sock, &config)
            })
            .collect()
    });
    (port, handle)
}

/// Runs a peer to completion with stdin `input`, failing after [`PEER_TIMEOUT`].
fn run_peer(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?} ({e}): run `cargo xtask peers`"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    wait_bounded(child)
}

fn wait_bounded(child: Child) -> Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(PEER_TIMEOUT) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("peer {pid} did not finish within {PEER_TIMEOUT:?}");
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn s_client(port: u16, files: &Files, extra: &[&str]) -> Output {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args([
            "-servername",
            "localhost",
            "-verify_return_error",
            "-ign_eof",
        ])
        .arg("-CAfile")
        .arg(&files.ca)
        .args(extra);
    run_peer(cmd, b"ping\n")
}

#[test]
fn openssl_s_client_tls13_alpn_h2_and_resumption() {
    require("openssl", "version");
    let files = Files::new("s_client13");
    let (port, server) = spawn_server(files.server_config(), 2);
    let sess = files.dir.join("session.pem");
    let sess = sess.to_str().unwrap();

    let first = s_client(port, &files, &["-tls1_3", "-alpn", "h2", "-sess_out", sess]);
    let out = text(&first);
    assert!(out.contains("New, TLSv1.3"), "{out}");
    assert!(out.contains("ALPN protocol: h2"), "{out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    assert!(out.contains("pong ping"), "{out}");

    let second = s_client(port, &files, &["-tls1_3", "-alpn", "h2", "-sess_in", sess]);
    let out = text(&second);
    assert!(out.contains("Reused, TLSv1.3"), "{out}");
    assert!(out.contains("pong ping"), "{out}");

    let served = server.join().unwrap();
    assert_eq!(served[0].version, Some(TlsVersion::Tls13));
    assert_eq!(served[0].alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(served[0].kind, Some(HandshakeKind::Full));
    assert_eq!(served[0].received, b"ping\n");
    assert_eq!(served[1].kind, Some(HandshakeKind::Resumed));
    assert!(served.iter().all(|s| s.error.is_none()), "{served:?}");
}

#[test]
fn openssl_s_client_tls12_alpn_http11_and_resumption() {
    require("openssl", "version");
    let files = Files::new("s_client12");
    let (port, server) = spawn_server(files.server_config(), 2);
    let sess = files.dir.join("session.pem");
    let sess = sess.to_str().unwrap();

    let first = s_client(
        port,
        &files,
        &["-tls1_2", "-alpn", "http/1.1", "-sess_out", sess],
    );
    let out = text(&first);
    assert!(out.contains("New, TLSv1.2"), "{out}");
    assert!(out.contains("ALPN protocol: http/1.1"), "{out}");
    assert!(out.contains("pong ping"), "{out}");

    let second = s_client(
        port,
        &files,
        &["-tls1_2", "-alpn", "http/1.1", "-sess_in", sess],
    );
    let out = text(&second);
    assert!(out.contains("Reused, TLSv1.2"), "{out}");

    let served = server.join().unwrap();
    assert_eq!(served[0].version, Some(TlsVersion::Tls12));
    assert_eq!(served[1].kind, Some(HandshakeKind::Resumed));
    assert!(served.iter().all(|s| s.error.is_none()), "{served:?}");
}

#[test]
fn openssl_s_client_tls12_session_id_resumption_without_tickets() {
    require("openssl", "version");
    let files = Files::new("s_client12id");
    let config = ServerConfig::builder()
        .cert_pem_file(&files.cert, &files.key)
        .session_tickets(false)
        .build()
        .unwrap();
    let (port, server) = spawn_server(config, 2);
    let sess = files.dir.join("session.pem");
    let sess = sess.to_str().unwrap();
    let first = s_client(port, &files, &["-tls1_2", "-no_ticket", "-sess_out", sess]);
    assert!(text(&first).contains("New, TLSv1.2"), "{}", text(&first));
    let second = s_client(port, &files, &["-tls1_2", "-no_ticket", "-sess_in", sess]);
    assert!(
        text(&second).contains("Reused, TLSv1.2"),
        "{}",
        text(&second)
    );
    let served = server.join().unwrap();
    assert_eq!(served[1].kind, Some(HandshakeKind::Resumed));
}

#[test]
fn openssl_s_client_without_alpn_overlap_gets_the_alert() {
    require("openssl", "version");
    let files = Files::new("s_client_alpn");
    let (port, server) = spawn_server(files.server_config(), 1);
    let o = s_client(port, &files, &["-alpn", "spdy/3"]);
    let out = text(&o);
    assert!(out.contains("no application protocol"), "{out}");
    let served = server.join().unwrap();
    assert_eq!(
        served[0].error.as_deref(),
        Some("no matching ALPN protocol"),
        "{served:?}"
    );
}

#[test]
fn openssl_s_client_mtls() {
    require("openssl", "version");
    let files = Files::new("s_client_mtls");
    let client_ca = flare_tls::TestCa::new("client CA").unwrap();
    let (ccert, ckey) = client_ca.issue(&["client.test"]).unwrap();
    let (ccert_path, ckey_path) = (files.dir.join("client.pem"), files.dir.join("client.key"));
    std::fs::write(&ccert_path, &ccert).unwrap();
    std::fs::write(&ckey_path, &ckey).unwrap();
    let config = ServerConfig::builder()
        .cert_pem_file(&files.cert, &files.key)
        .client_auth_ca_pem(&client_ca.cert_pem())
        .build()
        .unwrap();
    let (port, server) = spawn_server(config, 2);
    let with_cert = s_client(
        port,
        &files,
        &[
            "-cert",
            ccert_path.to_str().unwrap(),
            "-key",
            ckey_path.to_str().unwrap(),
        ],
    );
    assert!(
        text(&with_cert).contains("pong ping"),
        "{}",
        text(&with_cert)
    );
    let without = s_client(port, &files, &[]);
    assert!(!text(&without).contains("pong ping"), "{}", text(&without));
    let served = server.join().unwrap();
    assert!(served[0].error.is_none(), "{served:?}");
    assert!(
        served[1]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("no certificate"),
        "{served:?}"
    );
}

#[test]
fn gnutls_cli_alpn_h2_and_resume() {
    require("gnutls-cli", "--version");
    let files = Files::new("gnutls");
    let (port, server) = spawn_server(files.server_config(), 2);
    let mut cmd = Command::new("gnutls-cli");
    cmd.args([
        "--alpn=h2",
        "--resume",
        "--waitresumption",
        "-p",
        &port.to_string(),
    ])
    .arg(format!("--x509cafile={}", files.ca.display()))
    .arg("localhost");
    let o = run_peer(cmd, b"");
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("This is a resumed session"), "{out}");
    assert_eq!(out.matches("Application protocol: h2").count(), 2, "{out}");
    let served = server.join().unwrap();
    assert_eq!(served[0].alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(served[0].kind, Some(HandshakeKind::Full));
    assert_eq!(served[1].kind, Some(HandshakeKind::Resumed));
    assert!(served.iter().all(|s| s.error.is_none()), "{served:?}");
}

#[test]
fn gnutls_cli_tls12_only() {
    require("gnutls-cli", "--version");
    let files = Files::new("gnutls12");
    let (port, server) = spawn_server(files.server_config(), 1);
    let mut cmd = Command::new("gnutls-cli");
    cmd.args([
        "--priority=NORMAL:-VERS-ALL:+VERS-TLS1.2",
        "-p",
        &port.to_string(),
    ])
    .arg(format!("--x509cafile={}", files.ca.display()))
    .arg("localhost");
    let o = run_peer(cmd, b"");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("(TLS1.2-X.509)"), "{}", text(&o));
    let served = server.join().unwrap();
    assert_eq!(served[0].version, Some(TlsVersion::Tls12));
}

/// Starts `openssl s_server -www` and waits until it says it accepts.
fn s_server(files: &Files, extra: &[&str]) -> (u16, Child) {
    let (port, child, _stdout) = s_server_spawn(files, &["-www", "-naccept", "2"], extra);
    (port, child)
}

/// Starts `openssl s_server` with `mode` and `extra`, stdin piped (its one-letter
/// commands), and waits until it says it accepts; what it prints afterwards comes
/// through the receiver.
fn s_server_spawn(
    files: &Files,
    mode: &[&str],
    extra: &[&str],
) -> (u16, Child, mpsc::Receiver<Vec<u8>>) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("openssl")
        .args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
        .args(mode)
        .arg("-cert")
        .arg(&files.cert)
        .arg("-key")
        .arg(&files.key)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start openssl s_server ({e}): run `cargo xtask peers`"));
    // s_server prints ACCEPT once it listens; wait for that, bounded.
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let (out_tx, out_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !seen.ends_with(b"ACCEPT\n") {
            match stdout.read(&mut byte) {
                Ok(1) => seen.push(byte[0]),
                _ => {
                    let _ = tx.send(Err(String::from_utf8_lossy(&seen).into_owned()));
                    return;
                }
            }
        }
        let _ = tx.send(Ok(()));
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            let _ = out_tx.send(buf[..n].to_vec());
        }
    });
    match rx.recv_timeout(PEER_TIMEOUT) {
        Ok(Ok(())) => {}
        Ok(Err(seen)) => panic!("s_server exited: {seen}"),
        Err(_) => {
            let _ = child.kill();
            panic!("s_server did not start within {PEER_TIMEOUT:?}");
        }
    }
    (port, child, out_rx)
}

/// Blocking client driver: handshake, send an HTTP/1.0 GET, read until close.
fn fetch(port: u16, config: &ClientConfig) -> (ClientSession, Vec<u8>) {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut tls = ClientSession::new(config, "localhost").unwrap();
    let request = b"GET / HTTP/1.0\r\n\r\n";
    assert_eq!(tls.write_plaintext(request).unwrap(), request.len());
    let mut body = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut plain = [0u8; 4096];
    let mut out = Vec::new();
    loop {
        out.clear();
        tls.write_tls(&mut out).unwrap();
        if !out.is_empty() {
            sock.write_all(&out).unwrap();
        }
        let n = sock.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let used = tls.read_tls(rest).unwrap();
            rest = &rest[used..];
            loop {
                let got = tls.read_plaintext(&mut plain).unwrap();
                if got == 0 {
                    break;
                }
                body.extend_from_slice(&plain[..got]);
            }
        }
        if tls.peer_closed() {
            break;
        }
    }
    (tls, body)
}

fn check_s_server(version_flag: &str, expect: TlsVersion) {
    require("openssl", "version");
    let files = Files::new(&format!("s_server{version_flag}"));
    let (port, server) = s_server(&files, &[version_flag, "-alpn", "h2"]);
    let config = ClientConfig::builder()
        .ca_pem_file(&files.ca)
        .alpn(&[b"h2", b"http/1.1"])
        .build()
        .unwrap();
    let (tls, body) = fetch(port, &config);
    let body = String::from_utf8_lossy(&body);
    assert!(body.starts_with("HTTP/1.0 200 ok"), "{body}");
    assert_eq!(tls.protocol_version(), Some(expect));
    assert_eq!(tls.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(tls.handshake_kind(), Some(HandshakeKind::Full));
    let (tls, body) = fetch(port, &config);
    assert_eq!(
        tls.handshake_kind(),
        Some(HandshakeKind::Resumed),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let out = wait_bounded(server);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn client_session_against_openssl_s_server_tls13() {
    check_s_server("-tls1_3", TlsVersion::Tls13);
}

#[test]
fn client_session_against_openssl_s_server_tls12() {
    check_s_server("-tls1_2", TlsVersion::Tls12);
}

#[test]
fn client_session_rejects_s_server_with_untrusted_cert() {
    require("openssl", "version");
    let files = Files::new("s_server_untrusted");
    let (port, server) = s_server(&files, &[]);
    let other = flare_tls::TestCa::new("other CA").unwrap();
    let config = ClientConfig::builder()
        .ca_pem(&other.cert_pem())
        .build()
        .unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut tls = ClientSession::new(&config, "localhost").unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let err = loop {
        out.clear();
        tls.write_tls(&mut out).unwrap();
        sock.write_all(&out).unwrap();
        let n = sock.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "server closed before the client judged its certificate"
        );
        if let Err(e) = tls.read_tls(&buf[..n]) {
            break e;
        }
    };
    assert!(
        matches!(
            err,
            TlsError::HandshakeFailed {
                alert: Some(flare_tls::Alert::UnknownCa),
                ..
            }
        ),
        "{err:?}"
    );
    // The fatal alert rustls queued goes out, then our write side is shut and the
    // rest read: s_server reports the alert and closes in order (EOF, no reset).
    assert!(tls.has_failed());
    out.clear();
    tls.write_tls(&mut out).unwrap();
    assert!(!out.is_empty(), "no alert queued");
    sock.write_all(&out).unwrap();
    sock.shutdown(std::net::Shutdown::Write).unwrap();
    loop {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => panic!("wanted an orderly close from s_server, got {e}"),
        }
    }
    drop(sock);
    // Second accept so s_server exits.
    let _ = TcpStream::connect(("127.0.0.1", port));
    let out = wait_bounded(server);
    let said = text(&out);
    assert!(
        said.contains("unknown ca") || said.contains("alert number 48"),
        "s_server did not see the unknown_ca alert:\n{said}"
    );
}

/// `openssl s_server` sends KeyUpdate (its `k` command) and KeyUpdate with
/// update_requested (`K`): the `ClientSession` answers and keeps the connection,
/// data flows both ways after each, and s_server sees no error.
#[test]
fn client_session_keeps_its_connection_through_key_updates_from_s_server() {
    require("openssl", "version");
    let files = Files::new("s_server_keyupdate");
    let (port, mut server, printed) = s_server_spawn(&files, &["-naccept", "1", "-tls1_3"], &[]);
    let mut stdin = server.stdin.take().unwrap();
    let config = ClientConfig::builder()
        .ca_pem_file(&files.ca)
        .build()
        .unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut tls = ClientSession::new(&config, "localhost").unwrap();
    let mut seen_by_server = Vec::new();
    let mut received = Vec::new();
    // One turn of the blocking driver: flush, read what came (briefly), decrypt.
    let turn = |tls: &mut ClientSession, sock: &mut TcpStream, received: &mut Vec<u8>| {
        let mut out = Vec::new();
        tls.write_tls(&mut out).unwrap();
        if !out.is_empty() {
            sock.write_all(&out).unwrap();
        }
        let mut buf = [0u8; 16 * 1024];
        match sock.read(&mut buf) {
            Ok(0) => panic!("s_server closed the connection"),
            Ok(n) => {
                tls.read_tls(&buf[..n]).unwrap();
                let mut plain = [0u8; 4096];
                loop {
                    let got = tls.read_plaintext(&mut plain).unwrap();
                    if got == 0 {
                        break;
                    }
                    received.extend_from_slice(&plain[..got]);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => panic!("read: {e}"),
        }
    };
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while tls.is_handshaking() {
        assert!(std::time::Instant::now() < deadline, "handshake");
        turn(&mut tls, &mut sock, &mut received);
    }
    for (command, tag) in [(&b"k\n"[..], "one"), (b"K\n", "two"), (b"K\n", "three")] {
        // s_server: send the KeyUpdate, then a line of data under the new keys.
        // (Apart: s_server takes a read of stdin that is only the letter as the
        // command.)
        stdin.write_all(command).unwrap();
        stdin.flush().unwrap();
        for _ in 0..3 {
            turn(&mut tls, &mut sock, &mut received);
        }
        stdin
            .write_all(format!("to-client-{tag}\n").as_bytes())
            .unwrap();
        stdin.flush().unwrap();
        let want = format!("to-client-{tag}\n");
        while !String::from_utf8_lossy(&received).contains(&want) {
            assert!(
                std::time::Instant::now() < deadline,
                "no data after KeyUpdate {tag}: {:?}",
                String::from_utf8_lossy(&received)
            );
            turn(&mut tls, &mut sock, &mut received);
        }
        // And the other way, under our (possibly updated) keys.
        let line = format!("to-server-{tag}\n");
        assert_eq!(tls.write_plaintext(line.as_bytes()).unwrap(), line.len());
        let want = line.trim_end().to_string();
        while !String::from_utf8_lossy(&seen_by_server).contains(&want) {
            assert!(
                std::time::Instant::now() < deadline,
                "s_server did not get {want}: {:?}",
                String::from_utf8_lossy(&seen_by_server)
            );
            turn(&mut tls, &mut sock, &mut received);
            while let Ok(chunk) = printed.try_recv() {
                seen_by_server.extend_from_slice(&chunk);
            }
        }
    }
    assert!(!tls.has_failed());
    while let Ok(chunk) = printed.try_recv() {
        seen_by_server.extend_from_slice(&chunk);
    }
    // s_server reports each KeyUpdate it sent as a completed handshake step.
    let updates = String::from_utf8_lossy(&seen_by_server)
        .matches("SSL_do_handshake -> 1")
        .count();
    assert_eq!(updates, 3, "{}", String::from_utf8_lossy(&seen_by_server));
    tls.send_close_notify();
    let mut out = Vec::new();
    tls.write_tls(&mut out).unwrap();
    sock.write_all(&out).unwrap();
    drop(sock);
    drop(stdin);
    let out = wait_bounded(server);
    let said = format!("{}{}", String::from_utf8_lossy(&seen_by_server), text(&out));
    assert!(
        !said.contains("error:"),
        "s_server reported an error:\n{said}"
    );
}

/// Keys in the formats openssl writes: RSA PKCS#1 (`BEGIN RSA PRIVATE KEY`), EC SEC1
/// (`BEGIN EC PRIVATE KEY`) and PKCS#8, each served to s_client.
#[test]
fn openssl_made_keys_in_every_pem_format() {
    require("openssl", "version");
    let files = Files::new("keyformats");
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "rsa-pkcs1",
            &["-newkey", "rsa:2048"],
            "BEGIN RSA PRIVATE KEY",
        ),
        (
            "ec-sec1",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "BEGIN EC PRIVATE KEY",
        ),
        ("rsa-pkcs8", &["-newkey", "rsa:2048"], "BEGIN PRIVATE KEY"),
    ];
    for (name, keyargs, marker) in cases {
        let cert = files.dir.join(format!("{name}.crt"));
        let key = files.dir.join(format!("{name}.key"));
        let o = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
            ])
            .args(["-addext", "subjectAltName=DNS:localhost"])
            .args(keyargs)
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        if marker != "BEGIN PRIVATE KEY" {
            // openssl 3 writes PKCS#8; convert to the traditional format (`openssl ec`
            // writes SEC1 by default, `openssl rsa` needs -traditional).
            let args: &[&str] = if name.starts_with("rsa") {
                &["rsa", "-traditional"]
            } else {
                &["ec"]
            };
            let o = Command::new("openssl")
                .args(args)
                .arg("-in")
                .arg(&key)
                .arg("-out")
                .arg(&key)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", text(&o));
        }
        let key_pem = std::fs::read_to_string(&key).unwrap();
        assert!(key_pem.contains(marker), "{name}: {key_pem}");
        let config = ServerConfig::builder()
            .cert_pem_file(&cert, &key)
            .build()
            .unwrap();
        let (port, server) = spawn_server(config, 1);
        let mut cmd = Command::new("openssl");
        cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
            .args([
                "-servername",
                "localhost",
                "-verify_return_error",
                "-ign_eof",
            ])
            .arg("-CAfile")
            .arg(&cert);
        let o = run_peer(cmd, b"ping\n");
        assert!(text(&o).contains("pong ping"), "{name}: {}", text(&o));
        let served = server.join().unwrap();
        assert!(served[0].error.is_none(), "{name}: {served:?}");
    }
}
