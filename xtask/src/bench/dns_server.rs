//! `cargo xtask bench dns-server`: dnsperf against flare's authoritative DNS example
//! and against nsd and unbound serving the same zone, one worker/thread each, the
//! server pinned to CPU 1 and dnsperf to CPU 0; queries/s and server CPU per query
//! (from /proc, the whole process tree), into the dns-server section of
//! docs/benchmark.md.

use std::fs;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{facts, procfs, publish};
use crate::error::{Error, Result};
use crate::util;

const HELP: &str = "\
cargo xtask bench dns-server [--quick] [--seconds N] [--rounds N] [--servers LIST]

dnsperf (1 thread, 4 sockets, 100 queries in flight) against flare's
examples/dns_server.rs (1 worker), nsd (server-count 1) and unbound
(num-threads 1, the zone as local-data under `local-zone: \".\" static`),
all serving the same 1,000-host zone; the server pinned to CPU 1, dnsperf to
CPU 0. Queries/s and server CPU us/query (user+sys of the process tree from
/proc), median of the rounds, servers alternating. Writes the section between
<!-- bench:dns-server:start/end --> in docs/benchmark.md.

  --quick        1 round of 3 s
  --seconds N    dnsperf -l N per round (default 10)
  --rounds N     rounds per server (default 3)
  --servers L    comma list of flare,nsd,unbound (default all)
";

const START: &str = "<!-- bench:dns-server:start -->";
const END: &str = "<!-- bench:dns-server:end -->";
const SERVER_CPU: &str = "1";
const CLIENT_CPU: &str = "0";
const HOSTS: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    Flare,
    Nsd,
    Unbound,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Flare => "flare",
            Server::Nsd => "nsd",
            Server::Unbound => "unbound",
        }
    }
}

struct Options {
    seconds: u32,
    rounds: u32,
    servers: Vec<Server>,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        seconds: 10,
        rounds: 3,
        servers: vec![Server::Flare, Server::Nsd, Server::Unbound],
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |what: &str| -> Result<u32> {
            it.next()
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0)
                .ok_or_else(|| Error::Usage(format!("{what} needs a positive number")))
        };
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quick" => {
                o.seconds = 3;
                o.rounds = 1;
            }
            "--seconds" => o.seconds = num("--seconds")?,
            "--rounds" => o.rounds = num("--rounds")?,
            "--servers" => {
                let list = it
                    .next()
                    .ok_or_else(|| Error::Usage("--servers needs a list".into()))?;
                o.servers = list
                    .split(',')
                    .map(|s| match s {
                        "flare" => Ok(Server::Flare),
                        "nsd" => Ok(Server::Nsd),
                        "unbound" => Ok(Server::Unbound),
                        other => Err(Error::Usage(format!("unknown server `{other}`"))),
                    })
                    .collect::<Result<_>>()?;
            }
            other => return Err(Error::Usage(format!("unknown option `{other}`"))),
        }
    }
    Ok(Some(o))
}

/// The zone as master-file text and as unbound local-data lines, and the queries.
fn zone_text() -> String {
    let mut z = String::from(
        "$ORIGIN example.test.\n$TTL 3600\n\
         @ IN SOA ns1.example.test. hostmaster.example.test. 1 7200 3600 1209600 300\n\
         @ IN NS ns1.example.test.\n@ IN MX 10 mail.example.test.\n\
         ns1 IN A 192.0.2.1\nmail IN A 192.0.2.25\n\
         www IN A 192.0.2.10\nwww IN AAAA 2001:db8::10\n\
         txt IN TXT \"hello from the dns bench\"\n",
    );
    for i in 0..HOSTS {
        z.push_str(&format!("host{i} IN A 10.0.{}.{}\n", i / 256, i % 256));
    }
    z
}

fn unbound_local_data(zone: &str) -> String {
    let mut out = String::new();
    for line in zone.lines().filter(|l| !l.starts_with('$')) {
        let mut parts = line.splitn(2, ' ');
        let (owner, rest) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let owner = if owner == "@" {
            "example.test.".to_string()
        } else {
            format!("{owner}.example.test.")
        };
        let rest = rest.replace('"', "\\\"");
        out.push_str(&format!("    local-data: \"{owner} 3600 {rest}\"\n"));
    }
    out
}

