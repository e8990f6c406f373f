//! Proxy credentials through tinyproxy with `BasicAuth` on loopback: from
//! `ClientBuilder::proxy` and from `HTTP_PROXY`/`HTTPS_PROXY`, percent-decoded,
//! on plain requests (absolute form) and on CONNECT; missing or wrong ones are
//! typed errors; the origin never sees them (nginx over the tunnel, flare's own
//! server when NO_PROXY sends the request direct). The WebSocket client through
//! the same proxy: `ws://` and `wss://` (HTTP/1.1 upgrade and RFC 8441 over h2)
//! in CONNECT tunnels.

mod client_support;
mod common;

use std::process::{Command, Stdio};

use client_support::*;
use common::*;
use flare::client::{Client, Error, WsClient, WsHttp2, WsMessage};
use flare::prelude::*;

const USER: &str = "flare";
// tinyproxy 1.11's config grammar takes only [A-Za-z0-9._-] in a password, so the
// percent-decoding is exercised on ordinary characters: `pa%2Dss_w%2Erd`.
const PASS: &str = "pa-ss_w.rd";
const PASS_ENCODED: &str = "pa%2Dss_w%2Erd";

struct Peers {
    dir: std::path::PathBuf,
    _proxy: Kill,
    _nginx: Nginx,
    proxy_port: u16,
    https: u16,
    ca: Vec<u8>,
    origin: TestServer,
}

fn peers() -> Peers {
    let bin = require("tinyproxy");
    let version = run_ok(Command::new(&bin).arg("-v"));
    let https = free_port();
    let ca = flare::tls::test_ca("flare proxy-auth test CA").unwrap();
    let (chain, key) = ca.issue(&["localhost"]).unwrap();
    let nginx = nginx(
        "proxy-auth",
        &format!(
            "server {{ listen 127.0.0.1:{https} ssl http2;\n\
               ssl_certificate {{d}}/cert.pem; ssl_certificate_key {{d}}/key.pem;\n\
               location = /pa {{ return 200 \"[$http_proxy_authorization]\"; }} }}"
        ),
        &[https],
        |d| {
            std::fs::write(d.join("cert.pem"), &chain).unwrap();
            std::fs::write(d.join("key.pem"), &key).unwrap();
        },
    );
    let origin = TestServer::start(origin_app());
    let dir = temp_dir("tinyproxy-auth");
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
    assert!(version.contains("tinyproxy 1."), "{version}");
    Peers {
        dir,
        _proxy: Kill(child),
        _nginx: nginx,
        proxy_port,
        https,
        ca: ca.cert_pem(),
        origin,
    }
}

/// `/hdr` says what reached the origin; `/echo` is a WebSocket echo that says
/// on connect whether proxy credentials reached it.
fn origin_app() -> Router {
    Router::new()
        .get("/hdr", |req: &Request| {
            format!(
                "via={} proxy-authorization={}",
                req.header("via").unwrap_or("direct"),
                req.header("proxy-authorization").unwrap_or("none")
            )
        })
        .get("/echo", |req: &Request| {
            let saw = req.header("proxy-authorization").is_some();
            let up = match WebSocketUpgrade::from_req(req) {
                Ok(up) => up,
                Err(refusal) => return refusal,
            };
            let first = std::sync::atomic::AtomicBool::new(true);
            up.on_upgrade(move |ws: &WsSender, m: Message<'_>| {
                if first.swap(false, std::sync::atomic::Ordering::Relaxed) {
                    let _ = ws.send_text(if saw { "credentials" } else { "clean" });
                }
                let _ = ws.send(m);
            })
        })
}

fn client(p: &Peers, proxy: &str, no_proxy: &str) -> Client {
    Client::builder()
        .proxy(proxy, no_proxy)
        .unwrap()
        .add_root_certificate_pem(&p.ca)
        .build()
        .unwrap()
}

