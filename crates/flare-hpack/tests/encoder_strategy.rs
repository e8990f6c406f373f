//! The encoder's strategy: what it indexes, what it never indexes, Huffman
//! only when shorter, and its table size handling.

use flare_hpack::{Decoder, Encoder, Field, HeaderList, MAX_ENCODER_TABLE_SIZE};

fn encode(encoder: &mut Encoder, fields: &[Field<'_>]) -> Vec<u8> {
    let mut block = Vec::new();
    encoder.encode(fields.iter().copied(), &mut block);
    block
}

#[test]
fn repeated_fields_become_one_byte_indices() {
    let mut e = Encoder::new();
    let fields = [
        Field::new(b"user-agent", b"flare-test/1.0"),
        Field::new(b"x-request-kind", b"probe"),
    ];
    let first = encode(&mut e, &fields);
    assert_eq!(first[0], 0x40 | 58); // literal, indexed name `user-agent`
    let second = encode(&mut e, &fields);
    assert_eq!(second, [0xbf, 0xbe]); // 63 and 62: both from the dynamic table
                                      // A static entry is an index from the start.
    assert_eq!(encode(&mut e, &[Field::new(b":method", b"GET")]), [0x82]);
}

#[test]
fn sensitive_fields_are_never_indexed() {
    let mut e = Encoder::new();
    let secrets = [
        Field::new(b"authorization", b"Bearer abc"),
        Field::new(b"proxy-authorization", b"Basic eHl6"),
        Field::new(b"set-cookie", b"id=42; HttpOnly"),
        Field::new(b"cookie", b"sid=short"),
        Field::sensitive(b"x-api-key", b"s3cr3t"),
    ];
    for _ in 0..2 {
        let block = encode(&mut e, &secrets);
        assert_eq!(e.table_size(), 0, "a secret entered the table");
        let mut list = HeaderList::new();
        Decoder::new().decode_into(&block, &mut list).unwrap();
        assert_eq!(list.len(), secrets.len());
        // Every field arrives flagged never-indexed.
        assert!(list.iter().all(|f| f.sensitive));
    }
    // A long cookie is worth indexing and hard to guess.
    let long = [Field::new(
        b"cookie",
        b"session=0123456789abcdef0123456789abcdef",
    )];
    encode(&mut e, &long);
    assert!(e.table_size() > 0);
    assert_eq!(encode(&mut e, &long), [0xbe]);
}

#[test]
fn never_indexed_flag_survives_decode_and_reencode() {
    let mut e = Encoder::new();
    let block = encode(&mut e, &[Field::sensitive(b"x-token", b"t")]);
    let mut list = HeaderList::new();
    Decoder::new().decode_into(&block, &mut list).unwrap();
    let mut proxy = Encoder::new();
    let mut again = Vec::new();
    proxy.encode(list.iter(), &mut again);
    assert_eq!(again[0], 0x10);
    assert_eq!(proxy.table_size(), 0);
}

#[test]
fn huffman_only_when_shorter() {
    let mut e = Encoder::with_max_table_size(Encoder::new(), 0);
    // Bytes >= 0x80 have long codes: raw is shorter.
    let block = encode(&mut e, &[Field::new(b"x-bin", &[0xff; 8])]);
    let raw_at = block.len() - 9;
    assert_eq!(block[raw_at], 8, "expected a raw 8-byte string");
    // Lowercase text is shorter in Huffman.
    let block = encode(&mut e, &[Field::new(b"x-text", b"aaaaaaaaaaaaaaaa")]);
    assert_eq!(block[block.len() - 11], 0x80 | 10); // 16 x 5 bits = 10 bytes
}

#[test]
fn large_and_churning_fields_are_not_indexed() {
    let mut e = Encoder::new();
    encode(&mut e, &[Field::new(b"x-big", &[b'a'; 3100])]);
    assert_eq!(e.table_size(), 0);
    encode(
        &mut e,
        &[
            Field::new(b":path", b"/a/b/c"),
            Field::new(b"content-length", b"1234"),
        ],
    );
    assert_eq!(e.table_size(), 0);
}

#[test]
fn peer_table_size_is_honoured_but_capped_at_4_kib() {
    let mut e = Encoder::new();
    e.set_peer_max_table_size(u32::MAX);
    assert_eq!(e.table_max_size(), MAX_ENCODER_TABLE_SIZE);
    let mut d = Decoder::new();
    d.set_max_table_size(u32::MAX);
    for i in 0..500u32 {
        let value = format!("value-{i}-{}", "x".repeat((i % 40) as usize));
        let block = encode(&mut e, &[Field::new(b"x-churn", value.as_bytes())]);
        // No size update was needed: the table stays at 4096.
        assert_ne!(block[0] & 0xe0, 0x20);
        d.decode(&block, |_| ()).unwrap();
        assert!(e.table_size() <= 4096);
    }
    assert_eq!(d.table_max_size(), 4096);
}

#[test]
fn lowered_peer_size_is_signalled_smallest_first() {
    let mut e = Encoder::new();
    let mut d = Decoder::new();
    let fields = [Field::new(b"x-a", b"1"), Field::new(b"x-b", b"2")];
    d.decode(&encode(&mut e, &fields), |_| ()).unwrap();
    // The peer lowers to 50, then raises to 1000, before our next block.
    e.set_peer_max_table_size(50);
    d.set_max_table_size(50);
    e.set_peer_max_table_size(1000);
    d.set_max_table_size(1000);
    let block = encode(&mut e, &fields);
    assert_eq!(&block[..4], [0x3f, 0x13, 0x3f, 0xc9]); // 50, then 1000
    let mut list = HeaderList::new();
    d.decode_into(&block, &mut list).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(d.table_max_size(), 1000);
    assert_eq!(e.table_max_size(), 1000);
}

#[test]
fn zero_table_size_disables_indexing() {
    let mut e = Encoder::new().with_max_table_size(0);
    let block = encode(&mut e, &[Field::new(b"x-a", b"1")]);
    assert_eq!(block[0], 0x20); // update to 0
    let block = encode(&mut e, &[Field::new(b"x-a", b"1")]);
    assert_eq!(block[0], 0x00); // literal without indexing
    assert_eq!(e.table_size(), 0);
}

/// The encoder reuses a position's output for the same field only while it
/// would not change: a new entry shifts dynamic indices, a size update may
/// evict, and every block must still decode to its fields.
#[test]
fn reused_encodings_follow_the_table() {
    let mut e = Encoder::new();
    let mut d = Decoder::new();
    let mut list = HeaderList::new();
    let mut check = |e: &mut Encoder, fields: &[Field<'_>]| {
        let block = encode(e, fields);
        d.decode_into(&block, &mut list).unwrap();
        let got: Vec<(Vec<u8>, Vec<u8>)> = list
            .iter()
            .map(|f| (f.name.to_vec(), f.value.to_vec()))
            .collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = fields
            .iter()
            .map(|f| (f.name.to_vec(), f.value.to_vec()))
            .collect();
        assert_eq!(got, want);
        block
    };
    let ct = Field::new(b"content-type", b"text/plain");
    let len = Field::new(b"content-length", b"13");
    for second in [b"1", b"2", b"2", b"3", b"3"] {
        let date = Field::new(b"date", second);
        let fields = [Field::new(b":status", b"200"), date, ct, len];
        check(&mut e, &fields);
        let again = check(&mut e, &fields);
        // Unchanged table: status, date and type are one-byte indices.
        assert_eq!(again[0], 0x88);
        assert!(again[1] >= 0xbe && again[2] >= 0xbe, "{again:x?}");
    }
    // The same fields at other positions, a sensitive twin, a size change.
    check(&mut e, &[ct, Field::new(b"date", b"3")]);
    check(
        &mut e,
        &[Field::sensitive(b"content-type", b"text/plain"), len],
    );
    e.set_peer_max_table_size(0);
    let fields = [Field::new(b"date", b"3"), ct];
    let block = check(&mut e, &fields);
    assert_eq!(block[0], 0x20, "the size update comes first");
    check(&mut e, &fields);
    assert_eq!(e.table_size(), 0);
}
