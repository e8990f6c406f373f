//! Syscall helpers shared by the socket types, and the few places where
//! targets differ, kept together: creating and accepting
//! sockets with `CLOEXEC` (and optionally `O_NONBLOCK`) set atomically, the
//! `SIGPIPE` suppression, and waiting for a non-blocking `connect`.
//!
//! Linux and the BSDs have `SOCK_CLOEXEC | SOCK_NONBLOCK` on `socket` and
//! `accept4`. Apple targets have neither (rustix's `accept_with` ignores the
//! flags there), so the flags are set with `ioctl` right after; the window in
//! which a concurrent `fork` could inherit the descriptor is accepted on those
//! targets, as std does. Apple also lacks `MSG_NOSIGNAL`; `SO_NOSIGPIPE` is set
//! on every socket this crate creates instead.

use std::io::IoSlice;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::addr::SocketAddrArg;
use rustix::net::{
    sockopt, AddressFamily, SendAncillaryBuffer, SendFlags, SocketAddrAny, SocketType,
};

use crate::error::{Error, Result};

/// Flags for every `send`/`sendmsg`/`sendto`: a closed peer gives `EPIPE`
/// instead of killing the process with `SIGPIPE`.
#[cfg(not(target_vendor = "apple"))]
pub(crate) const SEND_FLAGS: SendFlags = SendFlags::NOSIGNAL;
/// Apple has no `MSG_NOSIGNAL`; `SO_NOSIGPIPE` is set on the socket instead.
#[cfg(target_vendor = "apple")]
pub(crate) const SEND_FLAGS: SendFlags = SendFlags::empty();

/// `socket(family, ty | SOCK_CLOEXEC [| SOCK_NONBLOCK])`.
#[cfg(not(target_vendor = "apple"))]
pub(crate) fn socket(family: AddressFamily, ty: SocketType, nonblocking: bool) -> Result<OwnedFd> {
    use rustix::net::SocketFlags;
    let mut flags = SocketFlags::CLOEXEC;
    if nonblocking {
        flags |= SocketFlags::NONBLOCK;
    }
    Ok(rustix::net::socket_with(family, ty, flags, None)?)
}

/// `socket(family, ty)`, then `FD_CLOEXEC`, `O_NONBLOCK` and `SO_NOSIGPIPE`.
#[cfg(target_vendor = "apple")]
pub(crate) fn socket(family: AddressFamily, ty: SocketType, nonblocking: bool) -> Result<OwnedFd> {
    let fd = rustix::net::socket(family, ty, None)?;
    apple_fixup(&fd, nonblocking)?;
    Ok(fd)
}

