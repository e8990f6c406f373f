//! The `flare_web::middleware` layers on the real server against curl and Python httpx:
//! gzip and deflate negotiated with `curl --compressed` and decoded by httpx, CORS
//! preflight with `curl -X OPTIONS`, a panicking handler answered with `500` while the
//! worker keeps serving, a timeout that flips the cancel token and answers `503`,
//! Prometheus text at `/metrics` checked with a small format parser, request ids, the
//! access log, and a `304` on a repeated ETag.
// Uses the `Compress` layer, which needs the `deflate` feature.
#![cfg(feature = "deflate")]

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{python, require, TestServer};
use flare::prelude::*;
use flare::web::middleware::{
    CatchPanic, Compress, Conditional, Cors, HandlerExt, Logger, Metrics, RequestId,
    RequestIdValue, Timeout,
};
use flare::ServerConfig;

const APP_ORIGIN: &str = "https://app.example";

/// Set when `/slow` saw its cancel token flip (the handler stopped early).
static SLOW_SAW_CANCEL: AtomicBool = AtomicBool::new(false);

fn big_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        (0..2000)
            .map(|i| format!("line {i}: the quick brown fox\n"))
            .collect()
    })
}

fn routes(req: &Request) -> Response {
    match req.path() {
        "/ok" | "/logged" => Response::text("ok"),
        "/big" => Response::text(big_text()),
        "/page" => Response::html("<p>a small page</p>"),
        "/panic" => panic!("handler bug"),
        "/slow" => {
            // A long job that checks its token between steps, bounded at 10 s.
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                if req.cancel_token().is_cancelled() {
                    SLOW_SAW_CANCEL.store(true, Ordering::SeqCst);
                    break;
                }
                std::thread::park_timeout(Duration::from_millis(1));
            }
            Response::text("finished late")
        }
        "/stream" => {
            let chunks = (0..50).map(|i| Bytes::from(format!("{i:04} {}\n", "x".repeat(100))));
            Response::stream(Body::from_chunks(chunks))
                .with_content_type(HeaderValue::from_static("text/plain"))
        }
        "/token" => Response::text(if req.cancel_token().is_cancelled() {
            "cancelled"
        } else {
            "live"
        }),
        "/id" => Response::text(
            req.extensions()
                .get::<RequestIdValue>()
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default(),
        ),
        _ => Response::error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// The full stack in the documented order; one worker, so "the worker keeps serving"
/// means the same thread.
fn server() -> TestServer {
    let app = routes
        .layer(Conditional::new())
        .layer(Compress::new())
        .layer(Timeout::new(Duration::from_millis(300)))
        .layer(CatchPanic::new())
        .layer(Metrics::new().path("/metrics"))
        .layer(Logger::new())
        .layer(RequestId::new())
        .layer(
            Cors::new()
                .allow_origin(HeaderValue::from_static(APP_ORIGIN))
                .allow_methods([Method::GET, Method::POST, Method::PUT])
                .allow_headers([
                    HeaderName::from_static("content-type"),
                    HeaderName::from_static("x-token"),
                ])
                .max_age(Duration::from_secs(600)),
        );
    TestServer::start_with(app, 1, ServerConfig::default())
}

/// `curl` with the given arguments; stdout and stderr kept apart.
fn curl(args: &[&str]) -> (Vec<u8>, String) {
    let curl = require("curl");
    let out = Command::new(&curl)
        .args(["--silent", "--show-error", "--max-time", "30"])
        .args(args)
        .output()
        .expect("spawn curl");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "curl {args:?} failed ({}):\nstderr:\n{stderr}",
        out.status
    );
    (out.stdout, stderr)
}

