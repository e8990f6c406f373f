//! Property tests: serialize -> parse round trips for requests and chunked
//! bodies, and "never panics, spans stay in bounds" on arbitrary input.

use flare_h1::{
    encode_chunk, encode_last_chunk, parse_request, parse_response, write_request_head,
    BodyFraming, ChunkedDecoder, Limits, Method, RequestHead, ResponseConfig, ResponseHeadParsed,
    Span, Status,
};
use proptest::prelude::*;

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("GET".to_string()),
        Just("HEAD".to_string()),
        Just("POST".to_string()),
        Just("PUT".to_string()),
        Just("DELETE".to_string()),
        Just("OPTIONS".to_string()),
        Just("TRACE".to_string()),
        Just("PATCH".to_string()),
        "[A-Z][A-Z!#$%&'*+.^_`|~-]{0,11}",
    ]
}

fn target() -> impl Strategy<Value = (String, String, Option<String>)> {
    (
        "(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,12}){1,4}",
        proptest::option::of("[A-Za-z0-9._~%!$&'()*+,;=:@/?-]{0,20}"),
    )
        .prop_map(|(path, query)| {
            let target = match &query {
                Some(q) => format!("{path}?{q}"),
                None => path.clone(),
            };
            (target, path, query)
        })
}

/// Field names that do not carry semantics the parser interprets.
fn field_name() -> impl Strategy<Value = String> {
    "x-[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}"
}

/// Field values: no leading or trailing whitespace (it would be trimmed).
fn field_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        (
            proptest::collection::vec(0x21u8..=0xff, 1..2),
            proptest::collection::vec(
                prop_oneof![Just(b'\t'), Just(b' '), 0x21u8..=0x7e, 0x80u8..=0xff],
                0..40
            ),
            proptest::collection::vec(0x21u8..=0xff, 1..2),
        )
            .prop_map(|(a, mid, z)| [a, mid, z].concat())
            .prop_filter("no DEL", |v| !v.contains(&0x7f)),
    ]
}

#[derive(Clone, Debug)]
enum Body {
    None,
    Length(Vec<u8>),
    Chunked(Vec<u8>, Vec<usize>),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::None),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Body::Length),
        (
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(1usize..64, 0..20)
        )
            .prop_map(|(b, s)| Body::Chunked(b, s)),
    ]
}

/// Splits `data` into chunks of the given sizes (cycled), encoded.
fn encode_body(data: &[u8], sizes: &[usize], out: &mut Vec<u8>) {
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(rest.len())
            .min(rest.len());
        encode_chunk(out, &rest[..n]);
        rest = &rest[n..];
        i += 1;
    }
    encode_last_chunk(out, &[("x-sum", b"1")]);
}

fn decode_all(input: &[u8], splits: &[usize]) -> (Vec<u8>, usize, bool) {
    let mut d = ChunkedDecoder::new(&Limits::default());
    let mut out = Vec::new();
    let mut pos = 0usize;
    for &s in splits.iter().chain(std::iter::once(&usize::MAX)) {
        let end = pos.saturating_add(s).min(input.len());
        let p = d.decode(&input[pos..end], &mut out).unwrap();
        pos += p.consumed;
        if p.done || pos == input.len() {
            break;
        }
    }
    (out, pos, d.is_done())
}

fn span_ok(s: Span, len: usize) -> bool {
    s.start <= s.end && (s.end as usize) <= len
}

