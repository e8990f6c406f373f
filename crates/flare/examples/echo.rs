//! A TCP echo server on the reactor: one worker thread per core, each with its own
//! `SO_REUSEPORT` listener and poller.
//!
//! ```text
//! cargo run --example echo -- [--addr 127.0.0.1:7000] [--workers N]
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use flare::net::{bind_reuseport, TcpListener, TcpStream};
use flare::reactor::{Events, Interest, Mode, Poller, Token};

const LISTENER: Token = Token(usize::MAX);

struct Client {
    stream: TcpStream,
    pending: Vec<u8>,
}

fn worker(listener: TcpListener) -> std::io::Result<()> {
    let mut poller = Poller::new()?;
    poller.register(&listener, LISTENER, Interest::READABLE, Mode::Level)?;
    let mut events = Events::with_capacity(256);
    let mut clients: HashMap<usize, Client> = HashMap::new();
    let mut next = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        poller.poll(&mut events, Some(Duration::from_secs(1)))?;
        for ev in events.iter() {
            if ev.token() == LISTENER {
                while let Ok((stream, _peer)) = listener.accept() {
                    poller.register(&stream, Token(next), Interest::READABLE, Mode::Level)?;
                    clients.insert(
                        next,
                        Client {
                            stream,
                            pending: Vec::new(),
                        },
                    );
                    next += 1;
                }
                continue;
            }
            let id = ev.token().0;
            let Some(c) = clients.get_mut(&id) else {
                continue;
            };
            let mut close = false;
            if ev.is_readable() && c.pending.is_empty() {
                match c.stream.read(&mut buf) {
                    Ok(0) => close = true,
                    Ok(n) => c.pending.extend_from_slice(&buf[..n]),
                    Err(e) if e.is_would_block() => {}
                    Err(_) => close = true,
                }
            }
            while !close && !c.pending.is_empty() {
                match c.stream.write(&c.pending) {
                    Ok(n) => {
                        c.pending.drain(..n);
                    }
                    Err(e) if e.is_would_block() => break,
                    Err(_) => close = true,
                }
            }
            if !close {
                // Stop reading while a write is pending: back-pressure to the peer.
                let interest = if c.pending.is_empty() {
                    Interest::READABLE
                } else {
                    Interest::WRITABLE
                };
                poller.reregister(&c.stream, Token(id), interest, Mode::Level)?;
            } else if let Some(c) = clients.remove(&id) {
                poller.deregister(&c.stream)?;
            }
        }
    }
}

fn main() -> std::io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let mut workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr" => {
                addr = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--addr HOST:PORT")
            }
            "--workers" => {
                workers = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--workers N")
            }
            _ => {
                eprintln!("usage: echo [--addr HOST:PORT] [--workers N]");
                std::process::exit(2);
            }
        }
    }
    let listeners = bind_reuseport(addr, workers, 1024)?;
    println!(
        "echo listening on {} with {workers} workers",
        listeners[0].local_addr()?
    );
    let threads: Vec<_> = listeners
        .into_iter()
        .map(|l| std::thread::spawn(move || worker(l)))
        .collect();
    for t in threads {
        t.join().expect("worker panicked")?;
    }
    Ok(())
}
