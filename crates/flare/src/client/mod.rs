//! A blocking HTTP client: HTTP/1.1 with a keep-alive pool, HTTP/2 (ALPN `h2`
//! over TLS, or prior knowledge over plain TCP) multiplexed per origin, TLS through
//! flare-tls, names through flare-dns with happy eyeballs, redirects, proxies,
//! gzip/deflate, and typed timeouts and errors.
//!
//! ```no_run
//! use flare::client::Client;
//! # fn main() -> flare::client::Result<()> {
//! let client = Client::new(); // Clone + Send + Sync: share one per program
//! let resp = client
//!     .get("https://example.com/search")
//!     .query(&[("q", "flare")])
//!     .header("accept", "text/html")
//!     .send()?
//!     .error_for_status()?;
//! println!("{} {:?}", resp.status(), resp.headers().get("content-type"));
//! let body = resp.text()?;
//! # let _ = body;
//! let created: serde_json::Value = client
//!     .post("https://example.com/items")
//!     .json(&serde_json::json!({"name": "x"}))?
//!     .send()?
//!     .json()?;
//! # let _ = created;
//! # Ok(()) }
//! ```
//!
//! # Calling an upstream from a handler
//!
//! Handlers run on their worker thread and [`send`](RequestBuilder::send) blocks
//! its caller. The non-blocking form needs no thread per call:
//! [`start`](RequestBuilder::start)`.`[`then`](Pending::then) (see
//! [`nonblocking`]). Otherwise a handler that calls an upstream must run on the
//! blocking pool: wrap it in [`blocking`](crate::web::blocking::blocking). The
//! worker keeps serving its other connections while the pool thread waits for the
//! upstream.
//!
//! ```no_run
//! use flare::prelude::*;
//! use flare::client::Client;
//!
//! let upstream = Client::new();
//! let router: Router = Router::new().get(
//!     "/proxy",
//!     blocking(move |_req: &Request| match upstream.get("http://127.0.0.1:9000/").send() {
//!         Ok(r) => r.text().unwrap_or_default(),
//!         Err(e) => e.to_string(),
//!     }),
//! );
//! # let _ = router;
//! ```
//!
//! # Connections
//!
//! Idle HTTP/1.1 connections are kept per origin (default 32 per host, 256 in all)
//! for 30 s, shorter than common server keep-alive timeouts (nginx 75 s, Apache
//! 5 s is the exception), and checked with a zero-timeout `poll` before reuse: a
//! connection the server closed is readable and is dropped. The remaining race (the
//! server closes just as the request leaves) is handled by retrying an idempotent
//! request (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) with an in-memory body once, on
//! a fresh connection, when nothing of the response arrived. Other requests are
//! never replayed. A request that may be retried skips the `poll` on a connection
//! idle for less than 100 ms (back-to-back requests: a server closing that soon is
//! the race the retry covers); others always check. An HTTP/2 connection is shared by all threads; another is opened
//! only when the server refuses a stream past its `SETTINGS_MAX_CONCURRENT_STREAMS`.

mod body;
mod connect;
mod cookie;
mod decode;
mod error;
mod h1;
mod h2;
pub mod nonblocking;
mod pool;
mod redirect;
mod request;
mod response;
mod transport;
mod url;
mod ws;
mod ws_h2;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use http::{header, HeaderMap, HeaderValue, Method};

pub use body::Body;
pub use cookie::{
    Cookie, Jar, SameSite, DEFAULT_MAX_COOKIES, DEFAULT_MAX_COOKIES_PER_DOMAIN,
    DEFAULT_MAX_COOKIE_SIZE,
};
pub use error::{Error, ProtocolError, Result, TimeoutKind};
pub use nonblocking::{Pending, DEFAULT_MAX_IN_FLIGHT};
pub use redirect::RedirectPolicy;
pub use request::RequestBuilder;
pub use response::Response;
pub use url::{IntoUrl, Url};
pub use ws::{WsClient, WsClientBuilder, WsHttp2, WsMessage};

use connect::{Connector, Proxies, Proxy};
use decode::{Capped, Coding, Decoder};
use h1::{Failure, H1Conn, Outgoing, Release};
use h2::H2Conn;
use pool::{Pool, PoolConfig, PoolKey};

/// Default response size limit (decoded bytes): 64 MiB.
pub const DEFAULT_MAX_RESPONSE_SIZE: u64 = 64 * 1024 * 1024;

