//! Method routing: the handlers of one path.

use std::fmt;

use http::{HeaderName, HeaderValue, Method, StatusCode};

use super::endpoint::{erase, BoxedEndpoint, FnHandler};
use crate::request::Request;
use crate::response::Response;

/// The handlers of one route, by method, and the route's body limit.
///
/// Dispatch order: the handler registered for the request's method; for `HEAD`
/// without its own handler, the `GET` handler (the protocol driver sends the head
/// without the body, with the `Content-Length` the body would have); the
/// [`any`](Self::any) handler; for `OPTIONS`, `204` with `Allow`; otherwise `405`
/// with `Allow` listing the methods the path has (`HEAD` with `GET`, and `OPTIONS`).
pub struct MethodRouter<S = ()> {
    get: Option<BoxedEndpoint<S>>,
    post: Option<BoxedEndpoint<S>>,
    others: Vec<(Method, BoxedEndpoint<S>)>,
    any: Option<BoxedEndpoint<S>>,
    body_limit: Option<u64>,
    allow: HeaderValue,
}

impl<S> Clone for MethodRouter<S> {
    fn clone(&self) -> Self {
        MethodRouter {
            get: self.get.clone(),
            post: self.post.clone(),
            others: self.others.clone(),
            any: self.any.clone(),
            body_limit: self.body_limit,
            allow: self.allow.clone(),
        }
    }
}

impl<S> fmt::Debug for MethodRouter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MethodRouter")
            .field("allow", &self.allow)
            .field("any", &self.any.is_some())
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

impl<S> Default for MethodRouter<S> {
    fn default() -> Self {
        MethodRouter {
            get: None,
            post: None,
            others: Vec::new(),
            any: None,
            body_limit: None,
            allow: HeaderValue::from_static("OPTIONS"),
        }
    }
}

const ALLOW: HeaderName = http::header::ALLOW;

