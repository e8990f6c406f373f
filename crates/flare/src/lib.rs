//! flare: a networking stack on a thread-per-core reactor.
//!
//! ```no_run
//! use flare::prelude::*;
//! fn hello(_req: &Request) -> Response { Response::text("hello") }
//! fn main() -> flare::Result<()> {
//!     HttpServer::bind("127.0.0.1:8080")?.workers(2).serve(hello)
//! }
//! ```
//!
//! Each worker thread owns a reactor ([`flare_reactor`]), its own `SO_REUSEPORT`
//! listener, a slab of connections and a timer wheel; handlers run synchronously on the
//! worker. See `docs/architecture.md` for the connection flow.

mod error;
pub mod server;
pub mod tcp;
pub mod udp;

pub use error::{Error, Result};
pub use server::{HttpServer, ServerConfig, ServerHandle, StaticResponse};

pub use flare_h1 as h1;
pub use flare_net as net;
pub use flare_reactor as reactor;
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
    pub use crate::server::{HttpServer, ServerConfig, ServerHandle, StaticResponse};
    pub use flare_web::router::{any, delete, get, patch, post, put};
    pub use flare_web::{
        App, Body, Bytes, CancelToken, Cookie, Cookies, Form, Handler, HeaderName, HeaderValue,
        Html, IntoResponse, Json, Method, Path, Query, Redirect, Request, Response, Router, Sse,
        State, StatusCode,
    };
}
