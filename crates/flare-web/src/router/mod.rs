//! The router: paths and methods to handlers.
//!
//! ```
//! use flare_web::router::{get, Router};
//! use flare_web::extract::Path;
//! use flare_web::{Handler, Request, Response};
//!
//! fn hello(_req: &Request) -> Response { Response::text("hello") }
//! fn user(Path(id): Path<u64>) -> String { format!("user {id}") }
//!
//! let router = Router::new()
//!     .get("/", hello)
//!     .route("/users/{id}", get(user).body_limit(64 * 1024));
//! let mut req = Request::builder().uri("/users/7").build();
//! assert_eq!(router.handle(&mut req).body_bytes().unwrap(), "user 7");
//! ```
//!
//! # Patterns
//!
//! A pattern is a `/`-separated list of segments. A segment is static text, a named
//! parameter `{name}` (one non-empty segment) or, last only, a catch-all `{*name}`
//! (the rest of the path, at least one byte, slashes included). At most
//! [`MAX_PARAMS`] parameters per pattern. A bad pattern, two parameters at the same
//! place with different names, or two handlers for the same method and path are
//! program errors: the router panics when the route is added, not when a request
//! comes.
//!
//! # Precedence
//!
//! Deterministic, whatever the order routes were added in: at each segment, from the
//! left, a static segment wins over a parameter, which wins over a catch-all. When
//! the winning branch cannot match the rest of the path, the next one is tried: with
//! `/users/new` and `/users/{id}/edit`, `/users/new/edit` matches the second with
//! `id = "new"`.
//!
//! # Parameters
//!
//! Captured values are percent-decoded (`%2F` becomes `/` inside a parameter, `+`
//! stays `+`) and stored in the request ([`Request::param`]); a malformed `%` escape
//! or a value that is not UTF-8 after decoding is answered `400` before any handler
//! runs. Static segments match the path as sent, not decoded.
//!
//! # Trailing slashes
//!
//! Strict by default: `/a` and `/a/` are different paths, and a route matches only
//! the one it names. With [`TrailingSlash::Redirect`], a request that matches no
//! route but would match with the trailing slash added or removed gets a `308
//! Permanent Redirect` there (the query kept; `308` keeps the method and body). A
//! path starting `//` is never redirected (it would leave the site).
//!
//! # Misses
//!
//! No route: the fallback of the innermost [`nest`](Router::nest)ed router whose
//! prefix covers the path, else the router's [`fallback`](Router::fallback), else
//! `404`. A route without a handler for the method: see [`MethodRouter`] (`405`
//! with `Allow`, `OPTIONS` answered, `HEAD` served by `GET`).
//!
//! # Sharing
//!
//! A `Router` is an `Arc` around its table: cloning it is cheap, and every worker of
//! a server uses the same table. Building is done before serving (each builder call
//! takes `self`).

mod endpoint;
mod method;
mod trie;

use std::fmt;
use std::sync::Arc;

use http::{HeaderValue, Method, StatusCode};

use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;

pub use endpoint::{ByHandler, ByRequest, FnHandler, HandlerService};
pub use method::{any, delete, get, head, on, options, patch, post, put, MethodRouter};
pub use trie::{PatternError, MAX_PARAMS};

use endpoint::{erase, BoxedEndpoint};
use trie::{param_names, parse_pattern, Captures, Node, Segment};

/// What to do with a path that matches no route but would with its trailing slash
/// added or removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrailingSlash {
    /// Nothing: it is a miss (the default).
    #[default]
    Strict,
    /// `308 Permanent Redirect` to the path that matches.
    Redirect,
}

/// Paths and methods to handlers, with application state `S` (see
/// [`App`](crate::App)); the [module docs](self) state the rules.
pub struct Router<S = ()> {
    table: Arc<Table<S>>,
}

struct Route<S> {
    pattern: Box<str>,
    /// The parameter names, in capture order.
    names: Box<[Box<str>]>,
    methods: MethodRouter<S>,
}

impl<S> Clone for Route<S> {
    fn clone(&self) -> Self {
        Route {
            pattern: self.pattern.clone(),
            names: self.names.clone(),
            methods: self.methods.clone(),
        }
    }
}

