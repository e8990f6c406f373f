//! [`Conditional`]: `304 Not Modified` from `ETag` / `Last-Modified` for any handler.

use http::header::{CACHE_CONTROL, CONTENT_LOCATION, DATE, ETAG, EXPIRES, LAST_MODIFIED, VARY};
use http::{HeaderValue, Method, StatusCode};

use super::Layer;
use crate::fs::http_date;
use crate::fs::precondition::{self, Precondition};
use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;

/// Answers conditional GET and HEAD requests for whatever the wrapped handler returns.
///
/// After the handler answers `200`, the request's `If-Match`, `If-Unmodified-Since`,
/// `If-None-Match` and `If-Modified-Since` are evaluated against the response's `ETag`
/// and `Last-Modified` in RFC 9110 section 13.2.2's order: a match of
/// `If-None-Match` (weak comparison) or an unchanged `If-Modified-Since` gives `304`
/// with the validator and caching fields of the `200` and no body; a failed
/// `If-Match` / `If-Unmodified-Since` gives `412`.
///
/// A response without an `ETag` whose body is in memory and at most
/// [`max_hash_size`](Self::max_hash_size) bytes gets a strong `ETag` computed from the
/// bytes (`"<len hex>-<FNV-1a 64 hex>"`), so handlers that return the same bytes for
/// the same resource get revalidation for free. The handler still runs: this saves
/// bandwidth, not work. Handlers that can tell freshness cheaply should check
/// preconditions themselves (as [`ServeDir`](crate::fs::ServeDir) does).
///
/// Only GET and HEAD are touched. For unsafe methods a precondition must be checked
/// before the change is made, which only the handler can do, so those pass through.
/// Put this layer inside [`Compress`](super::Compress) so it sees the identity body.
#[derive(Clone, Copy, Debug)]
pub struct Conditional {
    hash_bodies: bool,
    max_hash_size: usize,
}

impl Default for Conditional {
    fn default() -> Self {
        Conditional {
            hash_bodies: true,
            max_hash_size: 1024 * 1024,
        }
    }
}

impl Conditional {
    /// The layer with the defaults below.
    pub fn new() -> Self {
        Self::default()
    }
    /// Compute an `ETag` for in-memory bodies that have none. Default: on.
    pub fn hash_bodies(mut self, on: bool) -> Self {
        self.hash_bodies = on;
        self
    }
    /// The largest body that is hashed for an `ETag`. Default: 1 MiB; bounds the CPU
    /// one response costs (hashing runs on the worker).
    pub fn max_hash_size(mut self, bytes: usize) -> Self {
        self.max_hash_size = bytes;
        self
    }
}

/// The handler [`Conditional`] makes.
#[derive(Debug)]
pub struct ConditionalHandler<H> {
    inner: H,
    cfg: Conditional,
}

impl<H: Handler> Layer<H> for Conditional {
    type Handler = ConditionalHandler<H>;
    fn layer(&self, inner: H) -> Self::Handler {
        ConditionalHandler { inner, cfg: *self }
    }
}

impl<H: Handler> Handler for ConditionalHandler<H> {
    fn handle(&self, req: &mut Request) -> Response {
        let mut resp = self.inner.handle(req);
        if !matches!(*req.method(), Method::GET | Method::HEAD) || resp.status() != StatusCode::OK {
            return resp;
        }
        if resp.header(ETAG.as_str()).is_none() && self.cfg.hash_bodies {
            if let Some(body) = resp.body().as_slice() {
                if body.len() <= self.cfg.max_hash_size {
                    let tag = format!("\"{:x}-{:016x}\"", body.len(), fnv1a(body));
                    if let Ok(v) = HeaderValue::from_str(&tag) {
                        resp.insert_header(ETAG, v);
                    }
                }
            }
        }
        let etag = resp.header(ETAG.as_str()).and_then(|v| v.to_str().ok());
        let last_modified = resp
            .header(LAST_MODIFIED.as_str())
            .and_then(|v| v.to_str().ok())
            .and_then(http_date::parse);
        match precondition::evaluate(req, etag, last_modified) {
            Precondition::Proceed => resp,
            Precondition::Failed => {
                Response::error(StatusCode::PRECONDITION_FAILED, "precondition failed")
            }
            Precondition::NotModified => not_modified(&resp),
        }
    }

    fn body_limit(&self, req: &Request) -> Option<u64> {
        self.inner.body_limit(req)
    }
}

/// A `304` with the fields RFC 9110 section 15.4.5 says it must carry when the `200`
/// would have: Cache-Control, Content-Location, Date, ETag, Expires, Vary (and
/// Last-Modified, which helps caches).
fn not_modified(full: &Response) -> Response {
    let mut r = Response::new(StatusCode::NOT_MODIFIED);
    for (n, v) in full.headers() {
        if [
            &CACHE_CONTROL,
            &CONTENT_LOCATION,
            &DATE,
            &ETAG,
            &EXPIRES,
            &VARY,
            &LAST_MODIFIED,
        ]
        .contains(&n)
        {
            r.insert_header(n.clone(), v.clone());
        }
    }
    r
}

