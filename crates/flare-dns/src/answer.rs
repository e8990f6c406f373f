//! What one response says about one question: the CNAME chain walked to its end, the
//! addresses there, or a negative answer with its RFC 2308 TTL.

use std::net::IpAddr;

use crate::message::{Message, Rcode};
use crate::name::Name;
use crate::rdata::{Class, RData, RecordType};

/// Where a query stands on its CNAME chain, carried across follow-up queries.
#[derive(Clone, Debug)]
pub(crate) struct Chain {
    /// The name being asked about now.
    pub(crate) name: Name,
    /// CNAME hops taken so far.
    pub(crate) hops: u8,
    /// The smallest TTL seen along the chain.
    pub(crate) ttl: u32,
}

/// The reading of a NOERROR or NXDOMAIN response.
#[derive(Clone, Debug)]
pub(crate) enum Verdict {
    /// Addresses at the end of the chain, cacheable for `ttl`.
    Addresses { addrs: Vec<IpAddr>, ttl: u32 },
    /// The name (or the chain's end) does not exist; cacheable for `ttl` if the
    /// response carried an SOA.
    NxDomain { ttl: Option<u32> },
    /// The name exists without addresses of the type; cacheable as above.
    NoData { ttl: Option<u32> },
    /// The chain left the response without a verdict: ask again for its end.
    Chase(Chain),
    /// The chain was longer than allowed (or looped).
    ChainTooLong,
}

/// Reads `msg` for `qtype` starting from `chain`, following at most `max_hops` CNAMEs
/// in total.
pub(crate) fn read(msg: &Message, qtype: RecordType, chain: &Chain, max_hops: u8) -> Verdict {
    let mut name = chain.name.clone();
    let mut ttl = chain.ttl;
    let mut hops = chain.hops;
    let mut addrs = Vec::new();
    loop {
        for r in msg
            .answers
            .iter()
            .filter(|r| r.name == name && r.class == Class::IN)
        {
            let ip = match (&r.data, qtype) {
                (RData::A(ip), RecordType::A) => IpAddr::V4(*ip),
                (RData::Aaaa(ip), RecordType::AAAA) => IpAddr::V6(*ip),
                _ => continue,
            };
            ttl = ttl.min(r.ttl);
            addrs.push(ip);
        }
        if !addrs.is_empty() {
            return Verdict::Addresses { addrs, ttl };
        }
        let cname = msg.answers.iter().find_map(|r| match &r.data {
            RData::Cname(target) if r.name == name => Some((target, r.ttl)),
            _ => None,
        });
        let Some((target, cname_ttl)) = cname else {
            break;
        };
        hops += 1;
        if hops > max_hops {
            return Verdict::ChainTooLong;
        }
        ttl = ttl.min(cname_ttl);
        name = target.clone();
    }
    // RFC 2308 5: the negative TTL is the SOA's own TTL capped by its MINIMUM, and
    // a negative answer without an SOA is not cached.
    let negative_ttl = msg.authorities.iter().find_map(|r| match &r.data {
        RData::Soa(soa) => Some(r.ttl.min(soa.minimum).min(ttl)),
        _ => None,
    });
    if msg.rcode() == Rcode::NXDOMAIN {
        Verdict::NxDomain { ttl: negative_ttl }
    } else if name != chain.name && negative_ttl.is_none() {
        Verdict::Chase(Chain { name, hops, ttl })
    } else {
        Verdict::NoData { ttl: negative_ttl }
    }
}
