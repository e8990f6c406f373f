//! Opening a connection: the proxy decision, name resolution through flare-dns,
//! happy eyeballs (RFC 8305), the CONNECT tunnel and the TLS handshake.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use flare_dns::Resolver;
use flare_h1::{parse_response, Limits, ResponseConfig, ResponseHeadParsed, Status};
use flare_tls::{ClientConfig, ClientSession, TlsError};
use http::HeaderValue;

use super::error::{Error, Result, TimeoutKind};
use super::transport::{Deadlines, Fired, Socket, Tls, Transport};
use super::url::Url;

/// RFC 8305 section 5: "A simple implementation can have a fixed delay for how long
/// to wait before starting the next connection attempt [...] recommended value for
/// a default delay is 250 milliseconds."
pub(crate) const CONNECTION_ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// A proxy: where it is, and the `Proxy-Authorization` value for it when its URL
/// carried credentials.
#[derive(Clone, Debug)]
pub(crate) struct Proxy {
    pub(crate) url: Url,
    /// `Basic ...`, marked sensitive (its `Debug` shows no secret).
    pub(crate) auth: Option<HeaderValue>,
}

impl Proxy {
    /// Parses `http://[user[:password]@]host[:port]`; a missing scheme is `http`.
    /// User and password are percent-decoded (RFC 3986 section 3.2.1) and sent as
    /// `Basic` credentials (RFC 7617).
    pub(crate) fn parse(text: &str) -> Result<Proxy> {
        let text = text.trim();
        let with_scheme;
        let text = if text.contains("://") {
            text
        } else {
            with_scheme = format!("http://{text}");
            &with_scheme
        };
        let bad = |reason| Error::InvalidUrl {
            url: redact(text),
            reason,
        };
        let (scheme, rest) = text.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let url = Url::parse(&format!("{scheme}://{hostport}{tail}")).map_err(|e| match e {
            Error::InvalidUrl { reason, .. } => bad(reason),
            e => e,
        })?;
        let auth = match userinfo {
            None => None,
            Some(info) => {
                let (user, pass) = info.split_once(':').unwrap_or((info, ""));
                let mut creds = percent_decode(user).ok_or_else(|| bad("bad percent-encoding"))?;
                creds.push(b':');
                creds.extend(percent_decode(pass).ok_or_else(|| bad("bad percent-encoding"))?);
                let mut v =
                    HeaderValue::from_str(&format!("Basic {}", super::request::base64(&creds)))
                        .map_err(|_| bad("bad credentials"))?;
                v.set_sensitive(true);
                Some(v)
            }
        };
        Ok(Proxy { url, auth })
    }
}

/// The URL with any password replaced, for error messages.
fn redact(text: &str) -> String {
    match text.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..end].rsplit_once('@') {
                Some((info, host)) => {
                    let user = info.split(':').next().unwrap_or("");
                    format!("{scheme}://{user}:***@{host}{}", &rest[end..])
                }
                None => text.to_owned(),
            }
        }
        None => text.to_owned(),
    }
}

/// `%XX` decoded; `None` for a `%` not followed by two hex digits.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Proxies from the builder or the environment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Proxies {
    pub(crate) http: Option<Proxy>,
    pub(crate) https: Option<Proxy>,
    /// Host suffixes (or `*`) that go direct.
    pub(crate) no_proxy: Vec<String>,
}

impl Proxies {
    /// `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` (either case; the lowercase one
    /// wins, as curl does), read through `var`. A value that does not parse is
    /// ignored, with a warning.
    pub(crate) fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Proxies {
        let get = |lower: &str, upper: &str| {
            var(lower)
                .or_else(|| var(upper))
                .filter(|v| !v.trim().is_empty())
        };
        let parse = |v: String| match Proxy::parse(&v) {
            Ok(p) => Some(p),
            Err(e) => {
                log::warn!("proxy from the environment ignored: {e}");
                None
            }
        };
        Proxies {
            http: get("http_proxy", "HTTP_PROXY").and_then(parse),
            https: get("https_proxy", "HTTPS_PROXY").and_then(parse),
            no_proxy: get("no_proxy", "NO_PROXY")
                .map(|v| parse_no_proxy(&v))
                .unwrap_or_default(),
        }
    }

