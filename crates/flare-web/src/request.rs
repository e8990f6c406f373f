//! The request a handler sees.

use std::net::SocketAddr;
use std::ops::Range;

use http::{Method, Version};

use crate::cancel::CancelToken;

/// A byte range into [`Request`]'s own storage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or(&[])
    }
    fn get_str<'a>(&self, s: &'a str) -> &'a str {
        s.get(self.start as usize..self.end as usize).unwrap_or("")
    }
    /// `r` as it is, offsets past `u32::MAX` saturating (so past the end of any
    /// storage a span indexes): reading checks the range, so a range outside the
    /// storage or off a character boundary reads as empty.
    #[inline]
    fn saturating(r: Range<usize>) -> Span {
        let sat = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Span {
            start: sat(r.start),
            end: sat(r.end),
        }
    }
    /// `base + r`, or an empty span when `r` is not inside `0..len`. Callers check
    /// that `base + len` fits in `u32` ([`fits`]).
    #[inline]
    fn offset(base: usize, r: Range<usize>, len: usize) -> Span {
        if r.start <= r.end && r.end <= len {
            Span {
                start: (base + r.start) as u32,
                end: (base + r.end) as u32,
            }
        } else {
            Span::default()
        }
    }
}

/// Whether offsets up to `end` fit in a [`Span`].
#[inline]
fn fits(end: usize) -> bool {
    u32::try_from(end).is_ok()
}

/// An HTTP request, whatever protocol carried it.
///
/// The target lives in a string owned by the request, the header fields in one byte
/// buffer and the body in another; a connection reuses one `Request` for all its
/// requests, so once the buffers have grown, filling a request allocates nothing.
///
/// Header lookups are case-insensitive. Header values are bytes (HTTP allows non-UTF-8
/// `obs-text`); [`header`](Self::header) gives them as `&str` when they are UTF-8.
// The fields every request touches (filling it, routing, the usual handler) come
// first and fill two cache lines (`repr(C)` keeps them in this order, the alignment
// puts them at the start of a line): a connection keeps its own `Request`, so with
// many connections these lines are often not in the cache.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct Request {
    /// The request target; `path` and `query` index into it.
    target: String,
    /// Header and trailer fields, and decoded path parameters.
    buf: Vec<u8>,
    headers: Vec<(Span, Span)>,
    method: Method,
    path: Span,
    query: Option<Span>,
    version: Version,
    /// Whether any of `body`, `trailers`, `params` and `extensions` may be non-empty
    /// (set by whatever fills them), so that [`clear`](Self::clear) leaves them
    /// alone for the usual request, which has none.
    rare: bool,
    cancel: CancelToken,
    // Second part: set once per connection, or rarely.
    peer: Option<SocketAddr>,
    /// The socket's peer when `peer` came from a PROXY header.
    socket_peer: Option<SocketAddr>,
    body: Vec<u8>,
    trailers: Vec<(Span, Span)>,
    params: Vec<(Span, Span)>,
    extensions: http::Extensions,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            method: Method::GET,
            version: Version::HTTP_11,
            rare: false,
            buf: Vec::new(),
            target: String::new(),
            path: Span::default(),
            query: None,
            headers: Vec::new(),
            body: Vec::new(),
            trailers: Vec::new(),
            peer: None,
            socket_peer: None,
            cancel: CancelToken::new(),
            params: Vec::new(),
            extensions: http::Extensions::new(),
        }
    }
}

