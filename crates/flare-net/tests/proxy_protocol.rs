//! PROXY protocol parser: the spec's example lines, a table per rule, every
//! truncation, the limits, and a randomized encode/parse round trip fed in
//! random splits.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use flare_net::proxy_protocol::{
    is_possible_prefix, parse, Addresses, Command, Header, Limits, ProxyError, Status, Tlv,
    Version, PP2_CLIENT_CERT_CONN, PP2_CLIENT_SSL, PP2_SUBTYPE_SSL_CIPHER, PP2_SUBTYPE_SSL_CN,
    PP2_SUBTYPE_SSL_VERSION, PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_CRC32C, PP2_TYPE_NOOP,
    PP2_TYPE_SSL, PP2_TYPE_UNIQUE_ID, V1_MAX_LEN, V2_SIGNATURE,
};

fn limits() -> Limits {
    Limits::default()
}

/// Parses `buf` whole and expects a complete header.
fn complete(buf: &[u8]) -> Header {
    match parse(buf, &limits()) {
        Ok(Status::Complete(h)) => h,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
    }
}

/// Every strict prefix of a valid header is `Partial`.
fn assert_every_prefix_partial(buf: &[u8], limits: &Limits) {
    for n in 0..buf.len() {
        assert_eq!(
            parse(&buf[..n], limits),
            Ok(Status::Partial),
            "prefix of {n} bytes of {buf:?}"
        );
        assert!(is_possible_prefix(&buf[..n]));
    }
}

// ---------------------------------------------------------------------------
// A small encoder, written from the spec, for the tests only.

/// CRC32c bit by bit (RFC 4960 appendix B's polynomial, reflected), apart from
/// the parser's table so the two check each other.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn encode_v1(addresses: &Addresses) -> Vec<u8> {
    match addresses {
        Addresses::Tcp4 { src, dst } => format!(
            "PROXY TCP4 {} {} {} {}\r\n",
            src.ip(),
            dst.ip(),
            src.port(),
            dst.port()
        ),
        Addresses::Tcp6 { src, dst } => format!(
            "PROXY TCP6 {} {} {} {}\r\n",
            src.ip(),
            dst.ip(),
            src.port(),
            dst.port()
        ),
        _ => "PROXY UNKNOWN\r\n".to_string(),
    }
    .into_bytes()
}

/// The family byte and address block for `addresses`.
fn v2_addresses(addresses: &Addresses) -> (u8, Vec<u8>) {
    let mut a = Vec::new();
    let fam = match addresses {
        Addresses::Unknown => 0x00,
        Addresses::Tcp4 { src, dst } | Addresses::Udp4 { src, dst } => {
            a.extend(src.ip().octets());
            a.extend(dst.ip().octets());
            a.extend(src.port().to_be_bytes());
            a.extend(dst.port().to_be_bytes());
            if matches!(addresses, Addresses::Tcp4 { .. }) {
                0x11
            } else {
                0x12
            }
        }
        Addresses::Tcp6 { src, dst } | Addresses::Udp6 { src, dst } => {
            a.extend(src.ip().octets());
            a.extend(dst.ip().octets());
            a.extend(src.port().to_be_bytes());
            a.extend(dst.port().to_be_bytes());
            if matches!(addresses, Addresses::Tcp6 { .. }) {
                0x21
            } else {
                0x22
            }
        }
        Addresses::Unix { src, dst } | Addresses::UnixDgram { src, dst } => {
            a.extend(src);
            a.extend(dst);
            if matches!(addresses, Addresses::Unix { .. }) {
                0x31
            } else {
                0x32
            }
        }
    };
    (fam, a)
}

fn tlv_bytes(kind: u8, value: &[u8]) -> Vec<u8> {
    let mut t = vec![kind];
    t.extend((value.len() as u16).to_be_bytes());
    t.extend(value);
    t
}

/// A v2 header from raw parts; `crc` appends a CRC32c TLV and fills it in.
fn encode_v2_raw(ver_cmd: u8, fam: u8, block: &[u8], crc: bool) -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.push(ver_cmd);
    h.push(fam);
    let len = block.len() + if crc { 7 } else { 0 };
    h.extend((len as u16).to_be_bytes());
    h.extend(block);
    if crc {
        h.extend(tlv_bytes(PP2_TYPE_CRC32C, &[0; 4]));
        let sum = crc32c(&h);
        let at = h.len() - 4;
        h[at..].copy_from_slice(&sum.to_be_bytes());
    }
    h
}

fn encode_v2(command: Command, addresses: &Addresses, tlvs: &[Tlv], crc: bool) -> Vec<u8> {
    let (fam, mut block) = v2_addresses(addresses);
    for t in tlvs {
        block.extend(tlv_bytes(t.kind, &t.value));
    }
    let cmd = match command {
        Command::Local => 0x20,
        Command::Proxy => 0x21,
    };
    encode_v2_raw(cmd, fam, &block, crc)
}

