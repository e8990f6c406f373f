use super::tables;
use super::*;
use proptest::prelude::*;

/// A bit-at-a-time reference decoder straight from the code table.
fn reference_decode(src: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = vec![];
    let (mut code, mut len) = (0u32, 0u8);
    for i in 0..src.len() * 8 {
        let bit = (src[i / 8] >> (7 - i % 8)) & 1;
        code = (code << 1) | u32::from(bit);
        len += 1;
        if let Some(sym) = CODES.iter().position(|&(c, l)| l == len && c == code) {
            if sym == 256 {
                return Err(DecodeError::HuffmanEos);
            }
            out.push(sym as u8);
            code = 0;
            len = 0;
        }
    }
    if len > 7 {
        return Err(DecodeError::HuffmanPaddingTooLong);
    }
    if code != (1 << len) - 1 {
        return Err(DecodeError::HuffmanPaddingNotEos);
    }
    Ok(out)
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn decoded(src: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = vec![];
    decode(src, &mut out).map(|()| out)
}

#[test]
fn code_is_complete_and_canonical() {
    // Kraft sum of exactly 1: every bit pattern starts some code.
    let kraft: u64 = CODES.iter().map(|&(_, l)| 1u64 << (30 - l)).sum();
    assert_eq!(kraft, 1 << 30);
    // Canonical: sorted by (length, symbol), codes are consecutive.
    let mut by_len: Vec<(u8, usize)> = CODES
        .iter()
        .enumerate()
        .map(|(s, &(_, l))| (l, s))
        .collect();
    by_len.sort();
    let mut expected = 0u32;
    let mut prev_len = by_len[0].0;
    expected <<= 0;
    for (l, s) in by_len {
        expected <<= l - prev_len;
        prev_len = l;
        assert_eq!(CODES[s].0, expected, "symbol {s}");
        expected += 1;
    }
    assert_eq!(CODES[256], (0x3fff_ffff, 30));
}

#[test]
fn peek_table_matches_the_code_table() {
    // Regenerates every PEEK entry from CODES by brute force.
    for (i, &e) in PEEK.iter().enumerate() {
        let bits = i as u32;
        let first = CODES[..256].iter().position(|&(c, l)| {
            u32::from(l) <= PEEK_BITS && bits >> (PEEK_BITS - u32::from(l)) == c
        });
        let Some(s1) = first else {
            assert_eq!(tables::count(e), 0, "entry {i:#x}");
            continue;
        };
        let l1 = u32::from(CODES[s1].1);
        assert_eq!(tables::symbols(e)[0], s1 as u8);
        assert_eq!(tables::first_len(e), l1);
        let rest = (bits << l1) & ((1 << PEEK_BITS) - 1);
        let second = CODES[..256].iter().position(|&(c, l)| {
            let l = u32::from(l);
            l1 + l <= PEEK_BITS && rest >> (PEEK_BITS - l) == c
        });
        match second {
            Some(s2) => {
                assert_eq!(tables::count(e), 2, "entry {i:#x}");
                assert_eq!(tables::symbols(e)[1], s2 as u8);
                assert_eq!(tables::total_len(e), l1 + u32::from(CODES[s2].1));
            }
            None => {
                assert_eq!(tables::count(e), 1, "entry {i:#x}");
                assert_eq!(tables::total_len(e), l1);
            }
        }
    }
}

#[test]
fn rfc7541_appendix_c_strings() {
    let cases: &[(&str, &str)] = &[
        ("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
        ("no-cache", "a8eb 1064 9cbf"),
        ("custom-key", "25a8 49e9 5ba9 7d7f"),
        ("custom-value", "25a8 49e9 5bb8 e8b4 bf"),
        ("302", "6402"),
        ("private", "aec3 771a 4b"),
        ("Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"),
        ("https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"),
        ("gzip", "9bd9 ab"),
        (
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ),
    ];
    for &(text, wire) in cases {
        let wire = hex(wire);
        let mut out = vec![];
        encode(text.as_bytes(), &mut out);
        assert_eq!(out, wire, "{text}");
        assert_eq!(encoded_len(text.as_bytes()), wire.len());
        assert_eq!(decoded(&wire).unwrap(), text.as_bytes());
    }
}

#[test]
fn every_byte_round_trips_alone_and_together() {
    let all: Vec<u8> = (0..=255).collect();
    for b in 0..=255u8 {
        let mut out = vec![];
        encode(&[b], &mut out);
        assert_eq!(decoded(&out).unwrap(), [b]);
    }
    let mut out = vec![];
    encode(&all, &mut out);
    assert_eq!(decoded(&out).unwrap(), all);
    assert_eq!(decoded(&[]).unwrap(), b"");
}

#[test]
fn eos_inside_a_string_is_rejected() {
    // 'a' (00011, 5 bits) then EOS (30 ones) then 5 bits of padding.
    let wire = [0b0001_1111, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(decoded(&wire), Err(DecodeError::HuffmanEos));
    assert_eq!(reference_decode(&wire), Err(DecodeError::HuffmanEos));
    // EOS alone, with two bits of padding, in a longer string.
    let wire = [0xff, 0xff, 0xff, 0xff, 0x18, 0xc6, 0x31, 0x8c, 0x63, 0x18];
    assert_eq!(decoded(&wire), Err(DecodeError::HuffmanEos));
}

#[test]
fn padding_longer_than_seven_bits_is_rejected() {
    // 'a' (00011) followed by 11 one bits.
    assert_eq!(
        decoded(&[0b0001_1111, 0xff]),
        Err(DecodeError::HuffmanPaddingTooLong)
    );
    // A whole byte of padding alone.
    assert_eq!(decoded(&[0xff]), Err(DecodeError::HuffmanPaddingTooLong));
    // Padding that is a prefix of a long code but too long.
    assert_eq!(
        decoded(&[0xff, 0xff, 0xff]),
        Err(DecodeError::HuffmanPaddingTooLong)
    );
}

#[test]
fn padding_that_is_not_eos_is_rejected() {
    // 'a' (00011) followed by 101.
    assert_eq!(
        decoded(&[0b0001_1101]),
        Err(DecodeError::HuffmanPaddingNotEos)
    );
    // 'a' then three zero bits: 000 is a prefix of '0' (00000), incomplete.
    assert_eq!(
        decoded(&[0b0001_1000]),
        Err(DecodeError::HuffmanPaddingNotEos)
    );
}

proptest! {
    #[test]
    fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut out = vec![];
        encode(&bytes, &mut out);
        prop_assert_eq!(out.len(), encoded_len(&bytes));
        prop_assert_eq!(decoded(&out).unwrap(), bytes);
    }

    #[test]
    fn round_trip_text(text in "[ -~]{0,300}") {
        let mut out = vec![];
        encode(text.as_bytes(), &mut out);
        prop_assert_eq!(decoded(&out).unwrap(), text.as_bytes());
    }

    #[test]
    fn agrees_with_the_reference_on_any_input(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        prop_assert_eq!(decoded(&bytes), reference_decode(&bytes));
    }
}

proptest! {
    #[test]
    fn bytes_after_the_string_never_matter(
        text in proptest::collection::vec(any::<u8>(), 0..40),
        before in proptest::collection::vec(any::<u8>(), 0..10),
        after in proptest::collection::vec(any::<u8>(), 0..20),
        corrupt in any::<bool>(),
    ) {
        let mut wire = vec![];
        encode(&text, &mut wire);
        if corrupt && !wire.is_empty() {
            let last = wire.len() - 1;
            wire[last] ^= 0x5a;
        }
        let alone = decoded(&wire);
        let block = [&before[..], &wire[..], &after[..]].concat();
        let mut out = vec![];
        let in_block = decode_in(&block, before.len()..before.len() + wire.len(), &mut out).map(|()| out);
        prop_assert_eq!(&in_block, &alone);
        prop_assert_eq!(alone, reference_decode(&wire));
    }
}
