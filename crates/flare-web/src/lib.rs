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
#![forbid(unsafe_code)]

mod app;
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
