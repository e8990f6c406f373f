//! A small completion ring over Linux io_uring: the operations a socket server needs
//! (receive, send, poll, cancel) and one call that submits everything queued and waits
//! for completions, with a timeout.
//!
//! The point is the syscall count: every operation queued between two
//! [`Ring::submit_and_wait`] calls goes to the kernel in one `io_uring_enter`, and
//! that same call waits for what completed. A worker serving many connections makes
//! one syscall per loop turn instead of a `recv` and a `send` per request.
//!
//! Buffers handed to [`Ring::recv`] and [`Ring::send`] belong to the kernel until
//! their completion arrives; that is why those two are `unsafe`.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use flare_reactor::uring::Ring;
//! use std::os::fd::AsFd;
//! use std::time::Duration;
//! let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
//! let mut ring = Ring::new(64)?;
//! let mut buf = vec![0u8; 64];
//! // SAFETY: `buf` is neither moved nor touched until the completion for 7 arrives.
//! unsafe { ring.recv(a.as_fd(), buf.as_mut_ptr(), buf.len(), 7)? };
//! std::io::Write::write_all(&mut b, b"hi")?;
//! let mut done = Vec::new();
//! while done.is_empty() {
//!     ring.submit_and_wait(1, Some(Duration::from_secs(1)))?;
//!     ring.completions(&mut done);
//! }
//! assert_eq!((done[0].user_data, done[0].result), (7, 2));
//! # Ok(()) }
//! ```

use std::alloc::Layout;
use std::cell::Cell;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use io_uring::types::BufRingEntry;
use io_uring::{cqueue, opcode, squeue, types, IoUring};

/// `IORING_RECVSEND_POLL_FIRST`.
const RECVSEND_POLL_FIRST: u16 = 1;

/// One finished operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The value given when the operation was queued.
    pub user_data: u64,
    /// The syscall-style result: bytes moved, poll mask, or a negative errno.
    pub result: i32,
    /// A multishot operation stays armed and will complete again.
    pub more: bool,
    /// The provided buffer the kernel filled (receives with a buffer group).
    pub buffer: Option<u16>,
}

impl Completion {
    /// The result as an `io::Result` (a negative errno becomes the error).
    pub fn io_result(&self) -> io::Result<usize> {
        if self.result < 0 {
            Err(io::Error::from_raw_os_error(-self.result))
        } else {
            Ok(self.result as usize)
        }
    }
}

/// An io_uring instance with a submission queue of `entries` and a completion queue
/// four times that (the kernel keeps overflowing completions rather than dropping
/// them, see `IORING_FEAT_NODROP`). Use it from the thread that created it: where the
/// kernel allows, completions are posted only when that thread waits in
/// [`Ring::submit_and_wait`] (`IORING_SETUP_DEFER_TASKRUN`).
pub struct Ring {
    /// Provided-buffer groups registered with this ring (unregistered on drop,
    /// before their memory can go).
    pools: Vec<Rc<BufPool>>,
    ring: IoUring,
    /// Queued, not yet submitted.
    queued: usize,
    /// Sends of at most [`SMALL_SEND`] bytes queued since the last submission.
    small_sends: usize,
}

/// A send this small to a socket with room completes while it is submitted.
pub const SMALL_SEND: usize = 16 * 1024;

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("entries", &self.ring.params().sq_entries())
            .field("queued", &self.queued)
            .finish()
    }
}

impl Ring {
    /// Sets up a ring. Fails when the kernel has no io_uring or forbids it (seccomp,
    /// `kernel.io_uring_disabled`); the error says so.
    pub fn new(entries: u32) -> io::Result<Ring> {
        // One thread submits and reaps (a worker), so the kernel may defer completion
        // work until that thread waits (6.1+): no interrupts of the worker while it
        // runs handlers. Older kernels refuse the flags; fall back to the plain ring.
        let ring = IoUring::builder()
            .setup_cqsize(entries.saturating_mul(4))
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_submit_all()
            .build(entries)
            .or_else(|_| {
                IoUring::builder()
                    .setup_cqsize(entries.saturating_mul(4))
                    .build(entries)
            })
            .map_err(|e| io::Error::new(e.kind(), format!("io_uring_setup: {e}")))?;
        Ok(Ring {
            pools: Vec::new(),
            ring,
            queued: 0,
            small_sends: 0,
        })
    }