fn queries() -> String {
    let mut q = String::new();
    for i in 0..HOSTS {
        q.push_str(&format!("host{i}.example.test A\n"));
        if i % 10 == 0 {
            q.push_str("www.example.test AAAA\nexample.test MX\n");
        }
        if i % 50 == 0 {
            q.push_str(&format!("missing{i}.example.test A\n"));
        }
    }
    q
}

fn free_port() -> Result<u16> {
    let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| Error::io("binding a probe socket", e))?;
    let port = s
        .local_addr()
        .map_err(|e| Error::io("probe socket", e))?
        .port();
    Ok(port)
}

/// Sends `www.example.test A` until an answer comes back.
fn wait_ready(name: &str, port: u16) -> Result<()> {
    let q = [
        0x42, 0x42, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 7, b'e', b'x', b'a', b'm',
        b'p', b'l', b'e', 4, b't', b'e', b's', b't', 0, 0, 1, 0, 1,
    ];
    let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| Error::io("probe socket", e))?;
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        let _ = s.send_to(&q, ("127.0.0.1", port));
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            if n >= 12 && buf[..2] == [0x42, 0x42] {
                return Ok(());
            }
        }
    }
    Err(Error::Server {
        name: name.into(),
        detail: format!("no answer on 127.0.0.1:{port} within 10 s"),
    })
}

