//! Response serialization: exact bytes for each framing and status class.

use flare_h1::{
    finish_head, is_bodyless_status, reason_phrase, write_header, write_response_head,
    ResponseBody, ResponseHead, Version,
};

fn render(head: &ResponseHead<'_>) -> String {
    let mut out = Vec::new();
    write_response_head(&mut out, head);
    finish_head(&mut out);
    String::from_utf8(out).unwrap()
}

const DATE: &[u8] = b"Sun, 06 Nov 1994 08:49:37 GMT";

#[test]
fn ok_with_length_and_fixed_fields() {
    let head = ResponseHead {
        date: Some(DATE),
        server: Some(b"flare"),
        content_type: Some(b"text/plain"),
        body: ResponseBody::Length(13),
        ..ResponseHead::new(200)
    };
    assert_eq!(
        render(&head),
        "HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\nserver: flare\r\n\
         content-type: text/plain\r\ncontent-length: 13\r\n\r\n"
    );
}

#[test]
fn empty_ok_still_has_content_length() {
    let head = ResponseHead {
        body: ResponseBody::Length(0),
        ..ResponseHead::new(200)
    };
    assert_eq!(
        render(&head),
        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
    );
}

#[test]
fn bodyless_statuses_get_no_framing() {
    for status in [100, 101, 103, 204, 304] {
        for body in [ResponseBody::Length(5), ResponseBody::Chunked] {
            let head = ResponseHead {
                body,
                trailer_names: Some(b"x"),
                ..ResponseHead::new(status)
            };
            let text = render(&head);
            assert!(!text.contains("content-length"), "{text}");
            assert!(!text.contains("transfer-encoding"), "{text}");
            assert!(!text.contains("trailer"), "{text}");
            assert!(!head.chunked_on_wire());
        }
    }
    assert_eq!(
        render(&ResponseHead::new(204)),
        "HTTP/1.1 204 No Content\r\n\r\n"
    );
    assert_eq!(
        render(&ResponseHead::new(101)),
        "HTTP/1.1 101 Switching Protocols\r\n\r\n"
    );
}

#[test]
fn head_response_writes_length_only() {
    // For HEAD the server passes the GET body length; no body follows.
    let head = ResponseHead {
        body: ResponseBody::Length(1234),
        ..ResponseHead::new(200)
    };
    assert_eq!(
        render(&head),
        "HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n"
    );
}

#[test]
fn chunked_with_trailer_names() {
    let head = ResponseHead {
        body: ResponseBody::Chunked,
        trailer_names: Some(b"x-checksum"),
        ..ResponseHead::new(200)
    };
    assert!(head.chunked_on_wire());
    assert!(!head.closes());
    assert_eq!(
        render(&head),
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n"
    );
}

#[test]
fn chunked_on_http10_becomes_until_close() {
    let head = ResponseHead {
        version: Version::Http10,
        body: ResponseBody::Chunked,
        keep_alive_10: true,
        trailer_names: Some(b"x"),
        ..ResponseHead::new(200)
    };
    assert!(!head.chunked_on_wire());
    assert!(head.closes());
    assert_eq!(
        render(&head),
        "HTTP/1.0 200 OK\r\nconnection: close\r\n\r\n"
    );
}

#[test]
fn connection_fields() {
    let close = ResponseHead {
        close: true,
        keep_alive_10: true,
        body: ResponseBody::Length(0),
        ..ResponseHead::new(400)
    };
    assert_eq!(
        render(&close),
        "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    let ka = ResponseHead {
        keep_alive_10: true,
        body: ResponseBody::Length(2),
        ..ResponseHead::new(200)
    };
    assert_eq!(
        render(&ka),
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\n"
    );
}