fn str_of(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

impl Request {
    /// A builder, mostly for tests and clients.
    pub fn builder() -> RequestBuilder {
        RequestBuilder {
            req: Request::default(),
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }
    /// The protocol version (`HTTP/1.0`, `HTTP/1.1`, `HTTP/2.0`).
    pub fn version(&self) -> Version {
        self.version
    }
    /// The request target as sent (`/a/b?x=1`; for HTTP/2, `:path`).
    #[inline]
    pub fn target(&self) -> &str {
        &self.target
    }
    /// The path part of the target, not percent-decoded.
    #[inline]
    pub fn path(&self) -> &str {
        self.path.get_str(&self.target)
    }
    /// [`path`](Self::path) as bytes (without its character-boundary checks: bytes
    /// cut inside a character are not UTF-8, so they equal no path a router has).
    #[inline]
    pub(crate) fn path_bytes(&self) -> &[u8] {
        self.path.get(self.target.as_bytes())
    }
    /// The query string after `?`, without the `?`, not decoded.
    #[inline]
    pub fn query(&self) -> Option<&str> {
        self.query.map(|s| s.get_str(&self.target))
    }
    /// The first value of a header, case-insensitive name, when it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }
    /// The first value of a header as bytes.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        let name = name.as_bytes();
        self.headers
            .iter()
            .find(|(n, _)| n.get(&self.buf).eq_ignore_ascii_case(name))
            .map(|(_, v)| v.get(&self.buf))
    }
    /// Every value of a header, in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.get(&self.buf).eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.get(&self.buf))
    }
    /// All header fields in order, names as sent (HTTP/2 names are lowercase).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.headers
            .iter()
            .map(|(n, v)| (str_of(n.get(&self.buf)), v.get(&self.buf)))
    }
    /// How many header fields the request has.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }
    /// Trailer fields that came after a chunked (HTTP/1.1) or streamed (HTTP/2) body.
    pub fn trailers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.trailers
            .iter()
            .map(|(n, v)| (str_of(n.get(&self.buf)), v.get(&self.buf)))
    }
    /// The `Content-Type` header.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }
    /// The whole body (the server reads it, up to the body limit, before calling the
    /// handler).
    pub fn body(&self) -> &[u8] {
        &self.body
    }
    /// The peer's socket address, when the transport has one.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
    /// The request's cancel token.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }
    /// A path parameter captured by the router (`/users/{id}` gives `param("id")`).
    /// The router percent-decodes parameters (and answers `400` when one is not
    /// UTF-8 after decoding); [`push_param`](Self::push_param) stores what it is given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.get(&self.buf) == name.as_bytes())
            .map(|(_, v)| str_of(v.get(&self.buf)))
    }
    /// All path parameters in capture order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.params
            .iter()
            .map(|(n, v)| (str_of(n.get(&self.buf)), str_of(v.get(&self.buf))))
    }

    /// Typed values middleware and routers attach to the request (empty costs
    /// nothing).
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }
    /// Typed values, mutably.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        self.rare = true;
        &mut self.extensions
    }

    // ---- filling, for protocol drivers and the router ----

    /// Clears the request for reuse, keeping its buffers' capacity.
    #[inline(always)]
    pub fn clear(&mut self) {
        if self.method != Method::GET {
            self.method = Method::GET;
        }
        self.version = Version::HTTP_11;
        self.buf.clear();
        self.target.clear();
        self.path = Span::default();
        self.query = None;
        self.headers.clear();
        if self.rare {
            self.clear_rare();
        }
        self.cancel.reset();
    }

    /// Clears the parts most requests do not have.
    #[cold]
    fn clear_rare(&mut self) {
        self.rare = false;
        self.body.clear();
        self.trailers.clear();
        self.params.clear();
        self.extensions.clear();
    }

    fn push_bytes(&mut self, b: &[u8]) -> Span {
        let start = self.buf.len() as u32;
        self.buf.extend_from_slice(b);
        Span {
            start,
            end: self.buf.len() as u32,
        }
    }

    /// Sets the method.
    pub fn set_method(&mut self, m: Method) {
        self.method = m;
    }
    /// Sets the version.
    pub fn set_version(&mut self, v: Version) {
        self.version = v;
    }
    /// Sets the target; the path and query are split at the first `?`. For an
    /// absolute-form target (`http://host/p?q`) the path starts at the first `/` after
    /// the authority. A target that is not UTF-8 is stored with its bad sequences
    /// replaced by U+FFFD (HTTP/1.1 and HTTP/2 targets are ASCII, so only a request
    /// built by hand can have one).
    pub fn set_target(&mut self, target: &[u8]) {
        match std::str::from_utf8(target) {
            Ok(t) => self.set_target_str(t),
            Err(_) => self.set_target_str(&String::from_utf8_lossy(target)),
        }
    }
    /// Sets the target from a string (see [`set_target`](Self::set_target)).
    pub fn set_target_str(&mut self, target: &str) {
        self.target.clear();
        self.target.push_str(target);
        let target = target.as_bytes();
        let mut path_start = 0usize;
        if let Some(rest) = target
            .strip_prefix(b"http://")
            .or_else(|| target.strip_prefix(b"https://"))
        {
            let scheme_len = target.len() - rest.len();
            path_start = scheme_len
                + rest
                    .iter()
                    .position(|&b| b == b'/' || b == b'?')
                    .unwrap_or(rest.len());
        }
        let q = target[path_start..]
            .iter()
            .position(|&b| b == b'?')
            .map(|i| i + path_start);
        let path_end = q.unwrap_or(target.len());
        let len = if fits(target.len()) { target.len() } else { 0 };
        self.path = Span::offset(0, path_start..path_end, len);
        self.query = q.map(|i| Span::offset(0, i + 1..target.len(), len));
    }
    /// Sets the target with its path and query already found (byte ranges of
    /// `target`; the query without its `?`), for a protocol driver whose parser split
    /// them. A range outside `target` or not on a character boundary reads as empty.
    #[inline]
    pub fn set_target_parts(
        &mut self,
        target: &str,
        path: Range<usize>,
        query: Option<Range<usize>>,
    ) {
        self.target.clear();
        self.target.push_str(target);
        // Reading checks the spans (`Span::get_str`); offsets only need to fit.
        if fits(target.len()) {
            self.path = Span::saturating(path);
            self.query = query.map(Span::saturating);
        } else {
            self.path = Span::default();
            self.query = query.map(|_| Span::default());
        }
    }
    /// Appends the header fields found in `block` (a header section as received):
    /// each item is the byte ranges of a field's name and value in `block`. The block
    /// is copied once for all its fields; a range outside it reads as empty.
    #[inline]
    pub fn push_header_block<I>(&mut self, block: &[u8], fields: I)
    where
        I: IntoIterator<Item = (Range<usize>, Range<usize>)>,
    {
        let base = self.buf.len();
        let len = block.len();
        if !fits(base + len) {
            return;
        }
        self.buf.extend_from_slice(block);
        let at = |r: Range<usize>| Span {
            start: (base + r.start) as u32,
            end: (base + r.end) as u32,
        };
        // `extend` reserves once for an iterator of known length (a slice's, mapped)
        // and then writes without a capacity test per field.
        self.headers.extend(fields.into_iter().map(|(n, v)| {
            // One test for both ranges; `base + len` fits in u32 (checked above).
            if n.start <= n.end && n.end <= len && v.start <= v.end && v.end <= len {
                (at(n), at(v))
            } else {
                field_outside(base, n, v, len)
            }
        }));
    }
    /// Appends a header field.
    pub fn push_header(&mut self, name: &[u8], value: &[u8]) {
        let n = self.push_bytes(name);
        let v = self.push_bytes(value);
        self.headers.push((n, v));
    }
    /// Appends a trailer field.
    pub fn push_trailer(&mut self, name: &[u8], value: &[u8]) {
        self.rare = true;
        let n = self.push_bytes(name);
        let v = self.push_bytes(value);
        self.trailers.push((n, v));
    }
    /// Appends a path parameter (the router calls this).
    pub fn push_param(&mut self, name: &str, value: &str) {
        self.rare = true;
        let n = self.push_bytes(name.as_bytes());
        let v = self.push_bytes(value.as_bytes());
        self.params.push((n, v));
    }
    /// Records the bytes `start..end` of [`path`](Self::path) as the path parameter
    /// `name`, percent-decoded (RFC 3986 section 2.1; `+` stays `+` in a path). The
    /// value is copied inside the request's own buffer, so once it has grown this
    /// allocates nothing. On an error nothing is recorded.
    pub fn capture_param(
        &mut self,
        name: &str,
        start: usize,
        end: usize,
    ) -> Result<(), PercentDecodeError> {
        // The path as `path()` reads it (its span is checked here, not when set).
        let Some(src) = self.path.get_str(&self.target).as_bytes().get(..end) else {
            return Err(PercentDecodeError::OutOfRange);
        };
        if start > end {
            return Err(PercentDecodeError::OutOfRange);
        }
        self.rare = true;
        // `src` borrows the target, so the buffer is filled field by field here.
        let mark = self.buf.len();
        self.buf.extend_from_slice(name.as_bytes());
        let vstart = self.buf.len();
        let n = Span {
            start: mark as u32,
            end: vstart as u32,
        };
        let (mut i, to) = (start, end);
        while i < to {
            let b = src.get(i).copied().unwrap_or(0);
            if b == b'%' {
                let hi = src.get(i + 1).copied().and_then(hex_value);
                let lo = src.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(h), Some(l)) if i + 2 < to => {
                        self.buf.push(h << 4 | l);
                        i += 3;
                    }
                    _ => {
                        self.buf.truncate(mark);
                        return Err(PercentDecodeError::BadEscape);
                    }
                }
            } else {
                self.buf.push(b);
                i += 1;
            }
        }
        let value = self.buf.get(vstart..).unwrap_or(&[]);
        if std::str::from_utf8(value).is_err() {
            self.buf.truncate(mark);
            return Err(PercentDecodeError::NotUtf8);
        }
        let v = Span {
            start: vstart as u32,
            end: self.buf.len() as u32,
        };
        self.params.push((n, v));
        Ok(())
    }
    /// Removes the path parameters (a router that falls through to another route).
    #[inline]
    pub fn clear_params(&mut self) {
        // Only a request marked `rare` has any.
        if self.rare {
            self.params.clear();
        }
    }
    /// The body buffer, for the driver to fill.
    pub fn body_mut(&mut self) -> &mut Vec<u8> {
        self.rare = true;
        &mut self.body
    }
    /// Sets the peer address.
    pub fn set_peer_addr(&mut self, peer: Option<SocketAddr>) {
        self.peer = peer;
    }
    /// Sets the socket's own peer, for a connection whose peer address came from a
    /// PROXY header (kept by `clear`, like the peer).
    pub fn set_socket_peer_addr(&mut self, peer: Option<SocketAddr>) {
        self.socket_peer = peer;
    }
    /// The address of the socket's peer: the proxy when the server reads PROXY
    /// headers, otherwise the same as [`peer_addr`](Self::peer_addr).
    pub fn socket_peer_addr(&self) -> Option<SocketAddr> {
        self.socket_peer.or(self.peer)
    }
    /// Replaces the cancel token (HTTP/2 gives each stream its own).
    pub fn set_cancel_token(&mut self, token: CancelToken) {
        self.cancel = token;
    }
    /// An owned copy to hand to another thread (a blocking pool): method, target,
    /// version, header and trailer fields, body, peer and path parameters, and the
    /// same cancel token; not the extensions.
    pub fn to_owned_request(&self) -> Request {
        Request {
            target: self.target.clone(),
            buf: self.buf.clone(),
            headers: self.headers.clone(),
            method: self.method.clone(),
            path: self.path,
            query: self.query,
            version: self.version,
            rare: true,
            cancel: self.cancel.clone(),
            peer: self.peer,
            socket_peer: self.socket_peer,
            body: self.body.clone(),
            trailers: self.trailers.clone(),
            params: self.params.clone(),
            extensions: http::Extensions::new(),
        }
    }
}

