//! The client side of the RFC 6455 opening handshake, written out so the
//! permessage-deflate offer (RFC 7692) can be made and its answer checked:
//! tungstenite 0.30 has no deflate and fastwebsockets' client has no
//! extensions.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// RFC 6455 section 1.3.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// What the load generator offers when deflate is on: a fresh compression
/// context per message both ways, so every server does the same work.
pub const DEFLATE_OFFER: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// The agreed permessage-deflate parameters (RFC 7692 section 7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deflate {
    /// The server starts each message with an empty window.
    pub server_no_context_takeover: bool,
    /// We must start each message with an empty window.
    pub client_no_context_takeover: bool,
}

/// An upgraded connection.
pub struct Upgraded {
    /// The socket, positioned at the first frame.
    pub stream: TcpStream,
    /// The server's `Sec-WebSocket-Extensions`, as sent.
    pub extensions: Option<String>,
    /// The agreed deflate parameters when deflate was offered.
    pub deflate: Option<Deflate>,
}

fn key() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&t.to_le_bytes());
    k[8..].copy_from_slice(&N.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    STANDARD.encode(k)
}

fn accept_for(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    STANDARD.encode(h.finalize())
}

/// Connects and upgrades `path`; with `deflate`, offers [`DEFLATE_OFFER`]
/// and fails unless the server accepted it.
pub async fn connect(addr: SocketAddr, path: &str, deflate: bool) -> Result<Upgraded, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let key = key();
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if deflate {
        req.push_str(&format!("Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n"));
    }
    req.push_str("\r\n");
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("handshake write: {e}"))?;
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if head.len() > 16 * 1024 {
            return Err("handshake response over 16 KiB".into());
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("handshake read: {e}"))?;
        if n == 0 {
            return Err(format!(
                "closed during the handshake after {:?}",
                String::from_utf8_lossy(&head)
            ));
        }
        head.extend_from_slice(&chunk[..n]);
    };
    if head.len() != end {
        // The server speaks only after our first frame; anything here is wrong.
        return Err(format!("{} bytes after the 101 response", head.len() - end));
    }
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let (status, fields) = parse_head(&text)?;
    if status != 101 {
        return Err(format!("answered {status}, want 101: {text:?}"));
    }
    let field = |name: &str| -> Option<String> {
        let values: Vec<&str> = fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    };
    if !field("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err(format!("no `Upgrade: websocket` in {text:?}"));
    }
    if field("sec-websocket-accept").as_deref() != Some(accept_for(&key).as_str()) {
        return Err(format!("wrong Sec-WebSocket-Accept in {text:?}"));
    }
    let extensions = field("sec-websocket-extensions");
    let agreed = match (&extensions, deflate) {
        (None, false) => None,
        (Some(e), false) => return Err(format!("extensions `{e}` accepted, none offered")),
        (None, true) => return Err(format!(
            "permessage-deflate offered but not accepted (no Sec-WebSocket-Extensions in {text:?})"
        )),
        (Some(e), true) => Some(parse_deflate(e)?),
    };
    Ok(Upgraded {
        stream,
        extensions,
        deflate: agreed,
    })
}

fn parse_head(text: &str) -> Result<(u16, Vec<(String, String)>), String> {
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1.1 "))
        .and_then(|l| l.get(..3))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line in {text:?}"))?;
    let fields = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok((status, fields))
}

/// Reads the server's answer to [`DEFLATE_OFFER`] (RFC 7692 section 7.1):
/// exactly one permessage-deflate with parameters we can honour.
fn parse_deflate(value: &str) -> Result<Deflate, String> {
    let offers: Vec<&str> = value.split(',').map(str::trim).collect();
    let [one] = offers.as_slice() else {
        return Err(format!("more than one extension accepted: `{value}`"));
    };
    let mut params = one.split(';').map(str::trim);
    if params.next() != Some("permessage-deflate") {
        return Err(format!("accepted `{value}`, not permessage-deflate"));
    }
    let mut d = Deflate {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
    };
    for p in params {
        let (name, v) = p
            .split_once('=')
            .map_or((p, None), |(n, v)| (n.trim(), Some(v.trim())));
        match (name, v) {
            ("server_no_context_takeover", None) => d.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => d.client_no_context_takeover = true,
            // Any server window works for our inflater (it uses 15 bits).
            ("server_max_window_bits", Some(_)) => {}
            _ => return Err(format!("unexpected deflate parameter `{p}` in `{value}`")),
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_matches_rfc_6455_example() {
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn deflate_answers() {
        let d = parse_deflate(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        )
        .expect("ok");
        assert!(d.server_no_context_takeover && d.client_no_context_takeover);
        assert!(parse_deflate("permessage-deflate; server_max_window_bits=12").is_ok());
        assert!(parse_deflate("permessage-deflate; client_max_window_bits=9").is_err());
        assert!(parse_deflate("x-webkit-deflate-frame").is_err());
    }
}
