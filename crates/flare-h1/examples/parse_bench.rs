//! Instruction-count microbench for the request parser and the response head
//! writer: parses fixed requests (and writes a fixed head) `N` times.
//!
//! ```text
//! cargo build --release --example parse_bench -p flare-h1
//! valgrind --tool=callgrind target/release/examples/parse_bench wrk 100000
//! perf stat -e instructions target/release/examples/parse_bench browser 100000
//! ```
//!
//! Modes: `wrk` (the one-header request wrk sends), `browser` (a GET with 11
//! headers), `head` (the response head of the example server's `/plaintext`).
//! Divide the instruction count by N (minus a run with N = 0 for the fixed
//! start-up cost) for a per-call figure.

use flare_h1::{
    encode_head_prefix, parse_request, write_response_head_with_prefix, Limits, RequestHead,
    ResponseBody, ResponseHead, Status, Version,
};
use std::hint::black_box;

const WRK: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:18201\r\n\r\n";

const BROWSER: &[u8] = b"GET /static/app/main.3f9a1c.js?v=12 HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0\r\n\
Accept: */*\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Referer: https://www.example.com/account/settings\r\n\
Connection: keep-alive\r\n\
Cookie: session=8c1f2e0d9b7a4c3e; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n\
Sec-Fetch-Dest: script\r\n\
Sec-Fetch-Mode: no-cors\r\n\
Sec-Fetch-Site: same-origin\r\n\
\r\n";

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "wrk".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    match mode.as_str() {
        "wrk" | "browser" => {
            let req = if mode == "wrk" { WRK } else { BROWSER };
            let limits = Limits::default();
            let mut head = RequestHead::default();
            let mut total = 0usize;
            for _ in 0..n {
                match parse_request(black_box(req), &mut head, &limits) {
                    Ok(Status::Complete(used)) => total += used + head.headers.len(),
                    other => panic!("{other:?}"),
                }
            }
            println!("{mode}: {n} parses, checksum {total}");
        }
        "head" => {
            let mut prefix = Vec::new();
            encode_head_prefix(
                &mut prefix,
                Version::Http11,
                200,
                b"Thu, 26 Nov 2026 03:00:00 GMT",
                Some(b"flare"),
            );
            let mut out = Vec::with_capacity(4096);
            let mut total = 0usize;
            for _ in 0..n {
                out.clear();
                let mut head = ResponseHead::new(200);
                head.date = Some(b"Thu, 26 Nov 2026 03:00:00 GMT");
                head.content_type = Some(black_box(b"text/plain; charset=utf-8"));
                head.body = ResponseBody::Length(black_box(13));
                write_response_head_with_prefix(&mut out, black_box(&prefix), &head);
                total += out.len();
            }
            println!("head: {n} heads, checksum {total}");
        }
        _ => panic!("mode: wrk, browser or head"),
    }
}
