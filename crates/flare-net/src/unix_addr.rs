//! Unix-domain socket addresses: a filesystem path, a Linux abstract name, or
//! none at all.

use core::fmt;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrAny, SocketAddrUnix};

use crate::error::{Error, Result};

/// Offset of `sun_path` in `sockaddr_un`: after a 16-bit family on Linux, and
/// after an 8-bit length and an 8-bit family on Apple and the BSDs.
const SUN_PATH_OFFSET: usize = 2;

/// The address of a Unix-domain socket.
///
/// The variant set is the same on every target so that matches are portable;
/// [`UnixAddr::Abstract`] only ever occurs (and is only accepted) on Linux and
/// Android.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    /// A socket file in the filesystem. At most 107 bytes on Linux (103 on
    /// macOS), else [`Error::Os`] with `ENAMETOOLONG`.
    Path(PathBuf),
    /// A Linux abstract name: not in the filesystem, gone when the last socket
    /// bound to it closes. The bytes exclude the leading NUL and may contain
    /// any value; at most 107 bytes.
    Abstract(Vec<u8>),
    /// No name: a socket from `pair()`, a client that never bound, or an
    /// unbound datagram sender.
    Unnamed,
}

impl UnixAddr {
    /// The path, for [`UnixAddr::Path`].
    pub fn as_pathname(&self) -> Option<&Path> {
        match self {
            UnixAddr::Path(path) => Some(path),
            _ => None,
        }
    }

    /// The name, for [`UnixAddr::Abstract`].
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        match self {
            UnixAddr::Abstract(name) => Some(name),
            _ => None,
        }
    }

    /// `true` for [`UnixAddr::Unnamed`].
    pub fn is_unnamed(&self) -> bool {
        matches!(self, UnixAddr::Unnamed)
    }

    /// Convert an address the kernel returned; `None` (no address reported)
    /// is [`UnixAddr::Unnamed`].
    ///
    /// Decoded here rather than with rustix's `SocketAddrUnix` conversion,
    /// which asserts on a path that fills `sun_path` without a NUL (a peer can
    /// bind one) and reports an unnamed socket as an empty abstract name.
    pub(crate) fn from_kernel(addr: Option<SocketAddrAny>) -> Result<Self> {
        let Some(addr) = addr else {
            return Ok(UnixAddr::Unnamed);
        };
        if addr.address_family() != AddressFamily::UNIX {
            return Err(Errno::AFNOSUPPORT.into());
        }
        let len = addr.addr_len() as usize;
        // SAFETY: `SocketAddrAny` guarantees that its first `addr_len()` bytes
        // are initialised and lie within its storage, and `addr` outlives the
        // slice.
        let bytes = unsafe { std::slice::from_raw_parts(addr.as_ptr().cast::<u8>(), len) };
        Ok(Self::from_sun_path(
            bytes.get(SUN_PATH_OFFSET..).unwrap_or(&[]),
        ))
    }

    /// Decode the `sun_path` bytes the kernel reported (its length already
    /// cut to the reported address length).
    fn from_sun_path(sun_path: &[u8]) -> Self {
        match sun_path {
            [] => UnixAddr::Unnamed,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            [0, name @ ..] => UnixAddr::Abstract(name.to_vec()),
            _ => {
                // A path ends at its NUL, or fills the whole field.
                let end = sun_path
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(sun_path.len());
                match sun_path.get(..end) {
                    Some(path) if !path.is_empty() => {
                        UnixAddr::Path(PathBuf::from(OsStr::from_bytes(path)))
                    }
                    // Apple and the BSDs report an unnamed socket as a zeroed
                    // path.
                    _ => UnixAddr::Unnamed,
                }
            }
        }
    }

    /// The kernel form of this address, for `bind`, `connect` and `sendto`.
    /// `Unnamed` is only meaningful for `bind` on Linux (autobind), so other
    /// uses get [`Error::InvalidInput`].
    pub(crate) fn to_kernel(&self, for_bind: bool) -> Result<SocketAddrUnix> {
        match self {
            UnixAddr::Path(path) => Ok(SocketAddrUnix::new(path.as_path())?),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            UnixAddr::Abstract(name) => Ok(SocketAddrUnix::new_abstract_name(name)?),
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            UnixAddr::Abstract(_) => Err(Error::InvalidInput(
                "abstract Unix socket names exist only on Linux",
            )),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            UnixAddr::Unnamed if for_bind => Ok(SocketAddrUnix::new_unnamed()),
            UnixAddr::Unnamed => {
                let _ = for_bind;
                Err(Error::InvalidInput(
                    "an unnamed Unix address cannot be a destination",
                ))
            }
        }
    }
}

