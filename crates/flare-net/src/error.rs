//! The crate's error type: every `errno` a socket call can return is mapped here,
//! in one place, so callers match on meaning (`WouldBlock`, `FdExhausted`) rather
//! than on numbers.

use core::fmt;
use std::io;

use rustix::io::Errno;

/// `Result` with this crate's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

/// A socket operation failed.
///
/// The variants a server reacts to differently get their own name; everything
/// else keeps the raw [`Errno`] in [`Error::Os`].
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// `EAGAIN`/`EWOULDBLOCK`: a non-blocking call has nothing to do now; wait for
    /// readiness and retry.
    WouldBlock,
    /// `EINTR`: a signal interrupted a blocking call; retry.
    Interrupted,
    /// `EADDRINUSE`: the local address is taken (or a Unix socket path exists).
    AddrInUse,
    /// `EADDRNOTAVAIL`: the local address is not on this host, or no ephemeral
    /// port is left.
    AddrNotAvailable,
    /// `ECONNREFUSED`: nothing listens at the remote address (or, for UDP, an
    /// ICMP port-unreachable arrived for an earlier datagram).
    ConnectionRefused,
    /// `ECONNRESET`: the peer reset the connection.
    ConnectionReset,
    /// `ECONNABORTED`: the connection was aborted before `accept` took it.
    ConnectionAborted,
    /// `EPIPE`: writing to a connection the peer (or we) already shut down.
    BrokenPipe,
    /// `ETIMEDOUT`, or a `connect_timeout` deadline passed.
    TimedOut,
    /// `ENOTCONN`: the socket is not connected.
    NotConnected,
    /// `EACCES` or `EPERM` (e.g. a privileged port, a firewall rule, a socket
    /// file without write permission).
    PermissionDenied,
    /// `EMFILE` or `ENFILE`: the process or the system is out of file
    /// descriptors. A server should stop accepting for a moment rather than spin;
    /// the pending connection stays in the listen queue.
    FdExhausted,
    /// The caller passed something this crate rejects before any syscall (or the
    /// kernel rejected with `EINVAL` where the reason is known). The text is a
    /// fixed description of what was wrong.
    InvalidInput(&'static str),
    /// A `std::io::Error` without an OS error code, converted from std (for
    /// example one built with `io::Error::from(ErrorKind::UnexpectedEof)`).
    Io(io::ErrorKind),
    /// Any other OS error.
    Os(Errno),
}

impl Error {
    /// `true` for [`Error::WouldBlock`]: wait for readiness and try again.
    #[inline]
    pub fn is_would_block(&self) -> bool {
        matches!(self, Error::WouldBlock)
    }

    /// The OS error code behind this error, when exactly one is known.
    ///
    /// `None` for [`Error::FdExhausted`] and [`Error::PermissionDenied`] (each
    /// covers two codes), [`Error::InvalidInput`] and [`Error::Io`].
    pub fn raw_os_error(&self) -> Option<i32> {
        self.errno().map(Errno::raw_os_error)
    }

    /// The single `errno` this variant stands for, if there is one.
    fn errno(&self) -> Option<Errno> {
        Some(match self {
            Error::WouldBlock => Errno::AGAIN,
            Error::Interrupted => Errno::INTR,
            Error::AddrInUse => Errno::ADDRINUSE,
            Error::AddrNotAvailable => Errno::ADDRNOTAVAIL,
            Error::ConnectionRefused => Errno::CONNREFUSED,
            Error::ConnectionReset => Errno::CONNRESET,
            Error::ConnectionAborted => Errno::CONNABORTED,
            Error::BrokenPipe => Errno::PIPE,
            Error::TimedOut => Errno::TIMEDOUT,
            Error::NotConnected => Errno::NOTCONN,
            Error::Os(e) => *e,
            Error::PermissionDenied
            | Error::FdExhausted
            | Error::InvalidInput(_)
            | Error::Io(_) => return None,
        })
    }
}

