//! One UDP worker: a poller, a socket, a waker, a receive batch and a send batch.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use flare_net::{Error as NetError, RecvBatch, SendBatch, UdpSocket};
use flare_reactor::{Events, Interest, Mode, Poller, Token, Waker};

use super::{DatagramHandler, Reply, Shared, UdpConfig, WorkerStats};

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
/// Receive batches per readable event before polling again (so the waker is seen
/// under sustained load).
const BATCHES_PER_TURN: usize = 8;
/// Receive batches answered at the start of a drain: what the socket already holds.
const DRAIN_BATCHES: usize = 64;

/// Counters kept on the worker and published once per turn.
#[derive(Default)]
struct Local {
    received: u64,
    sent: u64,
    dropped: u64,
    oversized: u64,
    send_errors: u64,
    panics: u64,
}

pub(crate) struct Worker<H> {
    poller: Poller,
    events: Events,
    socket: UdpSocket,
    waker: Arc<Waker>,
    handler: Arc<H>,
    config: Arc<UdpConfig>,
    shared: Arc<Shared>,
    stats: Arc<WorkerStats>,
    recv: RecvBatch,
    send: SendBatch,
    interest: Interest,
    local: Local,
}

impl<H: DatagramHandler> Worker<H> {
    pub(crate) fn new(
        socket: UdpSocket,
        handler: Arc<H>,
        config: Arc<UdpConfig>,
        shared: Arc<Shared>,
        stats: Arc<WorkerStats>,
    ) -> std::io::Result<Self> {
        let poller = Poller::new()?;
        poller.register(&socket, SOCKET, Interest::READABLE, Mode::Level)?;
        let waker = Arc::new(Waker::new(&poller, WAKER)?);
        Ok(Worker {
            poller,
            events: Events::with_capacity(8),
            socket,
            waker,
            handler,
            recv: RecvBatch::new(config.batch_size, config.max_datagram_size),
            send: SendBatch::new(config.batch_size),
            config,
            shared,
            stats,
            interest: Interest::READABLE,
            local: Local::default(),
        })
    }

    pub(crate) fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    pub(crate) fn run(&mut self) {
        loop {
            if self.shared.draining.load(Ordering::Acquire) {
                self.drain();
                return;
            }
            if let Err(e) = self.poller.poll(&mut self.events, None) {
                log::error!("udp worker: poll failed: {e}");
                return;
            }
            let (mut readable, mut writable) = (false, false);
            for ev in self.events.iter() {
                match ev.token() {
                    WAKER => {
                        let _ = self.waker.drain();
                    }
                    _ => {
                        readable |= ev.is_readable() || ev.is_error();
                        writable |= ev.is_writable();
                    }
                }
            }
            if writable {
                self.flush();
            }
            if readable {
                self.receive(BATCHES_PER_TURN, None);
            }
            self.set_interest(false);
            self.publish();
        }
    }

    /// Receives up to `max_batches` batches, handling each datagram and sending the
    /// replies after each batch. Stops early on an empty socket, a batch that was not
    /// full (the socket is likely empty: the next poll says if not), or a full send
    /// queue. Outside a drain (`deadline` None) it also stops when a drain starts;
    /// during one, at the deadline.
    fn receive(&mut self, max_batches: usize, deadline: Option<Instant>) {
        for _ in 0..max_batches {
            if self.send.len() >= self.config.send_queue {
                return;
            }
            let stop = match deadline {
                None => self.shared.draining.load(Ordering::Relaxed),
                Some(d) => Instant::now() >= d,
            };
            if stop {
                return;
            }
            match self.socket.recv_batch(&mut self.recv) {
                Ok(_) => {}
                Err(NetError::WouldBlock) => return,
                Err(NetError::Interrupted) => continue,
                Err(e) => {
                    // A pending socket error (reported once); go on with the next poll.
                    log::debug!("udp worker: receive failed: {e}");
                    return;
                }
            }
            let full = self.recv.len() == self.recv.capacity();
            let Worker {
                recv,
                send,
                handler,
                config,
                local,
                ..
            } = self;
            for d in recv.iter() {
                if d.truncated {
                    local.oversized += 1;
                    continue;
                }
                local.received += 1;
                let mut reply = Reply {
                    queue: send,
                    peer: d.peer,
                    limit: config.send_queue,
                    dropped: &mut local.dropped,
                };
                let handler = &**handler;
                if catch_unwind(AssertUnwindSafe(|| {
                    handler.on_datagram(d.data, d.peer, &mut reply)
                }))
                .is_err()
                {
                    local.panics += 1;
                    log::error!("udp handler panicked on a datagram from {}", d.peer);
                }
            }
            self.flush();
            if !full {
                return;
            }
        }
    }

    /// Sends queued replies until the queue is empty or the socket is full.
    fn flush(&mut self) {
        while !self.send.is_empty() {
            match self.socket.send_batch(&mut self.send) {
                Ok(n) => self.local.sent += n as u64,
                Err(NetError::WouldBlock) => return,
                Err(NetError::Interrupted) => continue,
                Err(e) => {
                    log::debug!("udp worker: send failed, datagram dropped: {e}");
                    self.local.send_errors += 1;
                    self.send.pop_front();
                }
            }
        }
    }

    /// Registers for what the worker waits on: reading while the send queue has room
    /// (never while draining), writing while replies wait.
    fn set_interest(&mut self, draining: bool) {
        let read = !draining && self.send.len() < self.config.send_queue;
        let write = !self.send.is_empty();
        let want = match (read, write) {
            (true, true) => Interest::READABLE | Interest::WRITABLE,
            (true, false) => Interest::READABLE,
            (false, true) => Interest::WRITABLE,
            (false, false) => Interest::NONE,
        };
        if want != self.interest {
            match self
                .poller
                .reregister(&self.socket, SOCKET, want, Mode::Level)
            {
                Ok(()) => self.interest = want,
                Err(e) => log::error!("udp worker: reregister failed: {e}"),
            }
        }
    }

    /// Answers what the socket holds, then flushes the replies until none is left
    /// or the deadline passes.
    fn drain(&mut self) {
        let deadline = self.shared.drain_deadline().unwrap_or_else(Instant::now);
        self.receive(DRAIN_BATCHES, Some(deadline));
        loop {
            self.flush();
            self.set_interest(true);
            self.publish();
            let now = Instant::now();
            if self.send.is_empty() || now >= deadline {
                break;
            }
            if let Err(e) = self.poller.poll(&mut self.events, Some(deadline - now)) {
                log::error!("udp worker: poll failed: {e}");
                break;
            }
            let _ = self.waker.drain();
        }
        self.local.dropped += self.send.len() as u64;
        self.send.clear();
        self.publish();
    }

    /// Adds the counters gathered since the last call to the shared ones.
    fn publish(&mut self) {
        let l = std::mem::take(&mut self.local);
        let add = |a: &AtomicU64, v: u64| {
            if v != 0 {
                a.fetch_add(v, Ordering::Relaxed);
            }
        };
        add(&self.stats.received, l.received);
        add(&self.stats.sent, l.sent);
        add(&self.stats.dropped, l.dropped);
        add(&self.stats.oversized, l.oversized);
        add(&self.stats.send_errors, l.send_errors);
        add(&self.stats.panics, l.panics);
    }
}
