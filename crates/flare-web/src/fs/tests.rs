use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::body::{Frame, StreamContext, StreamWaker};

/// A fresh tree for one test:
///
/// ```text
/// root/hello.txt         "hello world\n"
/// root/index.html        "<h1>root</h1>"
/// root/data.bin          1000 patterned bytes
/// root/empty.txt         ""
/// root/.secret           "s"
/// root/sub/index.html    "<h1>sub</h1>"
/// root/noindex/a.txt     "a"
/// root/link_in.css       -> hello.txt
/// root/link_out.txt      -> ../outside/secret.txt
/// root/fifo              a named pipe
/// outside/secret.txt     "outside"
/// ```
fn tree() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let base = std::env::temp_dir().join(format!(
        "flare-web-servedir-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(root.join("noindex")).unwrap();
    std::fs::create_dir_all(base.join("outside")).unwrap();
    std::fs::write(root.join("hello.txt"), "hello world\n").unwrap();
    std::fs::write(root.join("index.html"), "<h1>root</h1>").unwrap();
    std::fs::write(root.join("data.bin"), data()).unwrap();
    std::fs::write(root.join("empty.txt"), "").unwrap();
    std::fs::write(root.join(".secret"), "s").unwrap();
    std::fs::write(root.join("sub/index.html"), "<h1>sub</h1>").unwrap();
    std::fs::write(root.join("noindex/a.txt"), "a").unwrap();
    std::fs::write(base.join("outside/secret.txt"), "outside").unwrap();
    std::os::unix::fs::symlink("hello.txt", root.join("link_in.css")).unwrap();
    std::os::unix::fs::symlink("../outside/secret.txt", root.join("link_out.txt")).unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(root.join("fifo"))
        .status()
        .unwrap();
    assert!(st.success());
    root
}

fn data() -> Vec<u8> {
    (0..1000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn req(method: Method, uri: &str, headers: &[(&str, &str)]) -> Request {
    let mut b = Request::builder().method(method).uri(uri);
    for (n, v) in headers {
        b = b.header(n, v);
    }
    b.build()
}

fn get(dir: &ServeDir, uri: &str, headers: &[(&str, &str)]) -> Response {
    dir.handle(&mut req(Method::GET, uri, headers))
}

/// The body as bytes, reading `Body::File` ranges and draining streams.
fn body(resp: &mut Response) -> Vec<u8> {
    match resp.take_body() {
        Body::Empty => Vec::new(),
        Body::Static(b) => b.to_vec(),
        Body::Bytes(b) => b.to_vec(),
        Body::File(mut f) => {
            let mut out = vec![0u8; f.len as usize];
            f.file.seek(SeekFrom::Start(f.offset)).unwrap();
            f.file.read_exact(&mut out).unwrap();
            out
        }
        Body::Stream(mut s) => {
            let w = StreamWaker::noop();
            let mut out = Vec::new();
            for _ in 0..100_000 {
                match s.poll_frame(&mut StreamContext::new(&w)) {
                    Frame::Data(d) => out.extend_from_slice(&d),
                    Frame::End => return out,
                    other => panic!("unexpected {other:?}"),
                }
            }
            panic!("stream did not end")
        }
    }
}

fn header<'a>(r: &'a Response, name: &str) -> &'a str {
    r.header(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("no {name} in {r:?}"))
}

#[test]
fn serves_a_file_with_type_validators_and_sendfile_body() {
    let root = tree();
    let dir = ServeDir::new(&root);
    let mut r = get(&dir, "/hello.txt", &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "text/plain; charset=utf-8");
    assert_eq!(header(&r, "accept-ranges"), "bytes");
    let etag = header(&r, "etag").to_owned();
    assert!(etag.starts_with("\"c-") && etag.ends_with('"'), "{etag}");
    let lm = header(&r, "last-modified").to_owned();
    let mtime = std::fs::metadata(root.join("hello.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(http_date::parse(&lm), Some(http_date::unix_secs(mtime)));
    assert!(matches!(r.body(), Body::File(f) if f.offset == 0 && f.len == 12));
    assert_eq!(body(&mut r), b"hello world\n");

    let mut head = dir.handle(&mut req(Method::HEAD, "/hello.txt", &[]));
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "etag"), etag);
    assert_eq!(head.body().len_hint(), Some(12));
    assert_eq!(body(&mut head), b"hello world\n");

    let mut empty = get(&dir, "/empty.txt", &[]);
    assert_eq!(empty.status(), 200);
    assert!(body(&mut empty).is_empty());
}

#[test]
fn other_methods_are_405_with_allow() {
    let dir = ServeDir::new(tree());
    for m in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
        let r = dir.handle(&mut req(m.clone(), "/hello.txt", &[]));
        assert_eq!(r.status(), 405, "{m}");
        assert_eq!(header(&r, "allow"), "GET, HEAD");
    }
}

