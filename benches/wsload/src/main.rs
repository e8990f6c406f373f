//! `wsload`: a WebSocket echo load generator for `cargo xtask bench ws`.
//!
//! N connections to `ws://ADDR/PATH`, each with one message in flight: send,
//! wait for the echo, check it, repeat; until `--seconds` pass or
//! `--max-messages` echoes are in. One current-thread tokio runtime (pin
//! it with taskset). Prints one line of `key=value` figures. `--check`
//! instead sends a few known messages on one connection and verifies each
//! echo. `--deflate` offers permessage-deflate and fails unless accepted.
//!
//!     wsload --addr 127.0.0.1:8080 --connections 100 --size 20 --seconds 5

mod deflate;
mod handshake;
mod payload;
mod plain;

use std::cell::Cell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use deflate::Deflated;
use plain::Plain;

struct Options {
    addr: SocketAddr,
    path: String,
    connections: usize,
    size: usize,
    seconds: f64,
    max_messages: u64,
    deflate: bool,
    text: bool,
    check: bool,
}

const USAGE: &str = "usage: wsload --addr HOST:PORT [--path /ws] [--connections N] [--size BYTES] \
[--seconds S] [--max-messages N] [--deflate] [--binary] [--check]";

fn parse() -> Result<Options, String> {
    let mut o = Options {
        addr: "127.0.0.1:8080".parse().map_err(|_| "literal")?,
        path: "/ws".into(),
        connections: 10,
        size: 1024,
        seconds: 5.0,
        max_messages: u64::MAX,
        deflate: false,
        text: true,
        check: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let bad = |f: &str| format!("bad value for {f}");
        match flag.as_str() {
            "--addr" => o.addr = value()?.parse().map_err(|_| bad(&flag))?,
            "--path" => o.path = value()?,
            "--connections" => o.connections = value()?.parse().map_err(|_| bad(&flag))?,
            "--size" => o.size = value()?.parse().map_err(|_| bad(&flag))?,
            "--seconds" => o.seconds = value()?.parse().map_err(|_| bad(&flag))?,
            "--max-messages" => o.max_messages = value()?.parse().map_err(|_| bad(&flag))?,
            "--deflate" => o.deflate = true,
            "--binary" => o.text = false,
            "--check" => o.check = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown flag `{other}`; {USAGE}")),
        }
    }
    if o.connections == 0 || o.size == 0 || o.seconds.is_nan() || o.seconds <= 0.0 {
        return Err("--connections, --size and --seconds must be positive".into());
    }
    Ok(o)
}

/// One connection, with or without deflate.
enum Conn {
    Plain(Plain),
    Deflated(Deflated),
}

impl Conn {
    async fn open(o: &Options) -> Result<(Conn, Option<String>), String> {
        let up = handshake::connect(o.addr, &o.path, o.deflate).await?;
        let conn = match up.deflate {
            Some(params) => Conn::Deflated(Deflated::new(up.stream, params)),
            None => Conn::Plain(Plain::new(up.stream)),
        };
        Ok((conn, up.extensions))
    }

    async fn round_trip(&mut self, msg: &[u8], text: bool) -> Result<(), String> {
        match self {
            Conn::Plain(p) => p.round_trip(msg, text).await,
            Conn::Deflated(d) => d.round_trip(msg, text).await,
        }
    }

    async fn close(&mut self) {
        match self {
            Conn::Plain(p) => p.close().await,
            Conn::Deflated(d) => d.close().await,
        }
    }

    fn compressed_replies(&self) -> u64 {
        match self {
            Conn::Plain(_) => 0,
            Conn::Deflated(d) => d.compressed_replies,
        }
    }
}

/// The integrity check: known messages, each echoed exactly; with deflate,
/// the compressible ones must come back compressed.
async fn check(o: &Options) -> Result<String, String> {
    let (mut c, ext) = Conn::open(o).await?;
    let greeting = "flare wsload integrity check: h\u{e9}llo \u{2713}"
        .as_bytes()
        .to_vec();
    let cases: [(&str, Vec<u8>, bool); 4] = [
        ("short text", greeting, true),
        (
            "binary, every byte value, 64-bit length",
            payload::all_bytes(70_000),
            false,
        ),
        ("1 KiB text", payload::message(1024, true), true),
        ("64 KiB binary", payload::message(65_536, false), false),
    ];
    for (name, msg, text) in &cases {
        let before = c.compressed_replies();
        c.round_trip(msg, *text)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        if o.deflate && name.contains("KiB") && c.compressed_replies() == before {
            return Err(format!("{name}: echo came back uncompressed"));
        }
    }
    c.close().await;
    Ok(format!(
        "wsload check ok: {} messages echoed exactly; extensions={:?}",
        cases.len(),
        ext.unwrap_or_default()
    ))
}

struct Totals {
    messages: u64,
    compressed: u64,
    seconds: f64,
    extensions: String,
}

async fn load(o: &Options) -> Result<Totals, String> {
    let msg = Rc::new(payload::message(o.size, o.text));
    let mut conns = Vec::with_capacity(o.connections);
    let mut extensions = String::new();
    for _ in 0..o.connections {
        let (c, ext) = Conn::open(o).await?;
        extensions = ext.unwrap_or_default();
        conns.push(c);
    }
    let count = Rc::new(Cell::new(0u64));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(o.seconds);
    let local = tokio::task::LocalSet::new();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            let (msg, count, max, text) = (msg.clone(), count.clone(), o.max_messages, o.text);
            local.spawn_local(async move {
                while count.get() < max && Instant::now() < deadline {
                    c.round_trip(&msg, text).await?;
                    count.set(count.get() + 1);
                }
                let end = Instant::now();
                c.close().await;
                Ok::<(u64, Instant), String>((c.compressed_replies(), end))
            })
        })
        .collect();
    // The clock stops when the last connection's last echo is in; the
    // closing handshakes after it are not counted.
    let (compressed, end) = local
        .run_until(async move {
            let (mut compressed, mut last) = (0, start);
            for t in tasks {
                let (c, end) = t.await.map_err(|e| e.to_string())??;
                compressed += c;
                last = last.max(end);
            }
            Ok::<(u64, Instant), String>((compressed, last))
        })
        .await?;
    Ok(Totals {
        messages: count.get(),
        compressed,
        seconds: end.duration_since(start).as_secs_f64(),
        extensions,
    })
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("wsload: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wsload: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        if o.check {
            return check(&o).await;
        }
        let t = load(&o).await?;
        Ok(format!(
            "wsload messages={} seconds={:.3} rate={:.1} connections={} size={} deflate={} \
             compressed={} extensions={:?}",
            t.messages,
            t.seconds,
            t.messages as f64 / t.seconds,
            o.connections,
            o.size,
            o.deflate,
            t.compressed,
            t.extensions
        ))
    });
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wsload: {e}");
            ExitCode::FAILURE
        }
    }
}
