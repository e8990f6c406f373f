//! RFC 9113 rules, table-driven: crafted client frames into a server, and
//! the GOAWAY or RST_STREAM code it must answer with.

mod common;

use std::time::Duration;

use common::*;
use flare_h2::frame::{Headers, PrioritySpec, SettingId, Settings};
use flare_h2::{Config, ErrorCode, Event, StreamId, PREFACE};

/// Connection errors: `$setup` builds the bytes sent after the handshake.
macro_rules! goaway_cases {
    ($($name:ident: $code:ident, |$r:ident| $bytes:expr;)*) => {$(
        #[test]
        fn $name() {
            let mut $r = Raw::new(Config::new());
            let bytes: Vec<u8> = $bytes;
            $r.expect_goaway(&bytes, ErrorCode::$code);
        }
    )*};
}

/// Stream errors on `$id`; the connection stays up.
macro_rules! rst_cases {
    ($($name:ident: $id:expr, $code:ident, |$r:ident| $bytes:expr;)*) => {$(
        #[test]
        fn $name() {
            let mut $r = Raw::new(Config::new());
            let bytes: Vec<u8> = $bytes;
            $r.expect_rst(&bytes, $id, ErrorCode::$code);
        }
    )*};
}

/// Requests whose head is malformed: RST_STREAM(PROTOCOL_ERROR), no event.
macro_rules! malformed_requests {
    ($($name:ident: [$($f:expr),* $(,)?];)*) => {$(
        #[test]
        fn $name() {
            let mut r = Raw::new(Config::new());
            let fields: Vec<(&[u8], &[u8])> = vec![$($f),*];
            let b = r.headers(1, &fields, true);
            r.expect_rst(&b, 1, ErrorCode::ProtocolError);
            assert!(r.events().is_empty());
            // The connection still serves the next request.
            let b = r.get(3, true);
            r.send(&b);
            assert!(matches!(r.events().as_slice(), [Event::Headers { .. }]));
        }
    )*};
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

goaway_cases! {
    settings_ack_with_payload: FrameSizeError, |r| raw_frame(4, 1, 0, &[0; 6]);
    settings_length_not_multiple_of_6: FrameSizeError, |r| raw_frame(4, 0, 0, &[0; 5]);
    settings_on_a_stream: ProtocolError, |r| raw_frame(4, 0, 1, &[]);
    settings_initial_window_too_large: FlowControlError, |r| settings(&[(SettingId::InitialWindowSize, 1 << 31)]);
    settings_max_frame_size_too_small: ProtocolError, |r| settings(&[(SettingId::MaxFrameSize, 16_383)]);
    settings_max_frame_size_too_large: ProtocolError, |r| settings(&[(SettingId::MaxFrameSize, 1 << 24)]);
    settings_enable_push_2: ProtocolError, |r| settings(&[(SettingId::EnablePush, 2)]);
    settings_enable_connect_protocol_2: ProtocolError, |r| settings(&[(SettingId::EnableConnectProtocol, 2)]);
    frame_larger_than_our_max_frame_size: FrameSizeError, |r| cat(&[&r.get(1, false), &data(1, &[0; 16_385], false)]);
    headers_larger_than_our_max_frame_size: FrameSizeError, |r| raw_frame(1, 4, 1, &[0; 16_385]);
    ping_length_7: FrameSizeError, |r| raw_frame(6, 0, 0, &[0; 7]);
    ping_on_a_stream: ProtocolError, |r| raw_frame(6, 0, 1, &[0; 8]);
    goaway_on_a_stream: ProtocolError, |r| raw_frame(7, 0, 1, &[0; 8]);
    rst_stream_length_3: FrameSizeError, |r| cat(&[&r.get(1, false), &raw_frame(3, 0, 1, &[0; 3])]);
    rst_stream_on_stream_0: ProtocolError, |r| raw_frame(3, 0, 0, &[0; 4]);
    rst_stream_on_idle_stream: ProtocolError, |r| rst(1, ErrorCode::Cancel);
    window_update_length_3: FrameSizeError, |r| raw_frame(8, 0, 0, &[0; 3]);
    window_update_0_on_connection: ProtocolError, |r| window_update(0, 0);
    window_update_connection_overflow: FlowControlError, |r| window_update(0, 0x7fff_ffff);
    window_update_on_idle_stream: ProtocolError, |r| window_update(1, 1);
    data_on_idle_stream: ProtocolError, |r| data(1, b"x", false);
    data_on_stream_0: ProtocolError, |r| raw_frame(0, 0, 0, b"x");
    data_padding_not_shorter_than_payload: ProtocolError, |r| cat(&[&r.get(1, false), &raw_frame(0, 0x8, 1, &[5, 1, 2])]);
    data_padded_without_pad_length: FrameSizeError, |r| cat(&[&r.get(1, false), &raw_frame(0, 0x8, 1, &[])]);
    headers_padding_too_long: ProtocolError, |r| raw_frame(1, 0x8 | 0x4, 1, &[9, 0x82]);
    headers_on_even_stream: ProtocolError, |r| r.get(2, true);
    headers_on_stream_0: ProtocolError, |r| raw_frame(1, 0x4, 0, &[0x82]);
    headers_with_decreasing_id: ProtocolError, |r| cat(&[&r.get(5, true), &r.get(3, true)]);
    continuation_without_headers: ProtocolError, |r| continuation(1, &[0x82], true);
    ping_inside_a_header_block: ProtocolError, |r| cat(&[&raw_frame(1, 0, 1, &[0x82]), &ping(false, [0; 8])]);
    unknown_frame_inside_a_header_block: ProtocolError, |r| cat(&[&raw_frame(1, 0, 1, &[0x82]), &raw_frame(0x42, 0, 1, b"x")]);
    continuation_on_another_stream: ProtocolError, |r| cat(&[&raw_frame(1, 0, 1, &[0x82]), &continuation(3, &[0x84], true)]);
    headers_inside_a_header_block: ProtocolError, |r| cat(&[&raw_frame(1, 0, 1, &[0x82]), &r.get(3, true)]);
    push_promise_from_a_client: ProtocolError, |r| raw_frame(5, 0x4, 1, &[0, 0, 0, 2, 0x82]);
    hpack_garbage: CompressionError, |r| raw_frame(1, 0x5, 1, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    hpack_invalid_index: CompressionError, |r| raw_frame(1, 0x5, 1, &[0xff, 0x80, 0x01]);
    headers_on_a_stream_closed_normally: StreamClosed, |r| {
        let b = r.get(1, true);
        r.send(&b);
        r.server.send_headers(StreamId::new(1), 204, &[], true).unwrap();
        r.output();
        r.headers(1, &[(b"x-late", b"1")], true)
    };
    headers_after_peer_reset: StreamClosed, |r| {
        let b = cat(&[&r.get(1, false), &rst(1, ErrorCode::Cancel)]);
        r.send(&b);
        r.headers(1, &[(b"x-late", b"1")], true)
    };
    data_after_end_stream_on_a_closed_stream: StreamClosed, |r| {
        let b = r.get(1, true);
        r.send(&b);
        r.server.send_headers(StreamId::new(1), 204, &[], true).unwrap();
        r.output();
        data(1, b"late", true)
    };
    data_on_a_stream_closed_long_ago: StreamClosed, |r| {
        for i in 0..200u32 {
            let b = r.get(1 + 2 * i, true);
            r.send(&b);
            r.server.send_headers(StreamId::new(1 + 2 * i), 204, &[], true).unwrap();
        }
        r.output();
        data(1, b"x", true)
    };
}

#[test]
fn data_over_the_connection_window() {
    let config = Config::new()
        .initial_connection_window(65_535)
        .initial_stream_window(1 << 20);
    let mut r = Raw::new(config);
    let mut b = r.get(1, false);
    for _ in 0..4 {
        b.extend(data(1, &[0; 16_384], false));
    }
    r.expect_goaway(&b, ErrorCode::FlowControlError);
}

rst_cases! {
    data_after_the_peer_reset: 1, StreamClosed, |r| cat(&[&r.get(1, false), &rst(1, ErrorCode::Cancel), &data(1, b"x", false)]);
    data_on_half_closed_remote: 1, StreamClosed, |r| cat(&[&r.get(1, true), &data(1, b"x", false)]);
    headers_on_half_closed_remote: 1, StreamClosed, |r| cat(&[&r.get(1, true), &r.headers(1, &[(b"x", b"1")], true)]);
    priority_depending_on_itself: 3, ProtocolError, |r| priority(3, 3);
    priority_length_4: 3, FrameSizeError, |r| raw_frame(2, 0, 3, &[0; 4]);
    window_update_0_on_a_stream: 1, ProtocolError, |r| cat(&[&r.get(1, false), &window_update(1, 0)]);
    window_update_stream_overflow: 1, FlowControlError, |r| cat(&[&r.get(1, false), &window_update(1, 0x7fff_ffff)]);
    content_length_longer_than_data: 1, ProtocolError, |r| cat(&[
        &r.headers(1, &[GET[0], GET[1], GET[2], GET[3], (b"content-length", b"5")], false),
        &data(1, b"abc", true),
    ]);
    content_length_shorter_than_data: 1, ProtocolError, |r| cat(&[
        &r.headers(1, &[GET[0], GET[1], GET[2], GET[3], (b"content-length", b"2")], false),
        &data(1, b"abc", false),
    ]);
    content_length_with_end_stream_on_headers: 1, ProtocolError, |r|
        r.headers(1, &[GET[0], GET[1], GET[2], GET[3], (b"content-length", b"5")], true);
    trailers_without_end_stream: 1, ProtocolError, |r| cat(&[&r.get(1, false), &r.headers(1, &[(b"x-t", b"1")], false)]);
    trailers_with_a_pseudo_header: 1, ProtocolError, |r| cat(&[&r.get(1, false), &r.headers(1, &[(b":path", b"/")], true)]);
}

#[test]
fn headers_depending_on_themselves_are_reset_and_hpack_stays_in_sync() {
    let mut r = Raw::new(Config::new());
    let block = r.block(&[
        GET[0],
        GET[1],
        GET[2],
        (b":path", b"/indexed"),
        (b"x-custom", b"kept-in-table"),
    ]);
    let mut b = Vec::new();
    Headers {
        stream_id: StreamId::new(1),
        fragment: &block,
        end_stream: true,
        end_headers: true,
        priority: Some(PrioritySpec {
            exclusive: false,
            dependency: StreamId::new(1),
            weight: 0,
        }),
        pad_len: None,
    }
    .encode(&mut b);
    r.expect_rst(&b, 1, ErrorCode::ProtocolError);
    // The next block references the dynamic table entry the reset one added.
    let b = r.headers(
        3,
        &[
            GET[0],
            GET[1],
            GET[2],
            GET[3],
            (b"x-custom", b"kept-in-table"),
        ],
        true,
    );
    r.send(&b);
    let events = r.events();
    let Some(Event::Headers { head, .. }) = events.first() else {
        panic!("{events:?}")
    };
    assert_eq!(
        head.fields,
        vec![(b"x-custom".to_vec(), b"kept-in-table".to_vec())]
    );
}

#[test]
fn data_over_the_stream_window() {
    let mut r = Raw::new(Config::new().initial_stream_window(100));
    let b = cat(&[&r.get(1, false), &data(1, &[7; 101], false)]);
    r.expect_rst(&b, 1, ErrorCode::FlowControlError);
}

malformed_requests! {
    uppercase_field_name: [GET[0], GET[1], GET[2], GET[3], (b"X-Upper", b"1")];
    missing_path: [GET[0], GET[1], GET[2]];
    missing_method: [GET[1], GET[2], GET[3]];
    missing_scheme: [GET[0], GET[2], GET[3]];
    empty_path: [GET[0], GET[1], GET[2], (b":path", b"")];
    duplicate_path: [GET[0], GET[1], GET[2], GET[3], GET[3]];
    pseudo_header_after_regular: [GET[0], GET[1], GET[2], (b"x-a", b"1"), GET[3]];
    unknown_pseudo_header: [GET[0], GET[1], GET[2], GET[3], (b":foo", b"1")];
    status_in_a_request: [GET[0], GET[1], GET[2], GET[3], (b":status", b"200")];
    connection_field: [GET[0], GET[1], GET[2], GET[3], (b"connection", b"close")];
    keep_alive_field: [GET[0], GET[1], GET[2], GET[3], (b"keep-alive", b"5")];
    proxy_connection_field: [GET[0], GET[1], GET[2], GET[3], (b"proxy-connection", b"x")];
    transfer_encoding_field: [GET[0], GET[1], GET[2], GET[3], (b"transfer-encoding", b"chunked")];
    upgrade_field: [GET[0], GET[1], GET[2], GET[3], (b"upgrade", b"websocket")];
    te_other_than_trailers: [GET[0], GET[1], GET[2], GET[3], (b"te", b"gzip")];
    value_with_leading_space: [GET[0], GET[1], GET[2], GET[3], (b"x-a", b" v")];
    value_with_newline: [GET[0], GET[1], GET[2], GET[3], (b"x-a", b"a\nb")];
    invalid_content_length: [GET[0], GET[1], GET[2], GET[3], (b"content-length", b"1x")];
    conflicting_content_lengths: [GET[0], GET[1], GET[2], GET[3], (b"content-length", b"1"), (b"content-length", b"2")];
    connect_with_path: [(b":method", b"CONNECT"), (b":authority", b"x:443"), (b":path", b"/")];
    connect_without_authority: [(b":method", b"CONNECT")];
    protocol_when_not_enabled: [(b":method", b"CONNECT"), GET[1], GET[2], GET[3], (b":protocol", b"websocket")];
    protocol_without_connect: [GET[0], GET[1], GET[2], GET[3], (b":protocol", b"websocket")];
}

/// A field that came from the dynamic table is judged as if it came as a
/// literal, every time it comes (the server remembers what table entries
/// are, so this is the path that must not remember too much).
#[test]
fn fields_repeated_from_the_dynamic_table_are_judged_every_time() {
    let mut r = Raw::new(Config::new());
    let bad: [(&[u8], &[u8]); 3] = [
        (b"x-a", b"a\nb"),
        (b"connection", b"close"),
        (b"content-length", b"1x"),
    ];
    let mut id = 1;
    for field in bad {
        let fields = [GET[0], GET[1], GET[2], GET[3], field];
        // First as a literal (indexed by the encoder), then from the table.
        for _ in 0..2 {
            let b = r.headers(id, &fields, true);
            r.expect_rst(&b, id, ErrorCode::ProtocolError);
            assert!(r.events().is_empty());
            id += 2;
        }
    }
    // A valid entry used as a header, then as a pseudo-header in the wrong
    // place, then in trailers where it is dropped.
    let fields = [
        GET[0],
        GET[1],
        GET[2],
        GET[3],
        (b"cookie", b"a-long-cookie-value=1234567"),
    ];
    for _ in 0..2 {
        let b = r.headers(id, &fields, true);
        r.send(&b);
        let events = r.events();
        let [Event::Headers { head, .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(head.authority.as_deref(), Some(&b"x"[..]));
        assert_eq!(
            head.fields,
            vec![(b"cookie".to_vec(), b"a-long-cookie-value=1234567".to_vec())]
        );
        id += 2;
    }
    let after_regular = [GET[0], GET[1], GET[3], (b"x-b", b"1"), GET[2]];
    let b = r.headers(id, &after_regular, true);
    r.expect_rst(&b, id, ErrorCode::ProtocolError);
    id += 2;
    let b = r.get(id, false);
    r.send(&b);
    let b = r.headers(
        id,
        &[(b"cookie", b"a-long-cookie-value=1234567"), (b"x-t", b"1")],
        true,
    );
    r.send(&b);
    let events = r.events();
    let [Event::Headers { .. }, Event::Trailers { fields, .. }] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(fields, &vec![(b"x-t".to_vec(), b"1".to_vec())]);
    id += 2;
    // A pseudo-header from the table in trailers is malformed.
    let b = r.get(id, false);
    r.send(&b);
    let b = r.headers(id, &[GET[2]], true);
    r.expect_rst(&b, id, ErrorCode::ProtocolError);
}

#[test]
fn valid_heads_are_delivered_split() {
    let mut r = Raw::new(Config::new());
    let b = r.headers(
        1,
        &[
            GET[0],
            GET[1],
            GET[2],
            GET[3],
            (b"te", b"trailers"),
            (b"accept", b"*/*"),
        ],
        true,
    );
    r.send(&b);
    let b = r.headers(
        3,
        &[(b":method", b"CONNECT"), (b":authority", b"x:443")],
        false,
    );
    r.send(&b);
    let events = r.events();
    let [Event::Headers {
        id: a,
        head: h1,
        end_stream: true,
    }, Event::Headers {
        id: b,
        head: h2,
        end_stream: false,
    }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!((a.value(), b.value()), (1, 3));
    assert_eq!(
        (
            &h1.method[..],
            &h1.scheme[..],
            h1.authority.as_deref(),
            &h1.path[..]
        ),
        (&b"GET"[..], &b"http"[..], Some(&b"x"[..]), &b"/"[..])
    );
    assert_eq!(
        h1.fields,
        vec![
            (b"te".to_vec(), b"trailers".to_vec()),
            (b"accept".to_vec(), b"*/*".to_vec())
        ]
    );
    assert_eq!(h2.method, b"CONNECT");
    assert!(h2.path.is_empty() && h2.scheme.is_empty());
}

#[test]
fn extended_connect_when_enabled() {
    let mut r = Raw::new(Config::new().enable_connect_protocol(true));
    let b = r.headers(
        1,
        &[
            (b":method", b"CONNECT"),
            (b":protocol", b"websocket"),
            GET[1],
            GET[2],
            (b":path", b"/chat"),
        ],
        false,
    );
    r.send(&b);
    let events = r.events();
    let [Event::Headers { head, .. }] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(head.protocol.as_deref(), Some(&b"websocket"[..]));
    // A request missing :path with :protocol is malformed.
    let b = r.headers(
        3,
        &[
            (b":method", b"CONNECT"),
            (b":protocol", b"websocket"),
            GET[1],
            GET[2],
        ],
        false,
    );
    r.expect_rst(&b, 3, ErrorCode::ProtocolError);
}

#[test]
fn server_advertises_connect_protocol_when_enabled() {
    let mut r = Raw::bare(
        Config::new().enable_connect_protocol(true),
        std::time::Instant::now(),
    );
    let out = r.output();
    let Some(Out::Settings { params, .. }) = out.first() else {
        panic!("{out:?}")
    };
    assert!(params.contains(&(SettingId::EnableConnectProtocol, 1)));
}

#[test]
fn preface_mismatch_is_a_protocol_error() {
    let mut r = Raw::bare(Config::new(), std::time::Instant::now());
    r.output();
    r.expect_goaway(
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        ErrorCode::ProtocolError,
    );
}

#[test]
fn first_frame_must_be_settings() {
    for first in [ping(false, [0; 8]), {
        let mut b = Vec::new();
        Settings::ACK.encode(&mut b);
        b
    }] {
        let mut r = Raw::bare(Config::new(), std::time::Instant::now());
        r.expect_goaway(&cat(&[PREFACE, &first]), ErrorCode::ProtocolError);
    }
}

#[test]
fn settings_go_out_before_the_preface_arrives_and_defaults_are_advertised() {
    let mut r = Raw::bare(Config::new(), std::time::Instant::now());
    let out = r.output();
    assert_eq!(
        out,
        vec![
            Out::Settings {
                ack: false,
                params: vec![
                    (SettingId::MaxConcurrentStreams, 128),
                    (SettingId::InitialWindowSize, 1 << 20),
                    (SettingId::MaxFrameSize, 16_384),
                    (SettingId::MaxHeaderListSize, 16 * 1024),
                ]
            },
            Out::WindowUpdate {
                id: 0,
                inc: (1 << 20) - 65_535
            },
        ]
    );
}

#[test]
fn preface_split_at_every_byte() {
    let mut all = PREFACE.to_vec();
    all.extend(settings(&[(SettingId::InitialWindowSize, 1000)]));
    all.extend(ping(false, *b"abcdefgh"));
    let mut r = Raw::bare(Config::new(), std::time::Instant::now());
    r.output();
    for b in &all {
        r.send(std::slice::from_ref(b));
    }
    assert!(r.result.is_ok());
    let out = r.output();
    assert_eq!(
        out,
        vec![
            Out::Settings {
                ack: true,
                params: vec![]
            },
            Out::Ping {
                ack: true,
                payload: *b"abcdefgh"
            }
        ]
    );
}

#[test]
fn ping_is_echoed_and_ping_ack_is_not() {
    let mut r = Raw::new(Config::new());
    r.output();
    r.send(&cat(&[
        &ping(false, *b"12345678"),
        &ping(true, *b"zzzzzzzz"),
    ]));
    assert_eq!(
        r.output(),
        vec![Out::Ping {
            ack: true,
            payload: *b"12345678"
        }]
    );
}

#[test]
fn unknown_frames_flags_and_settings_are_ignored() {
    let mut r = Raw::new(Config::new());
    r.output();
    let b = cat(&[
        &raw_frame(0x42, 0xff, 0, b"whatever"),
        &raw_frame(0x42, 0, 7, b""),
        &raw_frame(6, 0xfe, 0, b"abcdefgh"), // PING with unknown flags
        &raw_frame(4, 0xfe, 0, &[0x00, 0x99, 0, 0, 0, 1]), // unknown setting
        &priority(9, 1),                     // PRIORITY on an idle stream
    ]);
    r.send(&b);
    assert!(r.result.is_ok());
    assert_eq!(
        r.output(),
        vec![
            Out::Ping {
                ack: true,
                payload: *b"abcdefgh"
            },
            Out::Settings {
                ack: true,
                params: vec![]
            }
        ]
    );
    // PRIORITY did not open stream 9: stream 3 may still be opened.
    let b = r.get(3, true);
    r.send(&b);
    assert!(r.result.is_ok());
    assert_eq!(r.server.open_streams(), 1);
}

#[test]
fn frames_in_flight_after_our_reset_are_ignored() {
    let mut r = Raw::new(Config::new());
    let b = r.get(1, false);
    r.send(&b);
    r.server.reset_stream(StreamId::new(1), ErrorCode::Cancel);
    assert_eq!(
        r.output(),
        vec![Out::Rst {
            id: 1,
            code: ErrorCode::Cancel
        }]
    );
    let b = cat(&[
        &data(1, b"late", false),
        &r.headers(1, &[(b"x-t", b"1")], true),
        &window_update(1, 10),
        &rst(1, ErrorCode::Cancel),
    ]);
    r.send(&b);
    assert!(r.result.is_ok());
    assert!(r.output().is_empty());
}

#[test]
fn window_update_and_rst_on_closed_streams_are_ignored() {
    let mut r = Raw::new(Config::new());
    let b = r.get(1, true);
    r.send(&b);
    r.server
        .send_headers(StreamId::new(1), 200, &[], true)
        .unwrap();
    r.output();
    r.send(&cat(&[
        &window_update(1, 5),
        &rst(1, ErrorCode::Cancel),
        &priority(1, 0),
    ]));
    assert!(r.result.is_ok());
    assert!(r.output().is_empty());
}

#[test]
fn padding_is_stripped_and_released() {
    let mut r = Raw::new(
        Config::new()
            .initial_stream_window(1000)
            .initial_connection_window(65_535),
    );
    let b = r.get(1, false);
    r.send(&b);
    // 10 frames of 5 data octets and 95 padding: 1000 octets of window.
    for _ in 0..10 {
        r.send(&padded_data(1, b"hello", 94, false));
    }
    assert!(r.result.is_ok(), "{:?}", r.result);
    let events = r.events();
    let bodies: Vec<_> = events
        .iter()
        .filter_map(|e| {
            if let Event::Data { data, .. } = e {
                Some(data.clone())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(bodies, vec![b"hello".to_vec(); 10]);
    // The padding was released without the application: the stream window
    // reopened by at least the 950 octets of padding.
    let out = r.output();
    let reopened: u32 = out
        .iter()
        .filter_map(|o| {
            if let Out::WindowUpdate { id: 1, inc } = o {
                Some(*inc)
            } else {
                None
            }
        })
        .sum();
    assert!(reopened >= 500, "{out:?}");
    // Another window's worth is accepted.
    r.send(&padded_data(1, b"more", 200, false));
    assert!(r.result.is_ok());
}

#[test]
fn window_updates_follow_consumption_not_receipt() {
    let mut r = Raw::new(
        Config::new()
            .initial_stream_window(65_535)
            .initial_connection_window(65_535),
    );
    let b = r.get(1, false);
    r.send(&b);
    r.send(&data(1, &[1; 16_384], false));
    r.send(&data(1, &[1; 16_384], false));
    r.send(&data(1, &[1; 16_384], false));
    assert!(r.output().is_empty(), "no WINDOW_UPDATE on receipt");
    r.server.release_capacity(StreamId::new(1), 16_384);
    assert!(r.output().is_empty(), "batched below half a window");
    r.server.release_capacity(StreamId::new(1), 32_768);
    let out = r.output();
    assert!(
        out.contains(&Out::WindowUpdate { id: 1, inc: 49_152 }),
        "{out:?}"
    );
    assert!(
        out.contains(&Out::WindowUpdate { id: 0, inc: 49_152 }),
        "{out:?}"
    );
    // Releasing more than was received credits nothing more.
    r.server.release_capacity(StreamId::new(1), 1 << 30);
    assert!(r.output().is_empty());
}

#[test]
fn settings_ack_timeout() {
    let now = std::time::Instant::now();
    let mut r = Raw::bare(
        Config::new().settings_ack_timeout(Duration::from_secs(3)),
        now,
    );
    r.send(&cat(&[PREFACE, &settings(&[])]));
    r.output();
    assert_eq!(r.server.poll_timeout(), Some(now + Duration::from_secs(3)));
    r.server.handle_timeout(now + Duration::from_secs(2));
    assert!(r.output().is_empty());
    r.server.handle_timeout(now + Duration::from_secs(3));
    assert_eq!(
        r.output(),
        vec![Out::GoAway {
            last: 0,
            code: ErrorCode::SettingsTimeout
        }]
    );
    assert!(r.server.is_closed());
}

#[test]
fn settings_ack_stops_the_timer_and_applies_our_window() {
    let mut r = Raw::new(Config::new().initial_stream_window(100));
    assert_eq!(r.server.poll_timeout(), None);
    // Before the ACK the protocol default (65,535) applied; after it, 100.
    let b = cat(&[&r.get(1, false), &data(1, &[0; 100], false)]);
    r.send(&b);
    assert!(r.result.is_ok());
}

#[test]
fn stream_windows_before_our_settings_are_acked_use_the_default() {
    let now = std::time::Instant::now();
    let mut r = Raw::bare(Config::new().initial_stream_window(100), now);
    r.send(&cat(&[PREFACE, &settings(&[])]));
    let b = cat(&[&r.get(1, false), &data(1, &[0; 1000], false)]);
    r.send(&b);
    assert!(
        r.result.is_ok(),
        "the client may not have seen our SETTINGS yet"
    );
    // Our ACK arrives: the window shrinks by 65,435 and goes negative.
    let mut ack = Vec::new();
    Settings::ACK.encode(&mut ack);
    r.send(&ack);
    r.output();
    r.expect_rst(&data(1, &[0; 1], false), 1, ErrorCode::FlowControlError);
}

#[test]
fn concurrent_stream_limit_refuses_and_keeps_hpack_in_sync() {
    let mut r = Raw::new(Config::new().max_concurrent_streams(2));
    let b = cat(&[&r.get(1, false), &r.get(3, false)]);
    r.send(&b);
    let b = r.headers(
        5,
        &[GET[0], GET[1], GET[2], GET[3], (b"x-new", b"in-table")],
        false,
    );
    r.expect_rst(&b, 5, ErrorCode::RefusedStream);
    r.server
        .send_headers(StreamId::new(1), 200, &[], true)
        .unwrap();
    let b = r.headers(
        7,
        &[GET[0], GET[1], GET[2], GET[3], (b"x-new", b"in-table")],
        true,
    );
    r.send(&b);
    let events = r.events();
    let Some(Event::Headers { id, head, .. }) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(id.value(), 7);
    assert_eq!(head.fields, vec![(b"x-new".to_vec(), b"in-table".to_vec())]);
}

#[test]
fn header_list_over_the_limit_gets_431() {
    let mut r = Raw::new(Config::new().max_header_list_size(300));
    let big = vec![b'a'; 300];
    let b = r.headers(1, &[GET[0], GET[1], GET[2], GET[3], (b"x-big", &big)], true);
    r.send(&b);
    assert!(r.result.is_ok());
    assert!(r.events().is_empty());
    let out = r.output();
    assert_eq!(
        out,
        vec![Out::Headers {
            id: 1,
            end_stream: true,
            end_headers: true,
            fields: vec![(b":status".to_vec(), b"431".to_vec())]
        }]
    );
    assert_eq!(r.server.open_streams(), 0);
    // With a body still coming, the server also stops it with NO_ERROR.
    let b = r.headers(
        3,
        &[GET[0], GET[1], GET[2], GET[3], (b"x-big", &big)],
        false,
    );
    r.send(&b);
    let out = r.output();
    assert!(
        out.contains(&Out::Rst {
            id: 3,
            code: ErrorCode::NoError
        }),
        "{out:?}"
    );
    r.send(&data(3, b"ignored", true));
    assert!(r.result.is_ok());
}

#[test]
fn header_blocks_are_assembled_from_continuations() {
    let mut r = Raw::new(Config::new());
    let block = r.block(&[GET[0], GET[1], GET[2], GET[3], (b"x-long", &[b'v'; 100])]);
    let (a, rest) = block.split_at(3);
    let (b, c) = rest.split_at(20);
    let mut bytes = raw_frame(1, 0x1, 1, a); // END_STREAM, no END_HEADERS
    bytes.extend(continuation(1, b, false));
    bytes.extend(continuation(1, &[], false));
    bytes.extend(continuation(1, c, true));
    r.send(&bytes);
    let events = r.events();
    let [Event::Headers {
        head,
        end_stream: true,
        ..
    }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(head.fields[0].1.len(), 100);
}

#[test]
fn large_response_heads_are_split_into_continuations() {
    let mut r = Raw::new(Config::new());
    let b = r.get(1, true);
    r.send(&b);
    let v1 = vec![b'x'; 12_000];
    let v2 = vec![b'y'; 12_000];
    r.server
        .send_headers(
            StreamId::new(1),
            200,
            &[(b"x-a", &v1), (b"X-B", &v2), (b"connection", b"close")],
            true,
        )
        .unwrap();
    let out = r.output();
    assert!(
        matches!(
            out[0],
            Out::Headers {
                id: 1,
                end_headers: false,
                ..
            }
        ),
        "{out:?}"
    );
    let Some(Out::Headers {
        fields,
        end_stream: true,
        ..
    }) = out.last()
    else {
        panic!("{out:?}")
    };
    let names: Vec<_> = fields.iter().map(|f| f.0.clone()).collect();
    assert_eq!(
        names,
        vec![b":status".to_vec(), b"x-a".to_vec(), b"x-b".to_vec()]
    );
}

#[test]
fn stream_errors_on_unpolled_requests_drop_their_events() {
    let mut r = Raw::new(Config::new());
    // Reset before the application polled the request: it never sees it.
    let b = cat(&[&r.get(1, false), &window_update(1, 0)]);
    r.expect_rst(&b, 1, ErrorCode::ProtocolError);
    assert_eq!(r.events(), vec![]);
    // Reset after it did: it is told, to cancel the handler.
    let b = r.get(3, false);
    r.send(&b);
    assert!(matches!(r.events().as_slice(), [Event::Headers { .. }]));
    r.expect_rst(&window_update(3, 0), 3, ErrorCode::ProtocolError);
    assert_eq!(
        r.events(),
        vec![Event::StreamReset {
            id: StreamId::new(3),
            code: ErrorCode::ProtocolError,
            by_peer: false
        }]
    );
}
