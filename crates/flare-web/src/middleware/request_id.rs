//! [`RequestId`]: give every request an id, or carry the caller's.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use http::{HeaderName, HeaderValue};

use super::Layer;
use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;

/// Gives every request an id in `x-request-id` (or another header): an incoming id
/// that is 1 to [`max_len`](Self::max_len) visible ASCII characters is kept, anything
/// else is replaced by a fresh one. The id is echoed on the response (unless the
/// handler set that header itself) and stored in the request's extensions as a
/// [`RequestIdValue`], where handlers and the [`Logger`](super::Logger) find it.
///
/// When the request had no id the generated one is also added as a request header;
/// when it had an unusable one, read the id from [`RequestIdValue`], not the header.
///
/// Fresh ids are 32 hex digits: a random per-process prefix and a counter, unique
/// within the process and unlikely to collide across processes; not secret.
#[derive(Clone, Debug)]
pub struct RequestId {
    header: HeaderName,
    max_len: usize,
    trust_incoming: bool,
}

impl Default for RequestId {
    fn default() -> Self {
        RequestId {
            header: HeaderName::from_static("x-request-id"),
            max_len: 128,
            trust_incoming: true,
        }
    }
}

/// The id [`RequestId`] gave a request, in [`Request::extensions`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestIdValue(pub HeaderValue);

impl RequestIdValue {
    /// The id as text (always visible ASCII).
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or("")
    }
}

impl RequestId {
    /// The layer with the defaults below.
    pub fn new() -> Self {
        Self::default()
    }
    /// The header carrying the id. Default: `x-request-id`.
    pub fn header(mut self, name: HeaderName) -> Self {
        self.header = name;
        self
    }
    /// The longest incoming id that is kept. Default: 128 bytes; a longer one would be
    /// copied into every log line and response, so it is replaced.
    pub fn max_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }
    /// Keep ids that callers send. Default: `true` (a proxy in front sets them). Turn
    /// off when clients are untrusted and ids must be the server's own.
    pub fn trust_incoming(mut self, yes: bool) -> Self {
        self.trust_incoming = yes;
        self
    }

    fn usable(&self, id: &[u8]) -> bool {
        !id.is_empty() && id.len() <= self.max_len && id.iter().all(|b| (0x21..=0x7e).contains(b))
    }
}

/// The handler [`RequestId`] makes.
#[derive(Debug)]
pub struct RequestIdHandler<H> {
    inner: H,
    cfg: RequestId,
}

impl<H: Handler> Layer<H> for RequestId {
    type Handler = RequestIdHandler<H>;
    fn layer(&self, inner: H) -> Self::Handler {
        RequestIdHandler {
            inner,
            cfg: self.clone(),
        }
    }
}

impl<H: Handler> Handler for RequestIdHandler<H> {
    fn handle(&self, req: &mut Request) -> Response {
        let name = self.cfg.header.as_str();
        let incoming = req
            .header_bytes(name)
            .filter(|id| self.cfg.trust_incoming && self.cfg.usable(id))
            .and_then(|id| HeaderValue::from_bytes(id).ok());
        let id = match incoming {
            Some(id) => id,
            None => {
                let fresh = fresh_id();
                if req.header_bytes(name).is_none() {
                    req.push_header(name.as_bytes(), fresh.as_bytes());
                }
                fresh
            }
        };
        req.extensions_mut().insert(RequestIdValue(id.clone()));
        let mut resp = self.inner.handle(req);
        if resp.header(name).is_none() {
            resp.insert_header(self.cfg.header.clone(), id);
        }
        resp
    }

    fn body_limit(&self, req: &Request) -> Option<u64> {
        self.inner.body_limit(req)
    }
}

fn fresh_id() -> HeaderValue {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut h = RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut buf = [0u8; 32];
    hex(prefix, &mut buf[..16]);
    hex(n, &mut buf[16..]);
    // 32 hex digits always make a valid header value.
    HeaderValue::from_bytes(&buf).unwrap_or(HeaderValue::from_static("0"))
}

fn hex(mut v: u64, out: &mut [u8]) {
    for b in out.iter_mut().rev() {
        *b = b"0123456789abcdef"[(v & 15) as usize];
        v >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::HandlerExt;

    fn echo_id(req: &Request) -> Response {
        let ext = req
            .extensions()
            .get::<RequestIdValue>()
            .unwrap()
            .as_str()
            .to_owned();
        let hdr = req.header("x-request-id").unwrap_or("-").to_owned();
        Response::text(format!("{ext} {hdr}"))
    }

    fn call<H: Handler>(app: &H, id: Option<&[u8]>) -> (String, String) {
        let mut b = Request::builder().uri("/");
        if let Some(id) = id {
            b = b.header("x-request-id", id);
        }
        let r = app.handle(&mut b.build());
        let body = String::from_utf8(r.body_bytes().unwrap().to_vec()).unwrap();
        (
            r.header("x-request-id")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned(),
            body,
        )
    }

    #[test]
    fn generates_unique_ids() {
        let app = echo_id.layer(RequestId::new());
        let (a, body_a) = call(&app, None);
        let (b, _) = call(&app, None);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(body_a, format!("{a} {a}"));
    }

    #[test]
    fn propagates_usable_ids_and_replaces_others() {
        let app = echo_id.layer(RequestId::new().max_len(10));
        assert_eq!(call(&app, Some(b"abc-123")).0, "abc-123");
        assert_eq!(call(&app, Some(b"0123456789")).0, "0123456789");
        // Over the limit, with a space, non-ASCII: replaced. The request keeps the
        // header it came with; the extension has the id in use.
        for bad in [&b"0123456789a"[..], b"a b", b"caf\xc3\xa9"] {
            let (id, body) = call(&app, Some(bad));
            assert_eq!(id.len(), 32, "{bad:?}");
            assert!(body.starts_with(&id), "{body}");
        }
        let untrusting = echo_id.layer(RequestId::new().trust_incoming(false));
        assert_ne!(call(&untrusting, Some(b"abc")).0, "abc");
    }

    #[test]
    fn other_header_and_handler_set_ids() {
        let app = (|_: &Request| Response::text("x"))
            .layer(RequestId::new().header(HeaderName::from_static("x-trace")));
        let r = app.handle(&mut Request::builder().header("x-trace", "t-1").build());
        assert_eq!(r.header("x-trace").unwrap(), "t-1");
        assert!(r.header("x-request-id").is_none());
        let own = (|_: &Request| {
            Response::text("x").with_header(
                HeaderName::from_static("x-request-id"),
                HeaderValue::from_static("mine"),
            )
        })
        .layer(RequestId::new());
        let r = own.handle(&mut Request::default());
        assert_eq!(r.header("x-request-id").unwrap(), "mine");
    }
}
