//! The readiness reactor under every flare worker: a small backend trait with an
//! epoll backend (Linux) and a kqueue backend (macOS and the BSDs), a cross-thread
//! [`Waker`], and a hashed [`TimerWheel`] driven by an explicit `now`.
