//! Where an exchange's result meets whoever waits for it: the [`Pending`] handle
//! (`then`, `on_complete`, `wait`, cancel on drop) and the slot the I/O thread
//! completes.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use flare_web::blocking::Deferred;
use http::StatusCode;

use super::super::error::{Error, ProtocolError, Result};
use super::super::response::Response;
use super::{lock, Queue};

type Callback = Box<dyn FnOnce(Result<Response>) + Send>;

enum State {
    Waiting,
    Callback(Callback),
    Done(Result<Response>),
    /// The result was handed over, or the `Pending` was dropped (cancelled).
    Gone,
}

/// Where an exchange's result meets whoever waits for it.
pub(super) struct Slot {
    pub(super) id: u64,
    state: Mutex<State>,
    ready: Condvar,
}

impl Slot {
    pub(super) fn new() -> Slot {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Slot {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(State::Waiting),
            ready: Condvar::new(),
        }
    }

    fn done(result: Result<Response>) -> Slot {
        let s = Slot::new();
        *lock(&s.state) = State::Done(result);
        s
    }

    pub(super) fn is_cancelled(&self) -> bool {
        matches!(*lock(&self.state), State::Gone)
    }

    /// Hands `result` over: to the callback (run here, on the I/O thread), or to
    /// `wait`; dropped when the `Pending` was.
    pub(super) fn complete(&self, result: Result<Response>) {
        let callback = {
            let mut s = lock(&self.state);
            match std::mem::replace(&mut *s, State::Gone) {
                State::Waiting => {
                    *s = State::Done(result);
                    drop(s);
                    self.ready.notify_all();
                    return;
                }
                State::Callback(f) => f,
                State::Done(_) | State::Gone => return,
            }
        };
        if catch_unwind(AssertUnwindSafe(|| callback(result))).is_err() {
            log::error!("a Pending::on_complete callback panicked");
        }
    }

    /// Nobody wants the result any more: drops the callback (if any) and tells
    /// the I/O thread to stop the exchange, unless it has finished.
    fn cancel(&self, queue: &Queue) {
        let was = std::mem::replace(&mut *lock(&self.state), State::Gone);
        if matches!(was, State::Waiting | State::Callback(_)) {
            queue.cancel(self.id);
        }
    }

    /// The result, if it is there.
    fn take_done(&self) -> Option<Result<Response>> {
        let mut s = lock(&self.state);
        match std::mem::replace(&mut *s, State::Gone) {
            State::Done(r) => Some(r),
            other => {
                *s = other;
                None
            }
        }
    }

    /// Registers `f`; when the result is already there, both come back.
    fn register(&self, f: Callback) -> Option<(Callback, Result<Response>)> {
        let mut s = lock(&self.state);
        match std::mem::replace(&mut *s, State::Gone) {
            State::Done(r) => Some((f, r)),
            State::Waiting => {
                *s = State::Callback(f);
                None
            }
            // Unreachable through the public API (a Pending registers once).
            State::Callback(old) => {
                *s = State::Callback(old);
                None
            }
            State::Gone => None,
        }
    }
}

thread_local! {
    /// Set on client I/O threads: `wait` there would wait for itself.
    pub(super) static ON_IO_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// A request running on the client's I/O thread; see [`RequestBuilder::start`](super::super::RequestBuilder::start).
/// Dropping it cancels the request (an HTTP/1.1 connection is closed; on HTTP/2 the
/// stream is reset and the connection goes on).
#[must_use = "dropping a Pending cancels its request"]
pub struct Pending {
    pub(super) slot: Arc<Slot>,
    pub(super) url: String,
    /// `None` when it failed before reaching the I/O thread.
    pub(super) queue: Option<Arc<Queue>>,
    /// Whether dropping it cancels the exchange (false once consumed).
    pub(super) armed: bool,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match *lock(&self.slot.state) {
            State::Waiting | State::Callback(_) => "in flight",
            State::Done(_) => "done",
            State::Gone => "gone",
        };
        f.debug_struct("Pending")
            .field("id", &self.slot.id)
            .field("state", &state)
            .finish()
    }
}