fn check_good_credentials(p: &Peers, c: &Client) {
    // Plain HTTP in absolute form, three times (the second and third on the pooled
    // connection to the proxy, each with the credentials).
    for _ in 0..3 {
        let body = c.get(p.origin.url("/hdr")).send().unwrap().text().unwrap();
        assert!(
            body.contains("via=1.1") && body.contains("tinyproxy"),
            "{body}"
        );
        // tinyproxy strips the field before the origin in any case.
        assert!(body.ends_with("proxy-authorization=none"), "{body}");
    }
    // HTTPS through a CONNECT that carried the credentials; nginx at the far end
    // of the tunnel sees none (and speaks h2 by ALPN).
    for _ in 0..2 {
        let r = c
            .get(format!("https://localhost:{}/pa", p.https))
            .send()
            .unwrap();
        assert_eq!(r.version(), http::Version::HTTP_2);
        assert_eq!(r.text().unwrap(), "[]", "the origin saw proxy credentials");
    }
}

#[test]
fn tinyproxy_basic_auth_from_the_builder() {
    let p = peers();
    let good = format!("http://{USER}:{PASS_ENCODED}@127.0.0.1:{}", p.proxy_port);
    check_good_credentials(&p, &client(&p, &good, ""));

    // No credentials: 407 from tinyproxy, a typed error for both paths.
    let none = client(&p, &format!("http://127.0.0.1:{}", p.proxy_port), "");
    let url = p.origin.url("/hdr");
    match none.get(&url).send() {
        Err(Error::Proxy {
            status: 407,
            url: u,
        }) => assert_eq!(u, url),
        other => panic!("{other:?}"),
    }
    let e = none
        .get(format!("https://localhost:{}/pa", p.https))
        .send()
        .unwrap_err();
    assert!(matches!(e, Error::Proxy { status: 407, .. }), "{e:?}");
    assert!(e.to_string().contains("407"), "{e}");

    // Wrong credentials. RFC 9110 section 15.5.8 says 407; tinyproxy up to 1.11.2
    // answers 401 (tinyproxy issue 532, fixed after). On CONNECT any refusal is
    // `Error::Proxy` with the proxy's status; on a plain request a 401 is
    // indistinguishable from the origin's, so it arrives as a response, from
    // tinyproxy itself.
    let wrong = client(
        &p,
        &format!("http://{USER}:nope@127.0.0.1:{}", p.proxy_port),
        "",
    );
    match wrong.get(p.origin.url("/hdr")).send() {
        Err(Error::Proxy { status: 407, .. }) => {}
        Ok(r) if r.status() == StatusCode::UNAUTHORIZED => {
            let server = r.headers()["server"].to_str().unwrap().to_owned();
            assert!(server.starts_with("tinyproxy/"), "{server}");
        }
        other => panic!("{other:?}"),
    }
    let e = wrong
        .get(format!("https://localhost:{}/pa", p.https))
        .send()
        .unwrap_err();
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

    // A host that goes direct (NO_PROXY) never gets the proxy's credentials.
    let direct = client(&p, &good, "127.0.0.1");
    let body = direct
        .get(p.origin.url("/hdr"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(body, "via=direct proxy-authorization=none");
}

#[test]
fn tinyproxy_basic_auth_from_the_environment() {
    // The only test in this binary that reads the proxy environment.
    let p = peers();
    let good = format!("http://{USER}:{PASS_ENCODED}@127.0.0.1:{}", p.proxy_port);
    for k in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"] {
        std::env::set_var(k, &good);
    }
    for k in ["NO_PROXY", "no_proxy"] {
        std::env::remove_var(k);
    }
    let c = Client::builder()
        .add_root_certificate_pem(&p.ca)
        .build()
        .unwrap();
    for k in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"] {
        std::env::remove_var(k);
    }
    check_good_credentials(&p, &c);
}

/// The number of CONNECTs in tinyproxy's log so far.
fn connects(p: &Peers) -> usize {
    let log = std::fs::read_to_string(p.dir.join("tinyproxy.log")).unwrap_or_default();
    log.matches("): CONNECT ").count()
}

