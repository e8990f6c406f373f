//! One non-blocking connection on the I/O thread: a TCP socket (connecting, then
//! connected) and, for `https`, a flare-tls `ClientSession` driven sans-IO. Reads
//! and writes never wait: `WouldBlock` comes back as "nothing now" and the poller
//! says when to try again.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use flare_net::TcpStream;
use flare_reactor::Interest;
use flare_tls::{ClientConfig, ClientSession, TlsError};

use super::super::pool::PoolKey;

/// Ciphertext read per `read(2)`: one TLS record and its header.
const TLS_READ: usize = 17 * 1024;
/// Plaintext read per `read(2)` on a plain socket.
const PLAIN_READ: usize = 16 * 1024;

/// Why a connection failed.
#[derive(Debug)]
pub(super) enum ConnError {
    Io(io::Error),
    Tls(TlsError),
}

impl From<flare_net::Error> for ConnError {
    fn from(e: flare_net::Error) -> Self {
        ConnError::Io(e.into())
    }
}

/// What one read gave.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Fill {
    /// Bytes arrived (plaintext; over TLS possibly 0 when only handshake or
    /// session records came).
    Data(usize),
    /// Nothing to read now.
    WouldBlock,
    /// The peer closed (TCP FIN, or TLS `close_notify` with no plaintext left).
    Eof,
}

/// Who a connection works for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Owner {
    /// One of an exchange's happy-eyeballs attempts, still connecting.
    Attempt(usize),
    /// An exchange's CONNECT tunnel through its proxy, being set up.
    Tunnel(usize),
    /// A call's TLS handshake, before ALPN says HTTP/1.1 or HTTP/2.
    Handshake(usize),
    /// An exchange using it.
    Exchange(usize),
    /// An HTTP/2 session (its index), shared by the streams of many calls.
    H2(usize),
    /// In the idle pool.
    Idle,
}

struct Tls {
    session: ClientSession,
    /// Ciphertext read but not yet taken by the session.
    rx: Vec<u8>,
    rx_start: usize,
    /// Records the session produced, not yet written.
    tx: Vec<u8>,
    tx_start: usize,
}

/// A socket, its TLS session if any, and plaintext received but not yet used.
pub(super) struct Conn {
    pub(super) tcp: TcpStream,
    pub(super) addr: SocketAddr,
    tls: Option<Box<Tls>>,
    pub(super) connected: bool,
    /// What the poller watches now.
    pub(super) interest: Interest,
    pub(super) owner: Owner,
    /// The origin (and proxy) it is connected to (set once connected).
    pub(super) key: Option<PoolKey>,
    /// Requests it has carried.
    pub(super) uses: u32,
    /// Since when it is idle, and a counter that tells one idle period from the next
    /// (an idle timer carries it, so a stale timer is ignored).
    pub(super) idle_since: Instant,
    pub(super) idle_epoch: u64,
    rbuf: Vec<u8>,
    rstart: usize,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .field("owner", &self.owner)
            .field("uses", &self.uses)
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// Starts a non-blocking connect to `addr`.
    pub(super) fn connect(addr: SocketAddr, owner: Owner, now: Instant) -> Result<Conn, ConnError> {
        let tcp = TcpStream::connect_nonblocking(addr)?;
        Ok(Conn {
            tcp,
            addr,
            tls: None,
            connected: false,
            interest: Interest::READABLE | Interest::WRITABLE,
            owner,
            key: None,
            uses: 0,
            idle_since: now,
            idle_epoch: 0,
            rbuf: Vec::new(),
            rstart: 0,
        })
    }

