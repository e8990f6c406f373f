//! The non-blocking client (`RequestBuilder::start`) through proxies on loopback:
//! tinyproxy with `BasicAuth` in front of flare (plain `http://` in absolute form,
//! with the credentials, which the origin never sees) and of nginx over TLS
//! (`https://` through a CONNECT tunnel, one tunnel reused for several requests,
//! HTTP/2 by ALPN inside it); an nginx forward proxy that keeps its client connections
//! alive, to show the pooled proxy connection carrying request after request;
//! missing and wrong credentials, a CONNECT to a closed port, `NO_PROXY`, redirects
//! that leave or enter the proxy; a handler on a one-worker server calling through
//! the proxy with `Pending::then` while its worker serves others; and hand-written
//! proxies that stall, close, send interim heads or an endless head.

mod client_support;
mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use client_support::*;
use common::*;
use flare::client::{Client, Error, ProtocolError, TimeoutKind};
use flare::prelude::*;
use flare::web::blocking::BlockingPool;
use flare::ServerConfig;
use http::HeaderValue;

const USER: &str = "flare";
// tinyproxy 1.11 takes only [A-Za-z0-9._-] in a password.
const PASS: &str = "pa-ss_w.rd";
const PASS_ENCODED: &str = "pa%2Dss_w%2Erd";
/// `Basic base64("flare:pa-ss_w.rd")`, what the nginx forward proxy wants.
const BASIC: &str = "Basic ZmxhcmU6cGEtc3Nfdy5yZA==";

/// Holds `/gate` requests on the origin until opened (at most 10 s).
#[derive(Default)]
struct Gate {
    state: Mutex<(bool, usize)>,
    cv: Condvar,
}

impl Gate {
    fn pass(&self) {
        let mut st = self.state.lock().unwrap();
        st.1 += 1;
        self.cv.notify_all();
        let t = Instant::now();
        while !st.0 && t.elapsed() < Duration::from_secs(10) {
            st = self
                .cv
                .wait_timeout(st, Duration::from_millis(50))
                .unwrap()
                .0;
        }
    }

    fn waiting(&self) -> usize {
        self.state.lock().unwrap().1
    }

    fn open(&self) {
        self.state.lock().unwrap().0 = true;
        self.cv.notify_all();
    }
}

struct Peers {
    dir: PathBuf,
    _proxy: Kill,
    _nginx: Nginx,
    /// tinyproxy.
    proxy_port: u16,
    /// nginx as a forward proxy (absolute form, keep-alive, wants [`BASIC`]).
    forward_port: u16,
    https: u16,
    ca: Vec<u8>,
    origin: TestServer,
    gate: Arc<Gate>,
    _pool: BlockingPool,
}

