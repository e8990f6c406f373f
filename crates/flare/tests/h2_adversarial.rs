//! HTTP/2 attacks against the example server (one worker, a child process so its
//! memory can be read): `tests/py/h2_adversarial.py` runs every case (rapid reset,
//! MadeYouReset, CONTINUATION floods, HPACK bomb, SETTINGS/PING/empty DATA/PRIORITY
//! floods, window overflows, stream id regressions, DATA on closed and idle
//! streams, oversized frames, too many streams, zero-window starvation, a bad
//! preface). Each case checks the error code, that a well-behaved client on
//! another connection keeps being served during the attack, that a fresh request
//! is answered quickly afterwards, and that the server's RSS stays bounded.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::python;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/h2_adversarial.py");

fn example_server() -> std::path::PathBuf {
    // cargo test builds the examples next to the test binaries' deps/ folder.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let p = dir.join("examples").join("server");
    assert!(
        p.exists(),
        "example server not built at {} (cargo test builds it)",
        p.display()
    );
    p
}

/// The example server with one worker; killed on drop.
struct Child1 {
    child: Child,
    port: u16,
}

impl Child1 {
    fn start() -> Child1 {
        let mut child = Command::new(example_server())
            .args(["--addr", "127.0.0.1:0", "--workers", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Child1 { child, port }
    }
}

impl Drop for Child1 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn python_h2_attack_suite() {
    let py = python();
    let mut server = Child1::start();
    let out = Command::new(py)
        .arg(SCRIPT)
        .args(["--port", &server.port.to_string()])
        .args(["--pid", &server.child.id().to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "h2 attack suite failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(" passed, 0 failed") && !last.starts_with("0 passed"),
        "{stdout}"
    );
    // The server survived every attack.
    assert!(server.child.try_wait().unwrap().is_none(), "server exited");
}
