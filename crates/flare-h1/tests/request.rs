//! Table-driven request-head tests in the style of httparse: each case is
//! input bytes plus the expected result. Every `ok` case also checks that
//! every proper prefix of the input parses as `Partial`.

use flare_h1::{
    parse_request, BodyFraming, Error, Expect, Limits, Method, RequestHead, Status, TargetForm,
    Version,
};

fn parse(buf: &[u8], limits: &Limits) -> (Result<Status, Error>, RequestHead) {
    let mut head = RequestHead::default();
    let r = parse_request(buf, &mut head, limits);
    (r, head)
}

/// Every proper prefix of a valid head is `Partial`.
fn check_prefixes(buf: &[u8], limits: &Limits) {
    let mut head = RequestHead::default();
    for n in 0..buf.len() {
        assert_eq!(
            parse_request(&buf[..n], &mut head, limits),
            Ok(Status::Partial),
            "prefix of {n} bytes: {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
}

macro_rules! req {
    // Complete head using all input; `$check` inspects it.
    ($name:ident, $input:expr, ok |$h:ident, $b:ident| $check:block) => {
        req!($name, $input, Limits::default(), ok | $h, $b | $check);
    };
    ($name:ident, $input:expr, $limits:expr, ok |$h:ident, $b:ident| $check:block) => {
        #[test]
        fn $name() {
            let $b: &[u8] = $input;
            let limits = $limits;
            let (r, $h) = parse($b, &limits);
            assert_eq!(r, Ok(Status::Complete($b.len())));
            check_prefixes($b, &limits);
            $check
        }
    };
    ($name:ident, $input:expr, Err($e:ident)) => {
        req!($name, $input, Limits::default(), Err($e));
    };
    ($name:ident, $input:expr, $limits:expr, Err($e:ident)) => {
        #[test]
        fn $name() {
            let (r, _) = parse($input, &$limits);
            assert_eq!(r, Err(Error::$e));
        }
    };
    ($name:ident, $input:expr, $limits:expr, Partial) => {
        #[test]
        fn $name() {
            let (r, _) = parse($input, &$limits);
            assert_eq!(r, Ok(Status::Partial));
        }
    };
}

// ---------------------------------------------------------------- valid

req!(
    simple_get,
    b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.method, Method::Get);
        assert_eq!(h.method_span.get(b), b"GET");
        assert_eq!(h.target.get(b), b"/");
        assert_eq!(h.path.get(b), b"/");
        assert_eq!(h.query, None);
        assert_eq!(h.target_form, TargetForm::Origin);
        assert_eq!(h.version, Version::Http11);
        assert_eq!(h.headers.len(), 1);
        assert_eq!(h.headers[0].name.get(b), b"Host");
        assert_eq!(h.headers[0].value.get(b), b"example.com");
        assert_eq!(h.host.unwrap().get(b), b"example.com");
        assert_eq!(h.framing, BodyFraming::None);
        assert!(h.keep_alive());
        assert_eq!(h.expect, Expect::None);
    }
);

req!(typical_browser_get,
    b"GET /index.html?lang=en&x=%20y HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\nAccept-Encoding: gzip, deflate\r\nCookie: a=b; c=d\r\n\r\n",
    ok |h, b| {
    assert_eq!(h.path.get(b), b"/index.html");
    assert_eq!(h.query.unwrap().get(b), b"lang=en&x=%20y");
    assert_eq!(h.headers.len(), 5);
    assert_eq!(h.header(b, "user-agent"), Some(&b"Mozilla/5.0 (X11; Linux x86_64)"[..]));
    assert_eq!(h.header(b, "COOKIE"), Some(&b"a=b; c=d"[..]));
    assert_eq!(h.header(b, "missing"), None);
});

req!(
    empty_query,
    b"GET /p? HTTP/1.1\r\nHost: a\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.path.get(b), b"/p");
        assert_eq!(h.query.unwrap().get(b), b"");
    }
);

req!(
    question_marks_in_query,
    b"GET /p?a?b HTTP/1.1\r\nHost: a\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.path.get(b), b"/p");
        assert_eq!(h.query.unwrap().get(b), b"a?b");
    }
);

req!(long_path_word_scan, b"GET /0123456789abcdefghijklmnopqrstuvwxyz/0123456789?q=0123456789abcdef HTTP/1.1\r\nHost: a\r\n\r\n", ok |h, b| {
    assert_eq!(h.path.get(b), b"/0123456789abcdefghijklmnopqrstuvwxyz/0123456789");
    assert_eq!(h.query.unwrap().get(b), b"q=0123456789abcdef");
});

req!(
    other_method,
    b"PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.method, Method::Other);
        assert_eq!(h.method.as_str(), None);
        assert_eq!(h.method_span.get(b), b"PURGE");
    }
);

req!(
    method_is_case_sensitive,
    b"get / HTTP/1.1\r\nHost: a\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.method, Method::Other);
        assert_eq!(h.method_span.get(b), b"get");
    }
);

