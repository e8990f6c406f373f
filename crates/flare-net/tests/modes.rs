//! Every constructor leaves its socket in the documented mode: close-on-exec
//! always; non-blocking for what a server owns; blocking for `connect` and
//! `pair`, as in std.

mod common;

use std::os::fd::AsFd;

use common::wait_readable;
use flare_net::{
    SocketAddr, TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream,
};
use rustix::fs::OFlags;
use rustix::io::FdFlags;

/// (close-on-exec, non-blocking) of a descriptor.
fn mode(fd: impl AsFd) -> (bool, bool) {
    let cloexec = rustix::io::fcntl_getfd(&fd)
        .unwrap()
        .contains(FdFlags::CLOEXEC);
    let nonblocking = rustix::fs::fcntl_getfl(&fd)
        .unwrap()
        .contains(OFlags::NONBLOCK);
    (cloexec, nonblocking)
}

const NONBLOCKING: (bool, bool) = (true, true);
const BLOCKING: (bool, bool) = (true, false);

#[test]
fn tcp_modes() {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listener = TcpListener::bind(any).unwrap();
    assert_eq!(mode(&listener), NONBLOCKING, "TcpListener::bind");
    let blocking_listener = TcpListener::builder(any).nonblocking(false).bind().unwrap();
    assert_eq!(
        mode(&blocking_listener),
        BLOCKING,
        "builder.nonblocking(false)"
    );
    for l in flare_net::bind_reuseport(any, 2, 16).unwrap() {
        assert_eq!(mode(&l), NONBLOCKING, "bind_reuseport");
    }

    let addr = listener.local_addr().unwrap();
    let c = TcpStream::connect(addr).unwrap();
    assert_eq!(mode(&c), BLOCKING, "TcpStream::connect");
    let c2 = TcpStream::connect_timeout(addr, common::WAIT).unwrap();
    assert_eq!(mode(&c2), BLOCKING, "TcpStream::connect_timeout");
    let c3 = TcpStream::connect_nonblocking(addr).unwrap();
    assert_eq!(mode(&c3), NONBLOCKING, "TcpStream::connect_nonblocking");

    wait_readable(&listener);
    let (accepted, _) = listener.accept().unwrap();
    assert_eq!(mode(&accepted), NONBLOCKING, "TcpListener::accept");
    accepted.set_nonblocking(false).unwrap();
    assert_eq!(mode(&accepted), BLOCKING, "set_nonblocking(false)");
    c.set_nonblocking(true).unwrap();
    assert_eq!(mode(&c), NONBLOCKING, "set_nonblocking(true)");
}

#[test]
fn udp_modes() {
    let s = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(mode(&s), NONBLOCKING, "UdpSocket::bind");
    s.set_nonblocking(false).unwrap();
    assert_eq!(mode(&s), BLOCKING);
}

#[test]
fn unix_modes() {
    let path = common::socket_path("modes");
    let listener = UnixListener::bind(&path).unwrap();
    assert_eq!(mode(&listener), NONBLOCKING, "UnixListener::bind");
    let c = UnixStream::connect(&path).unwrap();
    assert_eq!(mode(&c), BLOCKING, "UnixStream::connect");
    let c2 = UnixStream::connect_nonblocking(&listener.local_addr().unwrap()).unwrap();
    assert_eq!(mode(&c2), NONBLOCKING, "UnixStream::connect_nonblocking");
    wait_readable(&listener);
    let (accepted, _) = listener.accept().unwrap();
    assert_eq!(mode(&accepted), NONBLOCKING, "UnixListener::accept");

    let (a, b) = UnixStream::pair().unwrap();
    assert_eq!(
        (mode(&a), mode(&b)),
        (BLOCKING, BLOCKING),
        "UnixStream::pair"
    );
    let (a, b) = UnixDatagram::pair().unwrap();
    assert_eq!(
        (mode(&a), mode(&b)),
        (BLOCKING, BLOCKING),
        "UnixDatagram::pair"
    );
    let d = UnixDatagram::unbound().unwrap();
    assert_eq!(mode(&d), NONBLOCKING, "UnixDatagram::unbound");
    let dpath = common::socket_path("modes-dgram");
    let d = UnixDatagram::bind(&dpath).unwrap();
    assert_eq!(mode(&d), NONBLOCKING, "UnixDatagram::bind");

    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&dpath).unwrap();
}