struct Table<S> {
    trie: Node,
    /// Routes whose patterns are static text, by the path they match, sorted by
    /// [`PathKey`]: such a route wins over any other that matches (static beats
    /// parameter at every segment), so one search here answers most requests
    /// without the trie.
    exact: Vec<Exact<S>>,
    routes: Vec<Route<S>>,
    fallback: Option<BoxedEndpoint<S>>,
    /// Fallbacks of nested routers, longest prefix first.
    nested_fallbacks: Vec<(Box<str>, BoxedEndpoint<S>)>,
    trailing_slash: TrailingSlash,
    any_limit: bool,
}

/// A route whose pattern is static text.
struct Exact<S> {
    key: PathKey,
    /// The route's `GET` handler, which [`MethodRouter`] picks first for a `GET`:
    /// called straight from here.
    get: Option<BoxedEndpoint<S>>,
    route: usize,
    /// The path (compared when it is longer than 16 bytes).
    path: Box<[u8]>,
}

impl<S> Clone for Exact<S> {
    fn clone(&self) -> Self {
        Exact {
            key: self.key,
            get: self.get.clone(),
            route: self.route,
            path: self.path.clone(),
        }
    }
}

impl<S> Clone for Table<S> {
    fn clone(&self) -> Self {
        Table {
            trie: self.trie.clone(),
            exact: self.exact.clone(),
            routes: self.routes.clone(),
            fallback: self.fallback.clone(),
            nested_fallbacks: self.nested_fallbacks.clone(),
            trailing_slash: self.trailing_slash,
            any_limit: self.any_limit,
        }
    }
}

impl<S> Clone for Router<S> {
    fn clone(&self) -> Self {
        Router {
            table: self.table.clone(),
        }
    }
}

impl<S> fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field(
                "routes",
                &self
                    .table
                    .routes
                    .iter()
                    .map(|r| &r.pattern)
                    .collect::<Vec<_>>(),
            )
            .field("trailing_slash", &self.table.trailing_slash)
            .finish()
    }
}

impl<S: 'static> Default for Router<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: 'static> Router<S> {
    /// An empty router (every request is `404`).
    pub fn new() -> Self {
        Router {
            table: Arc::new(Table {
                trie: Node::default(),
                exact: Vec::new(),
                routes: Vec::new(),
                fallback: None,
                nested_fallbacks: Vec::new(),
                trailing_slash: TrailingSlash::Strict,
                any_limit: false,
            }),
        }
    }

    fn table_mut(&mut self) -> &mut Table<S> {
        // Before the router is shared there is one owner and this does not copy.
        if Arc::get_mut(&mut self.table).is_none() {
            self.table = Arc::new((*self.table).clone());
        }
        match Arc::get_mut(&mut self.table) {
            Some(t) => t,
            None => unreachable!("the table was just made unique"),
        }
    }

    /// Adds the handlers of `methods` at `pattern` (merged with handlers already
    /// there). Panics on a bad pattern or a method that already has a handler here.
    pub fn route(mut self, pattern: &str, methods: MethodRouter<S>) -> Self {
        self.add(pattern, methods);
        self
    }

    fn add(&mut self, pattern: &str, methods: MethodRouter<S>) {
        let t = self.table_mut();
        let segments =
            parse_pattern(pattern).unwrap_or_else(|e| panic!("route pattern {pattern:?}: {e}"));
        let next = t.routes.len();
        let slot = t
            .trie
            .insert(&segments)
            .unwrap_or_else(|e| panic!("route pattern {pattern:?}: {e}"));
        t.any_limit |= methods.limit().is_some();
        match *slot {
            Some(i) => match t.routes.get_mut(i) {
                Some(existing) => {
                    existing.methods.merge(methods);
                    let get = existing.methods.get_endpoint().cloned();
                    if let Some(e) = t.exact.iter_mut().find(|e| e.route == i) {
                        e.get = get;
                    }
                }
                None => unreachable!("trie values index routes"),
            },
            None => {
                *slot = Some(next);
                if segments.iter().all(|s| matches!(s, Segment::Static(_))) {
                    let path = exact_path(&segments);
                    let key = PathKey::of(&path);
                    // Keys of paths up to 16 bytes are the paths themselves; longer
                    // ones may share a key, so their place is found by the bytes too.
                    let at = t
                        .exact
                        .partition_point(|e| (e.key, &*e.path) < (key, &*path));
                    let get = methods.get_endpoint().cloned();
                    t.exact.insert(
                        at,
                        Exact {
                            key,
                            get,
                            route: next,
                            path,
                        },
                    );
                }
                t.routes.push(Route {
                    pattern: pattern.into(),
                    names: param_names(&segments),
                    methods,
                });
            }
        }
    }

