//! `flare_web::fs::ServeDir` on the real server against curl and Python httpx: GET and
//! HEAD, index files and directory redirects, single and multiple ranges (`curl -r`),
//! `416`, `304` on a repeated ETag, path traversal attempts (`--path-as-is`, encoded
//! dots, NUL, a symlink out of the root), a large file sent with sendfile, and gzip
//! through the `Compress` layer decoded by httpx; and the same behind the Router's
//! catch-all parameter.
// Uses the `Compress` layer, which needs the `deflate` feature.
#![cfg(feature = "deflate")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{python, require, TestServer};
use flare::web::fs::ServeDir;
use flare::web::middleware::{Compress, HandlerExt};
use flare::web::router::Router;

const BIG: usize = 32 * 1024 * 1024;
const SECRET: &str = "SECRET-NEVER-SERVED";

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// A tree for one test under the target's temporary directory:
///
/// ```text
/// <name>/Cargo.toml            (the secret; a traversal target)
/// <name>/outside/secret.txt    (the secret)
/// <name>/public/hello.txt      "hello world\n"
/// <name>/public/index.html
/// <name>/public/sub/index.html
/// <name>/public/data.bin       1000 patterned bytes
/// <name>/public/app.js         20 KB of text
/// <name>/public/.env           (the secret)
/// <name>/public/escape.txt     -> ../outside/secret.txt
/// ```
fn tree(name: &str, big: bool) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("web_static")
        .join(name);
    let _ = std::fs::remove_dir_all(&base);
    let public = base.join("public");
    std::fs::create_dir_all(public.join("sub")).unwrap();
    std::fs::create_dir_all(base.join("outside")).unwrap();
    std::fs::write(base.join("Cargo.toml"), SECRET).unwrap();
    std::fs::write(base.join("outside/secret.txt"), SECRET).unwrap();
    std::fs::write(public.join("hello.txt"), "hello world\n").unwrap();
    std::fs::write(public.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(public.join("sub/index.html"), "<h1>sub</h1>").unwrap();
    std::fs::write(public.join("data.bin"), pattern(1000)).unwrap();
    std::fs::write(public.join("app.js"), app_js()).unwrap();
    std::fs::write(public.join(".env"), SECRET).unwrap();
    std::os::unix::fs::symlink("../outside/secret.txt", public.join("escape.txt")).unwrap();
    if big {
        std::fs::write(public.join("big.bin"), pattern(BIG)).unwrap();
    }
    public
}

fn app_js() -> String {
    (0..1000).map(|i| format!("console.log({i});\n")).collect()
}

fn server(root: &Path) -> TestServer {
    TestServer::start(ServeDir::new(root).prefix("/static"))
}

/// `curl` with the given arguments; stdout and stderr kept apart.
fn curl(args: &[&str]) -> (Vec<u8>, String) {
    let curl = require("curl");
    let out = Command::new(&curl)
        .args(["--silent", "--show-error", "--max-time", "60"])
        .args(args)
        .output()
        .expect("spawn curl");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "curl {args:?} failed ({}):\nstderr:\n{stderr}",
        out.status
    );
    (out.stdout, stderr)
}

