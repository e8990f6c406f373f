//! Batched UDP: many datagrams per syscall, into buffers allocated once.
//!
//! [`RecvBatch`] holds `n` receive slots of `max_len` bytes each;
//! [`UdpSocket::recv_batch`] fills as many as are queued with one `recvmmsg` on
//! Linux (a loop of `recvfrom` elsewhere). [`SendBatch`] is a queue of outgoing
//! datagrams in one byte buffer; [`UdpSocket::send_batch`] sends from its front with
//! one `sendmmsg` (a loop of `sendto` elsewhere). Neither allocates once warm: both
//! keep their capacity across calls.

use std::net::SocketAddr;

use crate::error::{Error, Result};
use crate::udp::UdpSocket;

/// One received datagram, borrowed from a [`RecvBatch`].
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    /// The bytes received (at most the batch's `max_len`).
    pub data: &'a [u8],
    /// The sender.
    pub peer: SocketAddr,
    /// The datagram was longer than `max_len`; `data` holds only its start and the
    /// rest was discarded by the kernel.
    pub truncated: bool,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    len: usize,
    peer: SocketAddr,
    truncated: bool,
}

/// Receive buffers for [`UdpSocket::recv_batch`]: `datagrams` slots of `max_len`
/// bytes, allocated once.
pub struct RecvBatch {
    buf: Box<[u8]>,
    max_len: usize,
    slots: Vec<Slot>,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    sys: linux::Scratch,
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("capacity", &self.capacity())
            .field("max_len", &self.max_len)
            .field("len", &self.slots.len())
            .finish()
    }
}

impl RecvBatch {
    /// Room for `datagrams` datagrams (at least 1) of up to `max_len` bytes each (at
    /// least 1). A longer datagram is truncated and reported as such.
    pub fn new(datagrams: usize, max_len: usize) -> Self {
        let n = datagrams.max(1);
        let max_len = max_len.max(1);
        RecvBatch {
            buf: vec![0u8; n * max_len].into_boxed_slice(),
            max_len,
            slots: Vec::with_capacity(n),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            sys: linux::Scratch::new(n),
        }
    }

    /// How many datagrams one call can receive.
    pub fn capacity(&self) -> usize {
        self.buf.len() / self.max_len
    }

    /// The per-datagram buffer size.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// How many datagrams the last [`UdpSocket::recv_batch`] received.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the last receive got nothing (or none was made yet).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The `i`th datagram of the last receive.
    pub fn get(&self, i: usize) -> Option<Datagram<'_>> {
        let s = self.slots.get(i)?;
        let start = i * self.max_len;
        Some(Datagram {
            data: self.buf.get(start..start + s.len)?,
            peer: s.peer,
            truncated: s.truncated,
        })
    }

    /// The datagrams of the last receive, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = Datagram<'_>> + '_ {
        (0..self.slots.len()).filter_map(move |i| self.get(i))
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    start: usize,
    len: usize,
    peer: SocketAddr,
}

/// A queue of datagrams to send, stored back to back in one buffer. Pushing copies
/// (or writes in place with [`push_with`](Self::push_with)); [`UdpSocket::send_batch`]
/// sends from the front. The buffers are kept when the queue empties.
pub struct SendBatch {
    data: Vec<u8>,
    items: Vec<Pending>,
    head: usize,
    per_call: usize,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    sys: linux::Scratch,
}

