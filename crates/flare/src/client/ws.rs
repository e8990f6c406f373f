//! A blocking WebSocket client (RFC 6455) on the HTTP client's connection
//! machinery: flare-dns names with happy eyeballs, TLS through flare-tls (ALPN
//! `http/1.1`), flare-ws' client handshake and codec, permessage-deflate offered.
//! Over HTTP/2 (RFC 8441) when asked with [`WsClientBuilder::http2`]; that path
//! is in `ws_h2.rs`.

use std::io::{Read, Write};
use std::time::Instant;

use flare_h1::{parse_response, Limits, ResponseHeadParsed, Status};
use flare_ws::handshake::ClientHandshake;
use flare_ws::{Config, DeflateConfig, Event, Role, WebSocket};

use super::connect::{lenient, Connector};
use super::error::TimeoutKind;
use super::error::{Error, ProtocolError, Result};
use super::h1::map_io;
use super::transport::{Deadlines, Transport};
use super::url::{Scheme, Url};
use super::ws_h2::H2Stream;
use super::ProxySetting;

/// A received WebSocket message, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsMessage {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping (its pong is already sent).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The server's close frame (our answer is sent); `None` for no status.
    Close(Option<u16>, String),
}

/// Whether [`WsClient`] carries the WebSocket over HTTP/2 (RFC 8441 extended
/// CONNECT) instead of the HTTP/1.1 upgrade. Set with
/// [`WsClientBuilder::http2`]; default [`WsHttp2::Never`].
///
/// Over HTTP/2 the WebSocket gets a dedicated HTTP/2 connection of its own (not
/// shared with [`Client`](super::Client)'s pool or other WebSockets). The client
/// waits for the server's SETTINGS and sends the extended CONNECT only if they
/// carry `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`; the WebSocket frames then travel
/// in the stream's DATA frames under HTTP/2 flow control (received data is
/// acknowledged with WINDOW_UPDATE as [`WsClient::recv`] takes it, at most 1 MiB
/// unread; sends wait for the server's window, failing with a read timeout after
/// 30 s without one). `send`/`recv`, the limits and the timeouts are the same
/// as over HTTP/1.1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsHttp2 {
    /// The HTTP/1.1 upgrade only (RFC 6455); TLS offers ALPN `http/1.1`.
    #[default]
    Never,
    /// HTTP/2 when the server offers it, else HTTP/1.1. `wss://` offers ALPN `h2`
    /// and `http/1.1`: if the server picks `http/1.1` that connection is used for
    /// the upgrade; if it picks `h2` but its SETTINGS do not enable extended
    /// CONNECT, the HTTP/2 connection is closed and the upgrade runs on a fresh
    /// HTTP/1.1 one. `ws://` uses HTTP/2 only with
    /// [`WsClientBuilder::http2_prior_knowledge`] (there is no ALPN); then a
    /// server whose SETTINGS do not enable it gets the upgrade on a fresh
    /// connection too.
    Prefer,
    /// HTTP/2 or nothing: a server that picks `http/1.1` by ALPN or does not
    /// enable extended CONNECT fails the connect with
    /// [`ProtocolError::NoWebSocketOverHttp2`]. `ws://` speaks HTTP/2 by prior
    /// knowledge (h2c).
    Require,
}

/// Options for [`WsClient`]. Defaults: permessage-deflate offered, no
/// subprotocols, webpki roots, 10 s connect timeout, 10 s for the opening
/// handshake, no read timeout after it, flare-ws' limits, HTTP/1.1
/// ([`WsHttp2::Never`]), proxies from the environment (as
/// [`ClientBuilder`](super::ClientBuilder)).
///
/// Through a proxy, `ws://` and `wss://` alike go through a CONNECT tunnel
/// (`HTTP_PROXY` for `ws://`, `HTTPS_PROXY` for `wss://`, `NO_PROXY` honoured):
/// the upgrade, TLS and HTTP/2 then run end to end with the origin.
#[derive(Debug, Default)]
pub struct WsClientBuilder {
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    no_deflate: bool,
    roots: Vec<Vec<u8>>,
    config: Option<Config>,
    read_timeout: Option<std::time::Duration>,
    http2: WsHttp2,
    prior_knowledge: bool,
    proxies: ProxySetting,
}

