//! Property tests: frames round-trip through encode/decode at any split;
//! arbitrary bytes and arbitrary frame sequences never panic a connection.

mod common;

use std::time::Instant;

use common::*;
use flare_h2::frame::*;
use flare_h2::{Config, Connection, ErrorCode, Event, StreamId, PREFACE};
use proptest::prelude::*;

/// An owned description of a frame, turned into a borrowed `Frame`.
#[derive(Clone, Debug)]
enum Spec {
    Data {
        id: u32,
        data: Vec<u8>,
        end: bool,
        pad: Option<u8>,
    },
    Headers {
        id: u32,
        frag: Vec<u8>,
        end: bool,
        eh: bool,
        prio: Option<(bool, u32, u8)>,
        pad: Option<u8>,
    },
    Priority {
        id: u32,
        e: bool,
        dep: u32,
        w: u8,
    },
    Rst {
        id: u32,
        code: u32,
    },
    Settings {
        ack: bool,
        params: Vec<(u16, u32)>,
    },
    Push {
        id: u32,
        promised: u32,
        frag: Vec<u8>,
        eh: bool,
        pad: Option<u8>,
    },
    Ping {
        ack: bool,
        payload: [u8; 8],
    },
    GoAway {
        last: u32,
        code: u32,
        debug: Vec<u8>,
    },
    Window {
        id: u32,
        inc: u32,
    },
    Continuation {
        id: u32,
        frag: Vec<u8>,
        eh: bool,
    },
    Unknown {
        kind: u8,
        flags: u8,
        id: u32,
        payload: Vec<u8>,
    },
}

fn stream() -> impl Strategy<Value = u32> {
    1u32..0x7fff_ffff
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..200)
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (stream(), bytes(), any::<bool>(), any::<Option<u8>>())
            .prop_map(|(id, data, end, pad)| Spec::Data { id, data, end, pad }),
        (
            stream(),
            bytes(),
            any::<bool>(),
            any::<bool>(),
            any::<Option<(bool, u32, u8)>>(),
            any::<Option<u8>>()
        )
            .prop_map(|(id, frag, end, eh, prio, pad)| Spec::Headers {
                id,
                frag,
                end,
                eh,
                prio: prio.map(|(e, d, w)| (e, d & 0x7fff_ffff, w)),
                pad
            }),
        (stream(), any::<bool>(), 0u32..0x7fff_ffff, any::<u8>())
            .prop_map(|(id, e, dep, w)| Spec::Priority { id, e, dep, w }),
        (stream(), any::<u32>()).prop_map(|(id, code)| Spec::Rst { id, code }),
        proptest::collection::vec((any::<u16>(), any::<u32>()), 0..10)
            .prop_map(|params| Spec::Settings { ack: false, params }),
        Just(Spec::Settings {
            ack: true,
            params: vec![]
        }),
        (
            stream(),
            0u32..0x7fff_ffff,
            bytes(),
            any::<bool>(),
            any::<Option<u8>>()
        )
            .prop_map(|(id, promised, frag, eh, pad)| Spec::Push {
                id,
                promised,
                frag,
                eh,
                pad
            }),
        (any::<bool>(), any::<[u8; 8]>()).prop_map(|(ack, payload)| Spec::Ping { ack, payload }),
        (0u32..0x7fff_ffff, any::<u32>(), bytes()).prop_map(|(last, code, debug)| Spec::GoAway {
            last,
            code,
            debug
        }),
        (0u32..0x7fff_ffff, 0u32..0x7fff_ffff).prop_map(|(id, inc)| Spec::Window { id, inc }),
        (stream(), bytes(), any::<bool>()).prop_map(|(id, frag, eh)| Spec::Continuation {
            id,
            frag,
            eh
        }),
        (10u8.., any::<u8>(), 0u32..0x7fff_ffff, bytes()).prop_map(|(kind, flags, id, payload)| {
            Spec::Unknown {
                kind,
                flags,
                id,
                payload,
            }
        }),
    ]
}

fn sid(v: u32) -> StreamId {
    StreamId::new(v)
}