#[test]
fn all_known_methods() {
    for (name, m) in [
        ("GET", Method::Get),
        ("HEAD", Method::Head),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("DELETE", Method::Delete),
        ("OPTIONS", Method::Options),
        ("TRACE", Method::Trace),
        ("PATCH", Method::Patch),
    ] {
        let req = format!("{name} / HTTP/1.1\r\nHost: a\r\n\r\n");
        let (r, h) = parse(req.as_bytes(), &Limits::default());
        assert_eq!(r, Ok(Status::Complete(req.len())));
        assert_eq!(h.method, m);
        assert_eq!(m.as_str(), Some(name));
    }
    assert_eq!(Method::Connect.as_str(), Some("CONNECT"));
}

req!(
    absolute_form,
    b"GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: ignored\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.target_form, TargetForm::Absolute);
        assert_eq!(h.authority.unwrap().get(b), b"example.com:8080");
        assert_eq!(h.path.get(b), b"/a/b");
        assert_eq!(h.query.unwrap().get(b), b"c=d");
        assert_eq!(h.target.get(b), b"http://example.com:8080/a/b?c=d");
    }
);

req!(
    absolute_form_without_path,
    b"GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.target_form, TargetForm::Absolute);
        assert_eq!(h.authority.unwrap().get(b), b"example.com");
        assert!(h.path.is_empty());
    }
);

req!(
    absolute_form_query_without_path,
    b"GET http://h?x HTTP/1.1\r\nHost: h\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.authority.unwrap().get(b), b"h");
        assert!(h.path.is_empty());
        assert_eq!(h.query.unwrap().get(b), b"x");
    }
);

req!(
    connect_authority_form,
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.method, Method::Connect);
        assert_eq!(h.target_form, TargetForm::Authority);
        assert_eq!(h.authority.unwrap().get(b), b"example.com:443");
        assert!(h.path.is_empty());
    }
);

req!(
    connect_ipv6,
    b"CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.target_form, TargetForm::Authority);
        assert_eq!(h.host.unwrap().get(b), b"[::1]:8443");
    }
);

req!(
    options_asterisk,
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.target_form, TargetForm::Asterisk);
        assert_eq!(h.path.get(b), b"*");
    }
);

req!(
    http10_without_host,
    b"GET / HTTP/1.0\r\n\r\n",
    ok | h,
    _b | {
        assert_eq!(h.version, Version::Http10);
        assert!(h.host.is_none());
        assert!(!h.keep_alive());
    }
);

req!(
    http10_keep_alive,
    b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    ok | h,
    _b | {
        assert!(h.connection_keep_alive);
        assert!(h.keep_alive());
    }
);

req!(
    http10_keep_alive_and_close,
    b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
    ok | h,
    _b | {
        assert!(!h.keep_alive());
    }
);

req!(
    connection_close_case_insensitive,
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n",
    ok | h,
    _b | {
        assert!(h.connection_close);
        assert!(!h.keep_alive());
    }
);

req!(connection_lists_across_fields, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo,, Upgrade \r\nConnection: keep-alive\r\nUpgrade: websocket\r\n\r\n", ok |h, b| {
    assert!(h.connection_upgrade);
    assert!(h.connection_keep_alive);
    assert!(!h.connection_close);
    assert_eq!(h.upgrade.unwrap().get(b), b"websocket");
});

req!(
    close_not_a_substring_match,
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed, xclose\r\n\r\n",
    ok | h,
    _b | {
        assert!(!h.connection_close);
    }
);

req!(
    ows_trimmed,
    b"GET / HTTP/1.1\r\nHost: a\r\nX-A: \t v a\tl \t \r\nX-B:v\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.header(b, "x-a"), Some(&b"v a\tl"[..]));
        assert_eq!(h.header(b, "x-b"), Some(&b"v"[..]));
    }
);

req!(
    empty_values,
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Spaces:   \r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.header(b, "x-empty"), Some(&b""[..]));
        assert_eq!(h.header(b, "x-spaces"), Some(&b""[..]));
    }
);

req!(
    obs_text_in_value,
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Latin: caf\xe9 \xff\x80\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.header(b, "x-latin"), Some(&b"caf\xe9 \xff\x80"[..]));
    }
);

req!(long_value_word_scan, b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789abcdef0123456789abcdef\tand a tab 0123456789\r\n\r\n", ok |h, b| {
    assert_eq!(h.header(b, "x-long"), Some(&b"0123456789abcdef0123456789abcdef\tand a tab 0123456789"[..]));
});

req!(
    header_first_match,
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.header(b, "X-DUP"), Some(&b"1"[..]));
        assert_eq!(h.headers.len(), 3);
    }
);

req!(
    all_tchars_in_name,
    b"GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09AZaz: v\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.headers[1].name.get(b), b"!#$%&'*+-.^_`|~09AZaz");
    }
);

req!(
    content_length,
    b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n",
    ok | h,
    _b | {
        assert_eq!(h.framing, BodyFraming::Length(42));
    }
);

req!(
    content_length_zero_and_leading_zeros,
    b"POST /u HTTP/1.1\r\nHost: a\r\ncontent-length: 007\r\n\r\n",
    ok | h,
    _b | {
        assert_eq!(h.framing, BodyFraming::Length(7));
    }
);

req!(
    content_length_ows,
    b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length:  5 \r\n\r\n",
    ok | h,
    _b | {
        assert_eq!(h.framing, BodyFraming::Length(5));
    }
);

