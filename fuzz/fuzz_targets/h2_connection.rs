//! Fuzz the HTTP/2 connection state machine with arbitrary bytes, in either
//! role, split at arbitrary points, with an application that answers
//! requests, consumes data, resets streams and shuts down. Nothing may
//! panic, our output must always be well-formed frames, and after a
//! connection error the connection stays closed.
//!
//! Input layout: byte 0 selects the role and options, byte 1 the read
//! size; the rest is what the peer sends (a server is given the preface
//! and a SETTINGS frame first so the fuzzer reaches the frame handlers).
#![no_main]

use std::time::{Duration, Instant};

use flare_h2::frame::Frame;
use flare_h2::{Config, Connection, ErrorCode, Event, Request, PREFACE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [control, split, rest @ ..] = data else { return };
    let now = Instant::now();
    let config = Config::new()
        .max_concurrent_streams(8)
        .initial_stream_window(if control & 2 != 0 { 100 } else { 1 << 20 })
        .enable_connect_protocol(control & 4 != 0)
        .max_header_list_size(if control & 8 != 0 { 200 } else { 16 * 1024 });
    let client = control & 1 != 0;
    let mut conn = if client {
        let mut c = Connection::client(config, now);
        let _ = c.send_request(&Request::new(b"POST", b"http", b"x", b"/"), &[], false);
        let _ = c.send_request(&Request::new(b"GET", b"http", b"x", b"/"), &[(b"te", b"trailers")], true);
        c
    } else {
        Connection::server(config, now)
    };
    let mut input = Vec::with_capacity(rest.len() + 33);
    if !client && control & 16 == 0 {
        input.extend_from_slice(PREFACE);
        input.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    }
    input.extend_from_slice(rest);
    let split = usize::from(*split).max(1);
    let mut out = Vec::new();
    let mut step = 0u32;
    for piece in input.chunks(split) {
        step += 1;
        let t = now + Duration::from_millis(u64::from(step) * 100);
        let failed = conn.recv(piece, t).is_err();
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Headers { id, end_stream, .. } if !client => {
                    if step % 3 == 0 {
                        conn.reset_stream(id, ErrorCode::Cancel);
                    } else {
                        let _ = conn.send_headers(id, 200, &[(b"x", b"y")], false);
                        let _ = conn.send_data(id, &[0; 3000], end_stream);
                        if !end_stream && step % 2 == 0 {
                            let _ = conn.send_trailers(id, &[(b"t", b"1")]);
                        }
                    }
                }
                Event::Data { id, data, .. } => conn.release_capacity(id, data.len()),
                Event::SendReady { id } => {
                    let _ = conn.send_data(id, &[1; 100], true);
                }
                _ => {}
            }
        }
        if step == 20 {
            conn.shutdown(t);
        }
        conn.handle_timeout(t);
        conn.poll_output(&mut out);
        let mut pos = if out.starts_with(PREFACE) { PREFACE.len() } else { 0 };
        while let Some((_, used)) = Frame::decode(&out[pos..], 1 << 24).expect("our output decodes") {
            pos += used;
        }
        assert_eq!(pos, out.len(), "our output is whole frames");
        out.clear();
        if failed {
            assert!(conn.is_closed());
            assert!(conn.recv(b"x", t).is_err());
            break;
        }
        assert!(conn.open_streams() <= 8 + 2);
    }
});
