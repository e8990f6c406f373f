//! The response a handler returns.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};

use crate::body::Body;

/// An HTTP response: status, header fields and a [`Body`].
///
/// `Content-Length`, `Transfer-Encoding`, `Date`, `Server` and `Connection` are the
/// server's business and are written by the protocol driver; a handler sets the rest.
/// `Response::text("...")` with a `&'static str` allocates nothing.
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    content_type: ContentType,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Body,
}

impl Default for Response {
    fn default() -> Self {
        Response::new(StatusCode::OK)
    }
}

/// The `content-type` of a response. The constructors' values are statics, so a
/// response built by `Response::text` and friends has nothing to drop here.
#[derive(Debug)]
enum ContentType {
    None,
    Static(&'static HeaderValue),
    Owned(HeaderValue),
}

impl ContentType {
    #[inline]
    fn get(&self) -> Option<&HeaderValue> {
        match self {
            ContentType::None => None,
            ContentType::Static(v) => Some(v),
            ContentType::Owned(v) => Some(v),
        }
    }
}

static TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
static HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
static JSON: HeaderValue = HeaderValue::from_static("application/json");
static OCTETS: HeaderValue = HeaderValue::from_static("application/octet-stream");

impl Response {
    /// An empty response with `status`.
    pub fn new(status: StatusCode) -> Self {
        Response {
            status,
            content_type: ContentType::None,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }
    /// `200` with a `text/plain; charset=utf-8` body.
    pub fn text(body: impl Into<Body>) -> Self {
        Response::new(StatusCode::OK)
            .with_static_content_type(&TEXT)
            .with_body(body)
    }
    /// `200` with a `text/html; charset=utf-8` body.
    pub fn html(body: impl Into<Body>) -> Self {
        Response::new(StatusCode::OK)
            .with_static_content_type(&HTML)
            .with_body(body)
    }
    /// `200` with an `application/octet-stream` body.
    pub fn bytes(body: impl Into<Body>) -> Self {
        Response::new(StatusCode::OK)
            .with_static_content_type(&OCTETS)
            .with_body(body)
    }
    /// `200` with `value` serialized as JSON; a value that cannot be serialized gives a
    /// `500` with a short reason.
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(v) => Response::new(StatusCode::OK)
                .with_static_content_type(&JSON)
                .with_body(v),
            Err(_) => Response::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "response serialization failed",
            ),
        }
    }
    /// `200` with a JSON body given as already serialized bytes.
    pub fn json_bytes(body: impl Into<Body>) -> Self {
        Response::new(StatusCode::OK)
            .with_static_content_type(&JSON)
            .with_body(body)
    }
    /// `status` with a short plain-text reason (for errors; never echo request input
    /// into it).
    pub fn error(status: StatusCode, reason: &'static str) -> Self {
        Response::new(status)
            .with_static_content_type(&TEXT)
            .with_body(reason)
    }
    /// A streamed body.
    pub fn stream(body: Body) -> Self {
        Response::new(StatusCode::OK).with_body(body)
    }

    /// Replaces the status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }
    /// Sets `content-type`.
    pub fn with_content_type(mut self, v: HeaderValue) -> Self {
        self.content_type = ContentType::Owned(v);
        self
    }
    #[inline]
    fn with_static_content_type(mut self, v: &'static HeaderValue) -> Self {
        self.content_type = ContentType::Static(v);
        self
    }
    /// Appends a header field. A `content-type` here replaces the one set by the
    /// constructor.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.insert_header(name, value);
        self
    }
    /// Appends a header field (see [`with_header`](Self::with_header)).
    pub fn insert_header(&mut self, name: HeaderName, value: HeaderValue) {
        if name == http::header::CONTENT_TYPE {
            self.content_type = ContentType::Owned(value);
        } else {
            self.headers.push((name, value));
        }
    }
    /// Removes every field named `name`.
    pub fn remove_header(&mut self, name: &HeaderName) {
        if name == http::header::CONTENT_TYPE {
            self.content_type = ContentType::None;
        }
        self.headers.retain(|(n, _)| n != name);
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// Changes the status.
    pub fn set_status(&mut self, status: StatusCode) {
        self.status = status;
    }
    /// `content-type`, if set.
    #[inline]
    pub fn content_type(&self) -> Option<&HeaderValue> {
        self.content_type.get()
    }
    /// The first value of a header (`content-type` included).
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        if name.eq_ignore_ascii_case("content-type") {
            return self.content_type.get();
        }
        self.headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
    /// The header fields other than `content-type`.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }
    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }
    /// The body, mutably.
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.body
    }
    /// Takes the body out, leaving [`Body::Empty`].
    pub fn take_body(&mut self) -> Body {
        std::mem::replace(&mut self.body, Body::Empty)
    }
    /// The body bytes for non-stream bodies (tests).
    pub fn body_bytes(&self) -> Option<Bytes> {
        match &self.body {
            Body::Empty => Some(Bytes::new()),
            Body::Static(b) => Some(Bytes::from_static(b)),
            Body::Bytes(b) => Some(b.clone()),
            Body::Stream(_) | Body::File(_) => None,
        }
    }
}
