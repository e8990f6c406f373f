//! The close handshake as a state machine on a virtual clock.

mod common;

use std::time::{Duration, Instant};

use common::*;
use flare_ws::frame::OpCode::*;
use flare_ws::{Config, Role, SendError, State, WebSocket};

fn pair() -> (WebSocket, WebSocket) {
    (
        WebSocket::new(Role::Client, Config::default(), None),
        WebSocket::new(Role::Server, Config::default(), None),
    )
}

#[test]
fn server_closes_first() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair();
    let mut wire = Vec::new();
    server.close(1001, "going away", t0, &mut wire).unwrap();
    assert_eq!(server.state(), State::CloseSent);
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    assert_eq!(
        server.send_text("late", &mut Vec::new()),
        Err(SendError::Closed)
    );
    assert_eq!(
        server.close(1000, "", t0, &mut Vec::new()),
        Err(SendError::Closed)
    );

    // The client sees the close, its answer is queued and echoes the code.
    let (events, err) = read_all(&mut client, &wire, t0);
    assert_eq!(
        (events, err),
        (vec![Ev::Close(Some(1001), "going away".into())], None)
    );
    assert_eq!(client.state(), State::CloseReceived);
    assert!(client.wants_output());
    let mut answer = Vec::new();
    client.poll_output(&mut answer);
    assert_eq!(client.state(), State::Closed);
    assert!(client.is_closed());
    // A client waits for the server to close TCP (RFC 6455 section 7.1.1)...
    assert!(!client.should_close_transport());
    assert_eq!(client.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    client.handle_timeout(t0 + Duration::from_secs(5));
    // ...but not for ever.
    assert!(client.should_close_transport());

    // Data the client sent before its close is dropped by the server.
    let mut late = cframe(true, Text, b"dropped");
    late.extend(answer);
    let (events, err) = read_all(&mut server, &late, t0);
    assert_eq!(
        (events, err),
        (vec![Ev::Close(Some(1001), String::new())], None)
    );
    assert_eq!(server.state(), State::Closed);
    assert!(server.is_closed() && server.should_close_transport());
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn client_closes_first() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair();
    let mut wire = Vec::new();
    client.close(1000, "bye", t0, &mut wire).unwrap();
    let (events, _) = read_all(&mut server, &wire, t0);
    assert_eq!(events, [Ev::Close(Some(1000), "bye".into())]);
    assert_eq!(server.state(), State::CloseReceived);
    assert!(!server.is_closed(), "the answer is still owed");
    let mut answer = Vec::new();
    server.poll_output(&mut answer);
    assert!(server.is_closed() && server.should_close_transport());
    // Input after the peer's close is consumed and ignored.
    let mut more = cframe(true, Text, b"x");
    let len = more.len();
    assert_eq!(server.read(&mut more, t0).unwrap(), (len, None));

    let (events, _) = read_all(&mut client, &answer, t0 + Duration::from_millis(10));
    assert_eq!(events, [Ev::Close(Some(1000), String::new())]);
    assert_eq!(client.state(), State::Closed);
    assert!(client.is_closed() && !client.should_close_transport());
    client.handle_timeout(t0 + Duration::from_millis(5009));
    assert!(!client.should_close_transport());
    client.handle_timeout(t0 + Duration::from_millis(5010));
    assert!(client.should_close_transport());
}

#[test]
fn close_answer_can_be_replaced_by_the_application() {
    let t0 = Instant::now();
    let (_, mut server) = pair();
    read_all(&mut server, &cframe(true, Close, &close_body(1000, "")), t0);
    let mut out = Vec::new();
    server.close(4000, "app says", t0, &mut out).unwrap();
    assert_eq!(server.state(), State::Closed);
    let mut more = Vec::new();
    server.poll_output(&mut more);
    assert!(more.is_empty(), "no second close");
    let mut client = WebSocket::new(Role::Client, Config::default(), None);
    assert_eq!(
        read_all(&mut client, &out, t0).0,
        [Ev::Close(Some(4000), "app says".into())]
    );
}

#[test]
fn empty_close_is_echoed_empty() {
    let t0 = Instant::now();
    let (_, mut server) = pair();
    read_all(&mut server, &cframe(true, Close, b""), t0);
    let mut out = Vec::new();
    server.poll_output(&mut out);
    assert_eq!(out, [0x88, 0x00]);
}

