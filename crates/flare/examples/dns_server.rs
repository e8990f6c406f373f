//! A small authoritative DNS server: UDP on `flare::udp::UdpServer`, TCP (RFC 1035
//! 4.2.2 length-prefixed messages, for clients retrying after a truncated UDP
//! answer) on the same port, answers from `flare_dns::Authority`.
//!
//! ```text
//! cargo run --example dns_server -- --zone FILE [--addr 127.0.0.1:5353] [--workers N]
//!     [--pin] [--origin NAME]
//! ```
//!
//! The zone file is the master-file subset `flare_dns::Zone` reads (`$ORIGIN`,
//! `$TTL`, A, AAAA, CNAME, MX, TXT, NS, SOA). Without `--zone` a demo zone for
//! `example.test.` is served. The first line printed is
//! `flare dns listening on udp://HOST:PORT tcp://HOST:PORT`. SIGINT/SIGTERM drain
//! the UDP workers and exit.
//!
//! The TCP side runs on `flare::tcp::TcpServer` with the same workers count: a
//! `Protocol` that answers every complete length-prefixed query in its input (so
//! pipelined queries are answered in one write), closed after the server's idle
//! timeout (10 s here).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use flare::tcp::{Context, Protocol, TcpServer};
use flare::udp::{Reply, UdpServer};
use flare_dns::{Authority, Name, Transport, Zone};

const DEMO_ZONE: &str = r#"
$ORIGIN example.test.
$TTL 3600
@     IN SOA ns1 hostmaster ( 1 7200 3600 1209600 300 )
      IN NS  ns1
      IN MX  10 mail
ns1   IN A   192.0.2.1
mail  IN A   192.0.2.25
www   IN A   192.0.2.10
      IN AAAA 2001:db8::10
alias IN CNAME www
txt   IN TXT "hello from flare"
"#;

const TCP_IDLE: Duration = Duration::from_secs(10);

struct Args {
    addr: SocketAddr,
    zone: Option<String>,
    origin: Option<String>,
    workers: usize,
    pin: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:5353".parse().unwrap(),
        zone: None,
        origin: None,
        workers: 1,
        pin: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .unwrap_or_else(|| fail(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--addr" => {
                a.addr = value("--addr")
                    .parse()
                    .unwrap_or_else(|e| fail(&format!("--addr: {e}")))
            }
            "--zone" => a.zone = Some(value("--zone")),
            "--origin" => a.origin = Some(value("--origin")),
            "--workers" => {
                a.workers = value("--workers")
                    .parse()
                    .unwrap_or_else(|e| fail(&format!("--workers: {e}")))
            }
            "--pin" => a.pin = true,
            "-h" | "--help" => {
                println!("dns_server --zone FILE [--addr HOST:PORT] [--workers N] [--pin] [--origin NAME]");
                std::process::exit(0);
            }
            other => fail(&format!("unknown argument {other:?}")),
        }
    }
    a
}

fn fail(msg: &str) -> ! {
    eprintln!("dns_server: {msg}");
    std::process::exit(2);
}

fn load(args: &Args) -> Authority {
    let text = match &args.zone {
        Some(path) => {
            std::fs::read_to_string(path).unwrap_or_else(|e| fail(&format!("{path}: {e}")))
        }
        None => DEMO_ZONE.to_string(),
    };
    let origin = args
        .origin
        .as_deref()
        .map(|o| Name::from_ascii(o).unwrap_or_else(|e| fail(&format!("--origin: {e}"))));
    let zone = Zone::parse(&text, origin).unwrap_or_else(|e| fail(&e.to_string()));
    Authority::new(zone).unwrap_or_else(|e| fail(&e.to_string()))
}

/// Binds UDP and TCP on one port. With port 0 the UDP port is picked first and TCP
/// tries it; if another program holds that TCP port, pick again.
fn bind(args: &Args) -> (UdpServer, TcpServer) {
    for _ in 0..16 {
        let udp =
            UdpServer::bind(args.addr).unwrap_or_else(|e| fail(&format!("udp {}: {e}", args.addr)));
        match TcpServer::bind(udp.local_addr()) {
            Ok(tcp) => return (udp, tcp),
            Err(_) if args.addr.port() == 0 => continue,
            Err(e) => fail(&format!("tcp {}: {e}", udp.local_addr())),
        }
    }
    fail("no port free for both UDP and TCP")
}

/// DNS over TCP (RFC 1035 section 4.2.2): two-byte length, then the message.
struct DnsTcp {
    authority: Arc<Authority>,
}

impl Protocol for DnsTcp {
    fn on_data(&mut self, input: &[u8], cx: &mut Context<'_>) -> usize {
        let mut used = 0;
        while input.len() - used >= 2 {
            let len = usize::from(u16::from_be_bytes([input[used], input[used + 1]]));
            if input.len() - used - 2 < len {
                break; // the rest of this query has not arrived
            }
            let query = &input[used + 2..used + 2 + len];
            used += 2 + len;
            let out = cx.output();
            let at = out.len();
            out.extend_from_slice(&[0, 0]);
            if self.authority.respond(query, Transport::Tcp, out) {
                let n = (out.len() - at - 2) as u16;
                out[at..at + 2].copy_from_slice(&n.to_be_bytes());
            } else {
                out.truncate(at);
            }
        }
        used
    }
}

/// Blocks SIGINT/SIGTERM here so the TCP workers inherit the mask and the signals
/// reach `UdpServer::serve`'s `sigwait` (which blocks them again, harmlessly).
fn block_termination_signals() {
    // SAFETY: the set is initialised by sigemptyset before use; a null old-set
    // pointer is allowed.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn main() -> flare::Result<()> {
    let args = parse_args();
    let authority = Arc::new(load(&args));
    let (udp, tcp) = bind(&args);
    let addr = udp.local_addr();
    block_termination_signals();
    let tcp_authority = authority.clone();
    // TCP on its own workers, started (not served): the UDP server's `serve`
    // waits for SIGINT/SIGTERM, then both drain.
    let tcp = tcp
        .workers(args.workers)
        .pin_workers(args.pin)
        .configure(|c| c.keep_alive_timeout(TCP_IDLE).max_input_buffer(2 + 65535))
        .start(move |_peer| DnsTcp {
            authority: tcp_authority.clone(),
        })?;
    println!("flare dns listening on udp://{addr} tcp://{addr}");
    let served = udp
        .workers(args.workers)
        .pin_workers(args.pin)
        .max_datagram_size(4096)
        .serve(
            move |query: &[u8], _peer: SocketAddr, reply: &mut Reply<'_>| {
                reply.try_send_with(|out| authority.respond(query, Transport::Udp, out));
            },
        );
    tcp.shutdown(Duration::from_secs(2));
    let _ = tcp.join();
    served
}
