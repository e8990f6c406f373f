//! Every limit against a known HTTP/2 attack, at its limit (accepted) and
//! one past it (GOAWAY ENHANCE_YOUR_CALM or the stated answer).

mod common;

use std::time::Duration;

use common::*;
use flare_h2::frame::SettingId;
use flare_h2::{Config, ErrorCode, Event, StreamId};

fn calm(r: &mut Raw, bytes: &[u8]) {
    r.expect_goaway(bytes, ErrorCode::EnhanceYourCalm);
}

/// HEADERS + RST_STREAM pairs for `n` new streams from `first`.
fn open_and_reset(r: &mut Raw, first: u32, n: u32) -> Vec<u8> {
    let mut b = Vec::new();
    for i in 0..n {
        let id = first + 2 * i;
        b.extend(r.get(id, false));
        b.extend(rst(id, ErrorCode::Cancel));
    }
    b
}

#[test]
fn rapid_reset_default_cap_is_20_pending() {
    let mut r = Raw::new(Config::new());
    let b = open_and_reset(&mut r, 1, 20);
    r.send(&b);
    assert!(r.result.is_ok());
    let b = open_and_reset(&mut r, 41, 1);
    calm(&mut r, &b);
}

#[test]
fn rapid_reset_allows_resets_interleaved_with_served_requests() {
    let mut r = Raw::new(Config::new().max_pending_reset_streams(5));
    let mut next = 1;
    for _ in 0..10 {
        let b = open_and_reset(&mut r, next, 5);
        next += 10;
        r.send(&b);
        assert!(r.result.is_ok());
        // Streams opened and reset within one read never reach the
        // application.
        assert_eq!(r.events(), vec![]);
        // Five requests it does take pay the five resets back.
        for _ in 0..5 {
            let b = r.get(next, true);
            next += 2;
            r.send(&b);
        }
        assert_eq!(r.events().len(), 5);
    }
    let b = open_and_reset(&mut r, next, 5);
    r.send(&b);
    assert!(r.result.is_ok());
    let b = open_and_reset(&mut r, next + 10, 1);
    calm(&mut r, &b);
}

#[test]
fn streams_the_application_saw_are_reset_with_an_event_and_not_counted() {
    let mut r = Raw::new(Config::new().max_pending_reset_streams(2));
    for i in 0..5u32 {
        let id = 1 + 2 * i;
        let b = r.get(id, false);
        r.send(&b);
        assert!(matches!(r.events().as_slice(), [Event::Headers { .. }]));
        r.send(&rst(id, ErrorCode::Cancel));
        assert_eq!(
            r.events(),
            vec![Event::StreamReset {
                id: StreamId::new(id),
                code: ErrorCode::Cancel,
                by_peer: true
            }]
        );
    }
    assert!(r.result.is_ok());
}

#[test]
fn answered_streams_do_not_count_as_rapid_resets() {
    let mut r = Raw::new(Config::new().max_pending_reset_streams(2));
    for i in 0..5u32 {
        let id = 1 + 2 * i;
        let b = r.get(id, false);
        r.send(&b);
        r.server
            .send_headers(StreamId::new(id), 200, &[], false)
            .unwrap();
        r.send(&rst(id, ErrorCode::Cancel));
    }
    assert!(r.result.is_ok());
}

#[test]
fn new_streams_per_read_are_capped() {
    let mut r = Raw::new(
        Config::new()
            .max_new_streams_per_recv(10)
            .max_concurrent_streams(1000),
    );
    let mut b = Vec::new();
    for i in 0..10 {
        b.extend(r.get(1 + 2 * i, true));
    }
    r.send(&b);
    assert!(r.result.is_ok());
    let mut b = Vec::new();
    for i in 10..21 {
        b.extend(r.get(1 + 2 * i, true));
    }
    calm(&mut r, &b);
}

#[test]
fn new_streams_per_read_default_is_256() {
    let mut r = Raw::new(Config::new());
    let mut b = Vec::new();
    for i in 0..256 {
        b.extend(r.get(1 + 2 * i, true));
    }
    r.send(&b);
    assert!(r.result.is_ok(), "{:?}", r.result);
    // Beyond 128 concurrent they were refused, not a connection error.
    assert_eq!(r.server.open_streams(), 128);
    let mut b = Vec::new();
    for i in 256..513 {
        b.extend(r.get(1 + 2 * i, true));
    }
    calm(&mut r, &b);
}