/// Default for [`ClientBuilder::write_timeout`]: 30 s.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// An idle HTTP/1.1 connection younger than this is reused without the `poll`
/// for a close when the request may be retried (see "Connections" above).
const TRUST_RECENT_IDLE: Duration = Duration::from_millis(100);

/// TLS handshakes a [`Client`] (and its clones) completed, by kind; see
/// [`Client::tls_handshakes`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsHandshakes {
    /// Full handshakes.
    pub full: u64,
    /// Handshakes that resumed a session (a TLS 1.3 ticket, a TLS 1.2 session id
    /// or ticket).
    pub resumed: u64,
}

/// A blocking HTTP client. Cheap to clone (the pool, DNS cache and TLS session
/// cache are shared); `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    connector: Connector,
    pool: Arc<Pool>,
    proxies: Option<Proxies>,
    redirect: RedirectPolicy,
    timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    max_response_size: u64,
    decompress: bool,
    http2: bool,
    http2_prior_knowledge: bool,
    default_headers: HeaderMap,
    expect_threshold: Option<u64>,
    cookies: Option<Arc<Jar>>,
    tls_full: AtomicU64,
    tls_resumed: AtomicU64,
    /// Serialises opening a connection per origin while it may turn out to be
    /// HTTP/2, so threads starting together share one.
    h2_connecting: Mutex<std::collections::HashMap<PoolKey, Arc<Mutex<()>>>>,
    /// Origins whose server answered ALPN without `h2`.
    h1_only: Mutex<std::collections::HashSet<PoolKey>>,
    nonblocking: nonblocking::Shared,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.pool.shutdown();
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client with the defaults of [`ClientBuilder`].
    ///
    /// # Panics
    /// If the default TLS configuration cannot be built (it always can: the roots
    /// are compiled in). Use [`Client::builder`] to handle errors.
    pub fn new() -> Client {
        Client::builder()
            .build()
            .unwrap_or_else(|e| panic!("default client: {e}"))
    }

    /// A builder for a configured client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A GET request.
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A HEAD request.
    pub fn head(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// A POST request.
    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A PUT request.
    pub fn put(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A PATCH request.
    pub fn patch(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A DELETE request.
    pub fn delete(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// A request with any method.
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url)
    }

    /// Idle HTTP/1.1 connections in the pool now (for tests and metrics).
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.idle_count()
    }

    /// The TLS handshakes this client and its clones completed so far, full and
    /// resumed. They share one TLS configuration and so one session store: a new
    /// connection to a server seen before resumes (for tests and metrics).
    pub fn tls_handshakes(&self) -> TlsHandshakes {
        TlsHandshakes {
            full: self.inner.tls_full.load(Ordering::Relaxed),
            resumed: self.inner.tls_resumed.load(Ordering::Relaxed),
        }
    }

    /// The cookie jar, when the client keeps cookies.
    pub fn cookie_jar(&self) -> Option<&Arc<Jar>> {
        self.inner.cookies.as_ref()
    }

    /// Opens a connection (see [`Connector::connect`]) with the client's write
    /// stall limit, and counts its TLS handshake.
    fn connect(
        &self,
        url: &Url,
        proxy: Option<&Proxy>,
        deadline: Option<Instant>,
    ) -> Result<transport::Transport> {
        let inner = &*self.inner;
        let mut t = inner.connector.connect(url, proxy, deadline)?;
        t.set_write_stall(inner.write_timeout);
        match t.tls_resumed() {
            Some(true) => inner.tls_resumed.fetch_add(1, Ordering::Relaxed),
            Some(false) => inner.tls_full.fetch_add(1, Ordering::Relaxed),
            None => 0,
        };
        Ok(t)
    }

    fn execute(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Body,
        timeout: Option<Duration>,
    ) -> Result<Response> {
        let inner = &*self.inner;
        let deadline = timeout.or(inner.timeout).map(|t| Instant::now() + t);
        let mut method = method;
        let mut url = url;
        let mut headers = headers;
        let mut body = body;
        let mut redirects = 0usize;
        loop {
            // Keep a copy of an in-memory body in case a 307/308 needs it again.
            let again = body.try_clone();
            let mut resp = self.send_once(&method, &url, &headers, body, deadline)?;
            // Cookies set by any response, redirects included (RFC 6265 section 3).
            if let Some(jar) = &inner.cookies {
                jar.store_response(&url, &resp.headers);
            }
            if !redirect::is_redirect(resp.status) {
                return Ok(resp);
            }
            let Some(limit) = inner.redirect.limit() else {
                return Ok(resp);
            };
            let Some(location) = resp
                .headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
            else {
                return Ok(resp);
            };
            let next = url
                .join(location)
                .map_err(|_| Error::protocol(&url.to_string(), ProtocolError::BadRedirect))?;
            if matches!(next.scheme_kind(), url::Scheme::Ws | url::Scheme::Wss) {
                return Err(Error::protocol(
                    &url.to_string(),
                    ProtocolError::BadRedirect,
                ));
            }
            if !inner.redirect.allows(&url, &next) {
                return Ok(resp);
            }
            let (next_method, keep_body) = redirect::next_method(resp.status, &method);
            let next_body = if keep_body {
                match again {
                    Some(b) => b,
                    // A streamed body cannot be sent twice: the redirect is the answer.
                    None => return Ok(resp),
                }
            } else {
                Body::empty()
            };
            if redirects >= limit {
                return Err(Error::TooManyRedirects {
                    url: next.to_string(),
                    limit,
                });
            }
            redirects += 1;
            resp.drain(64 * 1024);
            drop(resp);
            // The caller's own `Cookie` field goes only to the first origin; jar
            // cookies are chosen afresh for each URL (`final_headers`).
            let cross_origin = url.origin() != next.origin();
            redirect::strip(&mut headers, keep_body, cross_origin);
            log::debug!("redirect {redirects}: {url} -> {next}");
            method = next_method;
            url = next;
            body = next_body;
        }
    }

    /// One request (no redirects): an existing HTTP/2 connection, an idle HTTP/1.1
    /// one, or a new connection; one retry on a fresh connection when a reused one
    /// turns out to be dead and replaying is safe.
    fn send_once(
        &self,
        method: &Method,
        url: &Url,
        user_headers: &HeaderMap,
        body: Body,
        deadline: Option<Instant>,
    ) -> Result<Response> {
        let inner = &*self.inner;
        // One copy of the URL text for every error and the body's.
        let url_text: Arc<str> = Arc::from(url.text());
        let proxy = inner.proxies.as_ref().and_then(|p| p.for_url(url)).cloned();
        let key = PoolKey {
            origin: url.origin(),
            proxy: proxy.as_ref().map(|p| p.url.origin()),
        };
        let (mut headers, decode) = self.final_headers(url, user_headers);
        let idempotent = matches!(
            *method,
            Method::GET
                | Method::HEAD
                | Method::PUT
                | Method::DELETE
                | Method::OPTIONS
                | Method::TRACE
        );
        let tls = url.scheme_kind().is_tls();
        let may_h2 =
            (tls && inner.http2) || (!tls && inner.http2_prior_knowledge && proxy.is_none());
        let absolute = proxy.is_some() && !tls;
        let target: &str = if absolute { &url_text } else { url.target() };
        // A request in absolute form goes to the proxy, so the proxy's credentials
        // go with it; through a CONNECT tunnel they go only in the CONNECT, never
        // to the origin.
        if let (true, Some(auth)) = (absolute, proxy.as_ref().and_then(|p| p.auth.clone())) {
            if !headers.contains_key(header::PROXY_AUTHORIZATION) {
                headers.insert(header::PROXY_AUTHORIZATION, auth);
            }
        }
        let mut body = Some(body);
        let mut fresh_only = false;
        for attempt in 0..2 {
            let take_body = |body: &mut Option<Body>| -> Body {
                let b = body.take().unwrap_or_default();
                if attempt == 0 {
                    if let Some(copy) = b.try_clone() {
                        *body = Some(copy);
                    }
                }
                b
            };
            let replayable = body.as_ref().is_some_and(Body::replayable);
            let may_retry = attempt == 0 && idempotent && replayable;

            // 1. A shared HTTP/2 connection (opened here when there is none and the
            // origin may speak it).
            if may_h2 && !self.known_h1(&key) {
                inner.pool.reap_h2();
                let h2 = match inner.pool.h2(&key) {
                    Some(c) => Some(c),
                    None => {
                        let lock = self.connect_lock(&key);
                        let _g = lock.lock().unwrap_or_else(PoisonError::into_inner);
                        match inner.pool.h2(&key) {
                            Some(c) => Some(c),
                            None => self.open(url, proxy.as_ref(), deadline, &key)?,
                        }
                    }
                };
                if let Some(h2) = h2 {
                    let b = take_body(&mut body);
                    let r = h2.request(
                        method,
                        &url.authority(),
                        url.target(),
                        &headers,
                        b,
                        inner.read_timeout,
                        deadline,
                        &url_text,
                    );
                    let r = match r {
                        // No room for a stream (MAX_CONCURRENT_STREAMS, GOAWAY): one
                        // more connection.
                        Err(None) => match self.open(url, proxy.as_ref(), deadline, &key)? {
                            Some(h2b) => h2b.request(
                                method,
                                &url.authority(),
                                url.target(),
                                &headers,
                                body.take().unwrap_or_default(),
                                inner.read_timeout,
                                deadline,
                                &url_text,
                            ),
                            None => Err(None),
                        },
                        r => r,
                    };
                    match r {
                        Ok((head, stream)) => {
                            return Ok(self.response(
                                head,
                                Box::new(stream),
                                None,
                                (url, url_text),
                                method,
                                decode,
                            ))
                        }
                        Err(Some(f)) if f.nothing_received && may_retry => continue,
                        Err(Some(f)) => return Err(f.error),
                        Err(None) => {
                            return Err(Error::protocol(
                                &url_text,
                                ProtocolError::Other("HTTP/2 server refused new streams"),
                            ))
                        }
                    }
                }
                // The server chose HTTP/1.1; its connection is in the idle pool.
            }

            // 2. HTTP/1.1: an idle connection, or a new one.
            let trust = if may_retry {
                TRUST_RECENT_IDLE
            } else {
                Duration::ZERO
            };
            let checkout = (!fresh_only).then(|| inner.pool.checkout(&key, trust));
            let (conn, reused) = match checkout.flatten() {
                Some(c) => (c, true),
                None => {
                    let t = self.connect(url, proxy.as_ref(), deadline)?;
                    if t.alpn() == Some(b"h2") {
                        // The server now speaks HTTP/2: keep the connection and go
                        // through the HTTP/2 path.
                        let h2 = H2Conn::start(t, inner.write_timeout)
                            .map_err(|e| Error::io(&url_text, e))?;
                        inner.pool.add_h2(&key, h2);
                        self.inner
                            .h1_only
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&key);
                        if attempt == 0 {
                            continue;
                        }
                        return Err(Error::protocol(
                            &url_text,
                            ProtocolError::Other("server switched to HTTP/2 during a retry"),
                        ));
                    }
                    (H1Conn::new(t), false)
                }
            };
            let b = take_body(&mut body);
            let out = Outgoing {
                method,
                target,
                headers: &headers,
                body: b,
                expect_threshold: inner.expect_threshold,
                read_timeout: inner.read_timeout,
                deadline,
                url: &url_text,
            };
            match h1::exchange(conn, out, &url_text) {
                // RFC 9110 section 15.5.8: the proxy wants (other) credentials.
                Ok((head, _))
                    if absolute
                        && head.status == http::StatusCode::PROXY_AUTHENTICATION_REQUIRED =>
                {
                    return Err(Error::Proxy {
                        url: url_text.to_string(),
                        status: 407,
                    });
                }
                Ok((head, mut raw)) => {
                    raw.release = Some(Release {
                        pool: inner.pool.clone(),
                        key: key.clone(),
                    });
                    raw.finish_if_empty();
                    let len = raw.content_length();
                    return Ok(self.response(
                        head,
                        Box::new(raw),
                        len,
                        (url, url_text),
                        method,
                        decode,
                    ));
                }
                Err(Failure {
                    error,
                    nothing_received,
                }) => {
                    if reused && nothing_received && may_retry {
                        log::debug!("retrying {method} {url_text} on a fresh connection: {error}");
                        fresh_only = true;
                        continue;
                    }
                    return Err(error);
                }
            }
        }
        Err(Error::protocol(
            &url_text,
            ProtocolError::Other("retry failed"),
        ))
    }

    fn known_h1(&self, key: &PoolKey) -> bool {
        self.inner
            .h1_only
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(key)
    }

    fn connect_lock(&self, key: &PoolKey) -> Arc<Mutex<()>> {
        self.inner
            .h2_connecting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .clone()
    }

    /// Opens a connection that may be HTTP/2. `Some` when it is (it is also in the
    /// pool); when the server chose HTTP/1.1 the connection goes to the idle pool
    /// and the origin is remembered as HTTP/1.1-only.
    fn open(
        &self,
        url: &Url,
        proxy: Option<&Proxy>,
        deadline: Option<Instant>,
        key: &PoolKey,
    ) -> Result<Option<Arc<H2Conn>>> {
        let inner = &*self.inner;
        let t = self.connect(url, proxy, deadline)?;
        let h2 = if url.scheme_kind().is_tls() {
            t.alpn() == Some(b"h2")
        } else {
            inner.http2_prior_knowledge
        };
        if !h2 {
            self.inner
                .h1_only
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key.clone());
            inner.pool.checkin(key, H1Conn::new(t));
            return Ok(None);
        }
        let conn =
            H2Conn::start(t, inner.write_timeout).map_err(|e| Error::io(&url.to_string(), e))?;
        inner.pool.add_h2(key, conn.clone());
        Ok(Some(conn))
    }

    /// The fields sent: `Host`, the user's, then defaults the user did not set.
    /// The second value says whether the client asked for a content coding (and so
    /// decodes it).
    fn final_headers(&self, url: &Url, user: &HeaderMap) -> (HeaderMap, bool) {
        let inner = &*self.inner;
        let mut h = HeaderMap::with_capacity(user.len() + inner.default_headers.len() + 2);
        if !user.contains_key(header::HOST) {
            // `Bytes` takes the exact-size string without a copy.
            let authority = bytes::Bytes::from(url.authority().into_bytes());
            if let Ok(v) = HeaderValue::from_maybe_shared(authority) {
                h.insert(header::HOST, v);
            }
        }
        for (n, v) in user {
            h.append(n.clone(), v.clone());
        }
        for (n, v) in &inner.default_headers {
            if !user.contains_key(n) {
                h.append(n.clone(), v.clone());
            }
        }
        // RFC 6265 section 5.4: one `Cookie` field. The caller's own wins over the
        // jar's.
        if let Some(jar) = &inner.cookies {
            if !user.contains_key(header::COOKIE) {
                if let Some(v) = jar.header_value(url) {
                    h.insert(header::COOKIE, v);
                }
            }
        }
        let decode = cfg!(feature = "deflate")
            && inner.decompress
            && !user.contains_key(header::ACCEPT_ENCODING);
        if decode {
            h.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_static("gzip, deflate"),
            );
        }
        (h, decode)
    }

    fn response(
        &self,
        head: h1::Head,
        raw: Box<dyn std::io::Read + Send>,
        content_length: Option<u64>,
        (url, url_text): (&Url, Arc<str>),
        method: &Method,
        decode: bool,
    ) -> Response {
        let mut headers = head.headers;
        let limit = self.inner.max_response_size;
        let coding = (decode && *method != Method::HEAD)
            .then(|| headers.get(header::CONTENT_ENCODING))
            .flatten()
            .and_then(|v| Coding::from_header(v.as_bytes()));
        let mut content_length = content_length.or_else(|| {
            headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
        });
        let body: Box<dyn std::io::Read + Send> = match coding {
            Some(c) => {
                headers.remove(header::CONTENT_ENCODING);
                headers.remove(header::CONTENT_LENGTH);
                content_length = None;
                Box::new(Decoder::new(raw, c, url_text.to_string()))
            }
            None => raw,
        };
        if *method == Method::HEAD {
            content_length = Some(0);
        }
        Response {
            status: head.status,
            version: head.version,
            headers,
            url: url.clone(),
            body: Box::new(Capped {
                inner: body,
                seen: 0,
                limit,
                url: url_text,
            }),
            limit,
            content_length,
        }
    }
}