/// Encodes the spec's frame into `out` and checks that decoding gives the
/// same frame back.
fn round_trip(s: &Spec, out: &mut Vec<u8>) {
    let mut settings_payload = Vec::new();
    let frame = match s {
        Spec::Data { id, data, end, pad } => Frame::Data(Data {
            stream_id: sid(*id),
            data,
            end_stream: *end,
            pad_len: *pad,
        }),
        Spec::Headers {
            id,
            frag,
            end,
            eh,
            prio,
            pad,
        } => Frame::Headers(Headers {
            stream_id: sid(*id),
            fragment: frag,
            end_stream: *end,
            end_headers: *eh,
            priority: prio.map(|(e, d, w)| PrioritySpec {
                exclusive: e,
                dependency: sid(d),
                weight: w,
            }),
            pad_len: *pad,
        }),
        Spec::Priority { id, e, dep, w } => Frame::Priority(Priority {
            stream_id: sid(*id),
            spec: PrioritySpec {
                exclusive: *e,
                dependency: sid(*dep),
                weight: *w,
            },
        }),
        Spec::Rst { id, code } => Frame::RstStream(RstStream {
            stream_id: sid(*id),
            code: ErrorCode::from_u32(*code),
        }),
        Spec::Settings { ack, params } => {
            if *ack {
                Frame::Settings(Settings::ACK)
            } else {
                let p: Vec<Setting> = params
                    .iter()
                    .map(|&(id, value)| Setting {
                        id: SettingId::from_u16(id),
                        value,
                    })
                    .collect();
                Settings::encode_params(&p, &mut settings_payload);
                let (frame, _) = Frame::decode(&settings_payload, MAX_MAX_FRAME_SIZE)
                    .unwrap()
                    .unwrap();
                let Frame::Settings(decoded) = frame else {
                    panic!()
                };
                assert_eq!(decoded.params().collect::<Vec<_>>(), p);
                frame
            }
        }
        Spec::Push {
            id,
            promised,
            frag,
            eh,
            pad,
        } => Frame::PushPromise(PushPromise {
            stream_id: sid(*id),
            promised_id: sid(*promised),
            fragment: frag,
            end_headers: *eh,
            pad_len: *pad,
        }),
        Spec::Ping { ack, payload } => Frame::Ping(Ping {
            ack: *ack,
            payload: *payload,
        }),
        Spec::GoAway { last, code, debug } => Frame::GoAway(GoAway {
            last_stream_id: sid(*last),
            code: ErrorCode::from_u32(*code),
            debug,
        }),
        Spec::Window { id, inc } => Frame::WindowUpdate(WindowUpdate {
            stream_id: sid(*id),
            increment: *inc,
        }),
        Spec::Continuation { id, frag, eh } => Frame::Continuation(Continuation {
            stream_id: sid(*id),
            fragment: frag,
            end_headers: *eh,
        }),
        Spec::Unknown {
            kind,
            flags,
            id,
            payload,
        } => Frame::Unknown(Unknown {
            kind: *kind,
            flags: *flags,
            stream_id: sid(*id),
            payload,
        }),
    };
    let start = out.len();
    frame.encode(out);
    let encoded = &out[start..];
    let (decoded, used) = Frame::decode(encoded, MAX_MAX_FRAME_SIZE).unwrap().unwrap();
    assert_eq!(used, encoded.len());
    assert_eq!(decoded, frame);
    // Any proper prefix asks for more.
    for cut in [0, 1, 8, encoded.len().saturating_sub(1)] {
        if cut < encoded.len() {
            assert_eq!(
                Frame::decode(&encoded[..cut], MAX_MAX_FRAME_SIZE).unwrap(),
                None
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn frames_round_trip(specs in proptest::collection::vec(spec(), 1..8)) {
        let mut buf = Vec::new();
        for s in &specs {
            round_trip(s, &mut buf);
        }
        // And back to back in one buffer.
        let mut pos = 0;
        let mut n = 0;
        while let Some((_, used)) = Frame::decode(&buf[pos..], MAX_MAX_FRAME_SIZE).unwrap() {
            pos += used;
            n += 1;
        }
        prop_assert_eq!((pos, n), (buf.len(), specs.len()));
    }

    #[test]
    fn frame_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), max in 0u32..40) {
        let _ = Frame::decode(&bytes, max);
        let _ = Frame::decode(&bytes, MIN_MAX_FRAME_SIZE);
    }

    #[test]
    fn server_survives_arbitrary_bytes_after_the_preface(bytes in proptest::collection::vec(any::<u8>(), 0..2000), split in 1usize..64) {
        let now = Instant::now();
        let mut server = Connection::server(Config::new(), now);
        let mut input = PREFACE.to_vec();
        input.extend(settings(&[]));
        input.extend(bytes);
        drive_bytes(&mut server, &input, split, now);
    }

    #[test]
    fn client_survives_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000), split in 1usize..64) {
        let now = Instant::now();
        let mut client = Connection::client(Config::new(), now);
        let _ = client.send_request(&flare_h2::Request::new(b"GET", b"http", b"x", b"/"), &[], false);
        let mut input = settings(&[]);
        input.extend(bytes);
        drive_bytes(&mut client, &input, split, now);
    }

    #[test]
    fn server_survives_arbitrary_frame_sequences(specs in proptest::collection::vec(spec(), 0..30), small_ids in any::<bool>()) {
        let now = Instant::now();
        let mut server = Connection::server(Config::new(), now);
        let mut input = PREFACE.to_vec();
        input.extend(settings(&[]));
        for s in &specs {
            // Small stream ids make frames hit open streams.
            let s = if small_ids { shrink_ids(s.clone()) } else { s.clone() };
            round_trip(&s, &mut input);
        }
        drive_bytes(&mut server, &input, 7, now);
    }
}

