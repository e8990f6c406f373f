//! The hosts table (`/etc/hosts`, hosts(5)).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::name::Name;

/// Static name-to-address mappings consulted before DNS.
#[derive(Clone, Debug, Default)]
pub struct Hosts {
    map: HashMap<Name, Vec<IpAddr>>,
}

impl Hosts {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses hosts(5) text: `address canonical-name [aliases...]`, `#` comments.
    /// Lines with a bad address and names that are not valid host names are skipped.
    pub fn parse(text: &str) -> Self {
        let mut hosts = Self::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let Some(ip) = words
                .next()
                .and_then(|w| w.split('%').next()?.parse::<IpAddr>().ok())
            else {
                continue;
            };
            for word in words {
                if let Ok(name) = Name::from_ascii(word) {
                    hosts.insert(name, ip);
                }
            }
        }
        hosts
    }

    /// Maps `name` to `ip` as well as to any addresses it already had.
    pub fn insert(&mut self, name: Name, ip: IpAddr) {
        let addrs = self.map.entry(name).or_default();
        if !addrs.contains(&ip) {
            addrs.push(ip);
        }
    }

    /// The addresses for `name`, in file order.
    pub fn get(&self, name: &Name) -> Option<&[IpAddr]> {
        self.map.get(name).map(Vec::as_slice)
    }

    /// How many names the table holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_file() {
        let h = Hosts::parse(
            "127.0.0.1 localhost\n\
             ::1 localhost ip6-localhost # comment\n\
             # 10.0.0.1 commented.example\n\
             10.0.0.2 Web.Example web\n\
             bogus name.example\n\
             10.0.0.3 bad@name ok.example\n",
        );
        let n = |s| Name::from_ascii(s).unwrap();
        assert_eq!(
            h.get(&n("localhost")).unwrap(),
            &[
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert_eq!(
            h.get(&n("web.example")).unwrap(),
            &["10.0.0.2".parse::<IpAddr>().unwrap()]
        );
        assert!(h.get(&n("web")).is_some());
        assert!(h.get(&n("commented.example")).is_none());
        assert!(h.get(&n("name.example")).is_none());
        assert!(h.get(&n("ok.example")).is_some());
        assert_eq!(h.len(), 5);
    }
}