/// Builds a [`Client`]. Every knob says its default.
#[derive(Debug)]
pub struct ClientBuilder {
    tls: flare_tls::ClientConfigBuilder,
    extra_roots: Vec<Vec<u8>>,
    insecure: bool,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    timeout: Option<Duration>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
    cookies: Option<Arc<Jar>>,
    pool: PoolConfig,
    redirect: RedirectPolicy,
    max_response_size: u64,
    decompress: bool,
    http2: bool,
    http2_prior_knowledge: bool,
    proxies: ProxySetting,
    default_headers: HeaderMap,
    expect_threshold: Option<u64>,
    resolver: Option<Arc<flare_dns::Resolver>>,
    nodelay: bool,
    nonblocking: nonblocking::Config,
}

/// Where proxies come from: the environment (the default), nowhere, or the builder.
#[derive(Debug, Default)]
pub(crate) enum ProxySetting {
    #[default]
    Env,
    None,
    Fixed(Box<Proxies>),
}

impl ProxySetting {
    /// `proxy_url` for both schemes, with `NO_PROXY`-style exceptions.
    pub(crate) fn fixed(proxy_url: &str, no_proxy: &str) -> Result<ProxySetting> {
        let u = Proxy::parse(proxy_url)?;
        Ok(ProxySetting::Fixed(Box::new(Proxies {
            http: Some(u.clone()),
            https: Some(u),
            no_proxy: connect::parse_no_proxy(no_proxy),
        })))
    }

