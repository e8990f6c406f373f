//! Table of every RFC 6455 rule and limit on the read path: each bad input
//! gets its close code queued, the error names it, and the codec closes.
//! Every case is fed whole, byte by byte, and in 3-byte pieces.

mod common;

use std::time::{Duration, Instant};

use common::*;
use flare_ws::frame::OpCode::{self, *};
use flare_ws::{Config, Error, PolicyViolation, ProtocolError, Role, State, WebSocket};

fn server(config: Config) -> WebSocket {
    WebSocket::new(Role::Server, config, None)
}

/// Feeds `bytes` to a fresh server (or client) codec in several piece sizes
/// and checks the error, the queued close code and the final state.
fn check_fail(role: Role, config: Config, bytes: &[u8], want: Error) {
    for piece in [0, 1, 3] {
        let mut ws = WebSocket::new(role, config.clone(), None);
        let (_, err) = read_pieces(&mut ws, bytes, piece, Instant::now());
        assert_eq!(err, Some(want), "piece {piece}");
        assert_eq!(ws.state(), State::Closed);
        assert!(!ws.is_closed(), "close frame still owed");
        let close = queued_close(&mut ws, role == Role::Server);
        assert_eq!(
            close.map(|c| c.0),
            Some(Some(want.close_code())),
            "piece {piece}"
        );
        assert!(ws.is_closed() && ws.should_close_transport());
        // After failing, input is dropped.
        let mut more = cframe(true, Text, b"x");
        let len = more.len();
        assert_eq!(ws.read(&mut more, Instant::now()).unwrap(), (len, None));
    }
}

fn check_ok(role: Role, config: Config, bytes: &[u8], want: &[Ev]) {
    for piece in [0, 1, 3] {
        let mut ws = WebSocket::new(role, config.clone(), None);
        let (events, err) = read_pieces(&mut ws, bytes, piece, Instant::now());
        assert_eq!(err, None, "piece {piece}");
        assert_eq!(events, want, "piece {piece}");
    }
}

macro_rules! fail {
    ($name:ident, $bytes:expr, $err:expr) => {
        fail!($name, Role::Server, Config::default(), $bytes, $err);
    };
    ($name:ident, $role:expr, $config:expr, $bytes:expr, $err:expr) => {
        #[test]
        fn $name() {
            check_fail($role, $config, &$bytes, $err);
        }
    };
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

const P: fn(ProtocolError) -> Error = Error::Protocol;

// --- Masking (section 5.1).
fail!(
    unmasked_frame_to_server,
    frame(true, false, Text, b"hi", None),
    P(ProtocolError::UnmaskedClientFrame)
);
fail!(
    masked_frame_to_client,
    Role::Client,
    Config::default(),
    cframe(true, Text, b"hi"),
    P(ProtocolError::MaskedServerFrame)
);

// --- RSV bits (section 5.2; RFC 7692 section 6.1): no extension here.
fail!(
    rsv1_without_deflate,
    frame(true, true, Text, b"hi", Some(KEY)),
    P(ProtocolError::ReservedBits)
);
fail!(
    rsv2,
    {
        let mut f = cframe(true, Binary, b"hi");
        f[0] |= 0x20;
        f
    },
    P(ProtocolError::ReservedBits)
);
fail!(
    rsv3,
    {
        let mut f = cframe(true, Binary, b"hi");
        f[0] |= 0x10;
        f
    },
    P(ProtocolError::ReservedBits)
);

// --- Opcodes.
fail!(
    reserved_data_opcode,
    {
        let mut f = cframe(true, Binary, b"");
        f[0] = 0x83;
        f
    },
    P(ProtocolError::Frame(flare_ws::FrameError::ReservedOpcode(
        3
    )))
);
fail!(
    reserved_control_opcode,
    {
        let mut f = cframe(true, Ping, b"");
        f[0] = 0x8b;
        f
    },
    P(ProtocolError::Frame(flare_ws::FrameError::ReservedOpcode(
        0xb
    )))
);

// --- Control frames (section 5.5).
fail!(
    control_too_long,
    {
        let mut f = cframe(true, Ping, &[0; 126]);
        f[1] = 0x80 | 126;
        f.splice(2..2, [0, 126]);
        f
    },
    P(ProtocolError::Frame(flare_ws::FrameError::ControlTooLong))
);
fail!(
    control_fragmented,
    cframe(false, Ping, b"x"),
    P(ProtocolError::Frame(
        flare_ws::FrameError::ControlFragmented
    ))
);

// --- 64-bit length with MSB set.
fail!(
    length_msb_set,
    [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
    P(ProtocolError::Frame(flare_ws::FrameError::LengthMsbSet))
);

// --- Fragmentation (section 5.4).
fail!(
    continuation_without_message,
    cframe(true, Continuation, b"x"),
    P(ProtocolError::UnexpectedContinuation)
);
fail!(
    new_message_inside_fragmented,
    cat(&[cframe(false, Text, b"a"), cframe(true, Binary, b"b")]),
    P(ProtocolError::ExpectedContinuation)
);
fail!(
    rsv1_on_continuation_without_deflate,
    cat(&[
        cframe(false, Text, b"a"),
        frame(true, true, Continuation, b"b", Some(KEY))
    ]),
    P(ProtocolError::ReservedBits)
);

// --- Close frames (sections 5.5.1 and 7.4).
fail!(
    close_one_byte,
    cframe(true, Close, &[0x03]),
    P(ProtocolError::CloseTooShort)
);
fail!(
    close_bad_utf8_reason,
    cframe(true, Close, &[0x03, 0xe8, 0xff, 0xfe]),
    Error::InvalidUtf8
);

#[test]
fn close_codes_on_the_wire() {
    // Never on the wire, or unassigned: 1002.
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        check_fail(
            Role::Server,
            Config::default(),
            &cframe(true, Close, &close_body(code, "")),
            P(ProtocolError::InvalidCloseCode(code)),
        );
    }
    // Valid: 1000-1003, 1007-1011, 1012-1014 (IANA), 3000-4999.
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        check_ok(
            Role::Server,
            Config::default(),
            &cframe(true, Close, &close_body(code, "bye")),
            &[Ev::Close(Some(code), "bye".into())],
        );
    }
}

