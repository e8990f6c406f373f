//! Chunked coding: decoder vectors, extensions, trailers, limits, any input
//! split; encoder output.

use flare_h1::{encode_chunk, encode_last_chunk, ChunkedDecoder, Error, Limits};

/// Decodes `input` fed whole; returns (body, consumed, done) or the error.
fn whole(input: &[u8], limits: &Limits) -> Result<(Vec<u8>, usize, bool), Error> {
    let mut d = ChunkedDecoder::new(limits);
    let mut out = Vec::new();
    let p = d.decode(input, &mut out)?;
    Ok((out, p.consumed, p.done))
}

/// Decodes `input` one byte at a time; same shape as [`whole`].
fn bytewise(input: &[u8], limits: &Limits) -> Result<(Vec<u8>, usize, bool), Error> {
    let mut d = ChunkedDecoder::new(limits);
    let mut out = Vec::new();
    let mut consumed = 0;
    for (i, b) in input.iter().enumerate() {
        let p = d.decode(std::slice::from_ref(b), &mut out)?;
        consumed += p.consumed;
        if p.done {
            return Ok((out, consumed, true));
        }
        assert_eq!(p.consumed, 1, "byte {i} not consumed before done");
    }
    Ok((out, consumed, d.is_done()))
}

macro_rules! chunked {
    ($name:ident, $input:expr, Ok($body:expr)) => {
        chunked!($name, $input, Limits::default(), Ok($body));
    };
    ($name:ident, $input:expr, $limits:expr, Ok($body:expr)) => {
        #[test]
        fn $name() {
            let input: &[u8] = $input;
            let limits = $limits;
            let expected: &[u8] = $body;
            let r = whole(input, &limits);
            assert_eq!(r, Ok((expected.to_vec(), input.len(), true)));
            assert_eq!(bytewise(input, &limits), r, "byte at a time differs");
            // Every proper prefix is incomplete, never an error.
            for n in 0..input.len() {
                let (_, c, done) = whole(&input[..n], &limits).unwrap();
                assert_eq!((c, done), (n, false), "prefix {n}");
            }
        }
    };
    ($name:ident, $input:expr, Err($e:ident)) => {
        chunked!($name, $input, Limits::default(), Err($e));
    };
    ($name:ident, $input:expr, $limits:expr, Err($e:ident)) => {
        #[test]
        fn $name() {
            let input: &[u8] = $input;
            let limits = $limits;
            assert_eq!(whole(input, &limits), Err(Error::$e));
            assert_eq!(bytewise(input, &limits), Err(Error::$e));
        }
    };
}

chunked!(single, b"5\r\nhello\r\n0\r\n\r\n", Ok(b"hello"));
chunked!(empty_body, b"0\r\n\r\n", Ok(b""));
chunked!(
    several,
    b"5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n",
    Ok(b"hello world")
);
chunked!(
    upper_hex_and_zeros,
    b"000A\r\n0123456789\r\n00\r\n\r\n",
    Ok(b"0123456789")
);
chunked!(
    lower_hex,
    b"a\r\n0123456789\r\n0\r\n\r\n",
    Ok(b"0123456789")
);
chunked!(
    data_with_crlf_inside,
    b"4\r\n\r\n\r\n\r\n0\r\n\r\n",
    Ok(b"\r\n\r\n")
);
chunked!(ext_name, b"5;foo\r\nhello\r\n0\r\n\r\n", Ok(b"hello"));
chunked!(
    ext_token_value,
    b"5;foo=bar;baz\r\nhello\r\n0;last=1\r\n\r\n",
    Ok(b"hello")
);
chunked!(
    ext_quoted,
    b"5;a=\"x y;\\\"z\\\\\"\r\nhello\r\n0\r\n\r\n",
    Ok(b"hello")
);
chunked!(
    ext_bws,
    b"5 ;\ta \t= \tb ; c\r\nhello\r\n0\r\n\r\n",
    Ok(b"hello")
);
chunked!(
    ext_quoted_then_next,
    b"5;a=\"q\" ;b=\"\"\r\nhello\r\n0\r\n\r\n",
    Ok(b"hello")
);
chunked!(
    trailers_ok,
    b"0\r\nX-Checksum: abc\r\nServer-Timing:  db;dur=53 \r\n\r\n",
    Ok(b"")
);

