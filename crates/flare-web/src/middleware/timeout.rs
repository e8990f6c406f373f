//! [`Timeout`]: a deadline per request, enforced through the cancel token.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use http::StatusCode;

use super::Layer;
use crate::cancel::CancelToken;
use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;

/// Gives each request a deadline.
///
/// Handlers are synchronous and cannot be interrupted, so at the deadline the
/// request's [`CancelToken`] is flipped (a handler that polls
/// [`is_cancelled`](CancelToken::is_cancelled) stops early), and a handler that
/// returns after the deadline has its response replaced by `503 Service Unavailable`.
/// The token is flipped by one timer thread per process (a binary heap of deadlines
/// and a condition variable), started on first use; arming and disarming a deadline
/// costs a mutex round trip each.
///
/// The duration is the limit; there is no default. A worker running a handler that
/// ignores the token is still busy until the handler returns.
#[derive(Clone, Copy, Debug)]
pub struct Timeout {
    after: Duration,
}

impl Timeout {
    /// Requests get `after` from the moment this layer sees them.
    pub fn new(after: Duration) -> Self {
        Timeout { after }
    }
}

/// The handler [`Timeout`] makes.
#[derive(Debug)]
pub struct TimeoutHandler<H> {
    inner: H,
    after: Duration,
}

impl<H: Handler> Layer<H> for Timeout {
    type Handler = TimeoutHandler<H>;
    fn layer(&self, inner: H) -> Self::Handler {
        TimeoutHandler {
            inner,
            after: self.after,
        }
    }
}

impl<H: Handler> Handler for TimeoutHandler<H> {
    fn handle(&self, req: &mut Request) -> Response {
        let Some(deadline) = Instant::now().checked_add(self.after) else {
            // A deadline past the end of time never fires.
            return self.inner.handle(req);
        };
        let armed = Armed {
            timer: Timer::global(),
            id: Timer::global().arm(deadline, req.cancel_token().clone()),
        };
        let resp = self.inner.handle(req);
        let fired = armed.disarm();
        if fired || Instant::now() >= deadline {
            log::warn!(
                "{} {} took longer than {:?}; answering 503",
                req.method(),
                req.path(),
                self.after
            );
            return Response::error(StatusCode::SERVICE_UNAVAILABLE, "request timed out");
        }
        resp
    }

    fn body_limit(&self, req: &Request) -> Option<u64> {
        self.inner.body_limit(req)
    }
}

/// A deadline that is disarmed when dropped, so a panicking handler leaves nothing
/// behind in the timer.
struct Armed {
    timer: &'static Timer,
    id: u64,
}

impl Armed {
    /// Disarms; whether the deadline had fired.
    fn disarm(self) -> bool {
        let fired = self.timer.disarm(self.id);
        std::mem::forget(self);
        fired
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        self.timer.disarm(self.id);
    }
}

/// The process-wide deadline thread.
struct Timer {
    state: Mutex<TimerState>,
    wake: Condvar,
}

#[derive(Default)]
struct TimerState {
    /// Deadlines, earliest first; entries whose id is no longer in `live` are stale.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    live: HashMap<u64, CancelToken>,
    /// Ids whose deadline fired while the handler still ran.
    fired: HashSet<u64>,
    next_id: u64,
    thread_started: bool,
    /// What the timer thread is sleeping until: `None` while it runs, `Some(None)`
    /// while it waits with no deadline, `Some(Some(t))` while it waits until `t`.
    /// Arming wakes it only when the new deadline is earlier, so the common case (every
    /// deadline later than the one it waits for) costs no wake-up.
    sleeping_until: Option<Option<Instant>>,
}

