//! The io_uring ring against real sockets on loopback. io_uring is required: these
//! tests fail (never skip) where the kernel refuses it.
#![cfg(all(target_os = "linux", feature = "io-uring"))]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use flare_reactor::uring::{Completion, Ring};

fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (s, c)
}

fn wait_for(ring: &mut Ring, n: usize) -> Vec<Completion> {
    let mut done = Vec::new();
    let start = Instant::now();
    while done.len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out: {done:?}"
        );
        ring.submit_and_wait(1, Some(Duration::from_millis(500)))
            .unwrap();
        ring.completions(&mut done);
    }
    done
}

#[test]
fn receive_and_send_round_trip() {
    let (server, mut client) = pair();
    let mut ring = Ring::new(8).unwrap();
    let mut rbuf = vec![0u8; 1024];
    // SAFETY: rbuf is not touched until its completion is reaped below.
    unsafe { ring.recv(server.as_fd(), rbuf.as_mut_ptr(), rbuf.len(), 1) }.unwrap();
    client.write_all(b"ping").unwrap();
    let done = wait_for(&mut ring, 1);
    assert_eq!(
        done[0],
        Completion {
            user_data: 1,
            result: 4,
            more: false,
            buffer: None
        }
    );
    assert_eq!(&rbuf[..4], b"ping");

    let out = b"pong pong".to_vec();
    // SAFETY: out lives until the completion is reaped.
    unsafe { ring.send(server.as_fd(), out.as_ptr(), out.len(), 2) }.unwrap();
    assert_eq!(ring.small_sends_queued(), 1);
    let done = wait_for(&mut ring, 1);
    assert_eq!(ring.small_sends_queued(), 0, "reset by the submission");
    assert_eq!(done[0].io_result().unwrap(), 9);
    let mut got = [0u8; 9];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"pong pong");
}

#[test]
fn end_of_stream_and_errors_are_results() {
    let (server, client) = pair();
    let mut ring = Ring::new(8).unwrap();
    let mut rbuf = vec![0u8; 64];
    // SAFETY: as above.
    unsafe { ring.recv(server.as_fd(), rbuf.as_mut_ptr(), rbuf.len(), 1) }.unwrap();
    drop(client);
    let done = wait_for(&mut ring, 1);
    assert_eq!(done[0].result, 0, "EOF is a zero-length receive");

    // Sending to a closed peer gives EPIPE or ECONNRESET as a result, no SIGPIPE.
    let data = vec![7u8; 64 * 1024];
    let mut saw_error = false;
    for i in 0..50 {
        // SAFETY: data outlives every send: each is reaped before the next.
        unsafe { ring.send(server.as_fd(), data.as_ptr(), data.len(), 10 + i) }.unwrap();
        let done = wait_for(&mut ring, 1);
        if done[0].result < 0 {
            let e = done[0].io_result().unwrap_err();
            assert!(
                matches!(e.raw_os_error(), Some(32) | Some(104)),
                "unexpected error {e}"
            );
            saw_error = true;
            break;
        }
    }
    assert!(saw_error, "sending to a closed peer never failed");
}

#[test]
fn poll_multishot_fires_each_time_and_cancel_stops_it() {
    let (server, mut client) = pair();
    let mut ring = Ring::new(8).unwrap();
    ring.poll_readable(server.as_fd(), true, 5).unwrap();
    client.write_all(b"x").unwrap();
    let done = wait_for(&mut ring, 1);
    assert_eq!(done[0].user_data, 5);
    assert!(done[0].more, "multishot poll stays armed");
    ring.cancel(5, 6).unwrap();
    let done = wait_for(&mut ring, 2);
    let mut ids: Vec<u64> = done.iter().map(|c| c.user_data).collect();
    ids.sort();
    assert_eq!(ids, vec![5, 6]);
    let last_poll = done.iter().find(|c| c.user_data == 5).unwrap();
    assert!(!last_poll.more, "the cancelled poll ends");
}

#[test]
fn wait_returns_at_the_timeout_with_nothing_done() {
    let (server, _client) = pair();
    let mut ring = Ring::new(8).unwrap();
    let mut rbuf = vec![0u8; 64];
    // SAFETY: rbuf outlives the ring (dropped after it, see the end of the test).
    unsafe { ring.recv(server.as_fd(), rbuf.as_mut_ptr(), rbuf.len(), 1) }.unwrap();
    let start = Instant::now();
    ring.submit_and_wait(1, Some(Duration::from_millis(50)))
        .unwrap();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(40),
        "returned early: {took:?}"
    );
    let mut done = Vec::new();
    ring.completions(&mut done);
    assert!(done.is_empty());
    ring.cancel(1, 2).unwrap();
    let done = wait_for(&mut ring, 2);
    let recv = done.iter().find(|c| c.user_data == 1).unwrap();
    assert_eq!(recv.result, -125, "ECANCELED");
    drop(ring);
    drop(rbuf);
}