impl Pending {
    pub(super) fn failed(e: Error) -> Pending {
        Pending {
            url: e.url().to_owned(),
            slot: Arc::new(Slot::done(Err(e))),
            queue: None,
            armed: false,
        }
    }

    /// For a handler: a deferred response now; the worker writes what `f` makes
    /// of the result once the upstream has answered. `f` runs on the client's I/O
    /// thread (or here, when the result is already known): keep it short and never
    /// block in it (no blocking [`send`](super::super::RequestBuilder::send)). A panic in `f`
    /// becomes a 500. When the worker gives up on the response first (the
    /// downstream connection closed, its HTTP/2 stream was reset), the exchange is
    /// cancelled as if the `Pending` were dropped, and `f` never runs.
    pub fn then<F>(mut self, f: F) -> flare_web::Response
    where
        F: FnOnce(Result<Response>) -> flare_web::Response + Send + 'static,
    {
        self.armed = false;
        // Already known (failed before the I/O thread, e.g. past the in-flight
        // limit): the closure's response is the handler's, nothing is deferred.
        if let Some(r) = self.slot.take_done() {
            return f(r);
        }
        let deferred = Deferred::default();
        let d = deferred.clone();
        let callback: Callback = Box::new(move |r| {
            let resp = catch_unwind(AssertUnwindSafe(|| f(r))).unwrap_or_else(|_| {
                log::error!("a Pending::then closure panicked; answering 500");
                flare_web::Response::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal server error",
                )
            });
            d.complete(resp);
        });
        if let Some((callback, r)) = self.slot.register(callback) {
            callback(r);
        } else if let Some(queue) = &self.queue {
            // The worker gives up on the response when its connection closes or
            // its HTTP/2 stream is reset: cancel the upstream exchange then, as
            // dropping the Pending would. Weak: the slot holds this deferred.
            let (slot, queue) = (Arc::downgrade(&self.slot), Arc::downgrade(queue));
            deferred.on_abandon(move || {
                if let (Some(slot), Some(queue)) = (slot.upgrade(), queue.upgrade()) {
                    slot.cancel(&queue);
                }
            });
        }
        flare_web::Response::deferred(deferred)
    }

    /// Calls `f` with the result when the exchange ends: on the client's I/O
    /// thread (keep it short, never block), or here when the result is already
    /// known. For a raw [`Protocol`](crate::tcp::Protocol): store the result and
    /// call the connection's [`Waker`](crate::tcp::Waker), then take it in
    /// `on_wake`.
    pub fn on_complete<F>(mut self, f: F)
    where
        F: FnOnce(Result<Response>) + Send + 'static,
    {
        self.armed = false;
        if let Some((f, r)) = self.slot.register(Box::new(f)) {
            f(r);
        }
    }

    /// Blocks this thread until the response (or the error). For tests and
    /// threads that are not workers; on the client's I/O thread itself (inside a
    /// `then` closure) it fails at once with [`Error::Unsupported`] instead of
    /// waiting for itself.
    pub fn wait(mut self) -> Result<Response> {
        self.armed = false;
        let mut s = lock(&self.slot.state);
        loop {
            match std::mem::replace(&mut *s, State::Gone) {
                State::Done(r) => return r,
                State::Waiting => {
                    *s = State::Waiting;
                    if ON_IO_THREAD.with(Cell::get) {
                        drop(s);
                        self.armed = true; // cancel it on drop
                        return Err(Error::Unsupported {
                            url: self.url.clone(),
                            what: "Pending::wait on a client I/O thread",
                        });
                    }
                    s = self
                        .slot
                        .ready
                        .wait(s)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                // Not reachable: `wait` consumes the only handle that registers.
                State::Callback(_) | State::Gone => {
                    return Err(Error::protocol(
                        &self.url,
                        ProtocolError::Other("the result was already taken"),
                    ))
                }
            }
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        match &self.queue {
            Some(q) => self.slot.cancel(q),
            None => *lock(&self.slot.state) = State::Gone,
        }
    }
}