/// Each response's (status, headers with lowercased names) from a `curl -v` run.
fn responses(verbose: &str) -> Vec<(u16, Vec<(String, String)>)> {
    let mut out: Vec<(u16, Vec<(String, String)>)> = Vec::new();
    for l in verbose.lines().filter_map(|l| l.strip_prefix("< ")) {
        let l = l.trim_end();
        if l.starts_with("HTTP/") {
            // `HTTP/1.1 200 OK` or `HTTP/2 200`.
            let code = l.split_whitespace().nth(1).unwrap();
            out.push((code.parse().unwrap(), Vec::new()));
        } else if let (Some((n, v)), Some(last)) = (l.split_once(':'), out.last_mut()) {
            last.1.push((n.to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    out
}

fn header<'a>(resp: &'a (u16, Vec<(String, String)>), name: &str) -> Option<&'a str> {
    resp.1
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn only(verbose: &str) -> (u16, Vec<(String, String)>) {
    let mut r = responses(verbose);
    assert_eq!(r.len(), 1, "{verbose}");
    r.pop().unwrap()
}

#[test]
fn curl_compressed_negotiates_gzip() {
    let s = server();
    let (body, err) = curl(&["-v", "--compressed", &s.url("/big")]);
    let r = only(&err);
    assert_eq!(r.0, 200);
    assert_eq!(header(&r, "content-encoding"), Some("gzip"), "{err}");
    assert_eq!(header(&r, "vary"), Some("accept-encoding"));
    let wire: usize = header(&r, "content-length").unwrap().parse().unwrap();
    assert!(wire * 5 < big_text().len(), "{wire}");
    assert_eq!(body, big_text().as_bytes());

    // curl decodes deflate (zlib) too when asked for it alone.
    let (body, err) = curl(&[
        "-v",
        "--compressed",
        "-H",
        "Accept-Encoding: deflate",
        &s.url("/big"),
    ]);
    assert_eq!(header(&only(&err), "content-encoding"), Some("deflate"));
    assert_eq!(body, big_text().as_bytes());

    // q-values: gzip refused.
    let (body, err) = curl(&[
        "-v",
        "--compressed",
        "-H",
        "Accept-Encoding: gzip;q=0, deflate;q=0.5",
        &s.url("/big"),
    ]);
    assert_eq!(header(&only(&err), "content-encoding"), Some("deflate"));
    assert_eq!(body, big_text().as_bytes());

    // No Accept-Encoding: identity, still Vary.
    let (body, err) = curl(&["-v", &s.url("/big")]);
    let r = only(&err);
    assert_eq!(header(&r, "content-encoding"), None);
    assert_eq!(header(&r, "vary"), Some("accept-encoding"));
    assert_eq!(body, big_text().as_bytes());

    // Small bodies and streams are left alone.
    let (_, err) = curl(&["-v", "--compressed", &s.url("/ok")]);
    assert_eq!(header(&only(&err), "content-encoding"), None);
    let (body, err) = curl(&["-v", "--compressed", &s.url("/stream")]);
    let r = only(&err);
    assert_eq!(header(&r, "content-encoding"), None);
    assert_eq!(header(&r, "transfer-encoding"), Some("chunked"));
    assert_eq!(body.len(), 50 * 106);
}

#[test]
fn cors_preflight_and_actual_request() {
    let s = server();
    let url = s.url("/ok");
    let origin = format!("Origin: {APP_ORIGIN}");
    let (body, err) = curl(&[
        "-v",
        "-X",
        "OPTIONS",
        "-H",
        &origin,
        "-H",
        "Access-Control-Request-Method: PUT",
        "-H",
        "Access-Control-Request-Headers: X-Token, Content-Type",
        &url,
    ]);
    let r = only(&err);
    assert_eq!(r.0, 204, "{err}");
    assert!(body.is_empty());
    assert_eq!(header(&r, "access-control-allow-origin"), Some(APP_ORIGIN));
    assert_eq!(
        header(&r, "access-control-allow-methods"),
        Some("GET, POST, PUT")
    );
    assert_eq!(
        header(&r, "access-control-allow-headers"),
        Some("content-type, x-token")
    );
    assert_eq!(header(&r, "access-control-max-age"), Some("600"));

    for bad in [
        vec![
            "-H",
            "Origin: https://evil.example",
            "-H",
            "Access-Control-Request-Method: GET",
        ],
        vec![
            "-H",
            origin.as_str(),
            "-H",
            "Access-Control-Request-Method: DELETE",
        ],
        vec![
            "-H",
            origin.as_str(),
            "-H",
            "Access-Control-Request-Method: GET",
            "-H",
            "Access-Control-Request-Headers: x-secret",
        ],
    ] {
        let mut args = vec!["-v", "-X", "OPTIONS"];
        args.extend(bad.iter().copied());
        args.push(&url);
        let (_, err) = curl(&args);
        let r = only(&err);
        assert_eq!(r.0, 403, "{bad:?}");
        assert_eq!(header(&r, "access-control-allow-origin"), None);
    }

    let (body, err) = curl(&["-v", "-H", &origin, &url]);
    let r = only(&err);
    assert_eq!(body, b"ok");
    assert_eq!(header(&r, "access-control-allow-origin"), Some(APP_ORIGIN));
    assert_eq!(header(&r, "vary"), Some("origin"));
    let (_, err) = curl(&["-v", "-H", "Origin: https://evil.example", &url]);
    assert_eq!(header(&only(&err), "access-control-allow-origin"), None);
}

#[test]
fn a_panicking_handler_gets_500_and_the_worker_keeps_serving() {
    let s = server();
    // One curl run, one keep-alive connection, one worker: panic, then normal service.
    let (body, err) = curl(&[
        "-v",
        &s.url("/panic"),
        &s.url("/ok"),
        &s.url("/panic"),
        &s.url("/ok"),
    ]);
    let statuses: Vec<u16> = responses(&err).iter().map(|r| r.0).collect();
    assert_eq!(statuses, [500, 200, 500, 200], "{err}");
    assert_eq!(body, b"internal server errorokinternal server errorok");
    assert_eq!(err.matches("Connected to").count(), 1, "{err}");
}

#[test]
fn a_late_handler_is_cancelled_and_answered_503() {
    let s = server();
    let start = Instant::now();
    let (body, err) = curl(&["-v", &s.url("/slow"), &s.url("/token")]);
    let statuses: Vec<u16> = responses(&err).iter().map(|r| r.0).collect();
    assert_eq!(statuses, [503, 200], "{err}");
    // The next request on the same connection starts with a live token.
    assert_eq!(body, b"request timed outlive");
    assert_eq!(err.matches("Connected to").count(), 1, "{err}");
    assert!(SLOW_SAW_CANCEL.load(Ordering::SeqCst));
    // The handler stopped at the deadline, well before its own 10 s bound.
    assert!(start.elapsed() < Duration::from_secs(9));
}

/// A strict reader of the Prometheus text format: samples after their family's
/// `# TYPE`, quoted label values, float values. Returns name+labels -> value.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut types: HashMap<&str, &str> = HashMap::new();
    let mut out = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let parts: Vec<&str> = rest.splitn(3, ' ').collect();
            match parts.as_slice() {
                ["HELP", _, _] => {}
                ["TYPE", name, t] => {
                    assert!(["counter", "gauge", "histogram"].contains(t), "{line}");
                    assert!(types.insert(name, t).is_none(), "second TYPE: {line}");
                }
                _ => panic!("bad comment line {line:?}"),
            }
            continue;
        }
        let (key, value) = line.rsplit_once(' ').expect("sample value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let name = key.split('{').next().unwrap();
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "{line}"
        );
        if let Some(labels) = key.strip_prefix(name) {
            if !labels.is_empty() {
                let inner = labels
                    .strip_prefix('{')
                    .and_then(|l| l.strip_suffix('}'))
                    .expect("braces");
                for pair in inner.split(',') {
                    let (_, v) = pair.split_once('=').expect("label pair");
                    assert!(v.starts_with('"') && v.ends_with('"'), "{line}");
                }
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(f) == Some(&"histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample before TYPE: {line}");
        out.insert(key.to_owned(), value);
    }
    out
}

#[test]
fn metrics_in_prometheus_text() {
    let s = server();
    let urls = [
        s.url("/ok"),
        s.url("/ok"),
        s.url("/ok"),
        s.url("/panic"),
        s.url("/nope"),
    ];
    let args: Vec<&str> = urls.iter().map(String::as_str).collect();
    curl(&args);
    curl(&["-X", "POST", "-d", "x", &s.url("/ok")]);
    let (body, err) = curl(&["-v", &s.url("/metrics")]);
    let r = only(&err);
    assert_eq!(
        header(&r, "content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = String::from_utf8(body).unwrap();
    let m = parse_prometheus(&text);
    let total = |method: &str, status: u16| {
        m.get(&format!(
            "flare_http_requests_total{{method=\"{method}\",status=\"{status}\"}}"
        ))
        .copied()
    };
    assert_eq!(total("GET", 200), Some(3.0), "{text}");
    assert_eq!(total("GET", 500), Some(1.0), "{text}");
    assert_eq!(total("GET", 404), Some(1.0), "{text}");
    assert_eq!(total("POST", 200), Some(1.0), "{text}");
    assert_eq!(
        m.get("flare_http_request_duration_seconds_count"),
        Some(&6.0)
    );
    assert_eq!(
        m.get("flare_http_request_duration_seconds_bucket{le=\"+Inf\"}"),
        Some(&6.0)
    );
    assert_eq!(m.get("flare_http_requests_in_flight"), Some(&0.0));
    assert!(m["flare_http_request_duration_seconds_sum"] >= 0.0);
}

#[test]
fn request_ids_are_generated_and_propagated() {
    let s = server();
    let (body, err) = curl(&["-v", &s.url("/id")]);
    let id = header(&only(&err), "x-request-id").unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(body, id.as_bytes());
    let (body, err) = curl(&["-v", "-H", "X-Request-Id: trace-42", &s.url("/id")]);
    assert_eq!(header(&only(&err), "x-request-id"), Some("trace-42"));
    assert_eq!(body, b"trace-42");
}

/// Access-log lines the server (same process) sent through the `log` facade.
fn access_log() -> &'static Mutex<Vec<String>> {
    static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
    static LOGGER: Capture = Capture;
    struct Capture;
    impl log::Log for Capture {
        fn enabled(&self, m: &log::Metadata<'_>) -> bool {
            m.target() == "flare::access"
        }
        fn log(&self, r: &log::Record<'_>) {
            if self.enabled(r.metadata()) {
                LINES.lock().unwrap().push(r.args().to_string());
            }
        }
        fn flush(&self) {}
    }
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        log::set_logger(&LOGGER).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Info);
    });
    &LINES
}