#[test]
fn more_operations_than_entries_are_all_submitted() {
    // 8 entries, 100 receives on 100 sockets: pushing submits when the queue fills.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut ring = Ring::new(8).unwrap();
    let mut conns = Vec::new();
    let mut bufs: Vec<Vec<u8>> = (0..100).map(|_| vec![0u8; 16]).collect();
    for (i, b) in bufs.iter_mut().enumerate() {
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        // SAFETY: bufs outlives every receive (all are reaped below).
        unsafe { ring.recv(s.as_fd(), b.as_mut_ptr(), b.len(), i as u64) }.unwrap();
        conns.push((s, c));
    }
    for (i, (_, c)) in conns.iter_mut().enumerate() {
        c.write_all(format!("{i}").as_bytes()).unwrap();
    }
    let done = wait_for(&mut ring, 100);
    let mut ids: Vec<u64> = done.iter().map(|c| c.user_data).collect();
    ids.sort();
    assert_eq!(ids, (0..100).collect::<Vec<u64>>());
    for c in &done {
        let n = c.result as usize;
        assert_eq!(
            &bufs[c.user_data as usize][..n],
            c.user_data.to_string().as_bytes()
        );
    }
}

#[test]
fn a_non_blocking_socket_waits_instead_of_failing_with_eagain() {
    // Workers accept non-blocking sockets; the ring must still wait for data.
    let (server, mut client) = pair();
    server.set_nonblocking(true).unwrap();
    let mut ring = Ring::new(8).unwrap();
    let mut rbuf = vec![0u8; 64];
    // SAFETY: rbuf is not touched until its completion is reaped.
    unsafe { ring.recv(server.as_fd(), rbuf.as_mut_ptr(), rbuf.len(), 1) }.unwrap();
    ring.submit_and_wait(1, Some(Duration::from_millis(30)))
        .unwrap();
    let mut done = Vec::new();
    ring.completions(&mut done);
    assert!(done.is_empty(), "completed before data came: {done:?}");
    client.write_all(b"late").unwrap();
    let done = wait_for(&mut ring, 1);
    assert_eq!(done[0].result, 4);
}

#[test]
fn multishot_receive_fills_provided_buffers_until_the_group_runs_dry() {
    let (server, mut client) = pair();
    let mut ring = Ring::new(8).unwrap();
    // 4 buffers of 8 bytes.
    let pool = ring.register_buffers(3, 4, 8).unwrap();
    assert_eq!(pool.available(), 4);
    ring.recv_multishot(server.as_fd(), pool.group(), 9)
        .unwrap();
    let mut got = Vec::new();
    for msg in [&b"abc"[..], b"0123456789"] {
        client.write_all(msg).unwrap();
        let mut n = 0;
        while n < msg.len() {
            for c in wait_for(&mut ring, 1) {
                assert_eq!(c.user_data, 9);
                assert!(c.more, "still armed: {c:?}");
                let bid = c.buffer.expect("a provided buffer");
                pool.taken(bid);
                // SAFETY: the completion handed `bid` over; recycled after the copy.
                got.extend_from_slice(unsafe { pool.get(bid, c.result as usize) });
                unsafe { pool.recycle(bid) };
                n += c.result as usize;
            }
        }
    }
    assert_eq!(got, b"abc0123456789");
    // Hold every buffer: the next arrival finds none and ends the receive.
    let mut held = Vec::new();
    let mut ended = None;
    for i in 0..6 {
        client.write_all(&[b'a' + i; 8]).unwrap();
        for c in wait_for(&mut ring, 1) {
            match c.buffer {
                Some(bid) => {
                    pool.taken(bid);
                    held.push(bid);
                }
                None => ended = Some(c),
            }
        }
        if ended.is_some() {
            break;
        }
    }
    let ended = ended.expect("the group ran dry");
    assert!(!ended.more);
    assert_eq!(ended.result, -105, "ENOBUFS");
    assert_eq!(held.len(), 4);
    for bid in held {
        // SAFETY: handed over by the completions above, no slice held.
        unsafe { pool.recycle(bid) };
    }
    assert_eq!(pool.available(), 4);
}

#[test]
fn a_batch_wait_returns_after_the_minimum_wait_with_what_came() {
    // Four receives armed, data for one: asking for a batch of 4 returns after the
    // minimum wait (not the 2 s timeout) with the one completion.
    let mut ring = Ring::new(8).unwrap();
    let pairs: Vec<_> = (0..4).map(|_| pair()).collect();
    let mut bufs: Vec<Vec<u8>> = (0..4).map(|_| vec![0u8; 16]).collect();
    for (i, ((s, _), b)) in pairs.iter().zip(bufs.iter_mut()).enumerate() {
        // SAFETY: bufs outlives the ring (dropped after it below).
        unsafe { ring.recv(s.as_fd(), b.as_mut_ptr(), b.len(), i as u64) }.unwrap();
    }
    ring.submit().unwrap();
    (&pairs[2].1).write_all(b"x").unwrap();
    let start = Instant::now();
    ring.submit_and_wait_batch(
        1,
        4,
        Duration::from_millis(30),
        Some(Duration::from_secs(2)),
    )
    .unwrap();
    let took = start.elapsed();
    let mut done = Vec::new();
    ring.completions(&mut done);
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].user_data, 2);
    assert!(took < Duration::from_secs(1), "waited {took:?}");
    if ring.has_batch_wait() {
        assert!(
            took >= Duration::from_millis(20),
            "did not wait for the batch: {took:?}"
        );
    }
    // All four there at once: no wait at all.
    for (i, (_, c)) in pairs.iter().enumerate() {
        if i != 2 {
            (&*c).write_all(b"y").unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(20));
    let start = Instant::now();
    ring.submit_and_wait_batch(
        1,
        3,
        Duration::from_millis(500),
        Some(Duration::from_secs(2)),
    )
    .unwrap();
    assert!(start.elapsed() < Duration::from_millis(400));
    ring.completions(&mut done);
    assert_eq!(done.len(), 4);
    drop(ring);
    drop(bufs);
}
