//! Limits and timeouts of the server, each with a default and a builder method.

use std::time::Duration;

use flare_h1::Limits;

/// Server limits and timeouts. Every knob states its default and what it guards
/// against.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub(crate) limits: Limits,
    pub(crate) header_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) keep_alive_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) linger_timeout: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) max_requests_per_connection: u32,
    pub(crate) max_connections: usize,
    pub(crate) server_header: Option<&'static str>,
    pub(crate) accept_backoff: Duration,
    pub(crate) h2: flare_h2::Config,
    pub(crate) h2c: bool,
    pub(crate) tcp_nodelay: bool,
    pub(crate) io_uring: bool,
    pub(crate) io_uring_buffers: (u16, u32),
    pub(crate) ws: flare_ws::Config,
    pub(crate) ws_deflate: bool,
    pub(crate) ws_deflate_takeover: bool,
    pub(crate) ws_idle_timeout: Duration,
    pub(crate) ws_ping_interval: Option<Duration>,
    pub(crate) ws_max_outbound: usize,
    pub(crate) raw_max_input: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(75),
            write_timeout: Duration::from_secs(60),
            linger_timeout: Duration::from_secs(2),
            drain_timeout: Duration::from_secs(30),
            max_requests_per_connection: 10_000,
            max_connections: 10_000,
            server_header: Some("flare"),
            accept_backoff: Duration::from_millis(100),
            // Extended CONNECT (RFC 8441) carries WebSocket over HTTP/2.
            h2: flare_h2::Config::new().enable_connect_protocol(true),
            h2c: true,
            tcp_nodelay: true,
            io_uring: false,
            io_uring_buffers: (512, 8 * 1024),
            ws: flare_ws::Config::default(),
            ws_deflate: true,
            ws_deflate_takeover: false,
            ws_idle_timeout: Duration::from_secs(300),
            ws_ping_interval: None,
            ws_max_outbound: 1 << 20,
            raw_max_input: 64 * 1024,
        }
    }
}