    /// The proxies to use (the environment is read now).
    pub(crate) fn proxies(&self) -> Option<Proxies> {
        match self {
            ProxySetting::None => None,
            ProxySetting::Fixed(p) => Some((**p).clone()),
            ProxySetting::Env => Some(Proxies::from_env_with(|k| std::env::var(k).ok())),
        }
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        let mut default_headers = HeaderMap::new();
        default_headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("flare/", env!("CARGO_PKG_VERSION"))),
        );
        default_headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        ClientBuilder {
            tls: flare_tls::ClientConfig::builder(),
            extra_roots: Vec::new(),
            insecure: false,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(30)),
            write_timeout: Some(DEFAULT_WRITE_TIMEOUT),
            timeout: None,
            identity: None,
            cookies: None,
            pool: PoolConfig {
                max_idle_per_host: 32,
                max_idle_total: 256,
                idle_timeout: Duration::from_secs(30),
            },
            redirect: RedirectPolicy::default(),
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            decompress: true,
            http2: true,
            http2_prior_knowledge: false,
            proxies: ProxySetting::Env,
            default_headers,
            expect_threshold: Some(1024 * 1024),
            resolver: None,
            nodelay: true,
            nonblocking: nonblocking::Config::default(),
        }
    }
}

impl ClientBuilder {
    /// Longest time to open a connection: DNS excluded, TCP (all happy-eyeballs
    /// attempts), a proxy's CONNECT and the TLS handshake included. Default 10 s;
    /// `None` waits as long as the OS does. Fires as [`TimeoutKind::Connect`].
    pub fn connect_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.connect_timeout = t.into();
        self
    }

    /// Longest wait for any one read from the server (the head, or the next piece
    /// of the body): a server that stalls. Default 30 s. Fires as
    /// [`TimeoutKind::Read`].
    pub fn read_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.read_timeout = t.into();
        self
    }

    /// Longest a write may make no progress: a server that stops reading an upload
    /// (its TCP receive window stays shut) without answering. Over HTTP/2 a stalled
    /// socket write ends the whole connection, and every stream on it fails with
    /// the same error (HTTP/2 flow control, a window the server leaves shut, is
    /// the read timeout's business: nothing is written then). Default
    /// [`DEFAULT_WRITE_TIMEOUT`] (30 s); `None` waits as long as the request's
    /// [`timeout`](Self::timeout) allows, or forever. A slow upload that keeps
    /// moving is not cut short. Fires as [`TimeoutKind::Write`].
    pub fn write_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.write_timeout = t.into();
        self
    }

    /// Keep cookies (RFC 6265) in a jar of the default limits, shared by the
    /// client's clones: `Set-Cookie` from every response (redirects included) is
    /// stored, and matching cookies are sent with each request, across
    /// redirects by the rules of the new URL. Default off, as in reqwest. See
    /// [`Jar`] for what is and is not implemented.
    pub fn cookie_store(mut self, on: bool) -> Self {
        self.cookies = on.then(|| Arc::new(Jar::new()));
        self
    }

    /// Keep cookies in `jar`, which the caller can inspect, pre-load and share
    /// between clients (and whose limits it sets). Implies
    /// [`cookie_store(true)`](Self::cookie_store).
    pub fn cookie_jar(mut self, jar: Arc<Jar>) -> Self {
        self.cookies = Some(jar);
        self
    }

    /// A client certificate chain and its private key (PEM; PKCS#8, PKCS#1 or
    /// SEC1 key) for servers that ask for one (mutual TLS). Default none; a
    /// server that requires one then refuses, as its protocol says (nginx with
    /// `ssl_verify_client on` answers 400). Errors in the PEM surface at
    /// [`build`](Self::build) as [`Error::Tls`].
    pub fn identity(mut self, cert_chain_pem: &[u8], key_pem: &[u8]) -> Self {
        self.identity = Some((cert_chain_pem.to_vec(), key_pem.to_vec()));
        self
    }

    /// Longest time for a whole request, from connecting to the last byte of the
    /// body. Default none (a slow large download is not an error); per request with
    /// [`RequestBuilder::timeout`]. Fires as [`TimeoutKind::Request`].
    pub fn timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.timeout = t.into();
        self
    }

    /// Idle connections kept per origin. Default 32; 0 turns HTTP/1.1 keep-alive
    /// reuse off.
    pub fn pool_max_idle_per_host(mut self, n: usize) -> Self {
        self.pool.max_idle_per_host = n;
        self
    }

    /// Idle connections kept in all. Default 256 (bounds the file descriptors an
    /// idle client holds).
    pub fn pool_max_idle(mut self, n: usize) -> Self {
        self.pool.max_idle_total = n;
        self
    }

    /// How long an idle connection is kept. Default 30 s: shorter than common
    /// server keep-alive timeouts, so the server rarely closes one first.
    pub fn pool_idle_timeout(mut self, t: Duration) -> Self {
        self.pool.idle_timeout = t;
        self
    }

    /// The redirect policy. Default [`RedirectPolicy::limited(10)`](RedirectPolicy::limited).
    pub fn redirect(mut self, policy: RedirectPolicy) -> Self {
        self.redirect = policy;
        self
    }

    /// Largest response body, counted after decoding (a gzip bomb stops here).
    /// Default [`DEFAULT_MAX_RESPONSE_SIZE`] (64 MiB). Past it reading fails with
    /// [`Error::BodyTooLarge`].
    pub fn max_response_size(mut self, bytes: u64) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// Whether to send `Accept-Encoding: gzip, deflate` and decode such bodies.
    /// Default true. A request that sets its own `Accept-Encoding` gets the body as
    /// sent. Without the `deflate` feature there is no decoder: the client never
    /// asks for a coding and passes a coded body through as sent.
    pub fn decompress(mut self, on: bool) -> Self {
        self.decompress = on;
        self
    }

    /// Offer only HTTP/1.1 in ALPN. Default: `h2` then `http/1.1`.
    pub fn http1_only(mut self) -> Self {
        self.http2 = false;
        self
    }

    /// Speak HTTP/2 to `http://` origins without asking (RFC 9113 section 3.3).
    /// Default off.
    pub fn http2_prior_knowledge(mut self) -> Self {
        self.http2_prior_knowledge = true;
        self
    }

    /// Trust the CAs in this PEM bundle besides the built-in `webpki-roots`.
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Self {
        self.extra_roots.push(pem.to_vec());
        self
    }

    /// The TLS configuration builder to start from (client certificates, versions,
    /// the session store size). ALPN is set by the client.
    pub fn tls_config(mut self, builder: flare_tls::ClientConfigBuilder) -> Self {
        self.tls = builder;
        self
    }

    /// **Tests only**: accept any certificate. Anyone on the path can then read and
    /// change the traffic.
    pub fn danger_accept_invalid_certs(mut self, on: bool) -> Self {
        self.insecure = on;
        self
    }

    /// Ignore `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` and connect directly. Default:
    /// the environment is read at [`build`](Self::build).
    pub fn no_proxy(mut self) -> Self {
        self.proxies = ProxySetting::None;
        self
    }

    /// Send every request through this HTTP proxy (`http://[user:password@]host:port`):
    /// plain HTTP in absolute form, HTTPS through a CONNECT tunnel. `no_proxy`
    /// lists hosts (suffixes, or `*`) that go direct, like `NO_PROXY`.
    /// Credentials (percent-decoded) go to the proxy as `Proxy-Authorization:
    /// Basic`, on each plain request and on each CONNECT, never to the origin; the
    /// same holds for `HTTP_PROXY`/`HTTPS_PROXY` with credentials. A proxy that
    /// refuses them (407) is [`Error::Proxy`].
    pub fn proxy(mut self, proxy_url: &str, no_proxy: &str) -> Result<Self> {
        self.proxies = ProxySetting::fixed(proxy_url, no_proxy)?;
        Ok(self)
    }

    /// A header sent with every request that does not set it. Defaults:
    /// `user-agent: flare/VERSION`, `accept: */*`.
    pub fn default_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.default_headers.insert(name, value);
        self
    }

    /// Send `Expect: 100-continue` for bodies of at least this many bytes and for
    /// streamed bodies, so a server that refuses (401, 413) does so before the
    /// upload. Default 1 MiB; `None` never.
    pub fn expect_continue_threshold(mut self, bytes: Option<u64>) -> Self {
        self.expect_threshold = bytes;
        self
    }

    /// The resolver to use instead of one from `/etc/resolv.conf` and `/etc/hosts`.
    pub fn resolver(mut self, resolver: Arc<flare_dns::Resolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client> {
        let alpn: &[&[u8]] = if self.http2 {
            &[b"h2", b"http/1.1"]
        } else {
            &[b"http/1.1"]
        };
        let mut tls = self.tls.alpn(alpn);
        if !self.extra_roots.is_empty() {
            tls = tls.webpki_roots(true);
            for r in &self.extra_roots {
                tls = tls.ca_pem(r);
            }
        }
        if self.insecure {
            tls = tls.dangerous_insecure_no_verify_for_tests_only();
        }
        if let Some((chain, key)) = &self.identity {
            tls = tls.client_cert_pem(chain, key);
        }
        let tls = tls.build().map_err(|source| Error::Tls {
            url: String::new(),
            source,
        })?;
        let proxies = self.proxies.proxies();
        Ok(Client {
            inner: Arc::new(Inner {
                connector: Connector {
                    resolver: OnceLock::new(),
                    custom_resolver: self.resolver,
                    tls,
                    connect_timeout: self.connect_timeout,
                    nodelay: self.nodelay,
                },
                pool: Arc::new(Pool::new(self.pool)),
                proxies,
                redirect: self.redirect,
                timeout: self.timeout,
                read_timeout: self.read_timeout,
                write_timeout: self.write_timeout,
                max_response_size: self.max_response_size,
                decompress: self.decompress,
                http2: self.http2,
                http2_prior_knowledge: self.http2_prior_knowledge,
                default_headers: self.default_headers,
                expect_threshold: self.expect_threshold,
                cookies: self.cookies,
                tls_full: AtomicU64::new(0),
                tls_resumed: AtomicU64::new(0),
                h2_connecting: Mutex::default(),
                h1_only: Mutex::default(),
                nonblocking: nonblocking::Shared::new(self.nonblocking),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::connect::Proxies;
    use super::*;

    #[test]
    fn client_is_clone_send_sync() {
        fn check<T: Clone + Send + Sync>() {}
        check::<Client>();
    }

    #[test]
    fn proxy_environment() {
        let env = |k: &str| match k {
            "HTTP_PROXY" => Some("127.0.0.1:3128".to_string()),
            "https_proxy" => Some("http://proxy.example:8080".to_string()),
            "NO_PROXY" => Some("localhost, .internal,10.0.0.1".to_string()),
            _ => None,
        };
        let p = Proxies::from_env_with(env);
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(p.for_url(&u("http://a.com/")).unwrap().url.port(), 3128);
        assert_eq!(
            p.for_url(&u("https://a.com/")).unwrap().url.host(),
            "proxy.example"
        );
        assert!(p.for_url(&u("http://a.com/")).unwrap().auth.is_none());
        assert!(p.for_url(&u("http://localhost/")).is_none());
        assert!(p.for_url(&u("http://db.internal/")).is_none());
        assert!(p.for_url(&u("http://10.0.0.1/")).is_none());
        assert!(p.for_url(&u("http://notlocalhost/")).is_some());
    }

    #[test]
    fn proxy_credentials_from_the_url_percent_decoded() {
        let env = |k: &str| match k {
            "HTTP_PROXY" => Some("http://us%65r:p%40ss%3Aword@127.0.0.1:3128".to_string()),
            "HTTPS_PROXY" => Some("alice@proxy.example:8080/".to_string()),
            _ => None,
        };
        let p = Proxies::from_env_with(env);
        let http = p.http.as_ref().unwrap();
        assert_eq!((http.url.host(), http.url.port()), ("127.0.0.1", 3128));
        // base64("user:p@ss:word")
        let auth = http.auth.as_ref().unwrap();
        assert_eq!(auth, "Basic dXNlcjpwQHNzOndvcmQ=");
        assert!(auth.is_sensitive());
        assert!(!format!("{p:?}").contains("dXNlcjpwQHNzOndvcmQ"));
        // No password: `user:` (RFC 7617 allows an empty one).
        let https = p.https.as_ref().unwrap();
        assert_eq!(https.url.host(), "proxy.example");
        assert_eq!(https.auth.as_ref().unwrap(), "Basic YWxpY2U6");
        // Bad percent-encoding is refused, without the password in the message.
        let e = Proxy::parse("http://u:s3cret%zz@h:1").unwrap_err();
        assert!(matches!(e, Error::InvalidUrl { .. }), "{e:?}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(ClientBuilder::default()
            .proxy("http://u:%4@h:1", "")
            .is_err());
    }
}