    /// The proxy for `url`, if any.
    pub(crate) fn for_url(&self, url: &Url) -> Option<&Proxy> {
        let proxy = if url.scheme_kind().is_tls() {
            self.https.as_ref()
        } else {
            self.http.as_ref()
        }?;
        let host = url.host();
        let bypass = self.no_proxy.iter().any(|rule| {
            rule == "*"
                || host == rule
                || (host.ends_with(rule.as_str())
                    && (rule.starts_with('.')
                        || host.as_bytes().get(host.len() - rule.len() - 1) == Some(&b'.')))
        });
        (!bypass).then_some(proxy)
    }
}

pub(crate) fn parse_no_proxy(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .map(|s| {
            // `[::1]` and `host:port` rules name the host only.
            let s = s.trim_start_matches('[');
            let s = s.split(']').next().unwrap_or(s);
            if s.parse::<IpAddr>().is_ok() {
                s.to_owned()
            } else {
                s.split(':').next().unwrap_or(s).to_owned()
            }
        })
        .collect()
}

/// What a connector needs, shared by the client's clones.
pub(crate) struct Connector {
    pub(crate) resolver: OnceLock<std::result::Result<Arc<Resolver>, io::ErrorKind>>,
    pub(crate) custom_resolver: Option<Arc<Resolver>>,
    pub(crate) tls: ClientConfig,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) nodelay: bool,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("tls", &self.tls)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl Connector {
    fn resolver(&self) -> std::result::Result<Arc<Resolver>, io::ErrorKind> {
        if let Some(r) = &self.custom_resolver {
            return Ok(r.clone());
        }
        self.resolver
            .get_or_init(|| Resolver::from_system().map(Arc::new).map_err(|e| e.kind()))
            .clone()
    }

    /// The addresses of `host`, in happy-eyeballs order. IP literals skip DNS.
    fn resolve(&self, url_text: &str, host: &str, port: u16) -> Result<Vec<SocketAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let dns_err = |source| Error::Dns {
            url: url_text.to_owned(),
            host: host.to_owned(),
            source,
        };
        let resolver = self
            .resolver()
            .map_err(|k| dns_err(flare_dns::ResolveError::Io(k)))?;
        let ips = resolver.resolve(host).map_err(dns_err)?;
        Ok(ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect())
    }

    /// A TCP connection to `host:port` (the first address to accept wins).
    fn tcp(
        &self,
        url_text: &str,
        host: &str,
        port: u16,
        deadline: Option<Instant>,
    ) -> Result<TcpStream> {
        let addrs = self.resolve(url_text, host, port)?;
        let tcp = race(&addrs, deadline, CONNECTION_ATTEMPT_DELAY).map_err(|(addr, e)| {
            if e.kind() == io::ErrorKind::TimedOut {
                Error::timeout(url_text, TimeoutKind::Connect)
            } else {
                Error::Connect {
                    url: url_text.to_owned(),
                    addr,
                    source: e,
                }
            }
        })?;
        if self.nodelay {
            let _ = tcp.set_nodelay(true);
        }
        Ok(tcp)
    }

    /// Opens a transport for `url`, through `proxy` when given: for `http` the
    /// connection is to the proxy (requests then use the absolute form); for
    /// `https` a CONNECT tunnel carries TLS to the origin. `request_deadline` also
    /// bounds the connect.
    pub(crate) fn connect(
        &self,
        url: &Url,
        proxy: Option<&Proxy>,
        request_deadline: Option<Instant>,
    ) -> Result<Transport> {
        self.open(url, proxy, request_deadline, false)
    }

    /// Opens a transport for `url` through a CONNECT tunnel when `proxy` is given,
    /// whatever the scheme: a WebSocket (`ws://` too) needs the origin at the far
    /// end of the connection, which a forwarding proxy does not give an upgrade.
    pub(crate) fn connect_tunnelled(&self, url: &Url, proxy: Option<&Proxy>) -> Result<Transport> {
        self.open(url, proxy, None, true)
    }

    fn open(
        &self,
        url: &Url,
        proxy: Option<&Proxy>,
        request_deadline: Option<Instant>,
        tunnel_plain: bool,
    ) -> Result<Transport> {
        let url_text = url.to_string();
        let connect_deadline = self.connect_timeout.map(|t| Instant::now() + t);
        let deadline = match (connect_deadline, request_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let (host, port) = match proxy {
            Some(p) => (p.url.host(), p.url.port()),
            None => (url.host(), url.port()),
        };
        let tcp = self.tcp(&url_text, host, port, deadline)?;
        let mut sock = Socket::new(tcp);
        sock.deadlines = Deadlines {
            idle: None,
            idle_kind: None,
            until: deadline,
            until_kind: Some(if connect_deadline == deadline {
                TimeoutKind::Connect
            } else {
                TimeoutKind::Request
            }),
        };
        let tls = url.scheme_kind().is_tls();
        if !tls && !tunnel_plain {
            return Ok(Transport::Plain(sock));
        }
        if let Some(p) = proxy {
            tunnel(&mut sock, url, p.auth.as_ref()).map_err(|e| match e {
                TunnelError::Io(e) => map_io(&url_text, e),
                TunnelError::Refused(status) => Error::Proxy {
                    url: url_text.clone(),
                    status,
                },
            })?;
        }
        if !tls {
            return Ok(Transport::Plain(sock));
        }
        let session = ClientSession::new(&self.tls, url.host()).map_err(|source| Error::Tls {
            url: url_text.clone(),
            source,
        })?;
        let tls = Tls::handshake(sock, session).map_err(|e| map_io(&url_text, e))?;
        Ok(Transport::Tls(Box::new(tls)))
    }
}

