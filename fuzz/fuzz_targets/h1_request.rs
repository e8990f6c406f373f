//! Fuzz the strict HTTP/1.1 request-head parser (and the lenient response
//! parser on the same bytes): no panics, consumed counts and spans in bounds,
//! and every prefix of a complete head is Partial or the same error class.
#![no_main]

use flare_h1::{
    parse_request, parse_response, Limits, RequestHead, ResponseConfig, ResponseHeadParsed, Span,
    Status,
};
use libfuzzer_sys::fuzz_target;

fn in_bounds(s: Span, len: usize) -> bool {
    s.start <= s.end && s.end as usize <= len
}

fuzz_target!(|data: &[u8]| {
    let (flags, input) = match data.split_first() {
        Some((f, rest)) => (*f, rest),
        None => (0, data),
    };
    let limits = if flags & 1 == 0 {
        Limits::default()
    } else {
        Limits::default()
            .max_request_line(64)
            .max_header_bytes(256)
            .max_headers(4)
            .max_body(1000)
    };
    let mut head = RequestHead::default();
    let r = parse_request(input, &mut head, &limits);
    if let Ok(Status::Complete(n)) = r {
        assert!(n <= input.len());
        let mut spans = vec![head.method_span, head.target, head.path];
        spans.extend(head.query);
        spans.extend(head.authority);
        spans.extend(head.host);
        spans.extend(head.upgrade);
        for h in &head.headers {
            spans.push(h.name);
            spans.push(h.value);
        }
        for s in spans {
            assert!(in_bounds(s, n), "{s:?} past the head ({n})");
        }
        // API guarantee: the request-target (and the path, query and
        // authority within it) is visible ASCII; the method is a token.
        let mut target_spans = vec![head.target, head.path];
        target_spans.extend(head.query);
        target_spans.extend(head.authority);
        for s in target_spans {
            let bytes = s.get(input);
            assert!(bytes.iter().all(|c| (0x21..=0x7e).contains(c)), "{bytes:?}");
        }
        assert!(head.method_span.get(input).is_ascii());
        // The same head alone is complete with the same length, and one
        // byte short of it is not complete.
        let mut again = RequestHead::default();
        assert_eq!(
            parse_request(&input[..n], &mut again, &limits),
            Ok(Status::Complete(n))
        );
        assert!(!matches!(
            parse_request(&input[..n.saturating_sub(1)], &mut again, &limits),
            Ok(Status::Complete(_))
        ));
    }

    let mut cfg = ResponseConfig::default();
    cfg.allow_obs_fold = flags & 2 != 0;
    cfg.allow_bare_lf = flags & 4 != 0;
    cfg.allow_space_before_colon = flags & 8 != 0;
    cfg.allow_duplicate_content_length = flags & 16 != 0;
    cfg.allow_missing_reason = flags & 32 != 0;
    cfg.allow_content_length_with_transfer_encoding = flags & 64 != 0;
    let mut resp = ResponseHeadParsed::default();
    if let Ok(Status::Complete(n)) =
        parse_response(input, &mut resp, &cfg, &limits, flags & 128 != 0)
    {
        assert!(n <= input.len());
        for h in &resp.headers {
            assert!(in_bounds(h.name, n) && in_bounds(h.value, n));
        }
    }
});