fn peers() -> Peers {
    let bin = require("tinyproxy");
    let version = run_ok(Command::new(&bin).arg("-v"));
    assert!(version.contains("tinyproxy 1."), "{version}");
    let (https, forward_port) = (free_port(), free_port());
    let ca = flare::tls::test_ca("flare non-blocking proxy test CA").unwrap();
    let (chain, key) = ca.issue(&["localhost"]).unwrap();
    let nginx = nginx(
        "nb-proxy",
        &format!(
            "server {{ listen 127.0.0.1:{https} ssl http2;\n\
               ssl_certificate {{d}}/cert.pem; ssl_certificate_key {{d}}/key.pem;\n\
               location = /pa {{ return 200 \"[$http_proxy_authorization]\"; }}\n\
               location = /conn {{ return 200 \"$connection\"; }} }}\n\
             server {{ listen 127.0.0.1:{forward_port};\n\
               location / {{\n\
                 if ($http_proxy_authorization != \"{BASIC}\") {{ return 407; }}\n\
                 proxy_pass http://$http_host;\n\
                 proxy_http_version 1.1;\n\
                 proxy_set_header Proxy-Authorization \"\";\n\
                 proxy_set_header Connection \"\";\n\
                 proxy_set_header Via \"1.1 nginx-forward\";\n\
                 add_header x-proxy-connection $connection always;\n\
                 add_header x-proxy-request $request always; }} }}"
        ),
        &[https, forward_port],
        |d| {
            std::fs::write(d.join("cert.pem"), &chain).unwrap();
            std::fs::write(d.join("key.pem"), &key).unwrap();
        },
    );
    let gate = Arc::new(Gate::default());
    let pool = BlockingPool::new(4, 16);
    let origin = TestServer::start(origin_app(gate.clone(), &pool));
    let dir = temp_dir("nb-tinyproxy");
    let proxy_port = free_port();
    let conf = dir.join("tinyproxy.conf");
    std::fs::write(
        &conf,
        format!(
            "Port {proxy_port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 32\n\
             LogFile \"{}\"\nLogLevel Connect\nBasicAuth {USER} {PASS}\n",
            dir.join("tinyproxy.log").display()
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
    wait_port(proxy_port, "tinyproxy", &mut child);
    Peers {
        dir,
        _proxy: Kill(child),
        _nginx: nginx,
        proxy_port,
        forward_port,
        https,
        ca: ca.cert_pem(),
        origin,
        gate,
        _pool: pool,
    }
}

/// `/hdr` says what reached the origin; `/to?URL` redirects to URL; `/gate` waits
/// for the test (on a blocking pool) and then answers like `/hdr`.
fn origin_app(gate: Arc<Gate>, pool: &BlockingPool) -> Router {
    fn seen(req: &Request) -> String {
        format!(
            "via={} proxy-authorization={}",
            req.header("via").unwrap_or("direct"),
            req.header("proxy-authorization").unwrap_or("none")
        )
    }
    Router::new()
        .get("/hdr", seen)
        .get("/to", |req: &Request| {
            Response::new(StatusCode::FOUND).with_header(
                http::header::LOCATION,
                HeaderValue::from_str(req.query().unwrap_or("/")).unwrap(),
            )
        })
        .get(
            "/gate",
            blocking(move |req: &Request| {
                gate.pass();
                seen(req)
            })
            .on(pool),
        )
}

impl Peers {
    fn good(&self) -> String {
        format!("http://{USER}:{PASS_ENCODED}@127.0.0.1:{}", self.proxy_port)
    }

    fn client(&self, proxy: &str, no_proxy: &str) -> Client {
        Client::builder()
            .proxy(proxy, no_proxy)
            .unwrap()
            .add_root_certificate_pem(&self.ca)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap()
    }

    fn https(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("tinyproxy.log")).unwrap_or_default()
    }

    /// CONNECTs in tinyproxy's log so far.
    fn connects(&self) -> usize {
        self.log().matches("): CONNECT ").count()
    }

    /// Requests tinyproxy logged with exactly this request line.
    fn requests(&self, line: &str) -> usize {
        self.log().matches(&format!("): {line}\n")).count()
    }
}

fn get(c: &Client, url: &str) -> Result<flare::client::Response, Error> {
    c.get(url).start().wait()
}

fn text(c: &Client, url: &str) -> String {
    get(c, url)
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .text()
        .unwrap()
}

#[test]
fn plain_http_goes_to_tinyproxy_in_absolute_form_with_its_credentials() {
    let p = peers();
    let c = p.client(&p.good(), "");
    for i in 0..3 {
        let url = p.origin.url(&format!("/hdr?n={i}"));
        let body = text(&c, &url);
        assert!(
            body.contains("via=1.1") && body.contains("tinyproxy"),
            "{body}"
        );
        // tinyproxy strips the field before the origin in any case.
        assert!(body.ends_with("proxy-authorization=none"), "{body}");
        // The absolute form, as tinyproxy logged it (it answers origin-form
        // requests with 400, so reaching the origin says as much).
        assert_eq!(p.requests(&format!("GET {url} HTTP/1.1")), 1, "{}", p.log());
    }

    // No credentials: tinyproxy's 407 is a typed error, as with `send`.
    let none = p.client(&format!("http://127.0.0.1:{}", p.proxy_port), "");
    let url = p.origin.url("/hdr");
    match get(&none, &url) {
        Err(Error::Proxy {
            status: 407,
            url: u,
        }) => assert_eq!(u, url),
        other => panic!("{other:?}"),
    }
    // Wrong credentials: tinyproxy up to 1.11.2 answers 401 (its issue 532); on a
    // plain request that is indistinguishable from the origin's, so it arrives as
    // a response, from tinyproxy itself (as with `send`).
    let wrong = p.client(
        &format!("http://{USER}:nope@127.0.0.1:{}", p.proxy_port),
        "",
    );
    match get(&wrong, &url) {
        Err(Error::Proxy { status: 407, .. }) => {}
        Ok(r) if r.status() == StatusCode::UNAUTHORIZED => {
            let server = r.headers()["server"].to_str().unwrap().to_owned();
            assert!(server.starts_with("tinyproxy/"), "{server}");
        }
        other => panic!("{other:?}"),
    }
    // The good client still works, and nothing is left in flight.
    assert!(text(&c, &url).contains("tinyproxy"));
    for c in [&c, &none, &wrong] {
        assert_eq!(c.in_flight(), 0);
    }
}

#[test]
fn a_keep_alive_proxy_carries_request_after_request_on_the_pooled_connection() {
    // tinyproxy closes its client connection after each plain request, so reuse
    // shows with nginx as the forward proxy: its `$connection` is the client's
    // connection to it.
    let p = peers();
    let good = format!("http://{USER}:{PASS_ENCODED}@127.0.0.1:{}", p.forward_port);
    let c = p.client(&good, "");
    let url = p.origin.url("/hdr");
    let mut conns = Vec::new();
    for _ in 0..4 {
        let r = get(&c, &url).unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let h = |n: &str| r.headers()[n].to_str().unwrap().to_owned();
        assert_eq!(h("x-proxy-request"), format!("GET {url} HTTP/1.1"));
        conns.push(h("x-proxy-connection"));
        assert_eq!(
            r.text().unwrap(),
            "via=1.1 nginx-forward proxy-authorization=none"
        );
    }
    assert!(conns.iter().all(|x| *x == conns[0]), "{conns:?}");

    // The pool keeps proxied connections apart from direct ones: the origin
    // reached directly (NO_PROXY) from a client that also goes through the
    // proxy, then through the proxy again on its kept connection.
    let mixed = p.client(&good, "localhost");
    let direct = p.origin.url("/hdr").replace("127.0.0.1", "localhost");
    let mut seen = Vec::new();
    for u in [&url, &direct, &url, &direct, &url] {
        let r = get(&mixed, u).unwrap();
        let conn = r
            .headers()
            .get("x-proxy-connection")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = r.text().unwrap();
        if u == &direct {
            assert_eq!(conn, None);
            assert_eq!(body, "via=direct proxy-authorization=none");
        } else {
            seen.push(conn.unwrap());
        }
    }
    assert!(seen.iter().all(|x| *x == seen[0]), "{seen:?}");

    // Without credentials nginx answers 407: `Error::Proxy`.
    let none = p.client(&format!("http://127.0.0.1:{}", p.forward_port), "");
    let e = get(&none, &url).unwrap_err();
    assert!(matches!(e, Error::Proxy { status: 407, .. }), "{e:?}");
}

#[test]
fn https_goes_through_one_connect_tunnel_to_nginx() {
    let p = peers();
    let c = p.client(&p.good(), "");
    let before = p.connects();
    // Several requests, one tunnel: nginx sees one connection, tinyproxy one
    // CONNECT. HTTP/2 inside the tunnel (ALPN `h2`, as `send` offers it).
    let mut conns = Vec::new();
    for _ in 0..3 {
        let r = get(&c, &p.https("/conn")).unwrap();
        assert_eq!(r.version(), http::Version::HTTP_2);
        conns.push(r.text().unwrap());
    }
    assert!(conns.iter().all(|x| *x == conns[0]), "{conns:?}");
    // The credentials went on the CONNECT only.
    assert_eq!(
        text(&c, &p.https("/pa")),
        "[]",
        "the origin saw credentials"
    );
    assert_eq!(p.connects(), before + 1, "{}", p.log());
    assert!(
        p.log()
            .contains(&format!("): CONNECT localhost:{} HTTP/1.1", p.https)),
        "{}",
        p.log()
    );

    // No credentials: 407 on the CONNECT.
    let none = p.client(&format!("http://127.0.0.1:{}", p.proxy_port), "");
    let url = p.https("/pa");
    match get(&none, &url) {
        Err(e @ Error::Proxy { status: 407, .. }) => {
            assert_eq!(e.url(), url);
            assert!(e.to_string().contains("407"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // Wrong credentials: tinyproxy 1.11 answers 401, later ones 407.
    let wrong = p.client(
        &format!("http://{USER}:nope@127.0.0.1:{}", p.proxy_port),
        "",
    );
    let e = get(&wrong, &url).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Proxy {
                status: 401 | 407,
                ..
            }
        ),
        "{e:?}"
    );
    // A CONNECT to a port nobody listens on: tinyproxy's 500, typed.
    let closed = format!("https://localhost:{}/", free_port());
    match get(&c, &closed) {
        Err(Error::Proxy { status, url: u }) => {
            assert!((500..600).contains(&status), "{status}");
            assert_eq!(u, closed);
        }
        other => panic!("{other:?}"),
    }
    // The refusals were not pooled: the good tunnel still serves.
    assert_eq!(text(&c, &p.https("/conn")), conns[0]);
    assert_eq!(p.connects(), before + 4, "{}", p.log());
}

#[test]
fn no_proxy_goes_direct_and_each_redirect_hop_chooses_by_its_url() {
    let p = peers();
    let c = p.client(&p.good(), "localhost");
    let before = p.connects();
    let direct = p.origin.url("/hdr").replace("127.0.0.1", "localhost");
    assert_eq!(text(&c, &direct), "via=direct proxy-authorization=none");
    assert_eq!(text(&c, &p.https("/pa")), "[]");
    assert_eq!(
        p.connects(),
        before,
        "a NO_PROXY host went through the proxy"
    );
    assert_eq!(p.requests(&format!("GET {direct} HTTP/1.1")), 0);

    // Through the proxy to a redirect that leaves it...
    let hop = p.origin.url(&format!("/to?{direct}"));
    assert_eq!(text(&c, &hop), "via=direct proxy-authorization=none");
    assert_eq!(p.requests(&format!("GET {hop} HTTP/1.1")), 1, "{}", p.log());
    // ... and direct to one that enters it.
    let proxied = p.origin.url("/hdr");
    let hop = direct.replace("/hdr", &format!("/to?{proxied}"));
    let body = text(&c, &hop);
    assert!(body.contains("tinyproxy"), "{body}");
    assert!(body.ends_with("proxy-authorization=none"), "{body}");
    assert_eq!(p.requests(&format!("GET {proxied} HTTP/1.1")), 1);
    // An https hop from a proxied http one: a tunnel.
    let hop = p
        .origin
        .url(&format!("/to?https://127.0.0.1:{}/pa", p.https));
    let ip = Client::builder()
        .proxy(&p.good(), "")
        .unwrap()
        .add_root_certificate_pem(&p.ca)
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    // The certificate names `localhost` only: through the tunnel TLS checks the
    // origin's name (127.0.0.1 here), never the proxy's, so this must fail on the
    // certificate, after the CONNECT.
    let before = p.connects();
    let e = get(&ip, &hop).unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    assert_eq!(p.connects(), before + 1);
}

#[test]
fn a_handler_calls_through_the_proxy_with_then_and_its_worker_keeps_serving() {
    let p = peers();
    let c = p.client(&p.good(), "");
    let gate_url = p.origin.url("/gate");
    let pa = p.https("/pa");
    let relay = |r: Result<flare::client::Response, Error>| match r {
        Ok(resp) => {
            let status = resp.status();
            Response::text(resp.text().unwrap_or_else(|e| e.to_string())).with_status(status)
        }
        Err(e) => Response::text(e.to_string()).with_status(StatusCode::BAD_GATEWAY),
    };
    let (c1, c2) = (c.clone(), c.clone());
    let app = Router::new()
        .get("/plaintext", |_: &Request| "Hello, World!")
        .get("/up", move |_: &Request| {
            c1.get(&gate_url).start().then(relay)
        })
        .get("/tls", move |_: &Request| c2.get(&pa).start().then(relay));
    // One worker: /up, /tls and /plaintext all share it.
    let front = TestServer::start_with(app, 1, ServerConfig::default());
    let connect = || {
        let s = TcpStream::connect(front.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    };

    let mut up = connect();
    up.write_all(b"GET /up HTTP/1.1\r\nhost: front\r\n\r\n")
        .unwrap();
    // The upstream call is through the proxy and held at the origin...
    let t = Instant::now();
    while p.gate.waiting() == 0 {
        assert!(t.elapsed() < Duration::from_secs(10), "never reached /gate");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(c.in_flight(), 1);
    // ... and the worker answers others meanwhile (a blocked worker would leave
    // this read to time out, since the gate opens only after it).
    let mut other = connect();
    for _ in 0..3 {
        other
            .write_all(b"GET /plaintext HTTP/1.1\r\nhost: front\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut other), (200, b"Hello, World!".to_vec()));
    }
    // An https call through a tunnel from the same worker, while /up waits.
    other
        .write_all(b"GET /tls HTTP/1.1\r\nhost: front\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut other), (200, b"[]".to_vec()));
    p.gate.open();
    let (status, body) = read_response(&mut up);
    let body = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("tinyproxy"), "{body}");
    assert!(body.ends_with("proxy-authorization=none"), "{body}");
    assert_eq!(c.in_flight(), 0);
}

/// A hand-written proxy on loopback: for each connection, reads the CONNECT head
/// and then does `act`.
fn fake_proxy(act: fn(&mut TcpStream)) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1024];
        while find(&head, b"\r\n\r\n").is_none() {
            match s.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&b[..n]),
            }
        }
        assert!(head.starts_with(b"CONNECT origin.test:443 HTTP/1.1\r\n"));
        act(&mut s);
    });
    (port, h)
}

