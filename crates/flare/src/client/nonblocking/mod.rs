//! Non-blocking requests: [`RequestBuilder::start`] hands a request to the
//! client's I/O thread and returns a [`Pending`] at once.
//!
//! # Calling an upstream from a handler
//!
//! Handlers run on their worker thread, one at a time, so a handler must not wait
//! for an upstream. With [`start`](RequestBuilder::start) it does not:
//! [`Pending::then`] returns a deferred response to the worker straight away, the
//! worker goes on serving its other connections, and when the upstream has
//! answered, the closure turns the result into the response the worker then writes.
//!
//! ```no_run
//! use flare::client::Client;
//! use flare::prelude::*;
//!
//! let upstream = Client::builder().no_proxy().build()?; // one per program: share it
//! let router: Router = Router::new().get("/up", move |_req: &Request| {
//!     upstream
//!         .get("http://127.0.0.1:9000/slow")
//!         .start()
//!         .then(|result| match result {
//!             Ok(resp) if resp.status().is_success() => {
//!                 Response::text(resp.text().unwrap_or_default())
//!             }
//!             Ok(_) => Response::error(StatusCode::BAD_GATEWAY, "upstream failed"),
//!             Err(e) if e.is_timeout() => {
//!                 Response::error(StatusCode::GATEWAY_TIMEOUT, "upstream timed out")
//!             }
//!             Err(_) => Response::error(StatusCode::BAD_GATEWAY, "upstream unreachable"),
//!         })
//! });
//! # let _ = router;
//! # Ok::<(), flare::client::Error>(())
//! ```
//!
//! No thread waits per call: a [`Client`] has one I/O thread (started by its first
//! `start`, shared by its clones, gone with the last clone once nothing is in
//! flight) that runs every exchange on a flare-reactor `Poller` with non-blocking
//! sockets, a timer wheel for the connect, read-idle and whole-request timeouts,
//! and a waker for new requests and cancellations. The closure given to `then` runs
//! on that thread (or at once on the caller's, when the exchange has already
//! failed, e.g. past [`ClientBuilder::max_in_flight`]): it must be quick and must
//! not block. The response it gets holds the whole body in memory, so `text`,
//! `bytes` and `json` do not wait.
//!
//! A raw [`Protocol`](crate::tcp::Protocol) uses [`Pending::on_complete`] with its
//! connection's [`Waker`](crate::tcp::Waker): store the result, wake, and pick it
//! up in `on_wake`. [`Pending::wait`] blocks (tests, threads that are not workers).
//! Dropping a `Pending` cancels the exchange: its HTTP/1.1 connection is closed,
//! never pooled; its HTTP/2 stream is reset and the connection serves on.
//!
//! # What the non-blocking path does
//!
//! The same client settings as [`send`](RequestBuilder::send): HTTP/1.1 over TCP or
//! TLS (flare-tls with the client's roots and certificates), HTTP/2 (below),
//! a keep-alive pool of its own (the limits and idle timeout of
//! [`ClientBuilder::pool_max_idle_per_host`] and friends; an idle connection the
//! server closes is seen by the poller and dropped before reuse; an idempotent
//! request on a reused connection that dies before any response byte is retried
//! once on a fresh one, other requests never), redirects by the client's policy,
//! `Expect: 100-continue` for large bodies, the response size cap and gzip/deflate
//! decoding under it, and every timeout as the same [`TimeoutKind`](super::TimeoutKind).
//!
//! HTTP/2 as `send` chooses it: over TLS ALPN offers `h2` then `http/1.1` (only
//! `http/1.1` with [`ClientBuilder::http1_only`]) and the server's choice holds;
//! on `http://` direct, [`ClientBuilder::http2_prior_knowledge`] speaks h2c from
//! the first byte (through a proxy it is HTTP/1.1 in absolute form, as with
//! `send`). The settings are `send`'s (1 MiB stream and 4 MiB connection receive
//! windows). All the in-flight requests to an origin share one connection, one
//! stream each; a second connection opens only when the server's
//! `SETTINGS_MAX_CONCURRENT_STREAMS` is reached or it sent GOAWAY. Requests that
//! come while that connection is being set up (TCP, TLS, the server's SETTINGS,
//! all under the connect timeout) wait for it rather than open their own; if
//! ALPN then chooses HTTP/1.1 they each go their own way, and the origin is
//! remembered as HTTP/1.1. A body goes out as the server's flow-control windows
//! open (WINDOW_UPDATE), any size; no `Expect: 100-continue`. The read timeout is
//! per stream (nothing for that stream), the write timeout while its body waits
//! for the window or the socket; a request that times out or whose `Pending` is
//! dropped resets its stream (RST_STREAM CANCEL) and the connection serves the
//! others. Streams refused by the server (REFUSED_STREAM, or above a GOAWAY's
//! last stream id) and the streams of a connection that closed before they heard
//! anything are retried once on another connection when idempotent, as on
//! HTTP/1.1; a connection error fails its streams with
//! [`ProtocolError::Http2`](super::ProtocolError::Http2), a reset stream with
//! [`ProtocolError::Http2Reset`](super::ProtocolError::Http2Reset). The size cap,
//! gzip/deflate, redirects and cookies are the HTTP/1.1 path's. A connection
//! without streams stays for the pool's idle timeout (the idle-connection counts
//! do not apply to it, as with `send`), then closes with GOAWAY; no PING
//! keep-alive.
//!
//! Names resolve without blocking: IP literals directly; other names through
//! flare-dns's [`ReactorResolver`](flare_dns::ReactorResolver) on the I/O thread
//! (`/etc/hosts` and `localhost` answer at once, then its own cache, then UDP/TCP
//! queries on the same poller, addresses in happy-eyeballs order, tried 250 ms apart
//! as RFC 8305 says; the resolver configuration of [`ClientBuilder::resolver`] when
//! one is set, its cache not shared).
//!
//! Proxies as [`send`](RequestBuilder::send) uses them (`HTTP_PROXY`,
//! `HTTPS_PROXY`, [`ClientBuilder::proxy`], with `NO_PROXY` and
//! [`ClientBuilder::no_proxy`] going direct), chosen again for each redirect by
//! its own URL. The proxy's name resolves and connects like any other. `http://`
//! goes to the proxy in absolute form (`GET http://host:port/path HTTP/1.1`) with
//! the proxy's credentials as `Proxy-Authorization`, pooled per origin and proxy,
//! never mixed with direct connections; a `407` from the proxy is
//! [`Error::Proxy`]. `https://` goes through a `CONNECT host:port` tunnel (the
//! credentials on the CONNECT only, never to the origin), written and read without
//! blocking: interim replies skipped, the reply head bounded (16 KiB), a refusal
//! [`Error::Proxy`] with the proxy's status; TLS to the origin (its name for SNI
//! and the certificate) then runs inside the tunnel. The connect timeout covers the
//! TCP connection to the proxy, the tunnel and the TLS handshake.
//!
//! Not on this path, a [`Error::Unsupported`] at once rather than something else
//! done quietly: streamed request bodies
//! ([`Body::from_reader`](super::Body::from_reader),
//! [`Body::sized`](super::Body::sized): a reader could block the I/O thread).

