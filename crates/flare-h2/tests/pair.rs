//! Client and server `Connection`s talking to each other in memory on a
//! virtual clock: round trips, flow control, trailers, shutdown, upgrade,
//! memory bounds.

mod common;

use std::time::Duration;

use common::*;
use flare_h2::frame::SettingId;
use flare_h2::{Config, ErrorCode, Event, Request, StreamError, StreamId, PREFACE};

fn get(path: &[u8]) -> Request<'_> {
    Request::new(b"GET", b"https", b"example.com", path)
}

#[test]
fn get_round_trip() {
    let mut p = Pair::new(Config::new(), Config::new());
    let id = p
        .client
        .send_request(&get(b"/hello"), &[(b"Accept", b"text/plain")], true)
        .unwrap();
    assert_eq!(id.value(), 1);
    p.drive();
    let [Event::Headers {
        id: sid,
        head,
        end_stream: true,
    }] = p.server_events.as_slice()
    else {
        panic!("{:?}", p.server_events)
    };
    assert_eq!(head.path, b"/hello");
    assert_eq!(
        head.fields,
        vec![(b"accept".to_vec(), b"text/plain".to_vec())]
    );
    let sid = *sid;
    p.server
        .send_headers(sid, 200, &[(b"content-length", b"2")], false)
        .unwrap();
    p.server.send_data(sid, b"hi", true).unwrap();
    p.drive();
    let [Event::Headers {
        head,
        end_stream: false,
        ..
    }, Event::Data {
        data,
        end_stream: true,
        ..
    }] = p.client_events.as_slice()
    else {
        panic!("{:?}", p.client_events)
    };
    assert_eq!(head.status, Some(200));
    assert_eq!(data, b"hi");
    assert_eq!((p.client.open_streams(), p.server.open_streams()), (0, 0));
}

/// Sends `body` from `from` on `id`, as much as flow control allows each
/// round, consuming on the other side; returns what arrived.
fn stream_body(p: &mut Pair, id: StreamId, body: &[u8], client_sends: bool) -> Vec<u8> {
    let mut sent = 0;
    let mut received = Vec::new();
    let mut done = false;
    let mut rounds = 0;
    while !done {
        rounds += 1;
        assert!(rounds < 10_000, "no progress");
        let sender = if client_sends {
            &mut p.client
        } else {
            &mut p.server
        };
        if sent < body.len() {
            let cap = sender.send_capacity(id);
            assert!(cap <= 1 << 20, "capacity never exceeds the peer's window");
            let n = sender.send_data(id, &body[sent..], true).unwrap();
            assert!(n <= cap);
            sent += n;
        }
        p.drive();
        let (events, receiver) = if client_sends {
            (&mut p.server_events, &mut p.server)
        } else {
            (&mut p.client_events, &mut p.client)
        };
        for e in events.drain(..) {
            if let Event::Data {
                id: got,
                data,
                end_stream,
            } = e
            {
                assert_eq!(got, id);
                received.extend_from_slice(&data);
                receiver.release_capacity(id, data.len());
                done |= end_stream;
            }
        }
    }
    assert!(rounds > 10, "a 10 MiB body takes many windows");
    received
}

#[test]
fn ten_mib_each_way_split_by_flow_control() {
    let mut p = Pair::new(Config::new(), Config::new());
    let upload: Vec<u8> = (0..10 << 20).map(|i: u32| (i % 251) as u8).collect();
    let id = p
        .client
        .send_request(&Request::new(b"POST", b"https", b"x", b"/up"), &[], false)
        .unwrap();
    let got = stream_body(&mut p, id, &upload, true);
    assert!(got == upload, "upload corrupted");
    p.server.send_headers(id, 200, &[], false).unwrap();
    let got = stream_body(&mut p, id, &upload, false);
    assert!(got == upload, "download corrupted");
    assert_eq!((p.client.open_streams(), p.server.open_streams()), (0, 0));
}

