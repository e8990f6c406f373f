//! Running out of descriptors maps to `Error::FdExhausted`, and the pending
//! connection survives in the listen queue so a server can back off and accept
//! it later.
//!
//! This file holds exactly one test: it lowers `RLIMIT_NOFILE` for the whole
//! process, and each integration-test file runs as its own process, so no
//! other test sees the lower limit.

mod common;

use std::os::fd::{AsRawFd, OwnedFd};

use common::wait_readable;
use flare_net::{Error, SocketAddr, TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixStream};
use rustix::io::Errno;
use rustix::process::{getrlimit, setrlimit, Resource};

#[test]
fn emfile_is_fd_exhausted_and_the_connection_waits() {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listener = TcpListener::bind(addr).unwrap();
    let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    wait_readable(&listener);

    // Allow only a few descriptors beyond those already open, then use them up.
    let original = getrlimit(Resource::Nofile);
    let probe = rustix::io::dup(&listener).unwrap();
    let limit = probe.as_raw_fd() as u64 + 8;
    drop(probe);
    let mut lowered = original;
    lowered.current = Some(limit);
    setrlimit(Resource::Nofile, lowered).unwrap();

    let mut filler: Vec<OwnedFd> = Vec::new();
    loop {
        match rustix::io::dup(&listener) {
            Ok(fd) => filler.push(fd),
            Err(Errno::MFILE) => break,
            Err(e) => panic!("dup: {e}"),
        }
        assert!(filler.len() <= 16, "RLIMIT_NOFILE did not take effect");
    }

    // Every way this crate creates a descriptor reports the same variant.
    assert!(matches!(listener.accept(), Err(Error::FdExhausted)));
    assert!(matches!(TcpListener::bind(addr), Err(Error::FdExhausted)));
    assert!(matches!(
        TcpStream::connect(listener.local_addr().unwrap()),
        Err(Error::FdExhausted)
    ));
    assert!(matches!(UdpSocket::bind(addr), Err(Error::FdExhausted)));
    assert!(matches!(UnixStream::pair(), Err(Error::FdExhausted)));
    assert!(matches!(UnixDatagram::unbound(), Err(Error::FdExhausted)));
    let as_io = std::io::Error::from(listener.accept().unwrap_err());
    assert!(matches!(Error::from(as_io), Error::FdExhausted));

    // Backing off (freeing a descriptor) lets the queued connection through.
    filler.pop();
    let (stream, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip(), addr.ip());
    drop(stream);

    drop(filler);
    setrlimit(Resource::Nofile, original).unwrap();
}