chunked!(no_digits, b"\r\n", Err(ChunkSizeInvalid));
chunked!(no_digits_ext, b";a\r\n", Err(ChunkSizeInvalid));
chunked!(non_hex, b"g\r\n", Err(ChunkSizeInvalid));
chunked!(hex_prefix, b"0x5\r\nhello\r\n", Err(ChunkSizeInvalid));
chunked!(negative, b"-5\r\n", Err(ChunkSizeInvalid));
chunked!(size_bare_lf, b"5\nhello\r\n", Err(BareLf));
chunked!(size_bare_cr, b"5\rhello\r\n", Err(BareCr));
chunked!(
    size_trailing_ws,
    b"5 \r\nhello\r\n0\r\n\r\n",
    Err(ChunkExtensionInvalid)
);
chunked!(
    ext_empty_name,
    b"5;\r\nhello\r\n",
    Err(ChunkExtensionInvalid)
);
chunked!(
    ext_empty_value,
    b"5;a=\r\nhello\r\n",
    Err(ChunkExtensionInvalid)
);
chunked!(
    ext_value_ws_then_crlf,
    b"5;a=b \r\nhello\r\n",
    Err(ChunkExtensionInvalid)
);
chunked!(
    ext_name_ws_then_crlf,
    b"5;a \r\nhello\r\n",
    Err(ChunkExtensionInvalid)
);
chunked!(
    ext_two_tokens,
    b"5;a=b c\r\nhello\r\n",
    Err(ChunkExtensionInvalid)
);
chunked!(
    ext_unterminated_quote,
    b"5;a=\"x\r\nhello\r\n",
    Err(ChunkExtensionInvalid)
);
chunked!(
    ext_bad_escape,
    b"5;a=\"\\\x01\"\r\nhello\r\n",
    Err(ChunkExtensionInvalid)
);
chunked!(
    ext_bad_name,
    b"5;a@b\r\nhello\r\n",
    Err(ChunkExtensionInvalid)
);
chunked!(ext_bare_lf, b"5;a\nhello\r\n", Err(ChunkExtensionInvalid));
chunked!(data_no_crlf, b"5\r\nhelloX\r\n", Err(ChunkDataCrlfMissing));
chunked!(data_cr_only, b"5\r\nhello\rX", Err(ChunkDataCrlfMissing));
chunked!(
    data_lf_only,
    b"5\r\nhello\n0\r\n\r\n",
    Err(ChunkDataCrlfMissing)
);
chunked!(data_too_long, b"3\r\nhello\r\n", Err(ChunkDataCrlfMissing));
chunked!(
    size_overflow,
    b"10000000000000000\r\n",
    Err(ChunkSizeTooLarge)
);
chunked!(
    size_overflow_leading_zeros,
    b"00000000000000000\r\n",
    Err(ChunkSizeTooLarge)
);
chunked!(
    size_u64_max_is_too_large_a_body,
    b"ffffffffffffffff\r\n",
    Err(BodyTooLarge)
);
chunked!(trailer_obs_fold, b"0\r\nX: a\r\n b\r\n\r\n", Err(ObsFold));
chunked!(trailer_leading_ws, b"0\r\n X: a\r\n\r\n", Err(ObsFold));
chunked!(trailer_bare_lf, b"0\r\nX: a\n\r\n", Err(BareLf));
chunked!(trailer_end_bare_lf, b"0\r\n\n", Err(BareLf));
chunked!(trailer_bare_cr, b"0\r\nX: a\rb\r\n\r\n", Err(BareCr));
chunked!(trailer_end_bare_cr, b"0\r\n\rX", Err(BareCr));
chunked!(
    trailer_ws_before_colon,
    b"0\r\nX : a\r\n\r\n",
    Err(WhitespaceBeforeColon)
);
chunked!(trailer_no_colon, b"0\r\nX\r\n\r\n", Err(HeaderNameInvalid));
chunked!(
    trailer_empty_name,
    b"0\r\n: a\r\n\r\n",
    Err(HeaderNameInvalid)
);
chunked!(
    trailer_bad_name,
    b"0\r\nX(y): a\r\n\r\n",
    Err(HeaderNameInvalid)
);
chunked!(trailer_nul, b"0\r\nX: a\0\r\n\r\n", Err(InvalidHeaderValue));
/// Decodes `input` whole and byte at a time; asserts the body is `b"abc"` and
/// the kept trailers are `kept`.
fn kept_trailers(input: &[u8], kept: &[(&str, &[u8])]) {
    let want: Vec<(String, Vec<u8>)> = kept
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_vec()))
        .collect();
    let mut d = ChunkedDecoder::new(&Limits::default());
    let mut out = Vec::new();
    let p = d.decode(input, &mut out).unwrap();
    assert!(p.done);
    assert_eq!(p.consumed, input.len());
    assert_eq!(out, b"abc");
    assert_eq!(d.trailers(), &want[..], "whole");
    let mut d = ChunkedDecoder::new(&Limits::default());
    let mut out = Vec::new();
    for b in input {
        d.decode(std::slice::from_ref(b), &mut out).unwrap();
    }
    assert!(d.is_done());
    assert_eq!(d.trailers(), &want[..], "byte at a time");
}

