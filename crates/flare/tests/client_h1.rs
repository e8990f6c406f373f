//! The HTTP client over HTTP/1.1 against flare's own server and hand-made loopback
//! servers: the request builder, bodies both ways, the pool, the keep-alive race
//! against a server that closes idle connections at random (10,000 GETs, 0 errors),
//! retries only for idempotent requests, every timeout, redirects across origins.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use flare::client::{Body, Client, Error, RedirectPolicy, TimeoutKind};
use flare::prelude::*;
use flare::ServerConfig;

fn echo_app() -> Router {
    Router::new()
        .get("/hello", |_: &Request| "hello")
        .get("/query", |req: &Request| {
            req.query().unwrap_or("").to_string()
        })
        .get("/header", |req: &Request| {
            req.header("x-test").unwrap_or("none").to_string()
        })
        .post("/json", |req: &Request| {
            let v: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
            Response::json(&serde_json::json!({
                "got": v,
                "type": req.header("content-type"),
                "te": req.header("transfer-encoding"),
            }))
        })
        .post("/len", |req: &Request| req.body().len().to_string())
        .put("/len", |req: &Request| req.body().len().to_string())
        .get("/big", |_: &Request| Response::bytes(vec![b'x'; 1 << 20]))
        .get("/status/{code}", |req: &Request| {
            let code: u16 = req.param("code").unwrap().parse().unwrap();
            Response::text("s").with_status(StatusCode::from_u16(code).unwrap())
        })
}

#[test]
fn builder_bodies_and_json_against_flare() {
    let server = TestServer::start(echo_app());
    let client = Client::builder().no_proxy().build().unwrap();
    let r = client.get(server.url("/hello")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.version(), http::Version::HTTP_11);
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(r.text().unwrap(), "hello");

    let q = client
        .get(server.url("/query"))
        .query(&[("a", "1 2"), ("b", "x&y")])
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(q, "a=1+2&b=x%26y");

    let h = client
        .get(server.url("/header"))
        .header("x-test", "yes")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(h, "yes");

    let v: serde_json::Value = client
        .post(server.url("/json"))
        .json(&serde_json::json!({"k": [1, 2]}))
        .unwrap()
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["got"]["k"][1], 2);
    assert_eq!(v["type"], "application/json");

    // A streamed upload goes chunked (and past the threshold with 100-continue).
    let data = vec![7u8; 1536 * 1024 + 17];
    let n = client
        .post(server.url("/len"))
        .body(Body::from_reader(std::io::Cursor::new(data.clone())))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(n, data.len().to_string());
    // A sized reader and plain bytes.
    let n = client
        .put(server.url("/len"))
        .body(Body::sized(std::io::Cursor::new(vec![1u8; 5000]), 5000))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(n, "5000");
    let n = client
        .post(server.url("/len"))
        .body(vec![0u8; 1_500_000])
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(n, "1500000");

    // Streaming read of a 1 MiB body in small pieces.
    let mut r = client.get(server.url("/big")).send().unwrap();
    assert_eq!(r.content_length(), Some(1 << 20));
    let mut total = 0;
    let mut buf = [0u8; 1000];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
    }
    assert_eq!(total, 1 << 20);

    // error_for_status, with the URL and no body.
    let e = client
        .get(server.url("/status/404"))
        .send()
        .unwrap()
        .error_for_status()
        .unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
    assert!(e.url().ends_with("/status/404"), "{e}");
    assert!(e.to_string().contains("404"), "{e}");

    // The cap: 1 MiB body, 1000-byte limit.
    let small = Client::builder()
        .no_proxy()
        .max_response_size(1000)
        .build()
        .unwrap();
    let e = small
        .get(server.url("/big"))
        .send()
        .unwrap()
        .bytes()
        .unwrap_err();
    assert!(matches!(e, Error::BodyTooLarge { limit: 1000, .. }), "{e}");
}

