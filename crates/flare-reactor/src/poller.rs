//! The backend trait and the poller that wraps it.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use crate::event::{Events, Interest, Mode, Token};
use crate::sys::DefaultBackend;

/// One OS readiness mechanism. Implemented by the epoll backend (Linux) and the kqueue
/// backend (macOS, the BSDs); a backend for io_uring in poll mode fits the same shape.
pub trait Backend: Sized {
    /// Creates the OS object (close-on-exec).
    fn new() -> io::Result<Self>;
    /// Starts watching `fd` for `interest`, reported under `token`.
    fn register(
        &self,
        fd: BorrowedFd<'_>,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> io::Result<()>;
    /// Changes what an already registered `fd` is watched for.
    fn reregister(
        &self,
        fd: BorrowedFd<'_>,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> io::Result<()>;
    /// Stops watching `fd`.
    fn deregister(&self, fd: BorrowedFd<'_>) -> io::Result<()>;
    /// Waits until at least one event is ready or `timeout` passes (`None`: forever),
    /// replacing the contents of `events`. An interrupted wait returns with no events.
    fn poll(&mut self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()>;
}

/// A readiness poller over the platform's [`Backend`].
#[derive(Debug)]
pub struct Poller<B: Backend = DefaultBackend> {
    backend: B,
}

impl Poller<DefaultBackend> {
    /// A poller on the platform's default backend.
    pub fn new() -> io::Result<Self> {
        Ok(Poller {
            backend: DefaultBackend::new()?,
        })
    }
}

impl<B: Backend> Poller<B> {
    /// A poller on a chosen backend.
    pub fn with_backend(backend: B) -> Self {
        Poller { backend }
    }

    /// Starts watching `source`. See [`Mode`] for level, edge and exclusive reporting.
    pub fn register(
        &self,
        source: &impl AsFd,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> io::Result<()> {
        self.backend.register(source.as_fd(), token, interest, mode)
    }

    /// Changes the interest, token or mode of a registered `source`.
    pub fn reregister(
        &self,
        source: &impl AsFd,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> io::Result<()> {
        self.backend
            .reregister(source.as_fd(), token, interest, mode)
    }

    /// Stops watching `source`. Closing a descriptor also removes it.
    pub fn deregister(&self, source: &impl AsFd) -> io::Result<()> {
        self.backend.deregister(source.as_fd())
    }

    /// Waits for events, at most `timeout` (`None` waits forever; `Some(ZERO)` does not
    /// wait). The previous contents of `events` are replaced. A signal interrupting
    /// the wait returns `Ok` with no events.
    pub fn poll(&mut self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        self.backend.poll(events, timeout)
    }

    /// The backend, for backend-specific calls.
    pub fn backend(&self) -> &B {
        &self.backend
    }
}