/// Fields that must not be trailers (RFC 9110 section 6.5.1) are not a reason to
/// refuse the message: those that could change framing, routing, request handling
/// or authentication are dropped, descriptive ones are kept as trailers.
macro_rules! trailer {
    ($name:ident, $field:expr, dropped) => {
        #[test]
        fn $name() {
            let input = [
                b"3\r\nabc\r\n0\r\n".as_slice(),
                $field,
                b"\r\nX-Sum: 1\r\n\r\n",
            ]
            .concat();
            kept_trailers(&input, &[("x-sum", b"1")]);
        }
    };
    ($name:ident, $field:expr, kept($n:expr, $v:expr)) => {
        #[test]
        fn $name() {
            let input = [
                b"3\r\nabc\r\n0\r\n".as_slice(),
                $field,
                b"\r\nX-Sum: 1\r\n\r\n",
            ]
            .concat();
            kept_trailers(&input, &[($n, $v), ("x-sum", b"1")]);
        }
    };
}

trailer!(
    trailer_content_length_dropped,
    b"Content-Length: 5",
    dropped
);
trailer!(
    trailer_transfer_encoding_dropped,
    b"transfer-encoding: chunked",
    dropped
);
trailer!(trailer_trailer_dropped, b"Trailer: X-Sum", dropped);
trailer!(trailer_host_dropped, b"HOST: evil", dropped);
trailer!(
    trailer_authorization_dropped,
    b"Authorization: Basic eA==",
    dropped
);
trailer!(
    trailer_proxy_authorization_dropped,
    b"Proxy-Authorization: Basic eA==",
    dropped
);
trailer!(trailer_cookie_dropped, b"Cookie: a=b", dropped);
trailer!(trailer_set_cookie_dropped, b"Set-Cookie: a=b", dropped);
trailer!(
    trailer_cache_control_dropped,
    b"Cache-Control: no-store",
    dropped
);
trailer!(trailer_expect_dropped, b"Expect: 100-continue", dropped);
trailer!(trailer_max_forwards_dropped, b"Max-Forwards: 1", dropped);
trailer!(trailer_pragma_dropped, b"Pragma: no-cache", dropped);
trailer!(trailer_range_dropped, b"Range: bytes=0-1", dropped);
trailer!(trailer_te_dropped, b"TE: trailers", dropped);
trailer!(trailer_if_match_dropped, b"If-Match: \"x\"", dropped);
trailer!(trailer_connection_dropped, b"Connection: close", dropped);
trailer!(trailer_upgrade_dropped, b"Upgrade: h2c", dropped);
trailer!(
    trailer_content_type_kept,
    b"Content-Type: text/plain",
    kept("content-type", b"text/plain")
);
trailer!(trailer_vary_kept, b"Vary: *", kept("vary", b"*"));
trailer!(
    trailer_content_encoding_kept,
    b"Content-Encoding: gzip",
    kept("content-encoding", b"gzip")
);
trailer!(
    trailer_date_kept,
    b"Date: Sun, 06 Nov 1994 08:49:37 GMT",
    kept("date", b"Sun, 06 Nov 1994 08:49:37 GMT")
);

#[test]
fn dropped_trailers_count_towards_the_field_limit() {
    let limits = Limits::default().max_headers(2);
    let input = b"3\r\nabc\r\n0\r\nHost: a\r\nHost: b\r\nX: c\r\n\r\n";
    assert_eq!(whole(input, &limits), Err(Error::TooManyHeaders));
    let input = b"3\r\nabc\r\n0\r\nHost: a\r\nX: c\r\n\r\n";
    assert_eq!(
        whole(input, &limits),
        Ok((b"abc".to_vec(), input.len(), true))
    );
}