#[test]
fn access_log_has_one_line_per_request() {
    let lines = access_log();
    let s = server();
    curl(&["-H", "X-Request-Id: log-1", &s.url("/logged?x=1")]);
    let found: Vec<String> = lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("/logged"))
        .cloned()
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    let l = &found[0];
    assert!(l.starts_with("127.0.0.1:"), "{l}");
    assert!(l.contains(" \"GET /logged?x=1 HTTP/1.1\" 200 2 "), "{l}");
    assert!(l.ends_with(" id=log-1"), "{l}");
}

fn httpx(steps: serde_json::Value) -> Vec<serde_json::Value> {
    run_httpx(steps, "h1")
}

/// As [`httpx`], over one HTTP/2 (h2c prior knowledge) connection.
fn httpx_h2(steps: serde_json::Value) -> Vec<serde_json::Value> {
    run_httpx(steps, "h2")
}

fn run_httpx(steps: serde_json::Value, mode: &str) -> Vec<serde_json::Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/w2_httpx.py");
    let out = Command::new(python())
        .arg(script)
        .arg(steps.to_string())
        .arg(mode)
        .output()
        .expect("spawn python");
    assert!(
        out.status.success(),
        "httpx script failed (if httpx is missing: run `cargo xtask peers`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn unhex(s: &serde_json::Value) -> Vec<u8> {
    let s = s.as_str().unwrap().as_bytes();
    s.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn first<'a>(r: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    r["headers"][name][0].as_str()
}

