//! The HTTP client against servers this project did not write, on loopback:
//! nginx (HTTP/1.1 with `keepalive_timeout 1s`, HTTP/2 over TLS shared by threads,
//! gzip, a gzip bomb), nghttpd (h2c by prior knowledge, uploads), tinyproxy (HTTP
//! proxy, CONNECT tunnel, NO_PROXY), and certificates that do not verify.

mod common;

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use flare::client::{Client, Error};
use flare::prelude::*;

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("flare-client-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("www")).unwrap();
    d
}

/// Waits until `port` accepts connections; panics naming `peer` otherwise.
fn wait_port(port: u16, peer: &str, child: &mut Child) {
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{peer} exited at start: {status}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{peer} never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Nginx {
    _child: Kill,
    http: u16,
    https: u16,
    ca: Vec<u8>,
    dir: PathBuf,
}

fn nginx() -> Nginx {
    let bin = require("nginx");
    let dir = temp_dir("nginx");
    let www = dir.join("www");
    std::fs::write(www.join("hello.txt"), "hello from nginx\n").unwrap();
    let big: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(www.join("big.txt"), &big).unwrap();
    // 100 MiB of zeros, gzip'd to about 100 KiB, served as is (gzip_static).
    run_ok(Command::new("sh").arg("-c").arg(format!(
        "head -c 104857600 /dev/zero | gzip -9 > {}",
        www.join("bomb.txt.gz").display()
    )));
    let ca = flare::tls::test_ca("flare client test CA").unwrap();
    let (chain, key) = ca.issue(&["localhost"]).unwrap();
    std::fs::write(dir.join("cert.pem"), chain).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    let (http, https) = (free_port(), free_port());
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;\n\
             error_log {d}/error.log; events {{ worker_connections 512; }}\n\
             http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d};\n\
             fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
             keepalive_timeout 1s; gzip on; gzip_min_length 0; gzip_types text/plain;\n\
             server {{ listen 127.0.0.1:{http}; root {d}/www;\n\
               location = /conn {{ return 200 \"$connection\"; }}\n\
               location = /redirect {{ return 302 /hello.txt; }}\n\
               location = /bomb.txt {{ gzip off; gzip_static always; }} }}\n\
             server {{ listen 127.0.0.1:{https} ssl http2; root {d}/www;\n\
               ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n\
               location = /conn {{ return 200 \"$connection\"; }} }} }}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(&bin)
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&dir)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(http, "nginx", &mut child);
    wait_port(https, "nginx", &mut child);
    Nginx {
        _child: Kill(child),
        http,
        https,
        ca: ca.cert_pem(),
        dir,
    }
}

#[test]
fn nginx_h1_keep_alive_stale_connections_gzip_and_a_bomb() {
    let n = nginx();
    let client = Client::builder().no_proxy().build().unwrap();
    let url = |p: &str| format!("http://127.0.0.1:{}{p}", n.http);
    let r = client.get(url("/hello.txt")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["server"].to_str().unwrap().split('/').next(),
        Some("nginx")
    );
    assert_eq!(r.text().unwrap(), "hello from nginx\n");
    // Keep-alive: the same nginx connection serves the next requests.
    let c1 = client.get(url("/conn")).send().unwrap().text().unwrap();
    let c2 = client.get(url("/conn")).send().unwrap().text().unwrap();
    assert_eq!(c1, c2, "connection not reused");
    // nginx closes idle connections after 1 s; the pool keeps them 30 s. Each
    // request after a pause finds its pooled connection closed and still succeeds.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1200));
        let c = client.get(url("/conn")).send().unwrap().text().unwrap();
        assert_ne!(c, c1, "a closed connection was used");
    }
    // gzip on the fly: decoded, headers say so.
    let r = client.get(url("/big.txt")).send().unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    let body = r.text().unwrap();
    assert!(body.starts_with("line 0\nline 1\n") && body.ends_with("line 19999\n"));
    let raw = client
        .get(url("/big.txt"))
        .header("accept-encoding", "gzip")
        .send()
        .unwrap();
    assert_eq!(raw.headers()["content-encoding"], "gzip");
    assert!(raw.bytes().unwrap().len() < body.len() / 3);
    // A redirect from nginx.
    let r = client.get(url("/redirect")).send().unwrap();
    assert_eq!(r.url().path(), "/hello.txt");
    // The bomb: ~100 KiB on the wire, 100 MiB decoded; stopped at the cap.
    let t = Instant::now();
    let e = client
        .get(url("/bomb.txt"))
        .send()
        .unwrap()
        .bytes()
        .unwrap_err();
    assert!(
        matches!(e, Error::BodyTooLarge { limit, .. } if limit == 64 << 20),
        "{e}"
    );
    let small = Client::builder()
        .no_proxy()
        .max_response_size(1 << 20)
        .build()
        .unwrap();
    let mut r = small.get(url("/bomb.txt")).send().unwrap();
    let mut sink = Vec::new();
    let e = std::io::Read::read_to_end(&mut r, &mut sink).unwrap_err();
    assert!(e.to_string().contains("larger than 1048576"), "{e}");
    assert!(sink.len() <= 1 << 20);
    assert!(t.elapsed() < Duration::from_secs(30));
    let _ = std::fs::remove_dir_all(&n.dir);
}

#[test]
fn nginx_h2_over_tls_one_connection_shared_by_threads() {
    let n = nginx();
    let client = Client::builder()
        .no_proxy()
        .add_root_certificate_pem(&n.ca)
        .build()
        .unwrap();
    let url = |p: &str| format!("https://localhost:{}{p}", n.https);
    let r = client.get(url("/hello.txt")).send().unwrap();
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.text().unwrap(), "hello from nginx\n");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let c = client.clone();
            let u = url("/conn");
            let big = url("/big.txt");
            std::thread::spawn(move || {
                let mut seen = HashSet::new();
                for i in 0..40 {
                    let r = c.get(&u).send().unwrap();
                    assert_eq!(r.version(), http::Version::HTTP_2);
                    seen.insert(r.text().unwrap());
                    if i % 10 == 0 {
                        let body = c.get(&big).send().unwrap().text().unwrap();
                        assert!(body.ends_with("line 19999\n"));
                    }
                }
                seen
            })
        })
        .collect();
    let mut conns = HashSet::new();
    for t in threads {
        conns.extend(t.join().unwrap());
    }
    assert_eq!(
        conns.len(),
        1,
        "one HTTP/2 connection for the origin: {conns:?}"
    );
    // HTTP/1.1 only over TLS still works.
    let h1 = Client::builder()
        .no_proxy()
        .http1_only()
        .add_root_certificate_pem(&n.ca)
        .build()
        .unwrap();
    let r = h1.get(url("/hello.txt")).send().unwrap();
    assert_eq!(r.version(), http::Version::HTTP_11);
    assert_eq!(r.text().unwrap(), "hello from nginx\n");
    let _ = std::fs::remove_dir_all(&n.dir);
}

