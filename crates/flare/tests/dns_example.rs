//! `examples/dns_server.rs` against real clients: `dig` (bind9-dnsutils) for every
//! record type, NXDOMAIN, NODATA, REFUSED, truncation with the retry over TCP, and
//! `+tcp`; `dnsperf` for a short run with no query lost; a std socket for FORMERR;
//! SIGTERM for a clean exit.

mod common;

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ZONE: &str = r#"
$ORIGIN example.test.
$TTL 3600
@       IN SOA ns1 hostmaster ( 2024010101 7200 3600 1209600 300 )
        IN NS  ns1
        IN MX  10 mail
ns1     IN A   192.0.2.1
mail    IN A   192.0.2.25
www     IN A   192.0.2.10
        IN AAAA 2001:db8::10
alias   IN CNAME www
txt     IN TXT "hello from flare" "second string"
"#;

/// The example serving `ZONE` plus 40 TXT strings at `big` (about 2.6 KB: over 512
/// and 1232 bytes); killed on drop.
struct Server {
    child: Option<Child>,
    port: u16,
    _dir: TempDir,
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Server {
    fn start() -> Server {
        let dir = std::env::temp_dir().join(format!(
            "flare-dns-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut zone = ZONE.to_string();
        for i in 0..40 {
            zone.push_str(&format!("big IN TXT \"{}{i:02}\"\n", "x".repeat(60)));
        }
        let path = dir.join("example.test.zone");
        std::fs::write(&path, zone).unwrap();
        let mut child = Command::new(common::example_bin("dns_server"))
            .args(["--addr", "127.0.0.1:0", "--workers", "2", "--zone"])
            .arg(&path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("flare dns listening on udp://"),
            "{line:?}"
        );
        let port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        assert!(
            line.contains(&format!("tcp://127.0.0.1:{port}")),
            "{line:?}"
        );
        Server {
            child: Some(child),
            port,
            _dir: TempDir(dir),
        }
    }

    fn dig(&self, args: &[&str]) -> String {
        let dig = common::require("dig");
        let out = Command::new(dig)
            .args([
                "@127.0.0.1",
                "-p",
                &self.port.to_string(),
                "+time=2",
                "+tries=1",
            ])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "dig {args:?} failed:\n{text}");
        text
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn status(out: &str) -> &str {
    out.split("status: ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or_else(|| panic!("no status in\n{out}"))
}

fn flags(out: &str) -> Vec<&str> {
    out.lines()
        .find_map(|l| l.strip_prefix(";; flags: "))
        .and_then(|l| l.split(';').next())
        .map(|f| f.split_whitespace().collect())
        .unwrap_or_else(|| panic!("no flags in\n{out}"))
}

#[test]
fn dig_gets_every_record_type_authoritatively() {
    let s = Server::start();
    let cases: &[(&str, &str, &[&str])] = &[
        ("www.example.test", "A", &["192.0.2.10"]),
        ("www.example.test", "AAAA", &["2001:db8::10"]),
        ("example.test", "MX", &["10 mail.example.test."]),
        ("example.test", "NS", &["ns1.example.test."]),
        (
            "txt.example.test",
            "TXT",
            &["\"hello from flare\" \"second string\""],
        ),
        ("alias.example.test", "CNAME", &["www.example.test."]),
        // A CNAME is followed inside the zone.
        (
            "alias.example.test",
            "A",
            &["www.example.test.", "192.0.2.10"],
        ),
        // Names are case-insensitive.
        ("WwW.ExAmPlE.TeSt", "A", &["192.0.2.10"]),
    ];
    for (name, t, want) in cases {
        let out = s.dig(&[name, t, "+norec"]);
        assert_eq!(status(&out), "NOERROR", "{name} {t}:\n{out}");
        assert!(
            flags(&out).contains(&"aa"),
            "{name} {t} not authoritative:\n{out}"
        );
        let short = s.dig(&[name, t, "+short"]);
        let got: Vec<&str> = short.lines().collect();
        assert_eq!(&got, want, "{name} {t}");
    }
    let soa = s.dig(&["example.test", "SOA", "+short"]);
    assert_eq!(
        soa.trim(),
        "ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300"
    );
    // The MX answer carries the exchange's address as glue.
    let mx = s.dig(&["example.test", "MX"]);
    assert!(
        mx.contains("mail.example.test.\t3600\tIN\tA\t192.0.2.25"),
        "{mx}"
    );
}

#[test]
fn dig_gets_nxdomain_nodata_and_refused() {
    let s = Server::start();
    let nx = s.dig(&["nope.example.test", "A"]);
    assert_eq!(status(&nx), "NXDOMAIN", "{nx}");
    assert!(flags(&nx).contains(&"aa"), "{nx}");
    assert!(nx.contains("AUTHORITY: 1"), "{nx}");
    assert!(
        nx.contains("example.test.\t\t300\tIN\tSOA\tns1.example.test."),
        "{nx}"
    );

    let nodata = s.dig(&["www.example.test", "MX"]);
    assert_eq!(status(&nodata), "NOERROR", "{nodata}");
    assert!(nodata.contains("ANSWER: 0, AUTHORITY: 1"), "{nodata}");

    let refused = s.dig(&["example.org", "A"]);
    assert_eq!(status(&refused), "REFUSED", "{refused}");
    assert!(!flags(&refused).contains(&"aa"), "{refused}");
}

#[test]
fn a_large_answer_truncates_over_udp_and_dig_gets_it_over_tcp() {
    let s = Server::start();
    // Without EDNS the limit is 512 bytes: TC set, no answer (dig told not to retry).
    let udp = s.dig(&["big.example.test", "TXT", "+noedns", "+ignore"]);
    assert!(flags(&udp).contains(&"tc"), "{udp}");
    assert!(udp.contains("ANSWER: 0"), "{udp}");
    // With EDNS (dig advertises 1232) still too large: TC again.
    let edns = s.dig(&["big.example.test", "TXT", "+ignore"]);
    assert!(flags(&edns).contains(&"tc"), "{edns}");
    // dig retries over TCP by itself on TC and gets all 40 strings.
    let retried = s.dig(&["big.example.test", "TXT"]);
    assert!(
        retried.contains("Truncated, retrying in TCP mode"),
        "{retried}"
    );
    assert!(retried.contains("ANSWER: 40"), "{retried}");
    assert!(retried.contains("(TCP)"), "{retried}");
    // And +tcp from the start, with several queries on one connection.
    let tcp = s.dig(&[
        "+tcp",
        "+keepopen",
        "big.example.test",
        "TXT",
        "www.example.test",
        "A",
    ]);
    assert!(tcp.contains("ANSWER: 40"), "{tcp}");
    assert!(tcp.contains("192.0.2.10"), "{tcp}");
    assert!(!flags(&tcp).contains(&"tc"), "{tcp}");
}

#[test]
fn a_malformed_query_gets_formerr() {
    let s = Server::start();
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    // A header claiming one question, then a label that runs off the end.
    let query = [
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x',
    ];
    c.send_to(&query, ("127.0.0.1", s.port)).unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = c.recv_from(&mut buf).expect("a FORMERR answer");
    assert!(n >= 12);
    assert_eq!(&buf[..2], &[0x12, 0x34], "id echoed");
    assert_eq!(buf[2] & 0x80, 0x80, "QR set");
    assert_eq!(buf[3] & 0x0F, 1, "rcode FORMERR");
    // A message shorter than a header gets nothing; the server keeps serving.
    c.send_to(&[1, 2, 3], ("127.0.0.1", s.port)).unwrap();
    let out = s.dig(&["www.example.test", "A", "+short"]);
    assert_eq!(out.trim(), "192.0.2.10");
}

#[test]
fn dnsperf_loses_no_query() {
    let dnsperf = common::require("dnsperf");
    let s = Server::start();
    let queries = s._dir.0.join("queries.txt");
    std::fs::write(
        &queries,
        "www.example.test A\nwww.example.test AAAA\nexample.test MX\ntxt.example.test TXT\n\
         alias.example.test A\nnope.example.test A\nexample.test SOA\n",
    )
    .unwrap();
    let out = Command::new(dnsperf)
        .args([
            "-s",
            "127.0.0.1",
            "-p",
            &s.port.to_string(),
            "-l",
            "3",
            "-d",
        ])
        .arg(&queries)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "dnsperf failed:\n{text}");
    let sent: u64 = field(&text, "Queries sent:");
    let lost: u64 = field(&text, "Queries lost:");
    assert!(sent > 1000, "dnsperf sent only {sent}:\n{text}");
    assert_eq!(lost, 0, "dnsperf lost queries:\n{text}");
    assert!(
        text.contains("NOERROR") && text.contains("NXDOMAIN"),
        "{text}"
    );
}

fn field(text: &str, label: &str) -> u64 {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in\n{text}"))
}

#[test]
fn sigterm_drains_and_exits_cleanly() {
    let mut s = Server::start();
    assert_eq!(s.dig(&["www.example.test", "+short"]).trim(), "192.0.2.10");
    let mut child = s.child.take().unwrap();
    // SAFETY: kill(2) on the child we spawned; no memory is involved.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "exit after SIGTERM: {st:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
