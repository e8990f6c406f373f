//! The part of URL syntax (RFC 3986) an HTTP client needs: scheme, host, port,
//! path and query; relative references for `Location`; query encoding.

use std::fmt;

use super::error::{Error, Result};

/// The schemes the client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
    Ws,
    Wss,
}

impl Scheme {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        }
    }

    pub(crate) fn default_port(self) -> u16 {
        match self {
            Scheme::Http | Scheme::Ws => 80,
            Scheme::Https | Scheme::Wss => 443,
        }
    }

    pub(crate) fn is_tls(self) -> bool {
        matches!(self, Scheme::Https | Scheme::Wss)
    }
}

/// Scheme, host and port: what a connection (and a cookie or credential) belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    pub(crate) tls: bool,
    /// Lowercase; an IPv6 literal without brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// An absolute `http`, `https`, `ws` or `wss` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    scheme: Scheme,
    host: String,
    port: u16,
    /// Path and query, starting with `/`; no fragment.
    target: String,
}

impl Url {
    /// Parses an absolute URL. User information (`user:pass@`) is refused: send
    /// credentials in a header instead.
    pub fn parse(text: &str) -> Result<Url> {
        let bad = |reason| Error::InvalidUrl {
            url: text.to_owned(),
            reason,
        };
        let text_trim = text.trim();
        let (scheme, rest) = text_trim
            .split_once("://")
            .ok_or_else(|| bad("no scheme"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            _ => return Err(bad("scheme is not http, https, ws or wss")),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err(bad("user information in URLs is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed IPv6 literal"))?;
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("invalid IPv6 literal"));
            }
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad("junk after IPv6 literal"))?,
                ),
            };
            (h.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (authority.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:~".contains(&b))
        {
            return Err(bad("host has characters outside a DNS name or IP literal"));
        }
        let port = match port {
            None | Some("") => scheme.default_port(),
            Some(p) => p.parse::<u16>().map_err(|_| bad("invalid port"))?,
        };
        let tail = tail.split('#').next().unwrap_or("");
        let mut target = String::with_capacity(tail.len() + 1);
        if !tail.starts_with('/') {
            target.push('/');
        }
        encode_target(tail, &mut target);
        Ok(Url {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            target,
        })
    }

    /// `http`, `https`, `ws` or `wss`.
    pub fn scheme(&self) -> &str {
        self.scheme.as_str()
    }

    /// The host (an IPv6 literal without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (the scheme's default when none was given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path and query.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("/")
    }

    /// The query, if any (without `?`).
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    pub(crate) fn scheme_kind(&self) -> Scheme {
        self.scheme
    }

    pub(crate) fn origin(&self) -> Origin {
        Origin {
            tls: self.scheme.is_tls(),
            host: self.host.clone(),
            port: self.port,
        }
    }

    /// `host[:port]` for `Host` and `:authority`: brackets around IPv6, the port
    /// only when it is not the default.
    pub fn authority(&self) -> String {
        let mut out = String::with_capacity(self.authority_len());
        self.write_authority(&mut out);
        out
    }

    /// The length of [`authority`](Url::authority), so it is built at its size.
    fn authority_len(&self) -> usize {
        let brackets = if self.host.contains(':') { 2 } else { 0 };
        let port = if self.port == self.scheme.default_port() {
            0
        } else {
            1 + self.port.checked_ilog10().unwrap_or(0) as usize + 1
        };
        self.host.len() + brackets + port
    }

    fn write_authority(&self, out: &mut String) {
        use std::fmt::Write as _;
        if self.host.contains(':') {
            out.push('[');
            out.push_str(&self.host);
            out.push(']');
        } else {
            out.push_str(&self.host);
        }
        if self.port != self.scheme.default_port() {
            let _ = write!(out, ":{}", self.port);
        }
    }

    /// The URL as text (what `Display` writes), in one allocation.
    pub(crate) fn text(&self) -> String {
        let scheme = self.scheme.as_str();
        let mut out =
            String::with_capacity(scheme.len() + 3 + self.authority_len() + self.target.len());
        out.push_str(scheme);
        out.push_str("://");
        self.write_authority(&mut out);
        out.push_str(&self.target);
        out
    }

    /// Appends `key=value` pairs to the query, form-encoded.
    pub(crate) fn append_query(&mut self, pairs: &[(&str, &str)]) {
        for (k, v) in pairs {
            self.target
                .push(if self.target.contains('?') { '&' } else { '?' });
            form_encode(k, &mut self.target);
            self.target.push('=');
            form_encode(v, &mut self.target);
        }
    }

    /// Resolves a `Location` value against this URL (RFC 3986 section 5.2, without
    /// dot-segment removal beyond what servers send in practice).
    pub fn join(&self, reference: &str) -> Result<Url> {
        let r = reference.trim();
        if r.contains("://") && r.find("://") < r.find(['/', '?']).map(|i| i + 1) {
            return Url::parse(r);
        }
        if let Some(rest) = r.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", self.scheme.as_str()));
        }
        let mut url = self.clone();
        let r = r.split('#').next().unwrap_or("");
        let mut target = String::new();
        if r.starts_with('/') {
            encode_target(r, &mut target);
        } else if r.starts_with('?') {
            target.push_str(self.path());
            encode_target(r, &mut target);
        } else if r.is_empty() {
            return Ok(url);
        } else {
            let dir = match self.path().rfind('/') {
                Some(i) => &self.path()[..=i],
                None => "/",
            };
            target.push_str(dir);
            encode_target(r, &mut target);
        }
        url.target = remove_dot_segments(&target);
        Ok(url)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme.as_str())?;
        f.write_str("://")?;
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        f.write_str(&self.target)
    }
}

