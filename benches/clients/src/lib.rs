//! The load loop shared by the client binaries of `cargo xtask bench client`.
//!
//! Each binary builds one client, prints `ready`, waits for a line on stdin
//! (the bench reads the process's CPU from `/proc/PID/stat` in between, so
//! building the client and loading its roots are not counted), then runs
//! `--requests` GETs of `--url` from `--threads` threads sharing that client,
//! checks every response (status 200, the expected body, HTTP/2 when `--h2`),
//! prints one `clients ...` line of figures and waits for stdin to close
//! before exiting, so the bench can read the final CPU time of a process that
//! is still there. Any wrong response fails the run loudly (exit 1).
//!
//!     client-flare --url http://127.0.0.1:8080/plaintext --requests 100000 --threads 16

use std::io::BufRead;
use std::process::exit;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Command-line options, the same for every binary.
#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    pub requests: u64,
    pub threads: u64,
    pub h2: bool,
    pub ca: Option<String>,
    pub expect: String,
    /// Skip the ready/go handshake on stdin (for profiling by hand).
    pub no_wait: bool,
}

const USAGE: &str = "usage: client-NAME --url URL --requests N --threads T [--h2] [--ca FILE] \
[--expect BODY] [--no-wait]";

/// Parses the arguments; prints usage and exits 2 on a bad one.
pub fn options() -> Options {
    let mut o = Options {
        url: String::new(),
        requests: 100_000,
        threads: 1,
        h2: false,
        ca: None,
        expect: "Hello, World!".into(),
        no_wait: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next().unwrap_or_else(|| {
                eprintln!("{flag} needs a value\n{USAGE}");
                exit(2)
            })
        };
        let number = |v: String| -> u64 {
            v.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| {
                eprintln!("bad number `{v}`\n{USAGE}");
                exit(2)
            })
        };
        match flag.as_str() {
            "--url" => o.url = value(),
            "--requests" => o.requests = number(value()),
            "--threads" => o.threads = number(value()),
            "--h2" => o.h2 = true,
            "--ca" => o.ca = Some(value()),
            "--expect" => o.expect = value(),
            "--no-wait" => o.no_wait = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                exit(0)
            }
            other => {
                eprintln!("unknown flag `{other}`\n{USAGE}");
                exit(2)
            }
        }
    }
    if o.url.is_empty() {
        eprintln!("--url is required\n{USAGE}");
        exit(2)
    }
    o
}

/// The CA file's bytes, or exit 1.
pub fn read_ca(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| fail(&format!("reading --ca {path}: {e}")))
}

/// What one request returned: status, HTTP version ("HTTP/1.1", "HTTP/2"),
/// body.
pub struct Answer {
    pub status: u16,
    pub version: &'static str,
    pub body: Vec<u8>,
}

/// Prints the message and exits 1.
pub fn fail(msg: &str) -> ! {
    eprintln!("client error: {msg}");
    exit(1)
}

/// Runs the load with `get` (shared by all threads) and prints the figures.
/// `name` labels the output line.
pub fn run<F>(name: &str, o: &Options, get: F)
where
    F: Fn(&str) -> Result<Answer, String> + Sync,
{
    if !o.no_wait {
        println!("ready");
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
    }
    let want_version = if o.h2 { "HTTP/2" } else { "HTTP/1.1" };
    let done = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..o.threads {
            // Spread the remainder over the first threads.
            let n = o.requests / o.threads + u64::from(t < o.requests % o.threads);
            let (get, done, o) = (&get, &done, o);
            s.spawn(move || {
                for i in 0..n {
                    let a = get(&o.url)
                        .unwrap_or_else(|e| fail(&format!("thread {t} request {i}: {e}")));
                    if a.status != 200 || a.body != o.expect.as_bytes() || a.version != want_version
                    {
                        fail(&format!(
                            "thread {t} request {i}: {} {} with body {:?}, want 200 {want_version} {:?}",
                            a.status,
                            a.version,
                            String::from_utf8_lossy(&a.body),
                            o.expect
                        ));
                    }
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "clients client={name} requests={n} threads={} seconds={secs:.3} rate={:.1} version={want_version}",
        o.threads,
        n as f64 / secs.max(1e-9)
    );
    if !o.no_wait {
        // Stay until the bench has read our CPU time and closes stdin.
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut rest);
    }
}