#[test]
fn pool_reuses_connections_across_threads() {
    let server = TestServer::start(echo_app());
    let client = Client::builder().no_proxy().build().unwrap();
    for _ in 0..20 {
        assert_eq!(
            client
                .get(server.url("/hello"))
                .send()
                .unwrap()
                .text()
                .unwrap(),
            "hello"
        );
    }
    assert_eq!(
        client.idle_connections(),
        1,
        "one connection reused for sequential requests"
    );
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let c = client.clone();
            let url = server.url("/hello");
            std::thread::spawn(move || {
                for _ in 0..50 {
                    assert_eq!(c.get(&url).send().unwrap().text().unwrap(), "hello");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let idle = client.idle_connections();
    assert!((1..=8).contains(&idle), "idle {idle}");
    // Per-host limit.
    let c1 = Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    c1.get(server.url("/hello")).send().unwrap().text().unwrap();
    assert_eq!(c1.idle_connections(), 0);
}

/// A minimal HTTP/1.1 server that answers with "ok" and closes connections at
/// random without saying so: after a response (about one time in three), or on
/// receiving a request on a kept-alive connection, before answering (one time in
/// five), which is what a client sees when the server's idle close crosses its
/// request: the keep-alive race. Counts the POSTs it received.
struct Flaky {
    addr: std::net::SocketAddr,
    posts: Arc<AtomicUsize>,
}

fn flaky_server(close_every_after_post: bool) -> Flaky {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let posts = Arc::new(AtomicUsize::new(0));
    let p2 = posts.clone();
    std::thread::spawn(move || {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for s in l.incoming() {
            let Ok(s) = s else { continue };
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut local = seed;
            let posts = p2.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut s = s;
                let mut served = 0;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut len = 0usize;
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h == "\r\n" {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    if line.starts_with("POST") {
                        posts.fetch_add(1, Ordering::SeqCst);
                    }
                    local ^= local << 13;
                    local ^= local >> 7;
                    local ^= local << 17;
                    if served > 0 && local % 5 == 0 {
                        return;
                    }
                    served += 1;
                    if s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .is_err()
                    {
                        return;
                    }
                    local ^= local << 13;
                    local ^= local >> 7;
                    local ^= local << 17;
                    if local % 3 == 0 || (close_every_after_post && line.starts_with("POST")) {
                        // Sometimes at once, sometimes a moment later (while the client
                        // may be sending the next request).
                        if local % 2 == 0 {
                            std::thread::sleep(Duration::from_micros(local % 300));
                        }
                        return;
                    }
                }
            });
        }
    });
    Flaky { addr, posts }
}

#[test]
fn ten_thousand_gets_through_a_server_that_closes_at_random() {
    let flaky = flaky_server(false);
    let client = Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{}/", flaky.addr);
    let t = Instant::now();
    let mut errors = Vec::new();
    for i in 0..10_000 {
        match client.get(&url).send().and_then(|r| r.text()) {
            Ok(body) => assert_eq!(body, "ok"),
            Err(e) => errors.push(format!("{i}: {e}")),
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "too slow: {i} requests"
        );
    }
    assert!(
        errors.is_empty(),
        "{} errors: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
}

#[test]
fn non_idempotent_requests_are_never_replayed() {
    let flaky = flaky_server(true);
    let client = Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{}/", flaky.addr);
    // The server closes after every POST; the next POST on the pooled connection
    // may fail but must never reach the server twice.
    let mut ok = 0;
    for _ in 0..200 {
        if client
            .post(&url)
            .body("x")
            .send()
            .and_then(|r| r.text())
            .is_ok()
        {
            ok += 1;
        }
        // Let the close land sometimes, race it other times.
        std::thread::sleep(Duration::from_micros(200));
    }
    assert_eq!(
        flaky.posts.load(Ordering::SeqCst),
        ok,
        "a POST was replayed"
    );
}

/// Accepts connections and never answers.
fn stalling_server() -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().take(4) {
            held.push(s);
        }
        std::thread::sleep(Duration::from_secs(10));
    });
    (addr, h)
}

#[test]
fn each_timeout_fires_with_its_kind() {
    let (addr, _h) = stalling_server();
    let url = format!("http://{addr}/");
    // Read idle.
    let c = Client::builder()
        .no_proxy()
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = c.get(&url).send().unwrap_err();
    assert_eq!(e.timeout_kind(), Some(TimeoutKind::Read), "{e}");
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(e.to_string().contains("read timeout"), "{e}");
    // Whole request (per request, shorter than the read timeout).
    let e = c
        .get(&url)
        .timeout(Duration::from_millis(100))
        .send()
        .unwrap_err();
    assert_eq!(e.timeout_kind(), Some(TimeoutKind::Request), "{e}");
    // Not retried: a timeout is not the keep-alive race.
    let c2 = Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = c2.get(&url).send().unwrap_err();
    assert_eq!(e.timeout_kind(), Some(TimeoutKind::Request), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2));

    // Connect: a listener whose accept queue is full drops SYNs.
    use std::os::fd::AsFd;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    rustix::net::listen(l.as_fd(), 0).unwrap();
    let full = l.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = TcpStream::connect_timeout(&full, Duration::from_millis(200)) {
            fillers.push(s);
        }
    }
    let c3 = Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = c3.get(format!("http://{full}/")).send().unwrap_err();
    assert_eq!(e.timeout_kind(), Some(TimeoutKind::Connect), "{e}");
    assert!(t.elapsed() < Duration::from_secs(3));
    drop(l);

    // A refused connection is a connect error naming the address.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = c3.get(format!("http://{closed}/")).send().unwrap_err();
    assert!(
        matches!(e, Error::Connect { addr: Some(a), .. } if a == closed),
        "{e}"
    );
}

