use super::*;
use crate::body::FileBody;
use crate::middleware::HandlerExt;

fn text(n: usize) -> String {
    (0..n).map(|i| ((i % 26) as u8 + b'a') as char).collect()
}

/// Undoes our gzip framing and checks the trailer.
fn gunzip(data: &[u8]) -> Vec<u8> {
    assert_eq!(&data[..4], &[0x1f, 0x8b, 8, 0]);
    let body = &data[10..data.len() - 8];
    let out = miniz_oxide::inflate::decompress_to_vec(body).unwrap();
    let crc = u32::from_le_bytes(data[data.len() - 8..data.len() - 4].try_into().unwrap());
    let isize = u32::from_le_bytes(data[data.len() - 4..].try_into().unwrap());
    assert_eq!(crc, crc32(&out));
    assert_eq!(isize as usize, out.len());
    out
}

fn req(accept: Option<&str>) -> Request {
    let mut b = Request::builder().uri("/");
    if let Some(a) = accept {
        b = b.header("accept-encoding", a);
    }
    b.build()
}

fn run<H: Handler>(h: H, accept: Option<&str>) -> Response {
    h.layer(Compress::new()).handle(&mut req(accept))
}

fn hdr<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.header(name).map(|v| v.to_str().unwrap())
}

#[test]
fn crc32_check_value() {
    assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    assert_eq!(crc32(b""), 0);
}

#[test]
fn negotiation_table() {
    use Encoding::*;
    let c = Compress::new();
    let cases: &[(&[&str], Option<Encoding>)] = &[
        (&[], None),
        (&["gzip"], Some(Gzip)),
        (&["x-gzip"], Some(Gzip)),
        (&["GZip"], Some(Gzip)),
        (&["deflate"], Some(Deflate)),
        (&["gzip, deflate, br"], Some(Gzip)),
        (&["deflate, gzip"], Some(Gzip)),
        (&["gzip;q=0.5, deflate"], Some(Deflate)),
        (&["gzip;q=0.5, deflate;q=0.501"], Some(Deflate)),
        (&["gzip;q=0, deflate;q=0"], None),
        (&["gzip;q=0"], None),
        (&["*"], Some(Gzip)),
        (&["*;q=0.1, gzip;q=0"], Some(Deflate)),
        (&["br, zstd"], None),
        (&["identity"], None),
        (&["gzip;q=1.0"], Some(Gzip)),
        (&["gzip;q=1.001"], None),
        (&["gzip;q=2"], None),
        (&["gzip;q=0.1234"], None),
        (&["gzip;q=abc"], None),
        (&["gzip ; q = 0.8 , deflate ; q=0.7"], Some(Gzip)),
        (&["br", "deflate"], Some(Deflate)),
        (&["gzip;q=0, gzip;q=0.3"], Some(Gzip)),
    ];
    for (values, want) in cases {
        let got = c.negotiate(values.iter().map(|v| v.as_bytes()));
        assert_eq!(got, *want, "{values:?}");
    }
    let gzip_only = Compress::new().deflate(false);
    assert_eq!(gzip_only.negotiate([&b"deflate"[..]].into_iter()), None);
    assert_eq!(
        gzip_only.negotiate([&b"deflate, gzip;q=0.1"[..]].into_iter()),
        Some(Gzip)
    );
    let deflate_only = Compress::new().gzip(false);
    assert_eq!(deflate_only.negotiate([&b"gzip"[..]].into_iter()), None);
}

#[test]
fn gzip_and_deflate_round_trip_with_vary() {
    let body = text(5000);
    let b2 = body.clone();
    let h = move |_: &Request| Response::text(b2.clone());
    let r = run(h.clone(), Some("gzip"));
    assert_eq!(hdr(&r, "content-encoding"), Some("gzip"));
    assert_eq!(hdr(&r, "vary"), Some("accept-encoding"));
    let bytes = r.body_bytes().unwrap();
    assert!(bytes.len() < 1000, "{}", bytes.len());
    assert_eq!(gunzip(&bytes), body.as_bytes());

    let r = run(h.clone(), Some("deflate"));
    assert_eq!(hdr(&r, "content-encoding"), Some("deflate"));
    let out = miniz_oxide::inflate::decompress_to_vec_zlib(&r.body_bytes().unwrap()).unwrap();
    assert_eq!(out, body.as_bytes());

    // No Accept-Encoding: identity, but caches are told the response varies.
    let r = run(h.clone(), None);
    assert_eq!(hdr(&r, "content-encoding"), None);
    assert_eq!(hdr(&r, "vary"), Some("accept-encoding"));
    assert_eq!(r.body_bytes().unwrap(), body.as_bytes());
}

