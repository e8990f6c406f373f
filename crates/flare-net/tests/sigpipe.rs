//! Writes to a closed peer must fail with `BrokenPipe`, never raise
//! `SIGPIPE`. The Rust runtime ignores `SIGPIPE` before `main`, which would
//! hide a missing `MSG_NOSIGNAL`; this file restores the default action (kill
//! the process) so that a regression fails loudly. It holds one test because
//! the signal disposition is process-wide and each test file is its own
//! process.

mod common;

use std::net::Shutdown;

use common::{wait_for, wait_readable};
use flare_net::{Error, SocketAddr, TcpListener, TcpStream, UnixStream};
use rustix::event::PollFlags;

#[test]
fn closed_peer_gives_broken_pipe_with_default_sigpipe_action() {
    // SAFETY: setting a signal's disposition to the default has no memory
    // safety requirements; no handler is installed.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);

    // TCP: the peer closes, our first write draws a RST, the next ones fail.
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listener = TcpListener::bind(addr).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    wait_readable(&listener);
    drop(listener.accept().unwrap());
    client.write(b"x").unwrap();
    wait_for(&client, PollFlags::IN);
    let errors: Vec<Error> = (0..3).filter_map(|_| client.write(b"y").err()).collect();
    assert!(
        errors.iter().any(|e| matches!(e, Error::BrokenPipe)),
        "{errors:?}"
    );

    // Our own shutdown(Write) makes writes EPIPE at once, also via writev.
    let other = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    other.shutdown(Shutdown::Write).unwrap();
    assert!(matches!(other.write(b"z"), Err(Error::BrokenPipe)));
    assert!(matches!(
        other.writev(&[std::io::IoSlice::new(b"z")]),
        Err(Error::BrokenPipe)
    ));

    // Unix streams: writing to a pair whose other end is closed.
    let (a, b) = UnixStream::pair().unwrap();
    drop(b);
    assert!(matches!(a.write(b"x"), Err(Error::BrokenPipe)));
    assert!(matches!(
        a.writev(&[std::io::IoSlice::new(b"x")]),
        Err(Error::BrokenPipe)
    ));

    // Still alive: restore the runtime's setting.
    // SAFETY: as above.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}
