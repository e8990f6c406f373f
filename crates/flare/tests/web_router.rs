//! flare-web's Router, extractors and responses on the real server, against curl
//! and Python httpx (`tests/py/web_client.py`): JSON round trip, form post, cookies
//! set and sent back, 404 / 405 with `Allow`, HEAD, OPTIONS, percent-decoded
//! parameters, 400 on a bad parameter, 415 / 422 rejections, per-route body limits,
//! SSE, trailing-slash redirects, state shared across workers; and every route of
//! the example server (`examples/server.rs`, the README's list) with curl.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{python, require, run_ok, TestServer};
use flare::prelude::*;
use flare::web::extract::{Cookie, Cookies, Form, Json, Path, Query, SameSite, State};
use flare::web::router::{get, post, Router};
use flare::web::{App, Event, Redirect, Sse, TrailingSlash};
use flare::ServerConfig;
use serde::{Deserialize, Serialize};

#[derive(Clone, Default)]
struct Shared {
    hits: Arc<AtomicU64>,
}

#[derive(Serialize, Deserialize)]
struct Item {
    name: String,
    qty: u32,
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct Login {
    user: String,
    remember: Option<String>,
}

#[derive(Deserialize)]
struct Paging {
    n: Option<u32>,
}

fn hello(_req: &Request) -> Response {
    Response::text("hello")
}

fn user(Path(id): Path<u64>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": id }))
}

fn file(Path(path): Path<String>) -> String {
    format!("file={path}")
}

fn word(Path((a, b)): Path<(String, String)>) -> String {
    format!("{a}|{b}")
}

fn echo_json(Json(item): Json<Item>) -> (StatusCode, Json<Item>) {
    (StatusCode::CREATED, Json(item))
}

fn form(Form(f): Form<Login>) -> (Cookie, Redirect) {
    let c = Cookie::new("session", format!("user-{}", f.user))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax);
    let c = if f.remember.is_some() {
        c.max_age(Duration::from_secs(3600))
    } else {
        c
    };
    (c, Redirect::to("/whoami"))
}

fn whoami(c: Cookies) -> String {
    match c.get("session") {
        Some(s) => format!("you are {s}"),
        None => "anonymous".to_string(),
    }
}

fn logout() -> (Cookie, &'static str) {
    (Cookie::removal("session").path("/"), "bye")
}

fn hits(State(s): State<Shared>) -> String {
    (s.hits.fetch_add(1, Ordering::Relaxed) + 1).to_string()
}

fn events(Query(p): Query<Paging>) -> Sse<impl Iterator<Item = Event> + Send> {
    let n = p.n.unwrap_or(3).min(100);
    Sse::new((0..n).map(|i| {
        Event::new()
            .id(&i.to_string())
            .event("tick")
            .data(&format!("line {i}\nsecond"))
    }))
}

/// Events pushed from another thread through `Sse::channel`: the stream is pending
/// between them and the sender's wake resumes it.
fn live(Query(p): Query<Paging>) -> Sse<flare::web::respond::SseChannel> {
    let n = p.n.unwrap_or(3).min(100);
    let (tx, sse) = Sse::channel(8);
    std::thread::spawn(move || {
        for i in 0..n {
            // Paced, so the worker polls the stream while it is empty.
            std::thread::sleep(Duration::from_millis(5));
            if tx
                .send(&Event::new().id(&i.to_string()).data("live"))
                .is_err()
            {
                return;
            }
        }
    });
    sse
}

fn len(body: Bytes) -> String {
    body.len().to_string()
}

fn app() -> App<Shared> {
    let api = Router::new()
        .get("/users/{id}", user)
        .route("/json", post(echo_json))
        .route("/small", post(len).body_limit(16))
        .route("/big", post(len).body_limit(4 << 20))
        .fallback(|req: &Request| {
            (
                StatusCode::NOT_FOUND,
                format!("no api route ({})", req.path().len()),
            )
        });
    let router = Router::new()
        .get("/", hello)
        .route("/item", get(hello).post(hello).delete(hello))
        .get("/files/{*path}", file)
        .get("/w/{a}/{b}", word)
        .post("/form", form)
        .get("/whoami", whoami)
        .post("/logout", logout)
        .get("/hits", hits)
        .get("/sse", events)
        .get("/live", live)
        .post("/len", len)
        .get("/dir/", hello)
        .nest("/api", api)
        .trailing_slash(TrailingSlash::Redirect);
    App::new(Shared::default()).router(router)
}

