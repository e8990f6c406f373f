//! DNS for flare: a sans-IO RFC 1035 message codec and a caching stub resolver.
//!
//! This crate will hold the message codec (with EDNS(0)), a resolver state machine that
//! reads `/etc/resolv.conf` and `/etc/hosts`, a TTL cache, and two front ends: a
//! blocking `resolve` and a non-blocking one driven by a flare reactor.
#![forbid(unsafe_code)]
