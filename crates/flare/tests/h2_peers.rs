//! HTTP/2 on the shared port against real peers: nghttp (prior knowledge `-v`,
//! `-u` for `Upgrade: h2c`, `-d` uploads including 100 MiB, `-m` concurrent
//! streams), curl (`--http2-prior-knowledge`, `--http2` upgrade), h2load (100,000
//! requests over 16 connections, 100 streams each), and the flare-web Router with
//! extractors and middleware served over h2.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{require, run_ok, TestServer};
use flare::prelude::*;
use flare::web::extract::{Json, Path as PathParam};
use flare::web::middleware::{HandlerExt, RequestId};
use flare::web::router::Router;
use flare::web::{Event, IntoResponse, Sse};
use flare::ServerConfig;
use serde::{Deserialize, Serialize};

const BIG: usize = 4 << 20;
const UPLOAD: usize = 100 << 20;
const SMALL_LIMIT: u64 = 1024;

/// The handler every test here serves.
struct Peers;

impl Handler for Peers {
    fn handle(&self, req: &mut Request) -> Response {
        match req.path() {
            "/plaintext" => Response::text("Hello, World!"),
            "/echo" | "/small" => Response::bytes(req.body().to_vec()),
            "/upload" => Response::text(format!(
                "len={} fnv={:016x}",
                req.body().len(),
                fnv1a(req.body())
            )),
            "/big" => Response::bytes(pattern(BIG)),
            "/stream" => {
                let chunks = (0..100).map(|i| Bytes::from(format!("chunk {i}\n")));
                let trailers = vec![(HeaderName::from_static("x-count"), HeaderValue::from(100))];
                Response::stream(Body::from_chunks_with_trailers(chunks, trailers))
            }
            "/sse" => {
                Sse::new((0..5).map(|i| Event::new().data(&format!("event {i}")))).into_response()
            }
            "/host" => Response::text(req.header("host").unwrap_or("-").to_string()),
            "/version" => Response::text(format!("{:?}", req.version())),
            _ => Response::error(StatusCode::NOT_FOUND, "not found"),
        }
    }

    fn body_limit(&self, req: &Request) -> Option<u64> {
        (req.path() == "/small").then_some(SMALL_LIMIT)
    }
}

fn server() -> TestServer {
    TestServer::start_with(Peers, 1, ServerConfig::default().max_body(200 << 20))
}

/// Deterministic bytes that do not repeat with a short period.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A scratch directory for this test, emptied first.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("flare-h2-peers-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

fn nghttp(args: &[&str]) -> String {
    let bin = require("nghttp");
    run_ok(Command::new(bin).args(["--timeout=30"]).args(args))
}

/// Lines like `[  0.001] recv (stream_id=1) :status: 200`.
fn statuses(verbose: &str) -> Vec<String> {
    verbose
        .lines()
        .filter_map(|l| l.split(":status: ").nth(1))
        .map(|s| s.trim().to_string())
        .collect()
}

#[test]
fn nghttp_prior_knowledge_get() {
    let s = server();
    let out = nghttp(&["-v", &s.url("/plaintext")]);
    assert_eq!(statuses(&out), ["200"], "{out}");
    assert!(out.contains("Hello, World!"), "{out}");
    // Our SETTINGS reached nghttp and were acknowledged; no error on the way.
    assert!(out.contains("recv SETTINGS frame"), "{out}");
    assert!(
        !out.contains("GOAWAY") || out.contains("error_code=NO_ERROR"),
        "{out}"
    );
    // :authority is what handlers read as Host.
    let host = nghttp(&[&s.url("/host")]);
    assert_eq!(host.trim(), s.addr.to_string());
    assert_eq!(nghttp(&[&s.url("/version")]).trim(), "HTTP/2.0");
}

