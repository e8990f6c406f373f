//! Fuzz the WebSocket read path with permessage-deflate negotiated (or
//! not), in either role, split at arbitrary points. Nothing may panic; an
//! error queues a close frame with its code; everything the codec writes
//! is well-formed frames a peer codec accepts; output owed stays small.
//!
//! Input layout: byte 0 selects role and options, byte 1 the read size.
//! With option 0x40 the rest is raw DEFLATE data sent as a compressed
//! two-fragment message (so the fuzzer reaches the inflater at once);
//! otherwise the rest is what the peer sends.
#![no_main]

use std::time::{Duration, Instant};

use flare_ws::frame::{encode_header, apply_mask, FrameHeader, OpCode};
use flare_ws::{Config, DeflateParams, Role, WebSocket};
use libfuzzer_sys::fuzz_target;

fn frame(out: &mut Vec<u8>, fin: bool, rsv1: bool, opcode: OpCode, payload: &[u8], masked: bool) {
    let key = [0x11, 0x22, 0x33, 0x44];
    let mut h = FrameHeader::new(fin, opcode, masked.then_some(key), payload.len() as u64);
    h.rsv1 = rsv1;
    encode_header(&h, out);
    let start = out.len();
    out.extend_from_slice(payload);
    if masked {
        apply_mask(&mut out[start..], key, 0);
    }
}

fuzz_target!(|data: &[u8]| {
    let [control, split, rest @ ..] = data else { return };
    let role = if control & 1 != 0 { Role::Client } else { Role::Server };
    let deflate = (control & 2 != 0).then_some(DeflateParams {
        server_no_context_takeover: control & 4 != 0,
        client_no_context_takeover: control & 8 != 0,
        ..DeflateParams::default()
    });
    let config = Config::default()
        .max_message_size(if control & 16 != 0 { 100 } else { 1 << 20 })
        .max_fragments(8)
        .max_control_frames_per_sec(16)
        .auto_pong(control & 32 == 0);
    let mut ws = WebSocket::new(role, config, deflate);
    let masked = role == Role::Server;
    let input = if control & 0x40 != 0 {
        let (a, b) = rest.split_at(rest.len() / 2);
        let opcode = if control & 0x80 != 0 { OpCode::Text } else { OpCode::Binary };
        let mut v = Vec::new();
        frame(&mut v, false, deflate.is_some(), opcode, a, masked);
        frame(&mut v, true, false, OpCode::Continuation, b, masked);
        v
    } else {
        rest.to_vec()
    };
    let step = usize::from(*split).max(1);
    let now = Instant::now();
    let mut pending = Vec::new();
    let mut out = Vec::new();
    let mut failed = None;
    'outer: for (i, chunk) in input.chunks(step).enumerate() {
        pending.extend_from_slice(chunk);
        let t = now + Duration::from_millis(i as u64 * 50);
        loop {
            match ws.read(&mut pending, t) {
                Ok((used, ev)) => {
                    let done = used == 0 && ev.is_none();
                    pending.drain(..used);
                    let before = out.len();
                    ws.poll_output(&mut out);
                    assert!(out.len() - before <= 2 * (2 + 4 + 125), "bounded output per read");
                    if done {
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break 'outer;
                }
            }
        }
    }
    ws.poll_output(&mut out);
    if let Some(e) = failed {
        assert!(matches!(e.close_code(), 1002 | 1007 | 1008 | 1009));
        assert!(ws.is_closed());
    }
    let _ = ws.send_text("after", &mut out);
    ws.handle_timeout(now + Duration::from_secs(60));
    // What we wrote is accepted by a peer of the other role.
    let peer_role = if role == Role::Server { Role::Client } else { Role::Server };
    let mut peer = WebSocket::new(peer_role, Config::default(), None);
    let mut rest = &mut out[..];
    loop {
        match peer.read(rest, now) {
            Ok((0, None)) => break,
            Ok((n, _)) => rest = &mut rest[n..],
            Err(e) => panic!("our output is not valid: {e:?}"),
        }
    }
    assert!(rest.is_empty(), "our output ends on a frame boundary");
});
