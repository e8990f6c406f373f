//! The client role against hand-made server frames: response validation,
//! push refusal, stream id rules.

mod common;

use std::time::Instant;

use common::*;
use flare_h2::frame::{Frame, SettingId};
use flare_h2::{Config, Connection, ErrorCode, Event, Request, StreamId, PREFACE};
use flare_hpack::{Encoder, Field};

struct RawServer {
    client: Connection,
    encoder: Encoder,
    now: Instant,
}

impl RawServer {
    /// A client with one GET (stream 1) and one HEAD (stream 3) open, that
    /// got the server's SETTINGS.
    fn new() -> RawServer {
        let now = Instant::now();
        let mut client = Connection::client(Config::new(), now);
        client
            .send_request(&Request::new(b"GET", b"http", b"x", b"/"), &[], true)
            .unwrap();
        client
            .send_request(&Request::new(b"HEAD", b"http", b"x", b"/"), &[], true)
            .unwrap();
        let mut s = RawServer {
            client,
            encoder: Encoder::new(),
            now,
        };
        s.feed(&settings(&[])).unwrap();
        s.output();
        s
    }

    fn feed(&mut self, b: &[u8]) -> Result<(), flare_h2::ConnectionError> {
        self.client.recv(b, self.now)
    }

    fn output(&mut self) -> Vec<Out> {
        let mut out = Vec::new();
        self.client.poll_output(&mut out);
        let skip = if out.starts_with(PREFACE) {
            PREFACE.len()
        } else {
            0
        };
        parse(&out[skip..], &mut flare_hpack::Decoder::new())
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }

    fn headers(&mut self, id: u32, fields: &[(&[u8], &[u8])], end_stream: bool) -> Vec<u8> {
        let mut block = Vec::new();
        self.encoder
            .encode(fields.iter().map(|(n, v)| Field::new(n, v)), &mut block);
        let mut b = Vec::new();
        flare_h2::frame::Headers {
            stream_id: StreamId::new(id),
            fragment: &block,
            end_stream,
            end_headers: true,
            priority: None,
            pad_len: None,
        }
        .encode(&mut b);
        b
    }

    fn expect_goaway(&mut self, b: &[u8], code: ErrorCode) {
        assert_eq!(self.feed(b).map_err(|e| e.code()), Err(code));
        let out = self.output();
        assert!(
            out.iter()
                .any(|o| matches!(o, Out::GoAway { code: c, .. } if *c == code)),
            "{out:?}"
        );
    }

    fn expect_rst(&mut self, b: &[u8], id: u32, code: ErrorCode) {
        assert!(self.feed(b).is_ok());
        let out = self.output();
        assert!(out.contains(&Out::Rst { id, code }), "{out:?}");
        assert!(self.events().contains(&Event::StreamReset {
            id: StreamId::new(id),
            code,
            by_peer: false
        }));
    }
}

const OK: (&[u8], &[u8]) = (b":status", b"200");

#[test]
fn client_sends_preface_settings_and_requests() {
    let mut client = Connection::client(Config::new(), Instant::now());
    let mut out = Vec::new();
    client.poll_output(&mut out);
    assert!(out.starts_with(PREFACE));
    let frames = parse(&out[PREFACE.len()..], &mut flare_hpack::Decoder::new());
    let Some(Out::Settings { ack: false, params }) = frames.first() else {
        panic!("{frames:?}")
    };
    assert!(params.contains(&(SettingId::EnablePush, 0)));
    assert!(Frame::decode(&out[PREFACE.len()..], 16_384)
        .unwrap()
        .is_some());
}

#[test]
fn first_server_frame_must_be_settings() {
    let mut client = Connection::client(Config::new(), Instant::now());
    assert_eq!(
        client
            .recv(&ping(false, [0; 8]), Instant::now())
            .map_err(|e| e.code()),
        Err(ErrorCode::ProtocolError)
    );
}

#[test]
fn server_push_is_refused() {
    let mut s = RawServer::new();
    let b = s.headers(2, &[OK], true);
    s.expect_goaway(&b, ErrorCode::ProtocolError);
    let mut s = RawServer::new();
    s.expect_goaway(
        &raw_frame(5, 0x4, 1, &[0, 0, 0, 2, 0x88]),
        ErrorCode::ProtocolError,
    );
    let mut s = RawServer::new();
    s.expect_goaway(
        &settings(&[(SettingId::EnablePush, 1)]),
        ErrorCode::ProtocolError,
    );
}

#[test]
fn headers_on_a_stream_we_did_not_open() {
    let mut s = RawServer::new();
    let b = s.headers(5, &[OK], true);
    s.expect_goaway(&b, ErrorCode::ProtocolError);
}

#[test]
fn malformed_responses_are_reset() {
    let cases: Vec<Vec<(&[u8], &[u8])>> = vec![
        vec![],                                       // no :status
        vec![(b":status", b"20")],                    // not three digits
        vec![OK, (b":path", b"/")],                   // request pseudo-header
        vec![OK, OK],                                 // duplicate
        vec![OK, (b"Content-Type", b"x")],            // uppercase
        vec![OK, (b"transfer-encoding", b"chunked")], // connection-specific
    ];
    for fields in cases {
        let mut s = RawServer::new();
        let b = s.headers(1, &fields, true);
        s.expect_rst(&b, 1, ErrorCode::ProtocolError);
    }
}

#[test]
fn response_body_rules() {
    // DATA before the response head.
    let mut s = RawServer::new();
    s.expect_rst(&data(1, b"x", true), 1, ErrorCode::ProtocolError);
    // content-length longer than the body.
    let mut s = RawServer::new();
    let mut b = s.headers(1, &[OK, (b"content-length", b"10")], false);
    b.extend(data(1, b"short", true));
    s.expect_rst(&b, 1, ErrorCode::ProtocolError);
    // An informational head with END_STREAM.
    let mut s = RawServer::new();
    let b = s.headers(1, &[(b":status", b"100")], true);
    s.expect_rst(&b, 1, ErrorCode::ProtocolError);
}

#[test]
fn head_responses_carry_content_length_without_a_body() {
    let mut s = RawServer::new();
    let b = s.headers(3, &[OK, (b"content-length", b"1234")], true);
    assert!(s.feed(&b).is_ok());
    let events = s.events();
    let [Event::Headers {
        head,
        end_stream: true,
        ..
    }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(head.status, Some(200));
    assert!(s.output().is_empty());
    assert_eq!(s.client.open_streams(), 1);
}

#[test]
fn response_with_informational_heads_and_trailers() {
    let mut s = RawServer::new();
    let mut b = s.headers(1, &[(b":status", b"103"), (b"link", b"</a>")], false);
    b.extend(s.headers(1, &[OK, (b"content-length", b"2")], false));
    b.extend(data(1, b"ok", false));
    b.extend(s.headers(1, &[(b"x-trailer", b"1")], true));
    assert!(s.feed(&b).is_ok());
    let events = s.events();
    assert!(
        matches!(
            &events[..],
            [
                Event::Headers { .. },
                Event::Headers { .. },
                Event::Data { .. },
                Event::Trailers { .. }
            ]
        ),
        "{events:?}"
    );
    assert_eq!(s.client.open_streams(), 1);
}
