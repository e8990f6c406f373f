//! Helpers shared by the integration tests: bounded waits on readiness (no
//! sleeps) and unique socket-file paths.
#![allow(dead_code)] // each test binary uses a different subset

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// Upper bound for any single wait in these tests; a healthy loopback run
/// needs milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// Wait until `fd` reports any of `flags` (plus error/hang-up), or panic after
/// [`WAIT`].
pub fn wait_for(fd: impl AsFd, flags: PollFlags) -> PollFlags {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {flags:?}");
        let ts = Timespec::try_from(left).unwrap();
        let mut fds = [PollFd::new(&fd, flags)];
        match poll(&mut fds, Some(&ts)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => return fds[0].revents(),
            Err(e) => panic!("poll: {e}"),
        }
    }
}

/// Wait until `fd` is readable.
pub fn wait_readable(fd: impl AsFd) -> PollFlags {
    wait_for(fd, PollFlags::IN)
}

/// Wait until `fd` is writable.
pub fn wait_writable(fd: impl AsFd) -> PollFlags {
    wait_for(fd, PollFlags::OUT)
}

/// A fresh socket-file path in the temp dir, unique per process and call,
/// short enough for `sun_path`. Any stale file is removed.
pub fn socket_path(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("flare-net-{}-{tag}-{n}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// A unique Linux abstract name for this process and call.
pub fn abstract_name(tag: &str) -> Vec<u8> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("flare-net-test-{}-{tag}-{n}", std::process::id()).into_bytes()
}

/// Deterministic test payload of `len` bytes.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}