#[test]
fn httpx_decodes_gzip_and_revalidates_etags() {
    let s = server();
    let res = httpx(serde_json::json!([
        {"url": s.url("/big")},
        {"url": s.url("/big"), "etag_from": 0},
        {"url": s.url("/page")},
        {"url": s.url("/page"), "etag_from": 2},
        {"url": s.url("/page"), "headers": {"If-None-Match": "\"something-else\""}},
    ]));
    assert_eq!(res[0]["status"], 200);
    assert_eq!(first(&res[0], "content-encoding"), Some("gzip"));
    assert_eq!(unhex(&res[0]["body_hex"]), big_text().as_bytes());
    // The compressed response's ETag is weak; sending it back still gives 304.
    assert!(first(&res[0], "etag").unwrap().starts_with("W/\""));
    assert_eq!(res[1]["status"], 304);
    assert_eq!(res[2]["status"], 200);
    let etag = first(&res[2], "etag").unwrap();
    assert!(etag.starts_with('"'), "{etag}");
    assert_eq!(res[3]["status"], 304);
    assert_eq!(first(&res[3], "etag"), Some(etag));
    assert_eq!(unhex(&res[3]["body_hex"]), b"");
    assert_eq!(res[4]["status"], 200);
    assert_eq!(unhex(&res[4]["body_hex"]), b"<p>a small page</p>");
}

