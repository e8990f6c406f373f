//! The example server (the README's main job).
//!
//! ```text
//! cargo run --release --example server -- [--addr 127.0.0.1:8080] [--workers N] [--static-dir DIR]
//!     [--tls-cert PEM --tls-key PEM | --tls-self-signed] [--tls-addr 127.0.0.1:8443]
//!     [--tcp-nodelay on|off] [--io-uring]
//! ```
//!
//! SIGHUP restarts without dropping a connection: the server starts this program
//! again with the same arguments and its listening sockets inherited, then drains
//! (`kill -HUP PID` after replacing the binary). Under systemd socket activation
//! (`LISTEN_FDS`) the inherited socket for `--addr` is used instead of binding.
//!
//! `--io-uring` drives plaintext connections through io_uring (Linux) instead of
//! epoll: one `io_uring_enter` per loop turn instead of a `recv` and a `send` per
//! request.
//!
//! With `--tls-cert`/`--tls-key` (or `--tls-self-signed`, which generates a throwaway
//! certificate for `localhost` and prints where it wrote it) the same routes are also
//! served over TLS on `--tls-addr` (HTTP/2 by ALPN `h2`, HTTP/1.1 otherwise).
//!
//! Routes:
//! - `GET /` -> `hello`
//! - `GET /plaintext` -> `Hello, World!` (text/plain; TechEmpower rules)
//! - `GET /json` -> `{"message":"Hello, World!"}`
//! - `POST /json` -> a typed JSON body `{"name": string, "count": integer (optional)}`
//!   echoed back (`415` without a JSON content type, `400` malformed, `422` wrong shape)
//! - `POST /echo` -> the request body back, with the request's content type
//! - `POST /form` -> an urlencoded form `name=..&message=..` back as JSON (`415`, `422`)
//! - `GET /users/{id}` -> `{"id":id}` (`400` when `id` is not a number)
//! - `GET /stream?n=N` -> N chunks, then a trailer `x-chunks: N`
//! - `GET /sse?n=N` -> N server-sent events
//! - `GET /headers` -> the request headers as JSON
//! - `GET /slow?ms=N` -> `done` after sleeping N ms (at most 10 s) on the worker
//! - `GET /static/{*path}` -> files under `--static-dir` (default: the repository's
//!   `docs/`), with ranges and conditional requests
//! - `GET /ws` -> a WebSocket echo (text and binary back as they came;
//!   permessage-deflate when the client offers it); `426` without an upgrade
//! - `GET /ws/chat` -> a WebSocket broadcast room across every worker: each text
//!   message reaches every client in the room
//! - `GET /metrics` -> request counters and latencies in the Prometheus text format
//!   (every route but the benchmark routes `/plaintext` and `/json`)
//!
//! Any other path is `404`; a known path with another method is `405` with `Allow`;
//! `HEAD` is answered wherever `GET` is, and `OPTIONS` everywhere with `Allow`.

use std::path::PathBuf;
use std::time::Duration;

use flare::prelude::*;
use flare::web::extract::{Form, Headers, Json, Path, Query};
use flare::web::fs::ServeDir;
use flare::web::middleware::{HandlerExt, Metrics};
use flare::web::router::{get, HandlerService, Router};
use flare::web::ws::{Message, WsHandler, WsSender};
use flare::web::{Event, Sse};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

#[derive(Deserialize)]
struct Count {
    n: Option<u64>,
}

#[derive(Deserialize)]
struct Delay {
    ms: Option<u64>,
}

/// The typed body of `POST /json`.
#[derive(Serialize, Deserialize)]
struct Greeting {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    count: Option<i64>,
}

/// The form of `POST /form`.
#[derive(Serialize, Deserialize)]
struct Contact {
    name: String,
    message: String,
}

fn hello(_req: &Request) -> Response {
    Response::text("hello")
}

fn plaintext(_req: &Request) -> Response {
    Response::text("Hello, World!")
}

fn json_hello(_req: &Request) -> Response {
    Response::json(&serde_json::json!({"message": "Hello, World!"}))
}

fn json_echo(Json(g): Json<Greeting>) -> Json<Greeting> {
    Json(g)
}

fn form(Form(c): Form<Contact>) -> Json<Contact> {
    Json(c)
}

fn user(Path(id): Path<u64>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": id }))
}

fn echo(req: &Request) -> Response {
    let ct = req
        .header_bytes("content-type")
        .and_then(|v| HeaderValue::from_bytes(v).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Response::bytes(req.body().to_vec()).with_content_type(ct)
}

fn stream(Query(c): Query<Count>) -> Response {
    let n = c.n.unwrap_or(10).min(1_000_000);
    let trailer = vec![(HeaderName::from_static("x-chunks"), HeaderValue::from(n))];
    let chunks = (0..n).map(|i| Bytes::from(format!("chunk {i}\n")));
    Response::stream(Body::from_chunks_with_trailers(chunks, trailer))
        .with_content_type(HeaderValue::from_static("text/plain; charset=utf-8"))
}

fn sse(Query(c): Query<Count>) -> Sse<impl Iterator<Item = Event> + Send> {
    let n = c.n.unwrap_or(10).min(1_000_000);
    Sse::new((0..n).map(|i| Event::new().id(&i.to_string()).data(&format!("event {i}"))))
}

fn headers(Headers(h): Headers) -> Response {
    let map: serde_json::Map<String, serde_json::Value> = h
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned().into(),
            )
        })
        .collect();
    Response::json(&map)
}

fn slow(Query(d): Query<Delay>) -> &'static str {
    let ms = d.ms.unwrap_or(100).min(10_000);
    std::thread::sleep(Duration::from_millis(ms));
    "done"
}

