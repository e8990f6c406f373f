//! Batched UDP receive and send (`recvmmsg`/`sendmmsg` on Linux).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use flare_net::{Error, RecvBatch, SendBatch, UdpSocket};

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Receives until `want` datagrams arrived (the socket is non-blocking).
fn recv_all(
    sock: &UdpSocket,
    batch: &mut RecvBatch,
    want: usize,
) -> Vec<(Vec<u8>, SocketAddr, bool)> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < want {
        assert!(
            Instant::now() < deadline,
            "only {} of {want} datagrams",
            got.len()
        );
        match sock.recv_batch(batch) {
            Ok(n) => {
                assert_eq!(n, batch.len());
                got.extend(batch.iter().map(|d| (d.data.to_vec(), d.peer, d.truncated)));
            }
            Err(Error::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("recv_batch: {e}"),
        }
    }
    got
}

#[test]
fn many_datagrams_per_call_both_ways() {
    let server = UdpSocket::bind(local()).unwrap();
    let client = UdpSocket::bind(local()).unwrap();
    let caddr = client.local_addr().unwrap();
    for i in 0..20u8 {
        client
            .send_to(&[i; 10], server.local_addr().unwrap())
            .unwrap();
    }
    let mut batch = RecvBatch::new(8, 64);
    assert_eq!(batch.capacity(), 8);
    // The first call takes a full batch: 8 of the 20 queued.
    let deadline = Instant::now() + Duration::from_secs(5);
    let first = loop {
        match server.recv_batch(&mut batch) {
            Ok(n) => break n,
            Err(Error::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(first, 8);
    let mut all: Vec<_> = batch
        .iter()
        .map(|d| (d.data.to_vec(), d.peer, d.truncated))
        .collect();
    all.extend(recv_all(&server, &mut batch, 12));
    assert_eq!(all.len(), 20);
    for (i, (data, peer, truncated)) in all.iter().enumerate() {
        assert_eq!(data, &vec![i as u8; 10]);
        assert_eq!(*peer, caddr);
        assert!(!truncated);
    }

    // Echo them back in sendmmsg batches of 8.
    let mut out = SendBatch::new(8);
    for (data, peer, _) in &all {
        out.push(data, *peer);
    }
    assert_eq!(out.len(), 20);
    let mut sent = 0;
    while !out.is_empty() {
        let n = server.send_batch(&mut out).unwrap();
        assert!(n <= 8);
        sent += n;
    }
    assert_eq!(sent, 20);
    let back = recv_all(&client, &mut batch, 20);
    for (i, (data, peer, _)) in back.iter().enumerate() {
        assert_eq!(data, &vec![i as u8; 10]);
        assert_eq!(*peer, server.local_addr().unwrap());
    }
}

#[test]
fn a_datagram_longer_than_the_slot_is_marked_truncated() {
    let server = UdpSocket::bind(local()).unwrap();
    let client = UdpSocket::bind(local()).unwrap();
    client
        .send_to(&[7; 100], server.local_addr().unwrap())
        .unwrap();
    client
        .send_to(&[8; 16], server.local_addr().unwrap())
        .unwrap();
    let mut batch = RecvBatch::new(4, 16);
    let got = recv_all(&server, &mut batch, 2);
    assert_eq!(got[0].0, vec![7; 16]);
    assert!(got[0].2, "the 100-byte datagram is truncated");
    assert_eq!(got[1].0, vec![8; 16]);
    assert!(!got[1].2, "exactly 16 bytes fits");
}

#[test]
fn push_with_encodes_in_place_and_ipv6_peers_round_trip() {
    let Ok(server) = UdpSocket::bind("[::1]:0".parse().unwrap()) else {
        return; // no IPv6 loopback here
    };
    let client = UdpSocket::bind("[::1]:0".parse().unwrap()).unwrap();
    let mut out = SendBatch::new(4);
    out.push_with(client.local_addr().unwrap(), |buf| {
        buf.extend_from_slice(b"in place")
    });
    assert_eq!(server.send_batch(&mut out).unwrap(), 1);
    assert!(out.is_empty());
    let mut batch = RecvBatch::new(4, 64);
    let got = recv_all(&client, &mut batch, 1);
    assert_eq!(got[0].0, b"in place");
    assert_eq!(got[0].1, server.local_addr().unwrap());
}

#[test]
fn reuse_port_sockets_share_a_port() {
    let a = UdpSocket::bind_reuse_port(local()).unwrap();
    let b = UdpSocket::bind_reuse_port(a.local_addr().unwrap()).unwrap();
    assert_eq!(a.local_addr().unwrap(), b.local_addr().unwrap());
    // Without SO_REUSEPORT the port is taken.
    assert!(matches!(
        UdpSocket::bind(a.local_addr().unwrap()),
        Err(Error::AddrInUse)
    ));
}