#[test]
fn status_lines() {
    assert_eq!(
        render(&ResponseHead::new(404)),
        "HTTP/1.1 404 Not Found\r\n\r\n"
    );
    let v10 = ResponseHead {
        version: Version::Http10,
        ..ResponseHead::new(503)
    };
    assert_eq!(render(&v10), "HTTP/1.0 503 Service Unavailable\r\n\r\n");
    // Unregistered code: empty reason, SP kept (reason-phrase may be empty).
    assert_eq!(render(&ResponseHead::new(299)), "HTTP/1.1 299 \r\n\r\n");
    // Out of range: written as 500.
    assert_eq!(
        render(&ResponseHead::new(1000)),
        "HTTP/1.1 500 Internal Server Error\r\n\r\n"
    );
    assert_eq!(
        render(&ResponseHead::new(42)),
        "HTTP/1.1 500 Internal Server Error\r\n\r\n"
    );
}

#[test]
fn custom_reason_is_sanitized() {
    let head = ResponseHead {
        reason: Some("All\r\nSet-Cookie: x\tGood"),
        ..ResponseHead::new(200)
    };
    assert_eq!(render(&head), "HTTP/1.1 200 AllSet-Cookie: x\tGood\r\n\r\n");
}

#[test]
fn write_header_never_splits_the_head() {
    let mut out = Vec::new();
    write_header(&mut out, b"X-Ok", b"v");
    write_header(&mut out, b"X-Evil", b"a\r\nSet-Cookie: b\0");
    write_header(&mut out, b"Bad Name:\r\n", b"v");
    write_header(&mut out, b"", b"v");
    assert_eq!(
        out,
        b"X-Ok: v\r\nX-Evil: a  Set-Cookie: b \r\nBad-Name---: v\r\n-: v\r\n"
    );
}

#[test]
fn large_content_length() {
    let head = ResponseHead {
        body: ResponseBody::Length(u64::MAX),
        ..ResponseHead::new(200)
    };
    assert!(render(&head).contains("content-length: 18446744073709551615\r\n"));
}

#[test]
fn reason_phrases_and_bodyless() {
    assert_eq!(reason_phrase(200), "OK");
    assert_eq!(reason_phrase(413), "Content Too Large");
    assert_eq!(reason_phrase(431), "Request Header Fields Too Large");
    assert_eq!(reason_phrase(505), "HTTP Version Not Supported");
    assert_eq!(reason_phrase(299), "");
    for s in [100, 101, 199, 204, 304] {
        assert!(is_bodyless_status(s), "{s}");
    }
    for s in [200, 205, 300, 303, 305, 404, 500, 99] {
        assert!(!is_bodyless_status(s), "{s}");
    }
}

#[test]
fn a_head_written_with_a_prefix_equals_the_full_head() {
    use flare_h1::{encode_head_prefix, write_response_head, write_response_head_with_prefix};
    let date = b"Thu, 26 Nov 2026 01:26:48 GMT";
    for (status, body, close) in [
        (200u16, ResponseBody::Length(13), false),
        (200, ResponseBody::Chunked, true),
        (404, ResponseBody::Length(0), false),
        (304, ResponseBody::Length(5), false),
    ] {
        let mut head = ResponseHead::new(status);
        head.date = Some(date);
        head.server = Some(b"flare");
        head.content_type = Some(b"text/plain");
        head.body = body;
        head.close = close;
        head.trailer_names = Some(b"x-t");
        let mut full = Vec::new();
        write_response_head(&mut full, &head);
        let mut prefix = Vec::new();
        encode_head_prefix(&mut prefix, Version::Http11, status, date, Some(b"flare"));
        let mut fast = Vec::new();
        write_response_head_with_prefix(&mut fast, &prefix, &head);
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            String::from_utf8(full).unwrap(),
            "status {status}"
        );
    }
}