    /// `GET` (and `HEAD`) at `pattern`.
    pub fn get<H: FnHandler<M, S>, M: 'static>(self, pattern: &str, h: H) -> Self {
        self.route(pattern, method::get(h))
    }
    /// `POST` at `pattern`.
    pub fn post<H: FnHandler<M, S>, M: 'static>(self, pattern: &str, h: H) -> Self {
        self.route(pattern, method::post(h))
    }
    /// `PUT` at `pattern`.
    pub fn put<H: FnHandler<M, S>, M: 'static>(self, pattern: &str, h: H) -> Self {
        self.route(pattern, method::put(h))
    }
    /// `DELETE` at `pattern`.
    pub fn delete<H: FnHandler<M, S>, M: 'static>(self, pattern: &str, h: H) -> Self {
        self.route(pattern, method::delete(h))
    }
    /// `PATCH` at `pattern`.
    pub fn patch<H: FnHandler<M, S>, M: 'static>(self, pattern: &str, h: H) -> Self {
        self.route(pattern, method::patch(h))
    }
    /// Every method at `pattern`.
    pub fn any<H: FnHandler<M, S>, M: 'static>(self, pattern: &str, h: H) -> Self {
        self.route(pattern, method::any(h))
    }
    /// Every method at `pattern` to a [`Handler`] (a middleware stack, a file
    /// server); it does not see the state.
    pub fn mount<H: Handler>(self, pattern: &str, handler: H) -> Self {
        self.route(pattern, method::any(HandlerService(handler)))
    }

    /// A WebSocket endpoint at `pattern`: `f` makes the connection's handler from
    /// the upgrade request. A `GET` that does not ask for a WebSocket gets `426
    /// Upgrade Required`; the HTTP/2 driver routes an extended CONNECT (RFC 8441)
    /// here as a `GET` too. For a per-request decision (authentication, a
    /// subprotocol, a refusal), use the [`WebSocketUpgrade`] extractor in a `get`
    /// route instead.
    ///
    /// [`WebSocketUpgrade`]: crate::ws::WebSocketUpgrade
    pub fn ws<F, W>(self, pattern: &str, f: F) -> Self
    where
        F: Fn(&Request) -> W + Send + Sync + 'static,
        W: crate::ws::WsHandler,
    {
        self.route(
            pattern,
            method::get(HandlerService(move |req: &Request| {
                match crate::ws::WebSocketUpgrade::from_req(req) {
                    Ok(up) => up.on_upgrade(f(req)),
                    Err(refused) => refused,
                }
            })),
        )
    }

    /// The handler for requests no route matches (instead of `404`).
    pub fn fallback<H: FnHandler<M, S>, M: 'static>(mut self, h: H) -> Self {
        self.table_mut().fallback = Some(erase(h));
        self
    }

    /// The trailing-slash policy (default [`TrailingSlash::Strict`]).
    pub fn trailing_slash(mut self, policy: TrailingSlash) -> Self {
        self.table_mut().trailing_slash = policy;
        self
    }

    /// Adds every route of `other` under `prefix` (`/api` + `/users` is
    /// `/api/users`; `other`'s `/` is `/api` itself). `other`'s fallback answers
    /// misses under the prefix (the longest covering prefix wins). `prefix` must
    /// start with `/`, must not end with `/`, and may hold `{parameters}` but no
    /// catch-all.
    pub fn nest(mut self, prefix: &str, other: Router<S>) -> Self {
        assert!(
            prefix.starts_with('/') && !prefix.ends_with('/') && !prefix.contains("{*"),
            "nest prefix {prefix:?} must start with `/`, not end with it, and have no catch-all"
        );
        let other = Arc::try_unwrap(other.table).unwrap_or_else(|t| (*t).clone());
        for route in other.routes {
            let full = if &*route.pattern == "/" {
                prefix.to_string()
            } else {
                format!("{prefix}{}", route.pattern)
            };
            self.add(&full, route.methods);
        }
        let t = self.table_mut();
        for (p, f) in other.nested_fallbacks {
            t.nested_fallbacks.push((format!("{prefix}{p}").into(), f));
        }
        if let Some(f) = other.fallback {
            t.nested_fallbacks.push((prefix.into(), f));
        }
        t.nested_fallbacks
            .sort_by_key(|f| std::cmp::Reverse(f.0.len()));
        self
    }

    /// Adds every route of `other`. Panics where both have a handler for the same
    /// method and path, or both have a fallback.
    pub fn merge(mut self, other: Router<S>) -> Self {
        let other = Arc::try_unwrap(other.table).unwrap_or_else(|t| (*t).clone());
        for route in other.routes {
            self.add(&route.pattern, route.methods);
        }
        let t = self.table_mut();
        if let Some(f) = other.fallback {
            assert!(t.fallback.is_none(), "both merged routers have a fallback");
            t.fallback = Some(f);
        }
        t.nested_fallbacks.extend(other.nested_fallbacks);
        t.nested_fallbacks
            .sort_by_key(|f| std::cmp::Reverse(f.0.len()));
        self
    }

    /// Answers `req` with `state`: finds the route, records its parameters in the
    /// request, and runs the handler for the method.
    #[inline]
    pub fn call(&self, req: &mut Request, state: &S) -> Response {
        req.clear_params();
        let t = &*self.table;
        // A static route: a `GET` goes straight to its handler.
        if let Some(e) = t.exact(req.path_bytes()) {
            if let (true, Some(h)) = (*req.method() == Method::GET, &e.get) {
                return h.call(req, state);
            }
            return t.dispatch(e.route, req, state);
        }
        self.call_trie(req, state)
    }

    /// [`call`](Self::call) for a path no static route matches.
    #[inline(never)]
    fn call_trie(&self, req: &mut Request, state: &S) -> Response {
        let t = &*self.table;
        let mut caps = Captures::new();
        let found = t.trie.lookup(req.path(), &mut caps);
        if let Some(route) = found.and_then(|i| t.routes.get(i)) {
            for (c, name) in caps.as_slice().iter().zip(route.names.iter()) {
                if req
                    .capture_param(name, c.start as usize, c.end as usize)
                    .is_err()
                {
                    return Response::error(StatusCode::BAD_REQUEST, "invalid path parameter");
                }
            }
            return route.methods.dispatch(req, state);
        }
        self.miss(req, state)
    }

    #[cold]
    fn miss(&self, req: &mut Request, state: &S) -> Response {
        let t = &*self.table;
        if req.path() == "*" && *req.method() == Method::OPTIONS {
            return Response::new(StatusCode::NO_CONTENT);
        }
        if t.trailing_slash == TrailingSlash::Redirect {
            if let Some(r) = self.slash_redirect(req) {
                return r;
            }
        }
        let path = req.path();
        for (prefix, f) in &t.nested_fallbacks {
            if prefix_covers(prefix, path) {
                return f.call(req, state);
            }
        }
        match &t.fallback {
            Some(f) => f.call(req, state),
            None => Response::error(StatusCode::NOT_FOUND, "not found"),
        }
    }

    fn slash_redirect(&self, req: &Request) -> Option<Response> {
        let path = req.path();
        if !path.starts_with('/') || path.starts_with("//") {
            return None;
        }
        let alt = match path.strip_suffix('/') {
            Some("") => return None,
            Some(p) => p.to_string(),
            None => format!("{path}/"),
        };
        if self.table.exact(alt.as_bytes()).is_none() {
            let mut caps = Captures::new();
            self.table.trie.lookup(&alt, &mut caps)?;
        }
        let location = match req.query() {
            Some(q) => format!("{alt}?{q}"),
            None => alt,
        };
        let v = HeaderValue::from_str(&location).ok()?;
        Some(
            Response::error(StatusCode::PERMANENT_REDIRECT, "moved")
                .with_header(http::header::LOCATION, v),
        )
    }

    /// The body limit of the route `req` matches, if it set one.
    pub fn route_body_limit(&self, req: &Request) -> Option<u64> {
        let t = &*self.table;
        if !t.any_limit {
            return None;
        }
        let i = match t.exact(req.path_bytes()) {
            Some(e) => e.route,
            None => t.trie.lookup(req.path(), &mut Captures::new())?,
        };
        t.routes.get(i)?.methods.limit()
    }

    /// The patterns of every route, in the order they were first added.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.table.routes.iter().map(|r| &*r.pattern)
    }

    /// Whether `path` matches a route (for benchmarks and tests; allocation-free).
    pub fn matches(&self, path: &str) -> bool {
        if self.table.exact(path.as_bytes()).is_some() {
            return true;
        }
        let mut caps = Captures::new();
        self.table.trie.lookup(path, &mut caps).is_some()
    }
}