impl fmt::Display for UnixAddr {
    /// A path as itself, an abstract name as `@name` (the `ss`/`netstat`
    /// convention) with non-printable bytes escaped, no name as `(unnamed)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixAddr::Path(path) => write!(f, "{}", path.display()),
            UnixAddr::Abstract(name) => {
                f.write_str("@")?;
                write!(f, "{}", name.escape_ascii())
            }
            UnixAddr::Unnamed => f.write_str("(unnamed)"),
        }
    }
}

impl From<&Path> for UnixAddr {
    fn from(path: &Path) -> Self {
        UnixAddr::Path(path.to_path_buf())
    }
}

impl From<PathBuf> for UnixAddr {
    fn from(path: PathBuf) -> Self {
        UnixAddr::Path(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        assert_eq!(
            UnixAddr::from(Path::new("/run/x.sock")).to_string(),
            "/run/x.sock"
        );
        assert_eq!(
            UnixAddr::Abstract(b"flare\0\x01".to_vec()).to_string(),
            "@flare\\x00\\x01"
        );
        assert_eq!(UnixAddr::Unnamed.to_string(), "(unnamed)");
    }

    #[test]
    fn accessors() {
        let p = UnixAddr::from(PathBuf::from("/tmp/a"));
        assert_eq!(p.as_pathname(), Some(Path::new("/tmp/a")));
        assert_eq!(p.as_abstract_name(), None);
        assert!(!p.is_unnamed());
        let a = UnixAddr::Abstract(b"n".to_vec());
        assert_eq!(a.as_abstract_name(), Some(&b"n"[..]));
        assert!(UnixAddr::Unnamed.is_unnamed());
    }

    #[test]
    fn too_long_path_is_rejected_before_the_syscall() {
        let long = PathBuf::from("/tmp/".to_string() + &"x".repeat(200));
        let e = UnixAddr::Path(long).to_kernel(false).unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(rustix::io::Errno::NAMETOOLONG.raw_os_error())
        );
    }

    #[test]
    fn kernel_sun_path_decoding() {
        let cases: &[(&[u8], UnixAddr)] = &[
            (b"", UnixAddr::Unnamed),
            (b"/tmp/s\0", UnixAddr::Path("/tmp/s".into())),
            // A path that fills the field has no NUL.
            (b"/tmp/full", UnixAddr::Path("/tmp/full".into())),
            // Padding after the NUL is ignored.
            (b"rel\0\0\0junk", UnixAddr::Path("rel".into())),
            #[cfg(target_os = "linux")]
            (b"\0name", UnixAddr::Abstract(b"name".to_vec())),
            #[cfg(target_os = "linux")]
            (b"\0", UnixAddr::Abstract(Vec::new())),
            #[cfg(target_os = "linux")]
            (b"\0a\0b", UnixAddr::Abstract(b"a\0b".to_vec())),
        ];
        for (raw, want) in cases {
            assert_eq!(&UnixAddr::from_sun_path(raw), want, "{raw:?}");
        }
        let full = [b'x'; 108];
        let UnixAddr::Path(p) = UnixAddr::from_sun_path(&full) else {
            panic!("not a path");
        };
        assert_eq!(p.as_os_str().len(), 108);
    }

    #[test]
    fn unnamed_is_not_a_destination() {
        assert!(matches!(
            UnixAddr::Unnamed.to_kernel(false),
            Err(Error::InvalidInput(_))
        ));
    }
}
