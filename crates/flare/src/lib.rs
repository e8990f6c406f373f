//! flare: a networking stack on a thread-per-core reactor: HTTP/1.1, HTTP/2,
//! WebSocket, TLS, and your own TCP, Unix and UDP protocols, on workers that each own
//! a reactor, their listeners, a connection slab and a timer wheel. Handlers are
//! plain synchronous functions; there is no async runtime.
//!
//! This crate is the facade: one dependency gives the server, the router, TLS, the
//! codecs ([`h1`], [`h2`], [`hpack`], [`ws`]) and the runtime ([`tcp`], [`udp`]).
//! See `docs/architecture.md` for the design and `docs/features.md` for what is
//! tested against which peer.
//!
//! # A server
//!
//! ```no_run
//! use flare::prelude::*;
//! fn hello(_req: &Request) -> Response { Response::text("hello") }
//! fn main() -> flare::Result<()> {
//!     HttpServer::bind("127.0.0.1:8080")?.workers(2).serve(hello)
//! }
//! ```
//!
//! `serve` runs until SIGINT or SIGTERM, then drains (`start` returns a
//! [`ServerHandle`] instead). The same port answers HTTP/1.1, h2c (prior knowledge
//! and `Upgrade: h2c`) and WebSocket.
//!
//! # Routes and extractors
//!
//! ```no_run
//! use flare::prelude::*;
//!
//! #[derive(serde::Deserialize, serde::Serialize)]
//! struct Item { name: String }
//!
//! fn get_user(Path(id): Path<u64>) -> String { format!("user {id}") }
//! fn create(Json(item): Json<Item>) -> (StatusCode, Json<Item>) { (StatusCode::CREATED, Json(item)) }
//!
//! fn main() -> flare::Result<()> {
//!     let router = Router::new()
//!         .get("/users/{id}", get_user)
//!         .post("/items", create);
//!     HttpServer::bind("127.0.0.1:8080")?.serve(router)
//! }
//! ```
//!
//! # TLS (HTTP/2 by ALPN)
//!
//! ```no_run
//! use flare::prelude::*;
//! fn main() -> flare::Result<()> {
//!     let tls = flare::tls::ServerConfig::builder()
//!         .cert_pem_file("cert.pem", "key.pem")
//!         .build()
//!         .expect("certificate");
//!     HttpServer::bind("127.0.0.1:8443")?
//!         .tls(tls)
//!         .serve(|_req: &Request| "hello over TLS")
//! }
//! ```
//!
//! # WebSocket
//!
//! A route gives each connection a [`WsHandler`](web::ws::WsHandler) (callbacks on
//! the worker); its [`WsSender`](web::ws::WsSender) also sends from other threads,
//! through a bounded queue. The same route serves HTTP/1.1 upgrades and HTTP/2
//! extended CONNECT (RFC 8441), with permessage-deflate when the client offers it.
//!
//! ```no_run
//! use flare::prelude::*;
//! fn main() -> flare::Result<()> {
//!     let router = Router::new().ws("/echo", |_req: &Request| {
//!         |ws: &WsSender, msg: Message<'_>| {
//!             let _ = ws.send(msg);
//!         }
//!     });
//!     HttpServer::bind("127.0.0.1:8080")?.serve(router)
//! }
//! ```
//!
//! # Handlers that block
//!
//! A handler that waits (a database) runs on the bounded blocking pool; the worker
//! serves other connections meanwhile, and a full queue answers 503.
//!
//! ```no_run
//! use flare::prelude::*;
//! fn report(_req: &Request) -> String {
//!     std::thread::sleep(std::time::Duration::from_millis(50));
//!     "done".into()
//! }
//! fn main() -> flare::Result<()> {
//!     HttpServer::bind("127.0.0.1:8080")?.serve(Router::new().get("/report", blocking(report)))
//! }
//! ```
//!
//! # Your own protocols
//!
//! [`tcp::TcpServer`] runs a [`tcp::Protocol`] (a state machine: bytes in, bytes
//! out, a deadline, close) on the same workers, over TCP, TLS, Unix sockets and
//! io_uring; [`udp::UdpServer`] calls a handler per datagram with batched receive and
//! send.
//!
//! ```no_run
//! use flare::tcp::{Context, Protocol, TcpServer};
//!
//! struct Echo;
//! impl Protocol for Echo {
//!     fn on_data(&mut self, input: &[u8], cx: &mut Context<'_>) -> usize {
//!         cx.write(input);
//!         input.len()
//!     }
//! }
//!
//! fn main() -> flare::Result<()> {
//!     TcpServer::bind("127.0.0.1:7000")?.bind_unix("/tmp/echo.sock", None)?.serve(|_peer| Echo)
//! }
//! ```
//!
//! ```no_run
//! use flare::udp::{Reply, UdpServer};
//! fn main() -> flare::Result<()> {
//!     UdpServer::bind("127.0.0.1:9000")?.serve(|data: &[u8], _peer, reply: &mut Reply<'_>| {
//!         reply.send(data);
//!     })
//! }
//! ```
//!
//! # In production
//!
//! [`HttpServer::bind_unix`] serves behind a proxy on a Unix socket; listening
//! sockets inherited from systemd (`LISTEN_FDS`) or from a predecessor are used by
//! `bind` when the address matches, and [`HttpServer::restart_on_sighup`] replaces
//! the process without dropping a connection. Operator events go to the [`log`]
//! facade (start, bind, drain, TLS reload, accept back-off; protocol errors at
//! debug).
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `io-uring` | on | the io_uring backend of the workers (`ServerConfig::io_uring`, Linux); off, only epoll is built |
//! | `deflate` | on | compression on miniz_oxide: WebSocket permessage-deflate (server and [`client::WsClient`]), the `Compress` middleware, the client's gzip/deflate decoding; off, WebSocket offers are declined, the client sends no `Accept-Encoding` |
//! | `self-signed` | off | `flare::tls::self_signed()` and `TestCa` (rcgen), for tests and local development |
//! | `aws-lc-rs` | off | the aws-lc-rs crypto provider for TLS instead of ring |
//!
//! `flare = { version = "...", default-features = false }` builds neither io_uring
//! nor miniz_oxide (CI checks it with `cargo tree`).
//!
//! [`log`]: https://docs.rs/log

