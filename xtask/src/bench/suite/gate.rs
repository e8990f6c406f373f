//! The integrity gate: before anything is measured, each target is asked
//! once for every route and its answer held to the TechEmpower rules. A
//! target that fails is reported and left out, never measured.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The plaintext body.
pub const PLAINTEXT: &str = "Hello, World!";
/// The JSON body, as a compact serializer writes it.
pub const JSON: &str = r#"{"message":"Hello, World!"}"#;

/// What the gate found for one target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Rule violations; empty means the target may be measured.
    pub problems: Vec<String>,
    /// Whether it closes the connection after answering a request that
    /// said `Connection: close` (RFC 9112 section 9.6); the churn config
    /// is meaningless against a server that does not.
    pub honors_close: bool,
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names lower-cased, values trimmed, in order.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Asks `addr` for `/plaintext` and `/json` on one keep-alive connection,
/// then once more with `Connection: close`.
pub fn check(addr: SocketAddr) -> Verdict {
    let mut v = Verdict::default();
    let routes = [
        ("/plaintext", PLAINTEXT, "text/plain"),
        ("/json", JSON, "application/json"),
    ];
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Err(e) => v.problems.push(format!("connect: {e}")),
        Ok(mut s) => {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            for (path, body, ctype) in routes {
                let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
                match exchange(&mut s, &request) {
                    Ok(r) => v.problems.extend(
                        rules(&r, body, ctype)
                            .into_iter()
                            .map(|p| format!("GET {path}: {p}")),
                    ),
                    Err(e) => v.problems.push(format!("GET {path}: {e}")),
                }
            }
        }
    }
    v.honors_close = closes_after_close(addr);
    v
}

/// The TechEmpower plaintext/JSON rules that a single response can show.
pub fn rules(r: &Response, body: &str, ctype: &str) -> Vec<String> {
    let mut out = Vec::new();
    if r.status != 200 {
        out.push(format!("status {}, want 200", r.status));
    }
    if r.body != body.as_bytes() {
        out.push(format!(
            "body {:?}, want {body:?}",
            String::from_utf8_lossy(&r.body)
        ));
    }
    match r.header("content-type") {
        Some(v) if v.to_ascii_lowercase().starts_with(ctype) => {}
        Some(v) => out.push(format!("Content-Type `{v}`, want {ctype}")),
        None => out.push("no Content-Type".into()),
    }
    match r.header("content-length").map(|v| v.parse::<usize>()) {
        Some(Ok(n)) if n == body.len() => {}
        _ if r.header("transfer-encoding").is_some() => {}
        other => out.push(format!("Content-Length {other:?}, want {}", body.len())),
    }
    if matches!(r.header("server"), None | Some("")) {
        out.push("no Server header".into());
    }
    match r.header("date") {
        Some(d) if d.ends_with(" GMT") && d.len() == 29 => {}
        Some(d) => out.push(format!("Date `{d}` is not an IMF-fixdate")),
        None => out.push("no Date header".into()),
    }
    out
}

/// Writes `request` and reads one response.
fn exchange(s: &mut TcpStream, request: &str) -> Result<Response, String> {
    s.write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(r) = parse(&buf)? {
            return Ok(r);
        }
        if buf.len() > 64 * 1024 {
            return Err("response over 64 KiB".into());
        }
        let n = s.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err(format!(
                "closed after {} bytes: {:?}",
                buf.len(),
                String::from_utf8_lossy(&buf)
            ));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// A complete `Content-Length` response at the start of `buf`, `None`
/// while more is needed. Chunked bodies are not expected here.
pub fn parse(buf: &[u8]) -> Result<Option<Response>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(buf.get(..end).unwrap_or_default()).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts
        .next()
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|_| version == "HTTP/1.1" || version == "HTTP/1.0")
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse::<usize>())
        .transpose()
        .map_err(|_| "bad Content-Length".to_string())?
        .unwrap_or(0);
    let start = end + 4;
    match buf.get(start..start + length) {
        Some(body) => Ok(Some(Response {
            status,
            headers,
            body: body.to_vec(),
        })),
        None => Ok(None),
    }
}

/// Sends a `Connection: close` request and waits up to 2 s for the server
/// to close after its answer.
fn closes_after_close(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let request = format!("GET /plaintext HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        match s.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    const GOOD: &str = "HTTP/1.1 200 OK\r\nServer: x\r\nDate: Thu, 26 Nov 2026 02:00:00 GMT\r\n\
                        Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

    #[test]
    fn a_conforming_answer_passes() {
        let r = parse(GOOD.as_bytes()).expect("parses").expect("complete");
        assert_eq!(r.status, 200);
        assert_eq!(rules(&r, PLAINTEXT, "text/plain"), Vec::<String>::new());
    }

    #[test]
    fn each_rule_catches_its_violation() {
        let cases = [
            (GOOD.replace("200 OK", "404 Not Found"), "status 404"),
            (GOOD.replace("Hello, World!", "Hello, world!"), "body"),
            (GOOD.replace("Server: x\r\n", ""), "no Server"),
            (
                GOOD.replace("Date: Thu, 26 Nov 2026 02:00:00 GMT\r\n", ""),
                "no Date",
            ),
            (GOOD.replace(" GMT", " UTC"), "IMF-fixdate"),
            (GOOD.replace("text/plain", "text/html"), "Content-Type"),
        ];
        for (text, want) in cases {
            let r = parse(text.as_bytes()).expect("parses").expect("complete");
            let problems = rules(&r, PLAINTEXT, "text/plain");
            assert!(
                problems.iter().any(|p| p.contains(want)),
                "{want}: {problems:?}"
            );
        }
    }

    #[test]
    fn partial_and_broken_responses() {
        assert_eq!(parse(&GOOD.as_bytes()[..GOOD.len() - 3]), Ok(None));
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\n"), Ok(None));
        assert!(parse(b"HTTP/9 200 OK\r\n\r\n").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
    }

    /// A one-connection-at-a-time loopback server answering `answer` to
    /// every request, closing after each when `close` is set.
    fn serve(answer: &'static str, close: bool, connections: usize) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        thread::spawn(move || {
            for _ in 0..connections {
                let Ok((mut s, _)) = l.accept() else { return };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while let Ok(n) = s.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let _ = s.write_all(answer.as_bytes());
                    }
                    if close {
                        break;
                    }
                }
            }
        });
        addr
    }

    #[test]
    fn the_gate_fails_a_server_with_the_wrong_json_and_no_close() {
        // The plaintext answer to every route: /json must fail.
        let v = check(serve(GOOD, false, 2));
        assert!(
            v.problems.iter().any(|p| p.starts_with("GET /json")),
            "{v:?}"
        );
        assert!(
            !v.problems.iter().any(|p| p.starts_with("GET /plaintext")),
            "{v:?}"
        );
        assert!(!v.honors_close);
    }

    #[test]
    fn the_close_probe_sees_a_closing_server() {
        let addr = serve(GOOD, true, 1);
        assert!(closes_after_close(addr));
    }
}
