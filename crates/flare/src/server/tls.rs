//! TLS inside the worker: a [`Transport`] over a `flare_tls::ServerSession`, and the
//! handshake state a TLS connection is in until ALPN picks HTTP/1.1 or HTTP/2 (or,
//! once the session has failed, until its alert is out and the close is orderly).
//!
//! When rustls refuses what the peer sent, it queues a fatal alert behind whatever
//! it had queued already (TLS 1.3 session tickets, a KeyUpdate reply). All of it is
//! written before the close, then the write side is shut and what still arrives is
//! read and dropped for a short linger: closing a socket with unread bytes makes
//! the kernel send a reset, and a peer that gets a reset may never read the alert
//! (RFC 8446 section 6.2: "Upon transmission or receipt of a fatal alert message,
//! both parties MUST immediately close the connection"; the alert has to arrive for
//! the peer to know why).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use flare_net::{Error, TcpStream};
use flare_tls::ServerSession;
use flare_web::FileBody;

use super::transport::{IoResult, Transport};

/// Ciphertext read from the socket per call.
const CIN: usize = 17 * 1024;
/// Stop taking plaintext while this much ciphertext waits for the socket.
const COUT_HIGH: usize = 64 * 1024;
/// At most this much is read and dropped while lingering after a fatal alert.
const LINGER_DISCARD_MAX: usize = 64 * 1024;

/// A TLS session over a socket, as a byte stream for the protocol drivers.
pub(crate) struct TlsIo {
    sock: TcpStream,
    session: ServerSession,
    cin: Vec<u8>,
    cin_start: usize,
    cin_end: usize,
    cout: Vec<u8>,
    cout_pos: usize,
    eof: bool,
    /// The last `read` found nothing: no plaintext, no unprocessed ciphertext, and
    /// the socket would block. Until then input may sit in this transport (in
    /// `cin` or in the session) where no readiness event will announce it.
    drained: bool,
    /// `read` calls so far (wrapping): tells the connection whether a driver read.
    reads: u32,
}

impl TlsIo {
    pub(crate) fn new(sock: TcpStream, session: ServerSession) -> Self {
        TlsIo {
            sock,
            session,
            cin: vec![0; CIN],
            cin_start: 0,
            cin_end: 0,
            cout: Vec::new(),
            cout_pos: 0,
            eof: false,
            drained: false,
            reads: 0,
        }
    }

    /// Ciphertext read before the session existed (the bytes after a PROXY
    /// header): handed to rustls before anything from the socket.
    pub(crate) fn preload(&mut self, bytes: &[u8]) {
        if self.cin.len() < bytes.len() {
            self.cin.resize(bytes.len(), 0);
        }
        self.cin[..bytes.len()].copy_from_slice(bytes);
        self.cin_start = 0;
        self.cin_end = bytes.len();
    }

    /// The TCP socket under the session.
    pub(crate) fn socket(&self) -> &TcpStream {
        &self.sock
    }

    pub(crate) fn session(&self) -> &ServerSession {
        &self.session
    }

    /// Whether the session ended on a fatal error (a record or message rustls
    /// refused, or a fatal alert from the peer): what is queued must go out, then an
    /// orderly close ([`Handshake::closing`]).
    pub(crate) fn failed(&self) -> bool {
        self.session.has_failed()
    }

