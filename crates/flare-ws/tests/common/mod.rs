//! Helpers shared by the integration tests: a frame builder, owned events,
//! and a reader that feeds a codec in pieces the way a driver does.
#![allow(dead_code)]

use std::time::Instant;

use flare_ws::frame::{encode_header, FrameHeader, OpCode};
use flare_ws::{Error, Event, WebSocket};

/// An owned copy of an [`Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

impl From<Event<'_>> for Ev {
    fn from(e: Event<'_>) -> Self {
        match e {
            Event::Text(s) => Ev::Text(s.to_owned()),
            Event::Binary(b) => Ev::Binary(b.to_vec()),
            Event::Ping(b) => Ev::Ping(b.to_vec()),
            Event::Pong(b) => Ev::Pong(b.to_vec()),
            Event::Close { code, reason } => Ev::Close(code, reason.to_owned()),
        }
    }
}

pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// One frame: `mask` as a client would send it.
pub fn frame(
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> Vec<u8> {
    let mut h = FrameHeader::new(fin, opcode, mask, payload.len() as u64);
    h.rsv1 = rsv1;
    let mut out = Vec::new();
    encode_header(&h, &mut out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(k) = mask {
        flare_ws::frame::apply_mask(&mut out[start..], k, 0);
    }
    out
}

/// A masked (client-to-server) frame.
pub fn cframe(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    frame(fin, false, opcode, payload, Some(KEY))
}

/// A close payload.
pub fn close_body(code: u16, reason: &str) -> Vec<u8> {
    let mut v = code.to_be_bytes().to_vec();
    v.extend_from_slice(reason.as_bytes());
    v
}

/// Feeds `bytes` in pieces of `piece` bytes (0: all at once), collecting
/// events until the first error.
pub fn read_pieces(
    ws: &mut WebSocket,
    bytes: &[u8],
    piece: usize,
    now: Instant,
) -> (Vec<Ev>, Option<Error>) {
    let mut pending = Vec::new();
    let mut events = Vec::new();
    let piece = if piece == 0 {
        bytes.len().max(1)
    } else {
        piece
    };
    for chunk in bytes.chunks(piece) {
        pending.extend_from_slice(chunk);
        loop {
            match ws.read(&mut pending, now) {
                Ok((used, ev)) => {
                    let got = ev.map(Ev::from);
                    let done = used == 0 && got.is_none();
                    if let Some(e) = got {
                        events.push(e);
                    }
                    pending.drain(..used);
                    if done {
                        break;
                    }
                }
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
}

/// Like [`read_pieces`], with piece sizes taken from `pieces` in turn
/// (each at least 1).
pub fn read_varied(
    ws: &mut WebSocket,
    bytes: &[u8],
    pieces: &[usize],
    now: Instant,
) -> (Vec<Ev>, Option<Error>) {
    let mut pending = Vec::new();
    let mut events = Vec::new();
    let mut rest = bytes;
    let mut sizes = pieces.iter().copied().cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        pending.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match ws.read(&mut pending, now) {
                Ok((used, ev)) => {
                    let got = ev.map(Ev::from);
                    let done = used == 0 && got.is_none();
                    if let Some(e) = got {
                        events.push(e);
                    }
                    pending.drain(..used);
                    if done {
                        break;
                    }
                }
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
}

pub fn read_all(ws: &mut WebSocket, bytes: &[u8], now: Instant) -> (Vec<Ev>, Option<Error>) {
    read_pieces(ws, bytes, 0, now)
}

/// The close frame the codec queued (parsed from `poll_output`), as
/// `(code, reason)`; `None` if it queued no close.
pub fn queued_close(ws: &mut WebSocket, client_reads: bool) -> Option<(Option<u16>, String)> {
    let mut out = Vec::new();
    ws.poll_output(&mut out);
    let role = if client_reads {
        flare_ws::Role::Client
    } else {
        flare_ws::Role::Server
    };
    let mut peer = WebSocket::new(role, flare_ws::Config::default(), None);
    let (events, err) = read_all(&mut peer, &out, Instant::now());
    assert_eq!(err, None, "our own output parses");
    events.into_iter().find_map(|e| match e {
        Ev::Close(c, r) => Some((c, r)),
        _ => None,
    })
}
