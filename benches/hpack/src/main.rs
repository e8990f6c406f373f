//! `cargo xtask bench hpack` (or `cargo run --release --manifest-path
//! benches/hpack/Cargo.toml [-- ROUNDS]`): HPACK decode and encode
//! throughput of flare-hpack against the HPACK crates on crates.io, over the
//! whole hpack-test-case story corpus, measured in the same run.
//!
//! - decode: every block of the four encoded story sets (go-hpack, nghttp2,
//!   nghttp2-change-table-size, python-hpack), one fresh decoder per story.
//! - encode: every raw-data story, one fresh encoder per story.
//!
//! Each implementation is first checked against the corpus (its decoded
//! fields must equal the stories' headers; its encoded blocks must decode,
//! with flare-hpack, to the input); one that fails is reported and not
//! timed. Timings are the best of ROUNDS (default 10) rounds, implementations
//! interleaved within each round; an implementation that has used 4 s stops
//! after 3 rounds (the oldest crates take seconds per round).
//!
//! MB/s counts decoded (or encoded) header data: name and value bytes.

mod corpus;
mod peers;

use corpus::{Corpus, Headers, Story};
use peers::{Peer, PEERS};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("HPACK_BENCH_ROUNDS").ok())
        .map(|s| s.parse().expect("ROUNDS must be a number"))
        .unwrap_or(10)
        .max(1);
    // HPACK_BENCH_ONLY=name,name: time only these (flare-hpack always).
    let only = std::env::var("HPACK_BENCH_ONLY").ok();
    let peers: Vec<&Peer> = PEERS
        .iter()
        .filter(|p| {
            p.name == "flare-hpack"
                || only
                    .as_ref()
                    .is_none_or(|o| o.split(',').any(|n| p.name.contains(n)))
        })
        .collect();
    let encoded = Corpus::load(&corpus::ENCODED_DIRS);
    let raw = Corpus::load(&["raw-data"]);
    // HPACK_BENCH_PROFILE=decode|encode: only run flare-hpack ROUNDS times,
    // printing nothing, for `perf stat` / `perf record`.
    if let Ok(what) = std::env::var("HPACK_BENCH_PROFILE") {
        let flare = &PEERS[0];
        for _ in 0..rounds {
            match what.as_str() {
                "decode" => black_box(time_decode(flare, &encoded)),
                _ => black_box(time_encode(flare, &raw)),
            };
        }
        return;
    }
    println!(
        "HPACK benchmark over hpack-test-case: best of {rounds} rounds \
         (an implementation stops early after {MIN_ROUNDS} rounds once it has used {}s)",
        BUDGET.as_secs()
    );
    println!();

    // Decode.
    println!(
        "decode: {} stories, {} blocks, {} fields, {:.2} MB of header data ({:.2} MB encoded)",
        encoded.stories.len(),
        encoded.blocks(),
        encoded.fields,
        encoded.header_bytes as f64 / 1e6,
        encoded.wire_bytes as f64 / 1e6,
    );
    let mut decoders: Vec<(&Peer, Duration)> = Vec::new();
    for &peer in &peers {
        match verify_decode(peer, &encoded) {
            Ok(()) => decoders.push((peer, Duration::MAX)),
            // First line only: some crates' errors carry a multi-line trace.
            Err(why) => println!(
                "  {:<20} excluded: fails the corpus: {}",
                peer.name,
                why.lines().next().unwrap_or_default()
            ),
        }
    }
    run_rounds(rounds, &mut decoders, |peer| time_decode(peer, &encoded));
    print_table(&decoders, &encoded, None);

    // Encode.
    println!();
    println!(
        "encode: {} raw-data stories, {} blocks, {} fields, {:.2} MB of header data",
        raw.stories.len(),
        raw.blocks(),
        raw.fields,
        raw.header_bytes as f64 / 1e6,
    );
    let mut encoders: Vec<(&Peer, Duration)> = Vec::new();
    let mut sizes = Vec::new();
    for &peer in &peers {
        let Some(encode) = peer.encode else {
            println!(
                "  {:<20} not timed: no encoder strategy (the caller picks each representation)",
                peer.name
            );
            continue;
        };
        match verify_encode(encode, &raw) {
            Ok(size) => {
                encoders.push((peer, Duration::MAX));
                sizes.push(size);
            }
            Err(why) => println!(
                "  {:<20} excluded: its output does not round-trip: {why}",
                peer.name
            ),
        }
    }
    run_rounds(rounds, &mut encoders, |peer| time_encode(peer, &raw));
    print_table(&encoders, &raw, Some(&sizes));
}

/// Rounds every implementation runs, however slow.
const MIN_ROUNDS: usize = 3;
/// Time after which a slow implementation stops at MIN_ROUNDS: the oldest
/// crates take seconds per round.
const BUDGET: Duration = Duration::from_secs(4);

