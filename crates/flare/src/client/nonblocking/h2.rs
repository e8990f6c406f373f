//! HTTP/2 on the I/O thread: a [`Session`] is one flare-h2 client `Connection` on
//! one non-blocking connection, shared by the streams of every call to its origin;
//! an [`H2Stream`] is one call's request and response on it. The I/O loop
//! (`io/h2.rs`) moves bytes and events between them; this file holds what happens
//! to the bytes: reading into the state machine, writing its output, opening a
//! stream with its request, sending a body as the windows allow, and collecting a
//! response under the size cap (the same limit and, once collected, the same
//! decoding as HTTP/1.1: [`raw_limit`], [`into_response`](super::exchange::into_response)).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use flare_h2::{Connection, ConnectionError, ErrorCode, StreamError, StreamId};
use flare_reactor::TimerId;
use http::{header, HeaderMap, Method, StatusCode, Version};

use super::super::error::{Error, ProtocolError, TimeoutKind};
use super::super::h2::{client_config, request_fields};
use super::super::pool::PoolKey;
use super::conn::{Conn, ConnError, Fill};
use super::exchange::{raw_limit, Failure, Finished, Req, Settings};

/// Reads per drive, as for an HTTP/1.1 exchange: a busy connection cannot hold
/// the I/O thread.
const READS_PER_DRIVE: usize = 32;

/// How reading stopped.
#[derive(Debug)]
pub(super) enum ReadEnd {
    /// Nothing more to read now.
    WouldBlock,
    /// The read budget is spent; the (level-triggered) poller reports the rest.
    Budget,
    /// The server closed the connection.
    Eof,
    Io(ConnError),
    /// The server broke the protocol: GOAWAY is queued.
    Protocol(ConnectionError),
}

/// One shared HTTP/2 connection.
pub(super) struct Session {
    /// Its connection's slot.
    pub(super) conn: usize,
    pub(super) key: PoolKey,
    /// Tells this session from a later one in the same slot (timers carry it).
    pub(super) serial: u64,
    pub(super) h2: Connection,
    scheme: &'static [u8],
    /// Open streams and the call (slot, id) each belongs to.
    pub(super) streams: HashMap<u32, (usize, u64)>,
    /// Calls waiting for a stream: the peer's SETTINGS (and so its concurrency
    /// limit) are not known yet.
    pub(super) queue: VecDeque<(usize, u64)>,
    /// Streams opened so far (one goes before the peer's SETTINGS arrive).
    opened: u64,
    /// Output taken from the state machine, not yet written from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    /// The peer's MAX_CONCURRENT_STREAMS is reached; cleared when a stream ends.
    pub(super) full: bool,
    /// GOAWAY received (or sent): no new streams.
    pub(super) goaway: bool,
    /// The socket reported readiness since the last read that would block.
    pub(super) readable: bool,
    /// Queued for a drive at the end of the poll batch.
    pub(super) dirty: bool,
    /// The peer's SETTINGS must have arrived by then (the connect timeout: the
    /// server's preface is part of setting the connection up, RFC 9113 section 3.4).
    pub(super) settings_by: Option<Instant>,
    /// Since when no stream is open or queued.
    pub(super) idle_since: Option<Instant>,
    pub(super) timer: Option<(TimerId, Instant)>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("conn", &self.conn)
            .field("streams", &self.streams.len())
            .field("queue", &self.queue.len())
            .field("goaway", &self.goaway)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// HTTP/2 on connection `conn` (just connected by prior knowledge, or after
    /// ALPN `h2`): the preface and our SETTINGS are queued.
    pub(super) fn new(
        conn: usize,
        key: PoolKey,
        serial: u64,
        tls: bool,
        connect_timeout: Option<Duration>,
        now: Instant,
    ) -> Session {
        Session {
            conn,
            key,
            serial,
            h2: Connection::client(client_config(), now),
            scheme: if tls { b"https" } else { b"http" },
            streams: HashMap::new(),
            queue: VecDeque::new(),
            opened: 0,
            out: Vec::new(),
            out_pos: 0,
            full: false,
            goaway: false,
            readable: true,
            dirty: false,
            settings_by: connect_timeout.map(|t| now + t),
            idle_since: None,
            timer: None,
        }
    }

    /// Whether another stream may be opened now: before the peer's SETTINGS only
    /// the first (its limit is unknown), after them up to its limit.
    pub(super) fn can_open(&self) -> bool {
        !self.goaway
            && !self.full
            && !self.h2.is_closed()
            && (self.h2.peer_settings_received() || self.opened == 0)
    }

    /// Whether a new call may use this session: open it now or queue for it.
    pub(super) fn takes_calls(&self) -> bool {
        !self.goaway && !self.full && !self.h2.is_closed()
    }

