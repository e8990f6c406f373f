//! The handler surface of flare: [`Request`], [`Response`], [`Body`] and the
//! [`Handler`] trait. The same types run on every protocol flare serves (HTTP/1.1,
//! HTTP/2, TLS); protocol drivers fill a [`Request`] and serialize a [`Response`], and
//! nothing here knows which protocol carried them.
//!
//! A handler is a plain function or closure from `&Request` to anything that is
//! [`IntoResponse`]:
//!
//! ```
//! use flare_web::{Request, Response, Handler};
//! fn hello(_req: &Request) -> Response { Response::text("hello") }
//! let mut req = Request::default();
//! assert_eq!(hello.handle(&mut req).status(), 200);
//! ```
//!
//! On top of that:
//!
//! - [`router`]: a [`Router`] maps paths (a segment trie: static, `{param}`,
//!   `{*catch_all}`) and methods to handlers, answers `404`, `405` with `Allow`,
//!   `HEAD` and `OPTIONS`, and nests and merges; it is a [`Handler`] itself.
//! - [`extract`]: route handlers may instead take typed arguments ([`Path`],
//!   [`Query`], [`Json`], [`Form`], [`Cookies`], [`State`], ...), up to 12, and
//!   return anything [`IntoResponse`]; a failed extraction answers with a short,
//!   sanitised rejection.
//! - [`respond`]: [`Html`], [`Redirect`], header parts, [`Cookie`] and server-sent
//!   events ([`Sse`]).
//! - [`App`]: a router with application state shared by every worker.
//! - [`middleware`] and [`fs`] (static files).
//!
//! ```
//! use flare_web::extract::{Path, Json};
//! use flare_web::router::Router;
//! use flare_web::{Handler, Request, Response};
//!
//! #[derive(serde::Serialize)]
//! struct User { id: u64 }
//!
//! fn hello(_req: &Request) -> Response { Response::text("hello") }
//! fn get_user(Path(id): Path<u64>) -> Json<User> { Json(User { id }) }
//!
//! let router = Router::new().get("/", hello).get("/users/{id}", get_user);
//! let mut req = Request::builder().uri("/users/7").build();
//! assert_eq!(router.handle(&mut req).body_bytes().unwrap(), r#"{"id":7}"#);
//! ```
#![forbid(unsafe_code)]

mod app;
pub mod blocking;
mod body;
mod cancel;
pub mod extract;
pub mod fs;
mod handler;
pub mod middleware;
mod request;
pub mod respond;
mod response;
pub mod router;
pub mod ws;

pub use app::App;
pub use body::{Body, BodyStream, FileBody, Frame, StreamContext, StreamWaker};
pub use cancel::CancelToken;
pub use extract::{Cookie, Cookies, Form, FromRequest, Json, Path, Query, State};
pub use handler::{Handler, IntoResponse};
pub use request::{PercentDecodeError, Request, RequestBuilder};
pub use respond::{Event, Html, IntoResponseParts, Redirect, Sse};
pub use response::Response;
pub use router::{MethodRouter, Router, TrailingSlash};

pub use bytes::Bytes;
pub use http::{HeaderName, HeaderValue, Method, StatusCode, Version};
