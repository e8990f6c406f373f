//! The epoll backend (Linux, Android).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::event::Timespec;

use crate::event::{bits, Event, Events, Interest, Mode, Token};
use crate::poller::Backend;

/// epoll(7): one epoll instance per poller.
pub struct Epoll {
    fd: OwnedFd,
    raw: Vec<epoll::Event>,
}

/// The longest wait `epoll_pwait` takes in milliseconds; longer waits are cut to it
/// (about 24 days), which callers cannot tell from a spurious wakeup.
const MAX_WAIT: Duration = Duration::from_millis(i32::MAX as u64);

fn flags(interest: Interest, mode: Mode) -> EventFlags {
    let mut f = EventFlags::empty();
    if interest.is_readable() {
        // RDHUP tells a half-closed peer apart without a read.
        f |= EventFlags::IN | EventFlags::RDHUP;
    }
    if interest.is_writable() {
        f |= EventFlags::OUT;
    }
    match mode {
        Mode::Level => {}
        Mode::Edge => f |= EventFlags::ET,
        // epoll_ctl(2): with EPOLLEXCLUSIVE only IN, OUT, WAKEUP and ET may be set.
        Mode::Exclusive => f = (f - EventFlags::RDHUP) | EventFlags::EXCLUSIVE,
    }
    f
}

impl Backend for Epoll {
    fn new() -> io::Result<Self> {
        let fd = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        Ok(Epoll {
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
        epoll::add(
            &self.fd,
            fd,
            EventData::new_u64(token.0 as u64),
            flags(interest, mode),
        )?;
        Ok(())
    }

    fn reregister(
        &self,
        fd: BorrowedFd<'_>,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> io::Result<()> {
        if mode == Mode::Exclusive {
            // epoll_ctl(2): EPOLLEXCLUSIVE is accepted only with EPOLL_CTL_ADD.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an exclusive registration cannot be modified; deregister and register again",
            ));
        }
        epoll::modify(
            &self.fd,
            fd,
            EventData::new_u64(token.0 as u64),
            flags(interest, mode),
        )?;
        Ok(())
    }

    fn deregister(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        epoll::delete(&self.fd, fd)?;
        Ok(())
    }

    fn poll(&mut self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        events.clear();
        self.raw.clear();
        if self.raw.capacity() < events.capacity() {
            self.raw.reserve_exact(events.capacity());
        }
        let ts = timeout.map(|t| {
            let t = t.min(MAX_WAIT);
            Timespec {
                tv_sec: t.as_secs() as _,
                tv_nsec: t.subsec_nanos() as _,
            }
        });
        let cap = events.capacity();
        // Only take as many events as the caller's buffer holds.
        let spare = &mut self.raw.spare_capacity_mut()[..cap];
        match epoll::wait(self.fd.as_fd(), spare, ts.as_ref()) {
            Ok((filled, _)) => {
                for ev in filled.iter() {
                    events.push(convert(ev));
                }
                Ok(())
            }
            Err(rustix::io::Errno::INTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn convert(ev: &epoll::Event) -> Event {
    let f = ev.flags;
    let mut ready = 0;
    if f.intersects(EventFlags::IN | EventFlags::PRI) {
        ready |= bits::READABLE;
    }
    if f.contains(EventFlags::OUT) {
        ready |= bits::WRITABLE;
    }
    if f.contains(EventFlags::ERR) {
        ready |= bits::ERROR;
    }
    if f.contains(EventFlags::HUP) {
        // Both halves gone: report readable so the owner reads the EOF or error.
        ready |= bits::READ_CLOSED | bits::WRITE_CLOSED | bits::READABLE;
    }
    if f.contains(EventFlags::RDHUP) {
        ready |= bits::READ_CLOSED | bits::READABLE;
    }
    Event::new(Token(ev.data.u64() as usize), ready)
}

impl std::fmt::Debug for Epoll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Epoll").field("fd", &self.fd).finish()
    }
}

impl AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