impl<S> Table<S> {
    /// The route whose static pattern is exactly `path`.
    #[inline(always)]
    fn exact(&self, path: &[u8]) -> Option<&Exact<S>> {
        if self.exact.len() > EXACT_LINEAR || path.len() > 16 {
            return self.exact_long(path);
        }
        // The key of a path of at most 16 bytes is the path.
        let key = PathKey::of(path);
        self.exact.iter().find(|e| e.key == key)
    }

    /// [`exact`](Self::exact) in a longer table or for a longer path (out of line,
    /// so that the short scan makes no call and needs few registers).
    #[inline(never)]
    fn exact_long(&self, path: &[u8]) -> Option<&Exact<S>> {
        let key = PathKey::of(path);
        // Equal keys are equal paths up to 16 bytes; past that, compare the bytes
        // (long static paths may share length, first and last 8 bytes).
        if self.exact.len() <= EXACT_LINEAR {
            return self.exact.iter().find(|e| e.key == key && *e.path == *path);
        }
        let from = self.exact.partition_point(|e| e.key < key);
        self.exact
            .get(from..)?
            .iter()
            .take_while(|e| e.key == key)
            .find(|e| path.len() <= 16 || *e.path == *path)
    }

    /// Runs route `i`'s handler for the method.
    #[inline(never)]
    fn dispatch(&self, i: usize, req: &mut Request, state: &S) -> Response
    where
        S: 'static,
    {
        match self.routes.get(i) {
            Some(route) => route.methods.dispatch(req, state),
            // Not reached: exact entries index routes.
            None => Response::error(StatusCode::NOT_FOUND, "not found"),
        }
    }
}

