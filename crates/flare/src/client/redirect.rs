//! Which redirects are followed, and what a followed redirect changes.

use http::{header, HeaderMap, Method, StatusCode};

use super::url::Url;

/// How many redirects to follow, and where to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedirectPolicy(Policy);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    None,
    Limited(usize),
    SameOrigin(usize),
}

impl RedirectPolicy {
    /// Follow none: a 3xx response is returned as it is.
    pub fn none() -> RedirectPolicy {
        RedirectPolicy(Policy::None)
    }

    /// Follow up to `max` redirects anywhere; one more is
    /// [`Error::TooManyRedirects`](super::Error::TooManyRedirects).
    pub fn limited(max: usize) -> RedirectPolicy {
        RedirectPolicy(Policy::Limited(max))
    }

    /// Follow up to `max` redirects within the request's origin (scheme, host and
    /// port); a redirect elsewhere is returned as the response.
    pub fn same_origin(max: usize) -> RedirectPolicy {
        RedirectPolicy(Policy::SameOrigin(max))
    }

    /// The limit, or `None` when no redirect is followed.
    pub(crate) fn limit(&self) -> Option<usize> {
        match self.0 {
            Policy::None => None,
            Policy::Limited(n) | Policy::SameOrigin(n) => Some(n),
        }
    }

    pub(crate) fn allows(&self, from: &Url, to: &Url) -> bool {
        match self.0 {
            Policy::None => false,
            Policy::Limited(_) => true,
            Policy::SameOrigin(_) => from.origin() == to.origin(),
        }
    }
}

impl Default for RedirectPolicy {
    /// Up to 10 redirects, as browsers and reqwest do.
    fn default() -> Self {
        RedirectPolicy::limited(10)
    }
}

/// Whether `status` is a redirect the client can follow.
pub(crate) fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The method of the next request, and whether the body goes with it. RFC 9110
/// section 15.4.4: 303 becomes GET (HEAD stays HEAD); 301 and 302 turn POST into
/// GET, as every browser does (section 15.4.2 notes it); 307 and 308 keep both.
pub(crate) fn next_method(status: StatusCode, method: &Method) -> (Method, bool) {
    match status.as_u16() {
        303 if *method != Method::HEAD => (Method::GET, false),
        301 | 302 if *method == Method::POST => (Method::GET, false),
        307 | 308 => (method.clone(), true),
        _ => (method.clone(), false),
    }
}

/// Drops what must not follow a redirect: the body's fields when the body is
/// dropped, and credentials (`Authorization`, `Cookie`, `Proxy-Authorization`)
/// when the origin changes.
pub(crate) fn strip(headers: &mut HeaderMap, keep_body: bool, cross_origin: bool) {
    if !keep_body {
        for h in [
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::CONTENT_ENCODING,
            header::TRANSFER_ENCODING,
        ] {
            headers.remove(h);
        }
    }
    if cross_origin {
        for h in [
            header::AUTHORIZATION,
            header::COOKIE,
            header::PROXY_AUTHORIZATION,
            header::WWW_AUTHENTICATE,
        ] {
            headers.remove(h);
        }
    }
}