#[test]
fn proxies_that_stall_close_or_misbehave_on_connect_are_bounded_errors() {
    let client = |port: u16| {
        Client::builder()
            .proxy(&format!("http://127.0.0.1:{port}"), "")
            .unwrap()
            .connect_timeout(Duration::from_millis(300))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let url = "https://origin.test/";
    // No reply: the connect timeout covers the tunnel.
    let (port, h) = fake_proxy(|s| {
        let _ = s.read(&mut [0u8; 1]);
    });
    let t = Instant::now();
    let e = get(&client(port), url).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Timeout {
                kind: TimeoutKind::Connect,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    h.join().unwrap();
    // Closed without a reply: an unexpected EOF, as `send` says it.
    let (port, h) = fake_proxy(|_| {});
    let e = get(&client(port), url).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Protocol {
                detail: ProtocolError::UnexpectedEof,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.url(), url);
    h.join().unwrap();
    // Interim heads are skipped; the final refusal counts, in pieces.
    let (port, h) = fake_proxy(|s| {
        for part in [
            &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 1"[..],
            b"02 Processing\r\n\r\nHTTP/1.1 403 Forb",
            b"idden\r\ncontent-length: 0\r\n\r\n",
        ] {
            s.write_all(part).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let e = get(&client(port), url).unwrap_err();
    assert!(matches!(e, Error::Proxy { status: 403, .. }), "{e:?}");
    h.join().unwrap();
    // A head that never ends is cut at the header limit: 502, not a growing buffer.
    let (port, h) = fake_proxy(|s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
        let line = format!("x-pad: {}\r\n", "a".repeat(1000));
        for _ in 0..64 {
            if s.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    let e = get(&client(port), url).unwrap_err();
    assert!(matches!(e, Error::Proxy { status: 502, .. }), "{e:?}");
    h.join().unwrap();
}
