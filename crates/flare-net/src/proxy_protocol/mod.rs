//! PROXY protocol headers, versions 1 (text) and 2 (binary), as HAProxy's
//! specification defines them (`doc/proxy-protocol.txt`; section numbers
//! below refer to it). Sans-IO: [`parse`] looks at the first bytes a
//! connection received and answers [`Status::Partial`] until the whole header
//! is there, then [`Status::Complete`] with the [`Header`], whose
//! [`Header::len`] says where the application's bytes start.
//!
//! ```
//! use flare_net::proxy_protocol::{parse, Limits, Status};
//!
//! let buf = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
//! let Status::Complete(header) = parse(buf, &Limits::default())? else {
//!     unreachable!("the whole line is there");
//! };
//! assert_eq!(header.source(), Some("192.168.0.1:56324".parse().unwrap()));
//! assert_eq!(&buf[header.len..], b"GET / HTTP/1.1\r\n");
//! # Ok::<(), flare_net::proxy_protocol::ProxyError>(())
//! ```
//!
//! # Trust
//!
//! "The receiver MUST be configured to only receive the protocol described
//! in this specification and MUST not try to guess whether the protocol
//! header is present or not" (section 2): a listener either expects the
//! header on every connection, and only from trusted proxies, or never.
//! Every error here means "close the connection"; none is recoverable.
//!
//! # Strictness
//!
//! Strict by default, as the spec asks: "Any sequence which does not exactly
//! match the protocol must be discarded and cause the receiver to abort the
//! connection" (section 2.1). Version 1 lines are checked field by field;
//! version 2 accepts only version 2, the LOCAL and PROXY commands and the
//! seven address family and protocol bytes the spec lists (section 2.2), and
//! checks every TLV's length against the header, the SSL TLV's sub-TLVs, and
//! the CRC32c when one is present.
#![forbid(unsafe_code)]

mod crc32c;
mod tlv;
mod v1;
mod v2;

use std::fmt;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

pub use tlv::{
    Ssl, Tlv, PP2_CLIENT_CERT_CONN, PP2_CLIENT_CERT_SESS, PP2_CLIENT_SSL, PP2_SUBTYPE_SSL_CIPHER,
    PP2_SUBTYPE_SSL_CN, PP2_SUBTYPE_SSL_KEY_ALG, PP2_SUBTYPE_SSL_SIG_ALG, PP2_SUBTYPE_SSL_VERSION,
    PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_CRC32C, PP2_TYPE_NETNS, PP2_TYPE_NOOP,
    PP2_TYPE_SSL, PP2_TYPE_UNIQUE_ID,
};

/// What starts a version 1 header: `"PROXY"` and the one space after it
/// (section 2.1).
pub const V1_PREFIX: &[u8; 6] = b"PROXY ";

/// The longest version 1 line, CRLF included: "If the CRLF sequence is not
/// found in the first 107 characters, the receiver should declare the line
/// invalid" (section 2.1).
pub const V1_MAX_LEN: usize = 107;

/// The 12-byte block that starts a version 2 header (section 2.2).
pub const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// The fixed part of a version 2 header: signature, version and command,
/// family and protocol, and the 16-bit length of what follows.
pub const V2_FIXED_LEN: usize = 16;

/// The result of parsing a possibly incomplete buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// The value, complete.
    Complete(T),
    /// The buffer ends before the header does; call again with more bytes
    /// (the same ones and those that followed).
    Partial,
}

/// The protocol version, told apart by the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// The human-readable line (section 2.1).
    V1,
    /// The binary header (section 2.2).
    V2,
}

/// What the connection is (section 2.2; a version 1 line is always
/// [`Command::Proxy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `\x0`: "the connection was established on purpose by the proxy
    /// without being relayed" (health checks). "The receiver must ... use
    /// the real connection endpoints": the addresses are
    /// [`Addresses::Unknown`].
    Local,
    /// `\x1`: relayed on behalf of the client the addresses name.
    Proxy,
}

/// The length of a Unix socket address in a version 2 header: "The
/// addresses are exactly 108 bytes each" (section 2.2).
pub const UNIX_ADDR_LEN: usize = 108;

