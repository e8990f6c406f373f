//! The encoder's lookup of fields and names in its dynamic table.
//!
//! Two hash maps from a field's (name + value) hash and a name's hash to the
//! sequence number of the newest entry with that hash. A table scan would
//! cost up to 128 comparisons per field; this costs two probes.
//!
//! Evicted entries are not removed: entries leave the table oldest first,
//! so if the newest entry with a hash is gone, every older one is too, and
//! a stale sequence number simply finds nothing. The maps are rebuilt from
//! the live entries when stale keys pile up. A hash collision can only make
//! a lookup miss (the entry is compared before use), never pick a wrong one.

use crate::table::{DynamicTable, ENTRY_OVERHEAD};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes of a field's name and of its name and value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldHashes {
    name: u64,
    field: u64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct FieldIndex {
    fields: HashMap<u64, u64, BuildHasherDefault<PreHashed>>,
    names: HashMap<u64, u64, BuildHasherDefault<PreHashed>>,
}

impl FieldIndex {
    pub(crate) fn hash(name: &[u8], value: &[u8]) -> FieldHashes {
        let name_hash = hash_bytes(0x9e37_79b9_7f4a_7c15, name);
        FieldHashes {
            name: name_hash,
            field: hash_bytes(name_hash, value),
        }
    }

    /// Position of the newest entry equal to `name: value`.
    pub(crate) fn find_field(
        &self,
        table: &DynamicTable,
        name: &[u8],
        value: &[u8],
        h: FieldHashes,
    ) -> Option<usize> {
        let seq = *self.fields.get(&h.field)?;
        let i = table.position(seq)?;
        let (n, v) = table.get(i)?;
        (n == name && v == value).then_some(i)
    }

    /// Position of the newest entry named `name`.
    pub(crate) fn find_name(
        &self,
        table: &DynamicTable,
        name: &[u8],
        h: FieldHashes,
    ) -> Option<usize> {
        let seq = *self.names.get(&h.name)?;
        let i = table.position(seq)?;
        let (n, _) = table.get(i)?;
        (n == name).then_some(i)
    }

    /// Records that the entry with sequence number `seq` was inserted.
    ///
    /// The maps never grow past what the table can hold: when full, stale
    /// keys are dropped (a rebuild) instead, so at steady state recording
    /// allocates nothing. (`names` never has more keys than `fields`.)
    pub(crate) fn record(&mut self, table: &DynamicTable, seq: u64, h: FieldHashes) {
        if self.fields.len() >= self.fields.capacity() {
            if self.fields.len() > table.len() {
                self.rebuild(table);
            }
            // The most entries the table can hold, plus the one recorded now.
            let want = table.max_size() / ENTRY_OVERHEAD + 2;
            if self.fields.capacity() < want {
                self.fields.reserve(want - self.fields.len());
                self.names.reserve(want - self.names.len());
            }
        }
        self.fields.insert(h.field, seq);
        self.names.insert(h.name, seq);
    }

    fn rebuild(&mut self, table: &DynamicTable) {
        self.fields.clear();
        self.names.clear();
        // Oldest first, so that the newest entry of each hash wins.
        for i in (0..table.len()).rev() {
            let Some((name, value)) = table.get(i) else {
                continue;
            };
            let h = FieldIndex::hash(name, value);
            let seq = table.next_seq() - 1 - i as u64;
            self.fields.insert(h.field, seq);
            self.names.insert(h.name, seq);
        }
    }
}

/// A fast hash of `bytes`, 8 bytes per step (multiply and rotate, in the
/// manner of FxHash), finished so that the high bits are mixed too.
fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or_default());
        h = (h.rotate_left(26) ^ word).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(26) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// A `Hasher` for keys that are already hashes.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(self.0, bytes);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(table: &mut DynamicTable, index: &mut FieldIndex, name: &[u8], value: &[u8]) {
        let seq = table.next_seq();
        table.insert(name, value);
        if table.next_seq() != seq {
            index.record(table, seq, FieldIndex::hash(name, value));
        }
    }

    #[test]
    fn finds_live_entries_and_forgets_evicted_ones() {
        let mut table = DynamicTable::new(4096);
        let mut index = FieldIndex::default();
        for i in 0..2000u32 {
            let value = format!("v{i}");
            insert(&mut table, &mut index, b"x-n", value.as_bytes());
            let h = FieldIndex::hash(b"x-n", value.as_bytes());
            assert_eq!(
                index.find_field(&table, b"x-n", value.as_bytes(), h),
                Some(0)
            );
            assert_eq!(index.find_name(&table, b"x-n", h), Some(0));
            // Stale keys are pruned: the maps stay within what the table
            // can hold.
            assert!(index.fields.len() <= 4096 / 32 * 2 + 2);
        }
        // An entry from long ago has been evicted.
        let old = FieldIndex::hash(b"x-n", b"v3");
        assert_eq!(index.find_field(&table, b"x-n", b"v3", old), None);
        // Entries still in the table are found at their position.
        let h = FieldIndex::hash(b"x-n", b"v1990");
        assert_eq!(index.find_field(&table, b"x-n", b"v1990", h), Some(9));
    }

    #[test]
    fn a_repeated_field_is_found_at_its_newest_copy() {
        let mut table = DynamicTable::new(4096);
        let mut index = FieldIndex::default();
        insert(&mut table, &mut index, b"a", b"1");
        insert(&mut table, &mut index, b"b", b"2");
        insert(&mut table, &mut index, b"a", b"1");
        let h = FieldIndex::hash(b"a", b"1");
        assert_eq!(index.find_field(&table, b"a", b"1", h), Some(0));
        let h = FieldIndex::hash(b"a", b"other");
        assert_eq!(index.find_field(&table, b"a", b"other", h), None);
        assert_eq!(index.find_name(&table, b"a", h), Some(0));
        assert_eq!(
            index.find_name(&table, b"c", FieldIndex::hash(b"c", b"")),
            None
        );
    }

    #[test]
    fn entries_too_large_for_the_table_are_not_recorded() {
        let mut table = DynamicTable::new(64);
        let mut index = FieldIndex::default();
        insert(&mut table, &mut index, b"big", &[b'x'; 100]);
        insert(&mut table, &mut index, b"s", b"1");
        let h = FieldIndex::hash(b"big", &[b'x'; 100]);
        assert_eq!(index.find_field(&table, b"big", &[b'x'; 100], h), None);
        assert_eq!(
            index.find_field(&table, b"s", b"1", FieldIndex::hash(b"s", b"1")),
            Some(0)
        );
    }
}