req!(
    chunked,
    b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    ok | h,
    _b | {
        assert_eq!(h.framing, BodyFraming::Chunked);
    }
);

req!(
    chunked_case_and_empty_elements,
    b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , CHUNKED\t,\r\n\r\n",
    ok | h,
    _b | {
        assert_eq!(h.framing, BodyFraming::Chunked);
    }
);

req!(
    expect_continue,
    b"PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n",
    ok | h,
    _b | {
        assert_eq!(h.expect, Expect::Continue);
    }
);

req!(
    expect_other,
    b"PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x-thing\r\n\r\n",
    ok | h,
    _b | {
        assert_eq!(h.expect, Expect::Other);
    }
);

req!(
    expect_continue_ignored_on_http10,
    b"PUT /u HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
    ok | h,
    _b | {
        assert_eq!(h.expect, Expect::None);
    }
);

req!(
    leading_empty_lines_skipped,
    b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.method_span.get(b), b"GET");
    }
);

req!(
    empty_host_allowed,
    b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.host.unwrap().get(b), b"");
    }
);

req!(
    host_ipv6_and_port,
    b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.host.unwrap().get(b), b"[2001:db8::1]:8080");
    }
);

req!(
    fragment_char_is_visible_ascii,
    b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
    ok | h,
    b | {
        assert_eq!(h.path.get(b), b"/a#b");
    }
);

#[test]
fn body_bytes_after_head_are_not_consumed() {
    let buf = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET";
    let (r, h) = parse(buf, &Limits::default());
    assert_eq!(r, Ok(Status::Complete(buf.len() - 8)));
    assert_eq!(h.framing, BodyFraming::Length(5));
}

#[test]
fn pipelined_requests() {
    let buf = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\n\r\nGET /3";
    let mut h = RequestHead::default();
    let limits = Limits::default();
    let Ok(Status::Complete(n1)) = parse_request(buf, &mut h, &limits) else {
        panic!()
    };
    assert_eq!(h.path.get(buf), b"/1");
    let rest = &buf[n1..];
    let Ok(Status::Complete(n2)) = parse_request(rest, &mut h, &limits) else {
        panic!()
    };
    assert_eq!(h.path.get(rest), b"/2");
    assert_eq!(h.host.unwrap().get(rest), b"b");
    assert_eq!(
        parse_request(&rest[n2..], &mut h, &limits),
        Ok(Status::Partial)
    );
}

#[test]
fn head_is_reused_without_stale_fields() {
    let mut h = RequestHead::default();
    let limits = Limits::default();
    let a = b"POST /x?q HTTP/1.0\r\nConnection: keep-alive, upgrade\r\nUpgrade: y\r\nExpect: z\r\nContent-Length: 3\r\n\r\n";
    parse_request(a, &mut h, &limits).unwrap();
    let b = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    parse_request(b, &mut h, &limits).unwrap();
    assert_eq!(h.query, None);
    assert_eq!(h.upgrade, None);
    assert_eq!(h.expect, Expect::None);
    assert_eq!(h.framing, BodyFraming::None);
    assert!(!h.connection_keep_alive && !h.connection_upgrade);
    assert_eq!(h.version, Version::Http11);
    assert_eq!(h.headers.len(), 1);
}

#[test]
fn no_allocation_once_warm() {
    let buf = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    let mut h = RequestHead::default();
    parse_request(buf, &mut h, &Limits::default()).unwrap();
    let cap = h.headers.capacity();
    let ptr = h.headers.as_ptr();
    for _ in 0..10 {
        parse_request(buf, &mut h, &Limits::default()).unwrap();
    }
    assert_eq!(h.headers.capacity(), cap);
    assert_eq!(h.headers.as_ptr(), ptr);
}

// ---------------------------------------------------------- request line

