//! A blocking WebSocket client (RFC 6455) on the HTTP client's connection
//! machinery: flare-dns names with happy eyeballs, TLS through flare-tls (ALPN
//! `http/1.1`), flare-ws' client handshake and codec, permessage-deflate offered.

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

/// Options for [`WsClient`]. Defaults: permessage-deflate offered, no
/// subprotocols, webpki roots, 10 s connect timeout, 10 s for the opening
/// handshake, no read timeout after it, flare-ws' limits.
#[derive(Debug, Default)]
pub struct WsClientBuilder {
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    no_deflate: bool,
    roots: Vec<Vec<u8>>,
    config: Option<Config>,
    read_timeout: Option<std::time::Duration>,
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

    /// Connects and completes the opening handshake.
    pub fn connect(self, url: &str) -> Result<WsClient> {
        let url = Url::parse(url)?;
        let url_text = url.to_string();
        if !matches!(url.scheme_kind(), Scheme::Ws | Scheme::Wss) {
            return Err(Error::InvalidUrl {
                url: url_text,
                reason: "a WebSocket URL is ws:// or wss://",
            });
        }
        let mut tls = flare_tls::ClientConfig::builder().alpn(&[b"http/1.1"]);
        if !self.roots.is_empty() {
            tls = tls.webpki_roots(true);
            for r in &self.roots {
                tls = tls.ca_pem(r);
            }
        }
        let tls = tls.build().map_err(|source| Error::Tls {
            url: url_text.clone(),
            source,
        })?;
        let connector = Connector {
            resolver: Default::default(),
            custom_resolver: None,
            tls,
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            nodelay: true,
        };
        let mut t = connector.connect(&url, None, None)?;
        // The opening handshake is bounded; after it, the caller's read timeout.
        t.set_deadlines(Deadlines {
            idle: Some(std::time::Duration::from_secs(10)),
            idle_kind: Some(TimeoutKind::Read),
            ..Default::default()
        });

        let mut rng = flare_dns::Rng::from_os().map_err(|e| Error::io(&url_text, e))?;
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        nonce[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
        let protocols: Vec<&str> = self.protocols.iter().map(String::as_str).collect();
        let deflate = (!self.no_deflate).then(DeflateConfig::default);
        let hs = ClientHandshake::new(nonce, &protocols, deflate);
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
                    let negotiated = hs.verify_response(head.status, fields).map_err(|e| {
                        log::debug!("WebSocket handshake with {url_text} refused: {e}");
                        match e {
                            flare_ws::handshake::ResponseError::Status(s) => Error::Status {
                                url: url_text.clone(),
                                status: http::StatusCode::from_u16(s)
                                    .unwrap_or(http::StatusCode::BAD_GATEWAY),
                            },
                            _ => Error::protocol(
                                &url_text,
                                ProtocolError::Other("WebSocket handshake response rejected"),
                            ),
                        }
                    })?;
                    break (negotiated, used);
                }
                Ok(Status::Partial) => {}
                Err(e) => return Err(Error::protocol(&url_text, ProtocolError::Http1(e))),
            }
        };
        buf.drain(..used);
        t.set_deadlines(Deadlines {
            idle: self.read_timeout,
            idle_kind: self.read_timeout.map(|_| TimeoutKind::Read),
            ..Default::default()
        });
        let ws = WebSocket::new(
            Role::Client,
            self.config.unwrap_or_default(),
            negotiated.deflate,
        );
        Ok(WsClient {
            t,
            ws,
            input: buf,
            start: 0,
            out: Vec::new(),
            url: url_text,
            protocol: negotiated.protocol,
        })
    }
}

/// A connected WebSocket. Blocking [`send_text`](Self::send_text) /
/// [`recv`](Self::recv); pings are answered inside `recv`.
pub struct WsClient {
    t: Transport,
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

    fn closed(&self) -> Error {
        Error::protocol(&self.url, ProtocolError::Other("WebSocket closed"))
    }

    fn flush(&mut self) -> Result<()> {
        self.out.clear();
        self.ws.poll_output(&mut self.out);
        if !self.out.is_empty() {
            self.t
                .write_all(&self.out)
                .map_err(|e| map_io(&self.url, e))?;
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
        self.t
            .write_all(&self.out)
            .map_err(|e| map_io(&self.url, e))
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let r = self.ws.send_binary(data, &mut out);
        self.out = out;
        r.map_err(|_| self.closed())?;
        self.t
            .write_all(&self.out)
            .map_err(|e| map_io(&self.url, e))
    }

    /// Sends a ping.
    pub fn ping(&mut self, data: &[u8]) -> Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let r = self.ws.send_ping(data, &mut out);
        self.out = out;
        r.map_err(|_| self.closed())?;
        self.t
            .write_all(&self.out)
            .map_err(|e| map_io(&self.url, e))
    }

    /// Starts the closing handshake; keep calling [`recv`](Self::recv) until it
    /// returns the server's [`WsMessage::Close`].
    pub fn close(&mut self, code: u16, reason: &str) -> Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let r = self.ws.close(code, reason, Instant::now(), &mut out);
        self.out = out;
        r.map_err(|_| self.closed())?;
        self.t
            .write_all(&self.out)
            .map_err(|e| map_io(&self.url, e))
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
            let r = self.t.read(&mut self.input[old..]);
            self.input.truncate(old + *r.as_ref().unwrap_or(&0));
            if r.map_err(|e| map_io(&self.url, e))? == 0 {
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