mod conn;
mod exchange;
mod h2;
mod io;
mod pending;
mod pool;
mod tunnel;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use flare_reactor::Waker;
use http::header;

use super::body::BodyKind;
use super::error::{Error, Result};
use super::request::RequestBuilder;
use super::url::{Scheme, Url};
use super::{Client, ClientBuilder};
use exchange::{Req, Settings};
use io::IoConfig;
pub use pending::Pending;
use pending::{Slot, ON_IO_THREAD};

/// Default for [`ClientBuilder::max_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4096;

/// The non-blocking settings of a [`ClientBuilder`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Config {
    max_in_flight: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

impl ClientBuilder {
    /// Most non-blocking requests ([`RequestBuilder::start`]) in flight at once on
    /// this client, redirects and the retry included in the one they belong to.
    /// Default [`DEFAULT_MAX_IN_FLIGHT`] (4096). Each holds a socket and its
    /// buffers (a response body up to the size cap) on the I/O thread; past the
    /// limit `start` fails at once with [`Error::TooManyInFlight`] (which
    /// [`Pending::then`] hands to its closure), so an upstream that stops answering
    /// sheds load instead of piling up descriptors and memory.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.nonblocking.max_in_flight = n;
        self
    }
}

impl Client {
    /// Non-blocking requests in flight now (started, not yet finished or
    /// cancelled): for tests and metrics.
    pub fn in_flight(&self) -> usize {
        self.inner.nonblocking.in_flight()
    }
}

