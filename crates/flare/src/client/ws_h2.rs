//! WebSocket over HTTP/2 (RFC 8441) for [`WsClient`](super::WsClient): one
//! dedicated HTTP/2 connection per WebSocket (not the client's pooled one), its
//! one stream opened with an extended CONNECT and carrying the WebSocket frames in
//! DATA frames.
//!
//! Flow control both ways: received DATA is released (WINDOW_UPDATE) as the
//! codec takes it, so a server cannot make us buffer more than our windows
//! ([`STREAM_WINDOW`]); sending takes what the server's windows allow and waits
//! for its WINDOW_UPDATEs, at most [`WINDOW_STALL`] without one.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use flare_h2::{Config, Connection, ErrorCode, Event, Request, StreamId};
use flare_ws::handshake::{ClientHandshake, Negotiated};

use super::error::{Error, ProtocolError, Result, TimeoutKind};
use super::h1::map_io;
use super::transport::{Deadlines, Transport};

/// Our receive window for the WebSocket's stream, and for the connection.
pub(crate) const STREAM_WINDOW: u32 = 1 << 20;

/// The longest a send waits for the server to open its window.
pub(crate) const WINDOW_STALL: Duration = Duration::from_secs(30);

/// How long closing waits for the server to end its half of the stream.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// A response head: status, fields, whether it had a Content-Length.
type ResponseHead = (u16, Vec<(Vec<u8>, Vec<u8>)>, bool);

/// A WebSocket's HTTP/2 stream on its own connection.
pub(crate) struct H2Stream {
    t: Transport,
    conn: Connection,
    /// The extended CONNECT's stream, once sent.
    id: Option<StreamId>,
    url: String,
    /// The final response head.
    head: Option<ResponseHead>,
    /// DATA received on the stream and not yet read.
    data: VecDeque<Vec<u8>>,
    front: usize,
    /// The server ended its half (END_STREAM or trailers).
    ended: bool,
    reset: Option<ErrorCode>,
    /// The socket reached EOF.
    eof: bool,
    /// The read deadlines the caller asked for (restored after a send waits).
    deadlines: Deadlines,
    out: Vec<u8>,
    rbuf: Vec<u8>,
    finished: bool,
}

impl std::fmt::Debug for H2Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Stream")
            .field("id", &self.id)
            .field("ended", &self.ended)
            .field("reset", &self.reset)
            .finish_non_exhaustive()
    }
}

impl H2Stream {
    /// Starts HTTP/2 on `t` (after ALPN `h2`, or by prior knowledge) and waits for
    /// the server's SETTINGS, within `t`'s deadlines. `Ok(None)` when they do not
    /// enable extended CONNECT: the connection is then ended with GOAWAY and
    /// dropped.
    pub(crate) fn start(t: Transport, deadlines: Deadlines, url: &str) -> Result<Option<H2Stream>> {
        let now = Instant::now();
        let config = Config::new()
            .initial_stream_window(STREAM_WINDOW)
            .initial_connection_window(STREAM_WINDOW);
        let mut s = H2Stream {
            t,
            conn: Connection::client(config, now),
            id: None,
            url: url.to_owned(),
            head: None,
            data: VecDeque::new(),
            front: 0,
            ended: false,
            reset: None,
            eof: false,
            deadlines,
            out: Vec::new(),
            rbuf: vec![0; 32 * 1024],
            finished: false,
        };
        s.t.set_deadlines(deadlines);
        s.flush()?;
        while !s.conn.peer_settings_received() {
            s.fill()?;
            if s.eof {
                return Err(Error::protocol(url, ProtocolError::UnexpectedEof));
            }
        }
        // RFC 8441 section 3: ":protocol ... unless the server has sent
        // SETTINGS_ENABLE_CONNECT_PROTOCOL=1".
        if !s.conn.peer_enable_connect_protocol() {
            s.finished = true;
            s.conn.shutdown(Instant::now());
            let _ = s.flush();
            s.close_transport();
            return Ok(None);
        }
        Ok(Some(s))
    }