/// Content-Length digits at every width boundary, through all three writers
/// (checked, trusted and with a prefix), with the same bytes from each.
#[test]
fn content_length_digits_at_every_width() {
    let mut prefix = Vec::new();
    flare_h1::encode_head_prefix(&mut prefix, Version::Http11, 200, DATE, Some(b"flare"));
    let mut values = vec![0u64, u64::MAX];
    let mut p = 1u64;
    while let Some(next) = p.checked_mul(10) {
        values.extend([p - 1, p, p + 1]);
        p = next;
    }
    for n in values {
        let head = ResponseHead {
            date: Some(DATE),
            server: Some(b"flare"),
            content_type: Some(b"text/plain"),
            body: ResponseBody::Length(n),
            ..ResponseHead::new(200)
        };
        let want = format!(
            "HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\nserver: flare\r\n\
             content-type: text/plain\r\ncontent-length: {n}\r\n\r\n"
        );
        assert_eq!(render(&head), want);
        let mut out = Vec::new();
        flare_h1::write_response_head_trusted(&mut out, &head);
        finish_head(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), want);
        let mut out = Vec::new();
        flare_h1::write_response_head_with_prefix(&mut out, &prefix, &head);
        finish_head(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }
}

/// The trusted writers and the prefix writer produce the same bytes as the
/// checked one for clean values, over a matrix of statuses, versions,
/// framings, connection flags, content types and trailers.
#[test]
fn trusted_and_prefix_writers_match_checked() {
    let statuses = [100u16, 101, 200, 204, 304, 404, 500, 42, 1000];
    let bodies = [
        ResponseBody::None,
        ResponseBody::Length(0),
        ResponseBody::Length(7),
        ResponseBody::Length(123_456),
        ResponseBody::Chunked,
    ];
    for status in statuses {
        for version in [Version::Http11, Version::Http10] {
            for body in bodies {
                for (close, keep_alive_10) in [(false, false), (true, false), (false, true)] {
                    for content_type in [None, Some(&b"text/plain"[..])] {
                        for trailer_names in [None, Some(&b"x-checksum"[..])] {
                            let head = ResponseHead {
                                version,
                                date: Some(DATE),
                                server: Some(b"flare"),
                                content_type,
                                body,
                                close,
                                keep_alive_10,
                                trailer_names,
                                ..ResponseHead::new(status)
                            };
                            let want = render(&head);
                            assert_eq!(want, reference(&head), "{head:?}");
                            let mut out = Vec::new();
                            flare_h1::write_response_head_trusted(&mut out, &head);
                            finish_head(&mut out);
                            assert_eq!(String::from_utf8(out).unwrap(), want, "{head:?}");
                            let mut prefix = Vec::new();
                            flare_h1::encode_head_prefix(
                                &mut prefix,
                                version,
                                status,
                                DATE,
                                Some(b"flare"),
                            );
                            let mut out = Vec::new();
                            flare_h1::write_response_head_with_prefix(&mut out, &prefix, &head);
                            finish_head(&mut out);
                            assert_eq!(String::from_utf8(out).unwrap(), want, "{head:?}");
                        }
                    }
                }
            }
        }
    }
}

/// The documented head, written the plain way (see `write_response_head`).
fn reference(h: &ResponseHead<'_>) -> String {
    let status = if (100..=999).contains(&h.status) {
        h.status
    } else {
        500
    };
    let bodyless = is_bodyless_status(h.status);
    let v = h.version.as_str();
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    let mut s = format!("{v} {status} {}\r\n", reason_phrase(status));
    if let Some(d) = h.date {
        s += &format!("date: {}\r\n", text(d));
    }
    if let Some(d) = h.server {
        s += &format!("server: {}\r\n", text(d));
    }
    if let Some(d) = h.content_type {
        s += &format!("content-type: {}\r\n", text(d));
    }
    let chunked_on_wire =
        h.body == ResponseBody::Chunked && h.version == Version::Http11 && !bodyless;
    match h.body {
        ResponseBody::Length(n) if !bodyless => s += &format!("content-length: {n}\r\n"),
        _ if chunked_on_wire => s += "transfer-encoding: chunked\r\n",
        _ => {}
    }
    let until_close = h.body == ResponseBody::Chunked && h.version == Version::Http10 && !bodyless;
    if h.close || until_close {
        s += "connection: close\r\n";
    } else if h.keep_alive_10 {
        s += "connection: keep-alive\r\n";
    }
    if let (Some(t), true) = (h.trailer_names, chunked_on_wire) {
        s += &format!("trailer: {}\r\n", text(t));
    }
    s + "\r\n"
}
