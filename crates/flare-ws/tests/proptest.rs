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
