//! Sans-IO HTTP/2 (RFC 9113): the frame codec and a connection state
//! machine for both roles, with flow control and limits against the known
//! HTTP/2 attacks.
//!
//! [`Connection`] never touches a socket or a clock. A driver feeds it the
//! bytes it reads ([`Connection::recv`]), drains [`Event`]s
//! ([`Connection::poll_event`]), answers through the `send_*` methods, and
//! writes whatever [`Connection::poll_output`] produces. Time enters only as
//! `now` arguments; [`Connection::poll_timeout`] says when to call
//! [`Connection::handle_timeout`].
//!
//! # Driver loop
//!
//! 1. On readable: `recv(bytes, now)` for each read. `Err` is a connection
//!    error: flush `poll_output` (it holds the GOAWAY) and close.
//! 2. Drain `poll_event`: `Headers` starts a request (server) or response
//!    (client); `Data` carries body octets, to be acknowledged with
//!    `release_capacity` once consumed (this is what reopens the peer's
//!    window); `StreamReset` cancels the stream's work; `SendReady` resumes
//!    a body that `send_data` only partly accepted. Handing a head back
//!    with `recycle_head` once it is read (and trailers with
//!    `recycle_fields`) lets the next heads reuse its buffers: a warm
//!    connection then decodes requests without allocating.
//! 3. Answer with `send_headers` / `send_data` / `send_trailers` (or
//!    `reset_stream`). `send_data` returns how much it took; the rest waits
//!    for `SendReady`.
//! 4. `poll_output` into the socket buffer whenever `wants_output`, and
//!    poll events again afterwards (draining output can free blocked
//!    streams).
//! 5. Arm a timer for `poll_timeout`; call `handle_timeout` when it fires.
//!    Close the socket once `is_closed` and the output is flushed.
//!
//! For h2c with prior knowledge, sniff [`PREFACE`] and use
//! [`Connection::server`]; for `Upgrade: h2c` answer 101 and use
//! [`Connection::server_upgrade`] (the request is stream 1).
//!
//! # Limits
//!
//! Every limit is a [`Config`] method with a default: concurrent streams
//! (128, `REFUSED_STREAM`), header list size (16 KiB: 431, past 4x GOAWAY
//! `ENHANCE_YOUR_CALM`), header block bytes (64 KiB) and CONTINUATION
//! frames per block (16), rapid reset (20 resets pending, 256 new streams
//! per read), locally generated resets (1024, MadeYouReset), PING /
//! SETTINGS / empty DATA / PRIORITY budgets (100 / 100 / 100 / 1000 per
//! 10 s), receive windows (1 MiB each), output buffer (256 KiB), SETTINGS
//! ACK timeout (10 s). Past a flood limit the connection ends with GOAWAY
//! `ENHANCE_YOUR_CALM`.
//!
//! ```
//! use std::time::Instant;
//! use flare_h2::{Config, Connection, Event, Request};
//!
//! let now = Instant::now();
//! let mut client = Connection::client(Config::new(), now);
//! let mut server = Connection::server(Config::new(), now);
//! let id = client
//!     .send_request(&Request::new(b"GET", b"http", b"example.com", b"/"), &[], true)
//!     .unwrap();
//!
//! // Move bytes until both sides are quiet.
//! let mut buf = Vec::new();
//! for _ in 0..4 {
//!     client.poll_output(&mut buf);
//!     server.recv(&buf, now).unwrap();
//!     buf.clear();
//!     while let Some(event) = server.poll_event() {
//!         if let Event::Headers { id, head, .. } = event {
//!             assert_eq!(head.path, b"/");
//!             server.send_headers(id, 200, &[(b"content-type", b"text/plain")], false).unwrap();
//!             server.send_data(id, b"hello", true).unwrap();
//!         }
//!     }
//!     server.poll_output(&mut buf);
//!     client.recv(&buf, now).unwrap();
//!     buf.clear();
//! }
//! let mut body = Vec::new();
//! while let Some(event) = client.poll_event() {
//!     if let Event::Data { data, .. } = event {
//!         body.extend_from_slice(&data);
//!     }
//! }
//! assert_eq!(body, b"hello");
//! assert_eq!(client.open_streams(), 0);
//! # let _ = id;
//! ```
#![forbid(unsafe_code)]

mod config;
mod connection;
mod error;
mod flood;
pub mod frame;
mod head;
mod stream;
mod stream_id;

pub use config::{Config, MAX_WINDOW};
pub use connection::{Connection, Event, Request, Role, PREFACE};
pub use error::{ConnectionError, ErrorCode, StreamError};
pub use head::Head;
pub use stream_id::StreamId;
