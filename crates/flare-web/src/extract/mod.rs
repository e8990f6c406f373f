//! Extractors: typed values a handler takes as arguments.
//!
//! A handler is a plain function whose arguments each implement [`FromRequest`]
//! (up to 12) and whose return type implements [`IntoResponse`]:
//!
//! ```
//! use flare_web::extract::{Path, Query, State};
//! use flare_web::Json;
//! # #[derive(Clone)] struct Db;
//! #[derive(serde::Deserialize)]
//! struct Paging { page: Option<u32> }
//! #[derive(serde::Serialize)]
//! struct User { id: u64, page: u32 }
//! fn get_user(Path(id): Path<u64>, Query(q): Query<Paging>, State(_db): State<Db>) -> Json<User> {
//!     Json(User { id, page: q.page.unwrap_or(1) })
//! }
//! ```
//!
//! Arguments are extracted left to right; the first that fails answers the request
//! with its rejection and the handler is not called. Wrap an argument in `Option<T>`
//! to get `None` instead, or in `Result<T, T::Rejection>` to see why.
//!
//! Every built-in extractor rejects with a [`Rejection`]: the status says what went
//! wrong and the body is a short fixed sentence (at most a line and column number
//! added). Request bytes are never echoed, so a rejection cannot reflect script into
//! a page or secrets into a log.

mod cookie;
mod form;
mod header;
mod json;
mod path;

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::cancel::CancelToken;
use crate::handler::IntoResponse;
use crate::request::Request;
use crate::response::Response;

pub use cookie::{Cookie, Cookies, SameSite};
pub use form::{Form, Query};
pub use header::{
    Authorization, ContentType, Headers, Host, TypedHeader, TypedHeaderValue, UserAgent,
};
pub use json::Json;
pub use path::Path;

/// A value built from a request (and the application state `S`) before the handler
/// runs. Implement it for your own extractors.
pub trait FromRequest<S>: Sized {
    /// What a failure answers with.
    type Rejection: IntoResponse;

    /// Builds the value, or the response that refuses the request.
    fn from_request(req: &Request, state: &S) -> Result<Self, Self::Rejection>;
}

/// Gets a `T` out of the application state, so that [`State<T>`] can take a part of
/// it. Every `T: Clone` is `FromRef<T>` (the whole state); implement it to hand out
/// fields.
pub trait FromRef<S> {
    /// The value.
    fn from_ref(state: &S) -> Self;
}

impl<T: Clone> FromRef<T> for T {
    fn from_ref(state: &T) -> T {
        state.clone()
    }
}

/// What went wrong in a built-in extractor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionKind {
    /// A path parameter does not parse as the wanted type (`400`).
    InvalidPathParam,
    /// `Path<T>` wants a different number or names of parameters than the route
    /// captures: a mistake in the program (`500`).
    PathShape,
    /// The query string does not fit the wanted type (`400`).
    InvalidQuery,
    /// The body's `Content-Type` is not the one the extractor reads (`415`).
    UnsupportedMediaType,
    /// The body is not well-formed JSON (`400`).
    MalformedJson,
    /// The JSON body is well-formed but does not fit the wanted type (`422`).
    JsonDoesNotFit,
    /// The urlencoded form body does not fit the wanted type (`422`).
    FormDoesNotFit,
    /// The body is not UTF-8 where text was wanted (`400`).
    BodyNotUtf8,
    /// A header the extractor needs is missing (`400`).
    MissingHeader,
    /// A header is present but its value is invalid (`400`).
    InvalidHeader,
    /// The transport gave no peer address (`500`).
    NoPeerAddress,
}

/// A refused extraction: a status and a short, sanitised reason.
#[derive(Clone, Debug)]
pub struct Rejection {
    kind: RejectionKind,
    reason: Cow<'static, str>,
}

impl Rejection {
    /// A rejection with a fixed reason.
    pub fn new(kind: RejectionKind, reason: &'static str) -> Self {
        Rejection {
            kind,
            reason: Cow::Borrowed(reason),
        }
    }
    /// A rejection with a reason built by flare itself (never from request bytes).
    pub(crate) fn with_reason(kind: RejectionKind, reason: String) -> Self {
        Rejection {
            kind,
            reason: Cow::Owned(reason),
        }
    }
    /// What went wrong.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }
    /// The response status.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            RejectionKind::InvalidPathParam
            | RejectionKind::InvalidQuery
            | RejectionKind::MalformedJson
            | RejectionKind::BodyNotUtf8
            | RejectionKind::MissingHeader
            | RejectionKind::InvalidHeader => StatusCode::BAD_REQUEST,
            RejectionKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RejectionKind::JsonDoesNotFit | RejectionKind::FormDoesNotFit => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            RejectionKind::PathShape | RejectionKind::NoPeerAddress => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
    /// The reason sent as the body.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.status())
    }
}

impl std::error::Error for Rejection {}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = self.status();
        Response::text(self.reason.into_owned()).with_status(status)
    }
}

impl<S, T: FromRequest<S>> FromRequest<S> for Option<T> {
    type Rejection = Infallible;
    fn from_request(req: &Request, state: &S) -> Result<Self, Infallible> {
        Ok(T::from_request(req, state).ok())
    }
}

