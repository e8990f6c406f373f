//! The WebSocket client against Python `websockets` (a server this project did
//! not write) with permessage-deflate and a subprotocol.

mod common;

use std::process::Command;

use common::*;
use flare::client::{WsClient, WsMessage};

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn websockets_echo_with_deflate_and_a_subprotocol() {
    let py = python();
    let (child, addr) = spawn_listening(Command::new(py).arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/py/client_ws_server.py"
    )));
    let _k = Kill(child);
    let mut ws = WsClient::builder()
        .protocols(&["chat", "other"])
        .connect(&format!("ws://{addr}/echo"))
        .unwrap();
    assert_eq!(ws.protocol(), Some("chat"));
    assert!(ws.deflate(), "permessage-deflate not negotiated");
    for i in 0..100 {
        let text = format!("message {i} {}", "x".repeat(i * 10));
        ws.send_text(&text).unwrap();
        assert_eq!(ws.recv().unwrap(), WsMessage::Text(text));
    }
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 7) as u8).collect();
    ws.send_binary(&big).unwrap();
    assert_eq!(ws.recv().unwrap(), WsMessage::Binary(big));
    ws.ping(b"p").unwrap();
    assert_eq!(ws.recv().unwrap(), WsMessage::Pong(b"p".to_vec()));
    ws.close(1000, "bye").unwrap();
    match ws.recv().unwrap() {
        WsMessage::Close(Some(1000), _) => {}
        other => panic!("{other:?}"),
    }
    // Without deflate too (this server insists on a subprotocol).
    let mut plain = WsClient::builder()
        .protocols(&["chat"])
        .no_deflate()
        .connect(&format!("ws://{addr}/"))
        .unwrap();
    assert!(!plain.deflate());
    plain.send_text("hi").unwrap();
    assert_eq!(plain.recv().unwrap(), WsMessage::Text("hi".into()));
}

#[test]
fn recv_gives_up_at_the_read_timeout_and_a_silent_handshake_is_bounded() {
    use flare::prelude::*;
    use std::time::{Duration, Instant};
    // A route that accepts and never sends.
    let srv = TestServer::start(Router::new().ws("/silent", |_req: &Request| {
        |_ws: &WsSender, _msg: Message<'_>| {}
    }));
    let mut ws = WsClient::builder()
        .read_timeout(Some(Duration::from_millis(300)))
        .connect(&format!("ws://{}/silent", srv.addr))
        .unwrap();
    let t = Instant::now();
    let err = ws.recv().unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
    // A server that accepts TCP and never answers the handshake: bounded (10 s).
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = Instant::now();
    let err = WsClient::connect(&format!("ws://{addr}/")).unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    drop(l);
    srv.stop();
}
