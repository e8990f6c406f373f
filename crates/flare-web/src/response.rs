//! The response a handler returns.

use std::fmt;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};

use crate::body::Body;

/// An HTTP response: status, header fields and a [`Body`].
///
/// `Content-Length`, `Transfer-Encoding`, `Date`, `Server` and `Connection` are the
/// server's business and are written by the protocol driver; a handler sets the rest.
/// `Response::text("...")` with a `&'static str` allocates nothing, and dropping it
/// does no work: its content type is a static, and header fields and an owned
/// content type live out of line, so the usual response is small to move and its
/// drop is two tests, inline.
pub struct Response {
    body: BodySlot,
    /// A constructor's content type (`None` when it is owned, in `extra`, or unset).
    content_type: Option<&'static HeaderValue>,
    /// Header fields and an owned content type; `None` while there are none.
    extra: ExtraSlot,
    status: StatusCode,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("content_type", &self.content_type())
            .field("headers", &self.headers())
            .field("body", self.body())
            .finish()
    }
}

/// A response's body. Dropping an `Empty` or `Static` body is a test inline; the
/// other kinds are dropped out of line, so that the drop glue of [`Response`] stays
/// small enough to be inlined where responses are consumed.
struct BodySlot(Body);

impl Drop for BodySlot {
    #[inline]
    fn drop(&mut self) {
        if !matches!(self.0, Body::Empty | Body::Static(_)) {
            drop_body(std::mem::replace(&mut self.0, Body::Empty));
        }
    }
}

#[inline(never)]
fn drop_body(body: Body) {
    drop(body);
}

/// [`Extra`], when a response has any; dropped out of line (see [`BodySlot`]).
struct ExtraSlot(Option<Box<Extra>>);

impl Drop for ExtraSlot {
    #[inline]
    fn drop(&mut self) {
        if let Some(e) = self.0.take() {
            drop_extra(e);
        }
    }
}

#[inline(never)]
fn drop_extra(extra: Box<Extra>) {
    drop(extra);
}

/// The parts of a [`Response`] most responses do not have.
#[derive(Debug, Default)]
struct Extra {
    /// An owned `content-type` (then [`Response::content_type`] is `None`).
    content_type: Option<HeaderValue>,
    /// The fields other than `content-type`.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// An accepted WebSocket upgrade (a `101`).
    ws: Option<Box<crate::ws::WsAccept>>,
    /// A response a pool thread will produce (a `102` placeholder).
    deferred: Option<crate::blocking::Deferred>,
}

impl Default for Response {
    fn default() -> Self {
        Response::new(StatusCode::OK)
    }
}

static TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
static HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
static JSON: HeaderValue = HeaderValue::from_static("application/json");
static OCTETS: HeaderValue = HeaderValue::from_static("application/octet-stream");