#[test]
fn close_timeout_gives_up_on_a_silent_peer() {
    let t0 = Instant::now();
    let mut server = WebSocket::new(
        Role::Server,
        Config::default().close_timeout(Duration::from_secs(2)),
        None,
    );
    server.close(1000, "", t0, &mut Vec::new()).unwrap();
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    server.handle_timeout(t0 + Duration::from_millis(1999));
    assert_eq!(server.state(), State::CloseSent);
    server.handle_timeout(t0 + Duration::from_secs(2));
    assert_eq!(server.state(), State::Closed);
    assert!(server.is_closed() && server.should_close_transport());
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn close_argument_checks() {
    let t0 = Instant::now();
    let (_, mut server) = pair();
    for code in [999, 1004, 1006, 1015, 2000, 5000] {
        assert_eq!(
            server.close(code, "", t0, &mut Vec::new()),
            Err(SendError::InvalidCloseCode(code))
        );
    }
    let long = "x".repeat(124);
    assert_eq!(
        server.close(1000, &long, t0, &mut Vec::new()),
        Err(SendError::ControlTooLong)
    );
    assert_eq!(
        server.send_ping(&[0; 126], &mut Vec::new()),
        Err(SendError::ControlTooLong)
    );
    let mut out = Vec::new();
    server.close(1000, &long[..123], t0, &mut out).unwrap();
    assert_eq!(out.len(), 2 + 125);
    // 1005 means an empty close body.
    let (_, mut server) = pair();
    let mut out = Vec::new();
    server.close(1005, "", t0, &mut out).unwrap();
    assert_eq!(out, [0x88, 0x00]);
}

#[test]
fn pings_after_our_close_get_no_pong() {
    let t0 = Instant::now();
    let (_, mut server) = pair();
    server.close(1000, "", t0, &mut Vec::new()).unwrap();
    let (events, _) = read_all(&mut server, &cframe(true, Ping, b"p"), t0);
    assert_eq!(events, [Ev::Ping(b"p".to_vec())]);
    let mut out = Vec::new();
    server.poll_output(&mut out);
    assert!(out.is_empty());
}

#[test]
fn fragmented_message_dropped_after_our_close() {
    let t0 = Instant::now();
    let (_, mut server) = pair();
    server.close(1000, "", t0, &mut Vec::new()).unwrap();
    let mut wire = cframe(false, Text, b"a");
    wire.extend(cframe(true, Ping, b""));
    wire.extend(cframe(true, Continuation, b"b"));
    wire.extend(cframe(true, Close, &close_body(1000, "")));
    let (events, err) = read_pieces(&mut server, &wire, 1, t0);
    assert_eq!(err, None);
    assert_eq!(
        events,
        [Ev::Ping(vec![]), Ev::Close(Some(1000), String::new())]
    );
}

#[test]
fn client_frames_are_masked_with_the_mask_source() {
    let mut client = WebSocket::new(Role::Client, Config::default(), None);
    client.set_mask_source(Box::new(|| [0x37, 0xfa, 0x21, 0x3d]));
    let mut out = Vec::new();
    client.send_text("Hello", &mut out).unwrap();
    // RFC 6455 section 5.7's masked example.
    assert_eq!(
        out,
        [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
    );
    let mut server = WebSocket::new(Role::Server, Config::default(), None);
    let mut out = Vec::new();
    server.send_text("Hello", &mut out).unwrap();
    assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
}

#[test]
fn default_mask_keys_vary() {
    let mut client = WebSocket::new(Role::Client, Config::default(), None);
    let mut keys = std::collections::HashSet::new();
    for _ in 0..100 {
        let mut out = Vec::new();
        client.send_binary(b"", &mut out).unwrap();
        keys.insert([out[2], out[3], out[4], out[5]]);
    }
    assert!(keys.len() > 95);
}

#[test]
fn fragment_send_order() {
    let (_, mut server) = pair();
    let mut out = Vec::new();
    server.send_fragment(true, b"a", false, &mut out).unwrap();
    assert_eq!(
        server.send_text("x", &mut out),
        Err(SendError::FragmentOrder)
    );
    assert_eq!(
        server.send_fragment(false, b"b", true, &mut out),
        Err(SendError::FragmentOrder)
    );
    server.send_ping(b"", &mut out).unwrap();
    server.send_fragment(true, b"b", true, &mut out).unwrap();
    let mut client = WebSocket::new(Role::Client, Config::default(), None);
    let (events, err) = read_all(&mut client, &out, Instant::now());
    assert_eq!(err, None);
    assert_eq!(events, [Ev::Ping(vec![]), Ev::Text("ab".into())]);
}
