//! The kqueue backend (macOS, iOS, the BSDs). Compiled by inspection only: the project's
//! machines are Linux (see docs/features.md).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::kqueue::{self, EventFilter, EventFlags};

use crate::event::{bits, Event, Events, Interest, Mode, Token};
use crate::poller::Backend;

/// kqueue(2): one queue per poller; read and write are separate filters.
pub struct Kqueue {
    fd: OwnedFd,
    raw: Vec<kqueue::Event>,
}

impl Kqueue {
    fn apply(&self, changes: &[kqueue::Event]) -> io::Result<()> {
        let mut out: Vec<kqueue::Event> = Vec::with_capacity(changes.len());
        // SAFETY: the descriptors named in `changes` are borrowed from the caller for
        // this call; the kernel drops a registration when its descriptor closes, so no
        // later event can name a closed descriptor. EV_RECEIPT makes each change report
        // its own status into `out` instead of returning pending events.
        unsafe { kqueue::kevent(&self.fd, changes, &mut out, Some(Duration::ZERO))? };
        for ev in &out {
            if ev.flags().contains(EventFlags::ERROR) && ev.data() != 0 {
                let errno = ev.data() as i32;
                // Deleting a filter that was never added is not an error for us.
                if errno != rustix::io::Errno::NOENT.raw_os_error() {
                    return Err(io::Error::from_raw_os_error(errno));
                }
            }
        }
        Ok(())
    }

    fn changes(
        fd: BorrowedFd<'_>,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> [kqueue::Event; 2] {
        let raw = fd.as_raw_fd();
        let mut on = EventFlags::ADD | EventFlags::RECEIPT;
        if mode == Mode::Edge {
            on |= EventFlags::CLEAR;
        }
        let off = EventFlags::DELETE | EventFlags::RECEIPT;
        let udata = token.0 as *mut core::ffi::c_void;
        [
            kqueue::Event::new(
                EventFilter::Read(raw),
                if interest.is_readable() { on } else { off },
                udata,
            ),
            kqueue::Event::new(
                EventFilter::Write(raw),
                if interest.is_writable() { on } else { off },
                udata,
            ),
        ]
    }
}

impl Backend for Kqueue {
    fn new() -> io::Result<Self> {
        let fd = kqueue::kqueue()?;
        rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC)?;
        Ok(Kqueue {
            fd,
            raw: Vec::new(),
        })
    }

    fn register(
        &self,
        fd: BorrowedFd<'_>,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> io::Result<()> {
        self.apply(&Self::changes(fd, token, interest, mode))
    }

    fn reregister(
        &self,
        fd: BorrowedFd<'_>,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> io::Result<()> {
        self.apply(&Self::changes(fd, token, interest, mode))
    }

    fn deregister(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        let off = EventFlags::DELETE | EventFlags::RECEIPT;
        let null = core::ptr::null_mut();
        self.apply(&[
            kqueue::Event::new(EventFilter::Read(raw), off, null),
            kqueue::Event::new(EventFilter::Write(raw), off, null),
        ])
    }

    fn poll(&mut self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        events.clear();
        self.raw.clear();
        self.raw.reserve_exact(events.capacity());
        // SAFETY: no changes are submitted, so no descriptor is named by this call.
        let res = unsafe { kqueue::kevent(&self.fd, &[], &mut self.raw, timeout) };
        match res {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        for ev in &self.raw {
            let mut ready = match ev.filter() {
                EventFilter::Read(_) => bits::READABLE,
                EventFilter::Write(_) => bits::WRITABLE,
                _ => 0,
            };
            if ev.flags().contains(EventFlags::EOF) {
                ready |= if ready & bits::READABLE != 0 {
                    bits::READ_CLOSED
                } else {
                    bits::WRITE_CLOSED
                };
            }
            if ev.flags().contains(EventFlags::ERROR) {
                ready |= bits::ERROR;
            }
            events.push(Event::new(Token(ev.udata() as usize), ready));
        }
        Ok(())
    }
}

impl std::fmt::Debug for Kqueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kqueue").field("fd", &self.fd).finish()
    }
}

impl AsFd for Kqueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
