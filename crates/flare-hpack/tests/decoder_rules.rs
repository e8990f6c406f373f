//! The decoder's rules and limits: table size updates, indices,
//! truncation, the header list limit and the HPACK bomb.

use flare_hpack::{DecodeError, Decoder, Encoder, Field, HeaderList, Origin};

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn decode(decoder: &mut Decoder, block: &[u8]) -> Result<Fields, DecodeError> {
    let mut out = Vec::new();
    decoder.decode(block, |f| out.push((f.name.to_vec(), f.value.to_vec())))?;
    Ok(out)
}

/// A literal with incremental indexing and a literal (raw) name.
fn literal_indexed(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut b = vec![0x40];
    push_string(&mut b, name);
    push_string(&mut b, value);
    b
}

fn push_string(b: &mut Vec<u8>, s: &[u8]) {
    push_int(b, s.len(), 7, 0x00);
    b.extend_from_slice(s);
}

fn push_int(b: &mut Vec<u8>, value: usize, prefix: u8, flags: u8) {
    let max = (1usize << prefix) - 1;
    if value < max {
        b.push(flags | value as u8);
        return;
    }
    b.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        b.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    b.push(rest as u8);
}

fn size_update(size: usize) -> Vec<u8> {
    let mut b = vec![];
    push_int(&mut b, size, 5, 0x20);
    b
}

#[test]
fn size_update_above_the_setting_is_rejected() {
    let mut d = Decoder::new();
    assert_eq!(
        decode(&mut d, &size_update(4097)),
        Err(DecodeError::SizeUpdateTooLarge {
            requested: 4097,
            max: 4096
        })
    );
    let mut d = Decoder::new();
    d.set_max_table_size(8192);
    assert!(decode(&mut d, &size_update(8192)).is_ok());
    assert_eq!(d.table_max_size(), 8192);
}

#[test]
fn size_update_after_a_field_is_rejected() {
    let mut d = Decoder::new();
    let mut block = vec![0x82];
    block.extend(size_update(100));
    assert_eq!(
        decode(&mut d, &block),
        Err(DecodeError::SizeUpdateNotAtStart)
    );
}

#[test]
fn lowered_setting_requires_an_update_in_the_next_block() {
    let mut d = Decoder::new();
    d.set_max_table_size(100);
    assert_eq!(decode(&mut d, &[0x82]), Err(DecodeError::SizeUpdateMissing));

    let mut d = Decoder::new();
    d.set_max_table_size(100);
    assert_eq!(decode(&mut d, &[]), Err(DecodeError::SizeUpdateMissing));

    let mut d = Decoder::new();
    d.set_max_table_size(100);
    let mut block = size_update(100);
    block.push(0x82);
    assert_eq!(decode(&mut d, &block).unwrap().len(), 1);
    // Once seen, the next block needs none.
    assert!(decode(&mut d, &[0x82]).is_ok());
}

#[test]
fn raised_setting_needs_no_update() {
    let mut d = Decoder::new();
    d.set_max_table_size(65536);
    assert!(decode(&mut d, &[0x82]).is_ok());
    assert_eq!(d.table_max_size(), 4096);
}

#[test]
fn smallest_of_several_changes_must_be_signalled() {
    // 4096 -> 100 -> 2000 between two blocks: the update must reach 100.
    let mut d = Decoder::new();
    d.set_max_table_size(100);
    d.set_max_table_size(2000);
    assert_eq!(
        decode(&mut d, &size_update(2000)),
        Err(DecodeError::SizeUpdateTooLarge {
            requested: 2000,
            max: 100
        })
    );

    let mut d = Decoder::new();
    d.set_max_table_size(100);
    d.set_max_table_size(2000);
    let mut block = size_update(50);
    block.extend(size_update(2000));
    block.push(0x82);
    assert!(decode(&mut d, &block).is_ok());
    assert_eq!(d.table_max_size(), 2000);
}

