//! What a connection driver reads from and writes to: the socket itself, or a TLS
//! session over it. Drivers are generic over it, so the plaintext path has no
//! indirection.

use std::io::IoSlice;

use std::os::fd::{AsFd, BorrowedFd};

use flare_net::{Error, TcpStream, UnixStream};
use flare_web::FileBody;

pub(crate) type IoResult<T> = Result<T, Error>;

/// A byte stream under a protocol driver.
pub(crate) trait Transport {
    /// The socket, for registration with the poller.
    fn fd(&self) -> BorrowedFd<'_>;
    /// Reads application bytes; `Ok(0)` is the end of the stream, `WouldBlock` means
    /// nothing now.
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize>;
    /// Writes application bytes; returns how many were taken.
    fn write(&mut self, buf: &[u8]) -> IoResult<usize>;
    /// Writes `buf[pos..]`; returns how many bytes were taken. A transport that
    /// queues output may take the whole buffer instead of copying it: `buf` is then
    /// left empty (with some spare capacity) and the count is `buf.len() - pos` as it
    /// was; callers treat `pos + n >= buf.len()` as "all written".
    #[inline]
    fn write_buf(&mut self, buf: &mut Vec<u8>, pos: usize) -> IoResult<usize> {
        self.write(&buf[pos..])
    }
    /// Writes two buffers in order; returns how many bytes were taken in all.
    fn write2(&mut self, a: &[u8], b: &[u8]) -> IoResult<usize>;
    /// Sends part of a file with `sendfile(2)` when the transport can (plain TCP);
    /// `None` when it cannot and the caller must read the file itself.
    fn sendfile(&mut self, file: &mut FileBody) -> Option<IoResult<usize>>;
    /// Pushes out anything the transport buffered itself (TLS records); `Ok(true)`
    /// when nothing is left.
    fn flush(&mut self) -> IoResult<bool>;
    /// Ends our writing side (TLS: close_notify first).
    fn shutdown_write(&mut self);
}

/// Sends the whole send buffer `buf[*pos..]` and then what the transport holds;
/// `Ok(true)` when everything is out (the buffer is then empty), `Ok(false)` when the
/// socket is full (`*want_write` set), `Err` when the connection is gone. The
/// WebSocket and raw-protocol drivers write through it.
pub(crate) fn flush_all<T: Transport>(
    io: &mut T,
    buf: &mut Vec<u8>,
    pos: &mut usize,
    want_write: &mut bool,
) -> Result<bool, ()> {
    while *pos < buf.len() {
        match io.write_buf(buf, *pos) {
            Ok(n) if *pos + n >= buf.len() => break,
            Ok(n) => *pos += n,
            Err(e) if e.is_would_block() => {
                *want_write = true;
                return Ok(false);
            }
            Err(Error::Interrupted) => {}
            Err(_) => return Err(()),
        }
    }
    buf.clear();
    *pos = 0;
    match io.flush() {
        Ok(done) => {
            *want_write = !done;
            Ok(done)
        }
        Err(_) => Err(()),
    }
}

/// The socket types: TCP, and Unix stream sockets (`HttpServer::bind_unix`,
/// `TcpServer::bind_unix`), with the same calls, `sendfile(2)` included.
macro_rules! socket_transport {
    ($ty:ty) => {
        impl Transport for $ty {
            #[inline]
            fn fd(&self) -> BorrowedFd<'_> {
                self.as_fd()
            }
            #[inline]
            fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
                <$ty>::read(self, buf)
            }
            #[inline]
            fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
                <$ty>::write(self, buf)
            }
            #[inline]
            fn write2(&mut self, a: &[u8], b: &[u8]) -> IoResult<usize> {
                self.writev(&[IoSlice::new(a), IoSlice::new(b)])
            }
            fn sendfile(&mut self, f: &mut FileBody) -> Option<IoResult<usize>> {
                let count = f.len.min(1 << 30) as usize;
                Some(
                    match rustix::fs::sendfile(&*self, &f.file, Some(&mut f.offset), count) {
                        Ok(n) => {
                            f.len -= n as u64;
                            Ok(n)
                        }
                        Err(e) => Err(Error::from(e)),
                    },
                )
            }
            #[inline]
            fn flush(&mut self) -> IoResult<bool> {
                Ok(true)
            }
            fn shutdown_write(&mut self) {
                let _ = self.shutdown(std::net::Shutdown::Write);
            }
        }
    };
}

socket_transport!(TcpStream);
socket_transport!(UnixStream);