    /// Moves pending records to the socket; `Ok(true)` when all are out.
    fn push(&mut self) -> IoResult<bool> {
        loop {
            if self.cout_pos >= self.cout.len() {
                self.cout.clear();
                self.cout_pos = 0;
                if !self.session.wants_write() {
                    return Ok(true);
                }
                if self.session.write_tls(&mut self.cout).is_err() {
                    return Err(Error::InvalidInput("tls: cannot encode records"));
                }
                if self.cout.is_empty() {
                    return Ok(true);
                }
            }
            match self.sock.write(&self.cout[self.cout_pos..]) {
                Ok(n) => self.cout_pos += n,
                Err(e) if e.is_would_block() => return Ok(false),
                Err(Error::Interrupted) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl TlsIo {
    /// Whether input may be waiting inside this transport (see `drained`): the
    /// connection then runs its driver's read path again without an event.
    pub(crate) fn may_hold_input(&self) -> bool {
        !self.drained && !self.eof
    }

    /// How many `read` calls there were (wrapping).
    pub(crate) fn reads(&self) -> u32 {
        self.reads
    }

    fn read_inner(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        loop {
            match self.session.read_plaintext(buf) {
                Ok(0) => {}
                Ok(n) => return Ok(n),
                Err(_) => return Err(Error::ConnectionAborted),
            }
            if self.session.peer_closed() || self.eof {
                return Ok(0);
            }
            if self.cin_start == self.cin_end {
                match self.sock.read(&mut self.cin) {
                    Ok(0) => {
                        self.eof = true;
                        continue;
                    }
                    Ok(n) => {
                        self.cin_start = 0;
                        self.cin_end = n;
                    }
                    Err(e) => return Err(e),
                }
            }
            match self
                .session
                .read_tls(&self.cin[self.cin_start..self.cin_end])
            {
                Ok(used) => {
                    self.cin_start += used;
                    // Handshake replies and alerts go out as soon as they exist.
                    self.push()?;
                    if used == 0 && !self.session.wants_read() {
                        // Plaintext is full and the caller's buffer is empty-sized.
                        return Err(Error::WouldBlock);
                    }
                }
                Err(e) => {
                    // Whatever was queued before the error (session tickets) and the
                    // alert go out now; what the socket does not take now is sent by
                    // the closing state the connection moves to.
                    log::debug!("tls: closing on {e}");
                    let _ = self.push();
                    return Err(Error::ConnectionAborted);
                }
            }
        }
    }
}

impl Transport for TlsIo {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self.socket())
    }

    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        self.reads = self.reads.wrapping_add(1);
        let r = self.read_inner(buf);
        self.drained = matches!(&r, Err(e) if e.is_would_block()) && self.cin_start == self.cin_end;
        r
    }

    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        if self.cout.len() - self.cout_pos > COUT_HIGH && !self.push()? {
            return Err(Error::WouldBlock);
        }
        let n = self
            .session
            .write_plaintext(buf)
            .map_err(|_| Error::ConnectionAborted)?;
        self.push()?;
        if n == 0 && !buf.is_empty() {
            return Err(Error::WouldBlock);
        }
        Ok(n)
    }

    fn write2(&mut self, a: &[u8], b: &[u8]) -> IoResult<usize> {
        let n = self.write(a)?;
        if n < a.len() {
            return Ok(n);
        }
        match self.write(b) {
            Ok(m) => Ok(n + m),
            Err(e) if e.is_would_block() => Ok(n),
            Err(e) => Err(e),
        }
    }

    fn sendfile(&mut self, _file: &mut FileBody) -> Option<IoResult<usize>> {
        // The kernel would send the file in the clear.
        None
    }

    fn flush(&mut self) -> IoResult<bool> {
        self.push()
    }

    fn shutdown_write(&mut self) {
        self.session.send_close_notify();
        let _ = self.push();
        let _ = self.sock.shutdown(std::net::Shutdown::Write);
    }
}

/// What a TLS connection becomes once the handshake is done.
pub(crate) enum Negotiated {
    /// ALPN `h2`.
    H2,
    /// ALPN `http/1.1` or none.
    H1,
}

/// A TLS connection during its handshake.
pub(crate) struct Handshake {
    pub(crate) io: TlsIo,
    pub(crate) peer: SocketAddr,
    /// Plaintext that arrived with the end of the handshake.
    pub(crate) early: Vec<u8>,
    pub(crate) want_write: bool,
    pub(crate) write_registered: bool,
    pub(crate) deadline: Option<(Instant, super::conn::Deadline)>,
    /// The socket's peer when `peer` came from a PROXY header.
    pub(crate) socket_peer: Option<SocketAddr>,
    /// Set once the session failed: the queued records (the alert last) are being
    /// written, then the write side is shut and reading dropped until EOF, 64 KiB
    /// or the deadline.
    closing: Option<Closing>,
}