impl std::fmt::Debug for SendBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendBatch")
            .field("pending", &self.len())
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl SendBatch {
    /// An empty queue; one [`UdpSocket::send_batch`] call sends at most `per_call`
    /// datagrams (at least 1).
    pub fn new(per_call: usize) -> Self {
        let per_call = per_call.max(1);
        SendBatch {
            data: Vec::new(),
            items: Vec::with_capacity(per_call),
            head: 0,
            per_call,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            sys: linux::Scratch::new(per_call),
        }
    }

    /// Datagrams queued and not yet sent.
    pub fn len(&self) -> usize {
        self.items.len() - self.head
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues a copy of `data` for `peer`.
    pub fn push(&mut self, data: &[u8], peer: SocketAddr) {
        self.push_with(peer, |buf| buf.extend_from_slice(data));
    }

    /// Queues one datagram for `peer` whose bytes `write` appends to the buffer it is
    /// given (it must only append: bytes already there belong to other datagrams).
    /// Encoding in place saves a copy.
    pub fn push_with<R>(&mut self, peer: SocketAddr, write: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let start = self.data.len();
        let r = write(&mut self.data);
        // A writer that shrank the buffer would corrupt queued datagrams; keep what
        // is there and queue nothing for it.
        let len = self.data.len().saturating_sub(start);
        if self.data.len() >= start {
            self.items.push(Pending { start, len, peer });
        }
        r
    }

    /// Like [`push_with`](Self::push_with), but `write` decides: when it returns
    /// `false` whatever it appended is removed and nothing is queued (a message that
    /// turned out to need no reply). Returns what `write` returned.
    pub fn try_push_with(
        &mut self,
        peer: SocketAddr,
        write: impl FnOnce(&mut Vec<u8>) -> bool,
    ) -> bool {
        let start = self.data.len();
        if write(&mut self.data) && self.data.len() >= start {
            self.items.push(Pending {
                start,
                len: self.data.len() - start,
                peer,
            });
            true
        } else {
            self.data.truncate(start);
            false
        }
    }

    /// Drops the datagram at the front (e.g. one the kernel refused to send).
    pub fn pop_front(&mut self) {
        if self.head < self.items.len() {
            self.head += 1;
        }
        self.compact();
    }

    /// Drops everything queued.
    pub fn clear(&mut self) {
        self.items.clear();
        self.data.clear();
        self.head = 0;
    }

    fn advance(&mut self, n: usize) {
        self.head = (self.head + n).min(self.items.len());
        self.compact();
    }

    fn compact(&mut self) {
        if self.head == self.items.len() {
            self.clear();
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn front(&self, n: usize) -> &[Pending] {
        let end = (self.head + n).min(self.items.len());
        &self.items[self.head..end]
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn bytes(&self, p: &Pending) -> &[u8] {
        &self.data[p.start..p.start + p.len]
    }
}

impl UdpSocket {
    /// Receives as many queued datagrams as `batch` has room for, replacing its
    /// previous contents; returns how many ([`Error::WouldBlock`] when none is
    /// queued on a non-blocking socket). One `recvmmsg` on Linux.
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> Result<usize> {
        batch.slots.clear();
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            linux::recv(self, batch)
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let n = batch.capacity();
            let max = batch.max_len;
            for i in 0..n {
                let buf = &mut batch.buf[i * max..(i + 1) * max];
                match rustix::net::recvfrom(self, buf, rustix::net::RecvFlags::empty()) {
                    Ok((len, full, Some(from))) => batch.slots.push(Slot {
                        len,
                        peer: crate::sys::ip_addr(from)?,
                        truncated: full > len,
                    }),
                    Ok((_, _, None)) => continue,
                    Err(_) if i > 0 => break,
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(batch.slots.len())
        }
    }

    /// Sends datagrams from the front of `batch` (at most its `per_call`) and removes
    /// those sent; returns how many. [`Error::WouldBlock`] means the socket buffer is
    /// full and nothing was sent; any other error is about the front datagram, which
    /// stays queued (drop it with [`SendBatch::pop_front`] to go on). One `sendmmsg`
    /// on Linux.
    pub fn send_batch(&self, batch: &mut SendBatch) -> Result<usize> {
        if batch.is_empty() {
            return Ok(0);
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let sent = linux::send(self, batch)?;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let sent = {
            let mut sent = 0;
            for i in 0..batch.front(batch.per_call).len() {
                let p = batch.items[batch.head + i];
                match self.send_to(batch.bytes(&p), p.peer) {
                    Ok(_) => sent += 1,
                    Err(_) if sent > 0 => break,
                    Err(e) => return Err(e),
                }
            }
            sent
        };
        batch.advance(sent);
        Ok(sent)
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;

    use super::{Error, RecvBatch, Result, SendBatch, Slot, UdpSocket};

    /// The `mmsghdr`/`iovec`/address arrays one `recvmmsg` or `sendmmsg` call reads.
    /// Their pointers are filled right before each call and only used during it.
    pub(super) struct Scratch {
        hdrs: Vec<libc::mmsghdr>,
        iovs: Vec<libc::iovec>,
        names: Vec<libc::sockaddr_storage>,
    }

    // SAFETY: the raw pointers inside `hdrs` and `iovs` point into buffers owned by the
    // same batch; they are rewritten before every syscall and never dereferenced
    // otherwise, so moving the batch to another thread cannot make them used unsoundly.
    unsafe impl Send for Scratch {}

    impl Scratch {
        pub(super) fn new(n: usize) -> Self {
            // SAFETY: mmsghdr, iovec and sockaddr_storage are plain C structs for which
            // all-zero bytes are a valid value (null pointers, zero lengths).
            let zero_hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
            let zero_iov: libc::iovec = unsafe { std::mem::zeroed() };
            let zero_name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            Scratch {
                hdrs: vec![zero_hdr; n],
                iovs: vec![zero_iov; n],
                names: vec![zero_name; n],
            }
        }
    }

    fn last_error() -> Error {
        let code = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        Error::from(rustix::io::Errno::from_raw_os_error(code))
    }

    pub(super) fn recv(sock: &UdpSocket, batch: &mut RecvBatch) -> Result<usize> {
        let max = batch.max_len;
        let n = batch.sys.hdrs.len();
        let base = batch.buf.as_mut_ptr();
        let s = &mut batch.sys;
        for i in 0..n {
            s.iovs[i] = libc::iovec {
                // SAFETY: slot i spans [i*max, (i+1)*max) of `buf`, whose length is
                // n*max, so the offset stays inside the allocation.
                iov_base: unsafe { base.add(i * max) }.cast(),
                iov_len: max,
            };
            let h = &mut s.hdrs[i].msg_hdr;
            h.msg_name = std::ptr::addr_of_mut!(s.names[i]).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = std::ptr::addr_of_mut!(s.iovs[i]);
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            s.hdrs[i].msg_len = 0;
        }
        // SAFETY: `hdrs` holds n initialised headers whose name, iovec and buffer
        // pointers point into `names`, `iovs` and `buf`, all owned by `batch` and alive
        // and not otherwise borrowed for the duration of the call; the kernel writes at
        // most msg_namelen / iov_len bytes through them. A null timeout is allowed.
        let rc = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                s.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            return Err(last_error());
        }
        let got = rc as usize;
        for i in 0..got.min(n) {
            let h = &s.hdrs[i];
            let Some(peer) = from_storage(&s.names[i], h.msg_hdr.msg_namelen) else {
                continue;
            };
            batch.slots.push(Slot {
                len: (h.msg_len as usize).min(max),
                peer,
                truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
            });
        }
        Ok(batch.slots.len())
    }

    pub(super) fn send(sock: &UdpSocket, batch: &mut SendBatch) -> Result<usize> {
        let end = (batch.head + batch.per_call).min(batch.items.len());
        let front = &batch.items[batch.head..end];
        let n = front.len();
        let base = batch.data.as_ptr();
        let s = &mut batch.sys;
        for (i, p) in front.iter().enumerate() {
            let namelen = to_storage(&p.peer, &mut s.names[i]);
            s.iovs[i] = libc::iovec {
                // SAFETY: p.start + p.len <= data.len() (push_with records only bytes
                // that were appended), so the pointer stays inside `data`.
                iov_base: unsafe { base.add(p.start) }.cast_mut().cast(),
                iov_len: p.len,
            };
            let h = &mut s.hdrs[i].msg_hdr;
            h.msg_name = std::ptr::addr_of_mut!(s.names[i]).cast();
            h.msg_namelen = namelen;
            h.msg_iov = std::ptr::addr_of_mut!(s.iovs[i]);
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            s.hdrs[i].msg_len = 0;
        }
        // SAFETY: the first n headers are initialised and point into `names`, `iovs`
        // and `data`, all owned by `batch` and alive for the call; the kernel only
        // reads the data and addresses and writes `msg_len`.
        let rc = unsafe {
            libc::sendmmsg(
                sock.as_raw_fd(),
                s.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if rc < 0 {
            return Err(last_error());
        }
        Ok(rc as usize)
    }

    fn from_storage(s: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
        let len = len as usize;
        match i32::from(s.ss_family) {
            libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says the storage holds a sockaddr_in, which is
                // smaller than and no more aligned than sockaddr_storage.
                let a =
                    unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, for sockaddr_in6.
                let a =
                    unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    fn to_storage(addr: &SocketAddr, s: &mut libc::sockaddr_storage) -> libc::socklen_t {
        match addr {
            SocketAddr::V4(a) => {
                // SAFETY: sockaddr_storage is large and aligned enough for a
                // sockaddr_in; we write a whole, valid value.
                let out =
                    unsafe { &mut *(s as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                *out = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(*a.ip()).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
            }
            SocketAddr::V6(a) => {
                // SAFETY: as above, for sockaddr_in6.
                let out = unsafe {
                    &mut *(s as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
                };
                *out = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
            }
        }
    }
}