fn v4(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

fn v6(s: &str) -> SocketAddrV6 {
    s.parse().unwrap()
}

fn tcp4(src: &str, dst: &str) -> Addresses {
    Addresses::Tcp4 {
        src: v4(src),
        dst: v4(dst),
    }
}

fn tcp6(src: &str, dst: &str) -> Addresses {
    Addresses::Tcp6 {
        src: v6(src),
        dst: v6(dst),
    }
}

// ---------------------------------------------------------------------------
// The spec's examples (section 2.1).

#[test]
fn spec_example_line_before_http() {
    let buf = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n";
    let h = complete(buf);
    assert_eq!(h.version, Version::V1);
    assert_eq!(h.command, Command::Proxy);
    assert_eq!(h.addresses, tcp4("192.168.0.1:56324", "192.168.0.11:443"));
    assert_eq!(h.source(), Some("192.168.0.1:56324".parse().unwrap()));
    assert_eq!(h.destination(), Some("192.168.0.11:443".parse().unwrap()));
    assert!(h.tlvs.is_empty());
    assert_eq!(
        &buf[h.len..],
        b"GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n"
    );
}

#[test]
fn spec_maximum_lines() {
    let longest_v6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let cases: [(String, usize); 4] = [
        (
            "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n".into(),
            56,
        ),
        (
            format!("PROXY TCP6 {longest_v6} {longest_v6} 65535 65535\r\n"),
            104,
        ),
        ("PROXY UNKNOWN\r\n".into(), 15),
        (
            format!("PROXY UNKNOWN {longest_v6} {longest_v6} 65535 65535\r\n"),
            107,
        ),
    ];
    for (line, len) in cases {
        assert_eq!(line.len(), len);
        let h = complete(line.as_bytes());
        assert_eq!(h.len, len);
        assert_every_prefix_partial(line.as_bytes(), &limits());
    }
}

// ---------------------------------------------------------------------------
// Version 1.

macro_rules! v1_ok {
    ($($name:ident: $line:expr => $addresses:expr;)*) => {$(
        #[test]
        fn $name() {
            let line: &[u8] = $line;
            let mut buf = line.to_vec();
            buf.extend(b"\x16\x03\x01 data after the header");
            let h = complete(&buf);
            assert_eq!(h.version, Version::V1);
            assert_eq!(h.command, Command::Proxy);
            assert_eq!(h.addresses, $addresses);
            assert_eq!(h.len, line.len());
            assert_every_prefix_partial(line, &limits());
        }
    )*};
}

v1_ok! {
    v1_tcp4: b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n" => tcp4("1.2.3.4:1", "5.6.7.8:2");
    v1_tcp4_zeros: b"PROXY TCP4 0.0.0.0 10.0.0.1 0 0\r\n" => tcp4("0.0.0.0:0", "10.0.0.1:0");
    v1_tcp6: b"PROXY TCP6 2001:db8::1 2001:db8::2 443 8443\r\n"
        => tcp6("[2001:db8::1]:443", "[2001:db8::2]:8443");
    v1_tcp6_full_upper: b"PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0001 ::1 1 65535\r\n"
        => tcp6("[2001:db8::1]:1", "[::1]:65535");
    v1_tcp6_mapped: b"PROXY TCP6 ::ffff:192.0.2.1 :: 80 81\r\n"
        => tcp6("[::ffff:192.0.2.1]:80", "[::]:81");
    v1_unknown_short: b"PROXY UNKNOWN\r\n" => Addresses::Unknown;
    v1_unknown_with_addresses: b"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n" => Addresses::Unknown;
    v1_unknown_with_anything: b"PROXY UNKNOWN whatever \x01\xff  goes\r\n" => Addresses::Unknown;
}

macro_rules! v1_err {
    ($($name:ident: $line:expr => $err:pat,)*) => {$(
        #[test]
        fn $name() {
            let line: &[u8] = $line;
            let r = parse(line, &limits());
            assert!(matches!(r, Err($err)), "{:?}: {r:?}", String::from_utf8_lossy(line));
        }
    )*};
}

v1_err! {
    v1_lowercase_proxy: b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n" => ProxyError::NotProxy,
    v1_no_space: b"PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n" => ProxyError::NotProxy,
    v1_two_spaces_after_proxy: b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n" => ProxyError::BadV1(_),
    v1_unknown_protocol: b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n" => ProxyError::BadV1(_),
    v1_lowercase_protocol: b"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n" => ProxyError::BadV1(_),
    v1_unknownx: b"PROXY UNKNOWNX\r\n" => ProxyError::BadV1(_),
    v1_empty_protocol: b"PROXY \r\n" => ProxyError::BadV1(_),
    v1_tcp4_no_addresses: b"PROXY TCP4\r\n" => ProxyError::BadV1(_),
    v1_tcp4_space_only: b"PROXY TCP4 \r\n" => ProxyError::BadV1(_),
    v1_tcp4_three_fields: b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n" => ProxyError::BadV1(_),
    v1_tcp4_five_fields: b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n" => ProxyError::BadV1(_),
    v1_tcp4_trailing_space: b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n" => ProxyError::BadV1(_),
    v1_tcp4_double_space: b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp4_tab: b"PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp4_leading_zero_octet: b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp4_octet_256: b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp4_three_octets: b"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp4_five_octets: b"PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp4_empty_octet: b"PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp4_sign: b"PROXY TCP4 +1.2.3.4 5.6.7.8 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp4_hex_octet: b"PROXY TCP4 0x1.2.3.4 5.6.7.8 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp4_with_ipv6: b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp6_with_ipv4: b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp6_two_double_colons: b"PROXY TCP6 1::2::3 ::1 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp6_five_digit_group: b"PROXY TCP6 12345::1 ::1 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp6_zone: b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp6_brackets: b"PROXY TCP6 [::1] ::1 1 2\r\n" => ProxyError::BadV1(_),
    v1_tcp6_too_few_groups: b"PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n" => ProxyError::BadV1(_),
    v1_port_leading_zero: b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n" => ProxyError::BadV1(_),
    v1_port_00: b"PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n" => ProxyError::BadV1(_),
    v1_port_65536: b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n" => ProxyError::BadV1(_),
    v1_port_six_digits: b"PROXY TCP4 1.2.3.4 5.6.7.8 100000 2\r\n" => ProxyError::BadV1(_),
    v1_port_negative: b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n" => ProxyError::BadV1(_),
    v1_port_letters: b"PROXY TCP4 1.2.3.4 5.6.7.8 http 2\r\n" => ProxyError::BadV1(_),
    v1_bare_lf: b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n" => ProxyError::BadV1(_),
    v1_bare_cr: b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX" => ProxyError::BadV1(_),
    v1_unknown_bare_lf: b"PROXY UNKNOWN foo\nbar\r\n" => ProxyError::BadV1(_),
    v1_unknown_bare_cr: b"PROXY UNKNOWN foo\rbar\r\n" => ProxyError::BadV1(_),
}

#[test]
fn v1_early_rejection_of_a_wrong_protocol() {
    // No CRLF yet, but "UDP" can never become TCP4, TCP6 or UNKNOWN.
    assert!(matches!(
        parse(b"PROXY UDP", &limits()),
        Err(ProxyError::BadV1(_))
    ));
    assert_eq!(parse(b"PROXY UNK", &limits()), Ok(Status::Partial));
    assert_eq!(parse(b"PROXY TCP6 ::1", &limits()), Ok(Status::Partial));
}

#[test]
fn v1_too_long() {
    // 107 bytes without CRLF: invalid even though more might come.
    let mut line = b"PROXY UNKNOWN ".to_vec();
    line.resize(V1_MAX_LEN, b'x');
    assert_eq!(
        parse(&line[..V1_MAX_LEN - 1], &limits()),
        Ok(Status::Partial)
    );
    assert_eq!(parse(&line, &limits()), Err(ProxyError::TooLong));
    line.extend(b"\r\n");
    assert_eq!(parse(&line, &limits()), Err(ProxyError::TooLong));

    // A CR as the 107th byte: the LF would be the 108th.
    let mut line = b"PROXY UNKNOWN ".to_vec();
    line.resize(V1_MAX_LEN - 1, b'x');
    line.push(b'\r');
    assert_eq!(parse(&line, &limits()), Err(ProxyError::TooLong));

    // Exactly 107 with its CRLF is fine.
    let mut line = b"PROXY UNKNOWN ".to_vec();
    line.resize(V1_MAX_LEN - 2, b'x');
    line.extend(b"\r\n");
    assert_eq!(complete(&line).len, V1_MAX_LEN);
}

// ---------------------------------------------------------------------------
// Version 2.

fn unix_path(p: &[u8]) -> [u8; 108] {
    let mut a = [0; 108];
    a[..p.len()].copy_from_slice(p);
    a
}

#[test]
fn v2_each_family() {
    let families = [
        Addresses::Unknown,
        tcp4("192.0.2.1:56324", "198.51.100.7:443"),
        Addresses::Udp4 {
            src: v4("10.0.0.1:53"),
            dst: v4("10.0.0.2:5353"),
        },
        tcp6("[2001:db8::1]:1", "[2001:db8::ffff]:65535"),
        Addresses::Udp6 {
            src: v6("[::1]:0"),
            dst: v6("[fe80::1]:9"),
        },
        Addresses::Unix {
            src: unix_path(b"/run/client.sock"),
            dst: unix_path(b"\0abstract"),
        },
        Addresses::UnixDgram {
            src: unix_path(b"/a"),
            dst: unix_path(&[b'z'; 108]),
        },
    ];
    for addresses in families {
        let buf = encode_v2(Command::Proxy, &addresses, &[], false);
        let h = complete(&buf);
        assert_eq!(h.version, Version::V2);
        assert_eq!(h.command, Command::Proxy);
        assert_eq!(h.addresses, addresses);
        assert_eq!(h.len, buf.len());
        assert!(h.tlvs.is_empty());
        let expected_source: Option<SocketAddr> = match &addresses {
            Addresses::Tcp4 { src, .. } | Addresses::Udp4 { src, .. } => Some((*src).into()),
            Addresses::Tcp6 { src, .. } | Addresses::Udp6 { src, .. } => Some((*src).into()),
            _ => None,
        };
        assert_eq!(h.source(), expected_source);
        assert_every_prefix_partial(&buf, &limits());
    }
}

#[test]
fn v2_hand_written_tcp4() {
    // Written out byte by byte from section 2.2, not by the encoder.
    let buf: &[u8] = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\
        \xc0\x00\x02\x01\xc6\x33\x64\x07\xdc\x04\x01\xbbGET /";
    let h = complete(buf);
    assert_eq!(h.addresses, tcp4("192.0.2.1:56324", "198.51.100.7:443"));
    assert_eq!(h.len, 28);
    assert_eq!(&buf[28..], b"GET /");
}

#[test]
fn v2_local_ignores_addresses() {
    // HAProxy's health check: LOCAL, AF_UNSPEC, no addresses.
    let buf = encode_v2_raw(0x20, 0x00, &[], false);
    let h = complete(&buf);
    assert_eq!(h.command, Command::Local);
    assert_eq!(h.addresses, Addresses::Unknown);
    assert_eq!(h.source(), None);
    assert_eq!(h.len, 16);

    // LOCAL with addresses: "the receiver ... must use the real connection
    // endpoints and discard the protocol block".
    let buf = encode_v2(
        Command::Local,
        &tcp4("1.2.3.4:1", "5.6.7.8:2"),
        &[Tlv {
            kind: PP2_TYPE_AUTHORITY,
            value: b"example.com".to_vec(),
        }],
        true,
    );
    let h = complete(&buf);
    assert_eq!(h.addresses, Addresses::Unknown);
    assert_eq!(h.source(), None);
    assert_eq!(h.authority(), Some(&b"example.com"[..]));
    assert!(h.crc32c().is_some());

    // LOCAL with a family but a block too short for its addresses: skipped.
    let buf = encode_v2_raw(0x20, 0x21, &[1, 2, 3], false);
    let h = complete(&buf);
    assert_eq!(h.addresses, Addresses::Unknown);
    assert!(h.tlvs.is_empty());
    assert_eq!(h.len, 19);
}

#[test]
fn v2_unspec_proxy_carries_tlvs() {
    let buf = encode_v2_raw(0x21, 0x00, &tlv_bytes(PP2_TYPE_ALPN, b"h2"), false);
    let h = complete(&buf);
    assert_eq!(h.command, Command::Proxy);
    assert_eq!(h.addresses, Addresses::Unknown);
    assert_eq!(h.source(), None);
    assert_eq!(h.alpn(), Some(&b"h2"[..]));
}

#[test]
fn v2_tlvs() {
    let addresses = tcp6("[2001:db8::1]:1234", "[2001:db8::2]:443");
    let tlvs = [
        Tlv {
            kind: PP2_TYPE_ALPN,
            value: b"h2".to_vec(),
        },
        Tlv {
            kind: PP2_TYPE_AUTHORITY,
            value: b"example.com".to_vec(),
        },
        Tlv {
            kind: PP2_TYPE_UNIQUE_ID,
            value: vec![7; 128],
        },
        Tlv {
            kind: 0xE3, // application-specific: kept
            value: b"custom".to_vec(),
        },
        Tlv {
            kind: 0x99, // unregistered: kept
            value: Vec::new(),
        },
    ];
    let mut block = v2_addresses(&addresses).1;
    block.extend(tlv_bytes(PP2_TYPE_NOOP, &[0; 5]));
    for t in &tlvs {
        block.extend(tlv_bytes(t.kind, &t.value));
    }
    let buf = encode_v2_raw(0x21, 0x21, &block, false);
    let h = complete(&buf);
    assert_eq!(h.addresses, addresses);
    assert_eq!(h.tlvs, tlvs, "NOOP left out, the rest in order");
    assert_eq!(h.alpn(), Some(&b"h2"[..]));
    assert_eq!(h.authority(), Some(&b"example.com"[..]));
    assert_eq!(h.unique_id(), Some(&[7; 128][..]));
    assert_eq!(h.tlv(0xE3), Some(&b"custom"[..]));
    assert_eq!(h.tlv(0x99), Some(&b""[..]));
    assert_eq!(h.tlv(PP2_TYPE_NOOP), None);
    assert_eq!(h.ssl(), None);
    assert_eq!(h.crc32c(), None);
    assert_every_prefix_partial(&buf, &limits());
}

fn ssl_value(client: u8, verify: u32, subs: &[(u8, &[u8])]) -> Vec<u8> {
    let mut v = vec![client];
    v.extend(verify.to_be_bytes());
    for (k, s) in subs {
        v.extend(tlv_bytes(*k, s));
    }
    v
}

#[test]
fn v2_ssl_with_cn() {
    let value = ssl_value(
        PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN,
        0,
        &[
            (PP2_SUBTYPE_SSL_VERSION, b"TLSv1.3"),
            (PP2_SUBTYPE_SSL_CN, b"client.example.com"),
            (PP2_SUBTYPE_SSL_CIPHER, b"TLS_AES_128_GCM_SHA256"),
            (0x2F, b"unknown sub-TLV"),
        ],
    );
    let buf = encode_v2(
        Command::Proxy,
        &tcp4("1.2.3.4:5", "6.7.8.9:443"),
        &[Tlv {
            kind: PP2_TYPE_SSL,
            value,
        }],
        true,
    );
    let h = complete(&buf);
    let ssl = h.ssl().expect("SSL TLV");
    assert!(ssl.is_tls());
    assert!(ssl.cert_on_connection());
    assert!(!ssl.cert_in_session());
    assert!(ssl.cert_verified());
    assert_eq!(ssl.verify, 0);
    assert_eq!(ssl.version(), Some(&b"TLSv1.3"[..]));
    assert_eq!(ssl.cn(), Some(&b"client.example.com"[..]));
    assert_eq!(ssl.cipher(), Some(&b"TLS_AES_128_GCM_SHA256"[..]));
    assert_eq!(ssl.sig_alg(), None);
    assert_eq!(ssl.key_alg(), None);
    assert_eq!(ssl.sub_tlv(0x2F), Some(&b"unknown sub-TLV"[..]));
    assert_eq!(ssl.sub_tlvs().count(), 4);

    // TLS without a client certificate, verify non-zero.
    let value = ssl_value(PP2_CLIENT_SSL, 1, &[(PP2_SUBTYPE_SSL_VERSION, b"TLSv1.2")]);
    let buf = encode_v2(
        Command::Proxy,
        &tcp4("1.2.3.4:5", "6.7.8.9:443"),
        &[Tlv {
            kind: PP2_TYPE_SSL,
            value,
        }],
        false,
    );
    let h = complete(&buf);
    let ssl = h.ssl().unwrap();
    assert!(ssl.is_tls() && !ssl.cert_verified());
    assert_eq!(ssl.cn(), None);
}

#[test]
fn v2_crc32c() {
    let addresses = tcp4("10.1.2.3:40000", "10.3.2.1:80");
    let tlvs = [Tlv {
        kind: PP2_TYPE_AUTHORITY,
        value: b"a.example".to_vec(),
    }];
    let buf = encode_v2(Command::Proxy, &addresses, &tlvs, true);
    let h = complete(&buf);
    let sum = u32::from_be_bytes(buf[buf.len() - 4..].try_into().unwrap());
    assert_eq!(h.crc32c(), Some(sum));
    assert_every_prefix_partial(&buf, &limits());

    // A wrong checksum, and a right checksum over a changed header.
    let mut wrong = buf.clone();
    let last = wrong.len() - 1;
    wrong[last] ^= 1;
    assert!(matches!(
        parse(&wrong, &limits()),
        Err(ProxyError::Crc32cMismatch { received, computed }) if received == sum ^ 1 && computed == sum
    ));
    let mut changed = buf.clone();
    changed[17] ^= 0x80; // the source address
    assert!(matches!(
        parse(&changed, &limits()),
        Err(ProxyError::Crc32cMismatch { .. })
    ));

    // CRC32C not first or last among the TLVs.
    let mut block = v2_addresses(&addresses).1;
    block.extend(tlv_bytes(PP2_TYPE_ALPN, b"http/1.1"));
    let crc_at = 16 + block.len() + 3;
    block.extend(tlv_bytes(PP2_TYPE_CRC32C, &[0; 4]));
    block.extend(tlv_bytes(PP2_TYPE_UNIQUE_ID, b"id"));
    let mut buf = encode_v2_raw(0x21, 0x11, &block, false);
    let sum = crc32c(&buf);
    buf[crc_at..crc_at + 4].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(complete(&buf).crc32c(), Some(sum));
}

macro_rules! v2_err {
    ($($name:ident: $buf:expr => $err:pat,)*) => {$(
        #[test]
        fn $name() {
            let buf: Vec<u8> = $buf;
            let r = parse(&buf, &limits());
            assert!(matches!(r, Err($err)), "{buf:?}: {r:?}");
        }
    )*};
}

fn tcp4_block() -> Vec<u8> {
    v2_addresses(&tcp4("1.2.3.4:1", "5.6.7.8:2")).1
}

fn with(mut block: Vec<u8>, tail: &[u8]) -> Vec<u8> {
    block.extend(tail);
    block
}

v2_err! {
    v2_version_1: encode_v2_raw(0x11, 0x11, &tcp4_block(), false) => ProxyError::UnsupportedVersion(1),
    v2_version_3: encode_v2_raw(0x31, 0x11, &tcp4_block(), false) => ProxyError::UnsupportedVersion(3),
    v2_version_0_early: with(V2_SIGNATURE.to_vec(), &[0x01]) => ProxyError::UnsupportedVersion(0),
    v2_command_2: encode_v2_raw(0x22, 0x11, &tcp4_block(), false) => ProxyError::BadV2(_),
    v2_command_f_early: with(V2_SIGNATURE.to_vec(), &[0x2F]) => ProxyError::BadV2(_),
    v2_family_4: encode_v2_raw(0x21, 0x41, &tcp4_block(), false) => ProxyError::BadV2(_),
    v2_protocol_3: encode_v2_raw(0x21, 0x13, &tcp4_block(), false) => ProxyError::BadV2(_),
    v2_inet_unspec_protocol: encode_v2_raw(0x21, 0x10, &tcp4_block(), false) => ProxyError::BadV2(_),
    v2_family_early: with(V2_SIGNATURE.to_vec(), &[0x21, 0x51]) => ProxyError::BadV2(_),
    v2_tcp4_short: encode_v2_raw(0x21, 0x11, &[0; 11], false) => ProxyError::BadV2(_),
    v2_tcp6_short: encode_v2_raw(0x21, 0x21, &[0; 35], false) => ProxyError::BadV2(_),
    v2_unix_short: encode_v2_raw(0x21, 0x31, &[0; 215], false) => ProxyError::BadV2(_),
    v2_tcp6_with_tcp4_block: encode_v2_raw(0x21, 0x21, &tcp4_block(), false) => ProxyError::BadV2(_),
    v2_truncated_tlv_header: encode_v2_raw(0x21, 0x11, &with(tcp4_block(), &[0x01, 0x00]), false)
        => ProxyError::BadV2(_),
    v2_tlv_past_the_header: encode_v2_raw(0x21, 0x11, &with(tcp4_block(), &[0x01, 0x00, 0x03, b'h', b'2']), false)
        => ProxyError::BadV2(_),
    v2_crc_not_4_bytes: encode_v2_raw(0x21, 0x11, &with(tcp4_block(), &tlv_bytes(PP2_TYPE_CRC32C, &[0; 3])), false)
        => ProxyError::BadV2(_),
    v2_two_crcs: {
        let mut block = tcp4_block();
        block.extend(tlv_bytes(PP2_TYPE_CRC32C, &[0; 4]));
        encode_v2_raw(0x21, 0x11, &block, true)
    } => ProxyError::BadV2(_),
    v2_unique_id_129: encode_v2_raw(0x21, 0x11, &with(tcp4_block(), &tlv_bytes(PP2_TYPE_UNIQUE_ID, &[1; 129])), false)
        => ProxyError::BadV2(_),
    v2_ssl_too_short: encode_v2_raw(0x21, 0x11, &with(tcp4_block(), &tlv_bytes(PP2_TYPE_SSL, &[1, 0, 0, 0])), false)
        => ProxyError::BadV2(_),
    v2_ssl_sub_tlv_overrun: {
        let mut value = ssl_value(PP2_CLIENT_SSL, 0, &[]);
        value.extend([PP2_SUBTYPE_SSL_CN, 0, 10, b'a']);
        encode_v2_raw(0x21, 0x11, &with(tcp4_block(), &tlv_bytes(PP2_TYPE_SSL, &value)), false)
    } => ProxyError::BadV2(_),
    v2_ssl_sub_tlv_truncated_header: {
        let mut value = ssl_value(PP2_CLIENT_SSL, 0, &[(PP2_SUBTYPE_SSL_CN, b"cn")]);
        value.extend([PP2_SUBTYPE_SSL_VERSION, 0]);
        encode_v2_raw(0x21, 0x11, &with(tcp4_block(), &tlv_bytes(PP2_TYPE_SSL, &value)), false)
    } => ProxyError::BadV2(_),
}

#[test]
fn v2_limits() {
    // Announced length over max_v2_len: rejected from the 16 fixed bytes.
    let block = with(tcp4_block(), &tlv_bytes(0xE0, &[0; 1024 - 12 - 3 + 1]));
    let buf = encode_v2_raw(0x21, 0x11, &block, false);
    assert_eq!(buf.len(), 16 + 1025);
    assert_eq!(parse(&buf[..16], &limits()), Err(ProxyError::TooLong));
    assert_eq!(parse(&buf, &limits()), Err(ProxyError::TooLong));
    // One byte less fits the default.
    let block = with(tcp4_block(), &tlv_bytes(0xE0, &[0; 1024 - 12 - 3]));
    let buf = encode_v2_raw(0x21, 0x11, &block, false);
    assert_eq!(complete(&buf).len, 16 + 1024);
    // The spec's 64 KiB, when allowed.
    let block = with(tcp4_block(), &tlv_bytes(0xE0, &[0; 65535 - 12 - 3]));
    let buf = encode_v2_raw(0x21, 0x11, &block, false);
    let big = Limits::default().max_v2_len(65535);
    assert_eq!(big.get_max_v2_len(), 65535);
    assert!(matches!(parse(&buf, &big), Ok(Status::Complete(h)) if h.len == 16 + 65535));
    let small = Limits::default().max_v2_len(11);
    assert_eq!(
        parse(&encode_v2_raw(0x21, 0x11, &tcp4_block(), false), &small),
        Err(ProxyError::TooLong)
    );

    // max_tlvs, NOOPs counted.
    let mut block = tcp4_block();
    for _ in 0..32 {
        block.extend(tlv_bytes(PP2_TYPE_NOOP, &[]));
    }
    let buf = encode_v2_raw(0x21, 0x11, &block, false);
    assert!(complete(&buf).tlvs.is_empty());
    let buf = encode_v2_raw(
        0x21,
        0x11,
        &with(block, &tlv_bytes(PP2_TYPE_NOOP, &[])),
        false,
    );
    assert_eq!(parse(&buf, &limits()), Err(ProxyError::TooManyTlvs));
    let two = Limits::default().max_tlvs(2);
    assert_eq!(two.get_max_tlvs(), 2);
    let block = with(
        tcp4_block(),
        &[tlv_bytes(1, b"a"), tlv_bytes(2, b"b")].concat(),
    );
    let buf = encode_v2_raw(0x21, 0x11, &block, false);
    assert!(matches!(parse(&buf, &two), Ok(Status::Complete(_))));
    let buf = encode_v2_raw(0x21, 0x11, &with(block, &tlv_bytes(5, b"c")), false);
    assert_eq!(parse(&buf, &two), Err(ProxyError::TooManyTlvs));
}

// ---------------------------------------------------------------------------
// Signatures.

#[test]
fn not_proxy_at_once() {
    for buf in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"\x16\x03\x01\x02\x00",
        b"PRI * HTTP/2.0",
        b"G",
        b"\r\n\r\n\0\r\nQUIX",
        b"\r\r",
        b"PROXZ",
        b"\0",
    ] {
        assert_eq!(parse(buf, &limits()), Err(ProxyError::NotProxy), "{buf:?}");
        assert!(!is_possible_prefix(buf), "{buf:?}");
    }
    assert_eq!(parse(b"", &limits()), Ok(Status::Partial));
    assert!(is_possible_prefix(b""));
    assert!(is_possible_prefix(b"\r"));
    assert!(is_possible_prefix(b"\r\n\r\n\0\r\nQU"));
    assert!(is_possible_prefix(b"PROX"));
    assert!(is_possible_prefix(b"PROXY TCP4"));
    // Past the signature, is_possible_prefix says nothing more.
    assert!(is_possible_prefix(b"PROXY GARBAGE"));
}