/// Up to this many static routes are scanned rather than bisected.
const EXACT_LINEAR: usize = 8;

/// A path's length with its first and last 8 (or 4) bytes, zero when shorter:
/// compared as integers, with no call to `memcmp`, and for a path of at most 16
/// bytes it is the path itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PathKey {
    len: usize,
    head: u64,
    tail: u64,
}

impl PathKey {
    #[inline]
    fn of(p: &[u8]) -> PathKey {
        let (head, tail) = if let (Some(h), Some(t)) = (p.first_chunk::<8>(), p.last_chunk::<8>()) {
            (u64::from_le_bytes(*h), u64::from_le_bytes(*t))
        } else if let (Some(h), Some(t)) = (p.first_chunk::<4>(), p.last_chunk::<4>()) {
            (
                u64::from(u32::from_le_bytes(*h)),
                u64::from(u32::from_le_bytes(*t)),
            )
        } else {
            let mut w = 0u64;
            for (i, &b) in p.iter().enumerate() {
                w |= u64::from(b) << (8 * i);
            }
            (w, 0)
        };
        PathKey {
            len: p.len(),
            head,
            tail,
        }
    }
}

/// The path a static pattern matches: `/` and its segments joined by `/` (the
/// trie splits a path the same way, so this is the only path it matches).
fn exact_path(segments: &[Segment<'_>]) -> Box<[u8]> {
    let mut key = Vec::new();
    for s in segments {
        key.push(b'/');
        if let Segment::Static(text) = s {
            key.extend_from_slice(text.as_bytes());
        }
    }
    if key.is_empty() {
        key.push(b'/');
    }
    key.into()
}

/// Whether the nest prefix `prefix` (a pattern without a catch-all) covers `path`:
/// its segments match the path's first ones (a `{param}` matches any non-empty
/// segment) and the path ends there or goes on with `/`.
fn prefix_covers(prefix: &str, path: &str) -> bool {
    let mut rest = path;
    for seg in prefix.split('/').skip(1) {
        let Some(after_slash) = rest.strip_prefix('/') else {
            return false;
        };
        let end = after_slash.find('/').unwrap_or(after_slash.len());
        let (got, tail) = after_slash.split_at(end);
        let is_param = seg.starts_with('{') && seg.ends_with('}');
        if (is_param && got.is_empty()) || (!is_param && got != seg) {
            return false;
        }
        rest = tail;
    }
    rest.is_empty() || rest.starts_with('/')
}

impl Handler for Router<()> {
    #[inline]
    fn handle(&self, req: &mut Request) -> Response {
        self.call(req, &())
    }
    fn body_limit(&self, req: &Request) -> Option<u64> {
        self.route_body_limit(req)
    }
}

#[cfg(test)]
mod tests;
