//! The client's cookie jar against nginx on loopback: `Set-Cookie` from
//! `add_header` (host-only, Path, Max-Age, Expires deletion, HttpOnly, SameSite,
//! Secure from https only, refused Domain), the `Cookie` nginx receives
//! (`$http_cookie`), redirects across two server names and ports, HTTP/2 over
//! TLS, and the jar's limits.

mod client_support;
mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use client_support::*;
use flare::client::{Client, Jar, SameSite, Url};

struct Servers {
    _nginx: Nginx,
    a: u16,
    b: u16,
    s: u16,
    ca: Vec<u8>,
}

/// A on 127.0.0.1:a sets and echoes cookies; B on 127.0.0.1:b is reached both as
/// `127.0.0.1` and as `localhost`; S is HTTPS (h2) for `localhost`.
fn servers() -> Servers {
    let (a, b, s) = (free_port(), free_port(), free_port());
    let ca = flare::tls::test_ca("flare cookie test CA").unwrap();
    let (chain, key) = ca.issue(&["localhost"]).unwrap();
    let fits = "f".repeat(1000);
    let conf = format!(
        r#"
server {{ listen 127.0.0.1:{a};
  location = /set {{
    add_header Set-Cookie "sid=abc; Path=/; HttpOnly";
    add_header Set-Cookie "pref=dark; Path=/app; Max-Age=3600; SameSite=Lax";
    add_header Set-Cookie "wide=1; Domain=example.com";
    add_header Set-Cookie "sec=1; Secure";
    add_header Set-Cookie "old=; Expires=Thu, 01 Jan 1970 00:00:00 GMT";
    return 200 "set"; }}
  location = /echo {{ return 200 "$http_cookie"; }}
  location /app/ {{ return 200 "$http_cookie"; }}
  location = /logout {{ add_header Set-Cookie "sid=; Path=/; Max-Age=0"; return 200 "bye"; }}
  location = /self {{ return 302 /echo; }}
  location = /to-b {{ add_header Set-Cookie "hop=1; Path=/"; return 302 http://localhost:{b}/set-and-back; }}
  location = /to-b-echo {{ return 302 http://localhost:{b}/echo; }}
  location = /many {{
    add_header Set-Cookie "m1=1"; add_header Set-Cookie "m2=1"; add_header Set-Cookie "m3=1";
    add_header Set-Cookie "m4=1"; add_header Set-Cookie "m5=1"; return 200 "many"; }}
  location = /huge {{
    set $k "{fits}";
    add_header Set-Cookie "fits=$k$k$k$k";
    add_header Set-Cookie "huge=$k$k$k$k$k";
    return 200 "huge"; }}
}}
server {{ listen 127.0.0.1:{b};
  location = /echo {{ return 200 "$http_cookie"; }}
  location = /set-and-back {{ add_header Set-Cookie "b=1; Path=/"; return 302 http://127.0.0.1:{a}/echo; }}
}}
server {{ listen 127.0.0.1:{s} ssl http2;
  ssl_certificate {{d}}/cert.pem; ssl_certificate_key {{d}}/key.pem;
  location = /set-secure {{
    add_header Set-Cookie "s=1; Secure; Path=/";
    add_header Set-Cookie "__Host-h=1; Secure; Path=/";
    return 302 http://localhost:{b}/echo; }}
  location = /echo {{ return 200 "$http_cookie"; }}
}}
"#
    );
    let nginx = nginx("cookies", &conf, &[a, b, s], |d| {
        std::fs::write(d.join("cert.pem"), &chain).unwrap();
        std::fs::write(d.join("key.pem"), &key).unwrap();
    });
    Servers {
        _nginx: nginx,
        a,
        b,
        s,
        ca: ca.cert_pem(),
    }
}

fn text(client: &Client, url: &str) -> String {
    client.get(url).send().unwrap().text().unwrap()
}

fn names(jar: &Jar) -> Vec<String> {
    let mut n: Vec<String> = jar.cookies().iter().map(|c| c.name().to_owned()).collect();
    n.sort();
    n
}

#[test]
fn nginx_sets_cookies_and_receives_them_by_the_rules() {
    let n = servers();
    let a = |p: &str| format!("http://127.0.0.1:{}{p}", n.a);
    let jar = Arc::new(Jar::new());
    // Pre-loaded by the caller; nginx deletes it below.
    assert!(jar.add_cookie_str("old=1", &Url::parse(&a("/")).unwrap()));
    let client = Client::builder()
        .no_proxy()
        .cookie_jar(jar.clone())
        .add_root_certificate_pem(&n.ca)
        .build()
        .unwrap();
    assert!(Arc::ptr_eq(client.cookie_jar().unwrap(), &jar));
    assert_eq!(text(&client, &a("/echo")), "old=1");

    // What was stored: a Domain that does not domain-match 127.0.0.1 and a
    // Secure cookie over http are refused; `old` expired (a deletion).
    assert_eq!(text(&client, &a("/set")), "set");
    assert_eq!(names(&jar), ["pref", "sid"]);
    let cookies = jar.cookies();
    let sid = cookies.iter().find(|c| c.name() == "sid").unwrap();
    assert!(sid.host_only() && sid.http_only() && !sid.secure());
    assert_eq!(
        (sid.domain(), sid.path(), sid.expires()),
        ("127.0.0.1", "/", None)
    );
    let pref = cookies.iter().find(|c| c.name() == "pref").unwrap();
    assert_eq!(pref.same_site(), Some(SameSite::Lax));
    let left = pref
        .expires()
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(left > Duration::from_secs(3500) && left <= Duration::from_secs(3600));

    // What nginx receives: by path, longest first.
    assert_eq!(text(&client, &a("/echo")), "sid=abc");
    assert_eq!(text(&client, &a("/app/page")), "pref=dark; sid=abc");
    // Cookies do not isolate by port (RFC 6265 section 8.5), but host-only
    // cookies stay with their host.
    assert_eq!(
        text(&client, &format!("http://127.0.0.1:{}/echo", n.b)),
        "sid=abc"
    );
    assert_eq!(text(&client, &format!("http://localhost:{}/echo", n.b)), "");

    // A redirect chain 127.0.0.1:a -> localhost:b -> 127.0.0.1:a, each hop setting a
    // cookie: the caller's own `Cookie` is dropped at the first cross-origin hop;
    // jar cookies follow each host's rules.
    let r = client
        .get(a("/to-b"))
        .header("cookie", "mine=1")
        .send()
        .unwrap();
    assert_eq!(r.url().to_string(), a("/echo"));
    assert_eq!(r.text().unwrap(), "sid=abc; hop=1");
    assert_eq!(
        text(&client, &format!("http://localhost:{}/echo", n.b)),
        "b=1"
    );
    let r = client
        .get(a("/to-b-echo"))
        .header("cookie", "mine=1")
        .send()
        .unwrap();
    assert_eq!(
        r.text().unwrap(),
        "b=1",
        "the caller's cookie crossed origins"
    );
    // Same origin: the caller's own field is kept, and wins over the jar's.
    let r = client
        .get(a("/self"))
        .header("cookie", "mine=1")
        .send()
        .unwrap();
    assert_eq!(r.text().unwrap(), "mine=1");

    // Secure cookies come from https and go only to https (here over HTTP/2).
    let r = client
        .get(format!("https://localhost:{}/set-secure", n.s))
        .send()
        .unwrap();
    assert_eq!(r.text().unwrap(), "b=1", "a Secure cookie went over http");
    let r = client
        .get(format!("https://localhost:{}/echo", n.s))
        .send()
        .unwrap();
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.text().unwrap(), "b=1; s=1; __Host-h=1");

    // Max-Age=0 deletes.
    assert_eq!(text(&client, &a("/logout")), "bye");
    assert_eq!(text(&client, &a("/echo")), "hop=1");

    // Off by default.
    let plain = Client::builder().no_proxy().build().unwrap();
    assert!(plain.cookie_jar().is_none());
    assert_eq!(text(&plain, &a("/set")), "set");
    assert_eq!(text(&plain, &a("/echo")), "");
    // `cookie_store(true)` makes a jar of its own.
    let own = Client::builder()
        .no_proxy()
        .cookie_store(true)
        .build()
        .unwrap();
    assert_eq!(text(&own, &a("/set")), "set");
    assert_eq!(text(&own, &a("/echo")), "sid=abc");
    assert_eq!(own.cookie_jar().unwrap().len(), 2);
}

#[test]
fn jar_limits_against_nginx() {
    let n = servers();
    let a = |p: &str| format!("http://127.0.0.1:{}{p}", n.a);
    // Per domain: five cookies in one response, three kept (the newest).
    let jar = Arc::new(Jar::new().max_cookies_per_domain(3));
    let client = Client::builder()
        .no_proxy()
        .cookie_jar(jar.clone())
        .build()
        .unwrap();
    assert_eq!(text(&client, &a("/many")), "many");
    assert_eq!(names(&jar), ["m3", "m4", "m5"]);
    assert_eq!(text(&client, &a("/echo")), "m3=1; m4=1; m5=1");
    // In all: a second host pushes the least recently used out.
    let jar = Arc::new(Jar::new().max_cookies(4));
    let client = Client::builder()
        .no_proxy()
        .cookie_jar(jar.clone())
        .build()
        .unwrap();
    assert_eq!(text(&client, &a("/many")), "many");
    assert_eq!(names(&jar), ["m2", "m3", "m4", "m5"]);
    // localhost:b sets `b` (evicting `m2`) and redirects back to a.
    let back = text(&client, &format!("http://localhost:{}/set-and-back", n.b));
    assert_eq!(back, "m3=1; m4=1; m5=1");
    assert_eq!(names(&jar), ["b", "m3", "m4", "m5"]);
    // Size: 4,005 bytes fit the default 4,096; 5,005 do not; a smaller limit
    // refuses both.
    let jar = Arc::new(Jar::new());
    let client = Client::builder()
        .no_proxy()
        .cookie_jar(jar.clone())
        .build()
        .unwrap();
    assert_eq!(text(&client, &a("/huge")), "huge");
    assert_eq!(names(&jar), ["fits"]);
    assert_eq!(text(&client, &a("/echo")).len(), "fits=".len() + 4000);
    let jar = Arc::new(Jar::new().max_cookie_size(100));
    let client = Client::builder()
        .no_proxy()
        .cookie_jar(jar.clone())
        .build()
        .unwrap();
    assert_eq!(text(&client, &a("/huge")), "huge");
    assert!(jar.is_empty());
}