#[test]
fn redirects_across_origins_strip_credentials() {
    // B reports what it received.
    let b = TestServer::start(
        Router::new()
            .get("/land", |req: &Request| {
                format!(
                    "auth={} cookie={} custom={}",
                    req.header("authorization").unwrap_or("-"),
                    req.header("cookie").unwrap_or("-"),
                    req.header("x-keep").unwrap_or("-")
                )
            })
            .post("/land", |req: &Request| {
                format!("POST {}", req.body().len())
            })
            .get("/to-a", |req: &Request| {
                Response::new(StatusCode::FOUND).with_header(
                    http::header::LOCATION,
                    HeaderValue::from_str(req.query().unwrap_or("/")).unwrap(),
                )
            }),
    );
    let b_land = b.url("/land");
    let b_land2 = b_land.clone();
    let b_to_a = b.url("/to-a");
    let a = TestServer::start(
        Router::new()
            .get("/start", move |_: &Request| {
                Response::new(StatusCode::FOUND).with_header(
                    http::header::LOCATION,
                    HeaderValue::from_str(&b_land).unwrap(),
                )
            })
            .get("/same", |req: &Request| {
                format!("auth={}", req.header("authorization").unwrap_or("-"))
            })
            .get("/hop", |_: &Request| {
                Response::new(StatusCode::MOVED_PERMANENTLY)
                    .with_header(http::header::LOCATION, HeaderValue::from_static("/same"))
            })
            .post("/see-other", move |_: &Request| {
                Response::new(StatusCode::SEE_OTHER).with_header(
                    http::header::LOCATION,
                    HeaderValue::from_str(&b_land2).unwrap(),
                )
            })
            .post("/keep", |_: &Request| {
                Response::new(StatusCode::TEMPORARY_REDIRECT).with_header(
                    http::header::LOCATION,
                    HeaderValue::from_static("/echo-len"),
                )
            })
            .post("/echo-len", |req: &Request| {
                format!("kept {}", req.body().len())
            })
            .get("/loop", |_: &Request| {
                Response::new(StatusCode::FOUND)
                    .with_header(http::header::LOCATION, HeaderValue::from_static("/loop"))
            }),
    );
    let client = Client::builder().no_proxy().build().unwrap();
    let r = client
        .get(a.url("/start"))
        .bearer_auth("secret")
        .header("cookie", "c=1")
        .header("x-keep", "k")
        .send()
        .unwrap();
    assert_eq!(r.url().to_string(), b.url("/land"));
    assert_eq!(r.text().unwrap(), "auth=- cookie=- custom=k");
    // Same origin keeps them.
    let r = client
        .get(a.url("/hop"))
        .bearer_auth("secret")
        .send()
        .unwrap();
    assert_eq!(r.text().unwrap(), "auth=Bearer secret");
    // 303 turns POST into GET; 307 keeps POST and its body.
    let r = client.post(a.url("/see-other")).body("abc").send().unwrap();
    assert_eq!(r.text().unwrap(), "auth=- cookie=- custom=-");
    let r = client.post(a.url("/keep")).body("abcd").send().unwrap();
    assert_eq!(r.text().unwrap(), "kept 4");
    // A chain back from B to A (two origins, two hops).
    let r = client
        .get(format!("{b_to_a}?{}", a.url("/same")))
        .bearer_auth("x")
        .send()
        .unwrap();
    assert_eq!(r.text().unwrap(), "auth=-");
    // Limits and policies.
    let e = client.get(a.url("/loop")).send().unwrap_err();
    assert!(
        matches!(e, Error::TooManyRedirects { limit: 10, .. }),
        "{e}"
    );
    let none = Client::builder()
        .no_proxy()
        .redirect(RedirectPolicy::none())
        .build()
        .unwrap();
    assert_eq!(
        none.get(a.url("/start")).send().unwrap().status(),
        StatusCode::FOUND
    );
    let same = Client::builder()
        .no_proxy()
        .redirect(RedirectPolicy::same_origin(5))
        .build()
        .unwrap();
    assert_eq!(
        same.get(a.url("/start")).send().unwrap().status(),
        StatusCode::FOUND
    );
    assert_eq!(
        same.get(a.url("/hop")).send().unwrap().status(),
        StatusCode::OK
    );
}

#[test]
fn expect_continue_refusal_skips_the_upload() {
    // flare answers 413 to an announced body past its limit, before reading it.
    let cfg = ServerConfig::default().max_body(1024);
    let server = TestServer::start_with(echo_app(), 1, cfg);
    let client = Client::builder()
        .no_proxy()
        .expect_continue_threshold(Some(10))
        .build()
        .unwrap();
    let r = client
        .post(server.url("/len"))
        .body(vec![0u8; 8 * 1024 * 1024])
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The connection after such an answer is not reused; the next request works.
    assert_eq!(
        client
            .get(server.url("/hello"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
        "hello"
    );
}