#[test]
fn concurrent_streams_at_and_over_the_default_128() {
    let mut r = Raw::new(Config::new());
    for i in 0..128 {
        let b = r.get(1 + 2 * i, false);
        r.send(&b);
    }
    assert!(r.output().iter().all(|o| !matches!(o, Out::Rst { .. })));
    let b = r.get(257, false);
    r.expect_rst(&b, 257, ErrorCode::RefusedStream);
}

/// Streams the peer provokes us to reset (MadeYouReset): WINDOW_UPDATE 0
/// on a fresh stream, one per read.
fn provoke_resets(r: &mut Raw, n: u32, first: u32) {
    for i in 0..n {
        let id = first + 2 * i;
        let mut b = r.get(id, false);
        b.extend(window_update(id, 0));
        r.send(&b);
        assert!(r.result.is_ok(), "reset {i}: {:?}", r.result);
    }
}

#[test]
fn made_you_reset_cap() {
    let mut r = Raw::new(Config::new().max_local_resets(5));
    provoke_resets(&mut r, 5, 1);
    let mut b = r.get(11, false);
    b.extend(window_update(11, 0));
    calm(&mut r, &b);
}

#[test]
fn made_you_reset_default_cap_is_1024() {
    let mut r = Raw::new(Config::new());
    provoke_resets(&mut r, 1024, 1);
    r.output();
    let mut b = r.get(2049, false);
    b.extend(window_update(2049, 0));
    calm(&mut r, &b);
}

#[test]
fn continuation_flood_frame_count() {
    for (limit, config) in [
        (16, Config::new()),
        (3, Config::new().max_continuation_frames(3)),
    ] {
        let mut r = Raw::new(config.clone());
        let mut b = raw_frame(1, 0x1, 1, &[0x82]);
        for _ in 0..limit {
            b.extend(continuation(1, &[], false));
        }
        r.send(&b);
        assert!(r.result.is_ok(), "{limit} continuations are allowed");
        calm(&mut r, &continuation(1, &[], false));

        let mut r = Raw::new(config);
        let mut b = raw_frame(1, 0x1, 1, &[0x82, 0x86]);
        for _ in 0..limit - 1 {
            b.extend(continuation(1, &[], false));
        }
        b.extend(continuation(1, &[0x84, 0x41, 0x01, b'x'], true));
        r.send(&b);
        assert!(
            matches!(r.events().as_slice(), [Event::Headers { .. }]),
            "the block at the limit is processed"
        );
    }
}

#[test]
fn header_block_byte_cap() {
    let mut r = Raw::new(Config::new().max_header_block_bytes(1000));
    let mut b = raw_frame(1, 0x1, 1, &[0; 600]);
    b.extend(continuation(1, &[0; 400], false));
    r.send(&b);
    assert!(r.result.is_ok(), "1000 octets are allowed");
    calm(&mut r, &continuation(1, &[0; 1], false));
    // A single HEADERS frame over the cap.
    let mut r = Raw::new(Config::new().max_header_block_bytes(1000));
    calm(&mut r, &raw_frame(1, 0x1, 1, &[0; 1001]));
}

#[test]
fn header_block_byte_cap_default_is_64_kib() {
    let mut r = Raw::new(Config::new());
    let mut b = raw_frame(1, 0x1, 1, &[0; 16_384]);
    for _ in 0..3 {
        b.extend(continuation(1, &[0; 16_384], false));
    }
    r.send(&b);
    assert!(r.result.is_ok());
    calm(&mut r, &continuation(1, &[0; 1], false));
}

