//! Peers for the real-server tests: dnsmasq, a scripted dnslib server and dnspython.
//! Everything listens on and talks to 127.0.0.1 only.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use flare_dns::{Message, Name, RecordType};

const PY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py");

/// The Python with dnslib and dnspython: `$FLARE_PYTHON` or the project venv.
pub fn python() -> PathBuf {
    let path = std::env::var_os("FLARE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/venv/bin/python"
            ))
        });
    let ok = Command::new(&path)
        .args(["-c", "import dnslib, dns.resolver"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "Python with dnslib and dnspython not found at {}: run `cargo xtask peers` \
         (PyPI packages dnslib, dnspython)",
        path.display()
    );
    path
}

fn dnsmasq_bin() -> PathBuf {
    for p in [
        "/usr/sbin/dnsmasq",
        "/usr/bin/dnsmasq",
        "/usr/local/sbin/dnsmasq",
    ] {
        if std::path::Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("dnsmasq not found: run `cargo xtask peers` (Debian package dnsmasq-base)");
}

/// A port free for both UDP and TCP on 127.0.0.1 right now.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Sends `name`/`qtype` to 127.0.0.1:`port` over UDP with our codec and waits up to
/// `wait` for the answer.
pub fn query_udp(port: u16, name: &str, qtype: RecordType, wait: Duration) -> Option<Message> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(wait)).unwrap();
    let mut out = Vec::new();
    Message::query(0x4242, Name::from_ascii(name).unwrap(), qtype, Some(1232))
        .encode(&mut out)
        .unwrap();
    sock.send(&out).ok()?;
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).ok()?;
    Some(Message::decode(&buf[..n]).unwrap())
}

/// The same over TCP.
pub fn query_tcp(port: u16, name: &str, qtype: RecordType) -> Message {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = vec![0, 0];
    Message::query(0x4343, Name::from_ascii(name).unwrap(), qtype, None)
        .encode(&mut out)
        .unwrap();
    let len = (out.len() - 2) as u16;
    out[..2].copy_from_slice(&len.to_be_bytes());
    s.write_all(&out).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    Message::decode(&body).unwrap()
}

/// dnsmasq on 127.0.0.1 with a fixed test zone; killed on drop. It never forwards:
/// no upstream servers (`--no-resolv`, no config file) and every domain is local.
pub struct Dnsmasq {
    child: Child,
    /// The UDP and TCP port.
    pub port: u16,
}

/// Addresses of many.flare.test.
pub fn many_v4() -> Vec<IpAddr> {
    (1..=12).map(|i| IpAddr::from([10, 0, 0, i])).collect()
}

/// IPv6 addresses of many.flare.test.
pub fn many_v6() -> Vec<IpAddr> {
    (1..=5u16)
        .map(|i| IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, i]))
        .collect()
}

impl Dnsmasq {
    /// Starts dnsmasq and waits until it answers.
    pub fn start() -> Self {
        let bin = dnsmasq_bin();
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(&bin);
            cmd.args([
                "-k",
                "--no-resolv",
                "--no-hosts",
                "--conf-file=/dev/null",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--log-facility=-",
                "--local-ttl=300",
                "--local=/#/",
                "--host-record=www.flare.test,192.0.2.10,2001:db8::10",
                "--host-record=v4only.flare.test,192.0.2.11",
                "--host-record=v6only.flare.test,2001:db8::66",
                "--host-record=servfail.flare.test,192.0.2.99",
                "--cname=alias.flare.test,www.flare.test",
                "--cname=alias2.flare.test,alias.flare.test",
                "--txt-record=txt.flare.test,hello world,second string",
                "--srv-host=_http._tcp.flare.test,www.flare.test,80,1,10",
                "--srv-host=_http._tcp.flare.test,v4only.flare.test,8080,2,5",
            ]);
            cmd.arg(format!("--port={port}"));
            cmd.arg(format!(
                "--pid-file={}/flare-dns-dnsmasq-{port}.pid",
                std::env::temp_dir().display()
            ));
            for ip in many_v4() {
                cmd.arg(format!("--host-record=many.flare.test,{ip}"));
            }
            for ip in many_v6() {
                cmd.arg(format!("--host-record=many.flare.test,{ip}"));
            }
            let child = cmd
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn dnsmasq");
            let mut d = Dnsmasq { child, port };
            // dnsmasq binds its sockets before it logs "started"; a port clash makes it
            // exit instead, which ends the log.
            let stderr = d.child.stderr.take().unwrap();
            let mut lines = BufReader::new(stderr).lines();
            let started = lines
                .by_ref()
                .map_while(Result::ok)
                .any(|l| l.contains("started"));
            if !started {
                eprintln!("dnsmasq on port {port} exited: {:?}", d.child.wait());
                continue;
            }
            // Keep draining the log so dnsmasq never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            assert!(
                query_udp(
                    port,
                    "www.flare.test",
                    RecordType::A,
                    Duration::from_secs(5)
                )
                .is_some(),
                "dnsmasq started but does not answer"
            );
            return d;
        }
        panic!("dnsmasq did not start");
    }

    /// 127.0.0.1:port.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Stops the server now.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(format!(
            "{}/flare-dns-dnsmasq-{}.pid",
            std::env::temp_dir().display(),
            self.port
        ));
    }
}

/// tests/py/scripted_server.py; exits when its stdin closes, killed on drop.
pub struct Scripted {
    child: Child,
    _stdin: ChildStdin,
    /// The UDP and TCP port.
    pub port: u16,
}

impl Scripted {
    /// Starts the server and reads its port.
    pub fn start() -> Self {
        let mut child = Command::new(python())
            .arg(format!("{PY_DIR}/scripted_server.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn scripted server");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("scripted server said {line:?}"));
        Scripted {
            child,
            _stdin: stdin,
            port,
        }
    }

    /// 127.0.0.1:port.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn counter(&self, kind: &str, name: &str) -> u32 {
        let m = query_udp(
            self.port,
            &format!("{kind}.{name}"),
            RecordType::TXT,
            Duration::from_secs(5),
        )
        .expect("count query");
        match &m.answers[0].data {
            flare_dns::RData::Txt(s) => std::str::from_utf8(&s[0]).unwrap().parse().unwrap(),
            other => panic!("{other:?}"),
        }
    }

    /// "id:source-port" of each UDP query for `name`.
    pub fn peers(&self, name: &str) -> Vec<String> {
        let m = query_udp(
            self.port,
            &format!("peers.{name}"),
            RecordType::TXT,
            Duration::from_secs(5),
        )
        .expect("peers query");
        match &m.answers[0].data {
            flare_dns::RData::Txt(s) => s
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8(s.clone()).unwrap())
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    /// How many queries (any type, any transport) `name` has had.
    pub fn count(&self, name: &str) -> u32 {
        self.counter("count", name)
    }

    /// How many of them came over TCP.
    pub fn tcp_count(&self, name: &str) -> u32 {
        self.counter("tcpcount", name)
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What dnspython says for each `name:TYPE`: `(rcode, sorted values)`.
pub fn dnspython(port: u16, specs: &[&str]) -> Vec<(String, Vec<String>)> {
    let out = Command::new(python())
        .arg(format!("{PY_DIR}/dnspython_query.py"))
        .arg(port.to_string())
        .args(specs)
        .output()
        .expect("run dnspython");
    assert!(
        out.status.success(),
        "dnspython: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut w = l.split('\t');
            let rcode = w.next().unwrap().to_string();
            (rcode, w.map(str::to_string).collect())
        })
        .collect()
}
