//! Property tests: random header lists under random table size changes
//! round-trip; random bytes never panic the decoder.

use flare_hpack::{Decoder, Encoder, Field, HeaderList};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    /// Both sides agree on a new `SETTINGS_HEADER_TABLE_SIZE`.
    Resize(u32),
    Block(Vec<(Vec<u8>, Vec<u8>, bool)>),
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b":method".to_vec()),
        Just(b":path".to_vec()),
        Just(b"cookie".to_vec()),
        Just(b"authorization".to_vec()),
        Just(b"x-repeat".to_vec()),
        "[a-z-]{1,12}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..20),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"GET".to_vec()),
        Just(b"/".to_vec()),
        Just(b"same".to_vec()),
        "[ -~]{0,40}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..300),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => prop_oneof![Just(0u32), 0u32..300, 300u32..5000, Just(u32::MAX)].prop_map(Step::Resize),
        6 => proptest::collection::vec((name(), value(), any::<bool>()), 0..12).prop_map(Step::Block),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn header_lists_round_trip(steps in proptest::collection::vec(step(), 1..12)) {
        let mut encoder = Encoder::new();
        let mut decoder = Decoder::new().with_max_header_list_size(u32::MAX / 4);
        let mut block = Vec::new();
        let mut list = HeaderList::new();
        for step in steps {
            match step {
                Step::Resize(size) => {
                    encoder.set_peer_max_table_size(size);
                    decoder.set_max_table_size(size);
                }
                Step::Block(fields) => {
                    block.clear();
                    encoder.encode(
                        fields.iter().map(|(n, v, s)| Field { name: n, value: v, sensitive: *s }),
                        &mut block,
                    );
                    let info = decoder.decode_into(&block, &mut list).unwrap();
                    prop_assert!(!info.over_limit);
                    prop_assert_eq!(list.len(), fields.len());
                    for (got, (n, v, s)) in list.iter().zip(&fields) {
                        prop_assert_eq!(got.name, &n[..]);
                        prop_assert_eq!(got.value, &v[..]);
                        // Caller-marked fields keep the never-indexed flag.
                        if *s {
                            prop_assert!(got.sensitive);
                        }
                    }
                    prop_assert!(encoder.table_size() <= 4096);
                    prop_assert_eq!(encoder.table_size(), decoder.table_size());
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(blocks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..8)) {
        let mut decoder = Decoder::new().with_max_header_list_size(1024);
        for block in &blocks {
            let _ = decoder.decode(block, |f| { let _ = (f.name.len(), f.value.len()); });
            prop_assert!(decoder.table_size() <= decoder.table_max_size());
        }
    }

    #[test]
    fn mutated_valid_blocks_never_panic(
        fields in proptest::collection::vec((name(), value()), 1..8),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut block = Vec::new();
        Encoder::new().encode(fields.iter().map(|(n, v)| Field::new(n, v)), &mut block);
        for (at, byte) in flips {
            let i = at.index(block.len());
            block[i] = byte;
        }
        let mut decoder = Decoder::new().with_max_header_list_size(512);
        let mut list = HeaderList::new();
        if let Ok(info) = decoder.decode_into(&block, &mut list) {
            let kept: u64 = list.iter().map(|f| f.size() as u64).sum();
            prop_assert!(kept <= 512);
            prop_assert_eq!(info.delivered as usize, list.len());
        }
    }
}