impl Timer {
    fn global() -> &'static Timer {
        static TIMER: OnceLock<Timer> = OnceLock::new();
        TIMER.get_or_init(|| Timer {
            state: Mutex::new(TimerState::default()),
            wake: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, TimerState> {
        // A panic while holding this lock cannot leave the maps inconsistent in a way
        // that matters (worst case a token is not flipped), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn arm(&'static self, deadline: Instant, token: CancelToken) -> u64 {
        let mut st = self.lock();
        if !st.thread_started {
            let spawned = std::thread::Builder::new()
                .name("flare-timeout".into())
                .spawn(move || self.run());
            // Without the thread tokens are not flipped early, but the late answer
            // still becomes a 503.
            st.thread_started = spawned.is_ok();
            if spawned.is_err() {
                log::error!(
                    "could not start the timeout thread; handlers will not see cancellation"
                );
            }
        }
        let id = st.next_id;
        st.next_id = st.next_id.wrapping_add(1);
        let wake = match st.sleeping_until {
            Some(None) => true,
            Some(Some(t)) => deadline < t,
            None => false,
        };
        st.heap.push(Reverse((deadline, id)));
        st.live.insert(id, token);
        if wake {
            // The thread re-reads the heap when it wakes; until then, no second wake.
            st.sleeping_until = None;
            drop(st);
            self.wake.notify_one();
        }
        id
    }

    /// Forgets deadline `id`; whether it had fired.
    fn disarm(&self, id: u64) -> bool {
        let mut st = self.lock();
        st.live.remove(&id);
        let fired = st.fired.remove(&id);
        // Stale heap entries are dropped lazily; rebuild when they dominate so a long
        // timeout under load cannot grow the heap beyond twice the live count.
        if st.heap.len() > 64 && st.heap.len() > 2 * st.live.len() {
            let live = std::mem::take(&mut st.live);
            st.heap.retain(|Reverse((_, id))| live.contains_key(id));
            st.live = live;
        }
        fired
    }

    fn run(&self) {
        let mut st = self.lock();
        loop {
            let now = Instant::now();
            match st.heap.peek().copied() {
                None => {
                    st.sleeping_until = Some(None);
                    st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
                    st.sleeping_until = None;
                }
                Some(Reverse((deadline, id))) if deadline <= now => {
                    st.heap.pop();
                    if let Some(token) = st.live.remove(&id) {
                        token.cancel();
                        st.fired.insert(id);
                    }
                }
                Some(Reverse((deadline, _))) => {
                    st.sleeping_until = Some(Some(deadline));
                    st = self
                        .wake
                        .wait_timeout(st, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    st.sleeping_until = None;
                }
            }
        }
    }

    #[cfg(test)]
    fn sizes(&self) -> (usize, usize, usize) {
        let st = self.lock();
        (st.heap.len(), st.live.len(), st.fired.len())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::middleware::HandlerExt;

    /// Waits (bounded) for the token, as a long handler would poll it between steps.
    fn wait_for_cancel(req: &Request, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if req.cancel_token().is_cancelled() {
                return true;
            }
            std::thread::park_timeout(Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn fast_handlers_are_untouched() {
        let app =
            (|_: &Request| Response::text("quick")).layer(Timeout::new(Duration::from_secs(30)));
        for _ in 0..100 {
            let mut req = Request::default();
            let r = app.handle(&mut req);
            assert_eq!(r.status(), 200);
            assert!(!req.cancel_token().is_cancelled());
        }
    }

    #[test]
    fn a_polling_handler_stops_at_the_deadline_and_gets_503() {
        let stopped_early = Arc::new(AtomicBool::new(false));
        let flag = stopped_early.clone();
        let app = (move |req: &Request| {
            if wait_for_cancel(req, Duration::from_secs(10)) {
                flag.store(true, Ordering::SeqCst);
            }
            Response::text("late")
        })
        .layer(Timeout::new(Duration::from_millis(50)));
        let start = Instant::now();
        let mut req = Request::default();
        let r = app.handle(&mut req);
        assert_eq!(r.status(), 503);
        assert_eq!(r.body_bytes().unwrap(), "request timed out");
        assert!(stopped_early.load(Ordering::SeqCst));
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert!(req.cancel_token().is_cancelled());
    }

    #[test]
    fn a_handler_that_ignores_the_token_still_gets_503() {
        let app = (|req: &Request| {
            // Busy work that finishes only after the deadline has passed.
            let token = req.cancel_token().clone();
            let end = Instant::now() + Duration::from_secs(10);
            while !token.is_cancelled() && Instant::now() < end {
                std::thread::yield_now();
            }
            Response::text("done anyway")
        })
        .layer(Timeout::new(Duration::from_millis(20)));
        assert_eq!(app.handle(&mut Request::default()).status(), 503);
    }

    #[test]
    fn a_zero_timeout_and_an_endless_one() {
        let zero = (|_: &Request| Response::text("x")).layer(Timeout::new(Duration::ZERO));
        assert_eq!(zero.handle(&mut Request::default()).status(), 503);
        let endless = (|_: &Request| Response::text("x")).layer(Timeout::new(Duration::MAX));
        assert_eq!(endless.handle(&mut Request::default()).status(), 200);
    }

    #[test]
    fn a_panicking_handler_leaves_no_deadline_behind() {
        let ours = Arc::new(Mutex::new(Vec::new()));
        let ours2 = ours.clone();
        let app = (move |req: &Request| -> Response {
            // Mark our token, then find our entry: the only live one already cancelled.
            req.cancel_token().cancel();
            let st = Timer::global().lock();
            let ids: Vec<u64> = st
                .live
                .iter()
                .filter(|(_, t)| t.is_cancelled())
                .map(|(id, _)| *id)
                .collect();
            drop(st);
            *ours2.lock().unwrap() = ids;
            panic!("boom")
        })
        .layer(Timeout::new(Duration::from_secs(3600)));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            app.handle(&mut Request::default())
        }));
        assert!(caught.is_err());
        let ids = ours.lock().unwrap().clone();
        assert_eq!(ids.len(), 1);
        let st = Timer::global().lock();
        assert!(!st.live.contains_key(&ids[0]));
        assert!(!st.fired.contains(&ids[0]));
    }

    #[test]
    fn stale_deadlines_do_not_accumulate() {
        let app =
            (|_: &Request| Response::text("x")).layer(Timeout::new(Duration::from_secs(3600)));
        for _ in 0..10_000 {
            app.handle(&mut Request::default());
        }
        let (heap, live, fired) = Timer::global().sizes();
        // Other tests may be running; their entries are few.
        assert!(heap <= 2 * live + 64 + 16, "heap {heap} live {live}");
        assert!(live < 16 && fired < 16, "live {live} fired {fired}");
    }
}
