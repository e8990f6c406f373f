//! Client side: request serializer round trips and the response parser with
//! its opt-in leniency.

use flare_h1::{
    parse_request, parse_response, write_request_head, BodyFraming, Error, Limits, Method,
    RequestHead, ResponseConfig, ResponseFraming, ResponseHeadParsed, Status, Version,
};

fn resp(
    buf: &[u8],
    cfg: &ResponseConfig,
    was_head: bool,
) -> (Result<Status, Error>, ResponseHeadParsed) {
    let mut h = ResponseHeadParsed::default();
    let r = parse_response(buf, &mut h, cfg, &Limits::default(), was_head);
    (r, h)
}

fn strict(buf: &[u8]) -> (Result<Status, Error>, ResponseHeadParsed) {
    resp(buf, &ResponseConfig::default(), false)
}

fn lenient(f: impl FnOnce(&mut ResponseConfig)) -> ResponseConfig {
    let mut c = ResponseConfig::default();
    f(&mut c);
    c
}

#[test]
fn request_head_round_trip() {
    let mut out = Vec::new();
    write_request_head(
        &mut out,
        "POST",
        "/upload?x=1",
        &[("Host", b"example.com"), ("Content-Length", b"3")],
    );
    assert_eq!(
        out,
        b"POST /upload?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\n"
    );
    let mut h = RequestHead::default();
    assert_eq!(
        parse_request(&out, &mut h, &Limits::default()),
        Ok(Status::Complete(out.len()))
    );
    assert_eq!(h.method, Method::Post);
    assert_eq!(h.query.unwrap().get(&out), b"x=1");
    assert_eq!(h.framing, BodyFraming::Length(3));
}

#[test]
fn response_with_length() {
    let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";
    let (r, h) = strict(buf);
    assert_eq!(r, Ok(Status::Complete(buf.len() - 5)));
    assert_eq!(h.status, 200);
    assert_eq!(h.version, Version::Http11);
    assert_eq!(h.reason.get(buf), b"OK");
    assert_eq!(h.framing, ResponseFraming::Length(5));
    assert_eq!(h.header(buf, "server"), Some(&b"x"[..]));
    assert!(h.keep_alive());
    for n in 0..buf.len() - 5 {
        assert_eq!(strict(&buf[..n]).0, Ok(Status::Partial), "prefix {n}");
    }
}

#[test]
fn response_framing_rules() {
    let cases: &[(&[u8], bool, ResponseFraming)] = &[
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
            ResponseFraming::Chunked,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            false,
            ResponseFraming::Chunked,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            false,
            ResponseFraming::UntilClose,
        ),
        (
            b"HTTP/1.1 200 OK\r\n\r\n",
            false,
            ResponseFraming::UntilClose,
        ),
        (
            b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
            false,
            ResponseFraming::None,
        ),
        (
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
            false,
            ResponseFraming::None,
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\n",
            false,
            ResponseFraming::None,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            true,
            ResponseFraming::None,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            true,
            ResponseFraming::None,
        ),
        (
            b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            false,
            ResponseFraming::Length(0),
        ),
    ];
    for (buf, was_head, framing) in cases {
        let (r, h) = resp(buf, &ResponseConfig::default(), *was_head);
        assert_eq!(
            r,
            Ok(Status::Complete(buf.len())),
            "{:?}",
            String::from_utf8_lossy(buf)
        );
        assert_eq!(h.framing, *framing, "{:?}", String::from_utf8_lossy(buf));
    }
}

