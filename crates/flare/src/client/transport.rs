//! A connected byte stream: plain TCP or TLS over TCP (flare-tls' sans-IO session
//! driven with blocking reads and writes), with the read deadlines of the request
//! in progress.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use flare_tls::{ClientSession, HandshakeKind};

use super::error::TimeoutKind;
use super::DEFAULT_WRITE_TIMEOUT;

/// The payload of the `io::Error` a transport returns when a deadline passes; the
/// layer that knows the URL turns it into [`super::Error::Timeout`].
#[derive(Debug)]
pub(crate) struct Fired(pub(crate) TimeoutKind);

impl std::fmt::Display for Fired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} timeout", self.0)
    }
}

impl std::error::Error for Fired {}

pub(crate) fn fired(kind: TimeoutKind) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, Fired(kind))
}

/// When reads must give up: an idle limit per read and an absolute deadline.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Deadlines {
    /// Longest wait for any one read.
    pub(crate) idle: Option<Duration>,
    /// The kind reported when `idle` fires.
    pub(crate) idle_kind: Option<TimeoutKind>,
    /// No read may wait past this.
    pub(crate) until: Option<Instant>,
    /// The kind reported when `until` fires.
    pub(crate) until_kind: Option<TimeoutKind>,
}

impl Deadlines {
    /// The timeout for the next read and which kind it is, or the kind that has
    /// already fired.
    fn next(&self) -> Result<Option<(Duration, TimeoutKind)>, TimeoutKind> {
        let idle = self
            .idle
            .map(|d| (d, self.idle_kind.unwrap_or(TimeoutKind::Read)));
        let until = match self.until {
            Some(t) => {
                let kind = self.until_kind.unwrap_or(TimeoutKind::Request);
                let left = t.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(kind);
                }
                Some((left, kind))
            }
            None => None,
        };
        Ok(match (idle, until) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        })
    }
}

/// The socket and the timeouts last set on it (a setsockopt only when one changes).
#[derive(Debug)]
pub(crate) struct Socket {
    pub(crate) tcp: TcpStream,
    set: Option<Duration>,
    set_write: Option<Duration>,
    /// Longest a write may make no progress; reported as [`TimeoutKind::Write`].
    write_stall: Option<Duration>,
    pub(crate) deadlines: Deadlines,
}

/// Whole milliseconds, at least one, so small changes of a deadline do not cost a
/// setsockopt per call (and zero, which the OS refuses, never reaches it).
fn whole_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis().clamp(1, u128::from(u64::MAX)) as u64)
}

impl Socket {
    pub(crate) fn new(tcp: TcpStream) -> Socket {
        // A peer that stops reading our upload must not block the caller forever:
        // a write that makes no progress for this long fails.
        let _ = tcp.set_write_timeout(Some(DEFAULT_WRITE_TIMEOUT));
        Socket {
            tcp,
            set: None,
            set_write: Some(DEFAULT_WRITE_TIMEOUT),
            write_stall: Some(DEFAULT_WRITE_TIMEOUT),
            deadlines: Deadlines::default(),
        }
    }

    /// Sets the longest a write may make no progress (`None`: no limit).
    pub(crate) fn set_write_stall(&mut self, stall: Option<Duration>) {
        self.write_stall = stall;
    }

    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (timeout, kind) = match self.deadlines.next() {
            Err(kind) => return Err(fired(kind)),
            Ok(Some((d, k))) => (Some(whole_ms(d)), Some(k)),
            Ok(None) => (None, None),
        };
        if timeout != self.set {
            self.tcp.set_read_timeout(timeout)?;
            self.set = timeout;
        }
        loop {
            match self.tcp.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(fired(kind.unwrap_or(TimeoutKind::Read)))
                }
                r => return r,
            }
        }
    }

    /// One write, bounded by the write stall limit and the absolute deadline
    /// (`SO_SNDTIMEO` fires only when no byte at all could be sent, so a slow
    /// but moving upload is not cut short by the stall limit).
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let stall = self.write_stall.map(|d| (d, TimeoutKind::Write));
        let until = match self.deadlines.until {
            Some(t) => {
                let kind = self.deadlines.until_kind.unwrap_or(TimeoutKind::Request);
                let left = t.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(fired(kind));
                }
                Some((left, kind))
            }
            None => None,
        };
        let (timeout, kind) = match (stall, until) {
            (Some(a), Some(b)) => {
                let (d, k) = if a.0 <= b.0 { a } else { b };
                (Some(whole_ms(d)), k)
            }
            (Some((d, k)), None) | (None, Some((d, k))) => (Some(whole_ms(d)), k),
            (None, None) => (None, TimeoutKind::Write),
        };
        if timeout != self.set_write {
            self.tcp.set_write_timeout(timeout)?;
            self.set_write = timeout;
        }
        loop {
            match self.tcp.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(fired(kind))
                }
                r => return r,
            }
        }
    }

    pub(crate) fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf)? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }
}

