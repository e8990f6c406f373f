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
