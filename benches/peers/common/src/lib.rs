//! What every benchmark peer shares: `--addr`/`--workers`, the response
//! bodies. Every framework here writes its own cached `Date` header.

use std::net::SocketAddr;
use std::sync::OnceLock;

/// The plaintext body.
pub const PLAINTEXT: &[u8] = b"Hello, World!";
/// The `Server` header value of every peer (the name of the binary).
pub fn server_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::args()
            .next()
            .and_then(|p| p.rsplit('/').next().map(str::to_string))
            .unwrap_or_else(|| "peer".into())
    })
}

/// The JSON body's shape; serialized per request, as the rules require.
#[derive(serde::Serialize)]
pub struct Message {
    /// Always "Hello, World!".
    pub message: &'static str,
}

/// The JSON message.
pub const MESSAGE: Message = Message {
    message: "Hello, World!",
};

/// `--addr HOST:PORT` (default 127.0.0.1:8080) and `--workers N` (default 1).
pub struct Args {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Worker threads.
    pub workers: usize,
}

impl Args {
    /// Parses the command line; exits with a message on a bad flag.
    pub fn parse() -> Args {
        let mut a = Args {
            addr: "127.0.0.1:8080".parse().expect("literal"),
            workers: 1,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next();
            match (flag.as_str(), value) {
                ("--addr", Some(v)) => a.addr = v.parse().unwrap_or_else(|_| usage(&flag)),
                ("--workers", Some(v)) => {
                    a.workers = v
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .unwrap_or_else(|| usage(&flag))
                }
                _ => usage(&flag),
            }
        }
        a
    }
}

fn usage(flag: &str) -> ! {
    eprintln!(
        "bad flag `{flag}`; usage: {} [--addr HOST:PORT] [--workers N]",
        server_name()
    );
    std::process::exit(2)
}
