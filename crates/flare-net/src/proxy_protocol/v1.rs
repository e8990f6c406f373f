//! The human-readable header (section 2.1):
//!
//! ```text
//! PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n
//! PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n
//! PROXY UNKNOWN\r\n
//! ```

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use super::{Addresses, Command, Header, ProxyError, Status, Version, V1_MAX_LEN, V1_PREFIX};

/// The protocol names a line may carry after `"PROXY "`.
const PROTOCOLS: [&[u8]; 3] = [b"TCP4", b"TCP6", b"UNKNOWN"];

/// Parses a buffer that starts with (a prefix of) `"PROXY "`.
pub(super) fn parse(buf: &[u8]) -> Result<Status<Header>, ProxyError> {
    let window = &buf[..buf.len().min(V1_MAX_LEN)];
    // "The receiver must not tolerate a single CR or LF character to end the
    // line": the line ends at the first CR, which must be followed by LF.
    let Some(cr) = window.iter().position(|&b| b == b'\r' || b == b'\n') else {
        if buf.len() >= V1_MAX_LEN {
            return Err(ProxyError::TooLong);
        }
        check_protocol_prefix(buf)?;
        return Ok(Status::Partial);
    };
    if window[cr] == b'\n' {
        return Err(ProxyError::BadV1("LF without CR"));
    }
    let len = cr + 2;
    if len > V1_MAX_LEN {
        // "If the CRLF sequence is not found in the first 107 characters,
        // the receiver should declare the line invalid."
        return Err(ProxyError::TooLong);
    }
    match buf.get(cr + 1) {
        None => {
            check_protocol_prefix(buf)?;
            return Ok(Status::Partial);
        }
        Some(b'\n') => {}
        Some(_) => return Err(ProxyError::BadV1("CR without LF")),
    }
    let Some(line) = buf[..cr].strip_prefix(V1_PREFIX.as_slice()) else {
        // A CR inside "PROXY ".
        return Err(ProxyError::BadV1("no space after PROXY"));
    };
    let (protocol, rest) = match line.iter().position(|&b| b == b' ') {
        Some(sp) => (&line[..sp], Some(&line[sp + 1..])),
        None => (line, None),
    };
    let addresses = match (protocol, rest) {
        // "For "UNKNOWN", the rest of the line before the CRLF may be
        // omitted by the sender, and the receiver must ignore anything
        // presented before the CRLF is found."
        (b"UNKNOWN", _) => Addresses::Unknown,
        (b"TCP4", Some(rest)) => {
            let [src, dst, sport, dport] = fields(rest)?;
            let (src, dst) = (ipv4(src)?, ipv4(dst)?);
            let (sport, dport) = (port(sport)?, port(dport)?);
            Addresses::Tcp4 {
                src: SocketAddrV4::new(src, sport),
                dst: SocketAddrV4::new(dst, dport),
            }
        }
        (b"TCP6", Some(rest)) => {
            let [src, dst, sport, dport] = fields(rest)?;
            let (src, dst) = (ipv6(src)?, ipv6(dst)?);
            let (sport, dport) = (port(sport)?, port(dport)?);
            Addresses::Tcp6 {
                src: SocketAddrV6::new(src, sport, 0, 0),
                dst: SocketAddrV6::new(dst, dport, 0, 0),
            }
        }
        (b"TCP4" | b"TCP6", None) => return Err(ProxyError::BadV1("no addresses")),
        _ => return Err(ProxyError::BadV1("protocol not TCP4, TCP6 or UNKNOWN")),
    };
    Ok(Status::Complete(Header {
        version: Version::V1,
        command: Command::Proxy,
        addresses,
        tlvs: Vec::new(),
        len,
    }))
}

/// Rejects a line whose protocol cannot become one of [`PROTOCOLS`] before
/// its CRLF arrives: "It is recommended to abort the connection as soon as
/// possible so that the sender gets a chance to notice the anomaly".
fn check_protocol_prefix(buf: &[u8]) -> Result<(), ProxyError> {
    let Some(sent) = buf.get(V1_PREFIX.len()..) else {
        return Ok(());
    };
    let sent = match sent.iter().position(|&b| b == b' ' || b == b'\r') {
        Some(sp) => &sent[..sp],
        None => sent,
    };
    if PROTOCOLS.iter().any(|p| p.starts_with(sent)) {
        Ok(())
    } else {
        Err(ProxyError::BadV1("protocol not TCP4, TCP6 or UNKNOWN"))
    }
}

/// Source address, destination address, source port, destination port,
/// separated by "exactly one space".
fn fields(rest: &[u8]) -> Result<[&[u8]; 4], ProxyError> {
    let mut parts = rest.split(|&b| b == b' ');
    let mut out: [&[u8]; 4] = [&[]; 4];
    for slot in &mut out {
        match parts.next() {
            Some(p) if !p.is_empty() => *slot = p,
            _ => return Err(ProxyError::BadV1("not four fields separated by one space")),
        }
    }
    if parts.next().is_some() {
        return Err(ProxyError::BadV1("not four fields separated by one space"));
    }
    Ok(out)
}

/// A decimal number of at most `max_digits` digits: "Heading zeroes are not
/// permitted in front of numbers in order to avoid any possible confusion
/// with octal numbers."
fn decimal(digits: &[u8], max_digits: usize) -> Option<u32> {
    if digits.is_empty() || digits.len() > max_digits || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    Some(digits.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0')))
}

/// "a series of exactly 4 integers in the range [0..255] inclusive written
/// in decimal representation separated by exactly one dot".
fn ipv4(text: &[u8]) -> Result<Ipv4Addr, ProxyError> {
    const BAD: ProxyError = ProxyError::BadV1("TCP4 address not a dotted quad");
    let mut octets = [0u8; 4];
    let mut parts = text.split(|&b| b == b'.');
    for octet in &mut octets {
        let n = parts.next().and_then(|p| decimal(p, 3)).ok_or(BAD)?;
        *octet = u8::try_from(n).map_err(|_| BAD)?;
    }
    if parts.next().is_some() {
        return Err(BAD);
    }
    Ok(Ipv4Addr::from(octets))
}

/// "series of sets of 4 hexadecimal digits (upper or lower case) delimited
/// by colons between each other, with the acceptance of one double colon
/// sequence". std's parser is that grammar, plus the dotted IPv4 tail that
/// `inet_ntop` writes for mapped addresses (`::ffff:192.0.2.1`), which it
/// parses with the same no-leading-zero rule. No zone ids, no brackets.
fn ipv6(text: &[u8]) -> Result<Ipv6Addr, ProxyError> {
    const BAD: ProxyError = ProxyError::BadV1("TCP6 address not an IPv6 literal");
    if !text
        .iter()
        .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    {
        return Err(BAD);
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(BAD)
}

/// "a decimal integer in the range [0..65535] inclusive".
fn port(text: &[u8]) -> Result<u16, ProxyError> {
    decimal(text, 5)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or(ProxyError::BadV1("port not a decimal in 0..=65535"))
}