    /// Whether the session can never open the streams queued on it (the calls
    /// must go elsewhere).
    pub(super) fn cannot_take_queue(&self) -> bool {
        self.goaway || self.h2.is_closed() || (self.full && self.h2.peer_settings_received())
    }

    /// Whether output waits for the socket.
    pub(super) fn has_output(&self) -> bool {
        self.out_pos < self.out.len() || self.h2.wants_output()
    }

    /// Feeds what the socket has into the state machine (plaintext left in the
    /// connection's buffer first).
    pub(super) fn read(&mut self, conn: &mut Conn, now: Instant) -> ReadEnd {
        if let Err(e) = self.feed(conn, now) {
            return ReadEnd::Protocol(e);
        }
        for _ in 0..READS_PER_DRIVE {
            match conn.fill() {
                Ok(Fill::Data(_)) => {
                    if let Err(e) = self.feed(conn, now) {
                        return ReadEnd::Protocol(e);
                    }
                }
                Ok(Fill::WouldBlock) => return ReadEnd::WouldBlock,
                Ok(Fill::Eof) => return ReadEnd::Eof,
                Err(e) => return ReadEnd::Io(e),
            }
        }
        ReadEnd::Budget
    }

    fn feed(&mut self, conn: &mut Conn, now: Instant) -> Result<(), ConnectionError> {
        let n = conn.buffered().len();
        if n == 0 {
            return Ok(());
        }
        let r = self.h2.recv(conn.buffered(), now);
        conn.consume(n);
        if r.is_ok() && self.h2.peer_settings_received() {
            self.settings_by = None;
        }
        r
    }

    /// Writes what the state machine has queued until the socket takes no more.
    /// The state machine's output is taken only once the last batch is written, so
    /// what it holds stays bounded (its send buffer) and a body waits for room.
    pub(super) fn write(&mut self, conn: &mut Conn) -> Result<(), ConnError> {
        loop {
            if self.out_pos >= self.out.len() {
                self.out.clear();
                self.out_pos = 0;
                self.h2.poll_output(&mut self.out);
                if self.out.is_empty() {
                    conn.flush()?;
                    return Ok(());
                }
            }
            let n = conn.write(&self.out[self.out_pos..])?;
            if n == 0 {
                return Ok(());
            }
            self.out_pos += n;
        }
    }

    /// Opens `stream` for `req` (its body sent as far as the windows allow).
    pub(super) fn open(
        &mut self,
        req: &Req,
        stream: &mut H2Stream,
        now: Instant,
    ) -> Result<StreamId, StreamError> {
        let end_stream = stream.body.is_empty();
        let mut digits = [0u8; 20];
        let len_text = (!end_stream).then(|| decimal(stream.body.len() as u64, &mut digits));
        let fields = request_fields(&req.headers, len_text);
        // `:authority` is the URL's, as on the blocking path (a `Host` field set by
        // the caller is not sent).
        let host;
        let authority = match req.headers.get(header::HOST) {
            Some(v) if !req.user_host => v.as_bytes(),
            _ => {
                host = req.url.authority();
                host.as_bytes()
            }
        };
        let request = flare_h2::Request::new(
            req.method.as_str().as_bytes(),
            self.scheme,
            authority,
            req.url.target().as_bytes(),
        );
        let id = match self.h2.send_request(&request, &fields, end_stream) {
            Ok(id) => id,
            Err(e) => {
                match e {
                    StreamError::TooManyStreams => self.full = true,
                    _ => self.goaway = true,
                }
                return Err(e);
            }
        };
        self.opened += 1;
        stream.id = Some(id);
        stream.last_progress = now;
        self.send_body(stream, now);
        Ok(id)
    }

    /// Sends as much of `stream`'s body as the windows and the send buffer take;
    /// the rest goes on `SendReady`.
    pub(super) fn send_body(&mut self, stream: &mut H2Stream, now: Instant) {
        let Some(id) = stream.id else {
            return;
        };
        while stream.body_pos < stream.body.len() {
            let rest = &stream.body[stream.body_pos..];
            match self.h2.send_data(id, rest, true) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    stream.body_pos += n;
                    stream.last_progress = now;
                }
            }
        }
    }

    /// Resets stream `id` (CANCEL) unless it is already closed; it is forgotten.
    pub(super) fn cancel(&mut self, id: StreamId) {
        if self.streams.remove(&id.value()).is_some() {
            self.h2.reset_stream(id, ErrorCode::Cancel);
            self.full = false;
        }
    }
}

/// `n` in decimal, in `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