#[test]
fn hpack_bomb_431_then_goaway_past_four_times() {
    let mut r = Raw::new(Config::new().max_header_list_size(2000));
    // One 900-octet value enters the dynamic table; each reference to it
    // costs one octet on the wire and 938 in the decoded list.
    let value = vec![b'v'; 900];
    let b = r.headers(
        1,
        &[GET[0], GET[1], GET[2], GET[3], (b"x-bomb", &value)],
        true,
    );
    r.send(&b);
    assert!(matches!(r.events().as_slice(), [Event::Headers { .. }]));
    // Two references: over 2000, under 8000 -> 431.
    let b = r.headers(
        3,
        &[
            GET[0],
            GET[1],
            GET[2],
            GET[3],
            (b"x-bomb", &value),
            (b"x-bomb", &value),
        ],
        true,
    );
    assert!(b.len() < 100, "compressed to {} octets", b.len());
    r.send(&b);
    assert!(r.result.is_ok());
    assert!(r.events().is_empty());
    let out = r.output();
    assert!(
        out.iter()
            .any(|o| matches!(o, Out::Headers { id: 3, fields, .. } if fields[0].1 == b"431")),
        "{out:?}"
    );
    // Nine references: past 4x -> GOAWAY.
    let bomb: Vec<(&[u8], &[u8])> = vec![(b"x-bomb", &value); 9];
    let b = r.headers(5, &bomb, true);
    calm(&mut r, &b);
}

#[test]
fn hpack_bomb_default_limit_is_16_kib() {
    let mut r = Raw::new(Config::new());
    let value = vec![b'v'; 3000];
    let ok: Vec<(&[u8], &[u8])> = [&GET[..], &[(&b"x-b"[..], &value[..]); 5]].concat();
    let b = r.headers(1, &ok, true);
    r.send(&b);
    assert!(
        matches!(r.events().as_slice(), [Event::Headers { .. }]),
        "15 KiB is within 16 KiB"
    );
    let over: Vec<(&[u8], &[u8])> = [&GET[..], &[(&b"x-b"[..], &value[..]); 6]].concat();
    let b = r.headers(3, &over, true);
    r.send(&b);
    assert!(r.result.is_ok() && r.events().is_empty());
    let bomb: Vec<(&[u8], &[u8])> = vec![(b"x-b", &value); 22];
    let b = r.headers(5, &bomb, true);
    calm(&mut r, &b);
}

/// A flood budget: `limit` frames per window accepted, one more is
/// ENHANCE_YOUR_CALM; after the window the budget renews.
/// `spent` frames of the budget went into the handshake.
fn flood(config: Config, limit: u32, spent: u32, frame: impl Fn(&mut Raw, u32) -> Vec<u8>) {
    let mut r = Raw::new(config.clone());
    let b = r.get(1, false);
    r.send(&b);
    let mut b = Vec::new();
    for i in spent..limit {
        b.extend(frame(&mut r, i));
    }
    r.send(&b);
    assert!(r.result.is_ok(), "{:?}", r.result);
    r.output();
    r.advance(Duration::from_secs(10));
    let mut b = Vec::new();
    for i in 0..limit {
        b.extend(frame(&mut r, limit + i));
    }
    r.send(&b);
    assert!(
        r.result.is_ok(),
        "the budget renews each window: {:?}",
        r.result
    );
    let b = frame(&mut r, 2 * limit);
    calm(&mut r, &b);
}

#[test]
fn ping_flood() {
    flood(Config::new(), 100, 0, |_, _| ping(false, [1; 8]));
    flood(Config::new().ping_budget(3), 3, 0, |_, _| {
        ping(false, [1; 8])
    });
}

#[test]
fn settings_flood() {
    flood(Config::new(), 100, 1, |_, _| {
        settings(&[(SettingId::MaxConcurrentStreams, 10)])
    });
    flood(Config::new().settings_budget(3), 3, 1, |_, _| settings(&[]));
}

#[test]
fn empty_data_flood() {
    flood(Config::new(), 100, 0, |_, _| data(1, b"", false));
    flood(Config::new().empty_data_budget(3), 3, 0, |_, _| {
        data(1, b"", false)
    });
}

#[test]
fn priority_flood() {
    flood(Config::new(), 1000, 0, |_, i| {
        priority(3 + 2 * (i % 100), 1)
    });
    flood(
        Config::new()
            .priority_budget(3)
            .flood_window(Duration::from_secs(1)),
        3,
        0,
        |_, _| priority(3, 1),
    );
}
