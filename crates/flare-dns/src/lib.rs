//! DNS for flare: a sans-IO RFC 1035 message codec and a caching stub resolver.
//!
//! # Codec
//!
//! [`Message::decode`] and [`Message::encode`] turn bytes into a [`Message`] (header,
//! questions, answer/authority/additional [`Record`]s, the EDNS(0) [`Edns`] record) and
//! back, with name compression both ways. Typed [`RData`] covers A, AAAA, CNAME, NS,
//! PTR, MX, TXT, SRV and SOA; any other type is kept raw. Nothing here touches a
//! socket or a clock, and every length and count read off the wire is checked before
//! use: a malformed message is a [`DecodeError`], never a panic or a large allocation.
//!
//! ```
//! use flare_dns::{Message, Name, RecordType};
//! let query = Message::query(0x1234, Name::from_ascii("example.com")?, RecordType::AAAA, Some(1232));
//! let mut wire = Vec::new();
//! query.encode(&mut wire)?;
//! assert_eq!(Message::decode(&wire)?, query);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Resolver
//!
//! [`Lookup`] is the resolver as a state machine: give it a host name, a
//! [`ResolverConfig`], the [`Cache`], a seeded [`Rng`] and `now`; it hands out
//! [`Transmit`]s and takes responses and timeouts. It asks for A and AAAA in parallel,
//! checks that every answer matches the question, the id and the server, retries per
//! `timeout`/`attempts`, switches to TCP when an answer is truncated, walks the search
//! list per `ndots`, follows CNAME chains (bounded), consults the hosts table, and
//! orders the addresses for happy eyeballs ([`interleave`]). Answers, negative ones
//! included (RFC 2308), come out as [`CacheUpdate`]s.
//!
//! Two front ends drive it:
//!
//! - [`Resolver`]: a blocking `resolve(host) -> Vec<IpAddr>` for any thread;
//! - [`ReactorResolver`]: many lookups on a worker's `flare_reactor::Poller`, so the
//!   HTTP client can resolve without blocking the worker.
//!
//! ```no_run
//! let resolver = flare_dns::Resolver::from_system()?; // /etc/resolv.conf, /etc/hosts
//! for ip in resolver.resolve("example.com")? {
//!     println!("{ip}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Threat model
//!
//! A stub resolver trusts its configured servers but not the network path to them.
//! Off-path spoofing is resisted by a random 16-bit id and a fresh random source port
//! per query (RFC 5452 9.2) and by accepting an answer only from the address queried,
//! with the same id and question. Hostile bytes are bounded everywhere: compression
//! pointers must point backwards (no loops) and are capped per name
//! ([`MAX_POINTERS`]), CNAME chains are capped ([`ResolverConfig::max_cname_depth`]),
//! cache size and TTLs are capped ([`ResolverConfig::cache_capacity`],
//! [`ResolverConfig::max_cache_ttl`]), and a reactor caps lookups in flight
//! ([`ReactorResolver::max_lookups`]). Host names with control bytes, `@`, or over-long
//! labels are refused before any query is sent.
#![forbid(unsafe_code)]

mod answer;
mod authority;
mod blocking;
mod cache;
mod config;
mod deadline;
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
mod zone;

pub use authority::{Authority, Transport};
pub use blocking::Resolver;
pub use cache::{Cache, CacheUpdate, CachedAnswer};
pub use config::{Families, ResolverConfig, DNS_PORT};
pub use error::{DecodeError, EncodeError, ResolveError, Section};
pub use hosts::Hosts;
pub use lookup::{Lookup, Proto, Transmit, TransmitTag};
pub use message::{Edns, EdnsOption, Header, Message, Opcode, Question, Rcode, Record, HEADER_LEN};
pub use name::{
    Labels, Name, NameError, MAX_LABEL_LEN, MAX_NAME_TEXT_LEN, MAX_NAME_WIRE_LEN, MAX_POINTERS,
};
pub use order::interleave;
pub use rdata::{Class, RData, RecordType, Soa};
pub use reactor::{LookupId, ReactorResolver};
pub use rng::Rng;
pub use zone::{Zone, ZoneError, ZoneErrorKind};
