//! The PROXY protocol (HAProxy's, v1 and v2) in front of a listener: who may send
//! it, and the state a connection is in until its header is read.
//!
//! With [`HttpServer::proxy_protocol`](super::HttpServer::proxy_protocol) every TCP
//! listener of the server expects a PROXY header first (before the TLS ClientHello on
//! a TLS port). A connection from an address outside the trusted networks is closed
//! at accept; a malformed header, or one that does not complete within the header
//! timeout, closes the connection. The address handlers see
//! ([`Request::peer_addr`](flare_web::Request::peer_addr), logs, metrics) is then the
//! proxied client's; the socket's own peer stays available as
//! [`Request::socket_peer_addr`](flare_web::Request::socket_peer_addr). A `LOCAL`
//! header (the proxy's own health check) keeps the socket's address. Connections
//! behind a PROXY header run on epoll even when io_uring is on.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use flare_net::proxy_protocol::{self, Limits, Status};
use flare_net::TcpStream;
use flare_web::Handler;

use super::conn::{Ctx, Deadline, Step};

/// Which peers may send a PROXY header, and its limits.
#[derive(Clone, Debug)]
pub struct ProxyProtocol {
    trusted: Vec<(IpAddr, u8)>,
    limits: Limits,
}

impl Default for ProxyProtocol {
    fn default() -> Self {
        Self::new()
    }
}

impl ProxyProtocol {
    /// Trusts no one yet: add the proxies' networks with [`trust`](Self::trust).
    pub fn new() -> Self {
        ProxyProtocol {
            trusted: Vec::new(),
            limits: Limits::default(),
        }
    }
    /// Trusts a network in CIDR form (`10.0.0.0/8`, `::1/128`, or a bare address).
    /// Panics on a malformed network (a configuration mistake).
    pub fn trust(mut self, network: &str) -> Self {
        let (ip, bits) = match network.split_once('/') {
            Some((ip, bits)) => (ip, bits.parse::<u8>().ok()),
            None => (network, None),
        };
        let ip: IpAddr = ip
            .parse()
            .unwrap_or_else(|_| panic!("not a network: {network:?}"));
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        assert!(bits <= max, "prefix too long in {network:?}");
        self.trusted.push((ip, bits));
        self
    }
    /// The parser's limits (default: `flare_net::proxy_protocol::Limits::default()`:
    /// v2 address and TLV block at most 1 KiB, 32 TLVs).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// Whether `ip` is in a trusted network.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted
            .iter()
            .any(|&(net, bits)| in_network(ip, canonical(net), bits))
    }
}

/// An IPv4-mapped IPv6 address as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The most bytes read while looking for the end of a header.
const MAX_HEADER: usize = 16 + 65535;

/// A connection whose PROXY header is being read.
pub(crate) struct ProxyStart {
    pub(crate) sock: TcpStream,
    /// The socket's peer (the proxy).
    pub(crate) socket_peer: SocketAddr,
    /// The TLS configuration of the port, if it is a TLS port.
    pub(crate) tls: Option<flare_tls::ServerConfig>,
    pub(crate) cfg: std::sync::Arc<ProxyProtocol>,
    buf: Vec<u8>,
    /// Once the header is read: the client's address and the bytes after it.
    pub(crate) done: Option<(SocketAddr, Vec<u8>)>,
    pub(crate) want_write: bool,
    pub(crate) write_registered: bool,
    pub(crate) deadline: Option<(Instant, Deadline)>,
}

impl ProxyStart {
    pub(crate) fn new(
        sock: TcpStream,
        socket_peer: SocketAddr,
        tls: Option<flare_tls::ServerConfig>,
        cfg: std::sync::Arc<ProxyProtocol>,
    ) -> Self {
        ProxyStart {
            sock,
            socket_peer,
            tls,
            cfg,
            buf: Vec::new(),
            done: None,
            want_write: false,
            write_registered: false,
            deadline: None,
        }
    }

    /// Reads what arrived; `Upgrade` once the header is complete (the worker then
    /// builds the port's driver), `Close` on a bad header or EOF.
    pub(crate) fn on_readable<H: Handler>(&mut self, _cx: &Ctx<'_, H>) -> Step {
        let mut chunk = [0u8; 1024];
        loop {
            match self.sock.read(&mut chunk) {
                Ok(0) => return Step::Close,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.is_would_block() => break,
                Err(flare_net::Error::Interrupted) => continue,
                Err(_) => return Step::Close,
            }
            if self.buf.len() > MAX_HEADER {
                break;
            }
        }
        match proxy_protocol::parse(&self.buf, &self.cfg.limits) {
            Ok(Status::Complete(header)) => {
                let n = header.len;
                let client = header.source().unwrap_or(self.socket_peer);
                let rest = self.buf.split_off(n);
                self.done = Some((client, rest));
                Step::Upgrade
            }
            Ok(Status::Partial) if self.buf.len() <= MAX_HEADER => Step::Keep,
            Ok(Status::Partial) => Step::Close,
            Err(e) => {
                log::debug!("PROXY header from {} refused: {e:?}", self.socket_peer);
                Step::Close
            }
        }
    }
    pub(crate) fn on_writable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        self.on_readable(cx)
    }
    pub(crate) fn on_stream_wake<H: Handler>(&mut self, _cx: &Ctx<'_, H>) -> Step {
        Step::Keep
    }
    pub(crate) fn on_deadline<H: Handler>(&mut self, _kind: Deadline, _cx: &Ctx<'_, H>) -> Step {
        // The header did not complete in time.
        Step::Close
    }
    pub(crate) fn on_drain<H: Handler>(&mut self, _cx: &Ctx<'_, H>) -> Step {
        Step::Close
    }
    pub(crate) fn cancel(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_match_by_prefix_and_mapped_addresses_count_as_v4() {
        let p = ProxyProtocol::new()
            .trust("10.0.0.0/8")
            .trust("::1")
            .trust("192.168.1.7");
        assert!(p.trusts("10.1.2.3".parse().unwrap()));
        assert!(!p.trusts("11.0.0.1".parse().unwrap()));
        assert!(p.trusts("::1".parse().unwrap()));
        assert!(!p.trusts("::2".parse().unwrap()));
        assert!(p.trusts("192.168.1.7".parse().unwrap()));
        assert!(!p.trusts("192.168.1.8".parse().unwrap()));
        assert!(p.trusts("::ffff:10.9.9.9".parse().unwrap()));
        assert!(!ProxyProtocol::new().trusts("127.0.0.1".parse().unwrap()));
        assert!(ProxyProtocol::new()
            .trust("0.0.0.0/0")
            .trusts("8.8.8.8".parse().unwrap()));
    }
}
