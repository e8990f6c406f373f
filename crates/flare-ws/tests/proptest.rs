//! Property tests: random messages, fragmented at random sizes, masked
//! and compressed, read back by the peer role in random-size pieces; and
//! arbitrary bytes never panic the reader.

mod common;

use std::time::Instant;

use common::*;
use flare_ws::{Config, DeflateParams, Role, WebSocket};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Msg {
    text: bool,
    data: Vec<u8>,
    /// Fragment lengths (the last fragment takes the rest).
    cuts: Vec<usize>,
}

fn msg() -> impl Strategy<Value = Msg> {
    let text = any::<String>().prop_map(|s| (true, s.into_bytes()));
    let repetitive = (any::<u8>(), 0..5000usize).prop_map(|(b, n)| (false, vec![b; n]));
    let binary = proptest::collection::vec(any::<u8>(), 0..3000).prop_map(|v| (false, v));
    (
        prop_oneof![text, repetitive, binary],
        proptest::collection::vec(0..700usize, 0..5),
    )
        .prop_map(|((text, data), cuts)| Msg { text, data, cuts })
}

/// Deterministic incompressible bytes (xorshift64*).
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    seed |= 1;
    (0..n)
        .map(|_| {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            (seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// Large binary messages (up to ~200 KiB) of mixed runs: noise (which
/// fills miniz's LZ code buffer at ~58 KiB per block), one repeated byte,
/// a short repeated pattern, and words; fragmented at large cuts.
fn large_msg() -> impl Strategy<Value = Msg> {
    let run = (0..4u8, 0..70_000usize, any::<u64>());
    (
        proptest::collection::vec(run, 1..4),
        proptest::collection::vec(0..100_000usize, 0..3),
    )
        .prop_map(|(runs, cuts)| {
            let mut data = Vec::new();
            for (kind, len, seed) in runs {
                match kind {
                    0 | 1 => data.extend(noise(len, seed)),
                    2 => data.resize(data.len() + len, seed as u8),
                    _ => {
                        let words = b"the quick brown fox jumps over the lazy dog ";
                        let start = (seed % 40) as usize;
                        data.extend(words.iter().cycle().skip(start).take(len));
                    }
                }
            }
            Msg {
                text: false,
                data,
                cuts,
            }
        })
}

fn params() -> impl Strategy<Value = Option<DeflateParams>> {
    prop_oneof![
        Just(None),
        (any::<bool>(), any::<bool>()).prop_map(|(s, c)| Some(DeflateParams {
            server_no_context_takeover: s,
            client_no_context_takeover: c,
            ..DeflateParams::default()
        })),
    ]
}

/// Sends `m` from `tx` into `wire`, fragmented at its cuts.
fn send(tx: &mut WebSocket, m: &Msg, wire: &mut Vec<u8>) {
    let mut rest = &m.data[..];
    for &cut in &m.cuts {
        let n = cut.min(rest.len());
        tx.send_fragment(m.text, &rest[..n], false, wire).unwrap();
        rest = &rest[n..];
    }
    if m.cuts.is_empty() {
        if m.text {
            tx.send_text(std::str::from_utf8(rest).unwrap(), wire)
                .unwrap();
        } else {
            tx.send_binary(rest, wire).unwrap();
        }
    } else {
        tx.send_fragment(m.text, rest, true, wire).unwrap();
    }
}

fn expected(m: &Msg) -> Ev {
    if m.text {
        Ev::Text(String::from_utf8(m.data.clone()).unwrap())
    } else {
        Ev::Binary(m.data.clone())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn round_trip(
        msgs in proptest::collection::vec(msg(), 1..6),
        deflate in params(),
        threshold in prop_oneof![Just(0usize), Just(32), Just(usize::MAX)],
        piece in 1..600usize,
        pings in proptest::collection::vec(any::<bool>(), 6),
        client_sends in any::<bool>(),
    ) {
        let config = Config::default().compression_threshold(threshold);
        let (tx_role, rx_role) = if client_sends { (Role::Client, Role::Server) } else { (Role::Server, Role::Client) };
        let mut tx = WebSocket::new(tx_role, config.clone(), deflate);
        let mut rx = WebSocket::new(rx_role, config, deflate);
        let mut wire = Vec::new();
        let mut want = Vec::new();
        for (m, ping) in msgs.iter().zip(&pings) {
            send(&mut tx, m, &mut wire);
            want.push(expected(m));
            if *ping {
                tx.send_ping(b"ping", &mut wire).unwrap();
                want.push(Ev::Ping(b"ping".to_vec()));
            }
        }
        tx.close(1000, "done", Instant::now(), &mut wire).unwrap();
        want.push(Ev::Close(Some(1000), "done".into()));
        let (events, err) = read_pieces(&mut rx, &wire, piece, Instant::now());
        prop_assert_eq!(err, None);
        prop_assert!(events == want, "{} events, want {}", events.len(), want.len());
    }

    /// Large mixed messages through deflate both ways, read in pieces of
    /// random sizes (the shape of the Autobahn 12.x failure).
    #[test]
    fn large_mixed_round_trip(
        msgs in proptest::collection::vec(large_msg(), 1..5),
        snct in any::<bool>(),
        cnct in any::<bool>(),
        pieces in proptest::collection::vec(1..70_000usize, 1..6),
        client_sends in any::<bool>(),
    ) {
        let deflate = Some(DeflateParams {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            ..DeflateParams::default()
        });
        let (tx_role, rx_role) = if client_sends { (Role::Client, Role::Server) } else { (Role::Server, Role::Client) };
        let mut tx = WebSocket::new(tx_role, Config::default(), deflate);
        let mut rx = WebSocket::new(rx_role, Config::default(), deflate);
        let mut wire = Vec::new();
        let mut want = Vec::new();
        for m in &msgs {
            send(&mut tx, m, &mut wire);
            want.push(expected(m));
        }
        let (events, err) = read_varied(&mut rx, &wire, &pieces, Instant::now());
        prop_assert_eq!(err, None);
        prop_assert_eq!(events.len(), want.len());
        for (i, (got, want)) in events.iter().zip(&want).enumerate() {
            let (Ev::Binary(g), Ev::Binary(w)) = (got, want) else { unreachable!() };
            prop_assert!(g == w, "message {}: {} bytes back, want {}", i, g.len(), w.len());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2000),
        piece in 1..64usize,
        server in any::<bool>(),
        deflate in params(),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let mut ws = WebSocket::new(role, Config::default().max_message_size(1 << 16), deflate);
        let (_, err) = read_pieces(&mut ws, &bytes, piece, Instant::now());
        let mut out = Vec::new();
        ws.poll_output(&mut out);
        if let Some(e) = err {
            prop_assert!(matches!(e.close_code(), 1002 | 1007 | 1008 | 1009));
            prop_assert!(ws.is_closed());
        }
    }
}
