//! Line echo on flare's workers, over TCP and (with `--unix PATH`) a Unix socket:
//! every line back as it came. The smallest `Protocol`.
//!
//! ```text
//! cargo run --example line_echo -- [--addr 127.0.0.1:7000] [--unix /tmp/echo.sock] [--workers N] [--io-uring]
//! ```

use flare::tcp::{Context, Protocol, TcpServer};

/// Echoes complete lines; a partial line waits for its end (bounded by the
/// server's `max_input_buffer`, 64 KiB by default: a longer line closes).
struct LineEcho;

impl Protocol for LineEcho {
    fn on_data(&mut self, input: &[u8], cx: &mut Context<'_>) -> usize {
        match input.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                cx.write(&input[..=last]);
                last + 1
            }
            None => 0,
        }
    }
}

fn main() -> flare::Result<()> {
    let mut addr = "127.0.0.1:7000".to_string();
    let mut unix: Option<String> = None;
    let mut workers = 2;
    let mut io_uring = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr" => addr = args.next().expect("--addr needs a value"),
            "--io-uring" => io_uring = true,
            "--unix" => unix = Some(args.next().expect("--unix needs a path")),
            "--workers" => {
                workers = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--workers needs a number")
            }
            other => {
                eprintln!(
                    "usage: line_echo [--addr HOST:PORT] [--unix PATH] [--workers N] (got {other})"
                );
                std::process::exit(2);
            }
        }
    }
    let mut server = TcpServer::bind(addr.as_str())?
        .workers(workers)
        .configure(|c| c.io_uring(io_uring));
    if let Some(path) = &unix {
        server = server.bind_unix(path, None)?;
    }
    println!(
        "flare line_echo listening on tcp://{}{}",
        server.local_addr(),
        unix.map(|p| format!(" unix:{p}")).unwrap_or_default()
    );
    server.serve(|_peer| LineEcho)
}
