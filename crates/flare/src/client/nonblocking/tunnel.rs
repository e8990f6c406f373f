//! A CONNECT tunnel through an HTTP proxy (RFC 9110 section 9.3.6), stepped on
//! readiness: the `CONNECT host:port` request (with the proxy's credentials) out,
//! the proxy's reply head in, interim heads skipped. The request and the reading
//! of the reply are the blocking client's ([`connect_request`], [`tunnel_reply`]),
//! so both paths send and accept the same thing. TLS to the origin starts on the
//! connection once the tunnel is open.

use http::HeaderValue;

use super::super::connect::{connect_request, tunnel_reply, TunnelReply};
use super::super::error::{Error, ProtocolError};
use super::super::url::Url;
use super::conn::{Conn, ConnError, Fill};

/// Where a tunnel is after a step.
#[derive(Debug)]
pub(super) enum TunnelProgress {
    /// Waiting for the socket; `true` while request bytes are unsent.
    Waiting(bool),
    /// The proxy answered 2xx: the connection now carries bytes to the origin.
    Open,
    /// The proxy refused ([`Error::Proxy`] with its status), closed, or failed.
    Failed(Error),
}

/// One CONNECT in progress.
#[derive(Debug)]
pub(super) struct Tunnel {
    out: Vec<u8>,
    out_pos: usize,
}

impl Tunnel {
    /// A CONNECT to `url`'s origin, with `auth` as `Proxy-Authorization`.
    pub(super) fn new(url: &Url, auth: Option<&HeaderValue>) -> Tunnel {
        Tunnel {
            out: connect_request(url, auth),
            out_pos: 0,
        }
    }

    /// Writes what the socket takes, reads what it has, reads the reply. Call on
    /// readiness and right after the TCP connection is up.
    pub(super) fn step(&mut self, conn: &mut Conn, url: &str) -> TunnelProgress {
        let io_err = |e: ConnError| {
            TunnelProgress::Failed(match e {
                ConnError::Io(e) => Error::io(url, e),
                ConnError::Tls(source) => Error::Tls {
                    url: url.to_owned(),
                    source,
                },
            })
        };
        while self.out_pos < self.out.len() {
            match conn.write(&self.out[self.out_pos..]) {
                Ok(0) => break,
                Ok(n) => self.out_pos += n,
                Err(e) => return io_err(e),
            }
        }
        loop {
            loop {
                match tunnel_reply(conn.buffered()) {
                    TunnelReply::Partial => break,
                    TunnelReply::Interim(n) => conn.consume(n),
                    TunnelReply::Refused(status) => {
                        return TunnelProgress::Failed(Error::Proxy {
                            url: url.to_owned(),
                            status,
                        })
                    }
                    TunnelReply::Open(n) => {
                        conn.consume(n);
                        // The origin speaks only after our ClientHello: a byte here
                        // is the proxy's, and would be taken for TLS.
                        if !conn.buffered().is_empty() {
                            return TunnelProgress::Failed(Error::protocol(
                                url,
                                ProtocolError::Other("bytes after the proxy's CONNECT reply"),
                            ));
                        }
                        return TunnelProgress::Open;
                    }
                }
            }
            // The reply is bounded: `tunnel_reply` refuses a head past the header
            // limits, so this loop reads at most that much.
            match conn.fill() {
                Ok(Fill::Data(_)) => {}
                Ok(Fill::WouldBlock) => {
                    return TunnelProgress::Waiting(self.out_pos < self.out.len())
                }
                // The proxy closed before its reply: what the blocking client
                // reports for it too.
                Ok(Fill::Eof) => {
                    return TunnelProgress::Failed(Error::protocol(
                        url,
                        ProtocolError::UnexpectedEof,
                    ))
                }
                Err(e) => return io_err(e),
            }
        }
    }
}