fn shrink_ids(s: Spec) -> Spec {
    let small = |v: u32| v % 8;
    match s {
        Spec::Data { id, data, end, pad } => Spec::Data {
            id: small(id).max(1),
            data,
            end,
            pad,
        },
        // Half the blocks become a valid GET (static table only).
        Spec::Headers {
            id,
            frag,
            end,
            eh,
            prio,
            pad,
        } => {
            let frag = if frag.len() % 2 == 0 {
                vec![0x82, 0x86, 0x84, 0x41, 0x01, b'x']
            } else {
                frag
            };
            Spec::Headers {
                id: small(id).max(1),
                frag,
                end,
                eh,
                prio,
                pad,
            }
        }
        Spec::Rst { id, code } => Spec::Rst {
            id: small(id).max(1),
            code,
        },
        Spec::Window { id, inc } => Spec::Window { id: small(id), inc },
        Spec::Continuation { id, frag, eh } => Spec::Continuation {
            id: small(id).max(1),
            frag,
            eh,
        },
        other => other,
    }
}

/// Feeds `input` in pieces, answering requests, and checks invariants.
fn drive_bytes(conn: &mut Connection, input: &[u8], split: usize, now: Instant) {
    let mut out = Vec::new();
    for piece in input.chunks(split) {
        let failed = conn.recv(piece, now).is_err();
        while let Some(e) = conn.poll_event() {
            match e {
                Event::Headers { id, .. } => {
                    let _ = conn.send_headers(id, 200, &[], false);
                    let _ = conn.send_data(id, b"body", true);
                }
                Event::Data { id, data, .. } => conn.release_capacity(id, data.len()),
                _ => {}
            }
        }
        conn.poll_output(&mut out);
        // Whatever we emit is well-formed (after a client's preface).
        let mut pos = if out.starts_with(PREFACE) {
            PREFACE.len()
        } else {
            0
        };
        while let Some((_, used)) =
            Frame::decode(&out[pos..], MAX_MAX_FRAME_SIZE).expect("our output decodes")
        {
            pos += used;
        }
        assert_eq!(pos, out.len());
        out.clear();
        if failed {
            assert!(conn.is_closed());
            assert!(conn.recv(b"more", now).is_err());
            break;
        }
    }
    conn.handle_timeout(now + std::time::Duration::from_secs(60));
    assert!(conn.open_streams() <= 128);
}
