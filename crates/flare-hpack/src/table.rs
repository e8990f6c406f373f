//! The dynamic table (RFC 7541 sections 2.3.2 and 4), shared by the decoder
//! and the encoder.
//!
//! Entries' bytes live in one arena `Vec<u8>`, appended at the end; eviction
//! only drops slot records (oldest first), and the arena is compacted when an
//! append would pass twice the table's maximum size. So inserting allocates
//! nothing at steady state, and memory stays below `2 * max_size` bytes plus
//! one 16-byte slot per entry (at most `max_size / 32` entries).

use std::collections::VecDeque;

/// RFC 7541 section 4.1: each entry costs its name and value lengths plus 32.
pub(crate) const ENTRY_OVERHEAD: usize = 32;

#[derive(Debug, Clone, Copy)]
struct Slot {
    start: u32,
    name_len: u32,
    value_len: u32,
}

/// The dynamic table: entry 0 is the newest.
#[derive(Debug, Clone)]
pub(crate) struct DynamicTable {
    arena: Vec<u8>,
    slots: VecDeque<Slot>,
    /// Sum of entry sizes as section 4.1 defines them.
    size: usize,
    max_size: usize,
    /// Entries ever inserted: the newest entry's sequence number plus one.
    /// Sequence numbers let the encoder's index survive insertions.
    inserted: u64,
}

impl DynamicTable {
    pub(crate) fn new(max_size: usize) -> Self {
        DynamicTable {
            arena: Vec::new(),
            slots: VecDeque::new(),
            size: 0,
            max_size,
            inserted: 0,
        }
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Size as section 4.1 defines it.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    /// The entry at 0-based position `i` (0 is the newest).
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let slot = self.slots.get(i)?;
        let start = slot.start as usize;
        let mid = start + slot.name_len as usize;
        let end = mid + slot.value_len as usize;
        Some((self.arena.get(start..mid)?, self.arena.get(mid..end)?))
    }

    /// Changes the maximum size, evicting as section 4.3 requires.
    /// Returns how many entries were evicted.
    pub(crate) fn set_max_size(&mut self, max_size: usize) -> usize {
        self.max_size = max_size;
        let evicted = self.evict_to(max_size);
        if self.arena.capacity() > 2 * max_size + 64 {
            self.compact();
            self.arena.shrink_to(2 * max_size);
        }
        evicted
    }

    /// Adds an entry as section 4.4 says: evict until it fits; an entry
    /// larger than the whole table empties it and is not added. Returns how
    /// many entries were evicted.
    pub(crate) fn insert(&mut self, name: &[u8], value: &[u8]) -> usize {
        let entry_size = name.len() + value.len() + ENTRY_OVERHEAD;
        if entry_size > self.max_size {
            let evicted = self.slots.len();
            self.clear();
            return evicted;
        }
        let evicted = self.evict_to(self.max_size - entry_size);
        let needed = name.len() + value.len();
        if self.arena.len() + needed > 2 * self.max_size {
            self.compact();
        }
        // The arena holds at most 2 * max_size bytes and max_size fits in
        // u32 (it comes from a 32-bit setting), so offsets fit too.
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(name);
        self.arena.extend_from_slice(value);
        self.slots.push_front(Slot {
            start,
            name_len: name.len() as u32,
            value_len: value.len() as u32,
        });
        self.size += entry_size;
        self.inserted += 1;
        evicted
    }

    /// Reserves what the table can ever hold at its current maximum size
    /// (`2 * max_size` arena bytes, `max_size / 32` slots), so that later
    /// inserts allocate nothing. The encoder calls it: its entries churn
    /// (a `date` per second) until the table is full, and growing on the
    /// way would allocate now and then for minutes.
    pub(crate) fn reserve_max(&mut self) {
        let arena = 2 * self.max_size;
        if self.arena.capacity() < arena {
            self.arena.reserve_exact(arena - self.arena.len());
        }
        let slots = self.max_size / ENTRY_OVERHEAD;
        if self.slots.capacity() < slots {
            self.slots.reserve_exact(slots - self.slots.len());
        }
    }

    /// The sequence number the next inserted entry gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.inserted
    }

    /// The position of the entry with sequence number `seq`, if it is still
    /// in the table.
    #[inline]
    pub(crate) fn position(&self, seq: u64) -> Option<usize> {
        let back = self.inserted.checked_sub(seq)?.checked_sub(1)?;
        let back = usize::try_from(back).ok()?;
        (back < self.slots.len()).then_some(back)
    }

    fn evict_to(&mut self, target: usize) -> usize {
        let mut evicted = 0;
        while self.size > target {
            let Some(slot) = self.slots.pop_back() else {
                break;
            };
            self.size -= slot.name_len as usize + slot.value_len as usize + ENTRY_OVERHEAD;
            evicted += 1;
        }
        if self.slots.is_empty() {
            self.arena.clear();
        }
        evicted
    }

    fn clear(&mut self) {
        self.slots.clear();
        self.arena.clear();
        self.size = 0;
    }

    /// Moves the live bytes (those of the oldest entry onward) to the front.
    fn compact(&mut self) {
        let Some(oldest) = self.slots.back() else {
            self.arena.clear();
            return;
        };
        let live_start = oldest.start;
        if live_start == 0 {
            return;
        }
        self.arena.drain(..live_start as usize);
        for slot in &mut self.slots {
            slot.start -= live_start;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(t: &DynamicTable) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..t.len())
            .map(|i| t.get(i).map(|(n, v)| (n.to_vec(), v.to_vec())).unwrap())
            .collect()
    }

    #[test]
    fn eviction_follows_section_4() {
        let mut t = DynamicTable::new(100);
        assert_eq!(t.insert(b"aaaa", b"bbbb"), 0); // 40
        assert_eq!(t.insert(b"cccc", b"dddd"), 0); // 80
        assert_eq!(t.size(), 80);
        assert_eq!(t.insert(b"e", b"f"), 1); // 34: evicts the oldest
        assert_eq!(
            entries(&t),
            [
                (b"e".to_vec(), b"f".to_vec()),
                (b"cccc".to_vec(), b"dddd".to_vec())
            ]
        );
        assert_eq!(t.size(), 74);
        // Larger than the table: empties it.
        assert_eq!(t.insert(&[b'x'; 60], &[b'y'; 9]), 2);
        assert_eq!(t.len(), 0);
        assert_eq!(t.size(), 0);
        // Exactly the table size fits.
        assert_eq!(t.insert(&[b'x'; 60], &[b'y'; 8]), 0);
        assert_eq!(t.size(), 100);
        assert_eq!(t.set_max_size(99), 1);
        assert_eq!(t.len(), 0);
        assert!(t.get(0).is_none());
    }

    #[test]
    fn arena_stays_bounded_over_many_inserts() {
        let mut t = DynamicTable::new(4096);
        for i in 0..10_000u32 {
            let value = i.to_string().repeat((i % 50) as usize + 1);
            t.insert(b"x-key", value.as_bytes());
            assert_eq!(t.get(0).unwrap().1, value.as_bytes());
            assert!(t.size() <= 4096);
            assert!(t.arena.len() <= 2 * 4096);
        }
        // Every remaining entry is intact after all the compactions.
        let total: usize = entries(&t)
            .iter()
            .map(|(n, v)| n.len() + v.len() + 32)
            .sum();
        assert_eq!(total, t.size());
        t.set_max_size(0);
        assert_eq!(t.len(), 0);
        assert!(t.arena.capacity() <= 64);
    }
}