#[test]
fn the_same_stack_over_http2() {
    let s = server();
    let h2 = "--http2-prior-knowledge";
    let (body, err) = curl(&["-v", h2, "--compressed", &s.url("/big")]);
    let r = only(&err);
    assert!(err.contains("< HTTP/2 200"), "{err}");
    assert_eq!(header(&r, "content-encoding"), Some("gzip"));
    assert_eq!(body, big_text().as_bytes());
    let (_, err) = curl(&[
        "-v",
        h2,
        "-X",
        "OPTIONS",
        "-H",
        &format!("Origin: {APP_ORIGIN}"),
        "-H",
        "Access-Control-Request-Method: PUT",
        &s.url("/ok"),
    ]);
    let r = only(&err);
    assert_eq!(r.0, 204);
    assert_eq!(header(&r, "access-control-allow-origin"), Some(APP_ORIGIN));
    // Streams of one connection (httpx; curl 7.88 cannot reuse a prior-knowledge
    // connection, curl/curl#10634): a panic, then service, then a timeout.
    let res = httpx_h2(serde_json::json!([
        {"url": s.url("/panic")},
        {"url": s.url("/ok")},
        {"url": s.url("/slow")},
        {"url": s.url("/big")},
    ]));
    let statuses: Vec<u64> = res.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [500, 200, 503, 200]);
    assert!(res.iter().all(|r| r["http_version"] == "HTTP/2"));
    assert_eq!(unhex(&res[1]["body_hex"]), b"ok");
    assert_eq!(first(&res[3], "content-encoding"), Some("gzip"));
    assert_eq!(unhex(&res[3]["body_hex"]), big_text().as_bytes());
    let (body, err) = curl(&["-v", h2, &s.url("/metrics")]);
    assert_eq!(only(&err).0, 200);
    let m = parse_prometheus(&String::from_utf8(body).unwrap());
    assert!(m.contains_key("flare_http_requests_in_flight"));
}