#[test]
fn errors_display() {
    let errors = [
        ProxyError::NotProxy,
        ProxyError::BadV1("x"),
        ProxyError::BadV2("y"),
        ProxyError::TooLong,
        ProxyError::UnsupportedVersion(3),
        ProxyError::TooManyTlvs,
        ProxyError::Crc32cMismatch {
            received: 1,
            computed: 2,
        },
    ];
    for e in errors {
        assert!(!e.to_string().is_empty());
        let _: &dyn std::error::Error = &e;
    }
}

// ---------------------------------------------------------------------------
// Randomized round trip (a seeded xorshift: flare-net has no proptest).

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn ipv4(&mut self) -> Ipv4Addr {
        Ipv4Addr::from(self.next() as u32)
    }
    fn ipv6(&mut self) -> Ipv6Addr {
        // Runs of zero groups, so `::` compression shows up.
        let mut g = [0u16; 8];
        for x in &mut g {
            if self.below(3) != 0 {
                *x = self.next() as u16;
            }
        }
        Ipv6Addr::from(g)
    }
    fn port(&mut self) -> u16 {
        match self.below(4) {
            0 => 0,
            1 => 65535,
            _ => self.next() as u16,
        }
    }
    fn unix(&mut self) -> [u8; 108] {
        let n = self.below(109);
        unix_path(&self.bytes(n))
    }
}