impl<S, T: FromRequest<S>> FromRequest<S> for Result<T, T::Rejection> {
    type Rejection = Infallible;
    fn from_request(req: &Request, state: &S) -> Result<Self, Infallible> {
        Ok(T::from_request(req, state))
    }
}

impl IntoResponse for Infallible {
    fn into_response(self) -> Response {
        match self {}
    }
}

/// The application state, or a part of it (see [`FromRef`]). Cloned per request:
/// keep it cheap to clone (an `Arc` inside, or plain handles).
#[derive(Clone, Copy, Debug, Default)]
pub struct State<T>(pub T);

impl<S, T: FromRef<S>> FromRequest<S> for State<T> {
    type Rejection = Infallible;
    fn from_request(_req: &Request, state: &S) -> Result<Self, Infallible> {
        Ok(State(T::from_ref(state)))
    }
}

/// The peer's socket address. Rejects with `500` on a transport without one; take
/// `Option<Peer>` there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

impl<S> FromRequest<S> for Peer {
    type Rejection = Rejection;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Rejection> {
        req.peer_addr().map(Peer).ok_or(Rejection::new(
            RejectionKind::NoPeerAddress,
            "peer address unavailable",
        ))
    }
}

/// The request's cancel token: a long handler polls it and stops early when the
/// client went away.
#[derive(Clone, Debug)]
pub struct Cancel(pub CancelToken);

impl<S> FromRequest<S> for Cancel {
    type Rejection = Infallible;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Infallible> {
        Ok(Cancel(req.cancel_token().clone()))
    }
}

impl<S> FromRequest<S> for Method {
    type Rejection = Infallible;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Infallible> {
        Ok(req.method().clone())
    }
}

/// The body as bytes (copied out of the request).
impl<S> FromRequest<S> for Bytes {
    type Rejection = Infallible;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Infallible> {
        Ok(Bytes::copy_from_slice(req.body()))
    }
}

/// The body as bytes.
impl<S> FromRequest<S> for Vec<u8> {
    type Rejection = Infallible;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Infallible> {
        Ok(req.body().to_vec())
    }
}

/// The body as text; `400` when it is not UTF-8.
impl<S> FromRequest<S> for String {
    type Rejection = Rejection;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Rejection> {
        std::str::from_utf8(req.body())
            .map(str::to_owned)
            .map_err(|_| Rejection::new(RejectionKind::BodyNotUtf8, "request body is not UTF-8"))
    }
}

/// The request's `Content-Type` essence (before any `;`), lowercase-compared to
/// `want`; `+json`-style suffixes are matched by the callers that allow them.
pub(crate) fn content_type_is(req: &Request, want: &str) -> bool {
    media_type(req).is_some_and(|m| m.eq_ignore_ascii_case(want))
}

/// The media type of the request body, without parameters.
pub(crate) fn media_type(req: &Request) -> Option<&str> {
    let ct = req.content_type()?;
    let essence = ct.split(';').next().unwrap_or("").trim();
    Some(essence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct AppState {
        name: &'static str,
        count: u32,
    }
    impl FromRef<AppState> for u32 {
        fn from_ref(s: &AppState) -> u32 {
            s.count
        }
    }

    #[test]
    fn state_whole_and_part() {
        let req = Request::default();
        let st = AppState {
            name: "x",
            count: 3,
        };
        let State(whole) = State::<AppState>::from_request(&req, &st).unwrap();
        assert_eq!(whole.name, "x");
        let State(n) = State::<u32>::from_request(&req, &st).unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn peer_cancel_method_and_body() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let req = Request::builder()
            .method(Method::PUT)
            .peer_addr(addr)
            .body("héllo")
            .build();
        assert_eq!(Peer::from_request(&req, &()).unwrap(), Peer(addr));
        assert_eq!(Method::from_request(&req, &()).unwrap(), Method::PUT);
        assert_eq!(String::from_request(&req, &()).unwrap(), "héllo");
        assert_eq!(Bytes::from_request(&req, &()).unwrap(), "héllo".as_bytes());
        assert_eq!(
            Vec::<u8>::from_request(&req, &()).unwrap(),
            "héllo".as_bytes()
        );
        let Cancel(tok) = Cancel::from_request(&req, &()).unwrap();
        req.cancel_token().cancel();
        assert!(tok.is_cancelled());

        let none = Request::default();
        let e = Peer::from_request(&none, &()).unwrap_err();
        assert_eq!(e.status(), 500);
        assert_eq!(Option::<Peer>::from_request(&none, &()).unwrap(), None);
        let r = Result::<Peer, Rejection>::from_request(&none, &()).unwrap();
        assert_eq!(r.unwrap_err().kind(), RejectionKind::NoPeerAddress);

        let bad = Request::builder().body(vec![0xff, 0xfe]).build();
        let e = String::from_request(&bad, &()).unwrap_err();
        assert_eq!(e.status(), 400);
        let resp = e.into_response();
        assert_eq!(resp.body_bytes().unwrap(), "request body is not UTF-8");
    }
}