/// An `io::Error` from connecting: TLS errors and fired deadlines get their own
/// variants.
fn map_io(url: &str, e: io::Error) -> Error {
    if e.get_ref().is_some_and(|r| r.is::<TlsError>()) {
        if let Some(Ok(source)) = e.into_inner().map(|b| b.downcast::<TlsError>()) {
            return Error::Tls {
                url: url.to_owned(),
                source: *source,
            };
        }
        return Error::protocol(url, super::error::ProtocolError::Other("TLS failure"));
    }
    if let Some(f) = e.get_ref().and_then(|r| r.downcast_ref::<Fired>()) {
        return Error::timeout(url, f.0);
    }
    Error::io(url, e)
}

enum TunnelError {
    Io(io::Error),
    Refused(u16),
}

/// `CONNECT host:port` through an HTTP proxy (RFC 9110 section 9.3.6), with the
/// proxy's credentials when it has some (RFC 9110 section 11.7.2).
fn tunnel(
    sock: &mut Socket,
    url: &Url,
    auth: Option<&HeaderValue>,
) -> std::result::Result<(), TunnelError> {
    sock.write_all(&connect_request(url, auth))
        .map_err(TunnelError::Io)?;
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        // The tunnel's first bytes come only after our ClientHello, so nothing
        // past the proxy's head can arrive here.
        let n = sock.read(&mut tmp).map_err(TunnelError::Io)?;
        if n == 0 {
            return Err(TunnelError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "proxy closed the CONNECT",
            )));
        }
        buf.extend_from_slice(&tmp[..n]);
        loop {
            match tunnel_reply(&buf) {
                TunnelReply::Partial => break,
                TunnelReply::Interim(n) => {
                    buf.drain(..n);
                }
                TunnelReply::Open(_) => return Ok(()),
                TunnelReply::Refused(status) => return Err(TunnelError::Refused(status)),
            }
        }
    }
}