// --- UTF-8 (section 8.1), fail fast.
fail!(
    invalid_utf8_single_frame,
    cframe(true, Text, &[b'a', 0xff]),
    Error::InvalidUtf8
);
fail!(
    invalid_utf8_across_fragments,
    cat(&[
        cframe(false, Text, &[0xce]),
        cframe(true, Continuation, &[0x41])
    ]),
    Error::InvalidUtf8
);
fail!(
    truncated_utf8_at_message_end,
    cat(&[
        cframe(false, Text, b"ok"),
        cframe(true, Continuation, &[0xf0, 0x9d])
    ]),
    Error::InvalidUtf8
);

#[test]
fn invalid_utf8_fails_before_the_message_ends() {
    // Autobahn 6.4.*: the first fragment ends in an impossible sequence
    // (a surrogate); the error comes before the final fragment arrives.
    let mut ws = server(Config::default());
    let mut first = cframe(false, Text, "κόσμε".as_bytes());
    first.extend(cframe(false, Continuation, &[0xed, 0xa0, 0x80]));
    let (_, err) = read_all(&mut ws, &first, Instant::now());
    assert_eq!(err, Some(Error::InvalidUtf8));

    // Within one frame that arrives in pieces: fails on the piece holding
    // the bad byte, although the frame announced more payload.
    let mut ws = server(Config::default());
    let mut f = cframe(true, Text, &[b'a'; 100]);
    // Make payload byte 10 invalid: unmask, change, remask.
    f[6 + 10] = 0xff ^ KEY[10 % 4];
    let (_, err) = read_all(&mut ws, &f[..6 + 11], Instant::now());
    assert_eq!(err, Some(Error::InvalidUtf8));
}

#[test]
fn valid_utf8_split_everywhere() {
    let text = "héllo wörld 𝄞 €";
    let bytes = text.as_bytes();
    for split in 1..bytes.len() {
        let wire = cat(&[
            cframe(false, Text, &bytes[..split]),
            cframe(true, Continuation, &bytes[split..]),
        ]);
        check_ok(
            Role::Server,
            Config::default(),
            &wire,
            &[Ev::Text(text.into())],
        );
    }
}