fn ws_round_trip(ws: &mut WsClient) {
    ws.send_text("hello").unwrap();
    assert_eq!(ws.recv().unwrap(), WsMessage::Text("clean".into()));
    assert_eq!(ws.recv().unwrap(), WsMessage::Text("hello".into()));
    ws.send_binary(&[7u8; 70_000]).unwrap();
    assert_eq!(ws.recv().unwrap(), WsMessage::Binary(vec![7u8; 70_000]));
    ws.close(1000, "").unwrap();
}

#[test]
fn websocket_client_through_the_proxy_in_connect_tunnels() {
    let p = peers();
    let good = format!("http://{USER}:{PASS_ENCODED}@127.0.0.1:{}", p.proxy_port);
    // wss:// origin: flare over TLS with h2 and extended CONNECT.
    let ca = flare::tls::test_ca("flare ws proxy CA").unwrap();
    let (chain, key) = ca.issue(&["localhost"]).unwrap();
    let tls = flare::tls::ServerConfig::builder()
        .cert_pem(&chain, &key)
        .alpn(&[b"h2", b"http/1.1"])
        .build()
        .unwrap();
    let secure = TestServer::from_handle(
        HttpServer::bind("127.0.0.1:0")
            .unwrap()
            .workers(1)
            .config(with_test_backend(ServerConfig::default()))
            .tls(tls)
            .start(origin_app())
            .unwrap(),
    );
    let wss = format!("wss://localhost:{}/echo", secure.addr.port());
    let ws_url = format!("ws://{}/echo", p.origin.addr);
    let ca = ca.cert_pem();

    // ws:// through a tunnel (a forwarding proxy would not carry the upgrade).
    let before = connects(&p);
    let mut ws = WsClient::builder()
        .proxy(&good, "")
        .unwrap()
        .connect(&ws_url)
        .unwrap();
    ws_round_trip(&mut ws);
    assert_eq!(
        connects(&p),
        before + 1,
        "ws:// did not go through a CONNECT"
    );
    // wss:// over HTTP/1.1, and over HTTP/2 (extended CONNECT inside the tunnel).
    for (mode, version) in [
        (WsHttp2::Never, http::Version::HTTP_11),
        (WsHttp2::Require, http::Version::HTTP_2),
    ] {
        let before = connects(&p);
        let mut ws = WsClient::builder()
            .proxy(&good, "")
            .unwrap()
            .add_root_certificate_pem(&ca)
            .http2(mode)
            .connect(&wss)
            .unwrap();
        assert_eq!(ws.http_version(), version);
        ws_round_trip(&mut ws);
        assert_eq!(connects(&p), before + 1, "{mode:?}: no CONNECT");
    }
    // No or wrong credentials: the proxy's refusal, typed.
    let bare = format!("http://127.0.0.1:{}", p.proxy_port);
    let wrong = format!("http://{USER}:nope@127.0.0.1:{}", p.proxy_port);
    for (proxy, statuses) in [(&bare, &[407][..]), (&wrong, &[401, 407][..])] {
        for url in [&ws_url, &wss] {
            match WsClient::builder()
                .proxy(proxy, "")
                .unwrap()
                .add_root_certificate_pem(&ca)
                .connect(url)
            {
                Err(Error::Proxy { status, url: u }) => {
                    assert!(statuses.contains(&status), "{url}: {status}");
                    assert_eq!(&u, url);
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }
    // NO_PROXY and no_proxy() go direct.
    let before = connects(&p);
    let mut ws = WsClient::builder()
        .proxy(&bare, "127.0.0.1")
        .unwrap()
        .connect(&ws_url)
        .unwrap();
    ws_round_trip(&mut ws);
    let mut ws = WsClient::builder().no_proxy().connect(&ws_url).unwrap();
    ws_round_trip(&mut ws);
    assert_eq!(
        connects(&p),
        before,
        "a direct WebSocket went through the proxy"
    );
    secure.stop();
}
