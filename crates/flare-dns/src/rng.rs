//! A small seeded generator for query ids and server rotation.
//!
//! Query ids are the main defence of a stub resolver against off-path spoofing
//! (RFC 5452 9.2), so the seed comes from the OS at the front ends; the state machine
//! only ever sees the generator, which keeps its tests deterministic.

use std::io::Read;

/// SplitMix64: tiny, fast, and every seed gives a full-period sequence.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator with a fixed seed, for tests and reproducible runs.
    pub fn from_seed(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator seeded from `/dev/urandom`.
    pub fn from_os() -> std::io::Result<Self> {
        let mut seed = [0u8; 8];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
        Ok(Self::from_seed(u64::from_ne_bytes(seed)))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next 16 random bits.
    pub fn next_u16(&mut self) -> u16 {
        (self.next_u64() >> 48) as u16
    }

    /// A value in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_spread_over_the_space() {
        let mut r = Rng::from_seed(1);
        let ids: std::collections::HashSet<u16> = (0..1000).map(|_| r.next_u16()).collect();
        assert!(ids.len() > 980, "{}", ids.len());
        assert!(Rng::from_os().unwrap().next_u64() != Rng::from_os().unwrap().next_u64());
        assert!(r.below(3) < 3);
        assert_eq!(r.below(0), 0);
    }
}