/// `/ws`: every message back to its sender.
fn ws_echo(_req: &Request) -> impl WsHandler {
    |ws: &WsSender, msg: Message<'_>| {
        // A peer that does not read fills its queue: drop what does not fit
        // rather than buffer without bound.
        let _ = ws.send(msg);
    }
}

/// The `/ws/chat` room: every member's sender, shared by all workers. A send to a
/// member on another worker wakes that worker.
#[derive(Clone, Default)]
struct Room {
    members: Arc<Mutex<Vec<WsSender>>>,
}

struct Member {
    room: Room,
    me: Option<WsSender>,
}

impl WsHandler for Member {
    fn on_open(&mut self, ws: &WsSender) {
        self.me = Some(ws.clone());
        self.room.lock().push(ws.clone());
    }
    fn on_message(&mut self, _ws: &WsSender, msg: Message<'_>) {
        let members = self.room.lock().clone();
        for m in &members {
            // A member whose queue is full misses this message.
            let _ = m.send(msg);
        }
    }
    fn on_close(&mut self, _code: Option<u16>, _reason: &str) {
        if let Some(me) = self.me.take() {
            self.room.lock().retain(|m| !m.same_connection(&me));
        }
    }
}

impl Room {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<WsSender>> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every route but the two benchmark routes, which [`app`] serves ahead of the
/// metrics layer.
fn router(static_dir: PathBuf) -> Router {
    let room = Room::default();
    Router::new()
        .get("/", hello)
        .ws("/ws", ws_echo)
        .ws("/ws/chat", move |_req: &Request| Member {
            room: room.clone(),
            me: None,
        })
        .post("/echo", echo)
        .post("/form", form)
        .get("/users/{id}", user)
        .get("/stream", stream)
        .get("/sse", sse)
        .get("/headers", headers)
        .get("/slow", slow)
        .route(
            "/static/{*path}",
            get(HandlerService(ServeDir::new(static_dir))),
        )
}

/// `/plaintext` and `/json` go straight to their handlers, as a benchmark route
/// should (so they are not counted in `/metrics`); everything else runs under the
/// `Metrics` layer, which also answers `/metrics`.
fn app(static_dir: PathBuf) -> Router {
    let measured = router(static_dir).layer(Metrics::default());
    Router::new()
        .get("/plaintext", plaintext)
        .route("/json", get(json_hello).post(json_echo))
        .fallback(HandlerService(measured))
}

fn main() -> flare::Result<()> {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut static_dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs"));
    let mut tls_cert: Option<PathBuf> = None;
    let mut tls_key: Option<PathBuf> = None;
    let mut tls_self_signed = false;
    let mut tls_addr = "127.0.0.1:8443".to_string();
    let mut nodelay = true;
    let mut io_uring = false;
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
            "--static-dir" => {
                static_dir = args.next().expect("--static-dir needs a directory").into()
            }
            "--tls-cert" => tls_cert = Some(args.next().expect("--tls-cert needs a file").into()),
            "--tls-key" => tls_key = Some(args.next().expect("--tls-key needs a file").into()),
            "--tls-self-signed" => tls_self_signed = true,
            "--tls-addr" => tls_addr = args.next().expect("--tls-addr needs a value"),
            "--tcp-nodelay" => {
                nodelay = match args.next().as_deref() {
                    Some("on") => true,
                    Some("off") => false,
                    _ => panic!("--tcp-nodelay takes on or off"),
                }
            }
            "--io-uring" => io_uring = true,
            "-h" | "--help" => {
                println!(
                    "usage: server [--addr HOST:PORT] [--workers N] [--static-dir DIR] \
                     [--tls-cert PEM --tls-key PEM | --tls-self-signed] [--tls-addr HOST:PORT] \
                     [--tcp-nodelay on|off] [--io-uring]"
                );
                return Ok(());
            }
            other => {
                eprintln!("unknown argument {other}; try --help");
                std::process::exit(2);
            }
        }
    }
    let app = app(static_dir);
    // Sockets inherited from systemd (LISTEN_FDS) or from a predecessor (SIGHUP
    // restart) are taken by `bind` when the address matches.
    let mut server = HttpServer::bind(addr.as_str())?
        .workers(workers)
        .restart_on_sighup(true)
        .configure(|c| c.tcp_nodelay(nodelay).io_uring(io_uring));
    println!(
        "flare listening on http://{} with {workers} workers{} (pid {})",
        server.local_addr(),
        if io_uring { " (io_uring)" } else { "" },
        std::process::id()
    );
    if tls_self_signed {
        let (cert, key) =
            flare_tls::self_signed(&["localhost", "127.0.0.1"]).expect("generate a certificate");
        let dir = std::env::temp_dir().join(format!("flare-self-signed-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("cert.pem"), cert)?;
        std::fs::write(dir.join("key.pem"), key)?;
        println!(
            "wrote a self-signed certificate for localhost to {}",
            dir.display()
        );
        tls_cert = Some(dir.join("cert.pem"));
        tls_key = Some(dir.join("key.pem"));
    }
    match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => {
            let tls = flare_tls::ServerConfig::builder()
                .cert_pem_file(&cert, &key)
                .build()
                .unwrap_or_else(|e| {
                    eprintln!("TLS configuration: {e}");
                    std::process::exit(2)
                });
            server = server.bind_tls(tls_addr.as_str(), tls)?;
            println!(
                "flare listening on https://{} (h2, http/1.1)",
                server.local_addrs()[1]
            );
        }
        (None, None) => {}
        _ => {
            eprintln!("--tls-cert and --tls-key go together");
            std::process::exit(2);
        }
    }
    server.serve(app)
}
