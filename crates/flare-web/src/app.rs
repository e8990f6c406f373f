//! `App<S>`: a router with its application state.

use std::fmt;
use std::sync::Arc;

use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;
use crate::router::Router;

/// A [`Router`] and the state its handlers extract with
/// [`State`](crate::extract::State). The server runs one `App` on every worker; the
/// state is created once and shared (`Arc<S>`), never rebuilt per worker, so `S`
/// must be `Send + Sync`.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use flare_web::extract::State;
/// use flare_web::router::Router;
/// use flare_web::{App, Handler, Request};
///
/// #[derive(Clone, Default)]
/// struct Shared { hits: Arc<AtomicU64> }
///
/// fn hit(State(s): State<Shared>) -> String {
///     (s.hits.fetch_add(1, Ordering::Relaxed) + 1).to_string()
/// }
///
/// let app = App::new(Shared::default()).router(Router::new().get("/", hit));
/// let mut req = Request::builder().uri("/").build();
/// app.handle(&mut req);
/// assert_eq!(app.handle(&mut req).body_bytes().unwrap(), "2");
/// ```
///
/// # Per-worker state
///
/// Shared state that changes needs atomics or locks, and every worker touching the
/// same cache line costs. For counters and caches that need not be exact across
/// workers, keep them per worker: handlers run on the worker's own thread, one at a
/// time, so a `thread_local!` is per worker and needs no lock:
///
/// ```
/// use std::cell::Cell;
/// thread_local! {
///     static SERVED: Cell<u64> = const { Cell::new(0) };
/// }
/// fn count() -> String {
///     let n = SERVED.with(|c| { c.set(c.get() + 1); c.get() });
///     format!("this worker served {n}")
/// }
/// # let _ = count();
/// ```
///
/// To report a total, have each worker publish its count now and then to a shared
/// atomic (or sum per-worker atomics held in `S`, one per worker, each padded to
/// its own cache line).
pub struct App<S> {
    state: Arc<S>,
    router: Router<S>,
}

impl<S> Clone for App<S> {
    fn clone(&self) -> Self {
        App {
            state: self.state.clone(),
            router: self.router.clone(),
        }
    }
}

impl<S> fmt::Debug for App<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App").field("router", &self.router).finish()
    }
}

impl<S: Send + Sync + 'static> App<S> {
    /// An app with `state` and an empty router.
    pub fn new(state: S) -> Self {
        Self::from_arc(Arc::new(state))
    }
    /// An app with state already in an `Arc`.
    pub fn from_arc(state: Arc<S>) -> Self {
        App {
            state,
            router: Router::new(),
        }
    }
    /// Replaces the router.
    pub fn router(mut self, router: Router<S>) -> Self {
        self.router = router;
        self
    }
    /// The state.
    pub fn state(&self) -> &Arc<S> {
        &self.state
    }
}

impl<S: Send + Sync + 'static> Handler for App<S> {
    #[inline]
    fn handle(&self, req: &mut Request) -> Response {
        self.router.call(req, &self.state)
    }
    fn body_limit(&self, req: &Request) -> Option<u64> {
        self.router.route_body_limit(req)
    }
}