    /// Operations queued and not yet handed to the kernel.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Sends of at most [`SMALL_SEND`] bytes among them. Such a send to a socket with
    /// room completes during submission, so a caller that waits for `1 +` this many
    /// completions sleeps until something other than its own sends happened (one
    /// syscall per request on a lone keep-alive connection instead of two); bound
    /// that wait with a short timeout in case a peer stopped reading.
    pub fn small_sends_queued(&self) -> usize {
        self.small_sends
    }

    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        // SAFETY: every entry built by this type either carries no buffer (poll,
        // cancel) or comes from `recv`/`send`, whose callers promised the buffer
        // outlives the operation.
        if unsafe { self.ring.submission().push(&entry) }.is_err() {
            // Full: hand the queue to the kernel and retry once.
            self.submit()?;
            // SAFETY: as above.
            unsafe { self.ring.submission().push(&entry) }
                .map_err(|_| io::Error::other("io_uring submission queue full"))?;
        }
        self.queued += 1;
        Ok(())
    }

    /// Queues a receive of at most `len` bytes into `buf` on `fd`.
    ///
    /// # Safety
    /// `buf..buf+len` must stay valid, writable and untouched by anyone else until
    /// the completion with `user_data` has been returned by [`Ring::completions`].
    pub unsafe fn recv(
        &mut self,
        fd: BorrowedFd<'_>,
        buf: *mut u8,
        len: usize,
        user_data: u64,
    ) -> io::Result<()> {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        // Poll first: the caller queues a receive right after reading everything, so
        // trying the socket before data arrives would only fail.
        let e = opcode::Recv::new(types::Fd(fd.as_raw_fd()), buf, len)
            .ioprio(RECVSEND_POLL_FIRST)
            .build()
            .user_data(user_data);
        self.push(e)
    }

    /// Queues a send of `len` bytes from `buf` on `fd` (`MSG_NOSIGNAL`: a closed peer
    /// gives `EPIPE`, never `SIGPIPE`).
    ///
    /// # Safety
    /// `buf..buf+len` must stay valid and unchanged until the completion with
    /// `user_data` has been returned by [`Ring::completions`].
    pub unsafe fn send(
        &mut self,
        fd: BorrowedFd<'_>,
        buf: *const u8,
        len: usize,
        user_data: u64,
    ) -> io::Result<()> {
        if len <= SMALL_SEND {
            self.small_sends += 1;
        }
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        let e = opcode::Send::new(types::Fd(fd.as_raw_fd()), buf, len)
            .flags(rustix::net::SendFlags::NOSIGNAL.bits() as i32)
            .build()
            .user_data(user_data);
        self.push(e)
    }

    /// Registers a ring of `count` provided buffers of `size` bytes each as buffer
    /// group `group` (`IORING_REGISTER_PBUF_RING`, Linux 5.19+), all handed to the
    /// kernel. `count` must be a power of two, at most 32768.
    pub fn register_buffers(
        &mut self,
        group: u16,
        count: u16,
        size: u32,
    ) -> io::Result<Rc<BufPool>> {
        let pool = Rc::new(BufPool::new(group, count, size)?);
        // SAFETY: the entries are page-aligned, `count` long and live as long as the
        // pool, which this ring keeps until it unregisters the group (Drop).
        unsafe {
            self.ring.submitter().register_buf_ring_with_flags(
                pool.entries.as_ptr() as u64,
                count,
                group,
                0,
            )?
        };
        for bid in 0..count {
            // SAFETY: no buffer was handed out yet.
            unsafe { pool.recycle(bid) };
        }
        self.pools.push(pool.clone());
        Ok(pool)
    }

    /// Queues a multishot receive on `fd` into buffers of `group`: it completes once
    /// per arrival of data with [`Completion::buffer`] set, until a completion comes
    /// without [`Completion::more`] (end of stream, an error, `ENOBUFS` when the group
    /// ran dry, or a cancel).
    pub fn recv_multishot(
        &mut self,
        fd: BorrowedFd<'_>,
        group: u16,
        user_data: u64,
    ) -> io::Result<()> {
        let e = opcode::RecvMulti::new(types::Fd(fd.as_raw_fd()), group)
            .build()
            .user_data(user_data);
        self.push(e)
    }

    /// Queues a wait for `fd` to become readable. `multishot` keeps it armed: it
    /// completes each time, until a completion comes without [`Completion::more`].
    pub fn poll_readable(
        &mut self,
        fd: BorrowedFd<'_>,
        multishot: bool,
        user_data: u64,
    ) -> io::Result<()> {
        let e = opcode::PollAdd::new(
            types::Fd(fd.as_raw_fd()),
            rustix::event::PollFlags::IN.bits() as u32,
        )
        .multi(multishot)
        .build()
        .user_data(user_data);
        self.push(e)
    }

    /// Queues a cancel of the operation queued with `target`; the cancel itself
    /// completes with `user_data`.
    pub fn cancel(&mut self, target: u64, user_data: u64) -> io::Result<()> {
        let e = opcode::AsyncCancel::new(target)
            .build()
            .user_data(user_data);
        self.push(e)
    }

    /// Hands the queued operations to the kernel without waiting.
    pub fn submit(&mut self) -> io::Result<()> {
        self.submit_and_wait(0, None)
    }

    /// Hands the queued operations to the kernel and waits until `want` completions
    /// are ready or `timeout` passed (`None`: no limit). One `io_uring_enter`. A
    /// timeout or a signal is not an error: check [`Ring::completions`].
    pub fn submit_and_wait(&mut self, want: usize, timeout: Option<Duration>) -> io::Result<()> {
        let res = match (want, timeout) {
            (0, _) | (_, None) => self.ring.submit_and_wait(want),
            (_, Some(t)) => {
                let ts = types::Timespec::new()
                    .sec(t.as_secs())
                    .nsec(t.subsec_nanos());
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(want, &args)
            }
        };
        self.after_submit(res)
    }

    fn after_submit(&mut self, res: io::Result<usize>) -> io::Result<()> {
        if self.ring.submission().is_empty() {
            self.queued = 0;
            self.small_sends = 0;
        }
        match res {
            Ok(_) => Ok(()),
            Err(e) => match e.raw_os_error() {
                // Timeout, signal, or completions to reap first (the submission is
                // retried on the next call).
                Some(libc_errno::ETIME) | Some(libc_errno::EINTR) | Some(libc_errno::EBUSY) => {
                    Ok(())
                }
                _ => Err(e),
            },
        }
    }

    /// Whether the kernel takes a minimum batch wait ([`Ring::submit_and_wait_batch`]).
    pub fn has_batch_wait(&self) -> bool {
        self.ring.params().is_feature_min_timeout()
    }

    /// Like [`Ring::submit_and_wait`] for `want` completions, but when the kernel can
    /// (`IORING_FEAT_MIN_TIMEOUT`, Linux 6.12+) it first waits up to `min_wait` for a
    /// larger batch of `batch`, then returns as soon as any completion is there. A
    /// busy caller wakes once per batch instead of once per completion. Where the
    /// kernel cannot, this is `submit_and_wait(want, timeout)`.
    pub fn submit_and_wait_batch(
        &mut self,
        want: usize,
        batch: usize,
        min_wait: Duration,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        if batch <= want || !self.has_batch_wait() {
            return self.submit_and_wait(want, timeout);
        }
        let t = timeout.unwrap_or(Duration::from_secs(3600));
        let ts = types::Timespec::new()
            .sec(t.as_secs())
            .nsec(t.subsec_nanos());
        let args = types::SubmitArgs::new()
            .timespec(&ts)
            .min_wait_usec(u32::try_from(min_wait.as_micros()).unwrap_or(u32::MAX));
        let res = self.ring.submitter().submit_with_args(batch, &args);
        self.after_submit(res)
    }

    /// Moves every ready completion into `out` (appending).
    pub fn completions(&mut self, out: &mut Vec<Completion>) {
        let cq = self.ring.completion();
        out.extend(cq.map(|c| Completion {
            user_data: c.user_data(),
            result: c.result(),
            more: cqueue::more(c.flags()),
            buffer: cqueue::buffer_select(c.flags()),
        }));
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // After this the kernel picks no more buffers from the groups, so their
        // memory may go whenever the last holder drops it.
        for p in &self.pools {
            let _ = self.ring.submitter().unregister_buf_ring(p.group);
        }
    }
}