impl From<Errno> for Error {
    fn from(e: Errno) -> Self {
        // EWOULDBLOCK equals EAGAIN on every target rustix supports, so matching
        // AGAIN covers both.
        match e {
            Errno::AGAIN => Error::WouldBlock,
            Errno::INTR => Error::Interrupted,
            Errno::ADDRINUSE => Error::AddrInUse,
            Errno::ADDRNOTAVAIL => Error::AddrNotAvailable,
            Errno::CONNREFUSED => Error::ConnectionRefused,
            Errno::CONNRESET => Error::ConnectionReset,
            Errno::CONNABORTED => Error::ConnectionAborted,
            Errno::PIPE => Error::BrokenPipe,
            Errno::TIMEDOUT => Error::TimedOut,
            Errno::NOTCONN => Error::NotConnected,
            Errno::ACCESS | Errno::PERM => Error::PermissionDenied,
            Errno::MFILE | Errno::NFILE => Error::FdExhausted,
            other => Error::Os(other),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            // A single errno: let std build the error, so `raw_os_error()` and
            // `kind()` both come out right.
            Error::WouldBlock
            | Error::Interrupted
            | Error::AddrInUse
            | Error::AddrNotAvailable
            | Error::ConnectionRefused
            | Error::ConnectionReset
            | Error::ConnectionAborted
            | Error::BrokenPipe
            | Error::TimedOut
            | Error::NotConnected
            | Error::Os(_) => match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::other(e),
            },
            Error::PermissionDenied => io::Error::new(io::ErrorKind::PermissionDenied, e),
            Error::InvalidInput(_) => io::Error::new(io::ErrorKind::InvalidInput, e),
            Error::Io(kind) => io::Error::from(kind),
            // std has no kind for "out of descriptors"; keep ours inside so that
            // converting back recovers `FdExhausted`.
            Error::FdExhausted => io::Error::other(e),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        if let Some(code) = e.raw_os_error() {
            return Error::from(Errno::from_raw_os_error(code));
        }
        let kind = e.kind();
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(ours) = inner.downcast::<Error>() {
                    return *ours;
                }
            }
        }
        match kind {
            io::ErrorKind::WouldBlock => Error::WouldBlock,
            io::ErrorKind::Interrupted => Error::Interrupted,
            io::ErrorKind::AddrInUse => Error::AddrInUse,
            io::ErrorKind::AddrNotAvailable => Error::AddrNotAvailable,
            io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
            io::ErrorKind::ConnectionReset => Error::ConnectionReset,
            io::ErrorKind::ConnectionAborted => Error::ConnectionAborted,
            io::ErrorKind::BrokenPipe => Error::BrokenPipe,
            io::ErrorKind::TimedOut => Error::TimedOut,
            io::ErrorKind::NotConnected => Error::NotConnected,
            io::ErrorKind::PermissionDenied => Error::PermissionDenied,
            io::ErrorKind::InvalidInput => {
                Error::InvalidInput("invalid input (from std::io::Error)")
            }
            other => Error::Io(other),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WouldBlock => f.write_str("operation would block"),
            Error::Interrupted => f.write_str("interrupted by a signal"),
            Error::AddrInUse => f.write_str("address in use"),
            Error::AddrNotAvailable => f.write_str("address not available"),
            Error::ConnectionRefused => f.write_str("connection refused"),
            Error::ConnectionReset => f.write_str("connection reset by peer"),
            Error::ConnectionAborted => f.write_str("connection aborted"),
            Error::BrokenPipe => f.write_str("broken pipe"),
            Error::TimedOut => f.write_str("timed out"),
            Error::NotConnected => f.write_str("socket not connected"),
            Error::PermissionDenied => f.write_str("permission denied"),
            Error::FdExhausted => f.write_str("out of file descriptors (EMFILE/ENFILE)"),
            Error::InvalidInput(what) => write!(f, "invalid input: {what}"),
            Error::Io(kind) => write!(f, "I/O error: {kind}"),
            Error::Os(errno) => write!(f, "OS error: {errno}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Does an error have the expected shape?
    type Check = fn(&Error) -> bool;
    /// `Error` is not `Clone` (io::Error is not), so cases build their own.
    type Make = fn() -> Error;

    #[test]
    fn errno_maps_to_named_variants() {
        let table: &[(Errno, Check)] = &[
            (Errno::AGAIN, |e| matches!(e, Error::WouldBlock)),
            (Errno::WOULDBLOCK, |e| matches!(e, Error::WouldBlock)),
            (Errno::INTR, |e| matches!(e, Error::Interrupted)),
            (Errno::ADDRINUSE, |e| matches!(e, Error::AddrInUse)),
            (Errno::ADDRNOTAVAIL, |e| {
                matches!(e, Error::AddrNotAvailable)
            }),
            (Errno::CONNREFUSED, |e| {
                matches!(e, Error::ConnectionRefused)
            }),
            (Errno::CONNRESET, |e| matches!(e, Error::ConnectionReset)),
            (Errno::CONNABORTED, |e| {
                matches!(e, Error::ConnectionAborted)
            }),
            (Errno::PIPE, |e| matches!(e, Error::BrokenPipe)),
            (Errno::TIMEDOUT, |e| matches!(e, Error::TimedOut)),
            (Errno::NOTCONN, |e| matches!(e, Error::NotConnected)),
            (Errno::ACCESS, |e| matches!(e, Error::PermissionDenied)),
            (Errno::PERM, |e| matches!(e, Error::PermissionDenied)),
            (Errno::MFILE, |e| matches!(e, Error::FdExhausted)),
            (Errno::NFILE, |e| matches!(e, Error::FdExhausted)),
            (Errno::NOBUFS, |e| matches!(e, Error::Os(Errno::NOBUFS))),
            (Errno::INPROGRESS, |e| {
                matches!(e, Error::Os(Errno::INPROGRESS))
            }),
        ];
        for (errno, check) in table {
            let e = Error::from(*errno);
            assert!(check(&e), "{errno:?} mapped to {e:?}");
        }
        assert!(Error::from(Errno::AGAIN).is_would_block());
        assert!(!Error::from(Errno::INTR).is_would_block());
    }

    #[test]
    fn io_error_kinds_and_codes_survive_conversion() {
        // `Error` is not `Clone` (io::Error is not), so each case builds its own.
        let cases: &[(Make, io::ErrorKind)] = &[
            (|| Error::WouldBlock, io::ErrorKind::WouldBlock),
            (|| Error::Interrupted, io::ErrorKind::Interrupted),
            (|| Error::AddrInUse, io::ErrorKind::AddrInUse),
            (|| Error::AddrNotAvailable, io::ErrorKind::AddrNotAvailable),
            (
                || Error::ConnectionRefused,
                io::ErrorKind::ConnectionRefused,
            ),
            (|| Error::ConnectionReset, io::ErrorKind::ConnectionReset),
            (
                || Error::ConnectionAborted,
                io::ErrorKind::ConnectionAborted,
            ),
            (|| Error::BrokenPipe, io::ErrorKind::BrokenPipe),
            (|| Error::TimedOut, io::ErrorKind::TimedOut),
            (|| Error::NotConnected, io::ErrorKind::NotConnected),
            (|| Error::PermissionDenied, io::ErrorKind::PermissionDenied),
            (|| Error::FdExhausted, io::ErrorKind::Other),
            (
                || Error::Io(io::ErrorKind::UnexpectedEof),
                io::ErrorKind::UnexpectedEof,
            ),
        ];
        for (make, kind) in cases {
            let debug = format!("{:?}", make());
            let io_err = io::Error::from(make());
            assert_eq!(io_err.kind(), *kind, "{debug}");
            assert_eq!(io_err.raw_os_error(), make().raw_os_error(), "{debug}");
            // And back again to the same variant.
            assert_eq!(format!("{:?}", Error::from(io_err)), debug);
        }
        let invalid = io::Error::from(Error::InvalidInput("backlog"));
        assert_eq!(invalid.kind(), io::ErrorKind::InvalidInput);
        assert!(matches!(
            Error::from(invalid),
            Error::InvalidInput("backlog")
        ));
    }

    #[test]
    fn unknown_errno_keeps_its_code() {
        let e = Error::from(Errno::NOBUFS);
        assert_eq!(e.raw_os_error(), Some(Errno::NOBUFS.raw_os_error()));
        let io_err = io::Error::from(e);
        assert_eq!(io_err.raw_os_error(), Some(Errno::NOBUFS.raw_os_error()));
        assert!(matches!(Error::from(io_err), Error::Os(Errno::NOBUFS)));
    }

    #[test]
    fn display_is_short_and_specific() {
        assert_eq!(Error::ConnectionRefused.to_string(), "connection refused");
        assert_eq!(
            Error::InvalidInput("backlog").to_string(),
            "invalid input: backlog"
        );
        assert!(Error::FdExhausted.to_string().contains("EMFILE"));
        assert!(Error::Os(Errno::NOBUFS).to_string().starts_with("OS error"));
        assert_eq!(Error::FdExhausted.raw_os_error(), None);
        assert_eq!(Error::PermissionDenied.raw_os_error(), None);
    }
}