/// The `CONNECT` request for `url`'s origin: `host:port` (the port always, IPv6
/// in brackets) as the target and in `Host`, and `Proxy-Authorization` when the
/// proxy has credentials. Both clients send this.
pub(crate) fn connect_request(url: &Url, auth: Option<&HeaderValue>) -> Vec<u8> {
    let authority = if url.host().contains(':') {
        format!("[{}]:{}", url.host(), url.port())
    } else {
        format!("{}:{}", url.host(), url.port())
    };
    let mut req = Vec::with_capacity(128);
    let mut fields: Vec<(&str, &[u8])> = vec![("host", authority.as_bytes())];
    if let Some(a) = auth {
        fields.push(("proxy-authorization", a.as_bytes()));
    }
    flare_h1::write_request_head(&mut req, "CONNECT", &authority, &fields);
    req
}

/// What a proxy's reply to `CONNECT` says so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TunnelReply {
    /// No complete head yet.
    Partial,
    /// An interim (1xx) head of this many bytes: skip it, read on.
    Interim(usize),
    /// 2xx: the tunnel is open after this many bytes.
    Open(usize),
    /// Any other final status; 502 for a reply that does not parse or whose head
    /// passes the header limits (16 KiB), so the head read is bounded.
    Refused(u16),
}

/// Reads the proxy's reply at the start of `buf`. A 2xx reply to CONNECT has no
/// body (RFC 9110 section 9.3.6: a client MUST ignore Content-Length and
/// Transfer-Encoding in it), so the head is parsed as if for HEAD.
pub(crate) fn tunnel_reply(buf: &[u8]) -> TunnelReply {
    let mut head = ResponseHeadParsed::default();
    match parse_response(buf, &mut head, &lenient(), &Limits::default(), true) {
        Ok(Status::Complete(n)) => match head.status {
            200..=299 => TunnelReply::Open(n),
            0..=199 => TunnelReply::Interim(n),
            status => TunnelReply::Refused(status),
        },
        Ok(Status::Partial) => TunnelReply::Partial,
        Err(_) => TunnelReply::Refused(502),
    }
}

/// The leniency the client accepts from servers in the wild.
pub(crate) fn lenient() -> ResponseConfig {
    let mut c = ResponseConfig::default();
    c.allow_obs_fold = true;
    c.allow_space_before_colon = true;
    c.allow_bare_lf = true;
    c.allow_duplicate_content_length = true;
    c.allow_missing_reason = true;
    c.allow_content_length_with_transfer_encoding = true;
    c
}

/// RFC 8305 section 5: start with the first address; start the next one when the
/// previous fails or `stagger` passes without an answer; the first connection up
/// wins and the others are dropped as they finish.
pub(crate) fn race(
    addrs: &[SocketAddr],
    deadline: Option<Instant>,
    stagger: Duration,
) -> std::result::Result<TcpStream, (Option<SocketAddr>, io::Error)> {
    let timeout_err = || io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
    let left = |d: Option<Instant>| d.map(|d| d.saturating_duration_since(Instant::now()));
    match addrs {
        [] => Err((
            None,
            io::Error::new(io::ErrorKind::NotFound, "no addresses"),
        )),
        [one] => connect_one(*one, left(deadline)).map_err(|e| (Some(*one), e)),
        _ => {
            let (tx, rx) = mpsc::channel();
            let mut started = 0;
            let mut failed = 0;
            let mut last: Option<(SocketAddr, io::Error)> = None;
            loop {
                if let Some(addr) = addrs.get(started).copied() {
                    let tx = tx.clone();
                    let budget = left(deadline);
                    std::thread::spawn(move || {
                        let _ = tx.send((addr, connect_one(addr, budget)));
                    });
                    started += 1;
                }
                let next_start = (started < addrs.len()).then(|| Instant::now() + stagger);
                let wait_until = match (next_start, deadline) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                loop {
                    let r = match wait_until {
                        Some(t) => rx.recv_timeout(t.saturating_duration_since(Instant::now())),
                        None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                    };
                    match r {
                        Ok((_, Ok(s))) => return Ok(s),
                        Ok((addr, Err(e))) => {
                            failed += 1;
                            last = Some((addr, e));
                            if failed == started {
                                if started == addrs.len() {
                                    let (a, e) = last.unwrap_or_else(|| unreachable!());
                                    return Err((Some(a), e));
                                }
                                break; // start the next at once
                            }
                        }
                        Err(_) => {
                            if deadline.is_some_and(|d| Instant::now() >= d) {
                                return Err((last.map(|l| l.0), timeout_err()));
                            }
                            break;
                        }
                    }
                }
            }
        }
    }
}

