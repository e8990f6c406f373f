//! Response types beyond [`Response`] itself: HTML, redirects, header parts, SSE.
//!
//! Everything a handler may return implements [`IntoResponse`]:
//!
//! | return type | response |
//! |---|---|
//! | `()` | empty `200 OK` |
//! | `&'static str`, `String` | `200`, `text/plain; charset=utf-8` |
//! | `Vec<u8>`, `Bytes` | `200`, `application/octet-stream` |
//! | [`Json<T>`](crate::Json) | `200`, `application/json` (`500` if `T` cannot be serialized) |
//! | [`Html<T>`] | `200`, `text/html; charset=utf-8` |
//! | [`Redirect`] | `303`, `307` or `308` with `Location` |
//! | [`Body`] | `200` with that body (streams included) |
//! | [`Sse`] | `200`, `text/event-stream`, streamed |
//! | `StatusCode` | that status, empty |
//! | `(StatusCode, T)` | `T` with that status |
//! | `(P, T)`, `(P1, P2, T)` | `T` with the parts `P` applied ([`IntoResponseParts`]: header arrays, `HeaderMap`, [`Cookie`]) |
//! | `(StatusCode, P, T)`, `(StatusCode, P1, P2, T)` | both |
//! | `Result<T, E>` | `T` or `E`, both `IntoResponse` |
//! | [`Rejection`](crate::extract::Rejection) | its status and short reason |

mod sse;

use std::fmt::Write as _;

use http::header::{LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::body::Body;
use crate::extract::Cookie;
use crate::handler::IntoResponse;
use crate::response::Response;

pub use sse::{Event, EventSender, Sse, SseChannel, SseSendError};

/// An HTML body: `200`, `text/html; charset=utf-8`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Html<T>(pub T);

impl<T: Into<Body>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        Response::html(self.0)
    }
}

impl IntoResponse for Body {
    fn into_response(self) -> Response {
        Response::stream(self)
    }
}

/// A redirect: a status and a `Location`, no body.
///
/// Bytes a field value cannot carry (control bytes, non-ASCII) are written as
/// `%XX`, so a location built from user input cannot split the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    status: StatusCode,
    location: HeaderValue,
}

impl Redirect {
    /// `303 See Other`: the client fetches `uri` with `GET` (after a form post).
    pub fn to(uri: &str) -> Self {
        Self::with_status(StatusCode::SEE_OTHER, uri)
    }
    /// Same as [`to`](Self::to).
    pub fn see_other(uri: &str) -> Self {
        Self::to(uri)
    }
    /// `307 Temporary Redirect`: same method and body, this time only.
    pub fn temporary(uri: &str) -> Self {
        Self::with_status(StatusCode::TEMPORARY_REDIRECT, uri)
    }
    /// `308 Permanent Redirect`: same method and body, from now on.
    pub fn permanent(uri: &str) -> Self {
        Self::with_status(StatusCode::PERMANENT_REDIRECT, uri)
    }
    fn with_status(status: StatusCode, uri: &str) -> Self {
        let mut s = String::with_capacity(uri.len());
        for &b in uri.as_bytes() {
            if (0x21..0x7f).contains(&b) {
                s.push(b as char);
            } else {
                let _ = write!(s, "%{b:02X}");
            }
        }
        Redirect {
            status,
            location: HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("/")),
        }
    }
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The `Location` value.
    pub fn location(&self) -> &HeaderValue {
        &self.location
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        Response::new(self.status).with_header(LOCATION, self.location)
    }
}

/// Something that adds header fields to a response: the `P` in `(P, T)` and
/// `(StatusCode, P, T)` handler returns.
pub trait IntoResponseParts {
    /// Adds the fields to `resp`.
    fn apply(self, resp: &mut Response);
}

impl<const N: usize> IntoResponseParts for [(HeaderName, HeaderValue); N] {
    fn apply(self, resp: &mut Response) {
        for (n, v) in self {
            resp.insert_header(n, v);
        }
    }
}

impl IntoResponseParts for Vec<(HeaderName, HeaderValue)> {
    fn apply(self, resp: &mut Response) {
        for (n, v) in self {
            resp.insert_header(n, v);
        }
    }
}

impl IntoResponseParts for HeaderMap {
    fn apply(self, resp: &mut Response) {
        let mut last: Option<HeaderName> = None;
        for (n, v) in self {
            // `HeaderMap`'s owning iterator names a field once, then `None` for
            // its further values.
            if let Some(n) = n {
                last = Some(n);
            }
            if let Some(n) = &last {
                resp.insert_header(n.clone(), v);
            }
        }
    }
}

impl IntoResponseParts for Cookie {
    fn apply(self, resp: &mut Response) {
        resp.insert_header(SET_COOKIE, self.to_header_value());
    }
}

impl IntoResponseParts for Vec<Cookie> {
    fn apply(self, resp: &mut Response) {
        for c in self {
            c.apply(resp);
        }
    }
}

impl<P: IntoResponseParts, T: IntoResponse> IntoResponse for (P, T) {
    fn into_response(self) -> Response {
        let mut r = self.1.into_response();
        self.0.apply(&mut r);
        r
    }
}

impl<P1: IntoResponseParts, P2: IntoResponseParts, T: IntoResponse> IntoResponse for (P1, P2, T) {
    fn into_response(self) -> Response {
        let mut r = self.2.into_response();
        self.0.apply(&mut r);
        self.1.apply(&mut r);
        r
    }
}

impl<P: IntoResponseParts, T: IntoResponse> IntoResponse for (StatusCode, P, T) {
    fn into_response(self) -> Response {
        let mut r = self.2.into_response();
        r.set_status(self.0);
        self.1.apply(&mut r);
        r
    }
}

impl<P1: IntoResponseParts, P2: IntoResponseParts, T: IntoResponse> IntoResponse
    for (StatusCode, P1, P2, T)
{
    fn into_response(self) -> Response {
        let mut r = self.3.into_response();
        r.set_status(self.0);
        self.1.apply(&mut r);
        self.2.apply(&mut r);
        r
    }
}

impl Response {
    /// Adds a `Set-Cookie` field for `cookie`.
    pub fn with_cookie(mut self, cookie: Cookie) -> Self {
        cookie.apply(&mut self);
        self
    }
}

#[cfg(test)]
mod tests;
