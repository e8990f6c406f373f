//! Budgets for frames that cost us work but carry no request: PING,
//! SETTINGS, empty DATA and PRIORITY floods.

use std::time::{Duration, Instant};

/// Counts events within a fixed window of time.
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    limit: u32,
    used: u32,
    since: Instant,
}

impl Budget {
    pub(crate) fn new(limit: u32, now: Instant) -> Self {
        Budget {
            limit,
            used: 0,
            since: now,
        }
    }

    /// Spends one unit; false when the budget for the current window is gone.
    pub(crate) fn spend(&mut self, now: Instant, window: Duration) -> bool {
        if now.saturating_duration_since(self.since) >= window {
            self.since = now;
            self.used = 0;
        }
        self.used = self.used.saturating_add(1);
        self.used <= self.limit
    }
}