req!(
    bad_method_char,
    b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadMethod)
);
req!(
    bad_method_leading_space,
    b" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadMethod)
);
req!(
    bad_method_tab,
    b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadMethod)
);
req!(bad_method_nul, b"\0GET / HTTP/1.1\r\n\r\n", Err(BadMethod));
req!(
    bad_method_tls_hello,
    b"\x16\x03\x01\x02\x00\x01\x00\x01",
    Err(BadMethod)
);
req!(bad_method_no_target, b"GET\r\n\r\n", Err(BadMethod));
req!(
    bad_target_double_space,
    b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadTarget)
);
req!(
    bad_target_del,
    b"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadTarget)
);
req!(
    bad_target_non_ascii,
    b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadTarget)
);
req!(
    bad_target_tab,
    b"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadTarget)
);
req!(
    bad_target_relative,
    b"GET foo HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadTarget)
);
req!(
    bad_target_asterisk_not_options,
    b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadTarget)
);
req!(
    bad_target_double_asterisk,
    b"OPTIONS ** HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadTarget)
);
req!(
    bad_target_connect_origin,
    b"CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadTarget)
);
req!(
    bad_target_connect_no_port,
    b"CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadTarget)
);
req!(
    bad_target_authority_not_connect,
    b"GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadTarget)
);
req!(
    bad_target_absolute_empty_host,
    b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadTarget)
);
req!(
    bad_target_absolute_userinfo,
    b"GET http://user@h/x HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BadTarget)
);
req!(bad_target_http09, b"GET /\r\n\r\n", Err(BadTarget));
req!(
    bad_version_lowercase,
    b"GET / http/1.1\r\nHost: a\r\n\r\n",
    Err(BadVersion)
);
req!(
    bad_version_trailing_space,
    b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
    Err(BadVersion)
);
req!(
    bad_version_extra_digit,
    b"GET / HTTP/1.10\r\nHost: a\r\n\r\n",
    Err(BadVersion)
);
req!(
    bad_version_shape,
    b"GET / HTTP/11.1\r\nHost: a\r\n\r\n",
    Err(BadVersion)
);
req!(
    bad_version_garbage,
    b"GET / XXXXXXXX\r\n\r\n",
    Err(BadVersion)
);
req!(
    version_2,
    b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    Err(VersionNotSupported)
);
req!(
    version_1_2,
    b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
    Err(VersionNotSupported)
);
req!(
    version_0_9,
    b"GET / HTTP/0.9\r\n\r\n",
    Err(VersionNotSupported)
);
req!(
    request_line_bare_lf,
    b"GET / HTTP/1.1\nHost: a\r\n\r\n",
    Err(BareLf)
);
req!(
    request_line_bare_cr,
    b"GET / HTTP/1.1\rHost: a\r\n\r\n",
    Err(BareCr)
);
req!(
    leading_bare_lf,
    b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BareLf)
);
req!(
    leading_bare_cr,
    b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    Err(BareCr)
);

// ---------------------------------------------------------- field lines

req!(
    name_invalid_char,
    b"GET / HTTP/1.1\r\nHost: a\r\nFo@o: x\r\n\r\n",
    Err(HeaderNameInvalid)
);
req!(
    name_empty,
    b"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n",
    Err(HeaderNameInvalid)
);
req!(
    name_without_colon,
    b"GET / HTTP/1.1\r\nHost: a\r\nFoo\r\n\r\n",
    Err(HeaderNameInvalid)
);
req!(
    name_with_inner_space,
    b"GET / HTTP/1.1\r\nHost: a\r\nFoo Bar: x\r\n\r\n",
    Err(HeaderNameInvalid)
);
req!(
    name_with_nul,
    b"GET / HTTP/1.1\r\nHost: a\r\nFo\0o: x\r\n\r\n",
    Err(HeaderNameInvalid)
);
req!(
    name_non_ascii,
    b"GET / HTTP/1.1\r\nHost: a\r\nF\xc3\xb6o: x\r\n\r\n",
    Err(HeaderNameInvalid)
);
req!(
    space_before_colon,
    b"GET / HTTP/1.1\r\nHost: a\r\nFoo : x\r\n\r\n",
    Err(WhitespaceBeforeColon)
);
req!(
    tab_before_colon,
    b"GET / HTTP/1.1\r\nHost: a\r\nFoo\t: x\r\n\r\n",
    Err(WhitespaceBeforeColon)
);
req!(
    te_space_before_colon,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
    Err(WhitespaceBeforeColon)
);
req!(
    obs_fold,
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
    Err(ObsFold)
);
req!(
    obs_fold_tab,
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n",
    Err(ObsFold)
);
req!(
    whitespace_after_start_line,
    b"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
    Err(ObsFold)
);
req!(
    value_bare_cr,
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
    Err(BareCr)
);
req!(
    value_cr_cr_lf,
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n",
    Err(BareCr)
);
req!(
    end_bare_cr,
    b"GET / HTTP/1.1\r\nHost: a\r\n\rX",
    Err(BareCr)
);
req!(
    value_bare_lf,
    b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
    Err(BareLf)
);
req!(end_bare_lf, b"GET / HTTP/1.1\r\nHost: a\r\n\n", Err(BareLf));
req!(
    value_nul,
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
    Err(InvalidHeaderValue)
);
req!(
    value_control,
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
    Err(InvalidHeaderValue)
);
req!(
    value_escape,
    b"GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[31m\r\n\r\n",
    Err(InvalidHeaderValue)
);
req!(
    value_del,
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n",
    Err(InvalidHeaderValue)
);
req!(
    value_del_in_long_value,
    b"GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789abcdef\x7f0123456789\r\n\r\n",
    Err(InvalidHeaderValue)
);

// ---------------------------------------------------------- host

req!(
    missing_host,
    b"GET / HTTP/1.1\r\nX: a\r\n\r\n",
    Err(MissingHost)
);
req!(
    multiple_host,
    b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
    Err(MultipleHost)
);
req!(
    multiple_host_http10,
    b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
    Err(MultipleHost)
);
req!(
    invalid_host_space,
    b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    Err(InvalidHost)
);
req!(
    invalid_host_slash,
    b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
    Err(InvalidHost)
);
req!(
    invalid_host_userinfo,
    b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
    Err(InvalidHost)
);
req!(
    invalid_host_port,
    b"GET / HTTP/1.1\r\nHost: a:b\r\n\r\n",
    Err(InvalidHost)
);
req!(
    invalid_host_comma_list,
    b"GET / HTTP/1.1\r\nHost: a, b\r\n\r\n",
    Err(InvalidHost)
);