#[test]
fn data_frames_respect_the_peers_max_frame_size_and_window() {
    let mut p = Pair::new(Config::new().max_frame_size(20_000), Config::new());
    let id = p.client.send_request(&get(b"/"), &[], true).unwrap();
    p.drive();
    // The client's default 1 MiB stream window: the server may send that much.
    assert_eq!(
        p.server.send_capacity(id),
        256 * 1024,
        "bounded by the send buffer"
    );
    p.server.send_headers(id, 200, &[], false).unwrap();
    let mut out = Vec::new();
    p.server.poll_output(&mut out);
    let body = vec![0u8; 100_000];
    assert_eq!(p.server.send_data(id, &body, false).unwrap(), 100_000);
    p.server.poll_output(&mut out);
    let frames = parse(&out, &mut flare_hpack::Decoder::new());
    let sizes: Vec<usize> = frames
        .iter()
        .filter_map(|f| {
            if let Out::Data { len, .. } = f {
                Some(*len)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(sizes, vec![20_000; 5]);
}

#[test]
fn send_data_holds_when_the_window_is_empty_and_reports_send_ready() {
    let client = Config::new()
        .initial_stream_window(1000)
        .initial_connection_window(65_535);
    let mut p = Pair::new(client, Config::new());
    let id = p.client.send_request(&get(b"/"), &[], true).unwrap();
    p.drive();
    p.server.send_headers(id, 200, &[], false).unwrap();
    assert_eq!(p.server.send_data(id, &[1; 3000], false).unwrap(), 1000);
    assert_eq!(p.server.send_capacity(id), 0);
    assert_eq!(p.server.send_data(id, &[1; 3000], false).unwrap(), 0);
    p.drive();
    p.server_events.clear();
    let got: usize = p
        .client_events
        .iter()
        .map(|e| {
            if let Event::Data { data, .. } = e {
                data.len()
            } else {
                0
            }
        })
        .sum();
    assert_eq!(got, 1000);
    p.client.release_capacity(id, 1000);
    p.drive();
    assert!(
        p.server_events.contains(&Event::SendReady { id }),
        "{:?}",
        p.server_events
    );
    assert_eq!(p.server.send_capacity(id), 1000);
}

#[test]
fn peer_initial_window_change_adjusts_open_streams_and_may_go_negative() {
    let mut r = Raw::new(Config::new());
    let b = r.get(1, true);
    r.send(&b);
    r.server
        .send_headers(StreamId::new(1), 200, &[], false)
        .unwrap();
    assert_eq!(
        r.server
            .send_data(StreamId::new(1), &[0; 60_000], false)
            .unwrap(),
        60_000
    );
    r.send(&settings(&[(SettingId::InitialWindowSize, 1000)]));
    // 1000 - 60,000: negative, nothing may be sent.
    assert_eq!(r.server.send_capacity(StreamId::new(1)), 0);
    r.send(&window_update(1, 59_000));
    assert_eq!(r.server.send_capacity(StreamId::new(1)), 0);
    r.send(&window_update(1, 10));
    assert_eq!(r.server.send_capacity(StreamId::new(1)), 10);
    r.send(&settings(&[(SettingId::InitialWindowSize, 2000)]));
    assert_eq!(r.server.send_capacity(StreamId::new(1)), 1010);
    // Raising it past 2^31-1 for an open stream is a FLOW_CONTROL_ERROR.
    r.send(&window_update(1, 0x7fff_0000));
    r.expect_goaway(
        &settings(&[(SettingId::InitialWindowSize, 0x7fff_ffff)]),
        ErrorCode::FlowControlError,
    );
}

#[test]
fn trailers_both_ways() {
    let mut p = Pair::new(Config::new(), Config::new());
    let id = p
        .client
        .send_request(
            &Request::new(b"POST", b"https", b"x", b"/rpc"),
            &[(b"te", b"trailers")],
            false,
        )
        .unwrap();
    p.client.send_data(id, b"request", false).unwrap();
    p.client
        .send_trailers(id, &[(b"x-checksum", b"abc"), (b":path", b"/dropped")])
        .unwrap();
    p.drive();
    let events = std::mem::take(&mut p.server_events);
    assert!(
        matches!(
            &events[..],
            [
                Event::Headers {
                    end_stream: false,
                    ..
                },
                Event::Data {
                    end_stream: false,
                    ..
                },
                Event::Trailers { .. }
            ]
        ),
        "{events:?}"
    );
    let Event::Trailers { fields, .. } = &events[2] else {
        unreachable!()
    };
    assert_eq!(fields, &vec![(b"x-checksum".to_vec(), b"abc".to_vec())]);
    p.server.send_headers(id, 200, &[], false).unwrap();
    p.server.send_data(id, b"response", false).unwrap();
    p.server
        .send_trailers(id, &[(b"grpc-status", b"0")])
        .unwrap();
    assert_eq!(
        p.server.send_data(id, b"late", false),
        Err(StreamError::UnknownStream(id))
    );
    p.drive();
    let Some(Event::Trailers { fields, .. }) = p.client_events.last() else {
        panic!("{:?}", p.client_events)
    };
    assert_eq!(fields, &vec![(b"grpc-status".to_vec(), b"0".to_vec())]);
    assert_eq!((p.client.open_streams(), p.server.open_streams()), (0, 0));
}

/// RFC 9110 section 6.5: fields that must not be trailers do not make the message
/// refused. Framing, routing, control and authentication fields are dropped; the
/// descriptive ones (`content-type`, `vary`) stay trailers, apart from the head.
#[test]
fn trailers_that_must_not_be_trailers_are_dropped_or_kept_apart() {
    let mut p = Pair::new(Config::new(), Config::new());
    let id = p
        .client
        .send_request(
            &Request::new(b"POST", b"https", b"x", b"/rpc"),
            &[(b"content-type", b"application/json")],
            false,
        )
        .unwrap();
    p.client.send_data(id, b"request", false).unwrap();
    p.client
        .send_trailers(
            id,
            &[
                (b"content-type", b"text/plain"),
                (b"authorization", b"Basic eA=="),
                (b"content-length", b"999"),
                (b"host", b"evil"),
                (b"cache-control", b"no-store"),
                (b"te", b"trailers"),
                (b"cookie", b"a=b"),
                (b"if-match", b"\"x\""),
                (b"vary", b"*"),
                (b"x-checksum", b"abc"),
            ],
        )
        .unwrap();
    p.drive();
    let events = std::mem::take(&mut p.server_events);
    let [Event::Headers { head, .. }, Event::Data { .. }, Event::Trailers { fields, .. }] =
        &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(
        head.fields,
        vec![(b"content-type".to_vec(), b"application/json".to_vec())]
    );
    let kept: Vec<(&[u8], &[u8])> = fields
        .iter()
        .map(|(n, v)| (n.as_slice(), v.as_slice()))
        .collect();
    assert_eq!(
        kept,
        vec![
            (&b"content-type"[..], &b"text/plain"[..]),
            (b"vary", b"*"),
            (b"x-checksum", b"abc"),
        ]
    );
    // The stream is answered as usual.
    p.server.send_headers(id, 200, &[], true).unwrap();
    p.drive();
    assert_eq!((p.client.open_streams(), p.server.open_streams()), (0, 0));
}

#[test]
fn informational_responses_precede_the_final_head() {
    let mut p = Pair::new(Config::new(), Config::new());
    let id = p
        .client
        .send_request(
            &Request::new(b"POST", b"https", b"x", b"/"),
            &[(b"expect", b"100-continue")],
            false,
        )
        .unwrap();
    p.drive();
    p.server.send_headers(id, 100, &[], false).unwrap();
    assert_eq!(
        p.server.send_headers(id, 103, &[], true),
        Err(StreamError::InvalidStatus(103))
    );
    p.server
        .send_headers(id, 103, &[(b"link", b"</a.css>")], false)
        .unwrap();
    p.server.send_headers(id, 200, &[], false).unwrap();
    assert_eq!(
        p.server.send_headers(id, 200, &[], false),
        Err(StreamError::HeadState(id))
    );
    p.drive();
    let statuses: Vec<_> = p
        .client_events
        .iter()
        .filter_map(|e| {
            if let Event::Headers { head, .. } = e {
                head.status
            } else {
                None
            }
        })
        .collect();
    assert_eq!(statuses, vec![100, 103, 200]);
}

#[test]
fn early_response_stops_the_request_body() {
    let mut p = Pair::new(Config::new(), Config::new());
    let id = p
        .client
        .send_request(&Request::new(b"POST", b"https", b"x", b"/"), &[], false)
        .unwrap();
    p.client.send_data(id, &[1; 100], false).unwrap();
    p.drive();
    p.server.send_headers(id, 413, &[], true).unwrap();
    assert_eq!(p.server.open_streams(), 0);
    // Data the client sends before seeing the reset is ignored.
    p.client.send_data(id, &[1; 100], false).unwrap();
    p.drive();
    assert!(
        p.client_events.contains(&Event::StreamReset {
            id,
            code: ErrorCode::NoError,
            by_peer: true
        }),
        "{:?}",
        p.client_events
    );
    assert_eq!(p.client.open_streams(), 0);
}

#[test]
fn client_role_rules() {
    let mut p = Pair::new(Config::new(), Config::new().max_concurrent_streams(2));
    assert_eq!(
        p.server.send_request(&get(b"/"), &[], true),
        Err(StreamError::WrongRole)
    );
    assert_eq!(
        p.client.send_headers(StreamId::new(1), 200, &[], true),
        Err(StreamError::WrongRole)
    );
    let a = p.client.send_request(&get(b"/a"), &[], false).unwrap();
    let b = p.client.send_request(&get(b"/b"), &[], false).unwrap();
    assert_eq!((a.value(), b.value()), (1, 3));
    assert_eq!(
        p.client.send_request(&get(b"/c"), &[], false),
        Err(StreamError::TooManyStreams)
    );
    p.client.reset_stream(a, ErrorCode::Cancel);
    let c = p.client.send_request(&get(b"/c"), &[], true).unwrap();
    assert_eq!(c.value(), 5);
    p.drive();
    // Opened and reset within one read: the server application never sees it.
    let about_a = |e: &Event| matches!(e, Event::Headers { id, .. } | Event::StreamReset { id, .. } if *id == a);
    assert!(
        !p.server_events.iter().any(about_a),
        "{:?}",
        p.server_events
    );
    assert_eq!(p.server_events.len(), 2, "{:?}", p.server_events);
}

#[test]
fn goaway_from_the_server_fails_streams_above_last_id() {
    let mut p = Pair::new(Config::new(), Config::new());
    let a = p.client.send_request(&get(b"/a"), &[], true).unwrap();
    p.drive();
    let b = p.client.send_request(&get(b"/b"), &[], true).unwrap();
    // The server's GOAWAY(1) crosses the client's second request.
    let mut out = Vec::new();
    p.client.poll_output(&mut out);
    let mut g = Vec::new();
    flare_h2::frame::GoAway {
        last_stream_id: a,
        code: ErrorCode::NoError,
        debug: b"bye",
    }
    .encode(&mut g);
    p.client.recv(&g, p.now).unwrap();
    let events: Vec<_> = std::iter::from_fn(|| p.client.poll_event()).collect();
    assert_eq!(
        events,
        vec![
            Event::GoAway {
                last_stream_id: a,
                code: ErrorCode::NoError,
                debug: b"bye".to_vec()
            },
            Event::StreamReset {
                id: b,
                code: ErrorCode::RefusedStream,
                by_peer: true
            },
        ]
    );
    assert_eq!(
        p.client.send_request(&get(b"/c"), &[], true),
        Err(StreamError::GoingAway)
    );
    assert_eq!(p.client.open_streams(), 1);
}

#[test]
fn graceful_shutdown_two_stage_goaway() {
    let mut p = Pair::new(Config::new(), Config::new());
    let a = p.client.send_request(&get(b"/slow"), &[], true).unwrap();
    p.drive();
    p.server_events.clear();
    p.server.shutdown(p.now);
    let mut out = Vec::new();
    p.server.poll_output(&mut out);
    let frames = parse(&out, &mut flare_hpack::Decoder::new());
    assert_eq!(
        frames,
        vec![
            Out::GoAway {
                last: 0x7fff_ffff,
                code: ErrorCode::NoError
            },
            Out::Ping {
                ack: false,
                payload: *b"flare-sd"
            }
        ]
    );
    // A request already in flight when the first GOAWAY was sent.
    let b = p.client.send_request(&get(b"/in-flight"), &[], true);
    assert_eq!(
        b,
        Ok(StreamId::new(3)),
        "the client has not seen the GOAWAY yet"
    );
    let mut req = Vec::new();
    p.client.poll_output(&mut req);
    p.server.recv(&req, p.now).unwrap();
    p.client.recv(&out, p.now).unwrap();
    p.drive();
    // The second GOAWAY names stream 3, and both streams are served.
    assert!(!p.server.is_closed());
    let heads = p
        .server_events
        .iter()
        .filter(|e| matches!(e, Event::Headers { .. }))
        .count();
    assert_eq!(heads, 1, "stream 3 arrived: {:?}", p.server_events);
    let goaways: Vec<_> = p
        .client_events
        .iter()
        .filter_map(|e| {
            if let Event::GoAway { last_stream_id, .. } = e {
                Some(last_stream_id.value())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(goaways, vec![0x7fff_ffff, 3]);
    // Streams above 3 are refused by the client itself now.
    assert_eq!(
        p.client.send_request(&get(b"/new"), &[], true),
        Err(StreamError::GoingAway)
    );
    p.server.send_headers(a, 200, &[], true).unwrap();
    assert!(!p.server.is_closed());
    p.server
        .send_headers(StreamId::new(3), 200, &[], true)
        .unwrap();
    assert!(p.server.is_closed(), "closed once the last stream finished");
    p.drive();
    assert_eq!(p.client.open_streams(), 0);
    assert!(p.client.is_closed());
}

#[test]
fn graceful_shutdown_without_ping_ack_times_out() {
    let mut r = Raw::new(Config::new().shutdown_timeout(Duration::from_secs(2)));
    let b = r.get(1, true);
    r.send(&b);
    r.output();
    assert_eq!(r.events().len(), 1);
    let start = r.now;
    r.server.shutdown(start);
    r.output();
    assert_eq!(
        r.server.poll_timeout(),
        Some(start + Duration::from_secs(2))
    );
    r.server.handle_timeout(start + Duration::from_secs(2));
    assert_eq!(
        r.output(),
        vec![Out::GoAway {
            last: 1,
            code: ErrorCode::NoError
        }]
    );
    // New streams after the final GOAWAY are ignored.
    let b = r.get(5, true);
    r.send(&b);
    assert!(r
        .events()
        .iter()
        .all(|e| !matches!(e, Event::Headers { .. })));
    r.server
        .send_headers(StreamId::new(1), 200, &[], true)
        .unwrap();
    assert!(r.server.is_closed());
}

#[test]
fn client_goaway_lets_the_server_finish_and_close() {
    let mut p = Pair::new(Config::new(), Config::new());
    let a = p.client.send_request(&get(b"/"), &[], true).unwrap();
    p.drive();
    p.client.shutdown(p.now);
    p.drive();
    assert!(p
        .server_events
        .iter()
        .any(|e| matches!(e, Event::GoAway { .. })));
    assert!(!p.server.is_closed());
    p.server.send_headers(a, 200, &[], true).unwrap();
    assert!(p.server.is_closed());
}

#[test]
fn h2c_upgrade_makes_the_request_stream_1() {
    let mut payload = Vec::new();
    for (id, v) in [(4u16, 1000u32), (3, 50)] {
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&v.to_be_bytes());
    }
    let mut r = Raw::bare(Config::new(), std::time::Instant::now());
    r.server = flare_h2::Connection::server_upgrade(Config::new(), &payload, r.now).unwrap();
    let mut hello = PREFACE.to_vec();
    hello.extend(settings(&[]));
    r.send(&hello);
    assert!(r.result.is_ok());
    assert_eq!(r.server.open_streams(), 1);
    let one = StreamId::new(1);
    // The upgrade's settings apply: a 1000-octet window for stream 1.
    r.server.send_headers(one, 200, &[], false).unwrap();
    assert_eq!(r.server.send_capacity(one), 1000);
    assert_eq!(r.server.send_data(one, &[0; 1000], true).unwrap(), 1000);
    assert_eq!(r.server.open_streams(), 0);
    let out = r.output();
    assert!(
        out.contains(&Out::Headers {
            id: 1,
            end_stream: false,
            end_headers: true,
            fields: vec![(b":status".to_vec(), b"200".to_vec())]
        }),
        "{out:?}"
    );
    // Stream 1 is used: the client continues at 3.
    let b = r.get(1, true);
    r.expect_goaway(&b, ErrorCode::StreamClosed);
}

#[test]
fn h2c_upgrade_rejects_bad_settings() {
    let bad = [0, 4, 0x80, 0, 0, 0];
    assert_eq!(
        flare_h2::Connection::server_upgrade(Config::new(), &bad, std::time::Instant::now())
            .err()
            .map(|e| e.code()),
        Some(ErrorCode::FlowControlError)
    );
    assert_eq!(
        flare_h2::Connection::server_upgrade(Config::new(), &[0; 5], std::time::Instant::now())
            .err()
            .map(|e| e.code()),
        Some(ErrorCode::ProtocolError)
    );
}

#[test]
fn ten_thousand_streams_leave_nothing_behind() {
    let mut p = Pair::new(Config::new(), Config::new());
    for i in 0..10_000u32 {
        let id = p.client.send_request(&get(b"/"), &[], i % 2 == 0).unwrap();
        if i % 2 == 1 {
            p.client.send_data(id, b"body", true).unwrap();
        }
        if i % 100 == 99 {
            p.drive();
            for e in std::mem::take(&mut p.server_events) {
                if let Event::Headers { id, .. } = e {
                    match p.server.send_headers(id, 200, &[], false) {
                        Ok(()) => assert_eq!(p.server.send_data(id, b"ok", true), Ok(2)),
                        // Reset by the client before the answer.
                        Err(e) => assert_eq!(e, StreamError::UnknownStream(id)),
                    }
                }
            }
            p.drive();
            p.client_events.clear();
        }
        if i % 1000 == 7 {
            // A few the client gives up on.
            p.client.reset_stream(id, ErrorCode::Cancel);
        }
    }
    p.drive();
    assert_eq!(p.server.open_streams(), 0);
    assert_eq!(p.client.open_streams(), 0);
    assert!(p.server.remembered_streams() <= 128);
    assert!(p.client.remembered_streams() <= 128);
}

#[test]
fn goaway_last_stream_id_never_increases() {
    let mut r = Raw::new(Config::new());
    let b = r.get(1, false);
    r.send(&b);
    r.server.shutdown(r.now);
    r.server.handle_timeout(r.now + Duration::from_secs(5));
    let out = r.output();
    assert_eq!(
        out.last(),
        Some(&Out::GoAway {
            last: 1,
            code: ErrorCode::NoError
        })
    );
    // Stream 5 arrives after the final GOAWAY and is ignored; a connection
    // error afterwards still names stream 1.
    let b = r.get(5, true);
    r.send(&b);
    r.send(&window_update(0, 0));
    assert_eq!(
        r.output(),
        vec![Out::GoAway {
            last: 1,
            code: ErrorCode::ProtocolError
        }]
    );
    assert!(r.server.is_closed());
}

/// An RFC 8441 extended CONNECT for a WebSocket.
fn ws_connect() -> Request<'static> {
    Request {
        protocol: Some(b"websocket"),
        ..Request::new(b"CONNECT", b"https", b"example.com", b"/chat")
    }
}

#[test]
fn extended_connect_waits_for_the_servers_setting_then_carries_data_both_ways() {
    // Before the server's SETTINGS the client knows nothing and may not send
    // :protocol (RFC 8441 section 3).
    let mut early = flare_h2::Connection::client(Config::new(), std::time::Instant::now());
    assert!(!early.peer_settings_received());
    assert!(!early.peer_enable_connect_protocol());
    assert_eq!(
        early.send_request(&ws_connect(), &[], false),
        Err(StreamError::ConnectProtocolDisabled)
    );

    let mut p = Pair::new(Config::new(), Config::new().enable_connect_protocol(true));
    assert!(p.client.peer_settings_received());
    assert!(p.client.peer_enable_connect_protocol());
    // :protocol belongs to CONNECT only (section 4).
    let get_ws = Request {
        protocol: Some(b"websocket"),
        ..get(b"/")
    };
    assert_eq!(
        p.client.send_request(&get_ws, &[], false),
        Err(StreamError::ConnectProtocolDisabled)
    );
    let id = p
        .client
        .send_request(&ws_connect(), &[(b"sec-websocket-version", b"13")], false)
        .unwrap();
    p.drive();
    let [Event::Headers {
        id: sid,
        head,
        end_stream: false,
    }] = p.server_events.as_slice()
    else {
        panic!("{:?}", p.server_events)
    };
    let sid = *sid;
    assert_eq!(head.method, b"CONNECT");
    assert_eq!(head.protocol.as_deref(), Some(&b"websocket"[..]));
    assert_eq!(head.path, b"/chat");
    p.server_events.clear();
    p.server.send_headers(sid, 200, &[], false).unwrap();
    p.drive();
    assert!(matches!(
        p.client_events.as_slice(),
        [Event::Headers { head, end_stream: false, .. }] if head.status == Some(200)
    ));
    p.client_events.clear();
    // Past both windows each way, then each side ends its half.
    let body: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
    assert_eq!(stream_body(&mut p, id, &body, true), body);
    assert_eq!(
        p.client.open_streams(),
        1,
        "the server's half is still open"
    );
    assert_eq!(stream_body(&mut p, sid, &body, false), body);
    assert_eq!((p.client.open_streams(), p.server.open_streams()), (0, 0));
}

#[test]
fn extended_connect_is_refused_locally_when_the_server_does_not_enable_it() {
    let mut p = Pair::new(Config::new(), Config::new());
    assert!(p.client.peer_settings_received());
    assert!(!p.client.peer_enable_connect_protocol());
    assert_eq!(
        p.client.send_request(&ws_connect(), &[], false),
        Err(StreamError::ConnectProtocolDisabled)
    );
    // Nothing was sent and the connection is fine for ordinary requests.
    assert!(!p.client.wants_output());
    assert_eq!(p.client.open_streams(), 0);
    p.client.send_request(&get(b"/"), &[], true).unwrap();
    p.drive();
    assert!(matches!(
        p.server_events.as_slice(),
        [Event::Headers { .. }]
    ));
}
