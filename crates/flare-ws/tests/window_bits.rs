//! `server_max_window_bits` below 15: our compressor (miniz_oxide, which
//! always searches 32 KiB) must then emit only back-references within the
//! negotiated window. miniz's inflater cannot be limited to a window, so
//! the streams are decoded here by a small independent DEFLATE decoder
//! (RFC 1951) that reports the farthest distance used.
#![cfg(feature = "deflate")]

mod common;

use std::time::Instant;

use common::*;
use flare_ws::frame::{parse_header, Status};
use flare_ws::{Config, DeflateParams, Role, WebSocket};

/// LSB-first bit reader over a raw DEFLATE stream.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> u32 {
        let b = self.data[self.pos / 8] >> (self.pos % 8) & 1;
        self.pos += 1;
        u32::from(b)
    }

    fn bits(&mut self, n: u32) -> u32 {
        (0..n).fold(0, |v, i| v | self.bit() << i)
    }
}

/// A canonical Huffman code: codes per length and symbols in code order.
struct Huffman {
    count: [u16; 16],
    symbol: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Self {
        let mut count = [0u16; 16];
        for &l in lengths {
            count[l as usize] += 1;
        }
        count[0] = 0;
        let mut offs = [0u16; 16];
        for l in 1..16 {
            offs[l] = offs[l - 1] + count[l - 1];
        }
        let mut symbol = vec![0; lengths.len()];
        for (s, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbol[offs[l as usize] as usize] = s as u16;
                offs[l as usize] += 1;
            }
        }
        Huffman { count, symbol }
    }

    fn decode(&self, b: &mut Bits<'_>) -> u16 {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= b.bit() as i32;
            let count = i32::from(self.count[len]);
            if code - first < count {
                return self.symbol[(index + code - first) as usize];
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        panic!("bad Huffman code");
    }
}

const LBASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEXT: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DBASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DEXT: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// Decodes a raw DEFLATE stream that ends on a byte boundary (each message
/// ends with a sync flush); returns the output and the farthest distance
/// of any back-reference (0 if none).
fn inflate_checked(data: &[u8]) -> (Vec<u8>, usize) {
    let mut b = Bits { data, pos: 0 };
    let mut out: Vec<u8> = Vec::new();
    let mut max_dist = 0;
    while b.pos < data.len() * 8 {
        let _bfinal = b.bit();
        let (lit, dist) = match b.bits(2) {
            0 => {
                b.pos = b.pos.div_ceil(8) * 8;
                let len = b.bits(16) as usize;
                assert_eq!(b.bits(16) as usize, !len & 0xffff, "stored length");
                let start = b.pos / 8;
                out.extend_from_slice(&data[start..start + len]);
                b.pos += len * 8;
                continue;
            }
            1 => {
                let mut l = [8u8; 288];
                l[144..256].fill(9);
                l[256..280].fill(7);
                (Huffman::new(&l), Huffman::new(&[5; 30]))
            }
            2 => {
                let hlit = b.bits(5) as usize + 257;
                let hdist = b.bits(5) as usize + 1;
                let hclen = b.bits(4) as usize + 4;
                const ORDER: [usize; 19] = [
                    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
                ];
                let mut cl = [0u8; 19];
                for &i in &ORDER[..hclen] {
                    cl[i] = b.bits(3) as u8;
                }
                let clh = Huffman::new(&cl);
                let mut lengths = Vec::new();
                while lengths.len() < hlit + hdist {
                    match clh.decode(&mut b) {
                        s @ 0..=15 => lengths.push(s as u8),
                        16 => {
                            let prev = *lengths.last().expect("repeat with no previous");
                            let n = 3 + b.bits(2) as usize;
                            lengths.extend(std::iter::repeat(prev).take(n));
                        }
                        17 => {
                            let n = 3 + b.bits(3) as usize;
                            lengths.extend(std::iter::repeat(0).take(n));
                        }
                        _ => {
                            let n = 11 + b.bits(7) as usize;
                            lengths.extend(std::iter::repeat(0).take(n));
                        }
                    }
                }
                (
                    Huffman::new(&lengths[..hlit]),
                    Huffman::new(&lengths[hlit..]),
                )
            }
            _ => panic!("reserved block type"),
        };
        loop {
            let sym = lit.decode(&mut b) as usize;
            if sym < 256 {
                out.push(sym as u8);
                continue;
            }
            if sym == 256 {
                break;
            }
            let i = sym - 257;
            let len = LBASE[i] as usize + b.bits(u32::from(LEXT[i])) as usize;
            let d = dist.decode(&mut b) as usize;
            let distance = DBASE[d] as usize + b.bits(u32::from(DEXT[d])) as usize;
            assert!(distance <= out.len(), "distance before the stream start");
            max_dist = max_dist.max(distance);
            for _ in 0..len {
                out.push(out[out.len() - distance]);
            }
        }
    }
    (out, max_dist)
}