#[test]
fn min_size_is_the_threshold() {
    let app = (|req: &Request| Response::text(text(req.path().len() * 10)))
        .layer(Compress::new().min_size(100));
    // 9 * 10 = 90 bytes: below the minimum.
    let mut small = Request::builder()
        .uri("/12345678")
        .header("accept-encoding", "gzip")
        .build();
    let r = app.handle(&mut small);
    assert_eq!(hdr(&r, "content-encoding"), None);
    assert_eq!(hdr(&r, "vary"), None);
    // 10 * 10 = 100 bytes: at the minimum.
    let mut at = Request::builder()
        .uri("/123456789")
        .header("accept-encoding", "gzip")
        .build();
    let r = app.handle(&mut at);
    assert_eq!(hdr(&r, "content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body_bytes().unwrap()).len(), 100);
    // The default is 1024.
    let def = run(|_: &Request| Response::text(text(1023)), Some("gzip"));
    assert_eq!(hdr(&def, "content-encoding"), None);
    let def = run(|_: &Request| Response::text(text(1024)), Some("gzip"));
    assert_eq!(hdr(&def, "content-encoding"), Some("gzip"));
}

#[test]
fn skipped_responses() {
    let big = text(4000);
    let cases: Vec<(&str, Response)> = vec![
        (
            "already encoded",
            Response::text(big.clone())
                .with_header(CONTENT_ENCODING, HeaderValue::from_static("br")),
        ),
        (
            "image",
            Response::bytes(big.clone()).with_content_type(HeaderValue::from_static("image/png")),
        ),
        (
            "no type",
            Response::new(StatusCode::OK).with_body(big.clone()),
        ),
        (
            "no-transform",
            Response::text(big.clone()).with_header(
                CACHE_CONTROL,
                HeaderValue::from_static("public, no-transform"),
            ),
        ),
        (
            "partial",
            Response::text(big.clone()).with_status(StatusCode::PARTIAL_CONTENT),
        ),
        (
            "not found",
            Response::text(big.clone()).with_status(StatusCode::NOT_FOUND),
        ),
        (
            "stream",
            Response::stream(Body::from_chunks(std::iter::once(Bytes::from(big.clone()))))
                .with_content_type(HeaderValue::from_static("text/plain")),
        ),
    ];
    for (name, resp) in cases {
        let cell = std::sync::Mutex::new(Some(resp));
        let h = move |_: &Request| cell.lock().unwrap().take().unwrap();
        let r = run(h, Some("gzip, deflate"));
        assert_eq!(
            hdr(&r, "content-encoding").filter(|e| *e != "br"),
            None,
            "{name}"
        );
        assert_eq!(hdr(&r, "vary"), None, "{name}");
    }
}

#[test]
fn incompressible_bodies_stay_identity() {
    // A xorshift sequence does not compress.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let h = move |_: &Request| Response::text(noise.clone());
    let r = run(h, Some("gzip"));
    assert_eq!(hdr(&r, "content-encoding"), None);
    assert_eq!(hdr(&r, "vary"), Some("accept-encoding"));
    assert_eq!(r.body_bytes().unwrap().len(), 4096);
}

#[test]
fn existing_vary_is_kept_and_etag_weakened() {
    let big = text(4000);
    let h = move |_: &Request| {
        Response::text(big.clone())
            .with_header(VARY, HeaderValue::from_static("Origin"))
            .with_header(ETAG, HeaderValue::from_static("\"v1\""))
            .with_header(ACCEPT_RANGES, HeaderValue::from_static("bytes"))
    };
    let r = run(h.clone(), Some("gzip"));
    let vary: Vec<&str> = r
        .headers()
        .iter()
        .filter(|(n, _)| n == VARY)
        .map(|(_, v)| v.to_str().unwrap())
        .collect();
    assert_eq!(vary, ["Origin", "accept-encoding"]);
    assert_eq!(hdr(&r, "etag"), Some("W/\"v1\""));
    assert_eq!(hdr(&r, "accept-ranges"), None);
    let r = run(h.clone(), None);
    assert_eq!(hdr(&r, "etag"), Some("\"v1\""));
    assert_eq!(hdr(&r, "accept-ranges"), Some("bytes"));

    let star =
        |_: &Request| Response::text(text(4000)).with_header(VARY, HeaderValue::from_static("*"));
    let r = run(star, Some("gzip"));
    assert_eq!(r.headers().iter().filter(|(n, _)| n == VARY).count(), 1);
}

fn file_of(data: &[u8]) -> std::fs::File {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let p = std::env::temp_dir().join(format!(
        "flare-web-compress-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&p, data).unwrap();
    let f = std::fs::File::open(&p).unwrap();
    std::fs::remove_file(&p).unwrap();
    f
}

#[test]
fn file_bodies_up_to_the_cap_are_compressed() {
    let data = text(8000);
    let d2 = data.clone();
    let h = move |_: &Request| {
        Response::text(Body::File(FileBody {
            file: file_of(d2.as_bytes()),
            offset: 100,
            len: 5000,
        }))
    };
    let app = h.clone().layer(Compress::new().max_file_size(5000));
    let r = app.handle(&mut req(Some("gzip")));
    assert_eq!(hdr(&r, "content-encoding"), Some("gzip"));
    assert_eq!(
        gunzip(&r.body_bytes().unwrap()),
        &data.as_bytes()[100..5100]
    );
    let app = h.clone().layer(Compress::new().max_file_size(4999));
    let r = app.handle(&mut req(Some("gzip")));
    assert_eq!(hdr(&r, "content-encoding"), None);
    assert!(matches!(r.body(), Body::File(f) if f.len == 5000));
    let app = h.clone().layer(Compress::new().max_file_size(0));
    assert!(matches!(
        app.handle(&mut req(Some("gzip"))).body(),
        Body::File(_)
    ));
}

#[test]
fn compressible_types() {
    for t in [
        "text/html; charset=utf-8",
        "TEXT/CSS",
        "application/json",
        "application/problem+json",
        "application/atom+xml",
        "image/svg+xml",
        "application/wasm",
        "text/javascript",
    ] {
        assert!(is_compressible(t), "{t}");
    }
    for t in [
        "image/png",
        "video/mp4",
        "application/zip",
        "application/octet-stream",
        "",
        "font/woff2",
    ] {
        assert!(!is_compressible(t), "{t}");
    }
    let only_html = Compress::new().content_types(|t| t.starts_with("text/html"));
    let app = (|_: &Request| Response::text(text(4000))).layer(only_html);
    assert_eq!(
        hdr(&app.handle(&mut req(Some("gzip"))), "content-encoding"),
        None
    );
}

#[test]
fn levels_are_clamped_and_zero_stores() {
    let body = text(4000);
    let b2 = body.clone();
    let app = (move |_: &Request| Response::text(b2.clone())).layer(Compress::new().level(200));
    let r = app.handle(&mut req(Some("gzip")));
    assert_eq!(gunzip(&r.body_bytes().unwrap()), body.as_bytes());
    let b3 = body.clone();
    let stored = (move |_: &Request| Response::text(b3.clone())).layer(Compress::new().level(0));
    // Stored blocks are larger than the input: identity is sent.
    let r = stored.handle(&mut req(Some("gzip")));
    assert_eq!(hdr(&r, "content-encoding"), None);
}

#[test]
fn negotiation_never_panics_on_odd_headers() {
    let alphabet = [
        "gzip", "deflate", "*", ";", "q", "=", "0", "1", ".", ",", " ", "x", "\u{e9}",
    ];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let c = Compress::new();
    for _ in 0..50_000 {
        let mut s = String::new();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = x % 12;
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.push_str(alphabet[(x % alphabet.len() as u64) as usize]);
        }
        let got = c.negotiate(std::iter::once(s.as_bytes()));
        if !s.contains("gzip") && !s.contains("deflate") && !s.contains('*') {
            assert_eq!(got, None, "{s:?}");
        }
    }
}
