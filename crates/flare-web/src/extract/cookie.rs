//! Cookies: read the `Cookie` header, write `Set-Cookie` (RFC 6265).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::time::Duration;

use http::HeaderValue;

use super::FromRequest;
use crate::request::Request;

/// The cookies the client sent, from every `Cookie` header field. Pairs without `=`
/// are skipped; values are given as sent (surrounding double quotes removed), not
/// decoded. Never rejects: a request without cookies gives an empty set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cookies {
    pairs: Vec<(String, String)>,
}

impl Cookies {
    /// Parses `Cookie` field values (`a=1; b=2`).
    pub fn parse<'a>(fields: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut pairs = Vec::new();
        for field in fields {
            let Ok(field) = std::str::from_utf8(field) else {
                continue;
            };
            for pair in field.split(';') {
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                let name = name.trim();
                if name.is_empty() {
                    continue;
                }
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                pairs.push((name.to_owned(), value.to_owned()));
            }
        }
        Cookies { pairs }
    }
    /// The first cookie named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    /// Every cookie in the order sent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
    /// How many cookies were sent.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }
    /// Whether none were sent.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl<S> FromRequest<S> for Cookies {
    type Rejection = Infallible;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Infallible> {
        Ok(Cookies::parse(req.header_all("cookie")))
    }
}

/// The `SameSite` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// Sent only with same-site requests.
    Strict,
    /// Sent with same-site requests and top-level navigations.
    Lax,
    /// Sent with every request; browsers require `Secure` with it.
    None,
}

/// A cookie to set on the response: `Set-Cookie` (RFC 6265 section 4.1).
///
/// ```
/// use flare_web::extract::{Cookie, SameSite};
/// use std::time::Duration;
/// let c = Cookie::new("session", "abc123")
///     .path("/")
///     .max_age(Duration::from_secs(3600))
///     .http_only(true)
///     .secure(true)
///     .same_site(SameSite::Lax);
/// assert_eq!(
///     c.to_header_value(),
///     "session=abc123; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax"
/// );
/// ```
///
/// Rendering never fails and never produces a header that could split or smuggle
/// fields: a byte the grammar does not allow in a name (`token`), a value
/// (`cookie-octet`: no space, `"`, `,`, `;` or `\`) or a `Path`/`Domain` (no control
/// bytes, no `;`) is written as `%XX`. Return it from a handler as a response part:
/// `(cookie, "body")`, or add it with [`Response::with_cookie`](crate::Response::with_cookie).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    value: String,
    path: Option<String>,
    domain: Option<String>,
    max_age: Option<Duration>,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
}

impl Cookie {
    /// A session cookie (no `Max-Age`): `name=value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Cookie {
            name: name.into(),
            value: value.into(),
            path: None,
            domain: None,
            max_age: None,
            secure: false,
            http_only: false,
            same_site: None,
        }
    }
    /// A cookie that tells the client to delete `name` (`Max-Age=0`, empty value);
    /// give it the same `path`/`domain` the cookie was set with.
    pub fn removal(name: impl Into<String>) -> Self {
        Cookie::new(name, "").max_age(Duration::ZERO)
    }
    /// `Path=`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
    /// `Domain=`.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }
    /// `Max-Age=` in whole seconds.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }
    /// `Secure`: only over HTTPS.
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }
    /// `HttpOnly`: not visible to scripts.
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }
    /// `SameSite=`.
    pub fn same_site(mut self, s: SameSite) -> Self {
        self.same_site = Some(s);
        self
    }
    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The `Set-Cookie` field value.
    pub fn to_header_value(&self) -> HeaderValue {
        let mut s = String::with_capacity(self.name.len() + self.value.len() + 48);
        encode(&mut s, &self.name, is_tchar);
        s.push('=');
        encode(&mut s, &self.value, is_cookie_octet);
        if let Some(p) = &self.path {
            s.push_str("; Path=");
            encode(&mut s, p, is_av_octet);
        }
        if let Some(d) = &self.domain {
            s.push_str("; Domain=");
            encode(&mut s, d, is_av_octet);
        }
        if let Some(age) = self.max_age {
            let _ = write!(s, "; Max-Age={}", age.as_secs());
        }
        if self.secure {
            s.push_str("; Secure");
        }
        if self.http_only {
            s.push_str("; HttpOnly");
        }
        match self.same_site {
            Some(SameSite::Strict) => s.push_str("; SameSite=Strict"),
            Some(SameSite::Lax) => s.push_str("; SameSite=Lax"),
            Some(SameSite::None) => s.push_str("; SameSite=None"),
            None => {}
        }
        // Every byte is visible ASCII or a space by construction.
        HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static(""))
    }
}

fn encode(out: &mut String, s: &str, allowed: fn(u8) -> bool) {
    for &b in s.as_bytes() {
        if allowed(b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 6265 `cookie-octet`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// RFC 6265 `av-octet` (any CHAR except CTLs or `;`), kept to visible ASCII.
fn is_av_octet(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b';'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cookie_headers() {
        let r = Request::builder()
            .header("Cookie", "a=1; b=\"two\"; junk; =x")
            .header("cookie", "c=3;d=")
            .build();
        let c = Cookies::from_request(&r, &()).unwrap();
        assert_eq!(c.get("a"), Some("1"));
        assert_eq!(c.get("b"), Some("two"));
        assert_eq!(c.get("c"), Some("3"));
        assert_eq!(c.get("d"), Some(""));
        assert_eq!(c.get("junk"), None);
        assert_eq!(c.len(), 4);
        let none = Cookies::from_request(&Request::default(), &()).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn renders_attributes() {
        let c = Cookie::new("id", "v")
            .domain("example.com")
            .same_site(SameSite::Strict);
        assert_eq!(
            c.to_header_value(),
            "id=v; Domain=example.com; SameSite=Strict"
        );
        let c = Cookie::new("x", "y").same_site(SameSite::None).secure(true);
        assert_eq!(c.to_header_value(), "x=y; Secure; SameSite=None");
        assert_eq!(
            Cookie::removal("id").path("/").to_header_value(),
            "id=; Path=/; Max-Age=0"
        );
    }

    #[test]
    fn encodes_bytes_that_would_split_the_field() {
        let c = Cookie::new("a b;", "x; Path=/\r\nSet-Cookie: evil=1\"\\,é").path("/p;\n");
        let v = c.to_header_value();
        let s = v.to_str().unwrap();
        assert_eq!(
            s,
            "a%20b%3B=x%3B%20Path=/%0D%0ASet-Cookie:%20evil=1%22%5C%2C%C3%A9; Path=/p%3B%0A"
        );
        assert_eq!(s.matches(';').count(), 1);
    }
}