/// The original connection's endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Addresses {
    /// None given or none to use: v1 `UNKNOWN`, v2 `AF_UNSPEC`, or a LOCAL
    /// command. Use the socket's own addresses.
    Unknown,
    /// TCP over IPv4 (v1 `TCP4`, v2 `\x11`).
    Tcp4 {
        /// The client.
        src: SocketAddrV4,
        /// The address the client connected to.
        dst: SocketAddrV4,
    },
    /// TCP over IPv6 (v1 `TCP6`, v2 `\x21`).
    Tcp6 {
        /// The client.
        src: SocketAddrV6,
        /// The address the client connected to.
        dst: SocketAddrV6,
    },
    /// UDP over IPv4 (v2 `\x12`).
    Udp4 {
        /// The client.
        src: SocketAddrV4,
        /// The address the client sent to.
        dst: SocketAddrV4,
    },
    /// UDP over IPv6 (v2 `\x22`).
    Udp6 {
        /// The client.
        src: SocketAddrV6,
        /// The address the client sent to.
        dst: SocketAddrV6,
    },
    /// A Unix stream socket (v2 `\x31`): the raw `sun_path` bytes, NUL
    /// padded (a leading NUL is a Linux abstract name).
    Unix {
        /// The client's path.
        src: [u8; UNIX_ADDR_LEN],
        /// The listener's path.
        dst: [u8; UNIX_ADDR_LEN],
    },
    /// A Unix datagram socket (v2 `\x32`), as [`Addresses::Unix`].
    UnixDgram {
        /// The client's path.
        src: [u8; UNIX_ADDR_LEN],
        /// The receiver's path.
        dst: [u8; UNIX_ADDR_LEN],
    },
}

/// A parsed PROXY header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Which format it came in.
    pub version: Version,
    /// LOCAL or PROXY.
    pub command: Command,
    /// The original endpoints ([`Addresses::Unknown`] for LOCAL).
    pub addresses: Addresses,
    /// The version 2 TLVs in order, unknown types included, `PP2_TYPE_NOOP`
    /// left out ("should be ignored when parsed", section 2.2.4). Always
    /// empty for version 1.
    pub tlvs: Vec<Tlv>,
    /// The bytes the header took: the connection's own data starts at
    /// `buf[len..]`.
    pub len: usize,
}

impl Header {
    /// The proxied client: `None` for LOCAL, unknown and Unix addresses, when
    /// the socket's own peer address is the one to use.
    pub fn source(&self) -> Option<SocketAddr> {
        match &self.addresses {
            Addresses::Tcp4 { src, .. } | Addresses::Udp4 { src, .. } => Some((*src).into()),
            Addresses::Tcp6 { src, .. } | Addresses::Udp6 { src, .. } => Some((*src).into()),
            _ => None,
        }
    }

    /// The address the client connected to, when [`Header::source`] is
    /// `Some`.
    pub fn destination(&self) -> Option<SocketAddr> {
        match &self.addresses {
            Addresses::Tcp4 { dst, .. } | Addresses::Udp4 { dst, .. } => Some((*dst).into()),
            Addresses::Tcp6 { dst, .. } | Addresses::Udp6 { dst, .. } => Some((*dst).into()),
            _ => None,
        }
    }

    /// The value of the first TLV of type `kind`.
    pub fn tlv(&self, kind: u8) -> Option<&[u8]> {
        self.tlvs
            .iter()
            .find(|t| t.kind == kind)
            .map(|t| t.value.as_slice())
    }

    /// `PP2_TYPE_ALPN`: the protocol the client negotiated, e.g. `h2`
    /// (section 2.2.1).
    pub fn alpn(&self) -> Option<&[u8]> {
        self.tlv(PP2_TYPE_ALPN)
    }

    /// `PP2_TYPE_AUTHORITY`: the host name the client asked for, the TLS SNI
    /// when there was TLS; UTF-8 by the spec, not checked (section 2.2.2).
    pub fn authority(&self) -> Option<&[u8]> {
        self.tlv(PP2_TYPE_AUTHORITY)
    }

    /// `PP2_TYPE_SSL`: how the client connected to the proxy, already checked
    /// to be well formed (section 2.2.6).
    pub fn ssl(&self) -> Option<Ssl<'_>> {
        self.tlv(PP2_TYPE_SSL).and_then(Ssl::parse)
    }

    /// `PP2_TYPE_UNIQUE_ID`: the proxy's opaque connection id, at most 128
    /// bytes (section 2.2.5).
    pub fn unique_id(&self) -> Option<&[u8]> {
        self.tlv(PP2_TYPE_UNIQUE_ID)
    }

    /// `PP2_TYPE_NETNS`: the name of the proxy's network namespace (section
    /// 2.2.7).
    pub fn netns(&self) -> Option<&[u8]> {
        self.tlv(PP2_TYPE_NETNS)
    }

    /// `PP2_TYPE_CRC32C`: the header's checksum, already verified (section
    /// 2.2.3).
    pub fn crc32c(&self) -> Option<u32> {
        let v: [u8; 4] = self.tlv(PP2_TYPE_CRC32C)?.try_into().ok()?;
        Some(u32::from_be_bytes(v))
    }
}

/// Bounds on a version 2 header, which may announce up to 64 KiB. A version
/// 1 line is always bounded by [`V1_MAX_LEN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_v2_len: usize,
    max_tlvs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_v2_len: 1024,
            max_tlvs: 32,
        }
    }
}

