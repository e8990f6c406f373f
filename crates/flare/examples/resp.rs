//! A Redis-protocol (RESP2) server on flare's workers: PING, ECHO, GET, SET (with
//! EX/PX/NX/XX), DEL, EXISTS, INCR/INCRBY/DECR, MGET, MSET, DBSIZE, FLUSHALL,
//! SELECT 0, QUIT, and enough of COMMAND and CONFIG for `redis-cli` and
//! `redis-benchmark`; pipelining is free (every complete command in the buffer is
//! answered in one write).
//!
//! ```text
//! cargo run --release --example resp -- [--addr 127.0.0.1:6380] [--workers N] [--unix PATH]
//! redis-cli -p 6380 set k v
//! redis-benchmark -p 6380 -t ping,set,get -P 16
//! ```
//!
//! The keyspace is one map shared by all workers, split into 64 shards by key hash,
//! each behind its own mutex: Redis clients expect every connection to see the same
//! keys, so per-worker maps would be wrong, and the shards keep workers from
//! queueing on one lock (with one worker every lock is uncontended).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flare::tcp::{Context, Protocol, TcpServer};

const SHARDS: usize = 64;
/// Largest bulk string and most array elements accepted (a bound, not Redis's).
const MAX_BULK: usize = 8 << 20;
const MAX_ARGS: usize = 1024 * 1024;

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

/// FNV-1a over the key, folded: keys are hashed once to pick the shard and once
/// in the shard's map with a cheap hash (a benchmark found SipHash twice to be a
/// third of the handler's time). The keyspace is not exposed to hash flooding
/// beyond one client's own shard choice; a server facing untrusted clients would
/// keep std's keyed hash.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

fn fnv(key: &[u8]) -> u64 {
    let mut h = Fnv::default();
    h.write(key);
    h.finish()
}

type Shard = Mutex<HashMap<Vec<u8>, Entry, BuildHasherDefault<Fnv>>>;

#[derive(Clone)]
struct Db {
    shards: Arc<Vec<Shard>>,
}

