//! The timer wheel against an ordered-map model on a virtual clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use flare_reactor::{TimerId, TimerWheel};
use proptest::prelude::*;

const TICK_MS: u64 = 10;

#[derive(Clone, Debug)]
enum Op {
    /// Schedule at now + offset ms.
    Schedule(u64),
    /// Cancel the k-th id ever issued (mod count).
    Cancel(usize),
    /// Advance the clock by ms and expire.
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..20_000).prop_map(Op::Schedule),
        2 => any::<usize>().prop_map(Op::Cancel),
        3 => (0u64..3_000).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn wheel_matches_model(ops in proptest::collection::vec(op(), 1..300)) {
        let start = Instant::now();
        // A small wheel so many timers lap it.
        let mut wheel: TimerWheel<u32> = TimerWheel::new(start, Duration::from_millis(TICK_MS), 64);
        // Model: value -> (deadline ms, due tick). A deadline rounds up to a tick and
        // never lands before the first tick not yet expired.
        let mut model: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        let mut ids: Vec<(TimerId, u32)> = Vec::new();
        let mut now_ms = 0u64;
        let mut current = 0u64;
        let mut next_value = 0u32;
        for op in ops {
            match op {
                Op::Schedule(off) => {
                    let v = next_value;
                    next_value += 1;
                    let deadline = now_ms + off;
                    let id = wheel.schedule(start + Duration::from_millis(deadline), v);
                    ids.push((id, v));
                    model.insert(v, (deadline, deadline.div_ceil(TICK_MS).max(current)));
                }
                Op::Cancel(k) => {
                    if ids.is_empty() { continue; }
                    let (id, v) = ids[k % ids.len()];
                    let got = wheel.cancel(id);
                    let want = model.remove(&v).map(|_| v);
                    prop_assert_eq!(got, want);
                }
                Op::Advance(ms) => {
                    now_ms += ms;
                    let mut fired = Vec::new();
                    wheel.expire(start + Duration::from_millis(now_ms), |v| fired.push(v));
                    fired.sort();
                    let target = now_ms / TICK_MS;
                    let want: Vec<u32> = model.iter().filter(|(_, (_, t))| *t <= target).map(|(v, _)| *v).collect();
                    prop_assert_eq!(&fired, &want);
                    for v in &fired {
                        let (d, _) = model.remove(v).unwrap();
                        prop_assert!(d <= now_ms, "fired early: deadline {} now {}", d, now_ms);
                    }
                    current = current.max(target + 1);
                }
            }
            prop_assert_eq!(wheel.len(), model.len());
            let want = model.values().map(|(_, t)| *t).min().map(|t| t * TICK_MS);
            let got = wheel.next_deadline().map(|i| i.duration_since(start).as_millis() as u64);
            prop_assert_eq!(got, want);
        }
    }
}

#[test]
fn fires_in_order_of_ticks_and_never_early() {
    let start = Instant::now();
    let mut w = TimerWheel::new(start, Duration::from_millis(100), 8);
    w.schedule(start + Duration::from_millis(250), "a");
    w.schedule(start + Duration::from_millis(5_000), "far");
    let id = w.schedule(start + Duration::from_millis(150), "cancelled");
    assert_eq!(w.cancel(id), Some("cancelled"));
    assert_eq!(w.cancel(id), None, "a stale id is ignored");
    let mut fired = vec![];
    w.expire(start + Duration::from_millis(299), |v| fired.push(v));
    assert!(fired.is_empty(), "250 ms rounds up to tick 3 (300 ms)");
    w.expire(start + Duration::from_millis(300), |v| fired.push(v));
    assert_eq!(fired, ["a"]);
    assert_eq!(
        w.next_deadline(),
        Some(start + Duration::from_millis(5_000))
    );
    assert_eq!(
        w.timeout(start + Duration::from_millis(4_000)),
        Some(Duration::from_millis(1_000))
    );
    w.expire(start + Duration::from_secs(60), |v| fired.push(v));
    assert_eq!(fired, ["a", "far"]);
    assert!(w.is_empty());
    assert_eq!(w.next_deadline(), None);
}