impl WsClientBuilder {
    /// The longest [`WsClient::recv`] waits for the next bytes before failing with
    /// a read timeout (default: none, it waits for the server).
    pub fn read_timeout(mut self, t: Option<std::time::Duration>) -> Self {
        self.read_timeout = t;
        self
    }
    /// Offer these subprotocols (most preferred first).
    pub fn protocols(mut self, protocols: &[&str]) -> Self {
        self.protocols = protocols.iter().map(|p| p.to_string()).collect();
        self
    }

    /// An extra header field on the handshake request.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Do not offer permessage-deflate.
    pub fn no_deflate(mut self) -> Self {
        self.no_deflate = true;
        self
    }

    /// Trust this PEM CA bundle besides the webpki roots (for `wss://`).
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Self {
        self.roots.push(pem.to_vec());
        self
    }

    /// The codec's limits (frame and message sizes, ...); default flare-ws'.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// WebSocket over HTTP/2 (RFC 8441): [`WsHttp2::Prefer`] or
    /// [`WsHttp2::Require`]; default [`WsHttp2::Never`]. See [`WsHttp2`] for the
    /// fallback rules and the dedicated connection.
    pub fn http2(mut self, mode: WsHttp2) -> Self {
        self.http2 = mode;
        self
    }

    /// For `ws://` with [`WsHttp2::Prefer`]: assume the server speaks HTTP/2 in
    /// clear text (h2c by prior knowledge, RFC 9113 section 3.3) and start with
    /// the HTTP/2 preface. Default off; [`WsHttp2::Require`] implies it. A server
    /// that does not speak HTTP/2 at all fails the connect (it is not retried
    /// over HTTP/1.1).
    pub fn http2_prior_knowledge(mut self) -> Self {
        self.prior_knowledge = true;
        self
    }

    /// Ignore `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` and connect directly. Default:
    /// the environment is read at [`connect`](Self::connect).
    pub fn no_proxy(mut self) -> Self {
        self.proxies = ProxySetting::None;
        self
    }

    /// Connect through this HTTP proxy (`http://[user:password@]host:port`), by a
    /// CONNECT tunnel for `ws://` and `wss://`; `no_proxy` lists hosts (suffixes,
    /// or `*`) that go direct, like `NO_PROXY`. Credentials (percent-decoded) go
    /// to the proxy as `Proxy-Authorization: Basic` on the CONNECT, never to the
    /// origin. A proxy that refuses the tunnel is [`Error::Proxy`] with its status.
    pub fn proxy(mut self, proxy_url: &str, no_proxy: &str) -> Result<Self> {
        self.proxies = ProxySetting::fixed(proxy_url, no_proxy)?;
        Ok(self)
    }

    /// Connects and completes the opening handshake (over HTTP/2 when
    /// [`http2`](Self::http2) asks for it and the server offers it).
    pub fn connect(self, url: &str) -> Result<WsClient> {
        let url = Url::parse(url)?;
        let url_text = url.to_string();
        if !matches!(url.scheme_kind(), Scheme::Ws | Scheme::Wss) {
            return Err(Error::InvalidUrl {
                url: url_text,
                reason: "a WebSocket URL is ws:// or wss://",
            });
        }
        let tls = url.scheme_kind().is_tls();
        let try_h2 = match self.http2 {
            WsHttp2::Never => false,
            WsHttp2::Prefer => tls || self.prior_knowledge,
            WsHttp2::Require => true,
        };
        let proxies = self.proxies.proxies();
        let proxy = proxies.as_ref().and_then(|p| p.for_url(&url));
        if try_h2 {
            let t = self
                .connector(&url_text, &[b"h2", b"http/1.1"])?
                .connect_tunnelled(&url, proxy)?;
            if tls && t.alpn() != Some(b"h2") {
                if self.http2 == WsHttp2::Require {
                    return Err(Error::protocol(
                        &url_text,
                        ProtocolError::NoWebSocketOverHttp2 { http2: false },
                    ));
                }
                // The server chose HTTP/1.1: upgrade on this connection.
                return self.upgrade_h1(t, &url, url_text);
            }
            if let Some(ws) = self.open_h2(t, &url, &url_text)? {
                return Ok(ws);
            }
            if self.http2 == WsHttp2::Require {
                return Err(Error::protocol(
                    &url_text,
                    ProtocolError::NoWebSocketOverHttp2 { http2: true },
                ));
            }
            log::debug!("{url_text}: no extended CONNECT in the server's SETTINGS; HTTP/1.1");
        }
        let t = self
            .connector(&url_text, &[b"http/1.1"])?
            .connect_tunnelled(&url, proxy)?;
        self.upgrade_h1(t, &url, url_text)
    }