/// The spans of a field with a range outside its block (of `len` bytes at `base`):
/// such a range reads as empty.
#[cold]
#[inline(never)]
fn field_outside(base: usize, n: Range<usize>, v: Range<usize>, len: usize) -> (Span, Span) {
    (Span::offset(base, n, len), Span::offset(base, v, len))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Why [`Request::capture_param`] refused a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PercentDecodeError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
    /// The range is not inside the path.
    OutOfRange,
}

impl std::fmt::Display for PercentDecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PercentDecodeError::BadEscape => "malformed percent-encoding",
            PercentDecodeError::NotUtf8 => "percent-decoded bytes are not UTF-8",
            PercentDecodeError::OutOfRange => "range outside the path",
        })
    }
}

impl std::error::Error for PercentDecodeError {}

/// Builds a [`Request`] (tests, clients).
#[derive(Debug)]
pub struct RequestBuilder {
    req: Request,
}

impl RequestBuilder {
    /// The method.
    pub fn method(mut self, m: Method) -> Self {
        self.req.method = m;
        self
    }
    /// The target (path and query).
    pub fn uri(mut self, target: &str) -> Self {
        self.req.set_target_str(target);
        self
    }
    /// The version.
    pub fn version(mut self, v: Version) -> Self {
        self.req.version = v;
        self
    }
    /// Appends a header.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.req.push_header(name.as_bytes(), value.as_ref());
        self
    }
    /// The body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.req.rare = true;
        self.req.body = body.into();
        self
    }
    /// The peer address.
    pub fn peer_addr(mut self, peer: SocketAddr) -> Self {
        self.req.peer = Some(peer);
        self
    }
    /// The request.
    pub fn build(self) -> Request {
        self.req
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_parts_and_header_block_are_stored_as_given() {
        let mut r = Request::default();
        let head = b"GET /a/b%20c?x=1 HTTP/1.1\r\nHost: h\r\nX-A:  v  \r\n\r\n";
        r.set_target_parts("/a/b%20c?x=1", 0..8, Some(9..12));
        assert_eq!(
            (r.target(), r.path(), r.query()),
            ("/a/b%20c?x=1", "/a/b%20c", Some("x=1"))
        );
        // The fields' block is `Host: h\r\nX-A:  v  `, at offset 27 of the head.
        let block = &head[27..44];
        r.push_header_block(block, [(0..4, 6..7), (9..12, 15..16), (3..99, 0..1)]);
        assert_eq!(r.header("host"), Some("h"));
        assert_eq!(r.header("x-a"), Some("v"));
        // A range outside the block reads as empty.
        let all: Vec<(&str, &[u8])> = r.headers().collect();
        assert_eq!(all, [("Host", &b"h"[..]), ("X-A", b"v"), ("", b"H")]);
        assert_eq!(r.capture_param("p", 3, 8), Ok(()));
        assert_eq!(r.param("p"), Some("b c"));
        // Ranges off the target or off a character boundary read as empty.
        r.set_target_parts("/é", 0..2, Some(5..9));
        assert_eq!((r.path(), r.query()), ("", Some("")));
        r.clear();
        assert_eq!(
            (r.target(), r.path(), r.query(), r.header_count()),
            ("", "", None, 0)
        );
    }

    #[test]
    fn hot_fields_fill_the_first_two_cache_lines() {
        use std::mem::{align_of, offset_of, size_of};
        assert_eq!(align_of::<Request>(), 64);
        assert!(offset_of!(Request, cancel) + size_of::<CancelToken>() <= 128);
        assert!(offset_of!(Request, peer) >= 128);
    }

    #[test]
    fn clear_empties_the_rarely_set_parts_too() {
        let mut r = Request::builder()
            .method(Method::POST)
            .version(Version::HTTP_10)
            .uri("/a/b?q")
            .header("x", "1")
            .body("payload")
            .build();
        r.push_trailer(b"t", b"2");
        r.push_param("p", "3");
        r.extensions_mut().insert(7u8);
        r.clear();
        assert_eq!(
            (r.method(), r.version(), r.target(), r.path(), r.query()),
            (&Method::GET, Version::HTTP_11, "", "", None)
        );
        assert_eq!(
            (r.header_count(), r.body(), r.trailers().count()),
            (0, &b""[..], 0)
        );
        assert_eq!((r.params().count(), r.extensions().get::<u8>()), (0, None));
        // Each part set alone is cleared as well.
        r.body_mut().extend_from_slice(b"x");
        r.clear();
        assert!(r.body().is_empty());
        r.push_param("p", "1");
        r.clear();
        assert_eq!(r.param("p"), None);
        r.set_target_str("/x/y");
        assert_eq!(r.capture_param("c", 1, 2), Ok(()));
        r.clear();
        assert_eq!(r.param("c"), None);
    }

    #[test]
    fn set_target_splits_and_replaces() {
        let mut r = Request::builder().uri("http://h:1/p?q").build();
        assert_eq!((r.path(), r.query()), ("/p", Some("q")));
        r.set_target(b"/x?");
        assert_eq!((r.target(), r.path(), r.query()), ("/x?", "/x", Some("")));
        r.set_target(b"/\xff?\xfe");
        assert_eq!((r.path(), r.query()), ("/\u{fffd}", Some("\u{fffd}")));
        r.set_target_str("*");
        assert_eq!((r.path(), r.query()), ("*", None));
    }

    #[test]
    fn capture_param_decodes_and_refuses() {
        let mut r = Request::builder()
            .uri("/a/x%20y/%E2%9C%93/%FF/%4/b%2")
            .build();
        // Offsets are into path(): "/a/x%20y/%E2%9C%93/%FF/%4/b%2".
        assert_eq!(r.capture_param("a", 3, 8), Ok(()));
        assert_eq!(r.capture_param("b", 9, 18), Ok(()));
        assert_eq!(r.param("a"), Some("x y"));
        assert_eq!(r.param("b"), Some("✓"));
        assert_eq!(
            r.capture_param("c", 19, 22),
            Err(PercentDecodeError::NotUtf8)
        );
        assert_eq!(
            r.capture_param("d", 23, 25),
            Err(PercentDecodeError::BadEscape)
        );
        // An escape cut by the end of the range is malformed too.
        assert_eq!(
            r.capture_param("e", 26, 28),
            Err(PercentDecodeError::BadEscape)
        );
        assert_eq!(
            r.capture_param("f", 5, 4),
            Err(PercentDecodeError::OutOfRange)
        );
        assert_eq!(
            r.capture_param("g", 0, 999),
            Err(PercentDecodeError::OutOfRange)
        );
        let names: Vec<&str> = r.params().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b"]);
        // The request target is untouched.
        assert_eq!(r.path(), "/a/x%20y/%E2%9C%93/%FF/%4/b%2");
    }
}