/// One call's stream: its request body to send, and its response as it arrives.
#[derive(Debug)]
pub(super) struct H2Stream {
    /// `None` while queued for a stream.
    pub(super) id: Option<StreamId>,
    body: Bytes,
    body_pos: usize,
    is_head: bool,
    decode: bool,
    cap: u64,
    raw_limit: u64,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// A frame of the response arrived.
    pub(super) received: bool,
    /// The last progress of this stream (a frame for it, body bytes taken).
    last_progress: Instant,
    head: Option<(StatusCode, HeaderMap)>,
    raw: Vec<u8>,
}

impl H2Stream {
    pub(super) fn new(req: &Req, s: &Settings, now: Instant) -> H2Stream {
        H2Stream {
            id: None,
            body: req.body.clone(),
            body_pos: 0,
            is_head: req.method == Method::HEAD,
            decode: req.decode,
            cap: s.max_response_size,
            raw_limit: s.max_response_size,
            read_timeout: s.read_timeout,
            write_timeout: s.write_timeout,
            received: false,
            last_progress: now,
            head: None,
            raw: Vec::new(),
        }
    }

    /// The idle limit now and what it is: while the body waits to go out (for a
    /// window or for the socket), the write timeout; after, the read timeout. A
    /// queued call has none (the connect timeout and its deadline bound it).
    fn idle(&self) -> Option<(Duration, TimeoutKind)> {
        self.id?;
        if self.body_pos < self.body.len() {
            self.write_timeout.map(|t| (t, TimeoutKind::Write))
        } else {
            self.read_timeout.map(|t| (t, TimeoutKind::Read))
        }
    }

    /// When the stream's idle timeout fires, if nothing happens first.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.idle().map(|(t, _)| self.last_progress + t)
    }

    /// The idle timeout that has fired, if one has.
    pub(super) fn idle_expired(&self, now: Instant) -> Option<TimeoutKind> {
        self.idle()
            .filter(|(t, _)| now >= self.last_progress + *t)
            .map(|(_, kind)| kind)
    }

    /// The final head arrived. `Err` when its status is not one, or its announced
    /// length is past the limit already.
    pub(super) fn on_head(
        &mut self,
        status: u16,
        headers: HeaderMap,
        now: Instant,
        url: &str,
    ) -> Result<(), Error> {
        self.received = true;
        self.last_progress = now;
        let Ok(status) = StatusCode::from_u16(status) else {
            return Err(Error::protocol(url, ProtocolError::Other("bad :status")));
        };
        self.raw_limit = raw_limit(self.cap, self.decode && !self.is_head, &headers);
        let announced = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(n) = announced.filter(|_| !self.is_head) {
            if n > self.raw_limit {
                return Err(self.too_large(url));
            }
            self.raw.reserve(n.min(1 << 20) as usize);
        }
        self.head = Some((status, headers));
        Ok(())
    }

    /// Body bytes arrived; `Err` past the limit.
    pub(super) fn on_data(&mut self, data: &[u8], now: Instant, url: &str) -> Result<(), Error> {
        self.received = true;
        self.last_progress = now;
        if self.head.is_none() {
            return Err(Error::protocol(
                url,
                ProtocolError::Other("DATA before HEADERS"),
            ));
        }
        if (self.raw.len() + data.len()) as u64 > self.raw_limit {
            return Err(self.too_large(url));
        }
        self.raw.extend_from_slice(data);
        Ok(())
    }

    /// Some progress on the stream (an interim head, a window opened).
    pub(super) fn touch(&mut self, now: Instant) {
        self.last_progress = now;
    }

    fn too_large(&self, url: &str) -> Error {
        Error::BodyTooLarge {
            url: url.to_owned(),
            limit: self.cap,
        }
    }

    /// The response is complete.
    pub(super) fn finish(&mut self, url: &str) -> Result<Finished, Failure> {
        let Some((status, headers)) = self.head.take() else {
            return Err(Failure {
                error: Error::protocol(url, ProtocolError::Other("response without a head")),
                nothing_received: false,
            });
        };
        Ok(Finished {
            status,
            version: Version::HTTP_2,
            headers,
            raw: std::mem::take(&mut self.raw),
            keep_alive: true,
        })
    }
}

/// The failure of a stream the server reset: a refused one (RFC 9113 section 8.7,
/// also every stream above a GOAWAY's last id) was not processed, so it may be
/// retried as a request that never left.
pub(super) fn reset_failure(url: &str, code: ErrorCode) -> Failure {
    Failure {
        error: Error::protocol(url, ProtocolError::Http2Reset(code)),
        nothing_received: code == ErrorCode::RefusedStream,
    }
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimal_formats_without_allocating() {
        let mut b = [0u8; 20];
        assert_eq!(decimal(0, &mut b), "0");
        assert_eq!(decimal(1_572_864, &mut b), "1572864");
        assert_eq!(decimal(u64::MAX, &mut b), u64::MAX.to_string());
    }
}