/// Anything that names a URL: `&str`, `String`, [`Url`].
pub trait IntoUrl {
    /// Parses (or passes on) the URL.
    fn into_url(self) -> Result<Url>;
}

impl IntoUrl for Url {
    fn into_url(self) -> Result<Url> {
        Ok(self)
    }
}

impl IntoUrl for &Url {
    fn into_url(self) -> Result<Url> {
        Ok(self.clone())
    }
}

impl IntoUrl for &str {
    fn into_url(self) -> Result<Url> {
        Url::parse(self)
    }
}

impl IntoUrl for String {
    fn into_url(self) -> Result<Url> {
        Url::parse(&self)
    }
}

impl IntoUrl for &String {
    fn into_url(self) -> Result<Url> {
        Url::parse(self)
    }
}

/// Copies a path-and-query, percent-encoding bytes that may not appear in a
/// request target (spaces, controls, non-ASCII) and keeping everything else.
fn encode_target(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b > 0x20 && b < 0x7f && !b"\"<>\\^`{|}".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of one key or value.
pub(crate) fn form_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

/// RFC 3986 section 5.2.4 on the path part; the query is kept as is.
fn remove_dot_segments(target: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut segs: Vec<&str> = Vec::new();
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    let last = parts.len().saturating_sub(1);
    for (i, seg) in parts.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    segs.push("");
                }
            }
            ".." => {
                segs.pop();
                if i == last {
                    segs.push("");
                }
            }
            s => segs.push(s),
        }
    }
    let mut out = String::with_capacity(target.len());
    for s in &segs {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() {
        out.push('/');
    }
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_joins() {
        let u = Url::parse("http://Example.com:8080/a/b?x=1#frag").unwrap();
        assert_eq!(u.host(), "example.com");
        assert_eq!(u.port(), 8080);
        assert_eq!(u.target(), "/a/b?x=1");
        assert_eq!(u.authority(), "example.com:8080");
        assert_eq!(u.authority().capacity(), u.authority().len());
        assert_eq!(
            u.join("c").unwrap().to_string(),
            "http://example.com:8080/a/c"
        );
        assert_eq!(u.join("../d").unwrap().target(), "/d");
        assert_eq!(u.join("/e?y").unwrap().target(), "/e?y");
        assert_eq!(
            u.join("https://other/x").unwrap().to_string(),
            "https://other/x"
        );
        assert_eq!(u.join("//h2/p").unwrap().to_string(), "http://h2/p");
        let v6 = Url::parse("https://[::1]:8443").unwrap();
        assert_eq!(v6.host(), "::1");
        assert_eq!(v6.target(), "/");
        assert_eq!(v6.authority(), "[::1]:8443");
        assert_eq!(v6.authority().capacity(), v6.authority().len());
        assert_eq!(v6.text(), v6.to_string());
        assert!(Url::parse("ftp://x/").is_err());
        assert!(Url::parse("http://u:p@x/").is_err());
        let mut q = Url::parse("http://x/s").unwrap();
        q.append_query(&[("a b", "c&d"), ("e", "é")]);
        assert_eq!(q.target(), "/s?a+b=c%26d&e=%C3%A9");
    }
}