#[test]
fn response_keep_alive() {
    let (_, h) = strict(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert!(!h.keep_alive());
    let (_, h) = strict(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
    assert!(h.keep_alive());
    let (_, h) = strict(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert!(!h.keep_alive());
    let (_, h) = strict(b"HTTP/1.1 200 OK\r\n\r\n");
    assert!(!h.keep_alive(), "body until close");
    let buf =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    let (_, h) = strict(buf);
    assert!(h.connection_upgrade);
    assert_eq!(h.upgrade.unwrap().get(buf), b"websocket");
}

#[test]
fn response_strict_errors() {
    let cases: &[(&[u8], Error)] = &[
        (b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", Error::ObsFold),
        (
            b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
            Error::WhitespaceBeforeColon,
        ),
        (b"HTTP/1.1 200 OK\nX: a\r\n\r\n", Error::BareLf),
        (b"HTTP/1.1 200 OK\r\nX: a\n\r\n", Error::BareLf),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            Error::DuplicateContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
            Error::DuplicateContentLength,
        ),
        (b"HTTP/1.1 200\r\n\r\n", Error::BadStatusLine),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            Error::ContentLengthWithTransferEncoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            Error::TransferEncodingInvalid,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n",
            Error::TransferEncodingInvalid,
        ),
        (
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            Error::TransferEncodingOnHttp10,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            Error::ContentLengthInvalid,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2097153\r\n\r\n",
            Error::BodyTooLarge,
        ),
        (b"HTTP/2.0 200 OK\r\n\r\n", Error::VersionNotSupported),
        (b"HTTP/1.1 20 OK\r\n\r\n", Error::BadStatusLine),
        (b"HTTP/1.1 099 OK\r\n\r\n", Error::BadStatusLine),
        (b"HTTP/1.1 2000 OK\r\n\r\n", Error::BadStatusLine),
        (b"HTTP/1.1  200 OK\r\n\r\n", Error::BadStatusLine),
        (b"HTTP/1.1 200 O\x00K\r\n\r\n", Error::BadStatusLine),
        (b"HTTP/1.1 200 OK\rX", Error::BareCr),
        (b"http/1.1 200 OK\r\n\r\n", Error::BadStatusLine),
        (b"SSH-2.0", Error::BadStatusLine),
        (
            b"HTTP/1.1 200 OK\r\nX\x01: a\r\n\r\n",
            Error::HeaderNameInvalid,
        ),
        (
            b"HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n",
            Error::InvalidHeaderValue,
        ),
    ];
    for (buf, e) in cases {
        assert_eq!(strict(buf).0, Err(*e), "{:?}", String::from_utf8_lossy(buf));
    }
}

#[test]
fn response_leniency_is_opt_in() {
    let fold = b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n";
    let cfg = lenient(|c| c.allow_obs_fold = true);
    let (r, h) = resp(fold, &cfg, false);
    assert_eq!(r, Ok(Status::Complete(fold.len())));
    assert_eq!(h.header(fold, "x"), Some(&b"a\r\n b"[..]));
    assert_eq!(h.framing, ResponseFraming::Length(0));

    let space = b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\n";
    let (r, h) = resp(
        space,
        &lenient(|c| c.allow_space_before_colon = true),
        false,
    );
    assert_eq!(r, Ok(Status::Complete(space.len())));
    assert_eq!(h.framing, ResponseFraming::Length(2));

    let lf = b"HTTP/1.1 200 OK\nContent-Length: 2\n\n";
    let (r, h) = resp(lf, &lenient(|c| c.allow_bare_lf = true), false);
    assert_eq!(r, Ok(Status::Complete(lf.len())));
    assert_eq!(h.framing, ResponseFraming::Length(2));

    let dup = b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n";
    let cfg = lenient(|c| c.allow_duplicate_content_length = true);
    assert_eq!(resp(dup, &cfg, false).1.framing, ResponseFraming::Length(5));
    let differ = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
    assert_eq!(
        resp(differ, &cfg, false).0,
        Err(Error::DuplicateContentLength)
    );
    let differ_list = b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n";
    assert_eq!(
        resp(differ_list, &cfg, false).0,
        Err(Error::DuplicateContentLength)
    );

    let no_reason = b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n";
    let (r, h) = resp(
        no_reason,
        &lenient(|c| c.allow_missing_reason = true),
        false,
    );
    assert_eq!(r, Ok(Status::Complete(no_reason.len())));
    assert!(h.reason.is_empty());

    let both = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cfg = lenient(|c| c.allow_content_length_with_transfer_encoding = true);
    let (r, h) = resp(both, &cfg, false);
    assert_eq!(r, Ok(Status::Complete(both.len())));
    assert_eq!(h.framing, ResponseFraming::Chunked);
    assert!(h.connection_close && !h.keep_alive());
}

#[test]
fn response_limits() {
    let limits = Limits::default().max_header_bytes(40).max_headers(1);
    let mut h = ResponseHeadParsed::default();
    let cfg = ResponseConfig::default();
    let ok = b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n";
    assert_eq!(
        parse_response(ok, &mut h, &cfg, &limits, false),
        Ok(Status::Complete(ok.len()))
    );
    let two = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n";
    assert_eq!(
        parse_response(two, &mut h, &cfg, &limits, false),
        Err(Error::TooManyHeaders)
    );
    let big = b"HTTP/1.1 200 OK\r\nA: 0123456789012345678901234\r\n\r\n";
    assert_eq!(
        parse_response(big, &mut h, &cfg, &limits, false),
        Err(Error::HeadersTooLarge)
    );
    assert_eq!(
        parse_response(&big[..40], &mut h, &cfg, &limits, false),
        Err(Error::HeadersTooLarge)
    );
    assert_eq!(
        parse_response(&big[..39], &mut h, &cfg, &limits, false),
        Ok(Status::Partial)
    );
}
