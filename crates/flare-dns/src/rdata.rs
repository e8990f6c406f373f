//! Record types, classes and typed RDATA.

use core::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{DecodeError, EncodeError};
use crate::name::{Compressor, Name};
use crate::wire::Reader;

/// A record TYPE (RFC 1035 3.2.2), kept as a number so unknown types survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordType(pub u16);

impl RecordType {
    /// IPv4 host address.
    pub const A: Self = Self(1);
    /// Authoritative name server.
    pub const NS: Self = Self(2);
    /// Canonical name (alias).
    pub const CNAME: Self = Self(5);
    /// Start of authority.
    pub const SOA: Self = Self(6);
    /// Domain name pointer.
    pub const PTR: Self = Self(12);
    /// Mail exchange.
    pub const MX: Self = Self(15);
    /// Text strings.
    pub const TXT: Self = Self(16);
    /// IPv6 host address (RFC 3596).
    pub const AAAA: Self = Self(28);
    /// Service location (RFC 2782).
    pub const SRV: Self = Self(33);
    /// EDNS(0) pseudo-record (RFC 6891).
    pub const OPT: Self = Self(41);
    /// Any type, in questions only.
    pub const ANY: Self = Self(255);
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            Self::A => "A",
            Self::NS => "NS",
            Self::CNAME => "CNAME",
            Self::SOA => "SOA",
            Self::PTR => "PTR",
            Self::MX => "MX",
            Self::TXT => "TXT",
            Self::AAAA => "AAAA",
            Self::SRV => "SRV",
            Self::OPT => "OPT",
            Self::ANY => "ANY",
            Self(n) => return write!(f, "TYPE{n}"),
        };
        f.write_str(name)
    }
}

/// A record CLASS (RFC 1035 3.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Class(pub u16);

impl Class {
    /// The Internet.
    pub const IN: Self = Self(1);
    /// Chaos.
    pub const CH: Self = Self(3);
    /// Any class, in questions only.
    pub const ANY: Self = Self(255);
}

/// The fields of an SOA record (RFC 1035 3.3.13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soa {
    /// The primary name server.
    pub mname: Name,
    /// The responsible person's mailbox.
    pub rname: Name,
    /// Zone serial number.
    pub serial: u32,
    /// Refresh interval, seconds.
    pub refresh: u32,
    /// Retry interval, seconds.
    pub retry: u32,
    /// Expiry, seconds.
    pub expire: u32,
    /// The negative-caching TTL (RFC 2308 4).
    pub minimum: u32,
}

/// Typed RDATA.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// The canonical name this owner is an alias for.
    Cname(Name),
    /// A name server for the owner's zone.
    Ns(Name),
    /// The name a reverse-lookup owner points to.
    Ptr(Name),
    /// A mail exchange.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The exchange host.
        exchange: Name,
    },
    /// One or more character-strings of up to 255 bytes each.
    Txt(Vec<Vec<u8>>),
    /// A service location (RFC 2782).
    Srv {
        /// Lower is tried first.
        priority: u16,
        /// Relative weight among equal priorities.
        weight: u16,
        /// The service port.
        port: u16,
        /// The target host.
        target: Name,
    },
    /// A start of authority.
    Soa(Soa),
    /// Any other type, kept as raw bytes (RFC 3597).
    Unknown {
        /// The record type.
        rtype: RecordType,
        /// The raw RDATA.
        data: Vec<u8>,
    },
}

impl RData {
    /// The record type this data belongs to.
    pub fn rtype(&self) -> RecordType {
        match self {
            Self::A(_) => RecordType::A,
            Self::Aaaa(_) => RecordType::AAAA,
            Self::Cname(_) => RecordType::CNAME,
            Self::Ns(_) => RecordType::NS,
            Self::Ptr(_) => RecordType::PTR,
            Self::Mx { .. } => RecordType::MX,
            Self::Txt(_) => RecordType::TXT,
            Self::Srv { .. } => RecordType::SRV,
            Self::Soa(_) => RecordType::SOA,
            Self::Unknown { rtype, .. } => *rtype,
        }
    }

    /// Decodes RDATA of type `rtype` from `r`, which is limited to exactly RDLENGTH
    /// bytes; every byte must be used.
    pub(crate) fn decode(rtype: RecordType, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let offset = r.pos();
        let bad_len = DecodeError::BadRdataLength {
            offset,
            rtype: rtype.0,
        };
        let data = match rtype {
            RecordType::A => Self::A(Ipv4Addr::from(r.array::<4>().map_err(|_| bad_len)?)),
            RecordType::AAAA => Self::Aaaa(Ipv6Addr::from(r.array::<16>().map_err(|_| bad_len)?)),
            RecordType::CNAME => Self::Cname(Name::decode(r)?),
            RecordType::NS => Self::Ns(Name::decode(r)?),
            RecordType::PTR => Self::Ptr(Name::decode(r)?),
            RecordType::MX => Self::Mx {
                preference: r.u16()?,
                exchange: Name::decode(r)?,
            },
            RecordType::TXT => {
                let mut strings = Vec::new();
                while r.remaining() > 0 {
                    let len = usize::from(r.u8()?);
                    strings.push(r.bytes(len)?.to_vec());
                }
                Self::Txt(strings)
            }
            RecordType::SRV => Self::Srv {
                priority: r.u16()?,
                weight: r.u16()?,
                port: r.u16()?,
                target: Name::decode(r)?,
            },
            RecordType::SOA => Self::Soa(Soa {
                mname: Name::decode(r)?,
                rname: Name::decode(r)?,
                serial: r.u32()?,
                refresh: r.u32()?,
                retry: r.u32()?,
                expire: r.u32()?,
                minimum: r.u32()?,
            }),
            _ => Self::Unknown {
                rtype,
                data: r.bytes(r.remaining())?.to_vec(),
            },
        };
        if r.remaining() != 0 {
            return Err(bad_len);
        }
        Ok(data)
    }

    /// Appends the RDATA (without RDLENGTH). Names in the RFC 1035 types are
    /// compressed; SRV targets are not (RFC 2782), nor anything in unknown types
    /// (RFC 3597 4).
    pub(crate) fn encode(&self, c: &mut Compressor, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Self::A(ip) => out.extend_from_slice(&ip.octets()),
            Self::Aaaa(ip) => out.extend_from_slice(&ip.octets()),
            Self::Cname(n) | Self::Ns(n) | Self::Ptr(n) => c.encode(n, out),
            Self::Mx {
                preference,
                exchange,
            } => {
                out.extend_from_slice(&preference.to_be_bytes());
                c.encode(exchange, out);
            }
            Self::Txt(strings) => {
                for s in strings {
                    let len = u8::try_from(s.len())
                        .map_err(|_| EncodeError::TxtStringTooLong { len: s.len() })?;
                    out.push(len);
                    out.extend_from_slice(s);
                }
            }
            Self::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                out.extend_from_slice(&priority.to_be_bytes());
                out.extend_from_slice(&weight.to_be_bytes());
                out.extend_from_slice(&port.to_be_bytes());
                target.encode_plain(out);
            }
            Self::Soa(soa) => {
                c.encode(&soa.mname, out);
                c.encode(&soa.rname, out);
                for v in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
            Self::Unknown { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
}