#[test]
fn a_dropped_trailer_still_counts_towards_the_size_limit() {
    let limits = Limits::default().max_trailer_bytes(32);
    let big = format!("3\r\nabc\r\n0\r\nAuthorization: {}\r\n\r\n", "x".repeat(40));
    assert_eq!(whole(big.as_bytes(), &limits), Err(Error::TrailersTooLarge));
}

#[test]
fn trailers_are_recorded() {
    let mut d = ChunkedDecoder::new(&Limits::default());
    let mut out = Vec::new();
    let p = d
        .decode(
            b"3\r\nabc\r\n0\r\nX-Checksum: abc\r\nx-b:  v w \t\r\n\r\n",
            &mut out,
        )
        .unwrap();
    assert!(p.done);
    assert_eq!(out, b"abc");
    assert_eq!(
        d.trailers(),
        &[
            ("x-checksum".to_string(), b"abc".to_vec()),
            ("x-b".to_string(), b"v w".to_vec())
        ]
    );
    assert_eq!(d.body_len(), 3);
}

#[test]
fn stops_at_end_of_body() {
    let input = b"2\r\nhi\r\n0\r\n\r\nPOST /next HTTP/1.1\r\n";
    let mut d = ChunkedDecoder::new(&Limits::default());
    let mut out = Vec::new();
    let p = d.decode(input, &mut out).unwrap();
    assert_eq!(p.consumed, 12);
    assert!(p.done);
    let again = d.decode(&input[12..], &mut out).unwrap();
    assert_eq!(again.consumed, 0);
    assert!(again.done);
    assert_eq!(out, b"hi");
}

#[test]
fn errors_are_sticky_until_reset() {
    let mut d = ChunkedDecoder::new(&Limits::default());
    let mut out = Vec::new();
    assert_eq!(d.decode(b"z", &mut out), Err(Error::ChunkSizeInvalid));
    assert_eq!(
        d.decode(b"0\r\n\r\n", &mut out),
        Err(Error::ChunkSizeInvalid)
    );
    d.reset();
    let p = d.decode(b"1\r\nx\r\n0\r\nA: b\r\n\r\n", &mut out).unwrap();
    assert!(p.done);
    assert_eq!(out, b"x");
    d.reset();
    assert!(d.trailers().is_empty());
    assert!(!d.is_done());
    assert_eq!(d.body_len(), 0);
}

#[test]
fn every_split_point_gives_the_same_result() {
    let input = b"5;e=\"v\"\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n";
    let limits = Limits::default();
    let expected = whole(input, &limits).unwrap();
    for a in 0..=input.len() {
        for b in a..=input.len() {
            let mut d = ChunkedDecoder::new(&limits);
            let mut out = Vec::new();
            let mut consumed = 0;
            for part in [&input[..a], &input[a..b], &input[b..]] {
                consumed += d.decode(part, &mut out).unwrap().consumed;
            }
            assert_eq!(
                (out, consumed, d.is_done()),
                expected.clone(),
                "split {a} {b}"
            );
        }
    }
}

// ---------------------------------------------------------- limits

#[test]
fn max_body_edge() {
    let limits = Limits::default().max_body(10);
    assert!(whole(b"a\r\n0123456789\r\n0\r\n\r\n", &limits).is_ok());
    assert_eq!(whole(b"b\r\n", &limits), Err(Error::BodyTooLarge));
    // Summed over chunks, refused at the size line before the data.
    assert_eq!(
        whole(b"5\r\nhello\r\n6\r\n", &limits),
        Err(Error::BodyTooLarge)
    );
    assert_eq!(
        bytewise(b"5\r\nhello\r\n5\r\nworld\r\n1\r\n", &limits),
        Err(Error::BodyTooLarge)
    );
}