fn fnv1a(data: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::HandlerExt;

    fn page(req: &Request) -> Response {
        match req.path() {
            "/tagged" => Response::text("tagged body")
                .with_header(ETAG, HeaderValue::from_static("\"t1\""))
                .with_header(CACHE_CONTROL, HeaderValue::from_static("max-age=5"))
                .with_header(VARY, HeaderValue::from_static("accept-encoding"))
                .with_header(
                    LAST_MODIFIED,
                    HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
                ),
            "/dated" => Response::text("dated").with_header(
                LAST_MODIFIED,
                HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
            ),
            "/missing" => Response::error(StatusCode::NOT_FOUND, "nope"),
            _ => Response::text("plain body"),
        }
    }

    fn call<H: Handler>(app: &H, method: Method, path: &str, h: &[(&str, &str)]) -> Response {
        let mut b = Request::builder().method(method).uri(path);
        for (n, v) in h {
            b = b.header(n, v);
        }
        app.handle(&mut b.build())
    }

    #[test]
    fn etag_round_trip_gives_304_with_cache_fields() {
        let app = page.layer(Conditional::new());
        let r = call(&app, Method::GET, "/tagged", &[]);
        assert_eq!(r.status(), 200);
        let r = call(&app, Method::GET, "/tagged", &[("if-none-match", "\"t1\"")]);
        assert_eq!(r.status(), 304);
        assert_eq!(r.body().len_hint(), Some(0));
        for h in ["etag", "cache-control", "vary", "last-modified"] {
            assert!(r.header(h).is_some(), "{h}");
        }
        assert!(r.content_type().is_none());
        let r = call(
            &app,
            Method::HEAD,
            "/tagged",
            &[("if-none-match", "W/\"t1\", \"x\"")],
        );
        assert_eq!(r.status(), 304);
        let r = call(&app, Method::GET, "/tagged", &[("if-none-match", "\"t2\"")]);
        assert_eq!(r.status(), 200);
        let r = call(&app, Method::GET, "/tagged", &[("if-match", "\"t2\"")]);
        assert_eq!(r.status(), 412);
    }

    #[test]
    fn if_modified_since() {
        let app = page.layer(Conditional::new().hash_bodies(false));
        let same = "Sun, 06 Nov 1994 08:49:37 GMT";
        let later = "Mon, 07 Nov 1994 08:49:37 GMT";
        let earlier = "Sat, 05 Nov 1994 08:49:37 GMT";
        assert_eq!(
            call(&app, Method::GET, "/dated", &[("if-modified-since", same)]).status(),
            304
        );
        assert_eq!(
            call(&app, Method::GET, "/dated", &[("if-modified-since", later)]).status(),
            304
        );
        assert_eq!(
            call(
                &app,
                Method::GET,
                "/dated",
                &[("if-modified-since", earlier)]
            )
            .status(),
            200
        );
        // No Last-Modified, nothing to compare.
        assert_eq!(
            call(&app, Method::GET, "/plain", &[("if-modified-since", later)]).status(),
            200
        );
    }

    #[test]
    fn hashed_etags() {
        let app = page.layer(Conditional::new());
        let r = call(&app, Method::GET, "/plain", &[]);
        let tag = r.header("etag").unwrap().to_str().unwrap().to_owned();
        assert!(tag.starts_with("\"a-"), "{tag}");
        assert_eq!(
            call(&app, Method::GET, "/plain", &[("if-none-match", &tag)]).status(),
            304
        );
        assert_ne!(
            call(&app, Method::GET, "/dated", &[])
                .header("etag")
                .unwrap(),
            &tag
        );
        // The size cap: "plain body" is 10 bytes.
        let capped = page.layer(Conditional::new().max_hash_size(9));
        assert!(call(&capped, Method::GET, "/plain", &[])
            .header("etag")
            .is_none());
        let at_cap = page.layer(Conditional::new().max_hash_size(10));
        assert!(call(&at_cap, Method::GET, "/plain", &[])
            .header("etag")
            .is_some());
        let off = page.layer(Conditional::new().hash_bodies(false));
        assert!(call(&off, Method::GET, "/plain", &[])
            .header("etag")
            .is_none());
    }

    #[test]
    fn only_get_head_and_200_are_touched() {
        let app = page.layer(Conditional::new());
        let r = call(
            &app,
            Method::POST,
            "/tagged",
            &[("if-none-match", "\"t1\"")],
        );
        assert_eq!(r.status(), 200);
        let r = call(&app, Method::GET, "/missing", &[("if-none-match", "*")]);
        assert_eq!(r.status(), 404);
        assert!(r.header("etag").is_none());
    }

    #[test]
    fn fnv_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