    /// After the socket became writable (or reported an error) while connecting:
    /// `Ok(true)` connected, `Ok(false)` still in progress, `Err` refused.
    pub(super) fn finish_connect(&mut self) -> Result<bool, ConnError> {
        if let Some(e) = self.tcp.take_error()? {
            return Err(e.into());
        }
        // Writable without an error: connected, unless the event was for an
        // earlier state; a peer address says for sure.
        match self.tcp.peer_addr() {
            Ok(_) => {
                self.connected = true;
                Ok(true)
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Begins TLS to `host` (its ClientHello is queued; [`flush`](Self::flush)
    /// sends it).
    pub(super) fn start_tls(&mut self, config: &ClientConfig, host: &str) -> Result<(), TlsError> {
        let session = ClientSession::new(config, host)?;
        self.tls = Some(Box::new(Tls {
            session,
            rx: Vec::new(),
            rx_start: 0,
            tx: Vec::new(),
            tx_start: 0,
        }));
        Ok(())
    }

    /// Whether the TLS handshake is still running.
    pub(super) fn handshaking(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|t| t.session.is_handshaking())
    }

    /// Whether the finished TLS handshake resumed a session (`None` without TLS).
    pub(super) fn tls_resumed(&self) -> Option<bool> {
        let t = self.tls.as_ref()?;
        Some(t.session.handshake_kind() == Some(flare_tls::HandshakeKind::Resumed))
    }

    /// The protocol the server chose by ALPN (`None` without TLS or a choice).
    pub(super) fn alpn(&self) -> Option<&[u8]> {
        self.tls.as_ref().and_then(|t| t.session.alpn_protocol())
    }

    /// Received plaintext not yet consumed.
    pub(super) fn buffered(&self) -> &[u8] {
        self.rbuf.get(self.rstart..).unwrap_or(&[])
    }

    pub(super) fn consume(&mut self, n: usize) {
        self.rstart += n;
        if self.rstart >= self.rbuf.len() {
            self.rbuf.clear();
            self.rstart = 0;
        }
    }

    /// Whether output is waiting for the socket (TLS records not yet written).
    pub(super) fn has_output(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|t| t.tx_start < t.tx.len() || t.session.wants_write())
    }

    /// Offers plaintext; returns how much was taken (0: no room now).
    pub(super) fn write(&mut self, data: &[u8]) -> Result<usize, ConnError> {
        match self.tls.as_deref_mut() {
            None => match self.tcp.write(data) {
                Ok(n) => Ok(n),
                Err(e) if e.is_would_block() => Ok(0),
                Err(e) => Err(e.into()),
            },
            Some(t) => {
                let n = t.session.write_plaintext(data).map_err(ConnError::Tls)?;
                flush_tls(&self.tcp, t)?;
                Ok(n)
            }
        }
    }

    /// Writes pending TLS records; `Ok(true)` when nothing is left.
    pub(super) fn flush(&mut self) -> Result<bool, ConnError> {
        match self.tls.as_deref_mut() {
            None => Ok(true),
            Some(t) => flush_tls(&self.tcp, t),
        }
    }

    /// Reads once from the socket; plaintext goes to the buffer.
    pub(super) fn fill(&mut self) -> Result<Fill, ConnError> {
        if self.rstart > 0 && self.rstart * 2 >= self.rbuf.len() {
            self.rbuf.drain(..self.rstart);
            self.rstart = 0;
        }
        match self.tls.as_deref_mut() {
            None => {
                let old = self.rbuf.len();
                self.rbuf.resize(old + PLAIN_READ, 0);
                let r = self.tcp.read(self.rbuf.get_mut(old..).unwrap_or(&mut []));
                let n = *r.as_ref().unwrap_or(&0);
                self.rbuf.truncate(old + n);
                match r {
                    Ok(0) => Ok(Fill::Eof),
                    Ok(n) => Ok(Fill::Data(n)),
                    Err(e) if e.is_would_block() => Ok(Fill::WouldBlock),
                    Err(e) => Err(e.into()),
                }
            }
            Some(t) => {
                let before = self.rbuf.len();
                // Plaintext the session still holds (it stops taking records while
                // its buffer is full) comes out before more is read.
                let mut eof = false;
                if t.rx_start >= t.rx.len() {
                    t.rx.clear();
                    t.rx_start = 0;
                    t.rx.resize(TLS_READ, 0);
                    let r = self.tcp.read(&mut t.rx);
                    let n = *r.as_ref().unwrap_or(&0);
                    t.rx.truncate(n);
                    match r {
                        Ok(0) => eof = true,
                        Ok(_) => {}
                        Err(e) if e.is_would_block() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                loop {
                    let mut progress = false;
                    if t.rx_start < t.rx.len() {
                        match t.session.read_tls(&t.rx[t.rx_start..]) {
                            Ok(used) => {
                                t.rx_start += used;
                                progress = used > 0;
                            }
                            Err(e) => {
                                // Send the alert it queued, then report.
                                let _ = flush_tls(&self.tcp, t);
                                return Err(ConnError::Tls(e));
                            }
                        }
                    }
                    loop {
                        let old = self.rbuf.len();
                        self.rbuf.resize(old + PLAIN_READ, 0);
                        let n = t
                            .session
                            .read_plaintext(self.rbuf.get_mut(old..).unwrap_or(&mut []));
                        let got = *n.as_ref().unwrap_or(&0);
                        self.rbuf.truncate(old + got);
                        if n.map_err(ConnError::Tls)? == 0 {
                            break;
                        }
                        progress = true;
                    }
                    if t.rx_start >= t.rx.len() || !progress {
                        break;
                    }
                }
                // Handshake replies, session tickets, KeyUpdate answers.
                flush_tls(&self.tcp, t)?;
                let got = self.rbuf.len() - before;
                if got > 0 {
                    Ok(Fill::Data(got))
                } else if eof || t.session.peer_closed() {
                    Ok(Fill::Eof)
                } else if t.rx.is_empty() {
                    Ok(Fill::WouldBlock)
                } else {
                    Ok(Fill::Data(0))
                }
            }
        }
    }

    /// Whether an idle connection holds nothing (no stray bytes, no TLS input).
    pub(super) fn is_clean(&self) -> bool {
        self.buffered().is_empty()
            && self.tls.as_ref().map_or(true, |t| {
                t.rx_start >= t.rx.len() && !t.session.peer_closed()
            })
    }

    /// The interest this connection needs now: readable always, writable while
    /// connecting or while output waits.
    pub(super) fn wanted_interest(&self, output_pending: bool) -> Interest {
        if !self.connected || output_pending || self.has_output() {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        }
    }
}

fn flush_tls(tcp: &TcpStream, t: &mut Tls) -> Result<bool, ConnError> {
    loop {
        if t.tx_start >= t.tx.len() {
            t.tx.clear();
            t.tx_start = 0;
            if !t.session.wants_write() {
                return Ok(true);
            }
            t.session.write_tls(&mut t.tx).map_err(ConnError::Tls)?;
            if t.tx.is_empty() {
                return Ok(true);
            }
        }
        match tcp.write(&t.tx[t.tx_start..]) {
            Ok(n) => t.tx_start += n,
            Err(e) if e.is_would_block() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
}
