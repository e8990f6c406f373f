//! [`Cors`]: cross-origin resource sharing (the Fetch standard's CORS protocol).

use std::time::Duration;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, VARY,
};
use http::{HeaderName, HeaderValue, Method, StatusCode};

use super::Layer;
use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;

/// Answers CORS preflight requests and adds CORS headers to responses for allowed
/// origins.
///
/// - A request without `Origin` passes through untouched.
/// - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is
///   answered here, without calling the handler: `204` with the allow headers when the
///   origin, the method and every requested header are allowed, else `403` with no
///   CORS headers (the browser then blocks the real request).
/// - Any other request with an allowed `Origin` goes to the handler, and the response
///   gets `Access-Control-Allow-Origin` (plus credentials and exposed headers when
///   configured). A disallowed origin gets no CORS headers.
/// - Whenever the answer depends on the origin, `Vary: Origin` is set so caches keep
///   the variants apart.
///
/// [`Cors::permissive`] allows every origin, method and header and sends
/// `Access-Control-Allow-Origin: *`. [`Cors::new`] allows nothing until origins are
/// added with [`allow_origin`](Self::allow_origin); it allows the methods GET, HEAD
/// and POST and no non-safelisted request headers until told otherwise.
#[derive(Clone, Debug)]
pub struct Cors {
    origins: Option<Vec<HeaderValue>>,
    methods: Option<Vec<Method>>,
    headers: Option<Vec<HeaderName>>,
    expose: Vec<HeaderName>,
    credentials: bool,
    max_age: Option<Duration>,
}

impl Cors {
    /// An allow-list policy with no origin allowed yet.
    pub fn new() -> Self {
        Cors {
            origins: Some(Vec::new()),
            methods: Some(vec![Method::GET, Method::HEAD, Method::POST]),
            headers: Some(Vec::new()),
            expose: Vec::new(),
            credentials: false,
            max_age: None,
        }
    }

    /// Any origin, any method, any request header; preflights are cached for an hour.
    /// For public APIs that use no cookies.
    pub fn permissive() -> Self {
        Cors {
            origins: None,
            methods: None,
            headers: None,
            expose: Vec::new(),
            credentials: false,
            max_age: Some(Duration::from_secs(3600)),
        }
    }

