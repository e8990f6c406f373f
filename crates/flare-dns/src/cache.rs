//! A bounded TTL cache of lookup answers, with negative caching (RFC 2308).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::name::Name;
use crate::rdata::RecordType;

/// A cached answer for one (name, type).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CachedAnswer {
    /// The addresses, in server order.
    Addresses(Vec<IpAddr>),
    /// The name does not exist (RFC 2308 2.1).
    NxDomain,
    /// The name exists but has no records of the type (RFC 2308 2.2).
    NoData,
}

/// An answer a [`Lookup`](crate::Lookup) learned, to be stored with [`Cache::insert`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheUpdate {
    /// The name that was asked about (before any CNAME).
    pub name: Name,
    /// The type that was asked for.
    pub rtype: RecordType,
    /// What was learned.
    pub answer: CachedAnswer,
    /// For how long: the smallest TTL along the CNAME chain, or for negative answers
    /// the SOA's `min(TTL, MINIMUM)` (RFC 2308 5).
    pub ttl: u32,
}

#[derive(Clone, Debug)]
struct Entry {
    answer: CachedAnswer,
    expires: Instant,
}

/// Answers keyed by (name, type), each dropped when its TTL runs out. Holds at most
/// `capacity` entries; when full, expired entries go first, then the one closest to
/// expiry.
#[derive(Clone, Debug)]
pub struct Cache {
    /// Keyed by name alone so a lookup needs no key allocation; a name has few types.
    map: HashMap<Name, Vec<(RecordType, Entry)>>,
    entries: usize,
    capacity: usize,
    max_ttl: Duration,
}

impl Cache {
    /// A cache of at most `capacity` entries (0 caches nothing) whose TTLs are capped
    /// at `max_ttl`.
    pub fn new(capacity: usize, max_ttl: Duration) -> Self {
        Self {
            map: HashMap::new(),
            entries: 0,
            capacity,
            max_ttl,
        }
    }

    /// The live answer for `name`/`rtype`, if any.
    pub fn get(&self, name: &Name, rtype: RecordType, now: Instant) -> Option<&CachedAnswer> {
        let (_, e) = self.map.get(name)?.iter().find(|(t, _)| *t == rtype)?;
        (e.expires > now).then_some(&e.answer)
    }

    /// Stores an update. TTL 0 answers are not stored (RFC 1035 3.2.1: "only for the
    /// transaction in progress").
    pub fn insert(&mut self, update: CacheUpdate, now: Instant) {
        if self.capacity == 0 || update.ttl == 0 {
            return;
        }
        let ttl = Duration::from_secs(u64::from(update.ttl)).min(self.max_ttl);
        let entry = Entry {
            answer: update.answer,
            expires: crate::deadline::later(now, ttl),
        };
        if let Some(slot) = self.slot_mut(&update.name, update.rtype) {
            *slot = entry;
            return;
        }
        if self.entries >= self.capacity {
            self.evict(now);
        }
        self.map
            .entry(update.name)
            .or_default()
            .push((update.rtype, entry));
        self.entries += 1;
    }

    fn slot_mut(&mut self, name: &Name, rtype: RecordType) -> Option<&mut Entry> {
        self.map
            .get_mut(name)?
            .iter_mut()
            .find(|(t, _)| *t == rtype)
            .map(|(_, e)| e)
    }

    /// Makes room for one entry: drops everything expired, and if that frees nothing,
    /// the entry closest to expiry.
    fn evict(&mut self, now: Instant) {
        for list in self.map.values_mut() {
            list.retain(|(_, e)| e.expires > now);
        }
        self.map.retain(|_, list| !list.is_empty());
        self.entries = self.map.values().map(Vec::len).sum();
        if self.entries < self.capacity {
            return;
        }
        let oldest = self
            .map
            .iter()
            .flat_map(|(n, list)| list.iter().map(move |(t, e)| (e.expires, n, *t)))
            .min_by_key(|(expires, _, _)| *expires)
            .map(|(_, n, t)| (n.clone(), t));
        if let Some((name, rtype)) = oldest {
            if let Some(list) = self.map.get_mut(&name) {
                list.retain(|(t, _)| *t != rtype);
                if list.is_empty() {
                    self.map.remove(&name);
                }
            }
            self.entries -= 1;
        }
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.map.clear();
        self.entries = 0;
    }

    /// How many entries are held, live or expired.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether no entries are held.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upd(name: &str, ttl: u32, answer: CachedAnswer) -> CacheUpdate {
        CacheUpdate {
            name: Name::from_ascii(name).unwrap(),
            rtype: RecordType::A,
            answer,
            ttl,
        }
    }

    #[test]
    fn honours_ttl_and_cap() {
        let t0 = Instant::now();
        let mut c = Cache::new(10, Duration::from_secs(60));
        let a = CachedAnswer::Addresses(vec!["10.0.0.1".parse().unwrap()]);
        c.insert(upd("a.example", 30, a.clone()), t0);
        c.insert(upd("big.example", 1_000_000, CachedAnswer::NxDomain), t0);
        c.insert(upd("zero.example", 0, CachedAnswer::NoData), t0);
        let n = |s| Name::from_ascii(s).unwrap();
        assert_eq!(
            c.get(&n("A.EXAMPLE"), RecordType::A, t0 + Duration::from_secs(29)),
            Some(&a)
        );
        assert_eq!(
            c.get(&n("a.example"), RecordType::A, t0 + Duration::from_secs(30)),
            None
        );
        assert_eq!(c.get(&n("a.example"), RecordType::AAAA, t0), None);
        assert_eq!(
            c.get(
                &n("big.example"),
                RecordType::A,
                t0 + Duration::from_secs(59)
            ),
            Some(&CachedAnswer::NxDomain)
        );
        assert_eq!(
            c.get(
                &n("big.example"),
                RecordType::A,
                t0 + Duration::from_secs(61)
            ),
            None
        );
        assert_eq!(c.get(&n("zero.example"), RecordType::A, t0), None);
        assert_eq!(c.len(), 2);
        let mut aaaa = upd("a.example", 30, CachedAnswer::NoData);
        aaaa.rtype = RecordType::AAAA;
        c.insert(aaaa, t0);
        c.insert(upd("a.example", 90, CachedAnswer::NxDomain), t0);
        assert_eq!(
            c.len(),
            3,
            "a second type adds an entry, a refresh does not"
        );
        assert_eq!(
            c.get(&n("a.example"), RecordType::A, t0 + Duration::from_secs(59)),
            Some(&CachedAnswer::NxDomain)
        );
        assert_eq!(
            c.get(&n("a.example"), RecordType::AAAA, t0),
            Some(&CachedAnswer::NoData)
        );
        c.clear();
        assert!(c.is_empty());
    }

    #[test]
    fn capacity_is_a_hard_bound() {
        let t0 = Instant::now();
        let mut c = Cache::new(3, Duration::from_secs(3600));
        for i in 0..10u32 {
            c.insert(
                upd(&format!("n{i}.example"), 100 + i, CachedAnswer::NoData),
                t0,
            );
            assert!(c.len() <= 3);
        }
        // The longest-lived entries survive.
        let n = |s: &str| Name::from_ascii(s).unwrap();
        assert!(c.get(&n("n9.example"), RecordType::A, t0).is_some());
        assert!(c.get(&n("n0.example"), RecordType::A, t0).is_none());
        let mut off = Cache::new(0, Duration::from_secs(1));
        off.insert(upd("a.example", 10, CachedAnswer::NoData), t0);
        assert!(off.is_empty());
    }
}