#[test]
fn more_than_two_updates_are_rejected() {
    let mut d = Decoder::new();
    let block = [size_update(0), size_update(10), size_update(20)].concat();
    assert_eq!(decode(&mut d, &block), Err(DecodeError::TooManySizeUpdates));
}

#[test]
fn update_evicts_entries() {
    let mut d = Decoder::new();
    decode(&mut d, &literal_indexed(b"x-a", b"1")).unwrap();
    assert_eq!(d.table_size(), 36);
    let mut block = size_update(0);
    block.extend(size_update(4096));
    decode(&mut d, &block).unwrap();
    assert_eq!(d.table_size(), 0);
    assert_eq!(
        decode(&mut d, &[0xbe]),
        Err(DecodeError::InvalidIndex { index: 62 })
    );
}

#[test]
fn invalid_indices_are_rejected() {
    let mut d = Decoder::new();
    assert_eq!(
        decode(&mut d, &[0x80]),
        Err(DecodeError::InvalidIndex { index: 0 })
    );
    assert_eq!(
        decode(&mut d, &[0xbe]),
        Err(DecodeError::InvalidIndex { index: 62 })
    );
    // A literal whose indexed name is past the table.
    assert_eq!(
        decode(&mut d, &[0x7f, 0x00, 0x01, b'v']),
        Err(DecodeError::InvalidIndex { index: 63 })
    );
    decode(&mut d, &literal_indexed(b"x-a", b"1")).unwrap();
    assert_eq!(
        decode(&mut d, &[0xbe]).unwrap(),
        [(b"x-a".to_vec(), b"1".to_vec())]
    );
    assert_eq!(
        decode(&mut d, &[0xbf]),
        Err(DecodeError::InvalidIndex { index: 63 })
    );
}

#[test]
fn truncated_blocks_are_rejected_at_every_cut() {
    let mut block = Vec::new();
    Encoder::new().encode(
        [
            Field::new(
                b"x-long-name-for-the-test",
                b"a fairly long value, Huffman coded",
            ),
            Field::new(b"x-raw", b"\xff\xfe\xfd"),
            Field::new(&[b'n'; 200], &[b'v'; 300]),
        ],
        &mut block,
    );
    for cut in 1..block.len() {
        match decode(&mut Decoder::new(), &block[..cut]) {
            // A cut may fall between two fields.
            Ok(fields) => assert!(fields.len() < 3, "cut {cut}"),
            Err(e) => assert_eq!(e, DecodeError::Truncated, "cut {cut}"),
        }
    }
    // Every cut inside a length-prefixed string is caught as truncation.
    assert_eq!(
        decode(&mut Decoder::new(), &block[..block.len() - 1]),
        Err(DecodeError::Truncated)
    );
}

