//! `--callgrind`: instructions per request of flare's example server on h2c,
//! an exact count where timings on a shared machine are noise. The server
//! runs under `valgrind --tool=callgrind` twice, loaded once with
//! [`SMALL`] and once with [`LARGE`] requests (`h2load -c 1 -m 10`), and
//! the difference of the two totals over the difference of the counts is the
//! cost of one request: start-up, the connection's setup and shutdown cancel
//! out.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::load::{h2load_args, parse_h2load, Length, Shape};
use crate::bench::server::free_port;
use crate::error::{Error, Result};
use crate::util;

pub(super) const SMALL: u64 = 2_000;
pub(super) const LARGE: u64 = 22_000;
/// One connection, ten streams in flight.
pub(super) const SHAPE: Shape = Shape {
    tls: false,
    connections: 1,
    streams: 10,
};

/// The two runs and what they give.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Callgrind {
    pub(super) small_ir: u64,
    pub(super) large_ir: u64,
}

impl Callgrind {
    pub(super) fn per_request(&self) -> f64 {
        self.large_ir.saturating_sub(self.small_ir) as f64 / (LARGE - SMALL) as f64
    }
}

/// The server's command line under valgrind (port and output file spelled
/// out), for the report.
pub(super) fn command(binary: &str, port: &str, out: &str) -> String {
    format!(
        "valgrind --tool=callgrind --callgrind-out-file={out} {binary} --addr 127.0.0.1:{port} --workers 1"
    )
}

/// A process that is killed if it is still running when this is dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        crate::bench::stop_tree("flare under callgrind", &mut self.0);
    }
}

/// Both runs; `dir` holds the callgrind output files.
pub(super) fn measure(binary: &Path, dir: &Path) -> Result<Callgrind> {
    if util::which("valgrind").is_none() {
        return Err(Error::Missing {
            what: "`valgrind` is not installed (--callgrind)".into(),
            hint: "apt-get install valgrind, or leave out --callgrind".into(),
        });
    }
    util::create_dir(dir)?;
    let small_ir = one_run(binary, dir, SMALL)?;
    let large_ir = one_run(binary, dir, LARGE)?;
    let c = Callgrind { small_ir, large_ir };
    println!(
        "    {large_ir} - {small_ir} instructions over {} requests = {:.0} per request",
        LARGE - SMALL,
        c.per_request()
    );
    Ok(c)
}

fn one_run(binary: &Path, dir: &Path, requests: u64) -> Result<u64> {
    let port = free_port()?;
    let out = dir.join(format!("callgrind.{requests}.out"));
    let _ = fs::remove_file(&out);
    let line = command(
        &binary.to_string_lossy(),
        &port.to_string(),
        &out.to_string_lossy(),
    );
    println!("    $ {line}");
    let log = dir.join(format!("callgrind.{requests}.log"));
    let err = fs::File::create(&log).map_err(|e| Error::io(log.display().to_string(), e))?;
    let mut words = line.split_whitespace();
    let program = words.next().unwrap_or("valgrind");
    let child = Command::new(program)
        .args(words)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .map_err(|source| Error::Spawn {
            program: line.clone(),
            source,
        })?;
    let mut guard = Guard(child);
    let fail = |detail: String| Error::Server {
        name: "flare under callgrind".into(),
        detail: format!("{detail} (see {})", log.display()),
    };
    // Valgrind starts slowly: up to a minute before the port answers.
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = guard.0.try_wait() {
            return Err(fail(format!("exited before listening ({status})")));
        }
        if Instant::now() >= deadline {
            return Err(fail("not listening after 60 s".into()));
        }
        thread::sleep(Duration::from_millis(100));
    }
    let args = h2load_args(SHAPE, Length::Requests(requests), &port.to_string(), None);
    println!("    $ h2load {}", args.join(" "));
    let text = util::output(Command::new("h2load").args(&args))?;
    let report = parse_h2load(&text)?;
    report
        .check(SHAPE)
        .map_err(|e| fail(format!("h2load: {e}")))?;
    if report.succeeded != requests {
        return Err(fail(format!(
            "{} of {requests} requests succeeded",
            report.succeeded
        )));
    }
    // SIGTERM: flare drains and exits, and callgrind writes its totals.
    crate::bench::signal(&[guard.0.id()], "TERM");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match guard.0.try_wait() {
            Ok(Some(_)) => break,
            _ if Instant::now() >= deadline => {
                return Err(fail("did not exit within 60 s of SIGTERM".into()))
            }
            _ => thread::sleep(Duration::from_millis(100)),
        }
    }
    let text = fs::read_to_string(&out).map_err(|e| Error::io(out.display().to_string(), e))?;
    totals(&text).ok_or_else(|| Error::Parse {
        what: out.display().to_string(),
        detail: "no `totals:` or `summary:` line".into(),
    })
}

/// The `totals:` (or older `summary:`) line of a callgrind output file: the
/// first event, instructions (Ir), over the whole run.
fn totals(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_the_difference() {
        let file = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nfn=(1) main\n3 5\nsummary: 1234\ntotals: 1234\n";
        assert_eq!(totals(file), Some(1234));
        assert_eq!(totals("summary: 77\n"), Some(77));
        assert_eq!(totals("events: Ir\n"), None);
        let c = Callgrind {
            small_ir: 1_000_000,
            large_ir: 1_000_000 + 20_000 * 8_000,
        };
        assert_eq!(c.per_request(), 8_000.0);
    }
}