fn check_spans(h: &RequestHead, len: usize) {
    let mut all = vec![h.method_span, h.target, h.path];
    all.extend(h.query);
    all.extend(h.authority);
    all.extend(h.upgrade);
    all.extend(h.host);
    for f in &h.headers {
        all.push(f.name);
        all.push(f.value);
    }
    for s in all {
        assert!(span_ok(s, len), "{s:?} out of {len}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn request_round_trip(
        m in method(),
        (t, path, query) in target(),
        fields in proptest::collection::vec((field_name(), field_value()), 0..12),
        body in body(),
        feed in 1usize..64,
    ) {
        let mut headers: Vec<(&str, &[u8])> = vec![("Host", b"example.com:8080")];
        headers.extend(fields.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
        let len_text;
        match &body {
            Body::None => {}
            Body::Length(b) => {
                len_text = b.len().to_string();
                headers.push(("Content-Length", len_text.as_bytes()));
            }
            Body::Chunked(..) => headers.push(("Transfer-Encoding", b"chunked")),
        }
        let mut wire = Vec::new();
        write_request_head(&mut wire, &m, &t, &headers);
        let head_len = wire.len();
        match &body {
            Body::None => {}
            Body::Length(b) => wire.extend_from_slice(b),
            Body::Chunked(b, sizes) => encode_body(b, sizes, &mut wire),
        }
        wire.extend_from_slice(b"GET /next HTTP/1.1\r\n");

        let mut h = RequestHead::default();
        let limits = Limits::default();
        let r = parse_request(&wire, &mut h, &limits);
        prop_assert_eq!(r, Ok(Status::Complete(head_len)));
        prop_assert_eq!(h.method_span.get(&wire), m.as_bytes());
        if h.method != Method::Other {
            prop_assert_eq!(h.method.as_str(), Some(m.as_str()));
        }
        prop_assert_eq!(h.target.get(&wire), t.as_bytes());
        prop_assert_eq!(h.path.get(&wire), path.as_bytes());
        prop_assert_eq!(h.query.map(|q| q.get(&wire).to_vec()), query.map(String::into_bytes));
        prop_assert_eq!(h.headers.len(), headers.len());
        for (f, (n, v)) in h.headers.iter().zip(&headers) {
            prop_assert_eq!(f.name.get(&wire), n.as_bytes());
            prop_assert_eq!(f.value.get(&wire), *v);
        }
        // Growing prefixes (fed `feed` bytes at a time) are Partial until complete.
        let mut n = 0;
        while n < head_len {
            prop_assert_eq!(parse_request(&wire[..n], &mut h, &limits), Ok(Status::Partial));
            n += feed;
        }
        parse_request(&wire, &mut h, &limits).unwrap();
        let rest = &wire[head_len..];
        match &body {
            Body::None => prop_assert_eq!(h.framing, BodyFraming::None),
            Body::Length(b) => {
                prop_assert_eq!(h.framing, BodyFraming::Length(b.len() as u64));
                prop_assert_eq!(&rest[..b.len()], b.as_slice());
            }
            Body::Chunked(b, _) => {
                prop_assert_eq!(h.framing, BodyFraming::Chunked);
                let (out, used, done) = decode_all(rest, &[feed]);
                prop_assert!(done);
                prop_assert_eq!(&out, b);
                prop_assert_eq!(&rest[used..], b"GET /next HTTP/1.1\r\n");
            }
        }
    }

    #[test]
    fn chunked_round_trip(
        data in proptest::collection::vec(any::<u8>(), 0..2000),
        sizes in proptest::collection::vec(1usize..300, 0..30),
        splits in proptest::collection::vec(0usize..50, 0..100),
    ) {
        let mut wire = Vec::new();
        encode_body(&data, &sizes, &mut wire);
        let (out, used, done) = decode_all(&wire, &splits);
        prop_assert!(done);
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(out, data);
    }

    #[test]
    fn request_parser_never_panics(input in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut h = RequestHead::default();
        if let Ok(Status::Complete(n)) = parse_request(&input, &mut h, &Limits::default()) {
            prop_assert!(n <= input.len());
        }
        check_spans(&h, input.len());
    }

    #[test]
    fn mutated_requests_never_panic(
        pos in proptest::collection::vec((0usize..200, any::<u8>()), 1..4),
    ) {
        let mut input = b"POST http://h:1/a?b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, Upgrade\r\nExpect: 100-continue\r\nX: y\r\n\r\n".to_vec();
        for (p, b) in pos {
            let n = input.len();
            input[p % n] = b;
        }
        let mut h = RequestHead::default();
        for limits in [Limits::default(), Limits::default().max_header_bytes(60).max_request_line(20).max_headers(2)] {
            if let Ok(Status::Complete(n)) = parse_request(&input, &mut h, &limits) {
                prop_assert!(n <= input.len());
            }
            check_spans(&h, input.len());
        }
    }

    #[test]
    fn chunked_decoder_never_panics(
        input in proptest::collection::vec(
            prop_oneof![any::<u8>(), Just(b'\r'), Just(b'\n'), Just(b'0'), Just(b';'), Just(b'a')],
            0..400,
        ),
        splits in proptest::collection::vec(0usize..20, 0..40),
    ) {
        let mut d = ChunkedDecoder::new(&Limits::default().max_body(1000));
        let mut out = Vec::new();
        let mut pos = 0;
        for s in splits {
            let end = (pos + s).min(input.len());
            match d.decode(&input[pos..end], &mut out) {
                Ok(p) => {
                    prop_assert!(p.consumed <= end - pos);
                    pos += p.consumed;
                }
                Err(_) => break,
            }
        }
        prop_assert!(out.len() <= 1000);
    }

    #[test]
    fn response_parser_never_panics(
        input in proptest::collection::vec(any::<u8>(), 0..400),
        lenient in any::<bool>(),
        was_head in any::<bool>(),
    ) {
        let mut cfg = ResponseConfig::default();
        cfg.allow_obs_fold = lenient;
        cfg.allow_bare_lf = lenient;
        cfg.allow_space_before_colon = lenient;
        cfg.allow_duplicate_content_length = lenient;
        cfg.allow_missing_reason = lenient;
        let mut input = input;
        input.splice(0..0, b"HTTP/1.1 200 OK\r\n".iter().copied());
        let mut h = ResponseHeadParsed::default();
        if let Ok(Status::Complete(n)) = parse_response(&input, &mut h, &cfg, &Limits::default(), was_head) {
            prop_assert!(n <= input.len());
        }
        for f in &h.headers {
            prop_assert!(span_ok(f.name, input.len()) && span_ok(f.value, input.len()));
        }
    }
}
