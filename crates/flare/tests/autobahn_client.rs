//! The Autobahn|Testsuite fuzzing server against `flare::client::WsClient`: for
//! every case the client connects to `/runCase?case=N&agent=flare` and echoes
//! each message back (text as text, binary as binary) until the server closes;
//! every case must then be OK, NON-STRICT or INFORMATIONAL, for the behaviour
//! and for the close. permessage-deflate is offered (the default client), so the
//! compression cases (12.*, 13.*) run too.
//!
//! Left out unless `FLARE_AUTOBAHN_FULL=1`, to keep CI at about a minute and a
//! half instead of ten: 9.* (large-message performance) and the 12.*/13.* cases
//! whose messages are 32 KiB or more (subcases 8-10 and 13-18: 1000 round trips
//! of up to 128 KiB each, which the fuzzing server compresses and checks in
//! Python, ~540 s of the full run); what stays covers every data set and every
//! negotiation variant with messages up to 16 KiB, fragmented (256 octets) too.
//! Nothing here touches flare's server transport, so the io_uring pass
//! (`FLARE_TEST_IO_URING=1`) leaves out 12.* and 13.* altogether, as autobahn.rs
//! does. `wstest` comes from `cargo xtask peers` (`FLARE_WSTEST`).
//!
//! 13.3-13.6 have the server ask for a smaller client window: the client offers
//! `client_max_window_bits` and its compressor keeps to the window with
//! distance-1 matches (flare-ws `deflate/mod.rs`), so they must be OK too.
//!
//! Every case is bounded: a watchdog kills the fuzzing server (which ends the
//! client's blocking read) when one case or the whole run overruns.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use flare::client::{WsClient, WsMessage};

/// The longest one case may take (the slowest in the default set take about a
/// second; 12.*/13.* with 128 KiB messages ten; `FLARE_AUTOBAHN_FULL` gets more).
const CASE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest the whole run may take (`FLARE_AUTOBAHN_FULL`: four times this).
const RUN_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The 12.*/13.* subcases with messages of 32 KiB or more (case12_x_x.py's
/// MSG_SIZES). wstest matches patterns as regex prefixes, so each is exact.
const BIG_SUBCASES: [u32; 9] = [8, 9, 10, 13, 14, 15, 16, 17, 18];

fn wstest() -> PathBuf {
    let p = std::env::var_os("FLARE_WSTEST")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/autobahn/venv/bin/wstest"
            ))
        });
    assert!(
        p.is_file(),
        "required peer Autobahn wstest missing at {}: run `cargo xtask peers`",
        p.display()
    );
    p
}

/// The fuzzing server, killed on drop (and by the watchdog).
struct Server(Arc<Mutex<Option<Child>>>);

