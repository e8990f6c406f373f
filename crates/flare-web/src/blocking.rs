//! Handlers that block, off the worker: a bounded thread pool and the [`blocking`]
//! route wrapper.
//!
//! Handlers run on their connection's worker thread, so one that waits (on a
//! database, a file system, a slow upstream) stalls every other connection of that
//! worker. Wrap it in [`blocking`] and it runs on a [`BlockingPool`] thread
//! instead: the worker answers other connections meanwhile and writes this
//! response when the pool hands it back (through the worker's waker). The pool's
//! queue is bounded; past the bound the request is answered `503 Service
//! Unavailable` with `Retry-After: 1` at once, so overload sheds instead of queueing
//! without end.
//!
//! ```
//! use flare_web::blocking::blocking;
//! use flare_web::router::Router;
//! use flare_web::Request;
//!
//! fn report(_req: &Request) -> String {
//!     std::thread::sleep(std::time::Duration::from_millis(5)); // a slow query
//!     "done".to_string()
//! }
//! let router: Router = Router::new().get("/report", blocking(report));
//! # let _ = router;
//! ```
//!
//! The handler gets an owned copy of the request (method, target, headers, body,
//! peer, path parameters; not the extensions), and the same cancel token: it flips
//! when the client goes away, so a long job can stop early. A [`Protocol`] of a raw
//! server uses [`BlockingPool::spawn`] and its connection's waker the same way.
//!
//! [`Protocol`]: https://docs.rs/flare/latest/flare/tcp/trait.Protocol.html

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use http::{HeaderValue, StatusCode};

use crate::body::StreamWaker;
use crate::request::Request;
use crate::response::Response;
use crate::router::FnHandler;

type Job = Box<dyn FnOnce() + Send>;

/// A bounded pool of threads for work that blocks. Cheap to clone (one pool).
#[derive(Clone)]
pub struct BlockingPool {
    inner: Arc<Pool>,
}

struct Pool {
    queue: Mutex<Queue>,
    ready: Condvar,
    max_queue: usize,
}

struct Queue {
    jobs: VecDeque<Job>,
    /// Threads running a job.
    busy: usize,
    threads: usize,
}

impl std::fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = self.inner.lock();
        f.debug_struct("BlockingPool")
            .field("threads", &q.threads)
            .field("busy", &q.busy)
            .field("queued", &q.jobs.len())
            .field("max_queue", &self.inner.max_queue)
            .finish()
    }
}

/// The pool's queue is at its bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolFull;

impl std::fmt::Display for PoolFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("blocking pool queue full")
    }
}

impl std::error::Error for PoolFull {}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl BlockingPool {
    /// A pool of `threads` threads (started now, named `flare-blocking-N`) whose
    /// queue holds at most `max_queue` jobs waiting for a thread.
    pub fn new(threads: usize, max_queue: usize) -> BlockingPool {
        let threads = threads.max(1);
        let inner = Arc::new(Pool {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                busy: 0,
                threads,
            }),
            ready: Condvar::new(),
            max_queue,
        });
        for i in 0..threads {
            let pool = inner.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("flare-blocking-{i}"))
                .spawn(move || run(&pool));
            if spawned.is_err() {
                inner.lock().threads -= 1;
            }
        }
        BlockingPool { inner }
    }

    /// The pool [`blocking`] uses: 4 threads per CPU (at least 8), a queue of 256.
    pub fn global() -> &'static BlockingPool {
        static POOL: OnceLock<BlockingPool> = OnceLock::new();
        POOL.get_or_init(|| {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            BlockingPool::new((4 * cpus).max(8), 256)
        })
    }

    /// Runs `job` on a pool thread, or refuses it when every thread is busy and the
    /// queue is at its bound.
    pub fn spawn(&self, job: impl FnOnce() + Send + 'static) -> Result<(), PoolFull> {
        let mut q = self.inner.lock();
        let idle = q.threads - q.busy;
        if q.jobs.len() >= idle + self.inner.max_queue {
            return Err(PoolFull);
        }
        q.jobs.push_back(Box::new(job));
        drop(q);
        self.inner.ready.notify_one();
        Ok(())
    }

    /// Jobs waiting for a thread now.
    pub fn queued(&self) -> usize {
        let q = self.inner.lock();
        q.jobs.len().saturating_sub(q.threads - q.busy)
    }
}