impl<S: 'static> MethodRouter<S> {
    /// No handlers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `handler` for `method`. Panics if the method already has one (a
    /// program error, found when the router is built).
    pub fn on<H, M>(mut self, method: Method, handler: H) -> Self
    where
        H: FnHandler<M, S>,
        M: 'static,
    {
        self.set(method, erase(handler));
        self
    }

    pub(crate) fn set(&mut self, method: Method, h: BoxedEndpoint<S>) {
        let slot = if method == Method::GET {
            &mut self.get
        } else if method == Method::POST {
            &mut self.post
        } else {
            assert!(
                !self.others.iter().any(|(m, _)| *m == method),
                "a handler for {method} is already registered on this route"
            );
            self.others.push((method, h));
            self.update_allow();
            return;
        };
        assert!(
            slot.is_none(),
            "a handler for {method} is already registered on this route"
        );
        *slot = Some(h);
        self.update_allow();
    }

    /// Adds a `GET` handler (which also answers `HEAD`).
    pub fn get<H: FnHandler<M, S>, M: 'static>(self, h: H) -> Self {
        self.on(Method::GET, h)
    }
    /// Adds a `POST` handler.
    pub fn post<H: FnHandler<M, S>, M: 'static>(self, h: H) -> Self {
        self.on(Method::POST, h)
    }
    /// Adds a `PUT` handler.
    pub fn put<H: FnHandler<M, S>, M: 'static>(self, h: H) -> Self {
        self.on(Method::PUT, h)
    }
    /// Adds a `DELETE` handler.
    pub fn delete<H: FnHandler<M, S>, M: 'static>(self, h: H) -> Self {
        self.on(Method::DELETE, h)
    }
    /// Adds a `PATCH` handler.
    pub fn patch<H: FnHandler<M, S>, M: 'static>(self, h: H) -> Self {
        self.on(Method::PATCH, h)
    }
    /// Adds a `HEAD` handler (instead of the `GET` handler answering `HEAD`).
    pub fn head<H: FnHandler<M, S>, M: 'static>(self, h: H) -> Self {
        self.on(Method::HEAD, h)
    }
    /// Adds an `OPTIONS` handler (instead of the automatic `204` with `Allow`).
    pub fn options<H: FnHandler<M, S>, M: 'static>(self, h: H) -> Self {
        self.on(Method::OPTIONS, h)
    }
    /// A handler for every method that has no handler of its own.
    pub fn any<H: FnHandler<M, S>, M: 'static>(mut self, h: H) -> Self {
        assert!(self.any.is_none(), "`any` is already set on this route");
        self.any = Some(erase(h));
        self
    }

    /// The largest request body this route accepts; larger bodies are refused with
    /// `413` before they are read. Without it, the server's limit applies
    /// (`ServerConfig::max_body`, 2 MiB by default).
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    pub(crate) fn limit(&self) -> Option<u64> {
        self.body_limit
    }

    /// The `GET` handler, which [`dispatch`](Self::dispatch) picks first for a `GET`.
    pub(crate) fn get_endpoint(&self) -> Option<&BoxedEndpoint<S>> {
        self.get.as_ref()
    }

    /// Adds every handler of `other`; panics on a method both have.
    pub(crate) fn merge(&mut self, other: MethodRouter<S>) {
        if let Some(h) = other.get {
            self.set(Method::GET, h);
        }
        if let Some(h) = other.post {
            self.set(Method::POST, h);
        }
        for (m, h) in other.others {
            self.set(m, h);
        }
        if let Some(h) = other.any {
            assert!(self.any.is_none(), "`any` is already set on this route");
            self.any = Some(h);
        }
        if other.body_limit.is_some() {
            self.body_limit = other.body_limit;
        }
    }

    fn update_allow(&mut self) {
        let mut names: Vec<&str> = Vec::new();
        if self.get.is_some() {
            names.push("GET");
            names.push("HEAD");
        }
        if self.post.is_some() {
            names.push("POST");
        }
        for (m, _) in &self.others {
            if !names.contains(&m.as_str()) {
                names.push(m.as_str());
            }
        }
        if !names.contains(&"OPTIONS") {
            names.push("OPTIONS");
        }
        // Method names are tokens, so the joined list is a valid field value.
        if let Ok(v) = HeaderValue::from_str(&names.join(", ")) {
            self.allow = v;
        }
    }

    /// The `Allow` field value.
    pub fn allow(&self) -> &HeaderValue {
        &self.allow
    }

    fn find(&self, method: &Method) -> Option<&BoxedEndpoint<S>> {
        if *method == Method::GET {
            return self.get.as_ref();
        }
        if *method == Method::POST {
            return self.post.as_ref();
        }
        self.others
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, h)| h)
    }

    /// Answers `req` (see the type's docs for the order).
    #[inline(always)]
    pub(crate) fn dispatch(&self, req: &mut Request, state: &S) -> Response {
        let method = req.method();
        if let Some(h) = self.find(method) {
            return h.call(req, state);
        }
        if *method == Method::HEAD {
            if let Some(h) = &self.get {
                return h.call(req, state);
            }
        }
        if let Some(h) = &self.any {
            return h.call(req, state);
        }
        if *method == Method::OPTIONS {
            return Response::new(StatusCode::NO_CONTENT).with_header(ALLOW, self.allow.clone());
        }
        Response::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
            .with_header(ALLOW, self.allow.clone())
    }
}

macro_rules! top_level {
    ($($(#[$doc:meta])* $name:ident => $method:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name<H, M, S>(handler: H) -> MethodRouter<S>
            where
                H: FnHandler<M, S>,
                M: 'static,
                S: 'static,
            {
                MethodRouter::new().on($method, handler)
            }
        )*
    };
}

top_level! {
    /// A route answering `GET` (and `HEAD`) with `handler`: `route("/", get(h))`.
    get => Method::GET;
    /// A route answering `POST`.
    post => Method::POST;
    /// A route answering `PUT`.
    put => Method::PUT;
    /// A route answering `DELETE`.
    delete => Method::DELETE;
    /// A route answering `PATCH`.
    patch => Method::PATCH;
    /// A route answering `HEAD` only.
    head => Method::HEAD;
    /// A route answering `OPTIONS`.
    options => Method::OPTIONS;
}

/// A route answering `method`.
pub fn on<H, M, S>(method: Method, handler: H) -> MethodRouter<S>
where
    H: FnHandler<M, S>,
    M: 'static,
    S: 'static,
{
    MethodRouter::new().on(method, handler)
}

/// A route answering every method with `handler`.
pub fn any<H, M, S>(handler: H) -> MethodRouter<S>
where
    H: FnHandler<M, S>,
    M: 'static,
    S: 'static,
{
    MethodRouter::new().any(handler)
}