    /// Allows an origin (`https://app.example`, compared case-insensitively).
    pub fn allow_origin(mut self, origin: HeaderValue) -> Self {
        if let Some(list) = &mut self.origins {
            list.push(origin);
        }
        self
    }
    /// Allows every origin.
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = None;
        self
    }
    /// The methods a preflight may ask for (replaces the list).
    pub fn allow_methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.methods = Some(methods.into_iter().collect());
        self
    }
    /// Allows every method (the preflight's requested method is echoed).
    pub fn allow_any_method(mut self) -> Self {
        self.methods = None;
        self
    }
    /// The request headers a preflight may ask for (replaces the list).
    pub fn allow_headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.headers = Some(headers.into_iter().collect());
        self
    }
    /// Allows every request header (the preflight's requested headers are echoed).
    pub fn allow_any_header(mut self) -> Self {
        self.headers = None;
        self
    }
    /// Response headers the page's script may read (`Access-Control-Expose-Headers`).
    pub fn expose_headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.expose = headers.into_iter().collect();
        self
    }
    /// Lets the browser send cookies and read the response
    /// (`Access-Control-Allow-Credentials: true`). With any origin allowed, the
    /// request's origin is echoed instead of `*` (the standard forbids `*` with
    /// credentials), which lets every site act with the user's cookies: pair
    /// credentials with an allow-list. Default: off.
    pub fn allow_credentials(mut self, yes: bool) -> Self {
        self.credentials = yes;
        self
    }
    /// How long a browser may cache a preflight answer (`Access-Control-Max-Age`).
    /// Default: unset for [`new`](Self::new), one hour for
    /// [`permissive`](Self::permissive).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    fn origin_allowed(&self, origin: &[u8]) -> bool {
        match &self.origins {
            None => true,
            Some(list) => list
                .iter()
                .any(|o| o.as_bytes().eq_ignore_ascii_case(origin)),
        }
    }

    /// The `Access-Control-Allow-Origin` value for an allowed origin.
    fn allow_origin_value(&self, origin: &[u8]) -> Option<HeaderValue> {
        if self.origins.is_none() && !self.credentials {
            return Some(HeaderValue::from_static("*"));
        }
        HeaderValue::from_bytes(origin).ok()
    }

    fn varies_by_origin(&self) -> bool {
        self.origins.is_some() || self.credentials
    }

    fn preflight(&self, req: &Request, origin: &[u8], method: &[u8]) -> Response {
        let forbidden = || Response::error(StatusCode::FORBIDDEN, "CORS request not allowed");
        let mut resp = Response::new(StatusCode::NO_CONTENT);
        resp.insert_header(
            VARY,
            HeaderValue::from_static(
                "origin, access-control-request-method, access-control-request-headers",
            ),
        );
        if !self.origin_allowed(origin) {
            return forbidden();
        }
        let Ok(method) = Method::from_bytes(method) else {
            return forbidden();
        };
        let allow_methods = match &self.methods {
            None => HeaderValue::from_str(method.as_str()).ok(),
            Some(list) if list.contains(&method) => join(list.iter().map(Method::as_str)),
            Some(_) => return forbidden(),
        };
        let requested = req
            .header_all("access-control-request-headers")
            .flat_map(|v| v.split(|&b| b == b','))
            .map(|h| h.trim_ascii())
            .filter(|h| !h.is_empty());
        let allow_headers = match &self.headers {
            None => {
                let names: Vec<&[u8]> = requested.collect();
                let joined = names.join(&b", "[..]);
                if joined.is_empty() {
                    None
                } else {
                    // The request header values came through the parser; a value the
                    // header type refuses is refused here too.
                    match HeaderValue::from_bytes(&joined) {
                        Ok(v) => Some(v),
                        Err(_) => return forbidden(),
                    }
                }
            }
            Some(list) => {
                let mut all_allowed = true;
                for h in requested {
                    all_allowed &= list
                        .iter()
                        .any(|a| a.as_str().as_bytes().eq_ignore_ascii_case(h));
                }
                if !all_allowed {
                    return forbidden();
                }
                join(list.iter().map(HeaderName::as_str))
            }
        };
        if let Some(v) = self.allow_origin_value(origin) {
            resp.insert_header(ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        if let Some(v) = allow_methods {
            resp.insert_header(ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        if let Some(v) = allow_headers {
            resp.insert_header(ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        if self.credentials {
            resp.insert_header(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(age) = self.max_age {
            resp.insert_header(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age.as_secs()));
        }
        resp
    }

    fn decorate(&self, resp: &mut Response, origin: &[u8]) {
        if self.varies_by_origin() {
            resp.insert_header(VARY, HeaderValue::from_static("origin"));
        }
        if !self.origin_allowed(origin) {
            return;
        }
        if let Some(v) = self.allow_origin_value(origin) {
            resp.insert_header(ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        if self.credentials {
            resp.insert_header(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(v) = join(self.expose.iter().map(HeaderName::as_str)) {
            resp.insert_header(ACCESS_CONTROL_EXPOSE_HEADERS, v);
        }
    }
}

impl Default for Cors {
    fn default() -> Self {
        Self::new()
    }
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> Option<HeaderValue> {
    let s = items.collect::<Vec<_>>().join(", ");
    if s.is_empty() {
        return None;
    }
    HeaderValue::from_str(&s).ok()
}

/// The handler [`Cors`] makes.
#[derive(Debug)]
pub struct CorsHandler<H> {
    inner: H,
    cfg: Cors,
}

impl<H: Handler> Layer<H> for Cors {
    type Handler = CorsHandler<H>;
    fn layer(&self, inner: H) -> Self::Handler {
        CorsHandler {
            inner,
            cfg: self.clone(),
        }
    }
}

impl<H: Handler> Handler for CorsHandler<H> {
    fn handle(&self, req: &mut Request) -> Response {
        let Some(origin) = req.header_bytes("origin").map(<[u8]>::to_vec) else {
            return self.inner.handle(req);
        };
        if *req.method() == Method::OPTIONS {
            if let Some(m) = req.header_bytes("access-control-request-method") {
                return self.cfg.preflight(req, &origin, m);
            }
        }
        let mut resp = self.inner.handle(req);
        self.cfg.decorate(&mut resp, &origin);
        resp
    }

    fn body_limit(&self, req: &Request) -> Option<u64> {
        self.inner.body_limit(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::HandlerExt;

    fn api(_: &Request) -> Response {
        Response::text("data").with_header(
            HeaderName::from_static("x-total"),
            HeaderValue::from_static("3"),
        )
    }

    fn call<H: Handler>(app: &H, method: Method, headers: &[(&str, &str)]) -> Response {
        let mut b = Request::builder().method(method).uri("/api");
        for (n, v) in headers {
            b = b.header(n, v);
        }
        app.handle(&mut b.build())
    }

    fn h<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
        r.header(name).map(|v| v.to_str().unwrap())
    }

    const APP: &str = "https://app.example";

    fn strict() -> Cors {
        Cors::new()
            .allow_origin(HeaderValue::from_static(APP))
            .allow_methods([Method::GET, Method::PUT])
            .allow_headers([
                HeaderName::from_static("content-type"),
                HeaderName::from_static("x-token"),
            ])
            .expose_headers([HeaderName::from_static("x-total")])
            .allow_credentials(true)
            .max_age(Duration::from_secs(600))
    }

    #[test]
    fn no_origin_passes_through() {
        let app = api.layer(strict());
        let r = call(&app, Method::GET, &[]);
        assert_eq!(r.status(), 200);
        assert!(r
            .headers()
            .iter()
            .all(|(n, _)| !n.as_str().starts_with("access-control")));
        // An OPTIONS without CORS request headers reaches the handler.
        let r = call(&app, Method::OPTIONS, &[]);
        assert_eq!(r.body_bytes().unwrap(), "data");
    }

    #[test]
    fn allow_list_preflight() {
        let app = api.layer(strict());
        let r = call(
            &app,
            Method::OPTIONS,
            &[
                ("origin", "https://APP.example"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "X-Token, content-type"),
            ],
        );
        assert_eq!(r.status(), 204);
        assert_eq!(
            h(&r, "access-control-allow-origin"),
            Some("https://APP.example")
        );
        assert_eq!(h(&r, "access-control-allow-methods"), Some("GET, PUT"));
        assert_eq!(
            h(&r, "access-control-allow-headers"),
            Some("content-type, x-token")
        );
        assert_eq!(h(&r, "access-control-allow-credentials"), Some("true"));
        assert_eq!(h(&r, "access-control-max-age"), Some("600"));
        assert!(h(&r, "vary").unwrap().contains("origin"));

        let refused: &[&[(&str, &str)]] = &[
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ],
            &[("origin", APP), ("access-control-request-method", "DELETE")],
            &[("origin", APP), ("access-control-request-method", "G E T")],
            &[
                ("origin", APP),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "x-token, x-other"),
            ],
        ];
        for headers in refused {
            let r = call(&app, Method::OPTIONS, headers);
            assert_eq!(r.status(), 403, "{headers:?}");
            assert!(h(&r, "access-control-allow-origin").is_none());
        }
    }

    #[test]
    fn allow_list_actual_requests() {
        let app = api.layer(strict());
        let r = call(&app, Method::GET, &[("origin", APP)]);
        assert_eq!(r.body_bytes().unwrap(), "data");
        assert_eq!(h(&r, "access-control-allow-origin"), Some(APP));
        assert_eq!(h(&r, "access-control-allow-credentials"), Some("true"));
        assert_eq!(h(&r, "access-control-expose-headers"), Some("x-total"));
        assert_eq!(h(&r, "vary"), Some("origin"));
        let r = call(&app, Method::GET, &[("origin", "https://evil.example")]);
        assert_eq!(r.status(), 200);
        assert!(h(&r, "access-control-allow-origin").is_none());
        assert_eq!(h(&r, "vary"), Some("origin"));
        let r = call(&app, Method::GET, &[("origin", "null")]);
        assert!(h(&r, "access-control-allow-origin").is_none());
    }

    #[test]
    fn permissive() {
        let app = api.layer(Cors::permissive());
        let r = call(
            &app,
            Method::OPTIONS,
            &[
                ("origin", "https://any.example"),
                ("access-control-request-method", "PATCH"),
                ("access-control-request-headers", "x-a,x-b"),
            ],
        );
        assert_eq!(r.status(), 204);
        assert_eq!(h(&r, "access-control-allow-origin"), Some("*"));
        assert_eq!(h(&r, "access-control-allow-methods"), Some("PATCH"));
        assert_eq!(h(&r, "access-control-allow-headers"), Some("x-a, x-b"));
        assert_eq!(h(&r, "access-control-max-age"), Some("3600"));
        let r = call(&app, Method::GET, &[("origin", "https://any.example")]);
        assert_eq!(h(&r, "access-control-allow-origin"), Some("*"));
        assert!(h(&r, "vary").is_none());
        // With credentials the origin is echoed, never `*`.
        let creds = api.layer(Cors::permissive().allow_credentials(true));
        let r = call(&creds, Method::GET, &[("origin", "https://any.example")]);
        assert_eq!(
            h(&r, "access-control-allow-origin"),
            Some("https://any.example")
        );
        assert_eq!(h(&r, "vary"), Some("origin"));
    }

    #[test]
    fn new_allows_nothing_until_told() {
        let app = api.layer(Cors::default());
        let r = call(&app, Method::GET, &[("origin", APP)]);
        assert!(h(&r, "access-control-allow-origin").is_none());
        let any = api.layer(
            Cors::new()
                .allow_any_origin()
                .allow_any_method()
                .allow_any_header(),
        );
        let r = call(
            &any,
            Method::OPTIONS,
            &[("origin", APP), ("access-control-request-method", "DELETE")],
        );
        assert_eq!(r.status(), 204);
        assert_eq!(h(&r, "access-control-allow-methods"), Some("DELETE"));
        assert!(h(&r, "access-control-allow-headers").is_none());
    }
}