fn run(pool: &Pool) {
    loop {
        let job = {
            let mut q = pool.lock();
            loop {
                if let Some(j) = q.jobs.pop_front() {
                    q.busy += 1;
                    break j;
                }
                q = pool.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let _ = catch_unwind(AssertUnwindSafe(job));
        pool.lock().busy -= 1;
    }
}

/// A response that a pool thread (or a client's I/O thread) will produce; the
/// driver waits for it without blocking its worker. For protocol drivers and
/// [`blocking`].
///
/// The producer keeps a clone and calls [`complete`](Deferred::complete); the
/// driver turns its clone into a [`DeferredWait`] and polls that. When the driver
/// gives up first (the connection closed, the HTTP/2 stream was reset), dropping
/// the `DeferredWait` abandons the response: the producer's
/// [`on_abandon`](Deferred::on_abandon) callback runs, so work done for nobody
/// (an upstream request, say) can stop.
#[derive(Clone, Default)]
pub struct Deferred(Arc<Mutex<DeferredState>>);

type AbandonHook = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct DeferredState {
    resp: Option<Response>,
    waker: Option<StreamWaker>,
    /// The driver took the response: abandoning is no longer possible.
    taken: bool,
    abandoned: bool,
    on_abandon: Option<AbandonHook>,
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deferred")
    }
}

impl Deferred {
    fn lock(&self) -> std::sync::MutexGuard<'_, DeferredState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Hands the response over and wakes the waiting driver (dropped at once when
    /// the driver has abandoned it).
    pub fn complete(&self, resp: Response) {
        let (waker, hook) = {
            let mut s = self.lock();
            if s.abandoned {
                return;
            }
            s.resp = Some(resp);
            // Nothing can be abandoned any more that matters: let the hook (and
            // whatever it holds) go now rather than with the last clone.
            (s.waker.take(), s.on_abandon.take())
        };
        drop(hook);
        if let Some(w) = waker {
            w.wake();
        }
    }
    /// The response if it is ready; otherwise registers `waker` (made once) to be
    /// woken when it is.
    pub fn poll(&self, waker: &dyn Fn() -> StreamWaker) -> Option<Response> {
        let mut s = self.lock();
        if let Some(r) = s.resp.take() {
            s.taken = true;
            return Some(r);
        }
        if s.waker.is_none() {
            s.waker = Some(waker());
        }
        None
    }
    /// Runs `f` if the driver abandons the response before taking it: at once
    /// when it already has, never once the response is completed. One hook; a
    /// second call replaces the first.
    pub fn on_abandon(&self, f: impl FnOnce() + Send + 'static) {
        {
            let mut s = self.lock();
            if !s.abandoned {
                if s.resp.is_none() && !s.taken {
                    s.on_abandon = Some(Box::new(f));
                }
                return;
            }
        }
        f();
    }
    /// Whether the driver gave up waiting (so [`complete`](Deferred::complete)
    /// would go nowhere).
    pub fn is_abandoned(&self) -> bool {
        self.lock().abandoned
    }
    /// The driver's end: polls like the `Deferred`, and abandons it when dropped
    /// before the response was taken.
    pub fn into_wait(self) -> DeferredWait {
        DeferredWait(self)
    }
    fn abandon(&self) {
        let hook = {
            let mut s = self.lock();
            if s.taken || s.abandoned {
                return;
            }
            s.abandoned = true;
            s.resp = None;
            s.waker = None;
            s.on_abandon.take()
        };
        if let Some(f) = hook {
            if catch_unwind(AssertUnwindSafe(f)).is_err() {
                log::error!("a Deferred::on_abandon callback panicked");
            }
        }
    }
}

/// A driver's end of a [`Deferred`] ([`Deferred::into_wait`]): dropping it before
/// the response arrived abandons the response.
#[derive(Debug)]
pub struct DeferredWait(Deferred);

impl DeferredWait {
    /// As [`Deferred::poll`].
    pub fn poll(&self, waker: &dyn Fn() -> StreamWaker) -> Option<Response> {
        self.0.poll(waker)
    }
}

impl Drop for DeferredWait {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

/// Marker for [`Blocking`] handlers.
#[derive(Debug)]
pub enum ByBlocking {}

/// A route handler run on a [`BlockingPool`]; see [`blocking`].
pub struct Blocking<F, M> {
    f: Arc<F>,
    pool: BlockingPool,
    _m: PhantomData<fn() -> M>,
}

impl<F, M> std::fmt::Debug for Blocking<F, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking")
            .field("pool", &self.pool)
            .finish()
    }
}

