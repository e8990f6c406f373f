//! Trait plumbing shared by the socket types: the std fd traits, so a socket
//! can be registered with a reactor (`AsFd`), handed to other code
//! (`IntoRawFd`, `Into<OwnedFd>`) or adopted (`From<OwnedFd>`, `FromRawFd`),
//! and `io::Read`/`io::Write` for the stream types.

/// Implement `AsFd`, `AsRawFd`, `FromRawFd`, `IntoRawFd`, `From<OwnedFd>` and
/// `From<$ty> for OwnedFd` for a `struct $ty(OwnedFd)`.
macro_rules! impl_fd_traits {
    ($ty:ident) => {
        impl std::os::fd::AsFd for $ty {
            #[inline]
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.0.as_fd()
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            #[inline]
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.0.as_raw_fd()
            }
        }

        impl std::os::fd::IntoRawFd for $ty {
            #[inline]
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                self.0.into_raw_fd()
            }
        }

        impl std::os::fd::FromRawFd for $ty {
            /// Adopt a raw socket descriptor.
            ///
            /// # Safety
            ///
            /// `fd` must be an open socket of the right kind that nothing else
            /// owns or will close.
            #[inline]
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> Self {
                // SAFETY: the caller guarantees `fd` is open and owned by no one
                // else, which is exactly `OwnedFd::from_raw_fd`'s contract.
                let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
                Self::from(owned)
            }
        }

        impl From<std::os::fd::OwnedFd> for $ty {
            /// Adopt an owned socket descriptor. The descriptor keeps its
            /// blocking mode; no check is made that it is the right socket kind
            /// (a wrong one makes later calls fail with the OS error).
            #[inline]
            fn from(fd: std::os::fd::OwnedFd) -> Self {
                crate::sys::adopt(&fd);
                Self(fd)
            }
        }

        impl From<$ty> for std::os::fd::OwnedFd {
            #[inline]
            fn from(sock: $ty) -> Self {
                sock.0
            }
        }
    };
}

pub(crate) use impl_fd_traits;

/// Implement `io::Read` and `io::Write` for `$ty` and `&$ty` through the
/// inherent `read`/`write`/`writev`.
macro_rules! impl_io_traits {
    ($ty:ident) => {
        impl std::io::Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                $ty::read(self, buf).map_err(std::io::Error::from)
            }
        }

        impl std::io::Read for &$ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                $ty::read(self, buf).map_err(std::io::Error::from)
            }
        }

        impl std::io::Write for $ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                $ty::write(self, buf).map_err(std::io::Error::from)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                $ty::writev(self, bufs).map_err(std::io::Error::from)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Write for &$ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                $ty::write(self, buf).map_err(std::io::Error::from)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                $ty::writev(self, bufs).map_err(std::io::Error::from)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

pub(crate) use impl_io_traits;
