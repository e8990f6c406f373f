//! The example server (the README's main job).
//!
//! ```text
//! cargo run --release --example server -- [--addr 127.0.0.1:8080] [--workers N]
//! ```
//!
//! Routes:
//! - `GET /` -> `hello`
//! - `GET /plaintext` -> `Hello, World!` (text/plain; TechEmpower rules)
//! - `GET /json` -> `{"message":"Hello, World!"}`
//! - `POST /echo` -> the request body back, with the request's content type
//! - `GET /stream?n=N` -> N chunks, then a trailer `x-chunks: N`
//! - `GET /sse?n=N` -> N server-sent events
//! - `GET /headers` -> the request headers as JSON
//! - `GET /slow?ms=N` -> `done` after sleeping N ms (at most 10 s) on the worker

use std::time::Duration;

use flare::prelude::*;

fn query_u64(req: &Request, key: &str) -> Option<u64> {
    req.query()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

fn route(req: &Request) -> Response {
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    match (req.path(), get) {
        ("/", true) => Response::text("hello"),
        ("/plaintext", true) => Response::text("Hello, World!"),
        ("/json", true) => Response::json(&serde_json::json!({"message": "Hello, World!"})),
        ("/echo", false) if req.method() == Method::POST => {
            let ct = req
                .header_bytes("content-type")
                .and_then(|v| HeaderValue::from_bytes(v).ok())
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            Response::bytes(req.body().to_vec()).with_content_type(ct)
        }
        ("/stream", true) => {
            let n = query_u64(req, "n").unwrap_or(10).min(1_000_000);
            let trailer = vec![(HeaderName::from_static("x-chunks"), HeaderValue::from(n))];
            let chunks = (0..n).map(|i| Bytes::from(format!("chunk {i}\n")));
            Response::stream(Body::from_chunks_with_trailers(chunks, trailer))
                .with_content_type(HeaderValue::from_static("text/plain; charset=utf-8"))
        }
        ("/sse", true) => {
            let n = query_u64(req, "n").unwrap_or(10).min(1_000_000);
            let events = (0..n).map(|i| Bytes::from(format!("id: {i}\ndata: event {i}\n\n")));
            Response::stream(Body::from_chunks(events))
                .with_content_type(HeaderValue::from_static("text/event-stream"))
                .with_header(
                    HeaderName::from_static("cache-control"),
                    HeaderValue::from_static("no-cache"),
                )
        }
        ("/headers", true) => {
            let map: serde_json::Map<String, serde_json::Value> = req
                .headers()
                .map(|(n, v)| {
                    (
                        n.to_ascii_lowercase(),
                        String::from_utf8_lossy(v).into_owned().into(),
                    )
                })
                .collect();
            Response::json(&map)
        }
        ("/slow", true) => {
            let ms = query_u64(req, "ms").unwrap_or(100).min(10_000);
            std::thread::sleep(Duration::from_millis(ms));
            Response::text("done")
        }
        ("/" | "/plaintext" | "/json" | "/stream" | "/sse" | "/headers" | "/slow", false)
        | ("/echo", true) => Response::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        _ => Response::error(StatusCode::NOT_FOUND, "not found"),
    }
}

fn main() -> flare::Result<()> {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr" => addr = args.next().expect("--addr needs a value"),
            "--workers" => {
                workers = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--workers needs a number")
            }
            "-h" | "--help" => {
                println!("usage: server [--addr HOST:PORT] [--workers N]");
                return Ok(());
            }
            other => {
                eprintln!("unknown argument {other}; try --help");
                std::process::exit(2);
            }
        }
    }
    let server = HttpServer::bind(addr.as_str())?.workers(workers);
    println!(
        "flare listening on http://{} with {workers} workers",
        server.local_addr()
    );
    server.serve(route)
}