/// TLS over a socket.
pub(crate) struct Tls {
    pub(crate) sock: Socket,
    pub(crate) session: ClientSession,
    /// Ciphertext read but not yet taken by the session.
    rx: Vec<u8>,
    rx_start: usize,
    tx: Vec<u8>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("session", &self.session)
            .finish()
    }
}

impl Tls {
    /// Runs the handshake (bounded by the socket's deadlines).
    pub(crate) fn handshake(sock: Socket, session: ClientSession) -> io::Result<Tls> {
        let mut t = Tls {
            sock,
            session,
            rx: Vec::with_capacity(17 * 1024),
            rx_start: 0,
            tx: Vec::new(),
        };
        while t.session.is_handshaking() {
            t.flush_tls()?;
            if !t.session.is_handshaking() {
                break;
            }
            if t.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed during the TLS handshake",
                ));
            }
        }
        t.flush_tls()?;
        Ok(t)
    }

    /// The socket, the session and ciphertext read but not yet fed (for a driver
    /// that reads and writes from different threads).
    pub(crate) fn into_parts(self) -> (Socket, ClientSession, Vec<u8>) {
        let rest = self.rx[self.rx_start..].to_vec();
        (self.sock, self.session, rest)
    }

    fn flush_tls(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            self.session.write_tls(&mut self.tx).map_err(tls_io)?;
            self.sock.write_all(&self.tx)?;
            self.tx.clear();
        }
        Ok(())
    }

    /// Reads ciphertext once and feeds the session; 0 at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        if self.rx_start >= self.rx.len() {
            self.rx_start = 0;
            self.rx.resize(17 * 1024, 0);
            let n = self.sock.read(&mut self.rx);
            self.rx.truncate(*n.as_ref().unwrap_or(&0));
            if n? == 0 {
                return Ok(0);
            }
        }
        let pending = &self.rx[self.rx_start..];
        let used = self.session.read_tls(pending);
        let used = match used {
            Ok(n) => n,
            Err(e) => {
                // Send the alert it queued, then report.
                let _ = self.flush_tls();
                return Err(tls_io(e));
            }
        };
        self.rx_start += used;
        self.flush_tls()?;
        Ok(used.max(1))
    }
}

fn tls_io(e: flare_tls::TlsError) -> io::Error {
    io::Error::other(e)
}

impl Read for Tls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.session.read_plaintext(buf).map_err(tls_io)?;
            if n > 0 {
                return Ok(n);
            }
            if self.session.peer_closed() {
                return Ok(0);
            }
            if self.fill()? == 0 {
                return Ok(0);
            }
        }
    }
}

impl Write for Tls {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        loop {
            let n = self.session.write_plaintext(data).map_err(tls_io)?;
            self.flush_tls()?;
            if n > 0 || data.is_empty() {
                return Ok(n);
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()
    }
}

/// Plain or TLS.
#[derive(Debug)]
pub(crate) enum Transport {
    Plain(Socket),
    Tls(Box<Tls>),
}

impl Transport {
    pub(crate) fn socket(&self) -> &Socket {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => &t.sock,
        }
    }

    fn socket_mut(&mut self) -> &mut Socket {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => &mut t.sock,
        }
    }

    pub(crate) fn set_deadlines(&mut self, d: Deadlines) {
        self.socket_mut().deadlines = d;
    }

    /// See [`Socket::set_write_stall`].
    pub(crate) fn set_write_stall(&mut self, stall: Option<Duration>) {
        self.socket_mut().set_write_stall(stall);
    }

    /// Whether the TLS handshake resumed a session (`None` for plain TCP).
    pub(crate) fn tls_resumed(&self) -> Option<bool> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(t) => Some(t.session.handshake_kind() == Some(HandshakeKind::Resumed)),
        }
    }

    /// The ALPN protocol TLS negotiated.
    pub(crate) fn alpn(&self) -> Option<&[u8]> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(t) => t.session.alpn_protocol(),
        }
    }

    /// Whether an idle connection is still usable: no buffered TLS input and,
    /// with `check_socket`, nothing to read (a readable idle socket means EOF, a
    /// reset or bytes nobody asked for): one `poll(2)` with a zero timeout.
    pub(crate) fn idle_ok(&self, check_socket: bool) -> bool {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        if let Transport::Tls(t) = self {
            if t.rx_start < t.rx.len() || t.session.peer_closed() {
                return false;
            }
        }
        if !check_socket {
            return true;
        }
        let sock = &self.socket().tcp;
        let mut fds = [PollFd::new(sock, PollFlags::IN)];
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        matches!(poll(&mut fds, Some(&zero)), Ok(0))
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(t) => t.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.write_all(buf),
            Transport::Tls(t) => {
                let mut rest = buf;
                while !rest.is_empty() {
                    let n = t.write(rest)?;
                    rest = &rest[n..];
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            Transport::Tls(t) => t.flush(),
        }
    }
}