#[test]
fn size_digits_edge() {
    let limits = Limits::default().max_chunk_size_digits(3);
    assert!(whole(b"00a\r\n0123456789\r\n0\r\n\r\n", &limits).is_ok());
    assert_eq!(whole(b"000a\r\n", &limits), Err(Error::ChunkSizeTooLarge));
    let defaults = Limits::default().max_body(u64::MAX);
    // 16 digits fit (default), 17 do not even as zeros.
    assert!(whole(b"ffffffffffffffff\r\n", &defaults).is_ok());
    assert_eq!(
        whole(b"0ffffffffffffffff\r\n", &defaults),
        Err(Error::ChunkSizeTooLarge)
    );
    // Without a digit limit the arithmetic itself overflows.
    let unlimited = defaults.max_chunk_size_digits(usize::MAX);
    assert!(whole(b"00000000000000000001\r\n", &unlimited).is_ok());
    assert_eq!(
        whole(b"10000000000000000\r\n", &unlimited),
        Err(Error::ChunkSizeTooLarge)
    );
}

#[test]
fn extension_bytes_edge() {
    // ";abcd" is 5 extension bytes per chunk line.
    let limits = Limits::default().max_chunk_ext_bytes(10);
    assert!(whole(b"1;abcd\r\nx\r\n0;abcd\r\n\r\n", &limits).is_ok());
    assert_eq!(
        whole(b"1;abcd\r\nx\r\n0;abcde\r\n\r\n", &limits),
        Err(Error::ChunkExtensionsTooLarge)
    );
    let one = Limits::default().max_chunk_ext_bytes(1);
    assert!(whole(b"1;\r\n", &one).is_err());
    assert_eq!(whole(b"1 ;", &one), Err(Error::ChunkExtensionsTooLarge));
    assert_eq!(
        whole(b"1;a", &Limits::default().max_chunk_ext_bytes(1)),
        Err(Error::ChunkExtensionsTooLarge)
    );
}

#[test]
fn trailer_bytes_edge() {
    // "A: bc\r\n\r\n" is 9 trailer-section bytes.
    let limits = Limits::default().max_trailer_bytes(9);
    assert!(whole(b"0\r\nA: bc\r\n\r\n", &limits).is_ok());
    assert_eq!(
        whole(b"0\r\nA: bcd\r\n\r\n", &limits),
        Err(Error::TrailersTooLarge)
    );
    assert_eq!(
        bytewise(b"0\r\nA: bcd\r\n\r\n", &limits),
        Err(Error::TrailersTooLarge)
    );
    // An endless trailer line is cut off at the limit.
    let mut endless = b"0\r\nA: ".to_vec();
    endless.resize(100_000, b'x');
    assert_eq!(
        whole(&endless, &Limits::default()),
        Err(Error::TrailersTooLarge)
    );
}

#[test]
fn trailer_count_edge() {
    let limits = Limits::default().max_headers(2);
    assert!(whole(b"0\r\nA: 1\r\nB: 2\r\n\r\n", &limits).is_ok());
    assert_eq!(
        whole(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &limits),
        Err(Error::TooManyHeaders)
    );
}

// ---------------------------------------------------------- encoder

#[test]
fn encoder_output() {
    let mut out = Vec::new();
    encode_chunk(&mut out, b"");
    assert!(out.is_empty());
    encode_chunk(&mut out, b"hello");
    encode_chunk(&mut out, &[b'x'; 26]);
    encode_last_chunk(&mut out, &[]);
    let mut expected = b"5\r\nhello\r\n1a\r\n".to_vec();
    expected.extend_from_slice(&[b'x'; 26]);
    expected.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_eq!(out, expected);

    let mut big = Vec::new();
    encode_chunk(&mut big, &vec![0u8; 0x1000]);
    assert!(big.starts_with(b"1000\r\n"));
}

#[test]
fn encoder_trailers_round_trip() {
    let mut out = Vec::new();
    encode_chunk(&mut out, b"abc");
    encode_last_chunk(
        &mut out,
        &[("X-Checksum", b"sha256=x"), ("Server-Timing", b"a;dur=1")],
    );
    assert_eq!(
        out,
        b"3\r\nabc\r\n0\r\nX-Checksum: sha256=x\r\nServer-Timing: a;dur=1\r\n\r\n"
    );
    let mut d = ChunkedDecoder::new(&Limits::default());
    let mut body = Vec::new();
    assert!(d.decode(&out, &mut body).unwrap().done);
    assert_eq!(body, b"abc");
    assert_eq!(
        d.trailers()[1],
        ("server-timing".to_string(), b"a;dur=1".to_vec())
    );
}
