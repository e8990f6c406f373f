//! UDP on loopback: datagrams both ways over IPv4 and IPv6, connected
//! sockets, timeouts, options and multicast membership.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use common::{wait_readable, WAIT};
use flare_net::{Error, SocketAddr, UdpSocket};

fn v4() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn v6() -> SocketAddr {
    "[::1]:0".parse().unwrap()
}

/// Non-blocking receive: wait for readiness, then read one datagram.
fn recv_one(sock: &UdpSocket, buf: &mut [u8]) -> (usize, SocketAddr) {
    loop {
        match sock.recv_from(buf) {
            Ok(got) => return got,
            Err(Error::WouldBlock) => {
                wait_readable(sock);
            }
            Err(e) => panic!("recv_from: {e:?}"),
        }
    }
}

#[test]
fn send_to_and_recv_from_v4_and_v6() {
    for bind in [v4(), v6()] {
        let a = UdpSocket::bind(bind).unwrap();
        let b = UdpSocket::bind(bind).unwrap();
        let a_addr = a.local_addr().unwrap();
        let b_addr = b.local_addr().unwrap();

        // Bound sockets are non-blocking.
        assert!(matches!(b.recv_from(&mut [0u8; 8]), Err(Error::WouldBlock)));

        assert_eq!(a.send_to(b"ping", b_addr).unwrap(), 4);
        let mut buf = [0u8; 64];
        let (n, from) = recv_one(&b, &mut buf);
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(from, a_addr);

        b.send_to(b"pong", from).unwrap();
        let (n, from) = recv_one(&a, &mut buf);
        assert_eq!(&buf[..n], b"pong");
        assert_eq!(from, b_addr);
    }
}

#[test]
fn datagram_boundaries_peek_and_truncation() {
    let a = UdpSocket::bind(v4()).unwrap();
    let b = UdpSocket::bind(v4()).unwrap();
    let b_addr = b.local_addr().unwrap();
    a.send_to(b"first-datagram", b_addr).unwrap();
    a.send_to(b"second", b_addr).unwrap();

    wait_readable(&b);
    let mut buf = [0u8; 64];
    let (n, _) = b.peek_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"first-datagram");
    // A short buffer truncates; the rest of that datagram is gone.
    let mut small = [0u8; 5];
    let (n, _) = b.recv_from(&mut small).unwrap();
    assert_eq!(&small[..n], b"first");
    let (n, _) = recv_one(&b, &mut buf);
    assert_eq!(&buf[..n], b"second");
}

#[test]
fn connected_socket_send_recv_and_peer_addr() {
    let a = UdpSocket::bind(v4()).unwrap();
    let b = UdpSocket::bind(v4()).unwrap();
    assert!(matches!(a.peer_addr(), Err(Error::NotConnected)));
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());

    a.send(b"hello").unwrap();
    wait_readable(&b);
    let mut buf = [0u8; 16];
    let n = b.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");

    // A stranger's datagram is filtered out by the connected socket.
    let stranger = UdpSocket::bind(v4()).unwrap();
    stranger.send_to(b"noise", b.local_addr().unwrap()).unwrap();
    a.send(b"real").unwrap();
    wait_readable(&b);
    let n = b.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"real");
}

#[test]
fn connected_socket_to_closed_port_reports_refused() {
    let closed = UdpSocket::bind(v4()).unwrap().local_addr().unwrap();
    let s = UdpSocket::bind(v4()).unwrap();
    s.connect(closed).unwrap();
    s.send(b"anyone?").unwrap();
    // The ICMP port-unreachable arrives as an error on the socket.
    let ready = common::wait_for(&s, rustix::event::PollFlags::IN);
    assert!(ready.contains(rustix::event::PollFlags::ERR), "{ready:?}");
    match s.recv(&mut [0u8; 8]) {
        Err(Error::ConnectionRefused) => {}
        other => panic!("expected ConnectionRefused, got {other:?}"),
    }
    assert!(s.take_error().unwrap().is_none());
}