// --- Limits: at the limit passes, over it fails.
#[test]
fn max_frame_size_at_and_over() {
    let config = Config::default().max_frame_size(100);
    check_ok(
        Role::Server,
        config.clone(),
        &cframe(true, Binary, &[1; 100]),
        &[Ev::Binary(vec![1; 100])],
    );
    check_fail(
        Role::Server,
        config.clone(),
        &cframe(true, Binary, &[1; 101]),
        Error::TooBig { limit: 100 },
    );
    // Fails on the header alone, before the payload.
    let mut ws = server(config);
    let (_, err) = read_all(
        &mut ws,
        &cframe(true, Binary, &[1; 101])[..8],
        Instant::now(),
    );
    assert_eq!(err, Some(Error::TooBig { limit: 100 }));
}

#[test]
fn max_message_size_at_and_over() {
    let config = Config::default().max_message_size(100);
    let at = cat(&[
        cframe(false, Binary, &[1; 60]),
        cframe(true, Continuation, &[2; 40]),
    ]);
    let mut want = vec![1; 60];
    want.extend([2; 40]);
    check_ok(Role::Server, config.clone(), &at, &[Ev::Binary(want)]);
    let over = cat(&[
        cframe(false, Binary, &[1; 60]),
        cframe(true, Continuation, &[2; 41]),
    ]);
    check_fail(
        Role::Server,
        config.clone(),
        &over,
        Error::TooBig { limit: 100 },
    );
    check_fail(
        Role::Server,
        config,
        &cframe(true, Text, &[b'a'; 101]),
        Error::TooBig { limit: 100 },
    );
}

#[test]
fn max_fragments_at_and_over() {
    let config = Config::default().max_fragments(4);
    let mut at = cframe(false, Text, b"a");
    for _ in 0..2 {
        at.extend(cframe(false, Continuation, b"b"));
    }
    let mut over = at.clone();
    at.extend(cframe(true, Continuation, b"c"));
    check_ok(
        Role::Server,
        config.clone(),
        &at,
        &[Ev::Text("abbc".into())],
    );
    over.extend(cframe(false, Continuation, b"c"));
    over.extend(cframe(true, Continuation, b"d"));
    check_fail(
        Role::Server,
        config,
        &over,
        Error::Policy(PolicyViolation::TooManyFragments),
    );
}

#[test]
fn control_frame_rate_at_and_over() {
    let config = Config::default().max_control_frames_per_sec(10);
    let pings: Vec<u8> = (0..10).flat_map(|_| cframe(true, Ping, b"p")).collect();
    let want: Vec<Ev> = (0..10).map(|_| Ev::Ping(b"p".to_vec())).collect();
    check_ok(Role::Server, config.clone(), &pings, &want);
    let mut over = pings.clone();
    over.extend(cframe(true, Pong, b"q"));
    check_fail(
        Role::Server,
        config.clone(),
        &over,
        Error::Policy(PolicyViolation::ControlFrameFlood),
    );

    // A new window a second later admits ten more.
    let mut ws = server(config);
    let t0 = Instant::now();
    assert_eq!(read_all(&mut ws, &pings, t0).1, None);
    assert_eq!(
        read_all(&mut ws, &pings, t0 + Duration::from_millis(1000)).1,
        None
    );
    assert_eq!(
        read_all(
            &mut ws,
            &cframe(true, Ping, b""),
            t0 + Duration::from_millis(1500)
        )
        .1,
        Some(Error::Policy(PolicyViolation::ControlFrameFlood))
    );
}

#[test]
fn only_the_latest_pong_is_owed() {
    let mut ws = server(Config::default());
    let wire: Vec<u8> = (0..50u8).flat_map(|i| cframe(true, Ping, &[i])).collect();
    assert_eq!(read_all(&mut ws, &wire, Instant::now()).1, None);
    let mut out = Vec::new();
    ws.poll_output(&mut out);
    assert_eq!(out, [0x8a, 0x01, 49]); // one unmasked pong, the last ping's payload
    out.clear();
    ws.poll_output(&mut out);
    assert!(out.is_empty());
}

#[test]
fn auto_pong_off_queues_nothing() {
    let mut ws = server(Config::default().auto_pong(false));
    let (events, _) = read_all(&mut ws, &cframe(true, Ping, b"x"), Instant::now());
    assert_eq!(events, [Ev::Ping(b"x".to_vec())]);
    assert!(!ws.wants_output());
    let mut out = Vec::new();
    ws.send_pong(b"x", &mut out).unwrap();
    assert_eq!(out, [0x8a, 0x01, b'x']);
}