#[test]
fn oversized_integers_are_rejected() {
    let mut d = Decoder::new();
    assert_eq!(
        decode(&mut d, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        Err(DecodeError::IntegerOverflow)
    );
    // A string length of u32::MAX is truncation, not an allocation.
    let mut block = vec![0x00];
    push_int(&mut block, u32::MAX as usize, 7, 0);
    assert_eq!(decode(&mut d, &block), Err(DecodeError::Truncated));
}

#[test]
fn list_over_the_limit_stops_delivering_but_stays_in_sync() {
    let mut d = Decoder::new().with_max_header_list_size(200);
    assert_eq!(d.max_header_list_size(), 200);
    let mut block = Vec::new();
    for i in 0..6u8 {
        // 32 + 4 + 30 = 66 bytes each: the fourth passes 200.
        block.extend(literal_indexed(&[b'x', b'-', b'k', b'0' + i], &[b'v'; 30]));
    }
    let mut delivered = HeaderList::new();
    let info = d.decode_into(&block, &mut delivered).unwrap();
    assert!(info.over_limit);
    assert_eq!(info.fields, 6);
    assert_eq!(info.delivered, 3);
    assert_eq!(delivered.len(), 3);
    assert_eq!(info.list_size, 6 * 66);
    // The entries added past the limit are in the table: the next block can
    // reference them and decodes to what the peer meant.
    let got = decode(&mut d, &[0xbe]).unwrap();
    assert_eq!(got, [(b"x-k5".to_vec(), vec![b'v'; 30])]);
}

#[test]
fn list_within_the_limit_is_delivered_whole() {
    let mut d = Decoder::new().with_max_header_list_size(66 * 3);
    let block = [literal_indexed(b"x-k0", &[b'v'; 30]), vec![0xbe, 0xbe]].concat();
    let info = d.decode(&block, |_| ()).unwrap();
    assert_eq!(
        (info.fields, info.delivered, info.over_limit),
        (3, 3, false)
    );
    let info = d.decode(&[0xbe, 0xbe, 0xbe, 0xbe], |_| ()).unwrap();
    assert_eq!((info.fields, info.delivered, info.over_limit), (4, 3, true));
}

/// HPACK bomb: a 1 KiB block that references one 4 KiB dynamic entry
/// about a thousand times would expand to 4 MiB of headers. The decoder
/// delivers up to the limit, stops at four times the limit, and allocates
/// nothing beyond what the delivered fields need.
#[test]
fn hpack_bomb_is_stopped_at_the_limit() {
    let limit = 16 * 1024;
    let mut d = Decoder::new().with_max_header_list_size(limit);
    // The first block plants a 4000-byte entry.
    d.decode(&literal_indexed(b"b", &[b'x'; 3999]), |_| ())
        .unwrap();
    let bomb = vec![0xbe; 1024];
    let mut delivered_bytes = 0usize;
    let before = heap::allocated_now();
    heap::reset_peak();
    let result = d.decode(&bomb, |f| delivered_bytes += f.name.len() + f.value.len());
    let peak = heap::peak() - before;
    assert_eq!(result, Err(DecodeError::HeaderListBomb { limit }));
    assert!(!result.unwrap_err().is_compression_error());
    assert!(delivered_bytes <= limit as usize, "{delivered_bytes}");
    // Nothing is stored per field: decoding the bomb allocates nothing.
    assert_eq!(peak, 0, "decoding the bomb allocated {peak} bytes");
    // With a list, only what is within the limit is kept.
    let mut list = HeaderList::new();
    let before = heap::allocated_now();
    heap::reset_peak();
    assert!(d.decode_into(&bomb, &mut list).is_err());
    let peak = heap::peak() - before;
    assert!(list.len() <= 4);
    assert!(peak < 2 * limit as usize, "peak {peak}");
}

/// Counts this thread's heap use, so that tests running in parallel on other
/// threads do not disturb the measurement.
mod heap {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static NOW: Cell<usize> = const { Cell::new(0) };
        static PEAK: Cell<usize> = const { Cell::new(0) };
    }

    struct Counting;

    // SAFETY: every call is forwarded to `System` unchanged; the counters
    // are plain thread-local cells that never allocate.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            grow(layout.size());
            // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            shrink(layout.size());
            // SAFETY: `ptr` came from `System.alloc` with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            shrink(layout.size());
            grow(new_size);
            // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    fn grow(n: usize) {
        let _ = NOW.try_with(|now| {
            now.set(now.get() + n);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now.get())));
        });
    }

    fn shrink(n: usize) {
        let _ = NOW.try_with(|now| now.set(now.get().saturating_sub(n)));
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    /// Bytes this thread has allocated and not freed.
    pub fn allocated_now() -> usize {
        NOW.with(|n| n.get())
    }

    /// Starts a new peak measurement from the current level.
    pub fn reset_peak() {
        PEAK.with(|p| p.set(allocated_now()));
    }

    /// The highest level since [`reset_peak`].
    pub fn peak() -> usize {
        PEAK.with(|p| p.get())
    }
}

