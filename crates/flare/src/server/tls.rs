//! TLS inside the worker: a [`Transport`] over a `flare_tls::ServerSession`, and the
//! handshake state a TLS connection is in until ALPN picks HTTP/1.1 or HTTP/2.

use std::net::SocketAddr;
use std::time::Instant;

use flare_net::{Error, TcpStream};
use flare_tls::ServerSession;
use flare_web::FileBody;

use super::transport::{IoResult, Transport};

/// Ciphertext read from the socket per call.
const CIN: usize = 17 * 1024;
/// Stop taking plaintext while this much ciphertext waits for the socket.
const COUT_HIGH: usize = 64 * 1024;

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
        }
    }

    pub(crate) fn session(&self) -> &ServerSession {
        &self.session
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

impl Transport for TlsIo {
    fn socket(&self) -> &TcpStream {
        &self.sock
    }

    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
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
                Err(_) => {
                    // The alert is queued: best effort, then the connection ends.
                    let _ = self.push();
                    return Err(Error::ConnectionAborted);
                }
            }
        }
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
}

/// The handshake made progress as far as it can now.
pub(crate) enum HandshakeStep {
    /// Waiting for the peer.
    Pending,
    /// Done; switch to the protocol ALPN chose.
    Done,
    /// Failed or the peer left.
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
        }
    }

    pub(crate) fn step(&mut self) -> HandshakeStep {
        let mut buf = [0u8; 4096];
        loop {
            match self.io.read(&mut buf) {
                Ok(0) => return HandshakeStep::Failed,
                Ok(n) => self.early.extend_from_slice(&buf[..n]),
                Err(e) if e.is_would_block() => break,
                Err(Error::Interrupted) => {}
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
}