/// Runs up to `rounds` rounds, each timing every implementation once in
/// turn, keeping each one's best time.
fn run_rounds(
    rounds: usize,
    rows: &mut [(&Peer, Duration)],
    mut time: impl FnMut(&Peer) -> Duration,
) {
    let mut spent = vec![Duration::ZERO; rows.len()];
    for round in 0..rounds {
        for ((peer, best), spent) in rows.iter_mut().zip(&mut spent) {
            if round >= MIN_ROUNDS && *spent >= BUDGET {
                continue;
            }
            let took = time(peer);
            *spent += took;
            *best = (*best).min(took);
        }
    }
}

fn verify_decode(peer: &Peer, corpus: &Corpus) -> Result<(), String> {
    for story in &corpus.stories {
        let mut got: Vec<Headers> = vec![Vec::new(); story.cases.len()];
        (peer.decode)(story, &mut |i, n, v| got[i].push((n.to_vec(), v.to_vec())))
            .map_err(|e| format!("{}: {e}", story.name))?;
        for (i, (case, fields)) in story.cases.iter().zip(&got).enumerate() {
            if case.headers != *fields {
                return Err(format!("{} case {i}: wrong fields", story.name));
            }
        }
    }
    Ok(())
}

/// Returns the total encoded size.
fn verify_encode(encode: peers::EncodeFn, corpus: &Corpus) -> Result<u64, String> {
    let mut total = 0u64;
    for story in &corpus.stories {
        let mut decoder = flare_hpack::Decoder::new();
        let mut list = flare_hpack::HeaderList::new();
        let mut failure = None;
        encode(story, &mut |i, block| {
            total += block.len() as u64;
            if failure.is_some() {
                return;
            }
            match decoder.decode_into(block, &mut list) {
                Ok(_) => {
                    let got: Headers = list
                        .iter()
                        .map(|f| (f.name.to_vec(), f.value.to_vec()))
                        .collect();
                    if got != story.cases[i].headers {
                        failure = Some(format!("{} case {i}: wrong fields", story.name));
                    }
                }
                Err(e) => failure = Some(format!("{} case {i}: {e:?}", story.name)),
            }
        })
        .map_err(|e| format!("{}: {e}", story.name))?;
        if let Some(why) = failure {
            return Err(why);
        }
    }
    Ok(total)
}

fn time_decode(peer: &Peer, corpus: &Corpus) -> Duration {
    let mut sum = 0usize;
    let start = Instant::now();
    for story in &corpus.stories {
        // The verification run succeeded, so errors cannot happen here.
        let _ = (peer.decode)(black_box(story), &mut |_, n, v| sum += n.len() + v.len());
    }
    let elapsed = start.elapsed();
    assert_eq!(
        sum as u64, corpus.header_bytes,
        "{} decoded a different amount",
        peer.name
    );
    elapsed
}

fn time_encode(peer: &Peer, corpus: &Corpus) -> Duration {
    let encode = peer.encode.expect("only encoders are timed");
    let mut sum = 0usize;
    let start = Instant::now();
    for story in &corpus.stories {
        let _ = encode(black_box::<&Story>(story), &mut |_, block| {
            sum += block.len()
        });
    }
    let elapsed = start.elapsed();
    black_box(sum);
    elapsed
}

fn print_table(rows: &[(&Peer, Duration)], corpus: &Corpus, sizes: Option<&[u64]>) {
    let Some(&(_, flare)) = rows.iter().find(|(p, _)| p.name == "flare-hpack") else {
        println!("  flare-hpack failed verification: no figures");
        return;
    };
    let size_header = if sizes.is_some() {
        " encoded size    |"
    } else {
        ""
    };
    let size_rule = if sizes.is_some() {
        "-----------------|"
    } else {
        ""
    };
    println!("| implementation       |     MB/s | ns/header | flare speed-up |{size_header}");
    println!("|----------------------|---------:|----------:|---------------:|{size_rule}");
    for (i, (peer, best)) in rows.iter().enumerate() {
        let secs = best.as_secs_f64();
        let size = match sizes {
            Some(sizes) => format!(
                " {:>7} ({:>4.1}%) |",
                sizes[i],
                sizes[i] as f64 * 100.0 / corpus.header_bytes as f64
            ),
            None => String::new(),
        };
        println!(
            "| {:<20} | {:>8.1} | {:>9.1} | {:>13.2}x |{size}",
            peer.name,
            corpus.header_bytes as f64 / secs / 1e6,
            secs * 1e9 / corpus.fields as f64,
            secs / flare.as_secs_f64(),
        );
    }
    let best_peer = rows
        .iter()
        .filter(|(p, _)| p.name != "flare-hpack")
        .min_by_key(|(_, d)| *d);
    if let Some((peer, best)) = best_peer {
        println!(
            "flare-hpack vs the fastest peer ({}): {:.2}x",
            peer.name,
            best.as_secs_f64() / flare.as_secs_f64()
        );
    }
}