impl Server {
    fn kill(&self) {
        if let Some(mut c) = self.0.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `f` on its own thread; if it has not finished within `timeout` (or the
/// run's `deadline`), kills the server (so a blocked read ends) and panics.
fn bounded<T: Send + 'static>(
    server: &Server,
    what: &str,
    timeout: Duration,
    deadline: Instant,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    let left = deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(timeout.min(left)) {
        Ok(v) => {
            let _ = h.join();
            v
        }
        // `f` panicked: pass its panic on.
        Err(mpsc::RecvTimeoutError::Disconnected) => match h.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => unreachable!("{what}: ended without a result"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            server.kill();
            let _ = h.join();
            panic!(
                "{what}: no end within {:?} (the case timeout or the run deadline)",
                timeout.min(left)
            );
        }
    }
}

/// One case: echo until the server closes. Returns how it ended, for the log.
fn echo_case(url: String) -> Result<String, String> {
    let mut ws = WsClient::connect(&url).map_err(|e| format!("connect: {e}"))?;
    loop {
        let sent = match ws.recv() {
            Ok(WsMessage::Text(t)) => ws.send_text(&t),
            Ok(WsMessage::Binary(b)) => ws.send_binary(&b),
            Ok(WsMessage::Ping(_) | WsMessage::Pong(_)) => Ok(()),
            Ok(WsMessage::Close(code, _)) => return Ok(format!("close {code:?}")),
            Ok(other) => return Err(format!("unexpected {other:?}")),
            Err(e) => return Ok(format!("recv: {e}")),
        };
        if let Err(e) = sent {
            return Ok(format!("send: {e}"));
        }
    }
}

#[test]
fn autobahn_fuzzingserver_against_ws_client() {
    let started = Instant::now();
    let wstest = wstest();
    let full = std::env::var_os("FLARE_AUTOBAHN_FULL").is_some();
    let (case_timeout, deadline) = match full {
        true => (CASE_TIMEOUT * 4, started + RUN_TIMEOUT * 4),
        false => (CASE_TIMEOUT, started + RUN_TIMEOUT),
    };
    let uring = test_backend_args().contains(&"--io-uring");
    let mut exclude: Vec<String> = Vec::new();
    if !full {
        exclude.push("9.*".into());
        if uring {
            exclude.extend(["12.*".into(), "13.*".into()]);
        } else {
            for g in ["12", "13"] {
                exclude.extend(BIG_SUBCASES.iter().map(|n| format!("{g}.*.{n}")));
            }
        }
    }
    let exclude = serde_json::to_string(&exclude).unwrap();
    let out = std::env::temp_dir().join(format!("flare-autobahn-client-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let report_dir = out.join("report");
    let port = free_port();
    let spec = format!(
        r#"{{"url": "ws://127.0.0.1:{port}", "outdir": "{}",
            "cases": ["*"], "exclude-cases": {exclude}, "exclude-agent-cases": {{}}}}"#,
        report_dir.display()
    );
    let spec_file = out.join("fuzzingserver.json");
    std::fs::write(&spec_file, spec).unwrap();
    let log = std::fs::File::create(out.join("wstest.log")).unwrap();
    let child = Command::new(&wstest)
        .current_dir(&out)
        .args(["-m", "fuzzingserver", "-s"])
        .arg(&spec_file)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let server = Server(Arc::new(Mutex::new(Some(child))));
    let wstest_log = || std::fs::read_to_string(out.join("wstest.log")).unwrap_or_default();

    // Wait until it listens.
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let listen_by = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        let exited = server
            .0
            .lock()
            .unwrap()
            .as_mut()
            .unwrap()
            .try_wait()
            .unwrap();
        assert!(
            exited.is_none() && Instant::now() < listen_by,
            "wstest fuzzingserver not listening on {addr} (exit {exited:?}):\n{}",
            wstest_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let base = format!("ws://127.0.0.1:{port}");
    let count_url = format!("{base}/getCaseCount");
    let count = bounded(&server, "getCaseCount", case_timeout, deadline, move || {
        let mut ws = WsClient::connect(&count_url).expect("getCaseCount connect");
        match ws.recv().expect("getCaseCount recv") {
            WsMessage::Text(t) => t.trim().parse::<usize>().expect("a case count"),
            other => panic!("getCaseCount: {other:?}"),
        }
    });
    println!("autobahn client: {count} cases (excluded: {exclude})");
    assert!(count > 150, "only {count} cases offered");

    let mut slowest = (Duration::ZERO, 0);
    for n in 1..=count {
        let url = format!("{base}/runCase?case={n}&agent=flare");
        let t = Instant::now();
        let how = bounded(
            &server,
            &format!("case {n}"),
            case_timeout,
            deadline,
            move || echo_case(url),
        );
        if let Err(e) = how {
            panic!("case {n}: {e}\n{}", wstest_log());
        }
        if t.elapsed() > slowest.0 {
            slowest = (t.elapsed(), n);
        }
    }

    let update_url = format!("{base}/updateReports?agent=flare");
    bounded(
        &server,
        "updateReports",
        case_timeout,
        deadline,
        move || {
            // The server writes the reports, then closes.
            let mut ws = WsClient::connect(&update_url).expect("updateReports connect");
            while let Ok(m) = ws.recv() {
                if matches!(m, WsMessage::Close(..)) {
                    break;
                }
            }
        },
    );
    server.kill();

    let index = report_dir.join("index.json");
    let json = std::fs::read_to_string(&index).unwrap_or_else(|e| {
        panic!(
            "no report at {} ({e}); wstest said:\n{}",
            index.display(),
            wstest_log()
        )
    });
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let cases = report["flare"].as_object().expect("flare's cases");
    let mut bad = Vec::new();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut close_counts = std::collections::BTreeMap::<String, usize>::new();
    let fine = |b: &str| matches!(b, "OK" | "NON-STRICT" | "INFORMATIONAL");
    for (id, r) in cases {
        let behavior = r["behavior"].as_str().unwrap_or("?");
        let close = r["behaviorClose"].as_str().unwrap_or("?");
        *counts.entry(behavior.to_string()).or_default() += 1;
        *close_counts.entry(close.to_string()).or_default() += 1;
        if !fine(behavior) || !fine(close) {
            bad.push(format!("{id}: {behavior} / close {close}"));
        }
    }
    println!(
        "autobahn client: {} cases in {:?} (slowest: case {} in {:?}): behavior {counts:?}, close {close_counts:?}",
        cases.len(),
        started.elapsed(),
        slowest.1,
        slowest.0
    );
    assert_eq!(cases.len(), count, "cases in the report");
    assert!(
        bad.is_empty(),
        "{} failing cases (report in {}):\n{}",
        bad.len(),
        out.display(),
        bad.join("\n")
    );
    let _ = std::fs::remove_dir_all(&out);
}
