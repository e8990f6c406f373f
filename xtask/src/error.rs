//! The one error type of xtask: what failed, structured enough to print a
//! useful last line.

use std::fmt;
use std::io;
use std::process::ExitStatus;

/// Why a task failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The command line was not understood.
    Usage(String),
    /// A program could not be started at all.
    Spawn {
        /// The program that was looked for.
        program: String,
        /// What the OS said.
        source: io::Error,
    },
    /// A program ran and exited unsuccessfully.
    Command {
        /// The command line, for copy-pasting.
        command: String,
        /// How it ended.
        status: ExitStatus,
    },
    /// An external peer (a binary or a Python package) is missing and could
    /// not be installed.
    MissingPeer {
        /// The peer, e.g. `wrk (Debian package wrk)`.
        peer: String,
        /// What was tried.
        detail: String,
    },
    /// Something the task needs does not exist (yet).
    Missing {
        /// What is missing.
        what: String,
        /// What the user can do about it.
        hint: String,
    },
    /// A file could not be read or written.
    Io {
        /// What was being done, e.g. the path.
        context: String,
        /// What the OS said.
        source: io::Error,
    },
    /// A tool's output could not be understood.
    Parse {
        /// Which tool's output.
        what: String,
        /// The part that did not parse.
        detail: String,
    },
    /// A server under test misbehaved (did not start, wrong answer, errors).
    Server {
        /// Which server.
        name: String,
        /// What went wrong.
        detail: String,
    },
    /// A named step of a task failed; the step's name goes into the last line.
    Step {
        /// The step, as printed in its progress line.
        name: String,
        /// Why it failed.
        source: Box<Error>,
    },
}

impl Error {
    /// Wraps an I/O error with the path or action it concerns.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => write!(f, "{msg} (see `cargo xtask --help`)"),
            Error::Spawn { program, source } => write!(f, "could not run `{program}`: {source}"),
            Error::Command { command, status } => write!(f, "`{command}` failed ({status})"),
            Error::MissingPeer { peer, detail } => {
                write!(
                    f,
                    "missing peer(s) that could not be installed: {peer}; {detail}"
                )
            }
            Error::Missing { what, hint } => write!(f, "{what}: {hint}"),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Parse { what, detail } => write!(f, "could not parse {what}: {detail}"),
            Error::Server { name, detail } => write!(f, "server {name}: {detail}"),
            Error::Step { name, source } => write!(f, "step `{name}` failed: {source}"),
        }
    }
}

impl std::error::Error for Error {}

/// xtask's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
