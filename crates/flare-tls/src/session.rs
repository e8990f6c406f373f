//! The sans-IO core shared by [`ServerSession`](crate::ServerSession) and
//! [`ClientSession`](crate::ClientSession): ciphertext in, plaintext out, ciphertext to
//! send, over a rustls connection.
//!
//! The driver's loop, on readable: read from the socket, `read_tls` (feed the rest again
//! after `read_plaintext` if it consumed less), `read_plaintext` until 0; on anything
//! to send: `write_plaintext`, then `write_tls` while `wants_write()` and write the
//! bytes to the socket.

use std::io::{self, Read, Write};

use rustls_pki_types::CertificateDer;

use crate::error::{from_connection_error, TlsError};

/// The negotiated TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246).
    Tls12,
    /// TLS 1.3 (RFC 8446).
    Tls13,
}

/// How the handshake went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeKind {
    /// A full handshake.
    Full,
    /// A full TLS 1.3 handshake with a HelloRetryRequest round trip.
    FullWithHelloRetryRequest,
    /// A resumed session (ticket, session id or PSK).
    Resumed,
}

/// The certificate chain the peer presented, end-entity first (DER).
#[derive(Debug, Clone, Copy)]
pub struct PeerCertificates<'a>(&'a [CertificateDer<'static>]);

impl<'a> PeerCertificates<'a> {
    /// How many certificates the peer sent.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the chain is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The end-entity certificate (DER), if any.
    pub fn end_entity(&self) -> Option<&'a [u8]> {
        self.0.first().map(|c| c.as_ref())
    }

    /// Every certificate (DER), end-entity first.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0.iter().map(|c| c.as_ref())
    }
}

/// The connection plus the state flare tracks on top of it.
pub(crate) struct Engine {
    conn: rustls::Connection,
    /// A fatal error was returned; rustls repeats it from `process_new_packets`.
    failed: bool,
    peer_closed: bool,
}

impl Engine {
    pub(crate) fn new(conn: impl Into<rustls::Connection>, buffer_limit: usize) -> Self {
        let mut conn = conn.into();
        conn.set_buffer_limit(Some(buffer_limit));
        Self {
            conn,
            failed: false,
            peer_closed: false,
        }
    }

    pub(crate) fn conn(&self) -> &rustls::Connection {
        &self.conn
    }

    pub(crate) fn read_tls(&mut self, mut ciphertext: &[u8]) -> Result<usize, TlsError> {
        if self.failed {
            return Err(self.repeat_error());
        }
        let total = ciphertext.len();
        while !ciphertext.is_empty() {
            let n = match self.conn.read_tls(&mut ciphertext) {
                // close_notify seen: rustls reads nothing more, and bytes after it mean
                // nothing (RFC 8446 section 6.1), so they count as consumed.
                Ok(0) => {
                    ciphertext = &[];
                    break;
                }
                Ok(n) => n,
                // Back-pressure: the received-plaintext buffer is full. The caller
                // reads plaintext out and feeds the rest again.
                Err(e) if e.kind() == io::ErrorKind::Other => break,
                Err(e) => {
                    // rustls' deframer refused more bytes (an oversized handshake
                    // message). Process what it has: that reports the real error.
                    log::debug!("tls read refused: {e}");
                    self.process()?;
                    self.failed = true;
                    return Err(TlsError::HandshakeFailed {
                        alert: None,
                        reason: crate::HandshakeFailure::Other(crate::error::Detail::new(
                            rustls::Error::General("record buffer full".into()),
                        )),
                    });
                }
            };
            debug_assert!(n > 0);
            self.process()?;
        }
        Ok(total - ciphertext.len())
    }

    fn process(&mut self) -> Result<(), TlsError> {
        let handshaking = self.conn.is_handshaking();
        match self.conn.process_new_packets() {
            Ok(state) => {
                if state.peer_has_closed() {
                    self.peer_closed = true;
                }
                Ok(())
            }
            Err(e) => {
                self.failed = true;
                Err(from_connection_error(e, handshaking))
            }
        }
    }

    fn repeat_error(&mut self) -> TlsError {
        let handshaking = self.conn.is_handshaking();
        match self.conn.process_new_packets() {
            Err(e) => from_connection_error(e, handshaking),
            Ok(_) => TlsError::Rustls(crate::error::Detail::new(rustls::Error::General(
                "session failed earlier".into(),
            ))),
        }
    }

    pub(crate) fn read_plaintext(&mut self, out: &mut [u8]) -> Result<usize, TlsError> {
        if out.is_empty() {
            return Ok(0);
        }
        match self.conn.reader().read(out) {
            Ok(n) => Ok(n),
            // WouldBlock: nothing buffered now. UnexpectedEof cannot happen because flare
            // never reports a transport EOF to rustls; the driver sees it itself.
            Err(_) => Ok(0),
        }
    }

    pub(crate) fn write_plaintext(&mut self, data: &[u8]) -> Result<usize, TlsError> {
        if self.failed {
            return Err(self.repeat_error());
        }
        // rustls' writer never fails for an in-memory sink; it accepts up to the limit.
        Ok(self.conn.writer().write(data).unwrap_or(0))
    }

    pub(crate) fn write_tls(&mut self, out: &mut Vec<u8>) -> Result<(), TlsError> {
        while self.conn.wants_write() {
            // Writing into a Vec cannot fail.
            match self.conn.write_tls(out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        Ok(())
    }

    pub(crate) fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    pub(crate) fn wants_read(&self) -> bool {
        !self.failed && self.conn.wants_read()
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    pub(crate) fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    pub(crate) fn protocol_version(&self) -> Option<TlsVersion> {
        match self.conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls12),
            rustls::ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls13),
            _ => None,
        }
    }