/// The client's side of its I/O thread: started by the first `start`, told to
/// stop when the client (its last clone) goes.
#[derive(Debug)]
pub(super) struct Shared {
    config: Config,
    queue: Mutex<Option<Arc<Queue>>>,
}

impl Shared {
    pub(super) fn new(config: Config) -> Shared {
        Shared {
            config,
            queue: Mutex::new(None),
        }
    }

    fn in_flight(&self) -> usize {
        lock(&self.queue)
            .as_ref()
            .map_or(0, |q| q.in_flight.load(Ordering::Acquire))
    }

    /// The running I/O thread's queue, starting the thread the first time.
    fn queue(&self, client: &Client, url: &str) -> Result<Arc<Queue>> {
        let inner = &*client.inner;
        let client_weak = Arc::downgrade(&client.inner);
        let mut q = lock(&self.queue);
        if let Some(q) = &*q {
            return Ok(q.clone());
        }
        let io_err = |source| Error::Io {
            url: url.to_owned(),
            source,
        };
        let max_in_flight = self.config.max_in_flight;
        // ALPN as `send` offers it: `h2` then `http/1.1`, or `http/1.1` alone.
        let alpn: &[&[u8]] = if inner.http2 {
            &[b"h2", b"http/1.1"]
        } else {
            &[b"http/1.1"]
        };
        let config = IoConfig {
            tls: inner.connector.tls.with_alpn(alpn),
            http2: inner.http2,
            connect_timeout: inner.connector.connect_timeout,
            nodelay: inner.connector.nodelay,
            pool: inner.pool.config,
            redirect: inner.redirect,
            proxies: inner.proxies.clone(),
            http2_prior_knowledge: inner.http2_prior_knowledge,
            settings: Settings {
                expect_threshold: inner.expect_threshold,
                read_timeout: inner.read_timeout,
                write_timeout: inner.write_timeout,
                max_response_size: inner.max_response_size,
            },
            resolver: inner
                .connector
                .custom_resolver
                .as_ref()
                .map(|r| r.config().clone()),
            cookies: inner.cookies.clone(),
            client: client_weak,
        };
        let queue = io::spawn(config, move |waker| {
            Arc::new(Queue {
                inbox: Mutex::new(Inbox::default()),
                waker,
                in_flight: AtomicUsize::new(0),
                max_in_flight,
            })
        })
        .map_err(io_err)?;
        *q = Some(queue.clone());
        Ok(queue)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(q) = lock(&self.queue).take() {
            q.close();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Refuses what the non-blocking path does not do (see the module docs), for the
/// first request and for each redirect.
fn check_supported(url: &Url, url_text: &str) -> Result<()> {
    match url.scheme_kind() {
        Scheme::Http | Scheme::Https => Ok(()),
        Scheme::Ws | Scheme::Wss => Err(Error::InvalidUrl {
            url: url_text.to_owned(),
            reason: "scheme is not http or https",
        }),
    }
}

impl RequestBuilder {
    /// Starts the request on the client's I/O thread and returns at once; the
    /// worker (or any thread) never waits for the network. Follow with
    /// [`Pending::then`] in a handler, [`Pending::on_complete`] in a raw protocol,
    /// or [`Pending::wait`] elsewhere. Errors (a bad URL, something this path does
    /// not do, [`ClientBuilder::max_in_flight`] reached) come out of the `Pending`
    /// the same way as network errors. See the [module docs](crate::client::nonblocking).
    pub fn start(self) -> Pending {
        match submit(self) {
            Ok(p) => p,
            Err(e) => Pending::failed(e),
        }
    }
}

fn submit(rb: RequestBuilder) -> Result<Pending> {
    if let Some(e) = rb.error {
        return Err(e);
    }
    let url = rb.url?;
    let client = rb.client;
    let inner = &*client.inner;
    let url_text = url.to_string();
    check_supported(&url, &url_text)?;
    let body = match rb.body.kind {
        BodyKind::Empty => Bytes::new(),
        BodyKind::Bytes(b) => b,
        BodyKind::Reader { .. } => {
            return Err(Error::Unsupported {
                url: url_text,
                what: "a streamed request body (pass the bytes)",
            })
        }
    };
    let deadline = rb.timeout.or(inner.timeout).map(|t| Instant::now() + t);
    let (headers, decode) = client.final_headers(&url, &rb.headers);
    let queue = inner.nonblocking.queue(&client, &url_text)?;
    if queue.in_flight.fetch_add(1, Ordering::AcqRel) >= queue.max_in_flight {
        queue.in_flight.fetch_sub(1, Ordering::AcqRel);
        return Err(Error::TooManyInFlight {
            url: url_text,
            limit: queue.max_in_flight,
        });
    }
    let slot = Arc::new(Slot::new());
    let url_text_copy = url_text.clone();
    queue.submit(Job {
        slot: slot.clone(),
        req: Req {
            method: rb.method,
            url,
            url_text,
            user_host: rb.headers.contains_key(header::HOST),
            user_cookie: rb.headers.contains_key(header::COOKIE),
            headers,
            body,
            decode,
        },
        deadline,
    });
    Ok(Pending {
        slot,
        url: url_text_copy,
        queue: Some(queue),
        armed: true,
    })
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

/// What the I/O thread and its clients share: new requests and cancellations in,
/// the waker, the count in flight.
struct Queue {
    inbox: Mutex<Inbox>,
    waker: Waker,
    in_flight: AtomicUsize,
    max_in_flight: usize,
}

#[derive(Default)]
struct Inbox {
    jobs: Vec<Job>,
    cancels: Vec<u64>,
    closed: bool,
}

impl Inbox {
    fn is_empty(&self) -> bool {
        self.jobs.is_empty() && self.cancels.is_empty() && !self.closed
    }
}

/// A request handed to the I/O thread.
struct Job {
    slot: Arc<Slot>,
    req: Req,
    deadline: Option<Instant>,
}

impl Queue {
    /// Adds to the inbox; wakes the I/O thread only when the inbox was empty (it
    /// drains its waker before it takes the inbox, so no wake is lost).
    fn push(&self, f: impl FnOnce(&mut Inbox)) {
        let was_empty = {
            let mut inbox = lock(&self.inbox);
            let was_empty = inbox.is_empty();
            f(&mut inbox);
            was_empty
        };
        if was_empty {
            if let Err(e) = self.waker.wake() {
                log::error!("client I/O thread wake failed: {e}");
            }
        }
    }

    fn submit(&self, job: Job) {
        self.push(|i| i.jobs.push(job));
    }

    fn cancel(&self, id: u64) {
        self.push(|i| i.cancels.push(id));
    }

    fn close(&self) {
        self.push(|i| i.closed = true);
    }

    /// Everything queued since the last call.
    fn finished_one(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    fn take(&self) -> Inbox {
        let mut inbox = lock(&self.inbox);
        let closed = inbox.closed;
        let taken = std::mem::take(&mut *inbox);
        inbox.closed = closed;
        taken
    }
}
