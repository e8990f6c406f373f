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

mod body;
mod cancel;
pub mod fs;
pub mod middleware;
mod handler;
mod request;
mod response;

pub use body::{Body, BodyStream, FileBody, Frame, StreamContext, StreamWaker};
pub use cancel::CancelToken;
pub use handler::{Handler, IntoResponse};
pub use request::{Request, RequestBuilder};
pub use response::Response;

pub use bytes::Bytes;
pub use http::{HeaderName, HeaderValue, Method, StatusCode, Version};