fn curl(args: &[&str]) -> String {
    let out = Command::new(require("curl"))
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Status (`HTTP/1.1 200 OK` or `HTTP/2 200`), lowercase head, body.
fn status_and_body(raw: &str) -> (u16, String, String) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn curl_routing_methods_and_params() {
    let srv = TestServer::start(app());
    routing_checks(&srv, &["--http1.1"]);
    srv.stop();
}

/// The same checks over HTTP/2 (h2c with prior knowledge): nothing in the router
/// depends on the protocol.
#[test]
fn curl_routing_methods_and_params_over_h2c() {
    let srv = TestServer::start(app());
    let raw = curl(&["-i", "--http2-prior-knowledge", &srv.url("/")]);
    assert!(raw.starts_with("HTTP/2 200"), "{raw}");
    routing_checks(&srv, &["--http2-prior-knowledge"]);
    srv.stop();
}

fn routing_checks(srv: &TestServer, proto: &[&str]) {
    let curl = |args: &[&str]| {
        let mut all = proto.to_vec();
        all.extend_from_slice(args);
        curl(&all)
    };
    let get = |p: &str| status_and_body(&curl(&["-i", &srv.url(p)]));

    assert_eq!(get("/").2, "hello");
    assert_eq!(get("/api/users/42").2, r#"{"id":42}"#);
    let (s, _, b) = get("/api/users/abc");
    assert_eq!((s, b.as_str()), (400, "invalid path parameter"));
    // Percent-decoded parameters; invalid UTF-8 after decoding is a 400.
    assert_eq!(
        get("/files/a/caf%C3%A9%20au%2Flait").2,
        "file=a/café au/lait"
    );
    assert_eq!(get("/w/x%2By/z").2, "x+y|z");
    let (s, _, b) = get("/files/%FF%FE");
    assert_eq!((s, b.as_str()), (400, "invalid path parameter"));
    let (s, _, _) = get("/w/%zz/1");
    assert_eq!(s, 400);
    // Misses.
    let (s, _, b) = get("/nope");
    assert_eq!((s, b.as_str()), (404, "not found"));
    let (s, _, b) = get("/api/nothing");
    assert_eq!((s, b.as_str()), (404, "no api route (12)"));
    // 405 with Allow.
    let (s, h, _) = status_and_body(&curl(&["-i", "-X", "PUT", &srv.url("/item")]));
    assert_eq!(s, 405);
    assert!(h.contains("allow: get, head, post, delete, options"), "{h}");
    // OPTIONS.
    let (s, h, b) = status_and_body(&curl(&["-i", "-X", "OPTIONS", &srv.url("/item")]));
    assert_eq!((s, b.as_str()), (204, ""));
    assert!(h.contains("allow: get, head, post, delete, options"), "{h}");
    // HEAD answered by the GET handler: the GET's length, no body.
    let raw = curl(&["-I", &srv.url("/api/users/42")]);
    let (s, h, b) = status_and_body(&raw);
    assert_eq!((s, b.as_str()), (200, ""));
    assert!(h.contains("content-length: 9"), "{h}");
    // Trailing slash redirect, query kept.
    let (s, h, _) = get("/dir?x=1");
    assert_eq!(s, 308);
    assert!(h.contains("location: /dir/?x=1"), "{h}");
    if proto != ["--http2-prior-knowledge"] {
        // Following the redirect reuses the connection; curl's second request on one
        // h2c connection is an HTTP/2 driver matter (two curl runs cover the router).
        let followed = curl(&["-L", &srv.url("/dir")]);
        assert_eq!(followed, "hello");
    } else {
        assert_eq!(curl(&[&srv.url("/dir/")]), "hello");
    }
    // SSE pushed from another thread (pending, woken, ended by dropping the sender).
    let live = curl(&["-N", &srv.url("/live?n=4")]);
    let want: String = (0..4).map(|i| format!("id: {i}\ndata: live\n\n")).collect();
    assert_eq!(live, want);
    // JSON round trip with curl.
    let raw = curl(&[
        "-i",
        "-H",
        "content-type: application/json",
        "--data-binary",
        r#"{"name":"nut","qty":3,"tags":["a","b"]}"#,
        &srv.url("/api/json"),
    ]);
    let (s, h, b) = status_and_body(&raw);
    assert_eq!(s, 201);
    assert!(h.contains("content-type: application/json"), "{h}");
    assert_eq!(b, r#"{"name":"nut","qty":3,"tags":["a","b"]}"#);
    // A cookie set by a form post, sent back from curl's cookie jar.
    let jar = std::env::temp_dir().join(format!(
        "flare-web-router-{}-{}.jar",
        std::process::id(),
        proto.join("")
    ));
    let jar = jar.to_str().unwrap();
    let raw = curl(&["-i", "-c", jar, "--data", "user=cy", &srv.url("/form")]);
    let (s, h, _) = status_and_body(&raw);
    assert_eq!(s, 303);
    assert!(
        h.contains("set-cookie: session=user-cy; path=/; httponly"),
        "{h}"
    );
    assert_eq!(curl(&["-b", jar, &srv.url("/whoami")]), "you are user-cy");
    assert_eq!(curl(&[&srv.url("/whoami")]), "anonymous");
    let _ = std::fs::remove_file(jar);
}

#[test]
fn curl_state_is_shared_by_all_workers() {
    let srv = TestServer::start_with(app(), 2, ServerConfig::default());
    // Fresh connections spread over both workers; the counter is one.
    let mut last = 0;
    for _ in 0..20 {
        let n: u64 = curl(&[&srv.url("/hits")]).parse().unwrap();
        assert!(n > last);
        last = n;
    }
    assert_eq!(last, 20);
    srv.stop();
}

#[test]
fn httpx_json_form_cookies_rejections_limits_sse() {
    let srv = TestServer::start(app());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/web_client.py");
    let out = run_ok(Command::new(python()).arg(script).arg(srv.url("")));
    assert!(out.contains("web_client: all passed"), "{out}");
    srv.stop();
}

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

/// Kills the example server when the test ends, pass or fail.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn example_server_routes_from_the_readme() {
    use std::io::{BufRead, BufReader};
    let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs");
    let mut child = Child(
        Command::new(example_server())
            .args([
                "--addr",
                "127.0.0.1:0",
                "--workers",
                "2",
                "--static-dir",
                docs,
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let url = |p: &str| format!("{base}{p}");
    let get = |p: &str| status_and_body(&curl(&["-i", &url(p)]));

    assert_eq!(get("/").2, "hello");
    assert_eq!(get("/plaintext").2, "Hello, World!");
    assert_eq!(get("/json").2, r#"{"message":"Hello, World!"}"#);
    let raw = curl(&[
        "-i",
        "-H",
        "content-type: application/json",
        "--data-binary",
        r#"{"name":"ann","count":3}"#,
        &url("/json"),
    ]);
    assert_eq!(status_and_body(&raw).2, r#"{"name":"ann","count":3}"#);
    let raw = curl(&["-i", "--data-binary", r#"{"name":"ann"}"#, &url("/json")]);
    assert_eq!(status_and_body(&raw).0, 415);
    let raw = curl(&[
        "-i",
        "-H",
        "content-type: application/json",
        "--data-binary",
        r#"{"count":3}"#,
        &url("/json"),
    ]);
    assert_eq!(status_and_body(&raw).0, 422);
    let raw = curl(&[
        "-i",
        "-H",
        "content-type: text/x-thing",
        "--data-binary",
        "raw bytes",
        &url("/echo"),
    ]);
    let (s, h, b) = status_and_body(&raw);
    assert_eq!((s, b.as_str()), (200, "raw bytes"));
    assert!(h.contains("content-type: text/x-thing"), "{h}");
    let raw = curl(&["-i", "--data", "name=bo&message=hi+there", &url("/form")]);
    assert_eq!(
        status_and_body(&raw).2,
        r#"{"name":"bo","message":"hi there"}"#
    );
    assert_eq!(get("/users/7").2, r#"{"id":7}"#);
    assert_eq!(get("/users/seven").0, 400);
    // Without -i, curl prints the body only (with it, the trailer follows the body).
    assert_eq!(curl(&[&url("/stream?n=2")]), "chunk 0\nchunk 1\n");
    let raw = curl(&["--raw", "-i", &url("/stream?n=2")]);
    assert!(raw.contains("x-chunks: 2"), "{raw}");
    let (_, h, b) = get("/sse?n=2");
    assert!(h.contains("content-type: text/event-stream"), "{h}");
    assert_eq!(b, "id: 0\ndata: event 0\n\nid: 1\ndata: event 1\n\n");
    let raw = curl(&["-i", "-H", "X-Test: 1", &url("/headers")]);
    let v: serde_json::Value = serde_json::from_str(&status_and_body(&raw).2).unwrap();
    assert_eq!(v["x-test"], "1");
    assert_eq!(get("/slow?ms=1").2, "done");
    let want = std::fs::read_to_string(format!("{docs}/architecture.md")).unwrap();
    let (s, _, b) = get("/static/architecture.md");
    assert_eq!((s, b == want), (200, true));
    assert_eq!(get("/static/../Cargo.toml").0, 404);
    assert_eq!(get("/static/%2e%2e/Cargo.toml").0, 400);
    let (s, _, b) = get("/metrics");
    assert_eq!(s, 200);
    assert!(b.contains("flare_http_requests_total"), "{b}");
    assert_eq!(get("/nope").0, 404);
    let raw = curl(&["-i", "-X", "PUT", &url("/")]);
    let (s, h, _) = status_and_body(&raw);
    assert_eq!(s, 405);
    assert!(h.contains("allow: get, head, options"), "{h}");
    let raw = curl(&["-i", "-X", "GET", &url("/echo")]);
    assert_eq!(status_and_body(&raw).0, 405);
    run_ok(Command::new("kill").args(["-TERM", &child.0.id().to_string()]));
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status}");
}
