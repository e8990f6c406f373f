//! Request trailers that must not be trailers are not a reason to refuse
//! (RFC 9110 section 6.5): over HTTP/1.1 (raw socket, chunked) and HTTP/2 (the `h2`
//! crate), a request whose trailers carry `Content-Type` and `Vary` is answered, those
//! two reach the handler as trailers (not headers), and `Authorization`,
//! `Content-Length`, `Host` and `Cache-Control` are dropped.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{read_response, TestServer};
use flare::prelude::*;
use flare::ServerConfig;

/// Echoes what the handler sees: the request's own `content-type`, `vary` and
/// `authorization` headers, then every trailer.
fn show(req: &Request) -> Response {
    let header = |n: &str| {
        req.header_bytes(n)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_else(|| "-".into())
    };
    let trailers: Vec<String> = req
        .trailers()
        .map(|(n, v)| format!("{n}={}", String::from_utf8_lossy(v)))
        .collect();
    Response::text(format!(
        "headers content-type={} vary={} authorization={}; trailers {}; body {}",
        header("content-type"),
        header("vary"),
        header("authorization"),
        trailers.join(","),
        req.body().len()
    ))
}

const WANT: &str = "headers content-type=application/json vary=- authorization=-; \
                    trailers content-type=text/plain,vary=accept,x-sum=3; body 3";

#[test]
fn h1_chunked_trailers_kept_apart_or_dropped() {
    let server = TestServer::start_with(show, 1, ServerConfig::default());
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = b"POST /t HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\
                Content-Type: text/plain\r\nAuthorization: Basic eA==\r\n\
                Content-Length: 999\r\nHost: evil\r\nCache-Control: no-store\r\n\
                Vary: accept\r\nX-Sum: 3\r\n\r\n";
    // Twice on one connection: the first is answered and the connection kept.
    s.write_all(req).unwrap();
    let (status, body) = read_response(&mut s);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(String::from_utf8_lossy(&body), WANT);
    s.write_all(req).unwrap();
    let (status, body) = read_response(&mut s);
    assert_eq!(
        (status, String::from_utf8_lossy(&body).as_ref()),
        (200, WANT)
    );
}

#[test]
fn h2_trailers_kept_apart_or_dropped() {
    let server = TestServer::start_with(show, 1, ServerConfig::default());
    let addr = server.addr;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let _ = tx.send(rt.block_on(h2_request(addr)));
    });
    let (status, body) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the h2 client did not finish");
    assert_eq!((status, body.as_str()), (200, WANT));
}

async fn h2_request(addr: SocketAddr) -> (u16, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.unwrap();
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/t"))
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (resp, mut send) = client.send_request(req, false).unwrap();
    send.send_data(Bytes::from_static(b"abc"), false).unwrap();
    let mut trailers = http::HeaderMap::new();
    for (n, v) in [
        ("content-type", "text/plain"),
        ("authorization", "Basic eA=="),
        ("content-length", "999"),
        ("host", "evil"),
        ("cache-control", "no-store"),
        ("vary", "accept"),
        ("x-sum", "3"),
    ] {
        trailers.insert(n, v.parse().unwrap());
    }
    send.send_trailers(trailers).unwrap();
    let resp = resp.await.unwrap();
    let status = resp.status().as_u16();
    let mut recv = resp.into_body();
    let mut body = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.unwrap();
        let _ = recv.flow_control().release_capacity(chunk.len());
        body.extend_from_slice(&chunk);
    }
    (status, String::from_utf8(body).unwrap())
}