#[test]
fn control_frames_between_fragments() {
    let wire = cat(&[
        cframe(false, Text, b"Hel"),
        cframe(true, Ping, b"p"),
        cframe(false, Continuation, b"l"),
        cframe(true, Pong, b"q"),
        cframe(true, Continuation, b"lo"),
    ]);
    check_ok(
        Role::Server,
        Config::default(),
        &wire,
        &[
            Ev::Ping(b"p".to_vec()),
            Ev::Pong(b"q".to_vec()),
            Ev::Text("Helllo".into()),
        ],
    );
}

#[test]
fn rfc6455_5_7_examples_through_the_codec() {
    // Server-to-client examples, read by a client.
    let c = Role::Client;
    let d = Config::default;
    check_ok(
        c,
        d(),
        &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        &[Ev::Text("Hello".into())],
    );
    check_ok(
        c,
        d(),
        &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f],
        &[Ev::Text("Hello".into())],
    );
    check_ok(
        c,
        d(),
        &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        &[Ev::Ping(b"Hello".to_vec())],
    );
    // Client-to-server: masked text and masked pong.
    let s = Role::Server;
    check_ok(
        s,
        d(),
        &[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
        &[Ev::Text("Hello".into())],
    );
    check_ok(
        s,
        d(),
        &[
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
        &[Ev::Pong(b"Hello".to_vec())],
    );
    let mut big = vec![0x82, 0x7e, 0x01, 0x00];
    big.extend([7; 256]);
    check_ok(c, d(), &big, &[Ev::Binary(vec![7; 256])]);
    let mut big = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0];
    big.extend(vec![9; 65536]);
    check_ok(c, d(), &big, &[Ev::Binary(vec![9; 65536])]);
}

#[test]
fn zero_copy_and_partial_reads() {
    // A whole frame in the input is returned as a slice of the input.
    let mut ws = server(Config::default());
    let mut wire = cframe(true, Binary, b"abc");
    let base = wire.as_ptr() as usize;
    let (n, ev) = ws.read(&mut wire, Instant::now()).unwrap();
    let Some(flare_ws::Event::Binary(b)) = ev else {
        panic!()
    };
    assert_eq!((n, b), (9, &b"abc"[..]));
    assert_eq!(b.as_ptr() as usize, base + 6);

    // A partial header consumes nothing; a partial payload is consumed.
    let mut ws = server(Config::default());
    let wire = cframe(true, Binary, &[5; 1000]);
    let mut head = wire[..5].to_vec();
    assert_eq!(ws.read(&mut head, Instant::now()).unwrap(), (0, None));
    let mut part = wire[..500].to_vec();
    assert_eq!(ws.read(&mut part, Instant::now()).unwrap(), (500, None));
    let mut rest = wire[500..].to_vec();
    let (n, ev) = ws.read(&mut rest, Instant::now()).unwrap();
    assert_eq!(
        (n, ev.map(Ev::from)),
        (rest.len(), Some(Ev::Binary(vec![5; 1000])))
    );
}

#[test]
fn empty_messages() {
    check_ok(
        Role::Server,
        Config::default(),
        &cframe(true, Text, b""),
        &[Ev::Text(String::new())],
    );
    check_ok(
        Role::Server,
        Config::default(),
        &cat(&[cframe(false, Binary, b""), cframe(true, Continuation, b"")]),
        &[Ev::Binary(vec![])],
    );
    check_ok(
        Role::Server,
        Config::default(),
        &cframe(true, Close, b""),
        &[Ev::Close(None, String::new())],
    );
}

#[test]
fn pieces_of_every_size_give_the_same_events() {
    let wire = cat(&[
        cframe(true, Text, b"one"),
        cframe(false, Binary, &[1; 300]),
        cframe(true, Ping, b"p"),
        cframe(true, Continuation, &[2; 70000]),
        cframe(true, Close, &close_body(1000, "done")),
    ]);
    let mut want_bin = vec![1; 300];
    want_bin.extend(vec![2; 70000]);
    let want = [
        Ev::Text("one".into()),
        Ev::Ping(b"p".to_vec()),
        Ev::Binary(want_bin),
        Ev::Close(Some(1000), "done".into()),
    ];
    for piece in [1, 2, 7, 13, 100, 4096, 0] {
        let mut ws = server(Config::default());
        let (events, err) = read_pieces(&mut ws, &wire, piece, Instant::now());
        assert_eq!(err, None, "piece {piece}");
        assert!(events == want, "piece {piece}: {} events", events.len());
    }
}

#[allow(dead_code)]
fn _opcode_is_used(_: OpCode) {}