/// An orderly close after a fatal alert.
#[derive(Clone, Copy, Debug)]
struct Closing {
    /// Every queued record is out and the write side is shut.
    write_shut: bool,
    /// Bytes read and dropped since.
    discarded: usize,
}

/// The handshake made progress as far as it can now.
pub(crate) enum HandshakeStep {
    /// Waiting for the peer (or, closing, for the alert to go out or the peer's EOF).
    Pending,
    /// Done; switch to the protocol ALPN chose.
    Done,
    /// Over: close the socket now (the peer left, or the orderly close is done).
    Failed,
}

impl Handshake {
    pub(crate) fn new(io: TlsIo, peer: SocketAddr, deadline: Instant) -> Self {
        Handshake {
            io,
            peer,
            early: Vec::new(),
            want_write: false,
            write_registered: false,
            deadline: Some((deadline, super::conn::Deadline::Header)),
            closing: None,
            socket_peer: None,
        }
    }

    /// An established TLS connection whose session failed under its protocol
    /// driver: it ends here, alert first, then the orderly close, within `linger`.
    pub(crate) fn closing(
        io: TlsIo,
        peer: SocketAddr,
        write_registered: bool,
        now: Instant,
        linger: Duration,
    ) -> Self {
        let mut h = Handshake {
            io,
            peer,
            early: Vec::new(),
            want_write: false,
            write_registered,
            deadline: None,
            closing: None,
            socket_peer: None,
        };
        h.start_closing(now, linger);
        h
    }

    /// Moves the handshake on; `now` and `linger` time the close after a failure.
    pub(crate) fn step(&mut self, now: Instant, linger: Duration) -> HandshakeStep {
        if self.closing.is_some() {
            return self.close_step();
        }
        let mut buf = [0u8; 4096];
        loop {
            match self.io.read(&mut buf) {
                Ok(0) => return HandshakeStep::Failed,
                Ok(n) => self.early.extend_from_slice(&buf[..n]),
                Err(e) if e.is_would_block() => break,
                Err(Error::Interrupted) => {}
                Err(_) if self.io.failed() => return self.start_closing(now, linger),
                Err(_) => return HandshakeStep::Failed,
            }
            if self.early.len() > 64 * 1024 {
                break;
            }
        }
        match self.io.push() {
            Ok(done) => self.want_write = !done,
            Err(_) => return HandshakeStep::Failed,
        }
        if self.io.session.is_handshaking() {
            return HandshakeStep::Pending;
        }
        HandshakeStep::Done
    }

    fn start_closing(&mut self, now: Instant, linger: Duration) -> HandshakeStep {
        self.closing = Some(Closing {
            write_shut: false,
            discarded: 0,
        });
        // The handshake deadline, when sooner, ends the linger as well.
        let until = now + linger;
        if !matches!(self.deadline, Some((d, _)) if d <= until) {
            self.deadline = Some((until, super::conn::Deadline::Linger));
        }
        self.close_step()
    }

    /// Closing: write what is queued (the alert last), shut the write side, then
    /// read and drop until the peer's EOF.
    fn close_step(&mut self) -> HandshakeStep {
        let Some(mut c) = self.closing else {
            return HandshakeStep::Failed;
        };
        if !c.write_shut {
            match self.io.push() {
                Ok(true) => {
                    let _ = self.io.sock.shutdown(std::net::Shutdown::Write);
                    c.write_shut = true;
                    self.want_write = false;
                }
                // The socket is full: wait for room, dropping what arrives meanwhile.
                Ok(false) => self.want_write = true,
                Err(_) => return HandshakeStep::Failed,
            }
        }
        let mut buf = [0u8; 4096];
        loop {
            match self.io.sock.read(&mut buf) {
                Ok(0) => return HandshakeStep::Failed,
                Ok(n) => {
                    c.discarded += n;
                    if c.discarded > LINGER_DISCARD_MAX {
                        return HandshakeStep::Failed;
                    }
                }
                Err(e) if e.is_would_block() => break,
                Err(Error::Interrupted) => {}
                Err(_) => return HandshakeStep::Failed,
            }
        }
        self.closing = Some(c);
        HandshakeStep::Pending
    }
}