#[test]
fn nghttp_upgrade_h2c() {
    let s = server();
    let out = nghttp(&["-u", "-v", &s.url("/plaintext")]);
    assert!(out.contains("HTTP Upgrade success"), "{out}");
    assert!(out.contains("Hello, World!"), "{out}");
    // The upgrading request became stream 1 and was answered over HTTP/2.
    assert!(out.contains("recv (stream_id=1) :status: 200"), "{out}");
    assert_eq!(
        nghttp(&["-u", &s.url("/version")]).trim(),
        "HTTP/2.0",
        "the upgraded request is seen as HTTP/2"
    );
}

#[test]
fn nghttp_uploads_and_echo() {
    let s = server();
    let dir = scratch("echo");
    let body = pattern(300_000);
    let f = write(&dir, "body", &body);
    let out = Command::new(require("nghttp"))
        .args(["--timeout=30", "-d"])
        .arg(&f)
        .arg(s.url("/echo"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.len(), body.len());
    assert!(out.stdout == body, "echoed body differs");
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn nghttp_uploads_100_mib() {
    // 100 times the stream window: the server must release capacity as it reads.
    let s = server();
    let dir = scratch("upload");
    let body = pattern(UPLOAD);
    let f = write(&dir, "body", &body);
    let out = nghttp(&["-d", f.to_str().unwrap(), &s.url("/upload")]);
    assert_eq!(
        out.trim(),
        format!("len={UPLOAD} fnv={:016x}", fnv1a(&body)),
        "the 100 MiB upload arrived damaged"
    );
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn nghttp_route_body_limit_is_413() {
    let s = server();
    let dir = scratch("limit");
    let f = write(&dir, "body", &vec![b'x'; 4 * SMALL_LIMIT as usize]);
    let out = nghttp(&["-v", "-d", f.to_str().unwrap(), &s.url("/small")]);
    assert_eq!(statuses(&out), ["413"], "{out}");
    // The connection survives: the next request on a new one works, and a body
    // within the limit passes.
    let ok = write(&dir, "ok", b"tiny");
    assert_eq!(
        nghttp(&["-d", ok.to_str().unwrap(), &s.url("/small")]),
        "tiny"
    );
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn nghttp_100_concurrent_streams_on_one_connection() {
    let s = server();
    let out = nghttp(&["-v", "-n", "-m", "100", &s.url("/plaintext")]);
    let st = statuses(&out);
    assert_eq!(st.len(), 100, "{out}");
    assert!(st.iter().all(|x| x == "200"), "{st:?}");
    // One connection: nghttp sends its preface once.
    assert_eq!(out.matches("send SETTINGS frame <length").count(), 1);
}

#[test]
fn nghttp_big_and_streamed_responses() {
    let s = server();
    // 4 MiB: four times the window nghttp grants by default, so the server stops and
    // resumes on WINDOW_UPDATE.
    let out = Command::new(require("nghttp"))
        .args(["--timeout=30", "-w", "16", "-W", "16"])
        .arg(s.url("/big"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.len(), BIG);
    assert!(out.stdout == pattern(BIG), "4 MiB body differs");
    // A streamed body with trailers.
    let body = nghttp(&[&s.url("/stream")]);
    let want: String = (0..100).map(|i| format!("chunk {i}\n")).collect();
    assert_eq!(body, want);
    let out = nghttp(&["-v", &s.url("/stream")]);
    assert!(out.contains(") x-count: 100"), "trailer missing:\n{out}");
}

fn curl(args: &[&str]) -> String {
    run_ok(
        Command::new(require("curl"))
            .args(["-sS", "--max-time", "30"])
            .args(args),
    )
}

#[test]
fn curl_prior_knowledge() {
    let s = server();
    let out = curl(&[
        "--http2-prior-knowledge",
        "-w",
        "\n%{http_version} %{response_code}",
        &s.url("/plaintext"),
    ]);
    assert_eq!(out, "Hello, World!\n2 200");
    // POST from a file.
    let dir = scratch("curl");
    let body = pattern(200_000);
    let f = write(&dir, "body", &body);
    let out = Command::new(require("curl"))
        .args(["-sS", "--max-time", "30", "--http2-prior-knowledge"])
        .arg("--data-binary")
        .arg(format!("@{}", f.display()))
        .arg(s.url("/echo"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout == body, "echo differs");
    // HEAD: the head of GET without a body.
    let out = curl(&["--http2-prior-knowledge", "-I", &s.url("/plaintext")]);
    assert!(out.starts_with("HTTP/2 200"), "{out}");
    assert!(out.contains("content-length: 13"), "{out}");
    // SSE over h2.
    let out = curl(&["--http2-prior-knowledge", "-i", &s.url("/sse")]);
    assert!(out.contains("content-type: text/event-stream"), "{out}");
    for i in 0..5 {
        assert!(out.contains(&format!("data: event {i}\n")), "{out}");
    }
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn curl_upgrade_h2c() {
    let s = server();
    let out = curl(&[
        "--http2",
        "-v",
        "-w",
        "\n%{http_version} %{response_code}",
        &s.url("/version"),
    ]);
    assert!(out.contains("HTTP/1.1 101"), "{out}");
    assert!(out.contains("HTTP/2.0\n2 200"), "{out}");
}

#[derive(Serialize, Deserialize)]
struct Item {
    name: String,
    qty: u32,
}

fn item(Json(i): Json<Item>) -> Json<Item> {
    Json(Item {
        name: i.name.to_uppercase(),
        qty: i.qty * 2,
    })
}

fn user(PathParam(id): PathParam<u64>) -> String {
    format!("user {id}")
}

#[test]
fn router_extractors_and_middleware_over_h2() {
    let app = Router::new()
        .post("/item", item)
        .get("/users/{id}", user)
        .layer(RequestId::new());
    let s = TestServer::start_with(app, 1, ServerConfig::default());
    let h2 = "--http2-prior-knowledge";
    let out = curl(&[
        h2,
        "-i",
        "-H",
        "content-type: application/json",
        "--data",
        r#"{"name":"bolt","qty":21}"#,
        &s.url("/item"),
    ]);
    assert!(out.starts_with("HTTP/2 200"), "{out}");
    assert!(
        out.contains("x-request-id: "),
        "middleware did not run:\n{out}"
    );
    assert!(out.ends_with(r#"{"name":"BOLT","qty":42}"#), "{out}");
    let out = curl(&[h2, "-i", "-H", "x-request-id: abc-1", &s.url("/users/7")]);
    assert!(out.contains("x-request-id: abc-1"), "{out}");
    assert!(out.ends_with("user 7"), "{out}");
    // Extractor rejections and routing misses are the same as on HTTP/1.1.
    let code = |args: &[&str]| {
        let mut a = vec![h2, "-o", "/dev/null", "-w", "%{response_code}"];
        a.extend_from_slice(args);
        curl(&a)
    };
    assert_eq!(code(&[&s.url("/users/x")]), "400");
    assert_eq!(code(&[&s.url("/nowhere")]), "404");
    assert_eq!(code(&[&s.url("/item")]), "405");
    assert_eq!(code(&["--data", "{}", &s.url("/item")]), "415");
    assert_eq!(
        code(&[
            "-H",
            "content-type: application/json",
            "--data",
            "{}",
            &s.url("/item")
        ]),
        "422"
    );
}

#[test]
fn h2load_100k_requests_16_connections_100_streams() {
    let s = server();
    let out = run_ok(Command::new(require("h2load")).args([
        "-n",
        "100000",
        "-c",
        "16",
        "-m",
        "100",
        &s.url("/plaintext"),
    ]));
    assert!(
        out.contains("100000 succeeded, 0 failed, 0 errored, 0 timeout"),
        "{out}"
    );
    assert!(out.contains("status codes: 100000 2xx"), "{out}");
    // h2load itself says which protocol it spoke.
    assert!(out.contains("Application protocol: h2c"), "{out}");
}
