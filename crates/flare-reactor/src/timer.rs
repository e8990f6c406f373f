//! A hashed timer wheel (Varghese and Lauck, scheme 6) on an explicit clock.
//!
//! Time is split into ticks of a fixed length from a start instant; slot `t % slots`
//! holds every timer due at tick `t`, `t + slots`, `t + 2 * slots`, ... in an intrusive
//! doubly linked list over a slab, so [`schedule`](TimerWheel::schedule) and
//! [`cancel`](TimerWheel::cancel) are O(1). A timer never fires early: its deadline is
//! rounded up to a tick, and it fires on the first [`expire`](TimerWheel::expire) whose
//! `now` has reached that tick, so it is late by less than one tick plus the caller's
//! polling delay.

use std::time::{Duration, Instant};

const NIL: u32 = u32::MAX;

/// Names a scheduled timer for [`TimerWheel::cancel`]. A stale id (the timer fired or
/// was cancelled) is recognised and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

#[derive(Debug)]
struct Entry<T> {
    value: Option<T>,
    tick: u64,
    prev: u32,
    next: u32,
    generation: u32,
}

/// A hashed timer wheel holding values of type `T`.
#[derive(Debug)]
pub struct TimerWheel<T> {
    start: Instant,
    tick_nanos: u64,
    slots: Box<[u32]>,
    mask: u64,
    entries: Vec<Entry<T>>,
    free: u32,
    /// Every tick below this one has been expired.
    current: u64,
    len: usize,
    /// Cached earliest tick; `None` means "not known", recomputed on demand.
    next_cache: Option<u64>,
}

impl<T> TimerWheel<T> {
    /// A wheel starting at `start` with ticks of `tick` (at least 1 ms is sensible;
    /// zero is raised to 1 ns) and `slots` slots (rounded up to a power of two).
    pub fn new(start: Instant, tick: Duration, slots: usize) -> Self {
        let n = slots.max(1).next_power_of_two();
        TimerWheel {
            start,
            tick_nanos: (tick.as_nanos() as u64).max(1),
            slots: vec![NIL; n].into_boxed_slice(),
            mask: n as u64 - 1,
            entries: Vec::new(),
            free: NIL,
            current: 0,
            len: 0,
            next_cache: None,
        }
    }

    /// The tick length.
    pub fn tick(&self) -> Duration {
        Duration::from_nanos(self.tick_nanos)
    }

    /// How many timers are scheduled.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn floor_tick(&self, t: Instant) -> u64 {
        (t.saturating_duration_since(self.start).as_nanos() / self.tick_nanos as u128) as u64
    }

    fn ceil_tick(&self, t: Instant) -> u64 {
        let n = t.saturating_duration_since(self.start).as_nanos();
        n.div_ceil(self.tick_nanos as u128) as u64
    }

    /// The instant a tick begins.
    fn tick_instant(&self, tick: u64) -> Instant {
        let nanos = tick.saturating_mul(self.tick_nanos);
        self.start + Duration::from_nanos(nanos)
    }

    /// Schedules `value` to fire at `deadline` (a deadline in the past fires within
    /// one tick). O(1).
    pub fn schedule(&mut self, deadline: Instant, value: T) -> TimerId {
        let tick = self.ceil_tick(deadline).max(self.current);
        let index = if self.free != NIL {
            let i = self.free;
            let e = &mut self.entries[i as usize];
            self.free = e.next;
            e.value = Some(value);
            e.tick = tick;
            i
        } else {
            let i = self.entries.len() as u32;
            assert!(i != NIL, "timer wheel full");
            self.entries.push(Entry {
                value: Some(value),
                tick,
                prev: NIL,
                next: NIL,
                generation: 0,
            });
            i
        };
        self.link(index);
        self.len += 1;
        if let Some(c) = self.next_cache {
            if tick < c {
                self.next_cache = Some(tick);
            }
        } else if self.len == 1 {
            self.next_cache = Some(tick);
        }
        TimerId {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    fn link(&mut self, index: u32) {
        let slot = (self.entries[index as usize].tick & self.mask) as usize;
        let head = self.slots[slot];
        {
            let e = &mut self.entries[index as usize];
            e.prev = NIL;
            e.next = head;
        }
        if head != NIL {
            self.entries[head as usize].prev = index;
        }
        self.slots[slot] = index;
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next, tick) = {
            let e = &self.entries[index as usize];
            (e.prev, e.next, e.tick)
        };
        if prev != NIL {
            self.entries[prev as usize].next = next;
        } else {
            self.slots[(tick & self.mask) as usize] = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
    }

    /// Frees a linked entry and returns its value.
    fn remove(&mut self, index: u32) -> Option<T> {
        self.unlink(index);
        let e = &mut self.entries[index as usize];
        let value = e.value.take();
        e.generation = e.generation.wrapping_add(1);
        e.next = self.free;
        e.prev = NIL;
        self.free = index;
        self.len -= 1;
        if self.next_cache == Some(e.tick) {
            self.next_cache = None;
        }
        value
    }

    /// Cancels a timer; returns its value if it had not fired yet. O(1).
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        let e = self.entries.get(id.index as usize)?;
        if e.generation != id.generation || e.value.is_none() {
            return None;
        }
        self.remove(id.index)
    }

    /// Fires every timer due by `now`, oldest slot first, passing each value to
    /// `on_expire`. Costs one step per elapsed tick (at most one turn of the wheel)
    /// plus one per fired timer.
    pub fn expire(&mut self, now: Instant, mut on_expire: impl FnMut(T)) {
        let target = self.floor_tick(now);
        if target < self.current {
            return;
        }
        if self.len == 0 {
            self.current = target + 1;
            return;
        }
        let n_slots = self.mask + 1;
        let span = (target - self.current + 1).min(n_slots);
        for k in 0..span {
            let slot = ((self.current + k) & self.mask) as usize;
            let mut i = self.slots[slot];
            while i != NIL {
                let (next, tick) = {
                    let e = &self.entries[i as usize];
                    (e.next, e.tick)
                };
                if tick <= target {
                    if let Some(v) = self.remove(i) {
                        on_expire(v);
                    }
                }
                i = next;
            }
        }
        self.current = target + 1;
        if let Some(c) = self.next_cache {
            if c <= target {
                self.next_cache = None;
            }
        }
    }

    /// The earliest instant at which a timer is due (rounded to its tick), or `None`
    /// when nothing is scheduled. Use it as the poll timeout. Usually O(1) (cached);
    /// after the earliest timer fires or is cancelled, one scan of the wheel.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        let tick = match self.next_cache {
            Some(t) => t,
            None => {
                let t = self.scan_earliest();
                self.next_cache = Some(t);
                t
            }
        };
        Some(self.tick_instant(tick))
    }

    /// The time from `now` until the next deadline (zero if already due), for a poll
    /// timeout; `None` when nothing is scheduled.
    pub fn timeout(&mut self, now: Instant) -> Option<Duration> {
        self.next_deadline()
            .map(|d| d.saturating_duration_since(now))
    }

    fn scan_earliest(&self) -> u64 {
        let n_slots = self.mask + 1;
        for k in 0..n_slots {
            let t = self.current + k;
            let mut i = self.slots[(t & self.mask) as usize];
            while i != NIL {
                let e = &self.entries[i as usize];
                if e.tick <= t {
                    return e.tick;
                }
                i = e.next;
            }
        }
        // Everything is more than one turn away: take the minimum.
        self.entries
            .iter()
            .filter(|e| e.value.is_some())
            .map(|e| e.tick)
            .min()
            .unwrap_or(self.current)
    }
}
