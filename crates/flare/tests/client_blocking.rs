//! A handler that calls an upstream with the client runs on the blocking pool: on a
//! one-worker server, a route waiting for a slow upstream leaves another route on
//! the same worker answering.

mod common;

use std::time::{Duration, Instant};

use common::*;
use flare::client::Client;
use flare::prelude::*;
use flare::ServerConfig;

#[test]
fn upstream_call_from_a_blocking_route_leaves_the_worker_free() {
    let upstream = TestServer::start(Router::new().get(
        "/slow",
        blocking(|_: &Request| {
            std::thread::sleep(Duration::from_millis(800));
            "upstream done"
        }),
    ));
    let client = Client::builder().no_proxy().build().unwrap();
    let slow = upstream.url("/slow");
    let app = Router::new().get("/fast", |_: &Request| "fast").get(
        "/proxy",
        blocking(move |_: &Request| match client.get(&slow).send() {
            Ok(r) => r.text().unwrap_or_else(|e| e.to_string()),
            Err(e) => e.to_string(),
        }),
    );
    let server = TestServer::start_with(app, 1, ServerConfig::default());
    let front = Client::builder().no_proxy().build().unwrap();
    let proxy_url = server.url("/proxy");
    let f2 = front.clone();
    let t = Instant::now();
    let waiting = std::thread::spawn(move || f2.get(&proxy_url).send().unwrap().text().unwrap());
    std::thread::sleep(Duration::from_millis(100));
    // While the only worker's /proxy waits on the upstream, /fast is answered.
    for _ in 0..5 {
        let t_fast = Instant::now();
        assert_eq!(
            front
                .get(server.url("/fast"))
                .send()
                .unwrap()
                .text()
                .unwrap(),
            "fast"
        );
        assert!(
            t_fast.elapsed() < Duration::from_millis(500),
            "the worker was blocked: {:?}",
            t_fast.elapsed()
        );
    }
    assert!(
        t.elapsed() < Duration::from_millis(800),
        "fast answers came after the upstream"
    );
    assert_eq!(waiting.join().unwrap(), "upstream done");
}