// ---------------------------------------------------------- framing

req!(
    cl_not_digits,
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
    Err(ContentLengthInvalid)
);
req!(
    cl_empty,
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
    Err(ContentLengthInvalid)
);
req!(
    cl_negative,
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
    Err(ContentLengthInvalid)
);
req!(
    cl_plus,
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
    Err(ContentLengthInvalid)
);
req!(
    cl_hex,
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
    Err(ContentLengthInvalid)
);
req!(
    cl_inner_space,
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n",
    Err(ContentLengthInvalid)
);
req!(
    cl_overflow,
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n",
    Err(ContentLengthInvalid)
);
req!(
    cl_duplicate_equal,
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
    Err(DuplicateContentLength)
);
req!(
    cl_duplicate_different,
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
    Err(DuplicateContentLength)
);
req!(
    cl_list_equal,
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
    Err(DuplicateContentLength)
);
req!(
    cl_list_different,
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,6\r\n\r\n",
    Err(DuplicateContentLength)
);
req!(
    cl_and_te,
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    Err(ContentLengthWithTransferEncoding)
);
req!(
    te_and_cl,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
    Err(ContentLengthWithTransferEncoding)
);
req!(
    te_empty,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n",
    Err(TransferEncodingInvalid)
);
req!(
    te_only_commas,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , ,\r\n\r\n",
    Err(TransferEncodingInvalid)
);
req!(
    te_chunked_twice,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
    Err(TransferEncodingInvalid)
);
req!(te_chunked_twice_two_fields, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", Err(TransferEncodingInvalid));
req!(
    te_inner_space,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun ked\r\n\r\n",
    Err(TransferEncodingInvalid)
);
req!(
    te_inner_tab,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\tgzip\r\n\r\n",
    Err(TransferEncodingInvalid)
);
req!(
    te_chunked_params,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
    Err(TransferEncodingInvalid)
);
req!(
    te_quoted,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
    Err(TransferEncodingInvalid)
);
req!(
    te_gzip,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
    Err(TransferEncodingUnsupported)
);
req!(
    te_identity,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
    Err(TransferEncodingUnsupported)
);
req!(
    te_chunked_identity,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
    Err(TransferEncodingUnsupported)
);
req!(
    te_gzip_chunked,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    Err(TransferEncodingUnsupported)
);
req!(
    te_gzip_tab_chunked,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\t,\tchunked\r\n\r\n",
    Err(TransferEncodingUnsupported)
);
req!(
    te_gzip_params,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip;level=9, chunked\r\n\r\n",
    Err(TransferEncodingUnsupported)
);
req!(
    te_gzip_then_chunked_field,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
    Err(TransferEncodingUnsupported)
);
req!(
    te_http10,
    b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    Err(TransferEncodingOnHttp10)
);
req!(
    te_vertical_tab,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\x0b\r\n\r\n",
    Err(InvalidHeaderValue)
);
req!(
    te_nbsp,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\xa0\r\n\r\n",
    Err(TransferEncodingInvalid)
);
req!(
    te_xchunked,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
    Err(TransferEncodingUnsupported)
);
req!(
    te_form_feed_around_comma,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\x0c, chunked\r\n\r\n",
    Err(InvalidHeaderValue)
);
req!(
    cl_nul,
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\0\r\n\r\n",
    Err(InvalidHeaderValue)
);
req!(
    te_ows_around_commas,
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \t ,\t chunked \t\r\n\r\n",
    ok | h,
    _b | {
        assert_eq!(h.framing, BodyFraming::Chunked);
    }
);

// ---------------------------------------------------------- limits

fn line_of(len: usize) -> Vec<u8> {
    // "GET /aaa HTTP/1.1" of exactly `len` bytes (without CRLF).
    let mut v = b"GET /".to_vec();
    v.resize(len - 9, b'a');
    v.extend_from_slice(b" HTTP/1.1");
    assert_eq!(v.len(), len);
    v
}

#[test]
fn request_line_limit_edge() {
    let limits = Limits::default().max_request_line(64);
    let mut ok = line_of(64);
    ok.extend_from_slice(b"\r\nHost: a\r\n\r\n");
    assert_eq!(parse(&ok, &limits).0, Ok(Status::Complete(ok.len())));
    let mut bad = line_of(65);
    bad.extend_from_slice(b"\r\nHost: a\r\n\r\n");
    assert_eq!(parse(&bad, &limits).0, Err(Error::UriTooLong));
}

#[test]
fn request_line_limit_while_partial() {
    let limits = Limits::default().max_request_line(64);
    let line = line_of(70);
    // Up to the limit without a line end: still waiting.
    assert_eq!(parse(&line[..64], &limits).0, Ok(Status::Partial));
    // The limit plus the CR of the line end: still waiting.
    let mut with_cr = line_of(64);
    with_cr.push(b'\r');
    assert_eq!(parse(&with_cr, &limits).0, Ok(Status::Partial));
    // One more byte: refused without waiting for the line end.
    assert_eq!(parse(&line[..65], &limits).0, Err(Error::UriTooLong));
    // A huge target never ending.
    let mut huge = b"GET /".to_vec();
    huge.resize(100_000, b'a');
    assert_eq!(parse(&huge, &Limits::default()).0, Err(Error::UriTooLong));
}

#[test]
fn header_bytes_limit_edge() {
    let base = b"GET / HTTP/1.1\r\nHost: a\r\nX: ";
    let head_of = |len: usize| {
        let mut v = base.to_vec();
        v.resize(len - 4, b'v');
        v.extend_from_slice(b"\r\n\r\n");
        v
    };
    let limits = Limits::default().max_header_bytes(200);
    let ok = head_of(200);
    assert_eq!(parse(&ok, &limits).0, Ok(Status::Complete(200)));
    check_prefixes(&ok, &limits);
    let bad = head_of(201);
    assert_eq!(parse(&bad, &limits).0, Err(Error::HeadersTooLarge));
    // Partial with the limit already reached.
    assert_eq!(parse(&bad[..200], &limits).0, Err(Error::HeadersTooLarge));
    // A complete head within the limit followed by lots of body is fine.
    let mut with_body = ok.clone();
    with_body.extend_from_slice(&[b'x'; 1000]);
    assert_eq!(parse(&with_body, &limits).0, Ok(Status::Complete(200)));
}

#[test]
fn header_bytes_limit_counts_leading_empty_lines() {
    let limits = Limits::default().max_header_bytes(30);
    let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"; // 27 bytes
    assert_eq!(parse(head, &limits).0, Ok(Status::Complete(27)));
    let mut padded = b"\r\n\r\n".to_vec();
    padded.extend_from_slice(head);
    assert_eq!(parse(&padded, &limits).0, Err(Error::HeadersTooLarge));
}

#[test]
fn max_headers_edge() {
    let limits = Limits::default().max_headers(3);
    let ok = b"GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\n\r\n";
    assert_eq!(parse(ok, &limits).0, Ok(Status::Complete(ok.len())));
    let bad = b"GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\n\r\n";
    assert_eq!(parse(bad, &limits).0, Err(Error::TooManyHeaders));
    let defaults = Limits::default();
    let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..100 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(parse(&many, &defaults).0, Err(Error::TooManyHeaders));
}

#[test]
fn max_body_edge() {
    let limits = Limits::default().max_body(100);
    let ok = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n";
    let (r, h) = parse(ok, &limits);
    assert_eq!(r, Ok(Status::Complete(ok.len())));
    assert_eq!(h.framing, BodyFraming::Length(100));
    let bad = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n";
    assert_eq!(parse(bad, &limits).0, Err(Error::BodyTooLarge));
    let huge = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n";
    assert_eq!(parse(huge, &Limits::default()).0, Err(Error::BodyTooLarge));
}

req!(partial_empty, b"", Limits::default(), Partial);
req!(partial_cr, b"\r", Limits::default(), Partial);
req!(
    partial_in_final_crlf,
    b"GET / HTTP/1.1\r\nHost: a\r\n\r",
    Limits::default(),
    Partial
);

// ---------------------------------------------------------- error metadata

#[test]
fn error_statuses_and_reasons() {
    use Error::*;
    let all = [
        (BadMethod, 400),
        (BadTarget, 400),
        (BadVersion, 400),
        (VersionNotSupported, 505),
        (UriTooLong, 414),
        (HeaderNameInvalid, 400),
        (WhitespaceBeforeColon, 400),
        (ObsFold, 400),
        (BareCr, 400),
        (BareLf, 400),
        (InvalidHeaderValue, 400),
        (TooManyHeaders, 431),
        (HeadersTooLarge, 431),
        (ContentLengthInvalid, 400),
        (DuplicateContentLength, 400),
        (ContentLengthWithTransferEncoding, 400),
        (TransferEncodingInvalid, 400),
        (TransferEncodingUnsupported, 501),
        (TransferEncodingOnHttp10, 400),
        (MissingHost, 400),
        (MultipleHost, 400),
        (InvalidHost, 400),
        (BodyTooLarge, 413),
        (ChunkSizeInvalid, 400),
        (ChunkSizeTooLarge, 400),
        (ChunkExtensionInvalid, 400),
        (ChunkExtensionsTooLarge, 400),
        (ChunkDataCrlfMissing, 400),
        (TrailersTooLarge, 431),
        (BadStatusLine, 502),
    ];
    let mut reasons = std::collections::HashSet::new();
    for (e, status) in all {
        assert_eq!(e.status(), status, "{e:?}");
        assert!(e.closes_connection());
        assert!(!e.reason().is_empty());
        assert_eq!(e.to_string(), e.reason());
        assert!(reasons.insert(e.reason()), "reason of {e:?} is not unique");
        let _: &dyn std::error::Error = &e;
    }
}

/// API guarantee (see `RequestHead::target`): a parsed request-target, and
/// the path, query and authority within it, is visible ASCII. Every byte
/// value at every position of a few targets of each form.
#[test]
fn parsed_target_is_always_visible_ascii() {
    let limits = flare_h1::Limits::default();
    let mut head = flare_h1::RequestHead::default();
    let cases: [(&str, &str); 4] = [
        ("GET", "/a/b?c=d&e=f/g"),
        ("GET", "http://example.com:80/p?q"),
        ("CONNECT", "example.com:443"),
        ("OPTIONS", "*"),
    ];
    for (method, target) in cases {
        for pos in 0..target.len() {
            for c in 0..=255u8 {
                let mut t = target.as_bytes().to_vec();
                t[pos] = c;
                let mut req = format!("{method} ").into_bytes();
                req.extend_from_slice(&t);
                req.extend_from_slice(b" HTTP/1.1\r\nHost: example.com\r\n\r\n");
                if let Ok(flare_h1::Status::Complete(_)) =
                    flare_h1::parse_request(&req, &mut head, &limits)
                {
                    let spans = [
                        Some(head.target),
                        Some(head.path),
                        head.query,
                        head.authority,
                    ];
                    for span in spans.into_iter().flatten() {
                        let bytes = span.get(&req);
                        assert!(
                            bytes.iter().all(|c| (0x21..=0x7e).contains(c)),
                            "{:?}",
                            String::from_utf8_lossy(&req)
                        );
                        assert!(std::str::from_utf8(bytes).is_ok());
                    }
                    assert!(head.method_span.get(&req).is_ascii());
                }
            }
        }
    }
}

/// Interpreted fields past the 64th are still found (the parser marks the
/// first 64 in a bit set and re-classifies the rest), in order of arrival.
#[test]
fn interpreted_fields_after_the_64th() {
    let limits = flare_h1::Limits::default().max_headers(100);
    let mut head = flare_h1::RequestHead::default();
    let build = |tail: &str| {
        let mut req = String::from("POST / HTTP/1.1\r\n");
        for i in 0..66 {
            req += &format!("x-filler-{i}: {i}\r\n");
        }
        req += tail;
        req += "\r\n";
        req.into_bytes()
    };
    let req = build("Host: example.com\r\nContent-Length: 5\r\nConnection: close\r\n");
    assert!(matches!(
        flare_h1::parse_request(&req, &mut head, &limits),
        Ok(flare_h1::Status::Complete(_))
    ));
    assert_eq!(head.host.map(|s| s.get(&req)), Some(&b"example.com"[..]));
    assert_eq!(head.framing, flare_h1::BodyFraming::Length(5));
    assert!(head.connection_close);

    let req = build("Host: exa mple.com\r\n");
    assert_eq!(
        flare_h1::parse_request(&req, &mut head, &limits),
        Err(flare_h1::Error::InvalidHost)
    );
    let req = build("Host: a\r\nHost: b\r\n");
    assert_eq!(
        flare_h1::parse_request(&req, &mut head, &limits),
        Err(flare_h1::Error::MultipleHost)
    );
    // One Host before the 64th field and one after.
    let mut req = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for i in 0..70 {
        req += &format!("x-filler-{i}: {i}\r\n");
    }
    req += "host: b\r\n\r\n";
    assert_eq!(
        flare_h1::parse_request(req.as_bytes(), &mut head, &limits),
        Err(flare_h1::Error::MultipleHost)
    );
    // Errors keep their order across the boundary: the earlier field wins.
    let mut req = String::from("GET / HTTP/1.1\r\nContent-Length: x\r\n");
    for i in 0..70 {
        req += &format!("x-filler-{i}: {i}\r\n");
    }
    req += "Host: a\r\nHost: b\r\n\r\n";
    assert_eq!(
        flare_h1::parse_request(req.as_bytes(), &mut head, &limits),
        Err(flare_h1::Error::ContentLengthInvalid)
    );
}

/// A Host field on the first field line is recognized from one word (no
/// name scan) and, when its value is plainly `host[:port]`, interpreted
/// without a second pass: every shape of that line still gets the same
/// result as anywhere else.
#[test]
fn host_on_the_first_field_line() {
    let ok = |input: &[u8], limits: &Limits, host: &[u8]| {
        let (r, h) = parse(input, limits);
        assert_eq!(
            r,
            Ok(Status::Complete(input.len())),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(h.host.map(|s| s.get(input)), Some(host));
        assert_eq!(
            h.headers.len(),
            1 + input.windows(2).filter(|w| w == b"\r\n").count() - 3
        );
        check_prefixes(input, limits);
    };
    let err = |input: &[u8], limits: &Limits, e: Error| {
        let (r, _) = parse(input, limits);
        assert_eq!(r, Err(e), "{:?}", String::from_utf8_lossy(input));
    };
    let d = Limits::default();
    ok(b"GET / HTTP/1.1\r\nHost: a.b\r\n\r\n", &d, b"a.b");
    ok(b"GET / HTTP/1.1\r\nhOsT: a.b\r\n\r\n", &d, b"a.b");
    ok(b"GET / HTTP/1.1\r\nHOST:a:1\r\n\r\n", &d, b"a:1");
    ok(b"GET / HTTP/1.1\r\nHost: \t a:1 \t\r\n\r\n", &d, b"a:1");
    ok(b"GET / HTTP/1.1\r\nHost:  a.b\r\n\r\n", &d, b"a.b");
    ok(b"GET / HTTP/1.1\r\nHost:\ta.b\r\n\r\n", &d, b"a.b");
    ok(b"GET / HTTP/1.1\r\nHost: a.b \r\n\r\n", &d, b"a.b");
    ok(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:\r\n\r\n",
        &d,
        b"127.0.0.1:",
    );
    ok(b"GET / HTTP/1.1\r\nHost:\r\n\r\n", &d, b"");
    ok(
        b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        &d,
        b"[::1]:8080",
    );
    ok(
        b"GET / HTTP/1.1\r\nHost: a-very-long-host-name.example.com:65535\r\n\r\n",
        &d,
        b"a-very-long-host-name.example.com:65535",
    );
    ok(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", &d, b"x");
    ok(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n", &d, b"x");
    ok(b"GET / HTTP/1.1\r\nHost: x\r\nHosts: y\r\n\r\n", &d, b"x");
    let (r, h) = parse(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n",
        &d,
    );
    assert!(r.is_ok());
    assert_eq!(h.framing, BodyFraming::Length(3));

    err(
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        &d,
        Error::WhitespaceBeforeColon,
    );
    err(
        b"GET / HTTP/1.1\r\nHosts: a\r\n\r\n",
        &d,
        Error::MissingHost,
    );
    err(
        b"GET / HTTP/1.1\r\nHos\x1a: a\r\n\r\n",
        &d,
        Error::HeaderNameInvalid,
    );
    err(
        b"GET / HTTP/1.1\r\nHost\x1a a\r\n\r\n",
        &d,
        Error::HeaderNameInvalid,
    );
    err(
        b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
        &d,
        Error::MultipleHost,
    );
    err(
        b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nHOST: b\r\n\r\n",
        &d,
        Error::MultipleHost,
    );
    err(
        b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        &d,
        Error::InvalidHost,
    );
    err(
        b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
        &d,
        Error::InvalidHost,
    );
    err(
        b"GET / HTTP/1.1\r\nHost: a:1x\r\n\r\n",
        &d,
        Error::InvalidHost,
    );
    err(b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", &d, Error::BareCr);
    err(b"GET / HTTP/1.1\r\nHost: a\n\r\n", &d, Error::BareLf);
    err(
        b"GET / HTTP/1.1\r\nHost: a\x00\r\n\r\n",
        &d,
        Error::InvalidHeaderValue,
    );
    err(
        b"GET / HTTP/1.1\r\nHost: a\r\n \r\n\r\n",
        &d,
        Error::ObsFold,
    );
    err(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        &Limits::default().max_headers(0),
        Error::TooManyHeaders,
    );
    err(
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        &d,
        Error::ContentLengthWithTransferEncoding,
    );
}

/// Interpreted fields on both sides of the field index from which the parser
/// stops keeping a bit per field (63), with every filler count around it.
#[test]
fn interpreted_fields_around_the_mark_boundary() {
    let limits = Limits::default().max_headers(100);
    let build = |before: &str, fillers: usize, tail: &str| {
        let mut req = String::from("POST / HTTP/1.1\r\n");
        req += before;
        for i in 0..fillers {
            req += &format!("x-f{i}: {i}\r\n");
        }
        req += tail;
        req += "\r\n";
        req.into_bytes()
    };
    for fillers in 58..70 {
        let req = build("", fillers, "Host: a.b\r\nContent-Length: 5\r\n");
        let (r, h) = parse(&req, &limits);
        assert_eq!(r, Ok(Status::Complete(req.len())), "{fillers}");
        assert_eq!(h.host.map(|s| s.get(&req)), Some(&b"a.b"[..]));
        assert_eq!(h.framing, BodyFraming::Length(5));

        let req = build("", fillers, "Host: [::1]:80\r\n");
        let (r, h) = parse(&req, &limits);
        assert_eq!(r, Ok(Status::Complete(req.len())), "{fillers}");
        assert_eq!(h.host.map(|s| s.get(&req)), Some(&b"[::1]:80"[..]));

        let req = build("", fillers, "host: a.b\r\n");
        let (r, h) = parse(&req, &limits);
        assert_eq!(r, Ok(Status::Complete(req.len())), "{fillers}");
        assert_eq!(h.host.map(|s| s.get(&req)), Some(&b"a.b"[..]));
        assert_eq!(h.framing, BodyFraming::None);

        let cases: [(&str, &str, Error); 6] = [
            ("Host: a\r\n", "Host: b\r\n", Error::MultipleHost),
            ("", "Host: a\r\nHost: b\r\n", Error::MultipleHost),
            ("", "Host: a b\r\n", Error::InvalidHost),
            ("", "Host: a\r\nHost: b c\r\n", Error::MultipleHost),
            (
                "Content-Length: x\r\n",
                "Host: a\r\nHost: b\r\n",
                Error::ContentLengthInvalid,
            ),
            (
                "Host: a\r\n",
                "Content-Length: 1\r\nContent-Length: 1\r\n",
                Error::DuplicateContentLength,
            ),
        ];
        for (before, tail, e) in cases {
            let req = build(before, fillers, tail);
            assert_eq!(parse(&req, &limits).0, Err(e), "{fillers} {tail:?}");
        }
        let req = build("", fillers, "Content-Length: 1\r\n");
        assert_eq!(parse(&req, &limits).0, Err(Error::MissingHost), "{fillers}");
    }
}
