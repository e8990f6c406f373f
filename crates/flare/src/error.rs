//! The facade's error type.

use std::fmt;
use std::io;

/// What can go wrong starting or running a server.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A socket call failed (bind, listen, accept set-up).
    Net(flare_net::Error),
    /// Another I/O failure (reactor, threads, signals).
    Io(io::Error),
    /// The address did not resolve to anything.
    NoAddress,
    /// A worker thread panicked.
    WorkerPanicked,
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Net(e) => write!(f, "socket error: {e}"),
            Error::Io(e) => write!(f, "i/o error: {e}"),
            Error::NoAddress => f.write_str("the address resolved to nothing"),
            Error::WorkerPanicked => f.write_str("a worker thread panicked"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Net(e) => Some(e),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<flare_net::Error> for Error {
    fn from(e: flare_net::Error) -> Self {
        Error::Net(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}
