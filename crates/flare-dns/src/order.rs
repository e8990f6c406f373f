//! Ordering addresses for connection attempts (RFC 8305 4, RFC 6724 6).

use std::net::IpAddr;

/// Orders `addrs` for a happy-eyeballs client: duplicates dropped, IPv6 first (RFC
/// 6724 rule 6 prefers it over IPv4 by default), then alternating families so a
/// client racing connections tries both early (RFC 8305 4). Within a family the
/// server's order is kept. `first_family_count` is RFC 8305's "First Address Family
/// Count": how many of the first family lead before alternating (1 recommended).
///
/// The full RFC 6724 sort needs the source address each destination would use;
/// a stub resolver cannot know that without probing routes, so it is not done here.
pub fn interleave(addrs: &[IpAddr], first_family_count: usize) -> Vec<IpAddr> {
    let mut v6 = Vec::new();
    let mut v4 = Vec::new();
    for &a in addrs {
        let list = if a.is_ipv6() { &mut v6 } else { &mut v4 };
        if !list.contains(&a) {
            list.push(a);
        }
    }
    let (first, second) = if v6.is_empty() { (v4, v6) } else { (v6, v4) };
    let mut out = Vec::with_capacity(first.len() + second.len());
    let mut first = first.into_iter();
    let mut second = second.into_iter();
    out.extend(first.by_ref().take(first_family_count.max(1)));
    loop {
        match (second.next(), first.next()) {
            (None, None) => break,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(s: &[&str]) -> Vec<IpAddr> {
        s.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn interleaves_families_v6_first() {
        let got = interleave(
            &ips(&["1.1.1.1", "2.2.2.2", "3.3.3.3", "::1", "::2", "1.1.1.1"]),
            1,
        );
        assert_eq!(got, ips(&["::1", "1.1.1.1", "::2", "2.2.2.2", "3.3.3.3"]));
        let got = interleave(&ips(&["1.1.1.1", "2.2.2.2", "::1", "::2", "::3"]), 2);
        assert_eq!(got, ips(&["::1", "::2", "1.1.1.1", "::3", "2.2.2.2"]));
        assert_eq!(
            interleave(&ips(&["1.1.1.1", "2.2.2.2"]), 1),
            ips(&["1.1.1.1", "2.2.2.2"])
        );
        assert!(interleave(&[], 1).is_empty());
    }
}