#[test]
fn certificates_that_do_not_verify_are_refused() {
    let n = nginx();
    let trusting = Client::builder()
        .no_proxy()
        .add_root_certificate_pem(&n.ca)
        .build()
        .unwrap();
    // The certificate names localhost, not 127.0.0.1.
    let e = trusting
        .get(format!("https://127.0.0.1:{}/hello.txt", n.https))
        .send()
        .unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("127.0.0.1"), "{msg}");
    assert!(
        msg.to_lowercase().contains("name") || msg.contains("NotValidForName"),
        "{msg}"
    );
    // Not issued by a trusted CA (only webpki roots).
    let default = Client::builder().no_proxy().build().unwrap();
    let e = default
        .get(format!("https://localhost:{}/hello.txt", n.https))
        .send()
        .unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    assert!(e.to_string().to_lowercase().contains("issuer"), "{e}");
    let _ = std::fs::remove_dir_all(&n.dir);
}

fn nghttpd(dir: &Path) -> (Kill, u16) {
    let bin = require("nghttpd");
    let port = free_port();
    let mut child = Command::new(bin)
        .args(["--no-tls", "--echo-upload", "-d"])
        .arg(dir)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port, "nghttpd", &mut child);
    (Kill(child), port)
}

#[test]
fn nghttpd_h2c_prior_knowledge() {
    let dir = temp_dir("nghttpd");
    std::fs::write(dir.join("www/hello.txt"), "hello from nghttpd").unwrap();
    let (_k, port) = nghttpd(&dir.join("www"));
    let client = Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/hello.txt");
    let r = client.get(&url).send().unwrap();
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.text().unwrap(), "hello from nghttpd");
    // Uploads, larger than the initial flow-control window, echoed back.
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let echoed = client
        .post(format!("http://127.0.0.1:{port}/echo"))
        .body(body.clone())
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(&echoed[..], &body[..]);
    // Many threads over the one connection.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let c = client.clone();
            let u = url.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    assert_eq!(
                        c.get(&u).send().unwrap().text().unwrap(),
                        "hello from nghttpd"
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tinyproxy_http_proxy_connect_tunnel_and_no_proxy() {
    let bin = require("tinyproxy");
    let n = nginx();
    let origin = TestServer::start(Router::new().get("/via", |req: &Request| {
        req.header("via").unwrap_or("direct").to_string()
    }));
    let dir = temp_dir("tinyproxy");
    let port = free_port();
    let log = dir.join("tinyproxy.log");
    let conf = dir.join("tinyproxy.conf");
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 32\n\
             LogFile \"{}\"\nLogLevel Connect\n",
            log.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(bin)
        .arg("-d")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port, "tinyproxy", &mut child);
    let _k = Kill(child);
    let proxy = format!("http://127.0.0.1:{port}");
    let client = Client::builder()
        .proxy(&proxy, "")
        .unwrap()
        .add_root_certificate_pem(&n.ca)
        .build()
        .unwrap();
    // Plain HTTP through the proxy (absolute form): tinyproxy adds Via.
    for _ in 0..3 {
        let via = client
            .get(origin.url("/via"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(via.contains("tinyproxy"), "not proxied: {via}");
    }
    // HTTPS through a CONNECT tunnel: TLS (and ALPN h2) end to end with nginx.
    let r = client
        .get(format!("https://localhost:{}/hello.txt", n.https))
        .send()
        .unwrap();
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.text().unwrap(), "hello from nginx\n");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains("CONNECT") && logged.contains(&format!("localhost:{}", n.https)),
        "tinyproxy log has no CONNECT:\n{logged}"
    );
    // NO_PROXY rules go direct.
    let direct = Client::builder()
        .proxy(&proxy, "127.0.0.1")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        direct
            .get(origin.url("/via"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
        "direct"
    );
    // A proxy that refuses the tunnel is a typed error (tinyproxy's ConnectPort
    // is unrestricted here, so point at a closed port: 502 or similar).
    let closed = free_port();
    let e = client
        .get(format!("https://localhost:{closed}/"))
        .send()
        .unwrap_err();
    assert!(matches!(e, Error::Proxy { .. }), "{e:?}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&n.dir);
}