#[test]
fn directories_index_and_redirect() {
    let dir = ServeDir::new(tree());
    let mut r = get(&dir, "/", &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
    assert_eq!(body(&mut r), b"<h1>root</h1>");
    let mut r = get(&dir, "/sub/", &[]);
    assert_eq!(body(&mut r), b"<h1>sub</h1>");
    let r = get(&dir, "/sub", &[]);
    assert_eq!(r.status(), 301);
    assert_eq!(header(&r, "location"), "./sub/");
    let r = get(&dir, "/sub?x=1", &[]);
    assert_eq!(header(&r, "location"), "./sub/?x=1");
    // A path starting with `//` must not become a protocol-relative redirect.
    let r = get(&dir, "//sub", &[]);
    assert_eq!(header(&r, "location"), "./sub/");
    assert_eq!(get(&dir, "/noindex/", &[]).status(), 404);
    let no_index = ServeDir::new(tree()).index_file(None);
    assert_eq!(get(&no_index, "/sub/", &[]).status(), 404);
    let other_index = ServeDir::new(tree()).index_file(Some("a.txt"));
    let mut r = get(&other_index, "/noindex/", &[]);
    assert_eq!(header(&r, "content-type"), "text/plain; charset=utf-8");
    assert_eq!(body(&mut r), b"a");
}

#[test]
fn prefix_and_router_parameter() {
    let dir = ServeDir::new(tree()).prefix("/static/");
    assert_eq!(get(&dir, "/static/hello.txt", &[]).status(), 200);
    assert_eq!(get(&dir, "/static/", &[]).status(), 200);
    assert_eq!(get(&dir, "/static", &[]).status(), 301);
    assert_eq!(get(&dir, "/staticx/hello.txt", &[]).status(), 404);
    assert_eq!(get(&dir, "/hello.txt", &[]).status(), 404);
    // A router's catch-all parameter wins over the prefix.
    let mut r = req(Method::GET, "/files/whatever", &[]);
    r.push_param("path", "sub/index.html");
    let mut resp = dir.handle(&mut r);
    assert_eq!(body(&mut resp), b"<h1>sub</h1>");
    // Parameters arrive decoded: no second decoding, the same traversal checks.
    let mut r = req(Method::GET, "/files/x", &[]);
    r.push_param("path", "../outside/secret.txt");
    assert_eq!(dir.handle(&mut r).status(), 400);
    let mut r = req(Method::GET, "/files/x", &[]);
    r.push_param("path", "%2e%2e/outside/secret.txt");
    assert_eq!(dir.handle(&mut r).status(), 404);
    std::fs::write(dir.root().unwrap().join("100%.txt"), "percent").unwrap();
    let mut r = req(Method::GET, "/files/100%25.txt", &[]);
    r.push_param("path", "100%.txt");
    assert_eq!(body(&mut dir.handle(&mut r)), b"percent");
    assert_eq!(body(&mut get(&dir, "/static/100%25.txt", &[])), b"percent");
    // Another parameter name.
    let named = ServeDir::new(dir.root().unwrap()).path_param("rest");
    let mut r = req(Method::GET, "/x", &[]);
    r.push_param("rest", "hello.txt");
    assert_eq!(body(&mut named.handle(&mut r)), b"hello world\n");
}

#[test]
fn traversal_nul_and_hidden_are_rejected() {
    let dir = ServeDir::new(tree());
    for p in [
        "/../outside/secret.txt",
        "/sub/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/%2E%2E%2Foutside%2Fsecret.txt",
        "/sub/..%2f..%2foutside/secret.txt",
        "/hello.txt%00.html",
        "/%zz",
    ] {
        assert_eq!(get(&dir, p, &[]).status(), 400, "{p}");
    }
    assert_eq!(get(&dir, "/.secret", &[]).status(), 404);
    assert_eq!(get(&dir, "/%2esecret", &[]).status(), 404);
    let hidden_ok = ServeDir::new(tree()).serve_hidden(true);
    assert_eq!(get(&hidden_ok, "/.secret", &[]).status(), 200);
    assert_eq!(get(&hidden_ok, "/../outside/secret.txt", &[]).status(), 400);
}

#[test]
fn symlinks_fifos_and_missing_files() {
    let root = tree();
    let dir = ServeDir::new(&root);
    // A link inside the root is served, typed by the name asked for.
    let mut r = get(&dir, "/link_in.css", &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "text/css; charset=utf-8");
    assert_eq!(body(&mut r), b"hello world\n");
    assert_eq!(get(&dir, "/link_out.txt", &[]).status(), 404);
    let allowed = ServeDir::new(&root).allow_symlinks_outside(true);
    let mut r = get(&allowed, "/link_out.txt", &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(body(&mut r), b"outside");
    // Opening a FIFO would block the worker; it is never opened.
    assert_eq!(get(&dir, "/fifo", &[]).status(), 404);
    assert_eq!(get(&dir, "/nope.txt", &[]).status(), 404);
    assert_eq!(get(&dir, "/hello.txt/x", &[]).status(), 404);
    let missing = ServeDir::new(root.join("not-yet"));
    assert_eq!(get(&missing, "/hello.txt", &[]).status(), 404);
    std::fs::create_dir(root.join("not-yet")).unwrap();
    std::fs::write(root.join("not-yet/hello.txt"), "late").unwrap();
    assert_eq!(get(&missing, "/hello.txt", &[]).status(), 200);
}

#[test]
fn conditional_requests() {
    let dir = ServeDir::new(tree()).cache_control(HeaderValue::from_static("max-age=60"));
    let first = get(&dir, "/hello.txt", &[]);
    let etag = header(&first, "etag").to_owned();
    let lm = header(&first, "last-modified").to_owned();
    assert_eq!(header(&first, "cache-control"), "max-age=60");

    let r = get(&dir, "/hello.txt", &[("if-none-match", &etag)]);
    assert_eq!(r.status(), 304);
    assert_eq!(header(&r, "etag"), etag);
    assert_eq!(header(&r, "cache-control"), "max-age=60");
    assert_eq!(r.body().len_hint(), Some(0));
    let weak = format!("W/{etag}");
    assert_eq!(
        get(&dir, "/hello.txt", &[("if-none-match", &weak)]).status(),
        304
    );
    assert_eq!(
        get(&dir, "/hello.txt", &[("if-none-match", "\"other\"")]).status(),
        200
    );
    assert_eq!(
        get(&dir, "/hello.txt", &[("if-modified-since", &lm)]).status(),
        304
    );
    assert_eq!(
        get(
            &dir,
            "/hello.txt",
            &[("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT")]
        )
        .status(),
        200
    );
    assert_eq!(
        get(&dir, "/hello.txt", &[("if-match", "\"other\"")]).status(),
        412
    );
    assert_eq!(
        get(&dir, "/hello.txt", &[("if-match", &etag)]).status(),
        200
    );
    let head = dir.handle(&mut req(
        Method::HEAD,
        "/hello.txt",
        &[("if-none-match", &etag)],
    ));
    assert_eq!(head.status(), 304);
    // A changed file (here a different size) has a new validator.
    std::fs::write(
        dir.root().unwrap().join("hello.txt"),
        "hello again, world\n",
    )
    .unwrap();
    let r = get(&dir, "/hello.txt", &[("if-none-match", &etag)]);
    assert_eq!(r.status(), 200);
    assert_ne!(header(&r, "etag"), etag);
}

#[test]
fn single_ranges() {
    let dir = ServeDir::new(tree());
    let all = data();
    let mut r = get(&dir, "/data.bin", &[("range", "bytes=0-99")]);
    assert_eq!(r.status(), 206);
    assert_eq!(header(&r, "content-range"), "bytes 0-99/1000");
    assert_eq!(header(&r, "content-type"), "application/octet-stream");
    assert!(matches!(r.body(), Body::File(f) if f.offset == 0 && f.len == 100));
    assert_eq!(body(&mut r), &all[..100]);
    let mut r = get(&dir, "/data.bin", &[("range", "bytes=-10")]);
    assert_eq!(header(&r, "content-range"), "bytes 990-999/1000");
    assert_eq!(body(&mut r), &all[990..]);
    let mut r = get(&dir, "/data.bin", &[("range", "bytes=995-5000")]);
    assert_eq!(header(&r, "content-range"), "bytes 995-999/1000");
    assert_eq!(body(&mut r), &all[995..]);

    let r = get(&dir, "/data.bin", &[("range", "bytes=1000-")]);
    assert_eq!(r.status(), 416);
    assert_eq!(header(&r, "content-range"), "bytes */1000");
    assert_eq!(
        get(&dir, "/empty.txt", &[("range", "bytes=0-")]).status(),
        416
    );
    // Malformed or foreign units: the whole file.
    assert_eq!(
        get(&dir, "/data.bin", &[("range", "bytes=9-1")]).status(),
        200
    );
    assert_eq!(
        get(&dir, "/data.bin", &[("range", "pages=1-2")]).status(),
        200
    );
    // HEAD has no range handling.
    let head = dir.handle(&mut req(
        Method::HEAD,
        "/data.bin",
        &[("range", "bytes=0-9")],
    ));
    assert_eq!(head.status(), 200);
}

#[test]
fn if_range() {
    let dir = ServeDir::new(tree());
    let first = get(&dir, "/data.bin", &[]);
    let etag = header(&first, "etag").to_owned();
    let lm = header(&first, "last-modified").to_owned();
    let range = ("range", "bytes=0-9");
    assert_eq!(
        get(&dir, "/data.bin", &[range, ("if-range", &etag)]).status(),
        206
    );
    assert_eq!(
        get(&dir, "/data.bin", &[range, ("if-range", &lm)]).status(),
        206
    );
    let mut stale = get(&dir, "/data.bin", &[range, ("if-range", "\"stale\"")]);
    assert_eq!(stale.status(), 200);
    assert_eq!(body(&mut stale).len(), 1000);
    let weak = format!("W/{etag}");
    assert_eq!(
        get(&dir, "/data.bin", &[range, ("if-range", &weak)]).status(),
        200
    );
    let old = "Thu, 01 Jan 1970 00:00:00 GMT";
    assert_eq!(
        get(&dir, "/data.bin", &[range, ("if-range", old)]).status(),
        200
    );
}

/// Splits a `multipart/byteranges` body into (content-range, bytes) parts.
fn parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delim = format!("--{boundary}");
    let text = body;
    let mut out = Vec::new();
    let mut pos = 0;
    let find = |from: usize, needle: &[u8]| {
        text[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    loop {
        let at = find(pos, delim.as_bytes()).expect("boundary");
        let after = at + delim.len();
        if text[after..].starts_with(b"--") {
            assert_eq!(&text[after..], b"--\r\n");
            return out;
        }
        let head_end = find(after, b"\r\n\r\n").unwrap();
        let head = String::from_utf8(text[after..head_end].to_vec()).unwrap();
        let range = head
            .lines()
            .find_map(|l| l.strip_prefix("content-range: "))
            .unwrap()
            .to_owned();
        let next = find(head_end, format!("\r\n{delim}").as_bytes()).unwrap();
        out.push((range, text[head_end + 4..next].to_vec()));
        pos = next + 2;
    }
}

#[test]
fn multiple_ranges_in_memory_and_streamed() {
    let all = data();
    for buffer in [64 * 1024, 0] {
        let dir = ServeDir::new(tree()).multipart_buffer(buffer);
        let mut r = get(&dir, "/data.bin", &[("range", "bytes=0-9,20-29,-5")]);
        assert_eq!(r.status(), 206);
        let ct = header(&r, "content-type").to_owned();
        let boundary = ct
            .strip_prefix("multipart/byteranges; boundary=")
            .unwrap()
            .to_owned();
        assert!(r.header("content-range").is_none());
        assert!(r.header("etag").is_some());
        let streamed = r.body().is_stream();
        assert_eq!(streamed, buffer == 0);
        let hint = r.body().len_hint().unwrap();
        let b = body(&mut r);
        assert_eq!(b.len() as u64, hint);
        let p = parts(&b, &boundary);
        assert_eq!(
            p,
            vec![
                ("bytes 0-9/1000".to_owned(), all[..10].to_vec()),
                ("bytes 20-29/1000".to_owned(), all[20..30].to_vec()),
                ("bytes 995-999/1000".to_owned(), all[995..].to_vec()),
            ]
        );
    }
}

#[test]
fn too_many_or_overlapping_ranges_get_the_whole_file() {
    let many: Vec<String> = (0..17)
        .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
        .collect();
    let many = format!("bytes={}", many.join(","));
    let dir = ServeDir::new(tree());
    assert_eq!(get(&dir, "/data.bin", &[("range", &many)]).status(), 200);
    let dir = ServeDir::new(tree()).max_ranges(17);
    assert_eq!(get(&dir, "/data.bin", &[("range", &many)]).status(), 206);
    assert_eq!(
        get(&dir, "/data.bin", &[("range", "bytes=0-,0-,0-")]).status(),
        200
    );
}

/// A small deterministic generator for the no-panic sweeps below (no proptest in this
/// crate's dependencies).
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A string over an alphabet rich in the characters each parser cares about.
    fn string(&mut self, alphabet: &[&str], max_len: usize) -> String {
        let n = (self.next() % (max_len as u64 + 1)) as usize;
        (0..n)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize])
            .collect()
    }
}

