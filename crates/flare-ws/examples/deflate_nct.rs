//! Echo rounds of a compressed 1 KiB text message with no context takeover
//! both ways (the settings for many idle connections), for measuring the
//! per-message cost: `valgrind --tool=callgrind target/release/examples/deflate_nct N`
//! at two values of N; the difference over the extra rounds is the cost of
//! one round (one message each way, each compressed and inflated once).

use std::time::Instant;

use flare_ws::{Config, DeflateParams, Event, Role, WebSocket};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let p = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let mut client = WebSocket::new(Role::Client, Config::default(), Some(p));
    let mut server = WebSocket::new(Role::Server, Config::default(), Some(p));
    let mut msg = String::new();
    let mut i = 0u32;
    while msg.len() < 1024 {
        msg.push_str(&format!(
            "{{\"id\":{i},\"method\":\"update\",\"value\":{}}},",
            i * 7
        ));
        i += 1;
    }
    msg.truncate(1024);
    let (mut wire, mut back) = (Vec::with_capacity(4096), Vec::with_capacity(4096));
    let start = Instant::now();
    let mut total = 0;
    for _ in 0..rounds {
        let now = Instant::now();
        wire.clear();
        back.clear();
        client.send_text(&msg, &mut wire).unwrap();
        total += wire.len();
        let mut pos = 0;
        while pos < wire.len() {
            let (n, ev) = server.read(&mut wire[pos..], now).unwrap();
            pos += n;
            if let Some(Event::Text(t)) = ev {
                assert_eq!(t.len(), msg.len());
                server.send_text(&msg, &mut back).unwrap();
            }
        }
        let mut pos = 0;
        while pos < back.len() {
            let (n, ev) = client.read(&mut back[pos..], now).unwrap();
            pos += n;
            if let Some(Event::Text(t)) = ev {
                assert_eq!(t.len(), msg.len());
            }
        }
    }
    let el = start.elapsed();
    eprintln!(
        "{rounds} rounds, {} bytes per compressed message, {:.2} us per round",
        total / rounds.max(1),
        el.as_secs_f64() * 1e6 / rounds.max(1) as f64
    );
    // Idle: neither end keeps a compressor or decompressor.
    for ws in [&client, &server] {
        let (_, inflater, deflater) = ws.memory();
        assert!(!inflater && !deflater);
    }
    eprintln!(
        "pooled on this thread (compressors, decompressors): {:?}",
        flare_ws::deflate::pooled_states()
    );
}