impl Limits {
    /// Largest version 2 address and TLV block (the header's 16-bit length
    /// field, so the header is at most 16 bytes more). Default 1 KiB, which
    /// holds Unix addresses (216 bytes) and the TLVs HAProxy sends; the spec
    /// allows 65535. A larger announced length is [`ProxyError::TooLong`] as
    /// soon as the 16 fixed bytes are in, so a proxy, or whoever got past
    /// the trust check, cannot make a connection buffer 64 KiB before it is
    /// judged.
    pub fn max_v2_len(mut self, n: usize) -> Self {
        self.max_v2_len = n;
        self
    }

    /// Most top-level TLVs in a version 2 header (`PP2_TYPE_NOOP` counted;
    /// SSL sub-TLVs are bounded by their TLV's length only). Default 32.
    /// More is [`ProxyError::TooManyTlvs`]. Bounds the `Vec` a header
    /// allocates, which tiny TLVs would otherwise fill three bytes each.
    pub fn max_tlvs(mut self, n: usize) -> Self {
        self.max_tlvs = n;
        self
    }

    /// The current [`Limits::max_v2_len`].
    pub fn get_max_v2_len(&self) -> usize {
        self.max_v2_len
    }

    /// The current [`Limits::max_tlvs`].
    pub fn get_max_tlvs(&self) -> usize {
        self.max_tlvs
    }
}

/// Why the first bytes of a connection are not an acceptable PROXY header.
/// Every variant means: close the connection (section 2.1, "Any sequence
/// which does not exactly match the protocol must be discarded and cause the
/// receiver to abort the connection").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyError {
    /// The first bytes match neither `"PROXY "` nor the version 2
    /// signature: "the protocol is not covered by this specification and
    /// the connection must be dropped" (section 2.2).
    NotProxy,
    /// A malformed version 1 line; the text says which part.
    BadV1(&'static str),
    /// A malformed version 2 header; the text says which part.
    BadV2(&'static str),
    /// A version 1 line without CRLF in its first 107 bytes, or a version 2
    /// length over [`Limits::max_v2_len`].
    TooLong,
    /// A version 2 signature followed by another version (the high nibble,
    /// given here): "it must always be sent as \x2 and the receiver must
    /// only accept this value" (section 2.2).
    UnsupportedVersion(u8),
    /// More TLVs than [`Limits::max_tlvs`].
    TooManyTlvs,
    /// The `PP2_TYPE_CRC32C` value is not the header's checksum: "the
    /// receiver MUST treat the TCP connection providing the header as
    /// invalid" (section 2.2.3).
    Crc32cMismatch {
        /// The value in the TLV.
        received: u32,
        /// The checksum of the header as received.
        computed: u32,
    },
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::NotProxy => f.write_str("not a PROXY protocol header"),
            ProxyError::BadV1(what) => write!(f, "bad PROXY v1 line: {what}"),
            ProxyError::BadV2(what) => write!(f, "bad PROXY v2 header: {what}"),
            ProxyError::TooLong => f.write_str("PROXY header too long"),
            ProxyError::UnsupportedVersion(v) => write!(f, "PROXY header version {v}"),
            ProxyError::TooManyTlvs => f.write_str("too many PROXY v2 TLVs"),
            ProxyError::Crc32cMismatch { received, computed } => write!(
                f,
                "PROXY v2 CRC32c {received:#010x}, header checksums to {computed:#010x}"
            ),
        }
    }
}

impl std::error::Error for ProxyError {}

/// Parses the PROXY header at the start of `buf`.
///
/// `Partial` until the whole header is in `buf` (an empty `buf` too);
/// `Complete` once it is, whatever follows it. Errors come as early as the
/// bytes allow: [`ProxyError::NotProxy`] from the first byte that matches
/// neither signature, a bad version 2 version, command, family or length as
/// soon as its byte arrives.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Status<Header>, ProxyError> {
    if buf.is_empty() {
        Ok(Status::Partial)
    } else if agrees_with(buf, V2_SIGNATURE) {
        v2::parse(buf, limits)
    } else if agrees_with(buf, V1_PREFIX) {
        v1::parse(buf)
    } else {
        Err(ProxyError::NotProxy)
    }
}

/// Whether `buf` could still be the start of a PROXY header: its first
/// bytes agree with `"PROXY "` or with the version 2 signature as far as
/// they go (an empty `buf` does). `false` is exactly when [`parse`] says
/// [`ProxyError::NotProxy`]; `true` does not mean the rest will be valid.
pub fn is_possible_prefix(buf: &[u8]) -> bool {
    agrees_with(buf, V2_SIGNATURE) || agrees_with(buf, V1_PREFIX)
}

/// `buf` and `signature` agree on their common length.
fn agrees_with(buf: &[u8], signature: &[u8]) -> bool {
    let n = buf.len().min(signature.len());
    buf[..n] == signature[..n]
}
