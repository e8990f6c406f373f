//! The opening handshake: every rejection, both roles, RFC 8441.
// Without `deflate`, the tests that assert what is negotiated are left out and
// some helpers go unused.
#![cfg_attr(not(feature = "deflate"), allow(unused_imports, dead_code))]

use flare_ws::deflate::DeflateConfig;
use flare_ws::handshake::{
    accept_key, parse_connect_request, parse_request, ClientHandshake, HandshakeError,
    ResponseError,
};
use flare_ws::DeflateParams;

type Fields = Vec<(&'static [u8], &'static [u8])>;
type RequestCase = (&'static [u8], &'static [u8], Fields, HandshakeError, u16);
type ResponseCase = (u16, Fields, ResponseError);

fn good() -> Fields {
    vec![
        (b"Host", b"server.example.com"),
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        (b"Origin", b"http://example.com"),
        (b"Sec-WebSocket-Protocol", b"chat, superchat"),
        (b"Sec-WebSocket-Version", b"13"),
    ]
}

fn without(name: &str) -> Fields {
    good()
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(name.as_bytes()))
        .collect()
}

fn with(name: &'static str, value: &'static str) -> Fields {
    let mut f = without(name);
    f.push((name.as_bytes(), value.as_bytes()));
    f
}

#[test]
fn rfc6455_1_3_example_is_accepted() {
    let offer = parse_request(b"GET", b"HTTP/1.1", good()).unwrap();
    assert_eq!(offer.protocols(), ["chat", "superchat"]);
    assert_eq!(offer.origin(), Some(&b"http://example.com"[..]));
    assert_eq!(offer.select_protocol(&["superchat"]), Some("superchat"));
    let accept = offer.accept(None);
    assert_eq!(accept.accept_value(), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert_eq!(accept.deflate, None);
    let mut head = Vec::new();
    accept.write_response(Some("chat"), &mut head);
    assert_eq!(
        String::from_utf8(head).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    );
}

#[test]
fn accept_key_vectors() {
    assert_eq!(
        &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    // Another well-known pair (from the MDN WebSocket server guide).
    assert_eq!(
        &accept_key(b"x3JJHMbDL1EzLkh9GBhXDw=="),
        b"HSmrc0sMlYUkAGmm5OPpG2HaGWk="
    );
}

#[test]
fn lenient_where_the_rfc_is() {
    for fields in [
        with("Upgrade", "WebSocket"),
        with("Upgrade", "foo, websocket"),
        with("Connection", "keep-alive, Upgrade"),
        with("Connection", "UPGRADE"),
        with("Sec-WebSocket-Key", "  dGhlIHNhbXBsZSBub25jZQ==  "),
    ] {
        assert!(
            parse_request(b"GET", b"HTTP/1.1", fields.clone()).is_ok(),
            "{fields:?}"
        );
    }
    // Protocols across repeated fields.
    let mut f = good();
    f.push((b"sec-websocket-protocol", b"v2.example, ,v3"));
    let offer = parse_request(b"GET", b"HTTP/1.1", f).unwrap();
    assert_eq!(offer.protocols(), ["chat", "superchat", "v2.example", "v3"]);
}

#[test]
fn every_rejection() {
    use HandshakeError::*;
    let cases: Vec<RequestCase> = vec![
        (b"POST", b"HTTP/1.1", good(), Method, 405),
        (b"get", b"HTTP/1.1", good(), Method, 405),
        (b"GET", b"HTTP/1.0", good(), Version, 400),
        (b"GET", b"HTTP/1.1", without("Host"), MissingHost, 400),
        (b"GET", b"HTTP/1.1", without("Upgrade"), MissingUpgrade, 400),
        (
            b"GET",
            b"HTTP/1.1",
            with("Upgrade", "h2c"),
            MissingUpgrade,
            400,
        ),
        (
            b"GET",
            b"HTTP/1.1",
            without("Connection"),
            MissingConnectionUpgrade,
            400,
        ),
        (
            b"GET",
            b"HTTP/1.1",
            with("Connection", "keep-alive"),
            MissingConnectionUpgrade,
            400,
        ),
        (
            b"GET",
            b"HTTP/1.1",
            with("Connection", "upgraded"),
            MissingConnectionUpgrade,
            400,
        ),
        (
            b"GET",
            b"HTTP/1.1",
            without("Sec-WebSocket-Key"),
            InvalidKey,
            400,
        ),
        (
            b"GET",
            b"HTTP/1.1",
            with("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ"),
            InvalidKey,
            400,
        ),
        (
            b"GET",
            b"HTTP/1.1",
            with("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZXg="),
            InvalidKey,
            400,
        ),
        (
            b"GET",
            b"HTTP/1.1",
            with("Sec-WebSocket-Key", "c2hvcnQ="),
            InvalidKey,
            400,
        ),
        (
            b"GET",
            b"HTTP/1.1",
            without("Sec-WebSocket-Version"),
            MissingVersion,
            400,
        ),
        (
            b"GET",
            b"HTTP/1.1",
            with("Sec-WebSocket-Version", "8"),
            UnsupportedVersion,
            426,
        ),
        (
            b"GET",
            b"HTTP/1.1",
            with("Sec-WebSocket-Version", "13, 8"),
            UnsupportedVersion,
            426,
        ),
        (
            b"GET",
            b"HTTP/1.1",
            with("Sec-WebSocket-Protocol", "a b"),
            InvalidProtocol,
            400,
        ),
        (
            b"GET",
            b"HTTP/1.1",
            with("Sec-WebSocket-Protocol", "chat, \"x\""),
            InvalidProtocol,
            400,
        ),
    ];
    for (method, version, fields, want, status) in cases {
        let got = parse_request(method, version, fields.clone());
        assert_eq!(got.as_ref().err(), Some(&want), "{fields:?}");
        assert_eq!(want.status(), status);
    }
    // Two keys.
    let mut f = good();
    f.push((b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(
        parse_request(b"GET", b"HTTP/1.1", f).err(),
        Some(InvalidKey)
    );
    // 426 carries the version we speak.
    assert_eq!(
        UnsupportedVersion.version_field(),
        Some(("Sec-WebSocket-Version", "13"))
    );
    assert_eq!(InvalidKey.version_field(), None);
}

#[test]
#[cfg(feature = "deflate")] // asserts what is negotiated
fn deflate_offer_is_negotiated_in_accept() {
    let mut f = good();
    f.push((
        b"Sec-WebSocket-Extensions",
        b"permessage-deflate; server_max_window_bits=10",
    ));
    f.push((
        b"Sec-WebSocket-Extensions",
        b"permessage-deflate; client_max_window_bits",
    ));
    let offer = parse_request(b"GET", b"HTTP/1.1", f).unwrap();
    assert_eq!(offer.deflate_offers().len(), 2);
    let accept = offer.accept(Some(&DeflateConfig::default()));
    // The first offer is taken; its smaller server window is echoed (RFC
    // 7692 section 7.1.2.1) and kept to with the RLE strategy.
    assert_eq!(
        accept.extensions_value(),
        Some("permessage-deflate; server_max_window_bits=10")
    );
    assert_eq!(
        accept.deflate,
        Some(DeflateParams {
            server_max_window_bits: 10,
            ..DeflateParams::default()
        })
    );
    // Refusing compression.
    assert_eq!(offer.accept(None).extensions_value(), None);
}

#[test]
#[cfg(feature = "deflate")] // asserts what is negotiated
fn rfc8441_extended_connect() {
    let fields: Fields = vec![
        (b"sec-websocket-version", b"13"),
        (b"sec-websocket-protocol", b"chat"),
        (b"sec-websocket-extensions", b"permessage-deflate"),
        (b"origin", b"https://example.com"),
    ];
    let offer = parse_connect_request(b"CONNECT", b"websocket", fields.clone()).unwrap();
    assert_eq!(offer.key(), None);
    let accept = offer.accept(Some(&DeflateConfig::default()));
    assert_eq!(accept.accept_value(), None);
    let got: Vec<_> = accept.fields(Some("chat")).collect();
    assert_eq!(
        got,
        [
            ("Sec-WebSocket-Protocol", "chat"),
            ("Sec-WebSocket-Extensions", "permessage-deflate")
        ]
    );
    assert_eq!(
        parse_connect_request(b"GET", b"websocket", fields.clone()).err(),
        Some(HandshakeError::Method)
    );
    assert_eq!(
        parse_connect_request(b"CONNECT", b"webtransport", fields.clone()).err(),
        Some(HandshakeError::NotWebSocketProtocol)
    );
    let v8: Fields = vec![(b"sec-websocket-version", b"8")];
    assert_eq!(
        parse_connect_request(b"CONNECT", b"websocket", v8).err(),
        Some(HandshakeError::UnsupportedVersion)
    );
    assert_eq!(
        parse_connect_request(b"CONNECT", b"websocket", Fields::new()).err(),
        Some(HandshakeError::MissingVersion)
    );
}

fn client() -> ClientHandshake {
    ClientHandshake::new(
        *b"the sample nonce",
        &["chat", "superchat"],
        Some(DeflateConfig::default()),
    )
}

fn response(extra: &[(&'static str, &'static str)]) -> Vec<(&'static [u8], &'static [u8])> {
    let mut f: Vec<(&'static [u8], &'static [u8])> = vec![
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Accept", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
    ];
    f.extend(extra.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    f
}

#[test]
#[cfg(feature = "deflate")] // asserts what is negotiated
fn client_request_and_server_round_trip() {
    let c = client();
    assert_eq!(c.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    let mut head = Vec::new();
    c.write_request("server.example.com", "/chat", &mut head);
    let text = String::from_utf8(head).unwrap();
    assert!(text.starts_with("GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"));
    assert!(text.contains("Sec-WebSocket-Protocol: chat, superchat\r\n"));
    assert!(
        text.contains("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
    );

    // The server side parses what the client wrote.
    let mut fields: Vec<(&[u8], &[u8])> = vec![(b"Host", b"server.example.com")];
    fields.extend(c.fields().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    let offer = parse_request(b"GET", b"HTTP/1.1", fields).unwrap();
    let accept = offer.accept(Some(&DeflateConfig::default()));
    let resp: Vec<(&[u8], &[u8])> = accept
        .fields(Some("superchat"))
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    let neg = c.verify_response(101, resp).unwrap();
    assert_eq!(neg.protocol.as_deref(), Some("superchat"));
    assert_eq!(neg.deflate, accept.deflate);
}

#[test]
#[cfg(feature = "deflate")] // asserts what is negotiated
fn client_response_checks() {
    use ResponseError::*;
    let c = client();
    assert!(c.verify_response(101, response(&[])).is_ok());
    let cases: Vec<ResponseCase> = vec![
        (200, response(&[]), Status(200)),
        (101, response(&[])[1..].to_vec(), MissingUpgrade),
        (
            101,
            [&response(&[])[..1], &response(&[])[2..]].concat(),
            MissingConnectionUpgrade,
        ),
        (101, response(&[])[..2].to_vec(), AcceptMismatch),
        (
            101,
            response(&[("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")]),
            AcceptMismatch,
        ),
        (
            101,
            response(&[("Sec-WebSocket-Protocol", "other")]),
            UnofferedProtocol,
        ),
        (
            101,
            response(&[("Sec-WebSocket-Protocol", "chat, superchat")]),
            UnofferedProtocol,
        ),
        (
            101,
            response(&[("Sec-WebSocket-Extensions", "x-other")]),
            UnofferedExtension,
        ),
        (
            101,
            response(&[(
                "Sec-WebSocket-Extensions",
                "permessage-deflate, permessage-deflate",
            )]),
            UnofferedExtension,
        ),
        // We never offer client_max_window_bits, so it may not come back.
        (
            101,
            // We offer a valueless client_max_window_bits: a valueless one in
            // the response is not allowed (RFC 7692 section 7.1.2.2).
            response(&[(
                "Sec-WebSocket-Extensions",
                "permessage-deflate; client_max_window_bits",
            )]),
            UnofferedExtension,
        ),
        (
            101,
            response(&[("Sec-WebSocket-Extensions", "permessage-deflate; bogus")]),
            UnofferedExtension,
        ),
    ];
    for (status, fields, want) in cases {
        assert_eq!(
            c.verify_response(status, fields.clone()).err(),
            Some(want),
            "{fields:?}"
        );
    }
    // A server asking our compressor for 10 bits: honoured (distance-1 matches).
    let neg = c
        .verify_response(
            101,
            response(&[(
                "Sec-WebSocket-Extensions",
                "permessage-deflate; client_max_window_bits=10",
            )]),
        )
        .unwrap();
    assert_eq!(neg.deflate.map(|d| d.client_max_window_bits), Some(10));
    // A smaller server window is fine for our inflater.
    let neg = c
        .verify_response(
            101,
            response(&[(
                "Sec-WebSocket-Extensions",
                "permessage-deflate; server_max_window_bits=10; server_no_context_takeover",
            )]),
        )
        .unwrap();
    let p = neg.deflate.unwrap();
    assert_eq!(
        (p.server_max_window_bits, p.server_no_context_takeover),
        (10, true)
    );
    // Without a deflate offer, any extension fails.
    let plain = ClientHandshake::new([0; 16], &[], None);
    let mut r = vec![(&b"Sec-WebSocket-Accept"[..], plain_accept(&plain))];
    r.extend([
        (&b"Upgrade"[..], &b"websocket"[..]),
        (b"Connection", b"upgrade"),
    ]);
    assert!(plain.verify_response(101, r.clone()).is_ok());
    r.push((b"Sec-WebSocket-Extensions", b"permessage-deflate"));
    assert_eq!(
        plain.verify_response(101, r).err(),
        Some(UnofferedExtension)
    );
    // A server that ignores our server_no_context_takeover request.
    let strict = ClientHandshake::new(
        *b"the sample nonce",
        &[],
        Some(DeflateConfig {
            server_no_context_takeover: true,
            ..Default::default()
        }),
    );
    assert_eq!(
        strict
            .verify_response(
                101,
                response(&[("Sec-WebSocket-Extensions", "permessage-deflate")])
            )
            .err(),
        Some(UnofferedExtension)
    );
    // RFC 8441: 200, no accept value.
    let neg = c
        .verify_connect_response(200, vec![(&b"sec-websocket-protocol"[..], &b"chat"[..])])
        .unwrap();
    assert_eq!(neg.protocol.as_deref(), Some("chat"));
    assert_eq!(
        c.verify_connect_response(404, Vec::new()).err(),
        Some(Status(404))
    );
}

fn plain_accept(c: &ClientHandshake) -> &'static [u8] {
    Box::leak(Box::new(accept_key(c.key().as_bytes())))
}

/// The server's idle-memory default: `DeflateConfig` with no context
/// takeover both ways adds both parameters to the response even when the
/// client offered neither (RFC 7692 sections 7.1.1.1 and 7.1.1.2), the
/// client accepts that, and after a compressed message each way neither
/// end keeps any deflate state (the ~312 KiB compressor and ~43 KiB
/// decompressor are freed after each message).
#[test]
#[cfg(feature = "deflate")] // asserts what is negotiated
fn server_no_context_takeover_default_retains_no_deflate_state() {
    use flare_ws::{Config, Event, Role, WebSocket};
    use std::time::Instant;

    let server_config = DeflateConfig {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
    };
    let both = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateParams::default()
    };
    for offered in [
        "permessage-deflate",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_no_context_takeover; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover",
    ] {
        let c = client();
        let mut f = good();
        f.push((b"Sec-WebSocket-Extensions", offered.as_bytes()));
        let offer = parse_request(b"GET", b"HTTP/1.1", f).unwrap();
        let accept = offer.accept(Some(&server_config));
        assert_eq!(
            accept.extensions_value(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            "{offered}"
        );
        assert_eq!(accept.deflate, Some(both), "{offered}");

        // Our client (which offered neither) accepts the response.
        let resp: Vec<(&[u8], &[u8])> = accept
            .fields(None)
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        let neg = c.verify_response(101, resp).unwrap();
        assert_eq!(neg.deflate, Some(both));

        let mut server = WebSocket::new(Role::Server, Config::default(), accept.deflate);
        let mut client = WebSocket::new(Role::Client, Config::default(), neg.deflate);
        let now = Instant::now();
        let text = "a compressible message, a compressible message. ".repeat(200);
        for _ in 0..3 {
            let mut wire = Vec::new();
            client.send_text(&text, &mut wire).unwrap();
            assert_eq!(wire[0] & 0x40, 0x40, "compressed");
            assert!(!client.memory().2, "client compressor freed");
            let n = wire.len();
            let (used, ev) = server.read(&mut wire, now).unwrap();
            assert_eq!((used, ev), (n, Some(Event::Text(&text))));
            let mut echo = Vec::new();
            server.send_text(&text, &mut echo).unwrap();
            assert_eq!(echo[0] & 0x40, 0x40, "compressed");
            let n = echo.len();
            let (used, ev) = client.read(&mut echo, now).unwrap();
            assert_eq!((used, ev), (n, Some(Event::Text(&text))));
            // The next read recycles the message buffers.
            assert_eq!(server.read(&mut [], now).unwrap(), (0, None));
            assert_eq!(client.read(&mut [], now).unwrap(), (0, None));
            for (who, ws) in [("server", &server), ("client", &client)] {
                let (buf, inflater, deflater) = ws.memory();
                assert!(!inflater && !deflater, "{who}: deflate state retained");
                assert!(buf <= Config::default().get_retain_buffer(), "{who}: {buf}");
            }
        }
    }
}

/// Without the `deflate` feature nothing negotiates permessage-deflate: the
/// server declines an offer, the client offers nothing and refuses an
/// acceptance, and a `WebSocket` given parameters anyway has no codec, so a
/// frame with RSV1 set is the protocol error (1002) it then is.
#[test]
#[cfg(not(feature = "deflate"))]
fn without_the_deflate_feature_nothing_negotiates_it() {
    use flare_ws::{Config, Role, WebSocket};
    let fields = with("Sec-WebSocket-Extensions", "permessage-deflate");
    let req = parse_request(b"GET", b"HTTP/1.1", fields).unwrap();
    assert!(
        !req.deflate_offers().is_empty(),
        "the offer is still parsed"
    );
    let accept = req.accept(Some(&DeflateConfig::default()));
    assert_eq!(accept.deflate, None);
    assert_eq!(accept.extensions_value(), None);

    let c = client();
    let mut head = Vec::new();
    c.write_request("example.com", "/chat", &mut head);
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(!head.contains("sec-websocket-extensions"), "{head}");
    assert_eq!(
        c.verify_response(
            101,
            response(&[("Sec-WebSocket-Extensions", "permessage-deflate")])
        )
        .err(),
        Some(ResponseError::UnofferedExtension)
    );

    let mut ws = WebSocket::new(
        Role::Server,
        Config::default(),
        Some(DeflateParams::default()),
    );
    assert_eq!(ws.deflate(), None);
    // A masked one-byte text frame with RSV1 set.
    let mut frame = vec![0xC1, 0x81, 1, 2, 3, 4, b'a' ^ 1];
    let err = ws.read(&mut frame, std::time::Instant::now()).unwrap_err();
    assert_eq!(err.close_code(), 1002);
}