impl Response {
    /// An empty response with `status`.
    #[inline]
    pub fn new(status: StatusCode) -> Self {
        Response {
            body: BodySlot(Body::Empty),
            content_type: None,
            extra: ExtraSlot(None),
            status,
        }
    }
    /// `200` with a `text/plain; charset=utf-8` body.
    #[inline]
    pub fn text(body: impl Into<Body>) -> Self {
        Response::new(StatusCode::OK)
            .with_static_content_type(&TEXT)
            .with_body(body)
    }
    /// `200` with a `text/html; charset=utf-8` body.
    #[inline]
    pub fn html(body: impl Into<Body>) -> Self {
        Response::new(StatusCode::OK)
            .with_static_content_type(&HTML)
            .with_body(body)
    }
    /// `200` with an `application/octet-stream` body.
    #[inline]
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
    #[inline]
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
    #[inline]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
    /// Replaces the body.
    #[inline]
    pub fn with_body(mut self, body: impl Into<Body>) -> Self {
        self.body.0 = body.into();
        self
    }
    /// Sets `content-type`.
    pub fn with_content_type(mut self, v: HeaderValue) -> Self {
        self.set_owned_content_type(Some(v));
        self
    }
    #[inline]
    fn with_static_content_type(mut self, v: &'static HeaderValue) -> Self {
        self.set_owned_content_type(None);
        self.content_type = Some(v);
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
            self.set_owned_content_type(Some(value));
        } else {
            self.extra_mut().headers.push((name, value));
        }
    }
    /// Removes every field named `name`.
    pub fn remove_header(&mut self, name: &HeaderName) {
        if name == http::header::CONTENT_TYPE {
            self.set_owned_content_type(None);
            self.content_type = None;
        }
        if let Some(e) = &mut self.extra.0 {
            e.headers.retain(|(n, _)| n != name);
        }
    }

    /// Sets or clears the owned content type (a static one is cleared when an owned
    /// one is set).
    fn set_owned_content_type(&mut self, v: Option<HeaderValue>) {
        match v {
            Some(v) => {
                self.content_type = None;
                self.extra_mut().content_type = Some(v);
            }
            None => {
                if let Some(e) = &mut self.extra.0 {
                    e.content_type = None;
                }
            }
        }
    }

    /// A placeholder for a response another thread will produce (see
    /// [`blocking`](crate::blocking)); its status is `102`, never sent: drivers
    /// recognise it by a status under 200 and wait for the real one.
    pub fn deferred(d: crate::blocking::Deferred) -> Response {
        let mut r = Response::new(StatusCode::PROCESSING);
        r.extra_mut().deferred = Some(d);
        r
    }

    /// For protocol drivers: the response another thread will produce, if this is
    /// a [`deferred`](Self::deferred) placeholder.
    pub fn take_deferred(&mut self) -> Option<crate::blocking::Deferred> {
        self.extra.0.as_mut().and_then(|e| e.deferred.take())
    }

    /// Carries an accepted WebSocket upgrade to the driver.
    pub(crate) fn set_ws_accept(&mut self, accept: Box<crate::ws::WsAccept>) {
        self.extra_mut().ws = Some(accept);
    }

    /// For protocol drivers: takes the WebSocket upgrade a
    /// [`WebSocketUpgrade::on_upgrade`](crate::ws::WebSocketUpgrade::on_upgrade)
    /// response carries.
    pub fn take_ws_accept(&mut self) -> Option<Box<crate::ws::WsAccept>> {
        self.extra.0.as_mut().and_then(|e| e.ws.take())
    }

    /// Whether the response carries a WebSocket upgrade.
    pub fn is_ws_accept(&self) -> bool {
        self.extra.0.as_ref().is_some_and(|e| e.ws.is_some())
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.0.get_or_insert_with(Box::default)
    }

    /// The status.
    #[inline]
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
        match self.content_type {
            Some(v) => Some(v),
            None => self.extra.0.as_deref()?.content_type.as_ref(),
        }
    }
    /// The content type when a constructor ([`text`](Self::text),
    /// [`html`](Self::html), [`bytes`](Self::bytes), [`json`](Self::json),
    /// [`json_bytes`](Self::json_bytes), [`error`](Self::error)) set it: a
    /// `&'static` value, so that a protocol driver caching encoded heads may take the
    /// same address for the same bytes. `None` when the content type is owned or
    /// unset.
    #[inline]
    pub fn static_content_type(&self) -> Option<&'static HeaderValue> {
        self.content_type
    }
    /// The first value of a header (`content-type` included).
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        if name.eq_ignore_ascii_case("content-type") {
            return self.content_type();
        }
        self.headers()
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
    /// The header fields other than `content-type`.
    #[inline]
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        match &self.extra.0 {
            Some(e) => &e.headers,
            None => &[],
        }
    }
    /// The body.
    #[inline]
    pub fn body(&self) -> &Body {
        &self.body.0
    }
    /// The body, mutably.
    #[inline]
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.body.0
    }
    /// Takes the body out, leaving [`Body::Empty`].
    #[inline]
    pub fn take_body(&mut self) -> Body {
        std::mem::replace(&mut self.body.0, Body::Empty)
    }
    /// The body bytes for non-stream bodies (tests).
    pub fn body_bytes(&self) -> Option<Bytes> {
        match self.body() {
            Body::Empty => Some(Bytes::new()),
            Body::Static(b) => Some(Bytes::from_static(b)),
            Body::Bytes(b) => Some(b.clone()),
            Body::Stream(_) | Body::File(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CONTENT_TYPE, ETAG, VARY};

    #[test]
    fn content_type_static_owned_and_removed() {
        let r = Response::text("a");
        assert_eq!(r.content_type().unwrap(), "text/plain; charset=utf-8");
        assert!(r.headers().is_empty());
        // An owned content type replaces the static one, and the other way round.
        let mut r = r.with_header(CONTENT_TYPE, HeaderValue::from_static("x/y"));
        assert_eq!(r.content_type().unwrap(), "x/y");
        assert_eq!(r.header("Content-Type").unwrap(), "x/y");
        assert!(r.headers().is_empty());
        r.remove_header(&CONTENT_TYPE);
        assert!(r.content_type().is_none());
        let r = Response::new(StatusCode::OK)
            .with_content_type(HeaderValue::from_static("a/b"))
            .with_header(VARY, HeaderValue::from_static("accept"));
        assert_eq!(r.content_type().unwrap(), "a/b");
        assert_eq!(r.headers().len(), 1);
        let r = Response::new(StatusCode::OK).with_static_content_type(&JSON);
        assert_eq!(r.content_type().unwrap(), "application/json");
        // Constructors' content types are statics, one address per value.
        let (a, b) = (Response::text("a"), Response::error(StatusCode::GONE, "b"));
        assert!(std::ptr::eq(
            a.static_content_type().unwrap(),
            b.static_content_type().unwrap()
        ));
        assert!(Response::html("")
            .with_content_type(HeaderValue::from_static("text/html; charset=utf-8"))
            .static_content_type()
            .is_none());
        let r = Response::json_bytes("{}").with_content_type(HeaderValue::from_static("c/d"));
        assert_eq!(r.content_type().unwrap(), "c/d");
    }

    #[test]
    fn headers_bodies_and_drops() {
        let mut r = Response::bytes(vec![1u8, 2])
            .with_header(ETAG, HeaderValue::from_static("\"e\""))
            .with_header(VARY, HeaderValue::from_static("a"))
            .with_header(ETAG, HeaderValue::from_static("\"f\""));
        assert_eq!(r.headers().len(), 3);
        assert_eq!(r.header("etag").unwrap(), "\"e\"");
        r.remove_header(&ETAG);
        assert_eq!(r.headers().len(), 1);
        assert_eq!(r.body_bytes().unwrap(), &[1u8, 2][..]);
        // Every body kind drops (the out-of-line ones included).
        let taken = r.take_body();
        assert_eq!(taken.len_hint(), Some(2));
        assert_eq!(r.body().len_hint(), Some(0));
        *r.body_mut() = Body::from_chunks(std::iter::empty());
        assert!(r.body().is_stream());
        drop(r);
        let s = format!("{:?}", Response::error(StatusCode::NOT_FOUND, "nope"));
        assert!(
            s.contains("404") && s.contains("Body::Static(4 bytes)"),
            "{s}"
        );
    }
}