fn connect_one(addr: SocketAddr, budget: Option<Duration>) -> io::Result<TcpStream> {
    match budget {
        Some(d) if d.is_zero() => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
        Some(d) => TcpStream::connect_timeout(&addr, d),
        None => TcpStream::connect(addr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::fd::AsFd;

    #[test]
    fn connect_request_names_host_and_port_and_carries_the_credentials() {
        let url = Url::parse("https://[::1]/x?y").unwrap();
        let auth = HeaderValue::from_static("Basic dTpw");
        let req = String::from_utf8(connect_request(&url, Some(&auth))).unwrap();
        assert_eq!(
            req,
            "CONNECT [::1]:443 HTTP/1.1\r\nhost: [::1]:443\r\n\
             proxy-authorization: Basic dTpw\r\n\r\n"
        );
        let url = Url::parse("https://example.com:8443/").unwrap();
        let req = String::from_utf8(connect_request(&url, None)).unwrap();
        assert_eq!(
            req,
            "CONNECT example.com:8443 HTTP/1.1\r\nhost: example.com:8443\r\n\r\n"
        );
    }

    #[test]
    fn tunnel_reply_skips_interim_heads_opens_on_2xx_and_bounds_the_head() {
        let open = b"HTTP/1.1 200 Connection established\r\ncontent-length: 9\r\n\r\n";
        assert_eq!(tunnel_reply(open), TunnelReply::Open(open.len()));
        assert_eq!(tunnel_reply(&open[..20]), TunnelReply::Partial);
        assert_eq!(tunnel_reply(b""), TunnelReply::Partial);
        let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
        assert_eq!(tunnel_reply(interim), TunnelReply::Interim(interim.len()));
        assert_eq!(
            tunnel_reply(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"),
            TunnelReply::Refused(407)
        );
        assert_eq!(
            tunnel_reply(b"SSH-2.0-x\r\n\r\n"),
            TunnelReply::Refused(502)
        );
        let mut endless = b"HTTP/1.1 200 OK\r\n".to_vec();
        while endless.len() < 20 * 1024 {
            endless.extend_from_slice(b"x-pad: aaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(tunnel_reply(&endless), TunnelReply::Refused(502));
    }

    #[test]
    fn happy_eyeballs_starts_the_next_address_after_the_stagger() {
        // The first address never answers (its accept queue is full, so SYNs are
        // dropped); the second does. The second attempt starts 250 ms in and wins.
        let hole = TcpListener::bind("127.0.0.1:0").unwrap();
        rustix::net::listen(hole.as_fd(), 0).unwrap();
        let hole_addr = hole.local_addr().unwrap();
        let mut fill = Vec::new();
        for _ in 0..4 {
            if let Ok(s) = TcpStream::connect_timeout(&hole_addr, Duration::from_millis(100)) {
                fill.push(s);
            }
        }
        let good = TcpListener::bind("127.0.0.1:0").unwrap();
        let t = Instant::now();
        let s = race(
            &[hole_addr, good.local_addr().unwrap()],
            Some(Instant::now() + Duration::from_secs(5)),
            CONNECTION_ATTEMPT_DELAY,
        )
        .unwrap();
        let took = t.elapsed();
        assert_eq!(s.peer_addr().unwrap(), good.local_addr().unwrap());
        assert!(took >= Duration::from_millis(240), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        // A refused first address moves on at once.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let t = Instant::now();
        race(
            &[closed, good.local_addr().unwrap()],
            None,
            CONNECTION_ATTEMPT_DELAY,
        )
        .unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
    }
}
