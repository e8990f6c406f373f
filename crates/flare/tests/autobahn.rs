//! The Autobahn|Testsuite fuzzing client against the example server's `/ws` echo:
//! every case, compression (12.*, 13.*) included, must be OK, NON-STRICT or
//! INFORMATIONAL. The 9.* cases (large-message performance) are left out here to
//! keep CI fast; `FLARE_AUTOBAHN_FULL=1` (what `cargo xtask autobahn` sets) runs
//! them too. On the io_uring pass (`FLARE_TEST_IO_URING=1`) the compression cases
//! are left out as well: they ran on epoll and do not touch the transport.
//! `wstest` comes from `cargo xtask peers` (`FLARE_WSTEST`).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use common::*;

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

fn run_suite(name: &str, extra_args: &[&str]) {
    let wstest = wstest();
    let bin = example_bin("server");
    let (mut child, addr) = spawn_listening(
        Command::new(&bin)
            .args(["--addr", "127.0.0.1:0", "--workers", "1"])
            .args(test_backend_args())
            .args(extra_args),
    );
    let full = std::env::var_os("FLARE_AUTOBAHN_FULL").is_some();
    let out = std::env::temp_dir().join(format!("flare-autobahn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    // The io_uring pass of `cargo xtask test` changes the transport only: the
    // compression cases (12.*, 13.*, the slow half of the suite) ran on epoll.
    let uring = test_backend_args().contains(&"--io-uring");
    let exclude = match (full, uring) {
        (true, _) => "[]",
        (false, false) => r#"["9.*"]"#,
        (false, true) => r#"["9.*", "12.*", "13.*"]"#,
    };
    let spec = format!(
        r#"{{"outdir": "{}", "servers": [{{"agent": "flare", "url": "ws://{addr}/ws"}}],
            "cases": ["*"], "exclude-cases": {exclude}, "exclude-agent-cases": {{}}}}"#,
        out.join("report").display()
    );
    let spec_file = out.join("fuzzingclient.json");
    std::fs::write(&spec_file, spec).unwrap();
    let started = Instant::now();
    let status = Command::new(&wstest)
        .current_dir(&out)
        .args(["-m", "fuzzingclient", "-s"])
        .arg(&spec_file)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let index = out.join("report").join("index.json");
    let json = std::fs::read_to_string(&index).unwrap_or_else(|e| {
        panic!(
            "no report at {} ({e}); wstest said:\n{}\n{}",
            index.display(),
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr)
        )
    });
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let cases = report["flare"].as_object().expect("flare's cases");
    let mut bad = Vec::new();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for (id, r) in cases {
        let behavior = r["behavior"].as_str().unwrap_or("?");
        let close = r["behaviorClose"].as_str().unwrap_or("?");
        *counts.entry(behavior.to_string()).or_default() += 1;
        let fine = |b: &str| matches!(b, "OK" | "NON-STRICT" | "INFORMATIONAL");
        if !fine(behavior) || !fine(close) {
            bad.push(format!("{id}: {behavior} / close {close}"));
        }
    }
    println!(
        "autobahn {name}: {} cases in {:?}: {counts:?}",
        cases.len(),
        started.elapsed()
    );
    assert!(
        cases.len() > 200 || (uring && cases.len() > 150),
        "only {} cases ran",
        cases.len()
    );
    assert!(
        bad.is_empty(),
        "{} failing cases (report in {}):\n{}",
        bad.len(),
        out.display(),
        bad.join("\n")
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn autobahn_fuzzingclient_against_the_example_echo() {
    run_suite("plain", &[]);
}