    fn connector(&self, url_text: &str, alpn: &[&[u8]]) -> Result<Connector> {
        let mut tls = flare_tls::ClientConfig::builder().alpn(alpn);
        if !self.roots.is_empty() {
            tls = tls.webpki_roots(true);
            for r in &self.roots {
                tls = tls.ca_pem(r);
            }
        }
        let tls = tls.build().map_err(|source| Error::Tls {
            url: url_text.to_owned(),
            source,
        })?;
        Ok(Connector {
            resolver: Default::default(),
            custom_resolver: None,
            tls,
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            nodelay: true,
        })
    }

    /// The opening handshake is bounded; after it, the caller's read timeout.
    fn handshake_deadlines() -> Deadlines {
        Deadlines {
            idle: Some(std::time::Duration::from_secs(10)),
            idle_kind: Some(TimeoutKind::Read),
            ..Default::default()
        }
    }

    fn open_deadlines(&self) -> Deadlines {
        Deadlines {
            idle: self.read_timeout,
            idle_kind: self.read_timeout.map(|_| TimeoutKind::Read),
            ..Default::default()
        }
    }

    fn handshake(&self, url_text: &str) -> Result<ClientHandshake> {
        let mut rng = flare_dns::Rng::from_os().map_err(|e| Error::io(url_text, e))?;
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        nonce[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
        let protocols: Vec<&str> = self.protocols.iter().map(String::as_str).collect();
        let deflate = (!self.no_deflate).then(DeflateConfig::default);
        Ok(ClientHandshake::new(nonce, &protocols, deflate))
    }

    /// RFC 8441 on a connection that speaks HTTP/2; `None` when the server's
    /// SETTINGS do not enable extended CONNECT.
    fn open_h2(&self, t: Transport, url: &Url, url_text: &str) -> Result<Option<WsClient>> {
        let Some(mut h2) = H2Stream::start(t, Self::handshake_deadlines(), url_text)? else {
            return Ok(None);
        };
        let hs = self.handshake(url_text)?;
        let scheme = if url.scheme_kind().is_tls() {
            "https"
        } else {
            "http"
        };
        let negotiated =
            h2.open_websocket(&hs, scheme, &url.authority(), url.target(), &self.headers)?;
        h2.set_deadlines(self.open_deadlines());
        Ok(Some(self.client(
            Link::Http2(Box::new(h2)),
            Vec::new(),
            url_text.to_owned(),
            negotiated,
        )))
    }

    /// The RFC 6455 upgrade on an HTTP/1.1 connection.
    fn upgrade_h1(&self, mut t: Transport, url: &Url, url_text: String) -> Result<WsClient> {
        t.set_deadlines(Self::handshake_deadlines());
        let hs = self.handshake(&url_text)?;
        let mut req = Vec::new();
        hs.write_request(&url.authority(), url.target(), &mut req);
        // Extra fields go before the final CRLF.
        req.truncate(req.len() - 2);
        for (n, v) in &self.headers {
            flare_h1::write_header(&mut req, n.as_bytes(), v.as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        t.write_all(&req).map_err(|e| map_io(&url_text, e))?;

        let mut buf = Vec::with_capacity(4096);
        let mut head = ResponseHeadParsed::default();
        let mut tmp = [0u8; 4096];
        let (negotiated, used) = loop {
            let n = t.read(&mut tmp).map_err(|e| map_io(&url_text, e))?;
            if n == 0 {
                return Err(Error::protocol(&url_text, ProtocolError::UnexpectedEof));
            }
            buf.extend_from_slice(&tmp[..n]);
            match parse_response(&buf, &mut head, &lenient(), &Limits::default(), true) {
                Ok(Status::Complete(used)) => {
                    let fields = head
                        .headers
                        .iter()
                        .map(|h| (h.name.get(&buf), h.value.get(&buf)));
                    let negotiated = hs
                        .verify_response(head.status, fields)
                        .map_err(|e| handshake_error(&url_text, e))?;
                    break (negotiated, used);
                }
                Ok(Status::Partial) => {}
                Err(e) => return Err(Error::protocol(&url_text, ProtocolError::Http1(e))),
            }
        };
        buf.drain(..used);
        t.set_deadlines(self.open_deadlines());
        Ok(self.client(Link::Http1(t), buf, url_text, negotiated))
    }

    fn client(
        &self,
        link: Link,
        input: Vec<u8>,
        url: String,
        negotiated: flare_ws::handshake::Negotiated,
    ) -> WsClient {
        let ws = WebSocket::new(
            Role::Client,
            self.config.clone().unwrap_or_default(),
            negotiated.deflate,
        );
        WsClient {
            link,
            ws,
            input,
            start: 0,
            out: Vec::new(),
            url,
            protocol: negotiated.protocol,
        }
    }
}

/// A refused opening handshake as the client's error: a status other than 101
/// (HTTP/1.1) or 2xx (HTTP/2) is [`Error::Status`] with it.
pub(super) fn handshake_error(url: &str, e: flare_ws::handshake::ResponseError) -> Error {
    log::debug!("WebSocket handshake with {url} refused: {e}");
    match e {
        flare_ws::handshake::ResponseError::Status(s) => Error::Status {
            url: url.to_owned(),
            status: http::StatusCode::from_u16(s).unwrap_or(http::StatusCode::BAD_GATEWAY),
        },
        _ => Error::protocol(
            url,
            ProtocolError::Other("WebSocket handshake response rejected"),
        ),
    }
}

/// What carries the WebSocket's bytes.
enum Link {
    /// The upgraded HTTP/1.1 connection.
    Http1(Transport),
    /// An HTTP/2 stream (RFC 8441).
    Http2(Box<H2Stream>),
}

impl Link {
    fn write_all(&mut self, data: &[u8], url: &str) -> Result<()> {
        match self {
            Link::Http1(t) => t.write_all(data).map_err(|e| map_io(url, e)),
            Link::Http2(s) => s.write_all(data),
        }
    }

    fn read(&mut self, buf: &mut [u8], url: &str) -> Result<usize> {
        match self {
            Link::Http1(t) => t.read(buf).map_err(|e| map_io(url, e)),
            Link::Http2(s) => s.read(buf),
        }
    }

    /// The closing handshake is done. HTTP/1.1: nothing (the socket closes when
    /// the client is dropped); HTTP/2: END_STREAM and the connection is closed.
    fn finish(&mut self) -> Result<()> {
        match self {
            Link::Http1(_) => Ok(()),
            Link::Http2(s) => s.finish(),
        }
    }
}

/// A connected WebSocket. Blocking [`send_text`](Self::send_text) /
/// [`recv`](Self::recv); pings are answered inside `recv`.
///
/// Over HTTP/1.1 by default; over HTTP/2 (RFC 8441, a dedicated connection per
/// WebSocket) with [`WsClientBuilder::http2`] (see [`WsHttp2`]);
/// [`http_version`](Self::http_version) says which was used.
///
/// ```no_run
/// use flare::client::{WsClient, WsHttp2, WsMessage};
///
/// # fn main() -> flare::client::Result<()> {
/// let mut ws = WsClient::builder()
///     .http2(WsHttp2::Prefer)
///     .protocols(&["chat"])
///     .connect("wss://example.com/chat")?;
/// ws.send_text("hello")?;
/// if let WsMessage::Text(t) = ws.recv()? {
///     println!("{t} (over {:?})", ws.http_version());
/// }
/// ws.close(1000, "bye")?;
/// while !matches!(ws.recv()?, WsMessage::Close(..)) {}
/// # Ok(())
/// # }
/// ```
pub struct WsClient {
    link: Link,
    ws: WebSocket,
    input: Vec<u8>,
    start: usize,
    out: Vec<u8>,
    url: String,
    protocol: Option<String>,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsClient")
            .field("url", &self.url)
            .field("protocol", &self.protocol)
            .field("deflate", &self.ws.deflate())
            .field("http_version", &self.http_version())
            .finish_non_exhaustive()
    }
}

impl WsClient {
    /// Connects with the defaults of [`WsClientBuilder`].
    pub fn connect(url: &str) -> Result<WsClient> {
        WsClientBuilder::default().connect(url)
    }

    /// A builder for subprotocols, headers, roots and limits.
    pub fn builder() -> WsClientBuilder {
        WsClientBuilder::default()
    }

    /// The subprotocol the server chose.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Whether permessage-deflate was negotiated.
    pub fn deflate(&self) -> bool {
        self.ws.deflate().is_some()
    }

    /// What carries the WebSocket: `HTTP_11` (the RFC 6455 upgrade) or `HTTP_2`
    /// (an RFC 8441 extended CONNECT stream).
    pub fn http_version(&self) -> http::Version {
        match self.link {
            Link::Http1(_) => http::Version::HTTP_11,
            Link::Http2(_) => http::Version::HTTP_2,
        }
    }

    fn closed(&self) -> Error {
        Error::protocol(&self.url, ProtocolError::Other("WebSocket closed"))
    }

    fn flush(&mut self) -> Result<()> {
        self.out.clear();
        self.ws.poll_output(&mut self.out);
        if !self.out.is_empty() {
            self.link.write_all(&self.out, &self.url)?;
        }
        Ok(())
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let r = self.ws.send_text(text, &mut out);
        self.out = out;
        r.map_err(|_| self.closed())?;
        self.link.write_all(&self.out, &self.url)
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let r = self.ws.send_binary(data, &mut out);
        self.out = out;
        r.map_err(|_| self.closed())?;
        self.link.write_all(&self.out, &self.url)
    }

    /// Sends a ping.
    pub fn ping(&mut self, data: &[u8]) -> Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let r = self.ws.send_ping(data, &mut out);
        self.out = out;
        r.map_err(|_| self.closed())?;
        self.link.write_all(&self.out, &self.url)
    }

    /// Starts the closing handshake; keep calling [`recv`](Self::recv) until it
    /// returns the server's [`WsMessage::Close`].
    pub fn close(&mut self, code: u16, reason: &str) -> Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let r = self.ws.close(code, reason, Instant::now(), &mut out);
        self.out = out;
        r.map_err(|_| self.closed())?;
        self.link.write_all(&self.out, &self.url)
    }

