//! Frame header parsing and encoding: RFC 6455 section 5.7 examples and
//! every header rule.

use flare_ws::frame::{
    apply_mask, encode_header, parse_header, FrameError, FrameHeader, OpCode, Status,
    MAX_HEADER_LEN,
};

fn parse(buf: &[u8]) -> Result<Status<(FrameHeader, usize)>, FrameError> {
    parse_header(buf)
}

/// Every proper prefix of a header is Partial.
fn check_prefixes(buf: &[u8], header_len: usize) {
    for n in 0..header_len {
        assert_eq!(parse(&buf[..n]), Ok(Status::Partial), "prefix {n}");
    }
}

#[test]
fn rfc6455_5_7_single_frame_unmasked_text() {
    let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let Ok(Status::Complete((h, n))) = parse(&wire) else {
        panic!()
    };
    assert_eq!(
        (h.fin, h.opcode, h.mask, h.payload_len, n),
        (true, OpCode::Text, None, 5, 2)
    );
    check_prefixes(&wire, 2);
    let mut out = Vec::new();
    encode_header(&h, &mut out);
    out.extend_from_slice(b"Hello");
    assert_eq!(out, wire);
}

#[test]
fn rfc6455_5_7_single_frame_masked_text() {
    let mut wire = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let Ok(Status::Complete((h, n))) = parse(&wire) else {
        panic!()
    };
    assert_eq!(
        (h.mask, h.payload_len, n),
        (Some([0x37, 0xfa, 0x21, 0x3d]), 5, 6)
    );
    check_prefixes(&wire, 6);
    apply_mask(&mut wire[6..], h.mask.unwrap(), 0);
    assert_eq!(&wire[6..], b"Hello");
}

#[test]
fn rfc6455_5_7_fragmented_text() {
    let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
    let second = [0x80, 0x02, 0x6c, 0x6f];
    let Ok(Status::Complete((h, _))) = parse(&first) else {
        panic!()
    };
    assert_eq!((h.fin, h.opcode, h.payload_len), (false, OpCode::Text, 3));
    let Ok(Status::Complete((h, _))) = parse(&second) else {
        panic!()
    };
    assert_eq!(
        (h.fin, h.opcode, h.payload_len),
        (true, OpCode::Continuation, 2)
    );
}

#[test]
fn rfc6455_5_7_ping_and_masked_pong() {
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let Ok(Status::Complete((h, _))) = parse(&ping) else {
        panic!()
    };
    assert_eq!((h.opcode, h.payload_len), (OpCode::Ping, 5));
    let pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let Ok(Status::Complete((h, _))) = parse(&pong) else {
        panic!()
    };
    assert_eq!((h.opcode, h.mask.is_some()), (OpCode::Pong, true));
}

#[test]
fn rfc6455_5_7_256_bytes_and_64_kib() {
    let h256 = [0x82, 0x7e, 0x01, 0x00];
    let Ok(Status::Complete((h, n))) = parse(&h256) else {
        panic!()
    };
    assert_eq!((h.opcode, h.payload_len, n), (OpCode::Binary, 256, 4));
    check_prefixes(&h256, 4);
    let mut out = Vec::new();
    encode_header(&h, &mut out);
    assert_eq!(out, h256);

    let h64k = [0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
    let Ok(Status::Complete((h, n))) = parse(&h64k) else {
        panic!()
    };
    assert_eq!((h.payload_len, n), (65536, 10));
    check_prefixes(&h64k, 10);
    out.clear();
    encode_header(&h, &mut out);
    assert_eq!(out, h64k);
}

#[test]
fn encoding_is_minimal_at_each_boundary() {
    for (len, header_len) in [
        (0u64, 2),
        (125, 2),
        (126, 4),
        (65535, 4),
        (65536, 10),
        (1 << 40, 10),
    ] {
        for mask in [None, Some([1, 2, 3, 4])] {
            let h = FrameHeader::new(true, OpCode::Binary, mask, len);
            let mut buf = [0u8; MAX_HEADER_LEN];
            let n = h.encode(&mut buf);
            let want = header_len + if mask.is_some() { 4 } else { 0 };
            assert_eq!(n, want, "len {len}");
            assert_eq!(h.encoded_len(), want);
            assert_eq!(parse(&buf[..n]), Ok(Status::Complete((h, n))));
        }
    }
}

#[test]
fn non_minimal_lengths_are_accepted() {
    // 5 bytes announced with the 16-bit and the 64-bit forms.
    let Ok(Status::Complete((h, n))) = parse(&[0x82, 0x7e, 0x00, 0x05]) else {
        panic!()
    };
    assert_eq!((h.payload_len, n), (5, 4));
    let Ok(Status::Complete((h, n))) = parse(&[0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 5]) else {
        panic!()
    };
    assert_eq!((h.payload_len, n), (5, 10));
    // A control frame of 5 bytes in the 16-bit form is still short enough.
    assert!(matches!(
        parse(&[0x89, 0x7e, 0x00, 0x05]),
        Ok(Status::Complete(_))
    ));
}

#[test]
fn length_with_msb_set_is_an_error() {
    assert_eq!(
        parse(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        Err(FrameError::LengthMsbSet)
    );
    let Ok(Status::Complete((h, _))) =
        parse(&[0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    else {
        panic!()
    };
    assert_eq!(h.payload_len, i64::MAX as u64);
}

#[test]
fn reserved_opcodes_are_errors() {
    for op in [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        assert_eq!(
            parse(&[0x80 | op, 0x00]),
            Err(FrameError::ReservedOpcode(op)),
            "{op:x}"
        );
    }
}

#[test]
fn control_frame_rules() {
    for op in [0x8, 0x9, 0xa] {
        // > 125 bytes, in either long form.
        assert_eq!(
            parse(&[0x80 | op, 0x7e, 0x00, 0x7e]),
            Err(FrameError::ControlTooLong)
        );
        assert_eq!(
            parse(&[0x80 | op, 0x7f, 0, 0, 0, 0, 0, 0, 0, 200]),
            Err(FrameError::ControlTooLong)
        );
        // Exactly 125 is fine.
        assert!(matches!(parse(&[0x80 | op, 0x7d]), Ok(Status::Complete(_))));
        // Not FIN.
        assert_eq!(parse(&[op, 0x00]), Err(FrameError::ControlFragmented));
    }
}

#[test]
fn rsv_bits_are_reported() {
    let Ok(Status::Complete((h, _))) = parse(&[0xf1, 0x00]) else {
        panic!()
    };
    assert!(h.rsv1 && h.rsv2 && h.rsv3);
    let mut out = Vec::new();
    encode_header(&h, &mut out);
    assert_eq!(out, [0xf1, 0x00]);
}