/// Provided buffers shared by the kernel and a single thread: the kernel takes one
/// per completed receive (the completion names it); the owner reads it and hands it
/// back with [`BufPool::recycle`].
pub struct BufPool {
    entries: NonNull<BufRingEntry>,
    entries_layout: Layout,
    mem: NonNull<u8>,
    mem_layout: Layout,
    mask: u16,
    size: u32,
    group: u16,
    /// Our copy of the ring's tail.
    tail: Cell<u16>,
    /// Buffers currently in the ring (ours to estimate; the kernel's head is private).
    available: Cell<u32>,
}

impl std::fmt::Debug for BufPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufPool")
            .field("group", &self.group)
            .field("size", &self.size)
            .field("available", &self.available.get())
            .finish()
    }
}

impl BufPool {
    fn new(group: u16, count: u16, size: u32) -> io::Result<BufPool> {
        if !count.is_power_of_two() || count > 32768 || size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer count must be a power of two <= 32768, size > 0",
            ));
        }
        let bad = |_| io::Error::new(io::ErrorKind::InvalidInput, "buffer ring too large");
        let entries_layout = Layout::from_size_align(
            usize::from(count) * std::mem::size_of::<BufRingEntry>(),
            4096,
        )
        .map_err(bad)?;
        let mem_layout =
            Layout::from_size_align(usize::from(count) * size as usize, 64).map_err(bad)?;
        // SAFETY: both layouts have a non-zero size (count >= 1, size >= 1).
        let entries = unsafe { std::alloc::alloc_zeroed(entries_layout) };
        let entries = NonNull::new(entries.cast::<BufRingEntry>())
            .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        // SAFETY: as above.
        let mem = unsafe { std::alloc::alloc(mem_layout) };
        let Some(mem) = NonNull::new(mem) else {
            // SAFETY: allocated just above with this layout.
            unsafe { std::alloc::dealloc(entries.as_ptr().cast(), entries_layout) };
            return Err(io::ErrorKind::OutOfMemory.into());
        };
        Ok(BufPool {
            entries,
            entries_layout,
            mem,
            mem_layout,
            mask: count - 1,
            size,
            group,
            tail: Cell::new(0),
            available: Cell::new(0),
        })
    }

    /// The group id to receive into.
    pub fn group(&self) -> u16 {
        self.group
    }

    /// The size of each buffer.
    pub fn buffer_size(&self) -> usize {
        self.size as usize
    }

    /// Buffers the kernel may still fill (an estimate kept by [`BufPool::taken`] and
    /// [`BufPool::recycle`]).
    pub fn available(&self) -> u32 {
        self.available.get()
    }

    /// Notes that a completion handed buffer `_bid` to us.
    pub fn taken(&self, _bid: u16) {
        self.available.set(self.available.get().saturating_sub(1));
    }

    /// The first `len` bytes of buffer `bid`.
    ///
    /// # Safety
    /// A completion handed `bid` to the caller and it was not recycled since; the
    /// slice must be dropped before `bid` is recycled.
    pub unsafe fn get(&self, bid: u16, len: usize) -> &[u8] {
        let len = len.min(self.size as usize);
        let bid = bid & self.mask;
        // SAFETY: `bid` is within the pool (masked) and the caller owns the buffer.
        unsafe {
            std::slice::from_raw_parts(
                self.mem.as_ptr().add(usize::from(bid) * self.size as usize),
                len,
            )
        }
    }

    /// Hands buffer `bid` back to the kernel.
    ///
    /// # Safety
    /// The caller owns `bid` (a completion handed it over, or the pool is being
    /// filled), holds no slice of it, and recycles it only once.
    pub unsafe fn recycle(&self, bid: u16) {
        let bid = bid & self.mask;
        let tail = self.tail.get();
        // SAFETY: the index is masked into the ring; the slot at `tail` is free (the
        // kernel consumes entries before the tail only), and we are the only writer.
        let entry = unsafe { &mut *self.entries.as_ptr().add(usize::from(tail & self.mask)) };
        // SAFETY: `bid` is within the pool.
        let addr = unsafe { self.mem.as_ptr().add(usize::from(bid) * self.size as usize) };
        entry.set_addr(addr as u64);
        entry.set_len(self.size);
        entry.set_bid(bid);
        let next = tail.wrapping_add(1);
        self.tail.set(next);
        // SAFETY: the tail field lives in the first entry, inside our allocation, and
        // is only ever accessed atomically by the kernel; the release store publishes
        // the entry written above.
        unsafe {
            let t = BufRingEntry::tail(self.entries.as_ptr()) as *const AtomicU16;
            (*t).store(next, Ordering::Release);
        }
        self.available.set(self.available.get() + 1);
    }
}

impl Drop for BufPool {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with these layouts; the ring that registered the
        // pool unregistered it before letting go of its reference (Ring's Drop).
        unsafe {
            std::alloc::dealloc(self.entries.as_ptr().cast(), self.entries_layout);
            std::alloc::dealloc(self.mem.as_ptr(), self.mem_layout);
        }
    }
}

/// The errno values the ring treats specially (Linux numbering, all architectures).
mod libc_errno {
    pub(super) const EINTR: i32 = 4;
    pub(super) const EBUSY: i32 = 16;
    pub(super) const ETIME: i32 = 62;
}