impl ServerConfig {
    /// HTTP/1.1 parser limits: request line (8 KiB, 414), header block (16 KiB, 431),
    /// header count (100, 431), body (2 MiB, 413), chunk-size digits. See
    /// [`flare_h1::Limits`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// The largest request body (default 2 MiB); larger gets `413` and the connection
    /// is closed. Shorthand for the body limit in [`limits`](Self::limits).
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.limits = self.limits.max_body(bytes);
        self
    }
    /// Time from a request's first byte to the end of its head (default 30 s). Guards
    /// against slowloris: a client trickling header bytes is closed (with `408`).
    pub fn header_timeout(mut self, t: Duration) -> Self {
        self.header_timeout = t;
        self
    }
    /// Longest pause while reading a request body (default 30 s; `408` and close).
    pub fn body_timeout(mut self, t: Duration) -> Self {
        self.body_timeout = t;
        self
    }
    /// How long an idle keep-alive connection is kept (default 75 s).
    pub fn keep_alive_timeout(mut self, t: Duration) -> Self {
        self.keep_alive_timeout = t;
        self
    }
    /// Longest stall writing a response to a client that does not read (default
    /// 60 s); then the connection is closed. Guards against slow readers holding
    /// buffers.
    pub fn write_timeout(mut self, t: Duration) -> Self {
        self.write_timeout = t;
        self
    }
    /// After an error response or `Connection: close`, how long to keep reading and
    /// discarding what the client still sends so the response is not lost to a reset
    /// (default 2 s).
    pub fn linger_timeout(mut self, t: Duration) -> Self {
        self.linger_timeout = t;
        self
    }
    /// How long a drain on SIGINT/SIGTERM waits for requests in flight (default 30 s).
    pub fn drain_timeout(mut self, t: Duration) -> Self {
        self.drain_timeout = t;
        self
    }
    /// Requests served on one connection before it is closed (default 10,000).
    /// Bounds how long one client can pin a worker's connection state.
    pub fn max_requests_per_connection(mut self, n: u32) -> Self {
        self.max_requests_per_connection = n.max(1);
        self
    }
    /// Open connections per worker (default 10,000); past it the worker stops
    /// accepting until one closes. Guards file descriptors and memory.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }
    /// The `Server` header value (default `flare`; `None` omits it).
    ///
    /// # Panics
    /// If the value holds control characters (it is written into every response
    /// head as is).
    pub fn server_header(mut self, v: Option<&'static str>) -> Self {
        if let Some(s) = v {
            assert!(
                s.bytes().all(|c| c == b'\t' || (c >= 0x20 && c != 0x7f)),
                "Server header value holds control characters"
            );
        }
        self.server_header = v;
        self
    }
    /// HTTP/2 settings and limits (see [`flare_h2::Config`]: concurrent streams,
    /// windows, frame size, header list size, and the budgets against rapid reset,
    /// CONTINUATION, PING/SETTINGS/PRIORITY floods).
    pub fn http2(mut self, cfg: flare_h2::Config) -> Self {
        self.h2 = cfg;
        self
    }
    /// Serve HTTP/2 over cleartext on the same port: prior knowledge (the preface
    /// sniffed on a new connection) and `Upgrade: h2c` (default: on).
    pub fn h2c(mut self, on: bool) -> Self {
        self.h2c = on;
        self
    }
    /// `TCP_NODELAY` on accepted connections (default: on). With it off, Nagle's
    /// algorithm may hold a small response back until the previous one is
    /// acknowledged, which adds latency for streamed and pipelined responses.
    pub fn tcp_nodelay(mut self, on: bool) -> Self {
        self.tcp_nodelay = on;
        self
    }
    /// Drive plaintext connections through io_uring (Linux only; default: off, epoll).
    /// Each worker queues its receives and sends in a completion ring and hands them
    /// to the kernel in one `io_uring_enter` per loop turn, instead of a `recv` and a
    /// `send` syscall per request. Accepting, TLS connections and cross-thread wakes
    /// stay on epoll, watched through the ring. Responses are copied once into a
    /// per-connection staging buffer and files are read instead of `sendfile`d.
    /// Starting fails with an error where the kernel refuses io_uring.
    pub fn io_uring(mut self, on: bool) -> Self {
        self.io_uring = on;
        self
    }
    /// The receive buffers of each io_uring worker (default 512 of 8 KiB: 4 MiB per
    /// worker, shared by its connections; nothing is held per idle connection).
    /// `count` must be a power of two up to 32768. Arrivals beyond what the pool
    /// holds wait in the kernel's socket buffers: a connection whose receive found
    /// the pool empty is re-armed once a quarter of it is back, and one holding 8
    /// unread buffers is paused until its handler catches up.
    pub fn io_uring_buffers(mut self, count: u16, size: u32) -> Self {
        self.io_uring_buffers = (count, size);
        self
    }
    /// Pause before accepting again after the process ran out of file descriptors
    /// (default 100 ms).
    pub fn accept_backoff(mut self, t: Duration) -> Self {
        self.accept_backoff = t;
        self
    }

    /// WebSocket codec limits (`flare_ws::Config`: max frame and message size, 16 MiB
    /// each by default; max fragments; control-frame rate; close timeout, 5 s). A
    /// route may lower the sizes with `WebSocketUpgrade::max_message_size`.
    pub fn websocket(mut self, cfg: flare_ws::Config) -> Self {
        self.ws = cfg;
        self
    }
    /// Whether WebSocket connections may negotiate permessage-deflate (RFC 7692)
    /// when the client offers it (default: true). A route may refuse it with
    /// `WebSocketUpgrade::compression(false)`.
    pub fn websocket_deflate(mut self, on: bool) -> Self {
        self.ws_deflate = on;
        self
    }
    /// Whether permessage-deflate keeps its compression context between messages
    /// (default: false). Off, the server answers with `server_no_context_takeover;
    /// client_no_context_takeover` (RFC 7692 lets a server add both unasked) and
    /// frees both deflate states after each message: an idle WebSocket holds no
    /// deflate memory, at some cost in ratio for small, similar messages. On, each
    /// connection keeps about 355 KiB of deflate state (miniz_oxide's compressor
    /// ~312 KiB, decompressor ~43 KiB) for its whole life.
    pub fn websocket_deflate_context_takeover(mut self, on: bool) -> Self {
        self.ws_deflate_takeover = on;
        self
    }
    /// How long a WebSocket may see no frame before the server closes it with 1001
    /// (default: 300 s). With [`websocket_ping_interval`](Self::websocket_ping_interval)
    /// set, the server pings first and any frame (a pong) keeps the connection.
    pub fn websocket_idle_timeout(mut self, t: Duration) -> Self {
        self.ws_idle_timeout = t;
        self
    }
    /// Ping a WebSocket after this much silence (default: off); the idle timeout
    /// then counts from the ping.
    pub fn websocket_ping_interval(mut self, t: Option<Duration>) -> Self {
        self.ws_ping_interval = t;
        self
    }
    /// Bound of a WebSocket's outbound queue in payload bytes (default: 1 MiB);
    /// past it `WsSender` answers `Full`, so a peer that does not read cannot make
    /// the server buffer without bound.
    pub fn websocket_max_outbound(mut self, n: usize) -> Self {
        self.ws_max_outbound = n.max(1);
        self
    }
    /// For `TcpServer` protocols: the most input a connection buffers while its
    /// protocol consumes none of it (default: 64 KiB). Past it the connection is
    /// closed, so a peer cannot make the server hold an unbounded message.
    pub fn max_input_buffer(mut self, n: usize) -> Self {
        self.raw_max_input = n.max(1);
        self
    }
}