#[test]
fn blocking_mode_with_read_timeout() {
    let s = UdpSocket::bind(v4()).unwrap();
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    assert!(matches!(s.recv_from(&mut [0u8; 8]), Err(Error::WouldBlock)));
    assert!(matches!(
        s.set_read_timeout(Some(Duration::ZERO)),
        Err(Error::InvalidInput(_))
    ));

    // And a datagram that is there is received in blocking mode.
    s.set_read_timeout(Some(WAIT)).unwrap();
    let other = UdpSocket::bind(v4()).unwrap();
    other.send_to(b"x", s.local_addr().unwrap()).unwrap();
    let (n, from) = s.recv_from(&mut [0u8; 8]).unwrap();
    assert_eq!((n, from), (1, other.local_addr().unwrap()));
}

#[test]
fn options_round_trip() {
    let s = UdpSocket::bind(v4()).unwrap();
    assert!(!s.broadcast().unwrap());
    s.set_broadcast(true).unwrap();
    assert!(s.broadcast().unwrap());

    s.set_ttl(7).unwrap();
    assert_eq!(s.ttl().unwrap(), 7);
    assert!(matches!(s.set_ttl(0), Err(Error::Os(_))));

    s.set_recv_buffer_size(256 * 1024).unwrap();
    assert!(s.recv_buffer_size().unwrap() >= 8 * 1024);
    s.set_send_buffer_size(8 * 1024).unwrap();
    assert!(s.send_buffer_size().unwrap() >= 8 * 1024);

    s.set_multicast_loop_v4(false).unwrap();
    assert!(!s.multicast_loop_v4().unwrap());
    s.set_multicast_loop_v4(true).unwrap();
    assert!(s.multicast_loop_v4().unwrap());
}

/// Join a group on the loopback interface, receive our own multicast
/// datagram through it, leave, and check that leaving twice is an error.
#[cfg(target_os = "linux")]
#[test]
fn multicast_v4_on_loopback() {
    let group = Ipv4Addr::new(239, 255, 77, 1);
    let lo = Ipv4Addr::LOCALHOST;
    let receiver = UdpSocket::bind("0.0.0.0:0".parse().unwrap()).unwrap();
    let port = receiver.local_addr().unwrap().port();
    receiver.join_multicast_v4(&group, &lo).unwrap();

    let sender = UdpSocket::bind(v4()).unwrap();
    sender.set_multicast_if_v4(&lo).unwrap();
    sender.set_multicast_loop_v4(true).unwrap();
    sender
        .send_to(b"to the group", SocketAddr::from((group, port)))
        .unwrap();
    let mut buf = [0u8; 32];
    let (n, from) = recv_one(&receiver, &mut buf);
    assert_eq!(&buf[..n], b"to the group");
    assert_eq!(from, sender.local_addr().unwrap());

    receiver.leave_multicast_v4(&group, &lo).unwrap();
    assert!(matches!(
        receiver.leave_multicast_v4(&group, &lo),
        Err(Error::AddrNotAvailable)
    ));
}

/// IPv6 membership on the loopback interface (index 1 on Linux); leaving a
/// group twice is an error.
#[cfg(target_os = "linux")]
#[test]
fn multicast_v6_membership_on_loopback() {
    let s = UdpSocket::bind("[::]:0".parse().unwrap()).unwrap();
    let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0x7777, 1);
    s.join_multicast_v6(&group, 1).unwrap();
    s.leave_multicast_v6(&group, 1).unwrap();
    assert!(matches!(
        s.leave_multicast_v6(&group, 1),
        Err(Error::AddrNotAvailable)
    ));
}

#[test]
fn std_round_trip() {
    let s = UdpSocket::bind(v4()).unwrap();
    let addr = s.local_addr().unwrap();
    let std_sock = s.into_std();
    assert_eq!(std_sock.local_addr().unwrap(), addr);
    let back = UdpSocket::from_std(std_sock);
    assert_eq!(back.local_addr().unwrap(), addr);
}