/// Status line and header lines of a `curl -v` run, as received.
fn response_lines(verbose: &str) -> Vec<String> {
    verbose
        .lines()
        .filter_map(|l| l.strip_prefix("< "))
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// The first value of a response header (name case-insensitive, value as sent).
fn header(verbose: &str, name: &str) -> Option<String> {
    response_lines(verbose).into_iter().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

fn status(verbose: &str) -> u16 {
    let line = response_lines(verbose)
        .into_iter()
        .find(|l| l.starts_with("HTTP/"))
        .expect("status line");
    // `HTTP/1.1 200 OK` or `HTTP/2 200`.
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn get_and_head_with_validators() {
    let root = tree("get_head", false);
    let s = server(&root);
    let (body, err) = curl(&["-v", &s.url("/static/hello.txt")]);
    assert_eq!(body, b"hello world\n");
    assert_eq!(status(&err), 200);
    assert_eq!(
        header(&err, "content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&err, "content-length").as_deref(), Some("12"));
    assert_eq!(header(&err, "accept-ranges").as_deref(), Some("bytes"));
    assert!(header(&err, "etag").unwrap().starts_with("\"c-"), "{err}");
    assert!(header(&err, "last-modified").unwrap().ends_with(" GMT"));

    let (body, err) = curl(&["-v", "-I", &s.url("/static/hello.txt")]);
    assert_eq!(status(&err), 200);
    assert_eq!(header(&err, "content-length").as_deref(), Some("12"));
    assert!(!String::from_utf8_lossy(&body).contains("hello world"));

    let (body, err) = curl(&["-v", "-X", "POST", &s.url("/static/hello.txt")]);
    assert_eq!(status(&err), 405, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&err, "allow").as_deref(), Some("GET, HEAD"));
    let (_, err) = curl(&["-v", &s.url("/static/nope.txt")]);
    assert_eq!(status(&err), 404);
    let (_, err) = curl(&["-v", &s.url("/elsewhere/hello.txt")]);
    assert_eq!(status(&err), 404);
}

#[test]
fn index_files_and_directory_redirects() {
    let root = tree("index", false);
    let s = server(&root);
    let (body, err) = curl(&["-v", &s.url("/static/")]);
    assert_eq!(body, b"<h1>home</h1>");
    assert_eq!(
        header(&err, "content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let (_, err) = curl(&["-v", &s.url("/static/sub")]);
    assert_eq!(status(&err), 301);
    assert_eq!(header(&err, "location").as_deref(), Some("./sub/"));
    // curl resolves the relative Location against the request URL.
    let (body, _) = curl(&["-L", &s.url("/static/sub")]);
    assert_eq!(body, b"<h1>sub</h1>");
}

#[test]
fn ranges_with_curl() {
    let root = tree("ranges", false);
    let s = server(&root);
    let data = pattern(1000);
    let url = s.url("/static/data.bin");

    let (body, err) = curl(&["-v", "-r", "0-99", &url]);
    assert_eq!(status(&err), 206);
    assert_eq!(
        header(&err, "content-range").as_deref(),
        Some("bytes 0-99/1000")
    );
    assert_eq!(header(&err, "content-length").as_deref(), Some("100"));
    assert_eq!(body, &data[..100]);

    let (body, err) = curl(&["-v", "-r", "-10", &url]);
    assert_eq!(status(&err), 206);
    assert_eq!(body, &data[990..]);

    let (body, err) = curl(&["-v", "-r", "0-9,20-29", &url]);
    assert_eq!(status(&err), 206);
    let ct = header(&err, "content-type").unwrap();
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{ct}"));
    assert_eq!(
        header(&err, "content-length").unwrap(),
        body.len().to_string()
    );
    let parts = multipart_parts(&body, boundary);
    assert_eq!(
        parts,
        vec![
            ("bytes 0-9/1000".to_owned(), data[..10].to_vec()),
            ("bytes 20-29/1000".to_owned(), data[20..30].to_vec()),
        ]
    );

    let (_, err) = curl(&["-v", "-r", "2000-3000", &url]);
    assert_eq!(status(&err), 416);
    assert_eq!(
        header(&err, "content-range").as_deref(),
        Some("bytes */1000")
    );
}

/// (content-range, bytes) of each part of a `multipart/byteranges` body.
fn multipart_parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let find = |from: usize, needle: &[u8]| {
        body[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    let delim = format!("--{boundary}");
    let mut out = Vec::new();
    let mut pos = find(0, delim.as_bytes()).expect("first boundary");
    loop {
        let after = pos + delim.len();
        if body[after..].starts_with(b"--") {
            return out;
        }
        let head_end = find(after, b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&body[after..head_end]).to_ascii_lowercase();
        let range = head
            .lines()
            .find_map(|l| l.strip_prefix("content-range: "))
            .unwrap()
            .to_owned();
        let next = find(head_end, format!("\r\n{delim}").as_bytes()).unwrap();
        out.push((range, body[head_end + 4..next].to_vec()));
        pos = next + 2;
    }
}

#[test]
fn repeated_etag_gets_304_with_curl() {
    let root = tree("etag", false);
    let s = server(&root);
    let url = s.url("/static/hello.txt");
    let (_, err) = curl(&["-v", &url]);
    let etag = header(&err, "etag").unwrap();
    let (body, err) = curl(&["-v", "-H", &format!("If-None-Match: {etag}"), &url]);
    assert_eq!(status(&err), 304, "{err}");
    assert!(body.is_empty());
    assert_eq!(header(&err, "etag").as_deref(), Some(etag.as_str()));
    let lm = header(&err, "last-modified").unwrap();
    let (_, err) = curl(&["-v", "-H", &format!("If-Modified-Since: {lm}"), &url]);
    assert_eq!(status(&err), 304);
    let (body, err) = curl(&["-v", "-H", "If-None-Match: \"stale\"", &url]);
    assert_eq!(status(&err), 200);
    assert_eq!(body, b"hello world\n");
}

#[test]
fn path_traversal_attempts_are_refused() {
    let root = tree("traversal", false);
    let s = server(&root);
    let cases: &[(&str, &[u16])] = &[
        ("/static/../Cargo.toml", &[400]),
        ("/static/sub/../../Cargo.toml", &[400]),
        ("/static/%2e%2e/Cargo.toml", &[400]),
        ("/static/%2E%2E%2FCargo.toml", &[400]),
        ("/static/.%2e/outside/secret.txt", &[400]),
        ("/static/sub/..%2f..%2fCargo.toml", &[400]),
        ("/static/hello.txt%00.html", &[400]),
        ("/static/..\\Cargo.toml", &[400, 404]),
        ("/static/.env", &[404]),
        ("/static/escape.txt", &[404]),
        ("/static/%zz", &[400]),
    ];
    for (path, allowed) in cases {
        let url = format!("http://{}{path}", s.addr);
        let (body, err) = curl(&["-v", "--path-as-is", &url]);
        let got = status(&err);
        assert!(allowed.contains(&got), "{path}: {got}\n{err}");
        // ServeDir itself refused it (not the HTTP parser in front).
        if got == 400 {
            assert_eq!(body, b"bad path", "{path}");
        }
        assert!(
            !String::from_utf8_lossy(&body).contains(SECRET),
            "{path} leaked the secret"
        );
    }
    // The server kept serving throughout.
    let (body, _) = curl(&[&s.url("/static/hello.txt")]);
    assert_eq!(body, b"hello world\n");
}

#[test]
fn large_file_goes_out_whole_and_in_ranges() {
    let root = tree("large", true);
    let s = server(&root);
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web_static/large-out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("big.bin");
    let start = Instant::now();
    let (_, err) = curl(&["-v", "-o", out.to_str().unwrap(), &s.url("/static/big.bin")]);
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(status(&err), 200);
    assert_eq!(header(&err, "content-length"), Some(BIG.to_string()));
    let got = std::fs::read(&out).unwrap();
    assert!(got == pattern(BIG), "downloaded bytes differ");
    eprintln!(
        "large file: {} MiB in {:.3} s ({:.0} MiB/s, curl on loopback, debug build)",
        BIG >> 20,
        secs,
        (BIG >> 20) as f64 / secs
    );
    // The second half as one range: sendfile from an offset.
    let half = BIG / 2;
    let (_, err) = curl(&[
        "-v",
        "-r",
        &format!("{half}-"),
        "-o",
        out.to_str().unwrap(),
        &s.url("/static/big.bin"),
    ]);
    assert_eq!(status(&err), 206);
    let got = std::fs::read(&out).unwrap();
    assert!(got == pattern(BIG)[half..], "range bytes differ");
}

/// Runs `tests/py/w2_httpx.py` with the given steps; the parsed JSON results.
pub fn httpx(steps: serde_json::Value) -> Vec<serde_json::Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/w2_httpx.py");
    let out = Command::new(python())
        .arg(script)
        .arg(steps.to_string())
        .output()
        .expect("spawn python");
    assert!(
        out.status.success(),
        "httpx script failed (if httpx is missing: run `cargo xtask peers`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
}

fn unhex(s: &serde_json::Value) -> Vec<u8> {
    let s = s.as_str().unwrap().as_bytes();
    s.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn first<'a>(r: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    r["headers"][name][0].as_str()
}

#[test]
fn httpx_gzip_etag_round_trip_and_range() {
    let root = tree("httpx", false);
    let s = TestServer::start(
        ServeDir::new(&root)
            .prefix("/static")
            .layer(Compress::new()),
    );
    let js = s.url("/static/app.js");
    let res = httpx(serde_json::json!([
        {"url": js},
        {"url": js, "etag_from": 0},
        {"url": js, "headers": {"Range": "bytes=0-15"}},
        {"url": js, "headers": {"Accept-Encoding": "identity"}},
    ]));
    let full = &res[0];
    assert_eq!(full["status"], 200);
    assert_eq!(first(full, "content-encoding"), Some("gzip"));
    assert_eq!(first(full, "vary"), Some("accept-encoding"));
    assert_eq!(
        first(full, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let wire_len: usize = first(full, "content-length").unwrap().parse().unwrap();
    assert!(
        wire_len < app_js().len() / 3,
        "gzip did not shrink: {wire_len}"
    );
    assert_eq!(unhex(&full["body_hex"]), app_js().as_bytes());
    // The compressed variant's validator is weak; revalidating with it still works.
    let etag = first(full, "etag").unwrap();
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(res[1]["status"], 304);
    assert_eq!(unhex(&res[1]["body_hex"]), b"");
    // A range is of the identity representation and is never compressed.
    assert_eq!(res[2]["status"], 206);
    assert_eq!(first(&res[2], "content-encoding"), None);
    assert_eq!(unhex(&res[2]["body_hex"]), &app_js().as_bytes()[..16]);
    assert_eq!(res[3]["status"], 200);
    assert_eq!(first(&res[3], "content-encoding"), None);
    assert!(first(&res[3], "etag").unwrap().starts_with('"'));
}

#[test]
fn behind_the_router_catch_all() {
    let root = tree("router", false);
    std::fs::write(root.join("100%.txt"), "percent").unwrap();
    let app = Router::new()
        .mount("/files/{*path}", ServeDir::new(&root))
        .layer(Compress::new());
    let s = TestServer::start(app);
    let (body, err) = curl(&["-v", "--compressed", &s.url("/files/app.js")]);
    assert_eq!(status(&err), 200);
    assert_eq!(header(&err, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(body, app_js().as_bytes());
    let (body, _) = curl(&[&s.url("/files/100%25.txt")]);
    assert_eq!(body, b"percent");
    let (body, err) = curl(&["-v", "-r", "0-4", &s.url("/files/hello.txt")]);
    assert_eq!(status(&err), 206);
    assert_eq!(body, b"hello");
    for (path, want) in [
        ("/files/../Cargo.toml", 400),
        ("/files/%2e%2e/Cargo.toml", 400),
        ("/files/sub/..%2f..%2fCargo.toml", 400),
        ("/files/.env", 404),
        ("/files/escape.txt", 404),
    ] {
        let url = format!("http://{}{path}", s.addr);
        let (body, err) = curl(&["-v", "--path-as-is", &url]);
        assert_eq!(status(&err), want, "{path}");
        assert!(!String::from_utf8_lossy(&body).contains(SECRET), "{path}");
    }
}

#[test]
fn over_http2_prior_knowledge() {
    let root = tree("h2", true);
    let s = TestServer::start(
        ServeDir::new(&root)
            .prefix("/static")
            .layer(Compress::new()),
    );
    let h2 = "--http2-prior-knowledge";
    let (body, err) = curl(&["-v", h2, &s.url("/static/hello.txt")]);
    assert!(err.contains("< HTTP/2 200"), "{err}");
    assert_eq!(body, b"hello world\n");
    let etag = header(&err, "etag").unwrap();
    let (body, err) = curl(&[
        "-v",
        h2,
        "-H",
        &format!("If-None-Match: {etag}"),
        &s.url("/static/hello.txt"),
    ]);
    assert_eq!(status(&err), 304);
    assert!(body.is_empty());
    let data = pattern(1000);
    let (body, err) = curl(&["-v", h2, "-r", "0-99", &s.url("/static/data.bin")]);
    assert_eq!(status(&err), 206);
    assert_eq!(body, &data[..100]);
    let (body, err) = curl(&["-v", h2, "-r", "0-9,20-29", &s.url("/static/data.bin")]);
    assert_eq!(status(&err), 206);
    let ct = header(&err, "content-type").unwrap();
    let boundary = ct.strip_prefix("multipart/byteranges; boundary=").unwrap();
    assert_eq!(multipart_parts(&body, boundary).len(), 2);
    let (body, err) = curl(&["-v", h2, "--compressed", &s.url("/static/app.js")]);
    assert_eq!(header(&err, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(body, app_js().as_bytes());
    // A file body over HTTP/2 is read in pieces as the peer's window allows.
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web_static/h2-big.bin");
    let (_, err) = curl(&[
        "-v",
        h2,
        "-o",
        out.to_str().unwrap(),
        &s.url("/static/big.bin"),
    ]);
    assert_eq!(status(&err), 200);
    assert!(
        std::fs::read(&out).unwrap() == pattern(BIG),
        "h2 file bytes differ"
    );
    let url = format!("http://{}/static/%2e%2e/Cargo.toml", s.addr);
    let (body, err) = curl(&["-v", h2, "--path-as-is", &url]);
    assert_eq!(status(&err), 400);
    assert!(!String::from_utf8_lossy(&body).contains(SECRET));
}