/// `socketpair(AF_UNIX, ty | SOCK_CLOEXEC)`: two connected, blocking sockets.
#[cfg(not(target_vendor = "apple"))]
pub(crate) fn unix_pair(ty: SocketType) -> Result<(OwnedFd, OwnedFd)> {
    use rustix::net::SocketFlags;
    Ok(rustix::net::socketpair(
        AddressFamily::UNIX,
        ty,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// `socketpair(AF_UNIX, ty)`, then `FD_CLOEXEC` and `SO_NOSIGPIPE` on both.
#[cfg(target_vendor = "apple")]
pub(crate) fn unix_pair(ty: SocketType) -> Result<(OwnedFd, OwnedFd)> {
    use rustix::net::SocketFlags;
    let (a, b) = rustix::net::socketpair(AddressFamily::UNIX, ty, SocketFlags::empty(), None)?;
    apple_fixup(&a, false)?;
    apple_fixup(&b, false)?;
    Ok((a, b))
}

/// `accept4(fd, SOCK_NONBLOCK | SOCK_CLOEXEC)`, returning the peer address.
#[cfg(not(target_vendor = "apple"))]
pub(crate) fn accept(listener: impl AsFd) -> Result<(OwnedFd, Option<SocketAddrAny>)> {
    use rustix::net::SocketFlags;
    let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
    Ok(rustix::net::acceptfrom_with(listener, flags)?)
}

/// `accept(fd)`, then `FD_CLOEXEC`, `O_NONBLOCK` and `SO_NOSIGPIPE`.
#[cfg(target_vendor = "apple")]
pub(crate) fn accept(listener: impl AsFd) -> Result<(OwnedFd, Option<SocketAddrAny>)> {
    let (fd, addr) = rustix::net::acceptfrom(listener)?;
    apple_fixup(&fd, true)?;
    Ok((fd, addr))
}

#[cfg(target_vendor = "apple")]
fn apple_fixup(fd: &OwnedFd, nonblocking: bool) -> Result<()> {
    rustix::io::ioctl_fioclex(fd)?;
    if nonblocking {
        rustix::io::ioctl_fionbio(fd, true)?;
    }
    rustix::net::sockopt::set_socket_nosigpipe(fd, true)?;
    Ok(())
}

/// Called on descriptors that come from outside this crate (`From<OwnedFd>`,
/// `from_std`): on Apple, make sure a write to a closed peer cannot raise
/// `SIGPIPE`. Errors are ignored: the descriptor may not be a socket, and then
/// every later call reports that anyway.
#[inline]
pub(crate) fn adopt(fd: &OwnedFd) {
    #[cfg(target_vendor = "apple")]
    {
        let _ = rustix::net::sockopt::set_socket_nosigpipe(fd, true);
    }
    #[cfg(not(target_vendor = "apple"))]
    let _ = fd;
}

/// Toggle `O_NONBLOCK` (via `FIONBIO`, one syscall on every target).
pub(crate) fn set_nonblocking(fd: impl AsFd, nonblocking: bool) -> Result<()> {
    Ok(rustix::io::ioctl_fionbio(fd, nonblocking)?)
}

/// The address family for an IP socket address.
pub(crate) fn family_of(addr: &SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    }
}

/// An address the kernel returned for an IP socket, as std's type.
pub(crate) fn ip_addr(addr: SocketAddrAny) -> Result<SocketAddr> {
    // The only failure is a non-IP family, which an IP socket never reports.
    Ok(SocketAddr::try_from(addr)?)
}

/// How long [`connect_ip`] waits for the handshake.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ConnectWait {
    /// Return at once; the caller waits for writability.
    No,
    /// Until the kernel gives up.
    Forever,
    /// Until this instant, then [`Error::TimedOut`].
    Until(Instant),
}

/// Start a connect on a fresh non-blocking socket and wait as `wait` says.
/// The socket stays non-blocking.
pub(crate) fn connect_ip(addr: &SocketAddr, wait: ConnectWait) -> Result<OwnedFd> {
    let fd = socket(family_of(addr), SocketType::STREAM, true)?;
    match rustix::net::connect(&fd, addr) {
        Ok(()) => return Ok(fd),
        // EINTR: the connect goes on in the background, exactly like
        // EINPROGRESS, so wait for it the same way.
        Err(Errno::INPROGRESS) | Err(Errno::INTR) => {}
        Err(e) => return Err(e.into()),
    }
    match wait {
        ConnectWait::No => {}
        ConnectWait::Forever => wait_connected(&fd, None)?,
        ConnectWait::Until(deadline) => wait_connected(&fd, Some(deadline))?,
    }
    Ok(fd)
}

/// `connect` to a Unix or other non-IP address on a blocking socket.
pub(crate) fn connect_blocking(
    family: AddressFamily,
    ty: SocketType,
    addr: &impl SocketAddrArg,
) -> Result<OwnedFd> {
    let fd = socket(family, ty, false)?;
    rustix::net::connect(&fd, addr)?;
    Ok(fd)
}

/// Wait until a non-blocking connect on `fd` completes, then report its result
/// from `SO_ERROR`.
fn wait_connected(fd: &OwnedFd, deadline: Option<Instant>) -> Result<()> {
    loop {
        let timeout = match deadline {
            None => None,
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(Error::TimedOut);
                }
                Some(timespec(deadline - now))
            }
        };
        let mut fds = [PollFd::new(fd, PollFlags::OUT)];
        match poll(&mut fds, timeout.as_ref()) {
            // Timed out or woken early: the deadline check above decides.
            Ok(0) | Err(Errno::INTR) => continue,
            Ok(_) => break,
            Err(e) => return Err(e.into()),
        }
    }
    rustix::net::sockopt::socket_error(fd)??;
    // Writable with no pending error normally means connected; a hang-up that
    // left no error behind is reported as "not connected".
    match rustix::net::getpeername(fd)? {
        Some(_) => Ok(()),
        None => Err(Error::NotConnected),
    }
}

/// A poll timeout, saturating for durations beyond what `Timespec` holds.
fn timespec(d: Duration) -> Timespec {
    Timespec::try_from(d).unwrap_or(Timespec {
        tv_sec: i64::MAX,
        tv_nsec: 0,
    })
}

/// Sub-second socket options (keepalive idle time) are whole seconds in the
/// kernel: round up, so `1ms` means `1s` rather than "off".
pub(crate) fn whole_seconds_at_least_one(d: Duration) -> Duration {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}

/// `IOV_MAX` on Linux, macOS and the BSDs. `sendmsg` with more slices fails with
/// `EMSGSIZE`; sending the first `IOV_MAX` is a valid partial write instead.
pub(crate) const IOV_MAX: usize = 1024;

/// `sendmsg` without ancillary data, shared by the stream types.
pub(crate) fn sendmsg(fd: &OwnedFd, bufs: &[IoSlice<'_>]) -> Result<usize> {
    let bufs = bufs.get(..IOV_MAX).unwrap_or(bufs);
    let mut control = SendAncillaryBuffer::default();
    Ok(rustix::net::sendmsg(fd, bufs, &mut control, SEND_FLAGS)?)
}

/// `SO_RCVTIMEO`/`SO_SNDTIMEO`, shared by the socket types.
pub(crate) fn set_timeout(
    fd: &OwnedFd,
    which: sockopt::Timeout,
    timeout: Option<Duration>,
) -> Result<()> {
    if timeout.is_some_and(|t| t.is_zero()) {
        return Err(Error::InvalidInput(
            "socket timeout must be non-zero (use None for no timeout)",
        ));
    }
    Ok(sockopt::set_socket_timeout(fd, which, timeout)?)
}

pub(crate) fn shutdown_how(how: Shutdown) -> rustix::net::Shutdown {
    match how {
        Shutdown::Read => rustix::net::Shutdown::Read,
        Shutdown::Write => rustix::net::Shutdown::Write,
        Shutdown::Both => rustix::net::Shutdown::Both,
    }
}