/// Runs a route handler (any function a route takes: `Fn(&Request) -> R`, or
/// extractors) on the global [`BlockingPool`] instead of the worker.
pub fn blocking<F, M>(f: F) -> Blocking<F, M> {
    Blocking {
        f: Arc::new(f),
        pool: BlockingPool::global().clone(),
        _m: PhantomData,
    }
}

impl<F, M> Blocking<F, M> {
    /// Runs on `pool` instead of the global one.
    pub fn on(mut self, pool: &BlockingPool) -> Self {
        self.pool = pool.clone();
        self
    }
}

impl<F, M, S> FnHandler<(ByBlocking, M), S> for Blocking<F, M>
where
    F: FnHandler<M, S>,
    M: 'static,
    S: Clone + Send + Sync + 'static,
{
    fn call(&self, req: &mut Request, state: &S) -> Response {
        let mut owned = req.to_owned_request();
        let deferred = Deferred::default();
        let done = deferred.clone();
        let f = self.f.clone();
        let state = state.clone();
        let job = move || {
            let resp = match catch_unwind(AssertUnwindSafe(|| f.call(&mut owned, &state))) {
                Ok(r) => r,
                Err(_) => {
                    Response::error(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
                }
            };
            done.complete(resp);
        };
        match self.pool.spawn(job) {
            Ok(()) => Response::deferred(deferred),
            Err(PoolFull) => {
                let mut r = Response::error(StatusCode::SERVICE_UNAVAILABLE, "server busy");
                r.insert_header(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn the_queue_bound_refuses_and_jobs_run() {
        let pool = BlockingPool::new(1, 1);
        let gate = Arc::new(Mutex::new(()));
        let hold = gate.lock().unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let mk = |ran: Arc<AtomicUsize>, gate: Arc<Mutex<()>>| {
            move || {
                let _g = gate.lock().unwrap();
                ran.fetch_add(1, Ordering::SeqCst);
            }
        };
        // One running (held), one queued; the third is refused.
        pool.spawn(mk(ran.clone(), gate.clone())).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        pool.spawn(mk(ran.clone(), gate.clone())).unwrap();
        assert_eq!(pool.spawn(mk(ran.clone(), gate.clone())), Err(PoolFull));
        assert_eq!(pool.queued(), 1);
        drop(hold);
        let t = std::time::Instant::now();
        while ran.load(Ordering::SeqCst) < 2 {
            assert!(t.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn deferred_wakes_once_completed_whichever_comes_first() {
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        let mk = move || {
            let w = w.clone();
            StreamWaker::new(move || {
                w.fetch_add(1, Ordering::SeqCst);
            })
        };
        let d = Deferred::default();
        assert!(d.poll(&mk).is_none());
        d.complete(Response::text("late"));
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        assert_eq!(d.poll(&mk).unwrap().status(), StatusCode::OK);
        // Completed before anyone looked: no wake needed, the answer is there.
        let d = Deferred::default();
        d.complete(Response::text("early"));
        assert!(d.poll(&mk).is_some());
        assert_eq!(woken.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn dropping_the_wait_before_the_response_abandons_it_once() {
        let hooks = Arc::new(AtomicUsize::new(0));
        let hook = |hooks: &Arc<AtomicUsize>| {
            let h = hooks.clone();
            move || {
                h.fetch_add(1, Ordering::SeqCst);
            }
        };
        let mk = || StreamWaker::new(|| {});
        // Abandoned while waiting: the hook runs once, a late response goes nowhere.
        let d = Deferred::default();
        d.on_abandon(hook(&hooks));
        let wait = d.clone().into_wait();
        assert!(wait.poll(&mk).is_none());
        drop(wait);
        assert_eq!(hooks.load(Ordering::SeqCst), 1);
        assert!(d.is_abandoned());
        d.complete(Response::text("late"));
        // A hook registered after the abandon runs at once.
        d.on_abandon(hook(&hooks));
        assert_eq!(hooks.load(Ordering::SeqCst), 2);

        // Taken, then dropped: not abandoned, no hook.
        let d = Deferred::default();
        d.on_abandon(hook(&hooks));
        let wait = d.clone().into_wait();
        d.complete(Response::text("on time"));
        assert!(wait.poll(&mk).is_some());
        drop(wait);
        assert!(!d.is_abandoned());
        // Completed but never taken (the driver went first): abandoned, but the
        // hook was released by `complete`: the work it would stop is done.
        let d = Deferred::default();
        d.on_abandon(hook(&hooks));
        d.complete(Response::text("unread"));
        drop(d.clone().into_wait());
        assert!(d.is_abandoned());
        assert_eq!(hooks.load(Ordering::SeqCst), 2);
    }
}