/// The payloads of the (unfragmented, compressed) frames in `wire`,
/// unmasked.
fn payloads(mut wire: &[u8]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    while !wire.is_empty() {
        let Ok(Status::Complete((h, n))) = parse_header(wire) else {
            panic!("bad frame")
        };
        assert!(h.fin && h.rsv1);
        let end = n + h.payload_len as usize;
        let mut p = wire[n..end].to_vec();
        if let Some(key) = h.mask {
            flare_ws::frame::apply_mask(&mut p, key, 0);
        }
        v.push(p);
        wire = &wire[end..];
    }
    v
}

/// Messages with long runs, strings that repeat far apart, and noise.
fn messages() -> Vec<Vec<u8>> {
    let text = b"The quick brown fox jumps over the lazy dog. ".repeat(300);
    let mut mixed = vec![b'a'; 5000];
    mixed.extend(text.iter().take(4000));
    let mut seed = 0x1234_5678_9abc_def1u64;
    mixed.extend((0..3000).map(|_| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as u8
    }));
    mixed.extend(std::iter::repeat(0u8).take(700));
    vec![text.clone(), mixed, text, vec![7; 40_000], b"x".to_vec()]
}

/// Sends `msgs` from a `tx` codec with `params`, checks every stream
/// decodes to the messages and the peer reads them back, and returns the
/// farthest back-reference over the whole connection's stream.
fn farthest_distance_from(
    tx: Role,
    config: Config,
    params: DeflateParams,
    msgs: &[Vec<u8>],
) -> usize {
    let config = config.compression_threshold(0);
    let rx = match tx {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let tx_nct = match tx {
        Role::Server => params.server_no_context_takeover,
        Role::Client => params.client_no_context_takeover,
    };
    let mut sender = WebSocket::new(tx, config.clone(), Some(params));
    let mut receiver = WebSocket::new(rx, config, Some(params));
    let mut far = 0;
    let mut stream = Vec::new();
    let mut want = Vec::new();
    for m in msgs {
        let mut wire = Vec::new();
        sender.send_binary(m, &mut wire).unwrap();
        let (events, err) = read_all(&mut receiver, &wire, Instant::now());
        assert_eq!((events, err), (vec![Ev::Binary(m.clone())], None));
        for p in payloads(&wire) {
            // RFC 7692 section 7.2.2: the receiver appends 00 00 ff ff.
            if tx_nct {
                stream.clear();
                want.clear();
            }
            stream.extend_from_slice(&p);
            stream.extend_from_slice(&[0, 0, 0xff, 0xff]);
        }
        want.extend_from_slice(m);
        let (out, d) = inflate_checked(&stream);
        let same = out.iter().zip(&want).take_while(|(a, b)| a == b).count();
        assert!(
            out == want,
            "the independent decoder agrees: {} vs {}, same {}",
            out.len(),
            want.len(),
            same
        );
        far = far.max(d);
    }
    far
}

fn farthest_distance(config: Config, params: DeflateParams, msgs: &[Vec<u8>]) -> usize {
    farthest_distance_from(Role::Server, config, params, msgs)
}

#[test]
fn the_checker_sees_far_distances_with_the_full_window() {
    // Sanity check of the checker: with 15 bits, miniz matches the
    // repeated text from far back.
    for level in [1, 6, 9] {
        let far = farthest_distance(
            Config::default().deflate_level(level),
            DeflateParams::default(),
            &messages(),
        );
        assert!(far > 256, "level {level}: farthest {far}");
    }
}

#[test]
fn restricted_window_streams_use_only_distances_within_it() {
    for bits in 8..=14u8 {
        for level in [0, 1, 2, 6, 9, 10] {
            for snct in [false, true] {
                let params = DeflateParams {
                    server_no_context_takeover: snct,
                    server_max_window_bits: bits,
                    ..DeflateParams::default()
                };
                let config = Config::default().deflate_level(level);
                let far = farthest_distance(config, params, &messages());
                // RLE: distance 1 only (level 0: stored, none).
                assert!(far <= 1, "{bits} bits, level {level}: distance {far}");
                assert!(far <= 1 << bits);
                if level > 0 {
                    assert_eq!(far, 1, "runs are still matched");
                }
            }
        }
    }
}

#[test]
fn restricted_window_still_compresses_runs() {
    let params = DeflateParams {
        server_max_window_bits: 8,
        ..DeflateParams::default()
    };
    let mut server = WebSocket::new(Role::Server, Config::default(), Some(params));
    let mut wire = Vec::new();
    server.send_binary(&[0u8; 100_000], &mut wire).unwrap();
    assert!(wire.len() < 2_000, "{} bytes", wire.len());
}

#[test]
fn a_client_told_a_small_window_keeps_to_it_too() {
    // We never offer client_max_window_bits, but the codec honours the
    // parameters it is given in either role.
    for cnct in [false, true] {
        let params = DeflateParams {
            client_max_window_bits: 9,
            client_no_context_takeover: cnct,
            ..DeflateParams::default()
        };
        let far = farthest_distance_from(Role::Client, Config::default(), params, &messages());
        assert_eq!(far, 1);
        let full = DeflateParams {
            client_no_context_takeover: cnct,
            ..DeflateParams::default()
        };
        let far = farthest_distance_from(Role::Client, Config::default(), full, &messages());
        assert!(far > 256, "{far}");
    }
}

/// The server's frame for `msg` from a new connection (no context
/// takeover; deterministic: a server does not mask).
fn server_frame(level: u8, params: DeflateParams, msg: &[u8]) -> Vec<u8> {
    let config = Config::default()
        .compression_threshold(0)
        .deflate_level(level);
    let mut server = WebSocket::new(Role::Server, config, Some(params));
    let mut wire = Vec::new();
    server.send_binary(msg, &mut wire).unwrap();
    wire
}

#[test]
fn pooled_compressors_are_reset_to_each_connections_flags() {
    // Compressors released after each message go to the thread's pool and
    // are reset for the next connection, which may have other flags: a
    // released RLE compressor (small window) is switched to the full
    // window, and one with the default strategy is never used where RLE
    // is needed. Each message must match what a fresh compressor (on a new
    // thread, with an empty pool) makes, byte for byte.
    let nct = |bits| DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: bits,
        ..DeflateParams::default()
    };
    let fresh = |level, bits, msg: Vec<u8>| {
        std::thread::spawn(move || {
            assert_eq!(flare_ws::deflate::pooled_states(), (0, 0));
            server_frame(level, nct(bits), &msg)
        })
        .join()
        .unwrap()
    };
    let want: Vec<Vec<Vec<u8>>> = [(6, 10), (6, 15), (1, 15), (2, 8), (9, 15), (0, 12)]
        .iter()
        .map(|&(level, bits)| {
            messages()
                .into_iter()
                .map(|m| fresh(level, bits, m))
                .collect()
        })
        .collect();
    std::thread::spawn(move || {
        for _ in 0..2 {
            for (i, &(level, bits)) in [(6, 10), (6, 15), (1, 15), (2, 8), (9, 15), (0, 12)]
                .iter()
                .enumerate()
            {
                let config = Config::default().deflate_level(level);
                let far = farthest_distance(config, nct(bits), &messages());
                match (level, bits) {
                    (0, _) => assert_eq!(far, 0),
                    (_, 15) => assert!(far > 256, "level {level}: {far}"),
                    _ => assert_eq!(far, 1, "level {level}, {bits} bits"),
                }
                for (m, w) in messages().iter().zip(&want[i]) {
                    assert!(
                        &server_frame(level, nct(bits), m) == w,
                        "level {level}, {bits} bits: same bytes as a fresh compressor"
                    );
                }
                let (c, d) = flare_ws::deflate::pooled_states();
                assert!((1..=4).contains(&c) && (1..=4).contains(&d), "{c} {d}");
            }
        }
    })
    .join()
    .unwrap();
}