/// RFC 7541 section 4.4: "A new entry can reference the name of an entry in
/// the dynamic table that will be evicted when adding this new entry."
#[test]
fn new_entry_may_reuse_the_name_of_the_entry_it_evicts() {
    let mut d = Decoder::new();
    let name = vec![b'n'; 2000];
    decode(&mut d, &literal_indexed(&name, &[b'v'; 2000])).unwrap();
    assert_eq!(d.table_size(), 4032);
    // Literal with incremental indexing, name = index 62, a 100-byte value:
    // adding it evicts entry 62 itself.
    let mut block = vec![0x40 | 62];
    push_string(&mut block, &[b'w'; 100]);
    let got = decode(&mut d, &block).unwrap();
    assert_eq!(got, [(name.clone(), vec![b'w'; 100])]);
    assert_eq!(d.table_size(), 2000 + 100 + 32);
    assert_eq!(decode(&mut d, &[0xbe]).unwrap(), [(name, vec![b'w'; 100])]);
}

#[test]
fn sensitive_flag_is_reported_for_never_indexed_literals_only() {
    let mut d = Decoder::new();
    // 0x10: never indexed, new name; 0x00: without indexing, new name.
    let mut block = vec![0x10];
    push_string(&mut block, b"x-secret");
    push_string(&mut block, b"1");
    block.push(0x00);
    push_string(&mut block, b"x-plain");
    push_string(&mut block, b"2");
    block.push(0x1f); // never indexed, indexed name 15 + 4 = 19 (`accept`)
    block.push(0x04);
    push_string(&mut block, b"*/*");
    let mut list = HeaderList::new();
    d.decode_into(&block, &mut list).unwrap();
    let flags: Vec<bool> = list.iter().map(|f| f.sensitive).collect();
    assert_eq!(flags, [true, false, true]);
    assert_eq!(list.get(2).unwrap().name, b"accept");
    assert_eq!(d.table_size(), 0);
}

#[test]
fn origins_name_the_table_entry_a_field_came_from() {
    let mut d = Decoder::new().with_max_header_list_size(1 << 20);
    let origins = |d: &mut Decoder, block: &[u8]| {
        let mut out = Vec::new();
        d.decode_with_origin(block, |f, o| out.push((f.name.to_vec(), o)))
            .unwrap();
        out
    };
    // :method GET (static 2); :path with a literal value (static name 4,
    // not indexed); a new literal (inserted: sequence number 0).
    let mut b = vec![0x82, 0x04];
    push_string(&mut b, b"/a");
    b.extend(literal_indexed(b"x-a", b"1"));
    assert_eq!(
        origins(&mut d, &b),
        [
            (b":method".to_vec(), Origin::Static(2)),
            (b":path".to_vec(), Origin::StaticName(4)),
            (b"x-a".to_vec(), Origin::Literal),
        ]
    );
    // A second entry (number 1) pushes x-a to index 63; both by index.
    let mut b = literal_indexed(b"x-b", b"2");
    b.extend([0xbe, 0xbf]);
    assert_eq!(
        origins(&mut d, &b),
        [
            (b"x-b".to_vec(), Origin::Literal),
            (b"x-b".to_vec(), Origin::Dynamic(1)),
            (b"x-a".to_vec(), Origin::Dynamic(0)),
        ]
    );
    // A literal value under a dynamic entry's name is a literal.
    let mut b = vec![0x0f, 0x2f];
    push_string(&mut b, b"3");
    assert_eq!(origins(&mut d, &b), [(b"x-b".to_vec(), Origin::Literal)]);
    // Evicted and re-inserted: the same field under a new number.
    let mut b = size_update(0);
    b.extend(size_update(4096));
    b.extend(literal_indexed(b"x-a", b"1"));
    b.push(0xbe);
    assert_eq!(
        origins(&mut d, &b),
        [
            (b"x-a".to_vec(), Origin::Literal),
            (b"x-a".to_vec(), Origin::Dynamic(2)),
        ]
    );
}