pub mod client;
mod error;
pub mod server;
pub mod tcp;
pub mod udp;

pub use error::{Error, Result};
pub use server::{HttpServer, ServerConfig, ServerHandle, StaticResponse};

pub use flare_h1 as h1;
pub use flare_h2 as h2;
pub use flare_hpack as hpack;
pub use flare_net as net;
pub use flare_reactor as reactor;
pub use flare_tls as tls;
pub use flare_web as web;
pub use flare_ws as ws;

/// The names most programs need.
///
/// ```no_run
/// use flare::prelude::*;
/// fn hello(_req: &Request) -> Response { Response::text("hello") }
/// fn main() -> flare::Result<()> {
///     let router = Router::new().get("/", hello);
///     HttpServer::bind("127.0.0.1:8080")?.workers(2).serve(router)
/// }
/// ```
pub mod prelude {
    pub use crate::client::{Client, ClientBuilder, RedirectPolicy, Response as ClientResponse};
    pub use crate::client::{WsClient, WsMessage};
    pub use crate::server::{HttpServer, ServerConfig, ServerHandle, StaticResponse};
    pub use flare_web::blocking::blocking;
    pub use flare_web::router::{any, delete, get, patch, post, put};
    pub use flare_web::ws::{Message, WebSocketUpgrade, WsHandler, WsSender};
    pub use flare_web::{
        App, Body, Bytes, CancelToken, Cookie, Cookies, Form, Handler, HeaderName, HeaderValue,
        Html, IntoResponse, Json, Method, Path, Query, Redirect, Request, Response, Router, Sse,
        State, StatusCode,
    };
}