    /// Sends the extended CONNECT for `path` on `authority` (RFC 8441 section 4:
    /// `:method CONNECT`, `:protocol websocket`, `:scheme`, `:path`,
    /// `:authority`), with `hs`'s fields and `extra` ones, and checks the answer:
    /// a 2xx with what we offered. Another status is [`Error::Status`].
    pub(crate) fn open_websocket(
        &mut self,
        hs: &ClientHandshake,
        scheme: &str,
        authority: &str,
        path: &str,
        extra: &[(String, String)],
    ) -> Result<Negotiated> {
        let mut fields: Vec<(&[u8], &[u8])> = hs
            .connect_fields()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        // `Host` becomes `:authority` in HTTP/2 (RFC 9113 section 8.3.1).
        fields.extend(
            extra
                .iter()
                .filter(|(n, _)| !n.eq_ignore_ascii_case("host"))
                .map(|(n, v)| (n.as_bytes(), v.as_bytes())),
        );
        let req = Request {
            protocol: Some(b"websocket"),
            ..Request::new(
                b"CONNECT",
                scheme.as_bytes(),
                authority.as_bytes(),
                path.as_bytes(),
            )
        };
        let id = self.conn.send_request(&req, &fields, false).map_err(|e| {
            log::debug!("extended CONNECT to {} not sent: {e}", self.url);
            Error::protocol(&self.url, ProtocolError::Other("HTTP/2 stream not opened"))
        })?;
        self.id = Some(id);
        self.flush()?;
        let (status, head, sized) = loop {
            if let Some(h) = self.head.take() {
                break h;
            }
            self.check_stream()?;
            if self.ended || self.eof {
                return Err(Error::protocol(&self.url, ProtocolError::UnexpectedEof));
            }
            self.fill()?;
        };
        let fields = head.iter().map(|(n, v)| (&n[..], &v[..]));
        let negotiated = hs
            .verify_connect_response(status, fields)
            .map_err(|e| super::ws::handshake_error(&self.url, e))?;
        if self.ended || sized {
            // A 2xx that also ends the stream leaves nothing to carry the frames;
            // one with a body is an ordinary response, not a tunnel (RFC 9110
            // section 9.3.6: "A server MUST NOT send any Transfer-Encoding or
            // Content-Length header fields in a 2xx (Successful) response to
            // CONNECT").
            return Err(Error::protocol(
                &self.url,
                ProtocolError::Other("a 2xx to the extended CONNECT that is not a tunnel"),
            ));
        }
        Ok(negotiated)
    }

    /// The read deadlines from now on.
    pub(crate) fn set_deadlines(&mut self, d: Deadlines) {
        self.deadlines = d;
        self.t.set_deadlines(d);
    }