fn random_addresses(rng: &mut Rng, v1: bool) -> Addresses {
    let kinds = if v1 { 3 } else { 7 };
    match rng.below(kinds) {
        0 => Addresses::Unknown,
        1 => Addresses::Tcp4 {
            src: SocketAddrV4::new(rng.ipv4(), rng.port()),
            dst: SocketAddrV4::new(rng.ipv4(), rng.port()),
        },
        2 => Addresses::Tcp6 {
            src: SocketAddrV6::new(rng.ipv6(), rng.port(), 0, 0),
            dst: SocketAddrV6::new(rng.ipv6(), rng.port(), 0, 0),
        },
        3 => Addresses::Udp4 {
            src: SocketAddrV4::new(rng.ipv4(), rng.port()),
            dst: SocketAddrV4::new(rng.ipv4(), rng.port()),
        },
        4 => Addresses::Udp6 {
            src: SocketAddrV6::new(rng.ipv6(), rng.port(), 0, 0),
            dst: SocketAddrV6::new(rng.ipv6(), rng.port(), 0, 0),
        },
        5 => Addresses::Unix {
            src: rng.unix(),
            dst: rng.unix(),
        },
        _ => Addresses::UnixDgram {
            src: rng.unix(),
            dst: rng.unix(),
        },
    }
}