#[test]
fn request_paths_never_escape_and_never_panic() {
    use std::path::Component;
    let alphabet = [
        "/", ".", "..", "%", "%2e", "%2E", "%2f", "%00", "%zz", "a", "b", "\0", "\\", "é", "%c3",
        "%a9", " ", "~",
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..50_000 {
        let raw = rng.string(&alphabet, 12);
        for hidden in [false, true] {
            let results = [
                path::relative_path(&raw, hidden),
                path::decoded_relative_path(&raw, hidden),
            ];
            for p in results.into_iter().flatten() {
                assert!(
                    p.components().all(|c| matches!(c, Component::Normal(_))),
                    "{raw:?} -> {p:?}"
                );
                let bytes = std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str());
                assert!(!bytes.contains(&0), "{raw:?}");
            }
        }
    }
}

#[test]
fn range_and_date_parsers_never_panic_and_stay_in_bounds() {
    let alphabet = [
        "bytes",
        "=",
        "-",
        ",",
        " ",
        "0",
        "1",
        "9",
        "18446744073709551615",
        "99999999999999999999",
        "x",
        ";",
    ];
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for _ in 0..50_000 {
        let h = rng.string(&alphabet, 10);
        let len = rng.next() % 2000;
        if let range::RangeRequest::Ranges(rs) = range::parse(&h, len, 16) {
            assert!(!rs.is_empty() && rs.len() <= 16, "{h:?}");
            for r in rs {
                assert!(r.first <= r.last && r.last < len, "{h:?} {len} {r:?}");
            }
        }
    }
    let alphabet = [
        "Sun", "Nov", ",", " ", "-", ":", "0", "6", "9", "1994", "GMT", "08", "99", "Sunday",
    ];
    for _ in 0..50_000 {
        let s = rng.string(&alphabet, 10);
        if let Some(secs) = http_date::parse(&s) {
            // Whatever parses formats back to a date that parses to the same instant.
            assert_eq!(
                http_date::parse(&http_date::format(secs)),
                Some(secs),
                "{s:?}"
            );
        }
    }
}