    pub(crate) fn handshake_kind(&self) -> Option<HandshakeKind> {
        match self.conn.handshake_kind()? {
            rustls::HandshakeKind::Full => Some(HandshakeKind::Full),
            rustls::HandshakeKind::FullWithHelloRetryRequest => {
                Some(HandshakeKind::FullWithHelloRetryRequest)
            }
            rustls::HandshakeKind::Resumed => Some(HandshakeKind::Resumed),
        }
    }

    pub(crate) fn cipher_suite(&self) -> Option<&'static str> {
        self.conn.negotiated_cipher_suite()?.suite().as_str()
    }

    pub(crate) fn peer_certificates(&self) -> Option<PeerCertificates<'_>> {
        self.conn.peer_certificates().map(PeerCertificates)
    }

    pub(crate) fn send_close_notify(&mut self) {
        self.conn.send_close_notify();
    }

    pub(crate) fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    pub(crate) fn has_failed(&self) -> bool {
        self.failed
    }
}

/// The shared sans-IO surface, written once for both sessions.
macro_rules! session_methods {
    () => {
        /// Feeds ciphertext read from the socket and processes every complete record in
        /// it. Returns how many bytes were consumed: fewer than given when the
        /// received-plaintext buffer (16 KiB in rustls) is full, so read plaintext out
        /// with [`read_plaintext`](Self::read_plaintext) and feed the rest again.
        ///
        /// A fatal problem (bad record, failed handshake, fatal alert from the peer) is
        /// `Err`; the alert for the peer, if any, is queued behind whatever was queued
        /// before (TLS 1.3 session tickets, a KeyUpdate reply): send all of it with
        /// [`write_tls`](Self::write_tls), then shut the socket's write side and read
        /// and drop what still arrives until EOF (briefly) before closing, so unread
        /// bytes do not turn the close into a reset that can overtake the alert.
        /// rustls 0.23 queues no alert for a few refusals (an all-zero TLS 1.3 inner
        /// plaintext). Later calls return the same error.
        pub fn read_tls(&mut self, ciphertext: &[u8]) -> Result<usize, TlsError> {
            self.engine.read_tls(ciphertext)
        }

        /// Copies received plaintext into `out`. `Ok(0)` means none is buffered now
        /// (more arrives only through [`read_tls`](Self::read_tls)); check
        /// [`peer_closed`](Self::peer_closed) to tell a clean end of stream.
        pub fn read_plaintext(&mut self, out: &mut [u8]) -> Result<usize, TlsError> {
            self.engine.read_plaintext(out)
        }

        /// Queues plaintext to send (before the handshake completes it waits). Returns
        /// how many bytes were accepted: fewer than `data.len()`, possibly 0, when the
        /// outgoing buffer limit (the config's `buffer_limit`) is reached, so a slow
        /// peer cannot make us buffer without bound. Drain with
        /// [`write_tls`](Self::write_tls) and offer the rest again.
        pub fn write_plaintext(&mut self, data: &[u8]) -> Result<usize, TlsError> {
            self.engine.write_plaintext(data)
        }

        /// Appends every pending TLS record (handshake messages, application data,
        /// alerts) to `out`, for the driver to write to the socket.
        pub fn write_tls(&mut self, out: &mut Vec<u8>) -> Result<(), TlsError> {
            self.engine.write_tls(out)
        }

        /// Whether [`write_tls`](Self::write_tls) has bytes to give.
        pub fn wants_write(&self) -> bool {
            self.engine.wants_write()
        }

        /// Whether [`read_tls`](Self::read_tls) would take ciphertext now: false once
        /// the received-plaintext buffer is full (read plaintext out first), after
        /// `close_notify`, or after a fatal error. A driver can drop read interest
        /// while this is false.
        pub fn wants_read(&self) -> bool {
            self.engine.wants_read()
        }

        /// Whether the handshake is still running. The driver arms the handshake
        /// timeout while this is true.
        pub fn is_handshaking(&self) -> bool {
            self.engine.is_handshaking()
        }

        /// The negotiated ALPN protocol, once the handshake has got that far.
        pub fn alpn_protocol(&self) -> Option<&[u8]> {
            self.engine.alpn_protocol()
        }

        /// The negotiated protocol version, once known.
        pub fn protocol_version(&self) -> Option<TlsVersion> {
            self.engine.protocol_version()
        }

        /// Whether the handshake was full or resumed; `None` while handshaking.
        pub fn handshake_kind(&self) -> Option<HandshakeKind> {
            self.engine.handshake_kind()
        }

        /// The negotiated cipher suite's IANA name (e.g. `TLS13_AES_128_GCM_SHA256`).
        pub fn cipher_suite(&self) -> Option<&'static str> {
            self.engine.cipher_suite()
        }

        /// The certificate chain the peer presented, if any.
        pub fn peer_certificates(&self) -> Option<PeerCertificates<'_>> {
            self.engine.peer_certificates()
        }

        /// Queues a `close_notify` alert (send it with [`write_tls`](Self::write_tls)).
        /// Nothing more can be written afterwards.
        pub fn send_close_notify(&mut self) {
            self.engine.send_close_notify()
        }

        /// Whether the peer sent `close_notify` (its clean end of stream). Buffered
        /// plaintext may still be read.
        pub fn peer_closed(&self) -> bool {
            self.engine.peer_closed()
        }

        /// Whether a fatal error was returned; the session is finished (flush
        /// [`write_tls`](Self::write_tls) and close).
        pub fn has_failed(&self) -> bool {
            self.engine.has_failed()
        }
    };
}

pub(crate) use session_methods;