fn random_tlvs(rng: &mut Rng) -> Vec<Tlv> {
    let mut budget = 1024 - 216 - 7;
    let mut tlvs = Vec::new();
    for _ in 0..rng.below(8) {
        let kind = match rng.below(6) {
            0 => PP2_TYPE_ALPN,
            1 => PP2_TYPE_AUTHORITY,
            2 => PP2_TYPE_UNIQUE_ID,
            3 => PP2_TYPE_SSL,
            _ => loop {
                let k = rng.next() as u8;
                if ![
                    PP2_TYPE_CRC32C,
                    PP2_TYPE_NOOP,
                    PP2_TYPE_SSL,
                    PP2_TYPE_UNIQUE_ID,
                ]
                .contains(&k)
                {
                    break k;
                }
            },
        };
        let value = if kind == PP2_TYPE_SSL {
            let n = rng.below(40);
            let cn = rng.bytes(n);
            let n = rng.below(10);
            let version = rng.bytes(n);
            ssl_value(
                rng.next() as u8 & 7,
                rng.next() as u32,
                &[
                    (PP2_SUBTYPE_SSL_VERSION, &version),
                    (PP2_SUBTYPE_SSL_CN, &cn),
                ],
            )
        } else {
            let n = rng.below(if kind == PP2_TYPE_UNIQUE_ID { 129 } else { 60 });
            rng.bytes(n)
        };
        if value.len() + 3 > budget {
            break;
        }
        budget -= value.len() + 3;
        tlvs.push(Tlv { kind, value });
    }
    tlvs
}

