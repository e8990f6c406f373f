//! The per-request cancel token.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Flipped by the server when the request's result can no longer be delivered or is no
/// longer wanted: the peer closed the connection, reset the stream, the server is
/// draining past its deadline, or a timeout middleware gave up. A long handler polls
/// [`is_cancelled`](Self::is_cancelled) and stops early.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A fresh, not cancelled token.
    pub fn new() -> Self {
        Self::default()
    }
    /// Whether the request was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// Cancels the request (servers and middleware call this).
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Clears the flag for reuse by the next request of a connection, or gives a fresh
    /// token if a handler kept a clone of this one (so the old request's observers are
    /// not confused by the new request's state).
    pub fn reset(&mut self) {
        if Arc::strong_count(&self.0) == 1 {
            self.0.store(false, Ordering::Relaxed);
        } else {
            *self = Self::new();
        }
    }
}
