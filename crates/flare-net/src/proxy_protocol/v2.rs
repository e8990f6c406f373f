//! The binary header (section 2.2):
//!
//! ```text
//! struct proxy_hdr_v2 {
//!     uint8_t sig[12];  /* hex 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A */
//!     uint8_t ver_cmd;  /* protocol version and command */
//!     uint8_t fam;      /* protocol family and address */
//!     uint16_t len;     /* number of following bytes part of the header */
//! };
//! ```
//!
//! then the addresses of the family, then TLVs up to `16 + len`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use super::crc32c::Crc32c;
use super::tlv::parse_tlvs;
use super::{
    Addresses, Command, Header, Limits, ProxyError, Status, Version, UNIX_ADDR_LEN, V2_FIXED_LEN,
};

/// The family and protocol bytes the spec lists ("In practice, the following
/// protocol bytes are expected", section 2.2). Other combinations of valid
/// nibbles (INET with UNSPEC, say) are rejected too: strict by default.
#[derive(Clone, Copy)]
enum Family {
    Unspec,
    Tcp4,
    Udp4,
    Tcp6,
    Udp6,
    UnixStream,
    UnixDgram,
}

impl Family {
    fn from_u8(b: u8) -> Option<Family> {
        Some(match b {
            0x00 => Family::Unspec,
            0x11 => Family::Tcp4,
            0x12 => Family::Udp4,
            0x21 => Family::Tcp6,
            0x22 => Family::Udp6,
            0x31 => Family::UnixStream,
            0x32 => Family::UnixDgram,
            _ => return None,
        })
    }

    /// "Address length is 2*4 + 2*2 = 12 bytes" and so on.
    fn address_len(self) -> usize {
        match self {
            Family::Unspec => 0,
            Family::Tcp4 | Family::Udp4 => 12,
            Family::Tcp6 | Family::Udp6 => 36,
            Family::UnixStream | Family::UnixDgram => 2 * UNIX_ADDR_LEN,
        }
    }

    /// Reads an address block of exactly [`Family::address_len`] bytes.
    fn addresses(self, a: &[u8]) -> Addresses {
        let port = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
        let v4 = |at: usize| Ipv4Addr::from(<[u8; 4]>::try_from(&a[at..at + 4]).unwrap());
        let v6 = |at: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&a[at..at + 16]).unwrap());
        let unix = |at: usize| <[u8; UNIX_ADDR_LEN]>::try_from(&a[at..at + UNIX_ADDR_LEN]).unwrap();
        match self {
            Family::Unspec => Addresses::Unknown,
            Family::Tcp4 => Addresses::Tcp4 {
                src: SocketAddrV4::new(v4(0), port(8)),
                dst: SocketAddrV4::new(v4(4), port(10)),
            },
            Family::Udp4 => Addresses::Udp4 {
                src: SocketAddrV4::new(v4(0), port(8)),
                dst: SocketAddrV4::new(v4(4), port(10)),
            },
            Family::Tcp6 => Addresses::Tcp6 {
                src: SocketAddrV6::new(v6(0), port(32), 0, 0),
                dst: SocketAddrV6::new(v6(16), port(34), 0, 0),
            },
            Family::Udp6 => Addresses::Udp6 {
                src: SocketAddrV6::new(v6(0), port(32), 0, 0),
                dst: SocketAddrV6::new(v6(16), port(34), 0, 0),
            },
            Family::UnixStream => Addresses::Unix {
                src: unix(0),
                dst: unix(UNIX_ADDR_LEN),
            },
            Family::UnixDgram => Addresses::UnixDgram {
                src: unix(0),
                dst: unix(UNIX_ADDR_LEN),
            },
        }
    }
}

/// Parses a buffer whose first bytes agree with the signature.
pub(super) fn parse(buf: &[u8], limits: &Limits) -> Result<Status<Header>, ProxyError> {
    let Some(&ver_cmd) = buf.get(12) else {
        return Ok(Status::Partial);
    };
    // "The highest four bits contains the version. As of this
    // specification, it must always be sent as \x2 and the receiver must
    // only accept this value."
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError::UnsupportedVersion(ver_cmd >> 4));
    }
    // "other values are unassigned and must not be emitted by senders.
    // Receivers must drop connections presenting unexpected values here."
    let command = match ver_cmd & 0x0F {
        0x0 => Command::Local,
        0x1 => Command::Proxy,
        _ => return Err(ProxyError::BadV2("command not LOCAL or PROXY")),
    };
    let Some(&fam) = buf.get(13) else {
        return Ok(Status::Partial);
    };
    // "other values are unspecified and must not be emitted in version 2 of
    // this protocol and must be rejected as invalid by receivers."
    let family = Family::from_u8(fam).ok_or(ProxyError::BadV2("unknown family or protocol"))?;
    let Some(&[hi, lo]) = buf.get(14..16) else {
        return Ok(Status::Partial);
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len > limits.max_v2_len {
        return Err(ProxyError::TooLong);
    }
    let address_len = family.address_len();
    if command == Command::Proxy && len < address_len {
        return Err(ProxyError::BadV2(
            "length shorter than the family's addresses",
        ));
    }
    // "the length of the protocol header in bytes is always exactly 16 +
    // this value"; "The receiver must not start to parse an address before
    // the whole address block is received."
    let total = V2_FIXED_LEN + len;
    let Some(header) = buf.get(..total) else {
        return Ok(Status::Partial);
    };
    let block = &header[V2_FIXED_LEN..];
    let (addresses, tlv_block) = match command {
        Command::Proxy => (
            family.addresses(&block[..address_len]),
            &block[address_len..],
        ),
        // LOCAL: "discard the protocol block including the family which is
        // ignored". TLVs still follow the family's addresses when there is
        // room for them (HAProxy's health checks send AF_UNSPEC and TLVs);
        // a shorter block is skipped whole.
        Command::Local => (Addresses::Unknown, block.get(address_len..).unwrap_or(&[])),
    };
    let (tlvs, crc_at) = parse_tlvs(tlv_block, limits.max_tlvs)?;
    if let Some(at) = crc_at {
        // "replace the 32 bits of the checksum field in the received PROXY
        // header with all '0's and calculate a CRC32c checksum value of the
        // whole PROXY header."
        let at = total - tlv_block.len() + at;
        let received = u32::from_be_bytes(header[at..at + 4].try_into().unwrap());
        let computed = Crc32c::new()
            .update(&header[..at])
            .update(&[0; 4])
            .update(&header[at + 4..])
            .finish();
        if received != computed {
            return Err(ProxyError::Crc32cMismatch { received, computed });
        }
    }
    Ok(Status::Complete(Header {
        version: Version::V2,
        command,
        addresses,
        tlvs,
        len: total,
    }))
}
