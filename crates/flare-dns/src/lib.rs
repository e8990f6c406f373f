//! DNS for flare: a sans-IO RFC 1035 message codec and a caching stub resolver.
//!
//! The codec ([`Message`], [`Name`], [`RData`], [`Edns`]) never touches a socket or a
//! clock: bytes in, values out, and back. Every length and count read off the wire is
//! checked before use, and a malformed message is a [`DecodeError`], never a panic.
#![forbid(unsafe_code)]

mod blocking;
mod cache;
mod config;
mod error;
mod hosts;
mod lookup;
mod message;
mod name;
mod order;
mod rdata;
mod reactor;
mod rng;
mod wire;

pub use blocking::Resolver;
pub use cache::{Cache, CacheUpdate, CachedAnswer};
pub use config::{Families, ResolverConfig, DNS_PORT};
pub use error::{DecodeError, EncodeError, Section};
pub use hosts::Hosts;
pub use lookup::{Lookup, Proto, ResolveError, Transmit, TransmitTag};
pub use message::{Edns, EdnsOption, Header, Message, Opcode, Question, Rcode, Record, HEADER_LEN};
pub use name::{
    Labels, Name, NameError, MAX_LABEL_LEN, MAX_NAME_TEXT_LEN, MAX_NAME_WIRE_LEN, MAX_POINTERS,
};
pub use order::interleave;
pub use rdata::{Class, RData, RecordType, Soa};
pub use reactor::{LookupId, ReactorResolver};
pub use rng::Rng;
