//! RFC 7541 Appendix C examples, verbatim: the wire bytes, the decoded
//! header lists, and the dynamic table size after each block.

mod common;

use common::unhex;
use flare_hpack::{Decoder, Encoder, Field, HeaderList};

/// (wire in hex, decoded fields, dynamic table size afterwards)
type Example = (&'static str, &'static [(&'static str, &'static str)], usize);

fn hex(s: &str) -> Vec<u8> {
    unhex(&s.split_whitespace().collect::<String>())
}

fn decode_sequence(decoder: &mut Decoder, examples: &[Example]) {
    let mut list = HeaderList::new();
    for (i, &(wire, fields, table_size)) in examples.iter().enumerate() {
        decoder.decode_into(&hex(wire), &mut list).unwrap();
        let got: Vec<(&[u8], &[u8])> = list.iter().map(|f| (f.name, f.value)).collect();
        let want: Vec<(&[u8], &[u8])> = fields
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        assert_eq!(got, want, "example {i}");
        assert_eq!(decoder.table_size(), table_size, "example {i}");
    }
}

const C3_REQUESTS: [Example; 3] = [
    (
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ],
        57,
    ),
    (
        "8286 84be 5808 6e6f 2d63 6163 6865",
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
            ("cache-control", "no-cache"),
        ],
        110,
    ),
    (
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ],
        164,
    ),
];

const C4_REQUESTS: [Example; 3] = [
    (
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        C3_REQUESTS[0].1,
        57,
    ),
    ("8286 84be 5886 a8eb 1064 9cbf", C3_REQUESTS[1].1, 110),
    (
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        C3_REQUESTS[2].1,
        164,
    ),
];

const C5_RESPONSES: [Example; 3] = [
    (
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
         2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
         6c65 2e63 6f6d",
        &[
            (":status", "302"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        222,
    ),
    (
        "4803 3330 37c1 c0bf",
        &[
            (":status", "307"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        222,
    ),
    (
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
         3d31",
        &[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ("location", "https://www.example.com"),
            ("content-encoding", "gzip"),
            (
                "set-cookie",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            ),
        ],
        215,
    ),
];

const C6_RESPONSES: [Example; 3] = [
    (
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
         2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        C5_RESPONSES[0].1,
        222,
    ),
    ("4883 640e ffc1 c0bf", C5_RESPONSES[1].1, 222),
    (
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
         9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        C5_RESPONSES[2].1,
        215,
    ),
];

#[test]
fn c2_1_literal_with_indexing() {
    let mut decoder = Decoder::new();
    decode_sequence(
        &mut decoder,
        &[(
            "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            &[("custom-key", "custom-header")],
            55,
        )],
    );
}

#[test]
fn c2_2_literal_without_indexing() {
    let mut decoder = Decoder::new();
    decode_sequence(
        &mut decoder,
        &[(
            "040c 2f73 616d 706c 652f 7061 7468",
            &[(":path", "/sample/path")],
            0,
        )],
    );
}

#[test]
fn c2_3_literal_never_indexed() {
    let mut decoder = Decoder::new();
    let mut list = HeaderList::new();
    decoder
        .decode_into(
            &hex("1008 7061 7373 776f 7264 0673 6563 7265 74"),
            &mut list,
        )
        .unwrap();
    assert_eq!(list.get(0), Some(Field::sensitive(b"password", b"secret")));
    assert_eq!(decoder.table_size(), 0);
    // Section 7.1.3: re-encoding keeps the never-indexed representation.
    let mut block = Vec::new();
    Encoder::new().encode(list.iter(), &mut block);
    assert_eq!(block[0] & 0xf0, 0x10);
}

#[test]
fn c2_4_indexed() {
    let mut decoder = Decoder::new();
    decode_sequence(&mut decoder, &[("82", &[(":method", "GET")], 0)]);
}

#[test]
fn c3_requests_without_huffman() {
    decode_sequence(&mut Decoder::new(), &C3_REQUESTS);
}

#[test]
fn c4_requests_with_huffman() {
    decode_sequence(&mut Decoder::new(), &C4_REQUESTS);
}

#[test]
fn c4_our_encoder_produces_the_rfc_bytes() {
    // Our strategy happens to choose exactly the RFC's representations here.
    let mut encoder = Encoder::new();
    for (i, &(wire, fields, table_size)) in C4_REQUESTS.iter().enumerate() {
        let mut block = Vec::new();
        encoder.encode(
            fields
                .iter()
                .map(|(n, v)| Field::new(n.as_bytes(), v.as_bytes())),
            &mut block,
        );
        assert_eq!(block, hex(wire), "example {i}");
        assert_eq!(encoder.table_size(), table_size);
    }
}

fn decoder_with_256_byte_table() -> Decoder {
    // C.5 and C.6 assume a 256-byte table from the start. Here the setting
    // is lowered from the initial 4096, so the peer must first signal it
    // with a size update (an otherwise empty block), which these examples
    // leave out.
    let mut decoder = Decoder::new();
    decoder.set_max_table_size(256);
    decoder.decode(&[0x3f, 0xe1, 0x01], |_| ()).unwrap();
    assert_eq!(decoder.table_max_size(), 256);
    decoder
}

#[test]
fn c5_responses_without_huffman() {
    decode_sequence(&mut decoder_with_256_byte_table(), &C5_RESPONSES);
}

#[test]
fn c6_responses_with_huffman() {
    decode_sequence(&mut decoder_with_256_byte_table(), &C6_RESPONSES);
}

#[test]
fn c6_round_trips_through_our_encoder_with_a_256_byte_table() {
    let mut encoder = Encoder::new();
    encoder.set_peer_max_table_size(256);
    let mut decoder = Decoder::new();
    decoder.set_max_table_size(256);
    let mut list = HeaderList::new();
    for &(_, fields, _) in &C6_RESPONSES {
        let mut block = Vec::new();
        encoder.encode(
            fields
                .iter()
                .map(|(n, v)| Field::new(n.as_bytes(), v.as_bytes())),
            &mut block,
        );
        decoder.decode_into(&block, &mut list).unwrap();
        let got: Vec<(&[u8], &[u8])> = list.iter().map(|f| (f.name, f.value)).collect();
        let want: Vec<(&[u8], &[u8])> = fields
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        assert_eq!(got, want);
        assert!(encoder.table_size() <= 256);
    }
}