    /// Waits for the next message.
    pub fn recv(&mut self) -> Result<WsMessage> {
        loop {
            if self.start < self.input.len() {
                let (used, msg) = {
                    let input = &mut self.input[self.start..];
                    match self.ws.read(input, Instant::now()) {
                        Ok((used, ev)) => (used, ev.map(owned)),
                        Err(e) => {
                            let _ = self.flush();
                            log::debug!("WebSocket {} failed: {e}", self.url);
                            return Err(Error::protocol(
                                &self.url,
                                ProtocolError::Other("WebSocket protocol error"),
                            ));
                        }
                    }
                };
                self.start += used;
                self.flush()?;
                if self.ws.is_closed() {
                    self.link.finish()?;
                }
                if let Some(m) = msg {
                    return Ok(m);
                }
                if used > 0 {
                    continue;
                }
            }
            if self.ws.is_closed() {
                return Err(self.closed());
            }
            if self.start > 0 {
                self.input.drain(..self.start);
                self.start = 0;
            }
            let old = self.input.len();
            self.input.resize(old + 16 * 1024, 0);
            let r = self.link.read(&mut self.input[old..], &self.url);
            self.input.truncate(old + *r.as_ref().unwrap_or(&0));
            if r? == 0 {
                return Err(Error::protocol(&self.url, ProtocolError::UnexpectedEof));
            }
        }
    }
}

fn owned(ev: Event<'_>) -> WsMessage {
    match ev {
        Event::Text(t) => WsMessage::Text(t.to_owned()),
        Event::Binary(b) => WsMessage::Binary(b.to_vec()),
        Event::Ping(b) => WsMessage::Ping(b.to_vec()),
        Event::Pong(b) => WsMessage::Pong(b.to_vec()),
        Event::Close { code, reason } => WsMessage::Close(code, reason.to_owned()),
    }
}