    /// Reads stream data into `buf`, releasing it to flow control; 0 when the
    /// server ended its half or the connection closed.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let Some(id) = self.id else {
            return Ok(0);
        };
        loop {
            if let Some(front) = self.data.front() {
                let avail = &front[self.front..];
                let n = avail.len().min(buf.len());
                buf[..n].copy_from_slice(&avail[..n]);
                self.front += n;
                if self.front == front.len() {
                    self.data.pop_front();
                    self.front = 0;
                }
                // The codec has these octets now: let the server send more.
                self.conn.release_capacity(id, n);
                self.flush()?;
                return Ok(n);
            }
            // A server that ended its half may also reset the stream with
            // NO_ERROR (RFC 9113 section 8.1): that is still a clean end.
            if self.ended {
                return Ok(0);
            }
            self.check_stream()?;
            if self.eof || self.conn.is_closed() {
                return Ok(0);
            }
            self.fill()?;
        }
    }

    /// Sends all of `data` on the stream as the server's windows allow.
    pub(crate) fn write_all(&mut self, mut data: &[u8]) -> Result<()> {
        let Some(id) = self.id else {
            return Err(self.stream_closed());
        };
        while !data.is_empty() {
            self.check_stream()?;
            let n = self
                .conn
                .send_data(id, data, false)
                .map_err(|_| self.stream_closed())?;
            data = &data[n..];
            self.flush()?;
            if n == 0 && self.conn.send_capacity(id) == 0 {
                self.wait_for_window()?;
            }
        }
        Ok(())
    }

    /// The closing handshake is over: END_STREAM (RFC 8441 section 5: the stream's
    /// end stands for the TCP close of RFC 6455), a short wait for the server's
    /// END_STREAM, GOAWAY, and the connection is closed.
    pub(crate) fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        if let Some(id) = self.id {
            let _ = self.conn.send_data(id, &[], true);
        }
        self.flush()?;
        self.t.set_deadlines(Deadlines {
            until: Some(Instant::now() + CLOSE_LINGER),
            until_kind: Some(TimeoutKind::Read),
            ..Default::default()
        });
        while self.conn.open_streams() > 0 && !self.eof && !self.conn.is_closed() {
            if self.fill().is_err() {
                break;
            }
        }
        self.conn.shutdown(Instant::now());
        let _ = self.flush();
        self.close_transport();
        Ok(())
    }

    /// The stream's state as an error: reset by the server, or the connection
    /// failed.
    fn check_stream(&self) -> Result<()> {
        if let Some(code) = self.reset {
            return Err(Error::protocol(&self.url, ProtocolError::Http2Reset(code)));
        }
        if let Some(e) = self.conn.error() {
            return Err(Error::protocol(&self.url, ProtocolError::Http2(e)));
        }
        Ok(())
    }

    fn stream_closed(&self) -> Error {
        match self.check_stream() {
            Err(e) => e,
            Ok(()) => Error::protocol(&self.url, ProtocolError::Other("HTTP/2 stream closed")),
        }
    }

    /// Reads (bounded by [`WINDOW_STALL`] or the caller's shorter read timeout)
    /// until the server opens its window.
    fn wait_for_window(&mut self) -> Result<()> {
        let idle = self
            .deadlines
            .idle
            .map_or(WINDOW_STALL, |d| d.min(WINDOW_STALL));
        self.t.set_deadlines(Deadlines {
            idle: Some(idle),
            idle_kind: Some(TimeoutKind::Read),
            ..Default::default()
        });
        let r = self.fill();
        self.t.set_deadlines(self.deadlines);
        r?;
        if self.eof {
            return Err(Error::protocol(&self.url, ProtocolError::UnexpectedEof));
        }
        Ok(())
    }

    /// One read from the socket into the state machine, its events taken and its
    /// answers (ACKs, WINDOW_UPDATEs, PINGs) written.
    fn fill(&mut self) -> Result<()> {
        let n = self
            .t
            .read(&mut self.rbuf)
            .map_err(|e| map_io(&self.url, e))?;
        if n == 0 {
            self.eof = true;
            return Ok(());
        }
        let now = Instant::now();
        let r = self.conn.recv(&self.rbuf[..n], now);
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(now);
        }
        self.take_events();
        // Written even after an error: it holds the GOAWAY.
        let flushed = self.flush();
        r.map_err(|e| Error::protocol(&self.url, ProtocolError::Http2(e)))?;
        flushed
    }

    fn take_events(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            let ours = |id: StreamId| Some(id) == self.id;
            match ev {
                Event::Headers {
                    id,
                    head,
                    end_stream,
                } if ours(id) => {
                    let status = head.status.unwrap_or(0);
                    if !(100..200).contains(&status) {
                        self.head = Some((status, head.fields, head.content_length.is_some()));
                        self.ended |= end_stream;
                    }
                }
                Event::Data {
                    id,
                    data,
                    end_stream,
                } => {
                    if !ours(id) {
                        self.conn.release_capacity(id, data.len());
                        continue;
                    }
                    if !data.is_empty() {
                        self.data.push_back(data);
                    }
                    self.ended |= end_stream;
                }
                Event::Trailers { id, .. } if ours(id) => self.ended = true,
                Event::StreamReset { id, code, .. } if ours(id) => self.reset = Some(code),
                _ => {}
            }
        }
    }

    /// Writes what the state machine queued.
    fn flush(&mut self) -> Result<()> {
        self.out.clear();
        self.conn.poll_output(&mut self.out);
        if self.out.is_empty() {
            return Ok(());
        }
        self.t
            .write_all(&self.out)
            .map_err(|e| map_io(&self.url, e))
    }

    /// TLS close_notify, then both directions of the socket.
    fn close_transport(&mut self) {
        if let Transport::Tls(tls) = &mut self.t {
            tls.session.send_close_notify();
            let _ = tls.flush();
        }
        let _ = self.t.socket().tcp.shutdown(Shutdown::Both);
    }
}

impl Drop for H2Stream {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Dropped mid-conversation: cancel the stream and say goodbye without
        // blocking on a server that stopped reading.
        if let Some(id) = self.id {
            self.conn.reset_stream(id, ErrorCode::Cancel);
        }
        self.conn.shutdown(Instant::now());
        let _ = self.t.socket().tcp.set_nonblocking(true);
        let _ = self.flush();
        self.close_transport();
    }
}