fn pinned(cpu: Option<&str>, program: &Path) -> Command {
    match cpu {
        Some(c) => {
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", c]).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

fn spawn(mut cmd: Command, what: &str) -> Result<Child> {
    cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
    cmd.spawn().map_err(|source| Error::Spawn {
        program: what.into(),
        source,
    })
}

struct Running {
    child: Child,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        // SIGTERM the tree root (nsd forks its server and xfrd), then make sure.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(server: Server, dir: &Path, flare: &Path, cpu: Option<&str>) -> Result<Running> {
    let port = free_port()?;
    let zone = dir.join("example.test.zone");
    let child = match server {
        Server::Flare => {
            let mut cmd = pinned(cpu, flare);
            cmd.args([
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--workers",
                "1",
                "--zone",
            ])
            .arg(&zone);
            spawn(cmd, "dns_server")?
        }
        Server::Nsd => {
            let d = dir.join("nsd");
            util::create_dir(&d)?;
            let conf = d.join("nsd.conf");
            util::write_file(
                &conf,
                &format!(
                    "server:\n  ip-address: 127.0.0.1@{port}\n  server-count: 1\n  \
                     username: \"\"\n  chroot: \"\"\n  zonesdir: \"{dir}\"\n  \
                     database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  \
                     xfrdfile: \"{d}/xfrd.state\"\n  pidfile: \"{d}/nsd.pid\"\n  \
                     logfile: \"{d}/nsd.log\"\n  hide-version: yes\n  verbosity: 0\n  rrl-ratelimit: 0\n\
                     remote-control:\n  control-enable: no\n\
                     zone:\n  name: example.test\n  zonefile: \"{zone}\"\n",
                    dir = dir.display(),
                    d = d.display(),
                    zone = zone.display(),
                ),
            )?;
            let mut cmd = pinned(cpu, &util::which("nsd").unwrap_or_else(|| "nsd".into()));
            cmd.args(["-d", "-c"]).arg(&conf);
            spawn(cmd, "nsd")?
        }
        Server::Unbound => {
            let d = dir.join("unbound");
            util::create_dir(&d)?;
            let conf = d.join("unbound.conf");
            let text = fs::read_to_string(&zone).map_err(|e| Error::io("reading the zone", e))?;
            util::write_file(
                &conf,
                &format!(
                    "server:\n    interface: 127.0.0.1@{port}\n    port: {port}\n    \
                     num-threads: 1\n    do-daemonize: no\n    chroot: \"\"\n    \
                     username: \"\"\n    directory: \"{d}\"\n    pidfile: \"{d}/unbound.pid\"\n    \
                     use-syslog: no\n    logfile: \"\"\n    verbosity: 0\n    do-ip6: no\n    \
                     module-config: \"iterator\"\n    so-reuseport: no\n    \
                     local-zone: \".\" static\n{data}\
                     remote-control:\n    control-enable: no\n",
                    d = d.display(),
                    data = unbound_local_data(&text),
                ),
            )?;
            let mut cmd = pinned(
                cpu,
                &util::which("unbound").unwrap_or_else(|| "unbound".into()),
            );
            cmd.args(["-d", "-c"]).arg(&conf);
            spawn(cmd, "unbound")?
        }
    };
    let running = Running { child, port };
    wait_ready(server.name(), port)?;
    Ok(running)
}

#[derive(Clone, Copy, Debug, Default)]
struct Round {
    completed: u64,
    lost: u64,
    qps: f64,
    cpu_us_per_query: f64,
}

fn field<T: std::str::FromStr>(text: &str, label: &str) -> Option<T> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn round(r: &Running, queries: &Path, seconds: u32, cpu: Option<&str>) -> Result<Round> {
    let dnsperf = util::which("dnsperf").unwrap_or_else(|| "dnsperf".into());
    let before = procfs::tree_cpu(r.child.id())?;
    let mut cmd = pinned(cpu, &dnsperf);
    cmd.args([
        "-s",
        "127.0.0.1",
        "-p",
        &r.port.to_string(),
        "-c",
        "4",
        "-q",
        "100",
    ])
    .args(["-l", &seconds.to_string(), "-d"])
    .arg(queries);
    let out = util::output(&mut cmd)?;
    let after = procfs::tree_cpu(r.child.id())?;
    let parse = |label: &str| -> Result<f64> {
        field(&out, label).ok_or_else(|| Error::Parse {
            what: "dnsperf output".into(),
            detail: format!("no {label:?} in:\n{out}"),
        })
    };
    let completed = parse("Queries completed:")? as u64;
    let lost = parse("Queries lost:")? as u64;
    let qps = parse("Queries per second:")?;
    let ticks = after.since(before);
    let secs = (ticks.user + ticks.system) as f64 / procfs::clock_ticks_per_sec() as f64;
    Ok(Round {
        completed,
        lost,
        qps,
        cpu_us_per_query: secs * 1e6 / completed.max(1) as f64,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn check_tools(o: &Options) -> Result<()> {
    let mut need = vec![("dnsperf", "dnsperf")];
    if o.servers.contains(&Server::Nsd) {
        need.push(("nsd", "nsd"));
    }
    if o.servers.contains(&Server::Unbound) {
        need.push(("unbound", "unbound"));
    }
    for (bin, package) in need {
        if util::which(bin).is_none() {
            return Err(Error::MissingPeer {
                peer: format!("{bin} (Debian package {package})"),
                detail: format!("not on PATH; `apt-get install {package}`"),
            });
        }
    }
    Ok(())
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// `cargo xtask bench dns-server`.
pub fn main(args: &[String]) -> Result<()> {
    let Some(o) = parse(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    check_tools(&o)?;
    let pin_ok = facts::cores() >= 2
        && util::succeeds(Command::new("taskset").args(["-c", SERVER_CPU, "true"]));
    let (server_cpu, client_cpu) = if pin_ok {
        (Some(SERVER_CPU), Some(CLIENT_CPU))
    } else {
        println!("warning: fewer than 2 usable CPUs or no taskset; nothing is pinned");
        (None, None)
    };
    let flare = if o.servers.contains(&Server::Flare) {
        util::run(util::cargo().args([
            "build",
            "--release",
            "-p",
            "flare",
            "--example",
            "dns_server",
        ]))?;
        util::target_dir().join("release/examples/dns_server")
    } else {
        PathBuf::new()
    };
    let dir = util::target_dir().join("bench/dns-server");
    util::create_dir(&dir)?;
    let zone = zone_text();
    util::write_file(&dir.join("example.test.zone"), &zone)?;
    let qfile = dir.join("queries.txt");
    util::write_file(&qfile, &queries())?;
    let load_before = load_average();

    let mut results: Vec<(Server, Vec<Round>)> =
        o.servers.iter().map(|&s| (s, Vec::new())).collect();
    for n in 0..o.rounds {
        for (server, rounds) in results.iter_mut() {
            let running = start(*server, &dir, &flare, server_cpu)?;
            let r = round(&running, &qfile, o.seconds, client_cpu)?;
            drop(running);
            println!(
                "round {}/{} {:8} {:>10.0} q/s  {:>6.2} us CPU/query  lost {}",
                n + 1,
                o.rounds,
                server.name(),
                r.qps,
                r.cpu_us_per_query,
                r.lost
            );
            rounds.push(r);
        }
    }
    let load_after = load_average();

    let (date, time) = facts::utc_now();
    let mut rows = vec![format!(
        "| server | queries/s | server CPU us/query | lost |\n|---|---:|---:|---:|"
    )];
    let mut summary = Vec::new();
    for (server, rounds) in &results {
        let qps = median(rounds.iter().map(|r| r.qps).collect());
        let cpu = median(rounds.iter().map(|r| r.cpu_us_per_query).collect());
        let lost: u64 = rounds.iter().map(|r| r.lost).sum();
        let completed: u64 = rounds.iter().map(|r| r.completed).sum();
        rows.push(format!(
            "| {} | {qps:.0} | {cpu:.2} | {lost} of {completed} |",
            server.name()
        ));
        summary.push((*server, qps, cpu));
    }
    let flare_cpu = summary.iter().find(|s| s.0 == Server::Flare).map(|s| s.2);
    let best_peer = summary
        .iter()
        .filter(|s| s.0 != Server::Flare)
        .min_by(|a, b| a.2.partial_cmp(&b.2).unwrap_or(std::cmp::Ordering::Equal));
    let goal = match (flare_cpu, best_peer) {
        (Some(f), Some(p)) => format!(
            "Goal (issue 17): flare's CPU per query below the best peer's: flare {f:.2} us, \
             {} {:.2} us, ratio {:.2}x: **{}**.",
            p.0.name(),
            p.2,
            f / p.2,
            if f < p.2 { "met" } else { "not met" }
        ),
        _ => "Goal (issue 17): needs flare and at least one peer in the run.".into(),
    };
    let section = format!(
        "{START}\n## Authoritative DNS over UDP (`cargo xtask bench dns-server`)\n\n\
         {date} {time} UTC, commit {commit}, {cores} cores, {cpu_model}; load average \
         before/after: {load_before} / {load_after}. Other builds and benches may share the \
         machine: the figures are noisy when the load average is above 1.\n\n\
         dnsperf -c 4 -q 100 -l {secs} (pinned to CPU {client}) against each server (1 \
         worker/thread, pinned to CPU {server_cpu}) serving the same zone ({HOSTS} hosts plus \
         SOA/NS/MX/AAAA/TXT; queries: A for every host, AAAA, MX, and NXDOMAIN every 50th). \
         CPU is user+sys of the server's process tree from /proc; median of {rounds} \
         round(s), servers alternating. nsd: `server-count: 1`; unbound: `num-threads: 1`, \
         `local-zone: \".\" static` with the zone as `local-data`.\n\n{table}\n\n{goal}\n{END}",
        commit = facts::commit(),
        cores = facts::cores(),
        cpu_model = facts::cpu_model(),
        secs = o.seconds,
        client = client_cpu.unwrap_or("-"),
        server_cpu = server_cpu.unwrap_or("-"),
        rounds = o.rounds,
        table = rows.join("\n"),
    );
    println!("\n{section}");
    let doc_path = util::workspace_root().join("docs/benchmark.md");
    let old = fs::read_to_string(&doc_path).ok();
    util::write_file(
        &doc_path,
        &publish::splice_marked(old.as_deref(), START, END, &section),
    )?;
    println!("wrote the dns-server section of {}", doc_path.display());
    Ok(())
}