impl Db {
    fn new() -> Db {
        Db {
            shards: Arc::new(
                (0..SHARDS)
                    .map(|_| Mutex::new(HashMap::default()))
                    .collect(),
            ),
        }
    }
    fn shard(
        &self,
        key: &[u8],
    ) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Entry, BuildHasherDefault<Fnv>>> {
        // The shard comes from a remix of the hash, so that keys of one shard still
        // spread over the map's buckets and control bytes.
        let pick = fnv(key).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58;
        self.shards[pick as usize % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
    fn get(&self, key: &[u8], out: &mut Vec<u8>) {
        let mut s = self.shard(key);
        match s.get(key) {
            Some(e) if e.expires.is_some_and(|t| t <= Instant::now()) => {
                s.remove(key);
                out.extend_from_slice(b"$-1\r\n");
            }
            Some(e) => bulk(out, &e.value),
            None => out.extend_from_slice(b"$-1\r\n"),
        }
    }
}

/// One client connection.
struct Client {
    db: Db,
    args: Vec<(usize, usize)>,
}

/// Where a complete command's arguments are in the input, or why parsing stopped.
enum Parsed {
    /// Needs more bytes.
    Partial,
    /// A command of `n` bytes; its arguments are in `Client::args`.
    Command(usize),
    /// A protocol error: answer it and close.
    Error(&'static str),
}

impl Client {
    fn parse(&mut self, input: &[u8]) -> Parsed {
        self.args.clear();
        if input.first() == Some(&b'*') {
            let Some((count, mut at)) = line_number(input, 1) else {
                return if input.len() > 64 && !input[..64].contains(&b'\n') {
                    Parsed::Error("ERR Protocol error: invalid multibulk length")
                } else {
                    Parsed::Partial
                };
            };
            if count < 0 {
                return Parsed::Command(at);
            }
            if count as usize > MAX_ARGS {
                return Parsed::Error("ERR Protocol error: invalid multibulk length");
            }
            for _ in 0..count {
                match input.get(at) {
                    None => return Parsed::Partial,
                    Some(b'$') => {}
                    Some(_) => return Parsed::Error("ERR Protocol error: expected '$'"),
                }
                let Some((len, start)) = line_number(input, at + 1) else {
                    return Parsed::Partial;
                };
                if len < 0 || len as usize > MAX_BULK {
                    return Parsed::Error("ERR Protocol error: invalid bulk length");
                }
                let end = start + len as usize;
                if input.len() < end + 2 {
                    return Parsed::Partial;
                }
                if &input[end..end + 2] != b"\r\n" {
                    return Parsed::Error("ERR Protocol error: bulk string without CRLF");
                }
                self.args.push((start, end));
                at = end + 2;
            }
            Parsed::Command(at)
        } else {
            // An inline command: words up to the end of the line.
            let Some(nl) = input.iter().position(|&b| b == b'\n') else {
                return if input.len() > 64 * 1024 {
                    Parsed::Error("ERR Protocol error: too big inline request")
                } else {
                    Parsed::Partial
                };
            };
            let line_end = if nl > 0 && input[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            let mut i = 0;
            while i < line_end {
                while i < line_end && input[i] == b' ' {
                    i += 1;
                }
                let start = i;
                while i < line_end && input[i] != b' ' {
                    i += 1;
                }
                if i > start {
                    self.args.push((start, i));
                }
            }
            Parsed::Command(nl + 1)
        }
    }

    /// Runs the parsed command; false when the client asked to quit.
    fn run(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(&(s, e)) = self.args.first() else {
            return true;
        };
        let arg = |i: usize| -> &[u8] {
            let (s, e) = self.args[i];
            &input[s..e]
        };
        let n = self.args.len();
        let mut name = [0u8; 16];
        let cmd = &input[s..e];
        if cmd.len() > name.len() {
            err(out, "ERR unknown command");
            return true;
        }
        name[..cmd.len()].copy_from_slice(cmd);
        name[..cmd.len()].make_ascii_uppercase();
        let db = &self.db;
        match (&name[..cmd.len()], n) {
            (b"PING", 1) => out.extend_from_slice(b"+PONG\r\n"),
            (b"PING", 2) => bulk(out, arg(1)),
            (b"ECHO", 2) => bulk(out, arg(1)),
            (b"GET", 2) => db.get(arg(1), out),
            (b"SET", 3..) => set(db, input, &self.args, out),
            (b"DEL", 2..) => {
                let mut removed = 0;
                for i in 1..n {
                    removed += i64::from(db.shard(arg(i)).remove(arg(i)).is_some());
                }
                int(out, removed);
            }
            (b"EXISTS", 2..) => {
                let now = Instant::now();
                let mut found = 0;
                for i in 1..n {
                    let s = db.shard(arg(i));
                    found += i64::from(
                        s.get(arg(i))
                            .is_some_and(|e| e.expires.map_or(true, |t| t > now)),
                    );
                }
                int(out, found);
            }
            (b"INCR", 2) => incr(db, arg(1), 1, out),
            (b"DECR", 2) => incr(db, arg(1), -1, out),
            (b"INCRBY", 3) => match parse_i64(arg(2)) {
                Some(by) => incr(db, arg(1), by, out),
                None => err(out, "ERR value is not an integer or out of range"),
            },
            (b"MGET", 2..) => {
                out.push(b'*');
                out.extend_from_slice((n - 1).to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
                for i in 1..n {
                    db.get(arg(i), out);
                }
            }
            (b"MSET", _) if n >= 3 && n % 2 == 1 => {
                for i in (1..n).step_by(2) {
                    db.shard(arg(i)).insert(
                        arg(i).to_vec(),
                        Entry {
                            value: arg(i + 1).to_vec(),
                            expires: None,
                        },
                    );
                }
                out.extend_from_slice(b"+OK\r\n");
            }
            (b"DBSIZE", 1) => {
                let total: usize = db
                    .shards
                    .iter()
                    .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
                    .sum();
                int(out, total as i64);
            }
            (b"FLUSHALL" | b"FLUSHDB", _) => {
                for s in db.shards.iter() {
                    s.lock().unwrap_or_else(|e| e.into_inner()).clear();
                }
                out.extend_from_slice(b"+OK\r\n");
            }
            (b"SELECT", 2) if arg(1) == b"0" => out.extend_from_slice(b"+OK\r\n"),
            (b"SELECT", 2) => err(out, "ERR DB index is out of range"),
            // redis-cli asks for command docs and redis-benchmark for its config at
            // start; an empty answer is what a server without them gives.
            (b"COMMAND", _) | (b"CONFIG", _) => out.extend_from_slice(b"*0\r\n"),
            (b"QUIT", _) => {
                out.extend_from_slice(b"+OK\r\n");
                return false;
            }
            (
                b"PING" | b"ECHO" | b"GET" | b"INCR" | b"DECR" | b"INCRBY" | b"SET" | b"DEL"
                | b"EXISTS" | b"MGET" | b"MSET" | b"DBSIZE" | b"SELECT",
                _,
            ) => {
                out.extend_from_slice(b"-ERR wrong number of arguments for '");
                out.extend_from_slice(&cmd.to_ascii_lowercase());
                out.extend_from_slice(b"' command\r\n");
            }
            _ => {
                out.extend_from_slice(b"-ERR unknown command '");
                out.extend(cmd.iter().filter(|b| b.is_ascii_graphic()));
                out.extend_from_slice(b"'\r\n");
            }
        }
        true
    }
}

impl Protocol for Client {
    fn on_data(&mut self, input: &[u8], cx: &mut Context<'_>) -> usize {
        let mut used = 0;
        loop {
            match self.parse(&input[used..]) {
                Parsed::Partial => return used,
                Parsed::Error(why) => {
                    err(cx.output(), why);
                    cx.close();
                    return input.len();
                }
                Parsed::Command(n) => {
                    let cmd = &input[used..used + n];
                    let go_on = self.run(cmd, cx.output());
                    used += n;
                    if !go_on {
                        cx.close();
                        return input.len();
                    }
                }
            }
            if used == input.len() {
                return used;
            }
        }
    }
}

fn set(db: &Db, input: &[u8], args: &[(usize, usize)], out: &mut Vec<u8>) {
    let arg = |i: usize| &input[args[i].0..args[i].1];
    let mut expires = None;
    let (mut nx, mut xx) = (false, false);
    let mut i = 3;
    while i < args.len() {
        let opt = arg(i).to_ascii_uppercase();
        match &opt[..] {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"EX" | b"PX" if i + 1 < args.len() => {
                let Some(v) = parse_i64(arg(i + 1)).filter(|v| *v > 0) else {
                    err(out, "ERR invalid expire time in 'set' command");
                    return;
                };
                let d = if &opt[..] == b"EX" {
                    Duration::from_secs(v as u64)
                } else {
                    Duration::from_millis(v as u64)
                };
                expires = Some(Instant::now() + d);
                i += 1;
            }
            _ => {
                err(out, "ERR syntax error");
                return;
            }
        }
        i += 1;
    }
    let key = arg(1);
    let mut s = db.shard(key);
    let live = s
        .get(key)
        .is_some_and(|e| e.expires.map_or(true, |t| t > Instant::now()));
    if (nx && live) || (xx && !live) {
        out.extend_from_slice(b"$-1\r\n");
        return;
    }
    match s.get_mut(key) {
        // Reuse the value's allocation (a warm SET of the same key allocates nothing).
        Some(e) => {
            e.value.clear();
            e.value.extend_from_slice(arg(2));
            e.expires = expires;
        }
        None => {
            s.insert(
                key.to_vec(),
                Entry {
                    value: arg(2).to_vec(),
                    expires,
                },
            );
        }
    }
    out.extend_from_slice(b"+OK\r\n");
}

fn incr(db: &Db, key: &[u8], by: i64, out: &mut Vec<u8>) {
    let mut s = db.shard(key);
    let now = Instant::now();
    let current = match s.get(key) {
        Some(e) if e.expires.map_or(true, |t| t > now) => match parse_i64(&e.value) {
            Some(v) => v,
            None => {
                err(out, "ERR value is not an integer or out of range");
                return;
            }
        },
        _ => 0,
    };
    let Some(next) = current.checked_add(by) else {
        err(out, "ERR increment or decrement would overflow");
        return;
    };
    let text = next.to_string().into_bytes();
    match s.get_mut(key) {
        Some(e) if e.expires.map_or(true, |t| t > now) => e.value = text,
        _ => {
            s.insert(
                key.to_vec(),
                Entry {
                    value: text,
                    expires: None,
                },
            );
        }
    }
    int(out, next);
}

/// A decimal number from `input[at..]` up to CRLF: (value, index after CRLF).
fn line_number(input: &[u8], at: usize) -> Option<(i64, usize)> {
    let rest = input.get(at..)?;
    let nl = rest.iter().take(24).position(|&b| b == b'\r')?;
    if rest.get(nl + 1) != Some(&b'\n') {
        return None;
    }
    Some((parse_i64(&rest[..nl])?, at + nl + 2))
}

/// A decimal integer straight from the bytes (no UTF-8 pass, no allocation).
fn parse_i64(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
    }
    Some(if neg { -v } else { v })
}

fn bulk(out: &mut Vec<u8>, v: &[u8]) {
    out.push(b'$');
    let mut buf = itoa(v.len() as i64);
    out.extend_from_slice(buf.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(v);
    out.extend_from_slice(b"\r\n");
    buf.clear();
}

fn int(out: &mut Vec<u8>, v: i64) {
    out.push(b':');
    out.extend_from_slice(itoa(v).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn err(out: &mut Vec<u8>, msg: &str) {
    out.push(b'-');
    out.extend_from_slice(msg.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A number as text in a stack buffer.
fn itoa(v: i64) -> Itoa {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let neg = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut s = Itoa {
        buf: [0; 21],
        len: 0,
    };
    if neg {
        s.buf[0] = b'-';
        s.len = 1;
    }
    let digits = &buf[i..];
    s.buf[s.len..s.len + digits.len()].copy_from_slice(digits);
    s.len += digits.len();
    s
}

struct Itoa {
    buf: [u8; 21],
    len: usize,
}

impl Itoa {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    fn clear(&mut self) {
        self.len = 0;
    }
}

fn main() -> flare::Result<()> {
    let mut addr = "127.0.0.1:6380".to_string();
    let mut workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut io_uring = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr" => addr = args.next().expect("--addr needs a value"),
            "--workers" => {
                workers = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--workers needs a number")
            }
            "--io-uring" => io_uring = true,
            other => {
                eprintln!(
                    "usage: resp [--addr HOST:PORT] [--workers N] [--io-uring] (got {other})"
                );
                std::process::exit(2);
            }
        }
    }
    let db = Db::new();
    let server = TcpServer::bind(addr.as_str())?
        .workers(workers)
        .configure(|c| c.io_uring(io_uring).max_input_buffer(MAX_BULK + 1024));
    println!(
        "flare resp listening on redis://{} with {workers} workers",
        server.local_addr()
    );
    server.serve(move |_peer| Client {
        db: db.clone(),
        args: Vec::with_capacity(8),
    })
}
