//! wrk against the server for 10 s of keep-alive load: no socket errors, no non-2xx.

mod common;

use std::process::Command;

use common::*;

#[test]
fn wrk_keep_alive_10s_has_no_errors() {
    let wrk = require("wrk");
    let srv = TestServer::start(basic);
    let out = run_ok(Command::new(wrk).args(["-t1", "-c64", "-d10s", &srv.url("/plaintext")]));
    assert!(!out.contains("Socket errors"), "{out}");
    assert!(!out.contains("Non-2xx"), "{out}");
    let requests: u64 = out
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" requests in ")
                .map(|(n, _)| n.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no request count in wrk output:\n{out}"));
    assert!(requests > 1000, "only {requests} requests in 10 s:\n{out}");
    srv.stop();
}
