//! A cross-thread wake-up for a poller: eventfd on Linux, a pipe elsewhere.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use crate::event::{Interest, Mode, Token};
use crate::poller::{Backend, Poller};

/// Wakes a [`Poller`] from any thread. The poller reports an event with the waker's
/// token; the owner then calls [`Waker::drain`] (wakes are coalesced: many `wake`
/// calls before a drain give one event).
#[derive(Debug)]
pub struct Waker {
    read: OwnedFd,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    write: OwnedFd,
}

impl Waker {
    /// Creates a waker registered (level-triggered, readable) with `poller` under `token`.
    pub fn new<B: Backend>(poller: &Poller<B>, token: Token) -> io::Result<Waker> {
        let waker = Self::create()?;
        poller.register(&waker.read, token, Interest::READABLE, Mode::Level)?;
        Ok(waker)
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn create() -> io::Result<Waker> {
        use rustix::event::{eventfd, EventfdFlags};
        let read = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Waker { read })
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn create() -> io::Result<Waker> {
        use rustix::io::{fcntl_setfd, FdFlags};
        let (read, write) = rustix::pipe::pipe()?;
        for fd in [&read, &write] {
            fcntl_setfd(fd, FdFlags::CLOEXEC)?;
            let fl = rustix::fs::fcntl_getfl(fd)?;
            rustix::fs::fcntl_setfl(fd, fl | rustix::fs::OFlags::NONBLOCK)?;
        }
        Ok(Waker { read, write })
    }

    /// Makes the poller return with this waker's token. Safe to call from any thread,
    /// any number of times.
    pub fn wake(&self) -> io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let fd = self.read.as_fd();
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let fd = self.write.as_fd();
        match rustix::io::write(fd, &1u64.to_ne_bytes()) {
            // A full counter (or pipe) already guarantees a pending wake-up.
            Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Clears pending wakes; call it when the poller reports the waker's token.
    pub fn drain(&self) -> io::Result<()> {
        let mut buf = [0u8; 64];
        loop {
            match rustix::io::read(&self.read, &mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) if n < buf.len() => return Ok(()),
                Ok(_) => continue,
                Err(rustix::io::Errno::AGAIN) => return Ok(()),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}