/// Feeds `wire` in random growing prefixes, as reads would deliver it:
/// `Partial` until the whole header is in, then the same header whatever
/// follows.
fn feed(rng: &mut Rng, wire: &[u8], header_len: usize) -> Header {
    let mut have = 0;
    loop {
        have = (have + 1 + rng.below(40)).min(wire.len());
        match parse(&wire[..have], &limits()) {
            Ok(Status::Partial) => assert!(have < header_len, "Partial with the whole header"),
            Ok(Status::Complete(h)) => {
                assert!(have >= header_len);
                assert_eq!(h.len, header_len);
                return h;
            }
            Err(e) => panic!("{e:?} at {have} of {wire:?}"),
        }
    }
}

#[test]
fn round_trip_random() {
    for seed in 1..=3000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let v1 = rng.below(2) == 0;
        let addresses = random_addresses(&mut rng, v1);
        let (mut wire, expected) = if v1 {
            let wire = encode_v1(&addresses);
            let expected = Header {
                version: Version::V1,
                command: Command::Proxy,
                addresses,
                tlvs: Vec::new(),
                len: wire.len(),
            };
            (wire, expected)
        } else {
            let command = if rng.below(5) == 0 {
                Command::Local
            } else {
                Command::Proxy
            };
            let tlvs = random_tlvs(&mut rng);
            let crc = rng.below(2) == 0;
            let wire = encode_v2(command, &addresses, &tlvs, crc);
            let mut tlvs = tlvs;
            if crc {
                let at = wire.len() - 4;
                tlvs.push(Tlv {
                    kind: PP2_TYPE_CRC32C,
                    value: wire[at..].to_vec(),
                });
            }
            let expected = Header {
                version: Version::V2,
                command,
                addresses: match command {
                    Command::Local => Addresses::Unknown,
                    Command::Proxy => addresses,
                },
                tlvs,
                len: wire.len(),
            };
            (wire, expected)
        };
        let header_len = wire.len();
        let after = rng.below(30);
        wire.extend(rng.bytes(after));
        let got = feed(&mut rng, &wire, header_len);
        assert_eq!(got, expected, "seed {seed}");
        if expected.version == Version::V2 && expected.command == Command::Proxy {
            for t in &expected.tlvs {
                assert!(got.tlv(t.kind).is_some());
            }
        }
    }
}
