//! The cookie jar (RFC 6265): `Set-Cookie` parsed (section 5.2) and stored by the
//! storage model (section 5.3), `Cookie` built for each request (section 5.4).
//!
//! A non-browser client has no "top-level site", so `SameSite` is parsed and kept
//! but never consulted, and `HttpOnly` cookies are sent like any other. Public
//! suffixes are not known: a `Domain` attribute of a single label (`com`,
//! `localhost`) is refused unless it is the host itself, which keeps the
//! commonest supercookie out. From RFC 6265bis (draft 20) the jar takes the
//! parts that close holes cheaply: `Secure` cookies only from secure origins, an
//! insecure origin cannot shadow a `Secure` cookie, the `__Secure-`/`__Host-`
//! prefixes, no control characters, and a 400-day cap on lifetimes.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{header, HeaderMap, HeaderValue};

use super::url::Url;

/// Default for [`Jar::max_cookies`]: RFC 6265 section 6.1 asks for at least 3000.
pub const DEFAULT_MAX_COOKIES: usize = 3000;
/// Default for [`Jar::max_cookies_per_domain`]: RFC 6265 section 6.1 asks for at
/// least 50.
pub const DEFAULT_MAX_COOKIES_PER_DOMAIN: usize = 50;
/// Default for [`Jar::max_cookie_size`]: RFC 6265 section 6.1 asks for at least
/// 4096 bytes (name, value and attributes).
pub const DEFAULT_MAX_COOKIE_SIZE: usize = 4096;

/// RFC 6265bis section 5.5: "The user agent MUST limit the maximum value of the
/// Max-Age attribute [...] to 400 days"; the same cap applies to `Expires`.
const MAX_LIFETIME: Duration = Duration::from_secs(400 * 24 * 60 * 60);

/// The `SameSite` attribute (RFC 6265bis section 4.1.2.7), kept for inspection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None`.
    None,
}

/// A stored cookie, as [`Jar::cookies`] shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    value: String,
    domain: String,
    host_only: bool,
    path: String,
    expires: Option<SystemTime>,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
}

impl Cookie {
    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value, as the server sent it (quotes included).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The host (host-only cookies) or domain it is sent to, lowercase.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether it is sent to [`domain`](Self::domain) only, not its subdomains
    /// (no `Domain` attribute was given).
    pub fn host_only(&self) -> bool {
        self.host_only
    }

    /// The path it is sent under.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// When it expires; `None` for a session cookie (kept as long as the jar).
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires
    }

    /// Whether it is sent over TLS only.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Whether the server marked it `HttpOnly` (meaningful to browsers; this client
    /// sends it like any other).
    pub fn http_only(&self) -> bool {
        self.http_only
    }

    /// The `SameSite` attribute, if a known value was given (not enforced).
    pub fn same_site(&self) -> Option<SameSite> {
        self.same_site
    }

    fn expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|t| t <= now)
    }
}

/// Why a `Set-Cookie` was ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// Longer than [`Jar::max_cookie_size`].
    TooLarge,
    /// No `=` in the name-value pair, or an empty name (RFC 6265 section 5.2).
    NoName,
    /// A control character (RFC 6265bis section 5.7 step 2), or not UTF-8.
    BadCharacter,
    /// A `Domain` the request host does not domain-match (section 5.3 step 6).
    DomainMismatch,
    /// A `Domain` other than the address itself on an IP-address host.
    DomainOnIp,
    /// A single-label `Domain` that is not the host (a stand-in for the public
    /// suffix check of section 5.3 step 5).
    DomainTooBroad,
    /// `Secure` from an insecure origin, or shadowing a `Secure` cookie from one
    /// (RFC 6265bis section 5.7 steps 15 and 16).
    Insecure,
    /// A `__Secure-` or `__Host-` name without what the prefix demands.
    Prefix,
}

/// A `Set-Cookie` line, parsed (RFC 6265 section 5.2).
#[derive(Debug, Default, PartialEq, Eq)]
struct Parsed<'a> {
    name: &'a str,
    value: &'a str,
    expires: Option<SystemTime>,
    /// Seconds, saturated; `<= 0` deletes.
    max_age: Option<i64>,
    /// Lowercase, the leading dot removed.
    domain: Option<String>,
    /// `None`: the default path.
    path: Option<&'a str>,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
}

fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn parse(line: &str, max_size: usize) -> Result<Parsed<'_>, Rejected> {
    if line.len() > max_size {
        return Err(Rejected::TooLarge);
    }
    if line.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(Rejected::BadCharacter);
    }
    let (pair, attrs) = line.split_once(';').unwrap_or((line, ""));
    let (name, value) = pair.split_once('=').ok_or(Rejected::NoName)?;
    let name = name.trim_matches(is_wsp);
    if name.is_empty() {
        return Err(Rejected::NoName);
    }
    let mut p = Parsed {
        name,
        value: value.trim_matches(is_wsp),
        ..Parsed::default()
    };
    // Section 5.2 step 6: each later attribute of a name overrides an earlier one.
    for av in attrs.split(';') {
        let (an, v) = av.split_once('=').unwrap_or((av, ""));
        let v = v.trim_matches(is_wsp);
        match an.trim_matches(is_wsp).to_ascii_lowercase().as_str() {
            "expires" => {
                if let Some(t) = parse_cookie_date(v) {
                    p.expires = Some(t);
                }
            }
            "max-age" => {
                if let Some(n) = parse_max_age(v) {
                    p.max_age = Some(n);
                }
            }
            // Section 5.2.3: an empty value SHOULD be ignored.
            "domain" if !v.is_empty() => {
                p.domain = Some(v.strip_prefix('.').unwrap_or(v).to_ascii_lowercase());
            }
            // Section 5.2.4: a value not starting with `/` means the default path.
            "path" => p.path = v.starts_with('/').then_some(v),
            "secure" => p.secure = true,
            "httponly" => p.http_only = true,
            "samesite" => {
                p.same_site = match v.to_ascii_lowercase().as_str() {
                    "strict" => Some(SameSite::Strict),
                    "lax" => Some(SameSite::Lax),
                    "none" => Some(SameSite::None),
                    _ => None,
                }
            }
            _ => {}
        }
    }
    Ok(p)
}

/// Section 5.2.2: an optional `-` and digits; anything else ignores the attribute.
fn parse_max_age(v: &str) -> Option<i64> {
    let digits = v.strip_prefix('-').unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(v.parse::<i64>().unwrap_or(if v.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    }))
}

/// The cookie-date algorithm of section 5.1.1: tokens split at delimiters; the
/// first token that looks like a time, a day of the month, a month and a year
/// fills each; everything else is ignored.
fn parse_cookie_date(s: &str) -> Option<SystemTime> {
    let delimiter = |b: u8| {
        b == 0x09
            || (0x20..=0x2f).contains(&b)
            || (0x3b..=0x40).contains(&b)
            || (0x5b..=0x60).contains(&b)
            || (0x7b..=0x7e).contains(&b)
    };
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for token in s.as_bytes().split(|&b| delimiter(b)) {
        if token.is_empty() {
            continue;
        }
        if time.is_none() {
            if let Some(t) = hms(token) {
                time = Some(t);
                continue;
            }
        }
        if day.is_none() {
            if let Some((d, _)) = digits(token, 1, 2) {
                day = Some(d);
                continue;
            }
        }
        if month.is_none() && token.len() >= 3 {
            const MONTHS: [&[u8; 3]; 12] = [
                b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct",
                b"nov", b"dec",
            ];
            let m = token[..3].to_ascii_lowercase();
            if let Some(i) = MONTHS.iter().position(|n| n[..] == m[..]) {
                month = Some(i as u32 + 1);
                continue;
            }
        }
        if year.is_none() {
            if let Some((y, _)) = digits(token, 2, 4) {
                year = Some(y);
                continue;
            }
        }
    }
    let (h, mi, sec) = time?;
    let (day, month, mut year) = (day?, month?, year?);
    if (70..=99).contains(&year) {
        year += 1900;
    } else if year <= 69 {
        year += 2000;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if year < 1601
        || day < 1
        || day > month_days[month as usize - 1]
        || h > 23
        || mi > 59
        || sec > 59
    {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + sec);
    Some(match u64::try_from(secs) {
        Ok(s) => UNIX_EPOCH + Duration::from_secs(s),
        // Before 1970: long expired, which is all that matters.
        Err(_) => UNIX_EPOCH,
    })
}

/// 1 to `max` digits (at least `min`), then the end or a non-digit.
fn digits(token: &[u8], min: usize, max: usize) -> Option<(u32, &[u8])> {
    let n = token.iter().take_while(|b| b.is_ascii_digit()).count();
    if n < min || n > max {
        return None;
    }
    let v = token[..n]
        .iter()
        .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'));
    Some((v, &token[n..]))
}

/// `hms-time = time-field ":" time-field ":" time-field`, then anything not a digit.
fn hms(token: &[u8]) -> Option<(u32, u32, u32)> {
    let (h, rest) = digits(token, 1, 2)?;
    let (m, rest) = digits(rest.strip_prefix(b":")?, 1, 2)?;
    let (s, _) = digits(rest.strip_prefix(b":")?, 1, 2)?;
    Some((h, m, s))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Section 5.1.3.
fn domain_match(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
            && host.parse::<IpAddr>().is_err())
}

/// Section 5.1.4: the directory of the request path.
fn default_path(path: &str) -> &str {
    if !path.starts_with('/') {
        return "/";
    }
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Section 5.1.4.
fn path_match(request: &str, cookie: &str) -> bool {
    request == cookie
        || (request.starts_with(cookie)
            && (cookie.ends_with('/') || request.as_bytes().get(cookie.len()) == Some(&b'/')))
}

/// The request path a cookie is matched against: the URL's, `/` when empty.
fn request_path(url: &Url) -> &str {
    let p = url.path();
    if p.starts_with('/') {
        p
    } else {
        "/"
    }
}

struct Stored {
    cookie: Cookie,
    /// Creation order (section 5.3 step 11 keeps it across replacement).
    created: u64,
    /// Last use, for eviction (section 5.3 step 12).
    accessed: u64,
}

#[derive(Default)]
struct Store {
    /// By the cookie's domain field.
    domains: HashMap<String, Vec<Stored>>,
    count: usize,
    /// A counter standing in for creation and access times: orders without ties.
    tick: u64,
}

impl Store {
    fn tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn purge_expired(&mut self, now: SystemTime) {
        let mut removed = 0;
        self.domains.retain(|_, v| {
            let before = v.len();
            v.retain(|s| !s.cookie.expired(now));
            removed += before - v.len();
            !v.is_empty()
        });
        self.count -= removed;
    }

    /// Drops the least recently used cookie of `domain`, or of the whole jar.
    fn evict_lru(&mut self, domain: Option<&str>) {
        let victim = self
            .domains
            .iter()
            .filter(|(d, _)| domain.map_or(true, |x| x == d.as_str()))
            .flat_map(|(d, v)| v.iter().enumerate().map(move |(i, s)| (s.accessed, d, i)))
            .min()
            .map(|(_, d, i)| (d.clone(), i));
        if let Some((d, i)) = victim {
            if let Some(v) = self.domains.get_mut(&d) {
                v.remove(i);
                self.count -= 1;
                if v.is_empty() {
                    self.domains.remove(&d);
                }
            }
        }
    }
}

/// A cookie store shared by a [`Client`](super::Client) and its clones: give one
/// to [`ClientBuilder::cookie_jar`](super::ClientBuilder::cookie_jar) to inspect
/// it or pre-load it, or let
/// [`ClientBuilder::cookie_store(true)`](super::ClientBuilder::cookie_store) make
/// one. Cookies are kept in memory only. `Send + Sync`.
///
/// ```
/// use std::sync::Arc;
/// use flare::client::{Jar, Url};
/// let jar = Arc::new(Jar::new().max_cookies_per_domain(20));
/// let url = Url::parse("https://example.com/app/login").unwrap();
/// assert!(jar.add_cookie_str("sid=abc; Path=/app; Secure; HttpOnly", &url));
/// let page = Url::parse("https://example.com/app/home").unwrap();
/// assert_eq!(jar.cookie_header(&page).as_deref(), Some("sid=abc"));
/// let client = flare::client::Client::builder().cookie_jar(jar.clone()).build();
/// # let _ = client;
/// ```
pub struct Jar {
    store: Mutex<Store>,
    max_cookies: usize,
    max_per_domain: usize,
    max_size: usize,
}

impl fmt::Debug for Jar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: values are credentials.
        f.debug_struct("Jar")
            .field("len", &self.len())
            .field("max_cookies", &self.max_cookies)
            .field("max_cookies_per_domain", &self.max_per_domain)
            .field("max_cookie_size", &self.max_size)
            .finish()
    }
}

impl Default for Jar {
    fn default() -> Self {
        Jar::new()
    }
}

impl Jar {
    /// An empty jar with the default limits.
    pub fn new() -> Jar {
        Jar {
            store: Mutex::default(),
            max_cookies: DEFAULT_MAX_COOKIES,
            max_per_domain: DEFAULT_MAX_COOKIES_PER_DOMAIN,
            max_size: DEFAULT_MAX_COOKIE_SIZE,
        }
    }

    /// Most cookies kept in all; past it the least recently used goes (after any
    /// expired ones). Default [`DEFAULT_MAX_COOKIES`] (3000). Bounds the memory
    /// servers can make the client hold.
    pub fn max_cookies(mut self, n: usize) -> Jar {
        self.max_cookies = n;
        self
    }

    /// Most cookies kept per domain; past it that domain's least recently used
    /// goes. Default [`DEFAULT_MAX_COOKIES_PER_DOMAIN`] (50). Keeps one server from
    /// pushing every other site's cookies out, and bounds the `Cookie` field sent.
    pub fn max_cookies_per_domain(mut self, n: usize) -> Jar {
        self.max_per_domain = n;
        self
    }

    /// Longest `Set-Cookie` value accepted (name, value and attributes, in
    /// bytes); longer ones are ignored. Default [`DEFAULT_MAX_COOKIE_SIZE`] (4096).
    pub fn max_cookie_size(mut self, bytes: usize) -> Jar {
        self.max_size = bytes;
        self
    }

    /// Processes `set_cookie` (a `Set-Cookie` field value) as if the response from
    /// `url` carried it. Returns whether the jar accepted it (a deletion counts).
    pub fn add_cookie_str(&self, set_cookie: &str, url: &Url) -> bool {
        self.set(set_cookie, url, SystemTime::now()).is_ok()
    }

    /// The `Cookie` field value a request to `url` would carry now, if any.
    pub fn cookie_header(&self, url: &Url) -> Option<String> {
        self.header_at(url, SystemTime::now())
    }

    /// Every unexpired cookie, in no particular order.
    pub fn cookies(&self) -> Vec<Cookie> {
        let now = SystemTime::now();
        let mut s = self.lock();
        s.purge_expired(now);
        s.domains
            .values()
            .flatten()
            .map(|st| st.cookie.clone())
            .collect()
    }

    /// How many cookies are stored (expired ones included until next touched).
    pub fn len(&self) -> usize {
        self.lock().count
    }

    /// Whether no cookies are stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every cookie.
    pub fn clear(&self) {
        let mut s = self.lock();
        s.domains.clear();
        s.count = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores the `Set-Cookie` fields of a response from `url`.
    pub(crate) fn store_response(&self, url: &Url, headers: &HeaderMap) {
        for v in headers.get_all(header::SET_COOKIE) {
            let r = match std::str::from_utf8(v.as_bytes()) {
                Ok(line) => self.set(line, url, SystemTime::now()),
                Err(_) => Err(Rejected::BadCharacter),
            };
            if let Err(why) = r {
                log::debug!("cookie from {url} ignored: {why:?}");
            }
        }
    }

    /// The `Cookie` field for a request to `url`, if any cookie matches.
    pub(crate) fn header_value(&self, url: &Url) -> Option<HeaderValue> {
        let v = self.header_at(url, SystemTime::now())?;
        HeaderValue::from_bytes(v.as_bytes()).ok()
    }

    /// Section 5.3, the storage model.
    fn set(&self, line: &str, url: &Url, now: SystemTime) -> Result<(), Rejected> {
        let p = parse(line, self.max_size)?;
        let host = url.host();
        let secure_origin = url.scheme_kind().is_tls();
        // Step 3: Max-Age wins over Expires; both capped.
        let cap = now + MAX_LIFETIME;
        let expires = match (p.max_age, p.expires) {
            (Some(n), _) if n <= 0 => Some(UNIX_EPOCH),
            (Some(n), _) => Some(
                now.checked_add(Duration::from_secs(n.unsigned_abs()))
                    .map_or(cap, |t| t.min(cap)),
            ),
            (None, Some(t)) => Some(t.min(cap)),
            (None, None) => None,
        };
        // Steps 4 to 6: the domain.
        let (domain, host_only) = match p.domain {
            None => (host.to_owned(), true),
            Some(d) if d == host => (d, true),
            Some(_) if host.parse::<IpAddr>().is_ok() => return Err(Rejected::DomainOnIp),
            Some(d) if !domain_match(host, &d) => return Err(Rejected::DomainMismatch),
            Some(d) if !d.contains('.') => return Err(Rejected::DomainTooBroad),
            Some(d) => (d, false),
        };
        let path = p.path.unwrap_or_else(|| default_path(request_path(url)));
        // RFC 6265bis section 5.7 step 15: only secure origins set Secure cookies.
        if p.secure && !secure_origin {
            return Err(Rejected::Insecure);
        }
        // Section 4.1.3: the name prefixes.
        let lower = p.name.to_ascii_lowercase();
        if (lower.starts_with("__secure-") && !p.secure)
            || (lower.starts_with("__host-") && !(p.secure && host_only && path == "/"))
        {
            return Err(Rejected::Prefix);
        }
        let cookie = Cookie {
            name: p.name.to_owned(),
            value: p.value.to_owned(),
            domain,
            host_only,
            path: path.to_owned(),
            expires,
            secure: p.secure,
            http_only: p.http_only,
            same_site: p.same_site,
        };

        let mut s = self.lock();
        // RFC 6265bis section 5.7 step 16: an insecure origin does not overwrite or
        // shadow a Secure cookie of the same name in an overlapping domain and path.
        if !secure_origin {
            let shadows = s.domains.values().flatten().any(|st| {
                let c = &st.cookie;
                c.secure
                    && c.name == cookie.name
                    && (domain_match(&c.domain, &cookie.domain)
                        || domain_match(&cookie.domain, &c.domain))
                    && path_match(&cookie.path, &c.path)
            });
            if shadows {
                return Err(Rejected::Insecure);
            }
        }
        let tick = s.tick();
        // Step 11: a cookie with the same name, domain and path is replaced, and
        // keeps its creation time.
        let mut created = tick;
        let mut removed = false;
        if let Some(v) = s.domains.get_mut(&cookie.domain) {
            if let Some(i) = v
                .iter()
                .position(|st| st.cookie.name == cookie.name && st.cookie.path == cookie.path)
            {
                created = v.remove(i).created;
                removed = true;
            }
        }
        if removed {
            s.count -= 1;
            if s.domains.get(&cookie.domain).is_some_and(Vec::is_empty) {
                s.domains.remove(&cookie.domain);
            }
        }
        // An expiry in the past is a deletion (section 5.3 step 11.3 and 12).
        if cookie.expired(now) {
            return Ok(());
        }
        let domain = cookie.domain.clone();
        s.domains.entry(domain.clone()).or_default().push(Stored {
            cookie,
            created,
            accessed: tick,
        });
        s.count += 1;
        // Step 12: expired cookies go first, then the least recently used.
        let over_domain = s.domains.get(&domain).map_or(0, Vec::len) > self.max_per_domain;
        if over_domain || s.count > self.max_cookies {
            s.purge_expired(now);
        }
        while s.domains.get(&domain).map_or(0, Vec::len) > self.max_per_domain {
            s.evict_lru(Some(&domain));
        }
        while s.count > self.max_cookies {
            s.evict_lru(None);
        }
        Ok(())
    }

    /// Section 5.4: matching cookies, longest path first, then oldest first.
    fn header_at(&self, url: &Url, now: SystemTime) -> Option<String> {
        let host = url.host();
        let path = request_path(url);
        let secure = url.scheme_kind().is_tls();
        let mut s = self.lock();
        let tick = s.tick();
        // The host and, for a name, each parent domain: the only buckets that can
        // hold a cookie for this host.
        let mut keys = vec![host];
        if host.parse::<IpAddr>().is_err() {
            keys.extend(host.match_indices('.').map(|(i, _)| &host[i + 1..]));
        }
        let mut found: Vec<(usize, u64, String)> = Vec::new();
        let mut expired = 0;
        for key in keys {
            let Some(v) = s.domains.get_mut(key) else {
                continue;
            };
            let before = v.len();
            v.retain(|st| !st.cookie.expired(now));
            expired += before - v.len();
            for st in v.iter_mut() {
                let c = &st.cookie;
                let domain_ok = if c.host_only {
                    c.domain == host
                } else {
                    domain_match(host, &c.domain)
                };
                if domain_ok && path_match(path, &c.path) && (!c.secure || secure) {
                    st.accessed = tick;
                    found.push((c.path.len(), st.created, format!("{}={}", c.name, c.value)));
                }
            }
        }
        s.count -= expired;
        s.domains.retain(|_, v| !v.is_empty());
        drop(s);
        if found.is_empty() {
            return None;
        }
        found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut out = String::new();
        for (i, (_, _, pair)) in found.iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            out.push_str(pair);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn t0() -> SystemTime {
        // 2024-01-01T00:00:00Z
        UNIX_EPOCH + Duration::from_secs(1_704_067_200)
    }

    #[test]
    fn cookie_dates_section_5_1_1() {
        let at = |y: i64, mo: u32, d: u32, h: u64, mi: u64, s: u64| {
            UNIX_EPOCH
                + Duration::from_secs(
                    days_from_civil(y, mo, d) as u64 * 86_400 + h * 3600 + mi * 60 + s,
                )
        };
        let cases: &[(&str, Option<SystemTime>)] = &[
            // RFC 1123, RFC 850, asctime, and what servers send.
            (
                "Sun, 06 Nov 1994 08:49:37 GMT",
                Some(at(1994, 11, 6, 8, 49, 37)),
            ),
            (
                "Sunday, 06-Nov-94 08:49:37 GMT",
                Some(at(1994, 11, 6, 8, 49, 37)),
            ),
            ("Sun Nov  6 08:49:37 1994", Some(at(1994, 11, 6, 8, 49, 37))),
            (
                "Wed, 09 Jun 2021 10:18:14 GMT",
                Some(at(2021, 6, 9, 10, 18, 14)),
            ),
            ("Thu, 01-Jan-1970 00:00:00 GMT", Some(UNIX_EPOCH)),
            ("1 jAnUaRy 2030 1:2:3", Some(at(2030, 1, 1, 1, 2, 3))),
            // Two-digit years: 70-99 are 19xx, 00-69 are 20xx.
            ("01 Jan 69 00:00:00", Some(at(2069, 1, 1, 0, 0, 0))),
            ("01 Jan 70 00:00:00", Some(at(1970, 1, 1, 0, 0, 0))),
            ("29 Feb 2024 12:00:00", Some(at(2024, 2, 29, 12, 0, 0))),
            // Invalid: no time, a day past the month, 2023 not a leap year, hour
            // 24, year before 1601, no month, three-digit day.
            ("Sun, 06 Nov 1994", None),
            ("31 Apr 2024 00:00:00", None),
            ("29 Feb 2023 00:00:00", None),
            ("01 Jan 2024 24:00:00", None),
            ("01 Jan 1600 00:00:00", None),
            ("01 2024 00:00:00", None),
            ("", None),
            ("garbage", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_cookie_date(s), *want, "{s:?}");
        }
        // Before 1970 is long expired.
        assert_eq!(parse_cookie_date("01 Jan 1969 00:00:00"), Some(UNIX_EPOCH));
    }

    #[test]
    fn set_cookie_parsing_section_5_2() {
        let p = parse(
            " sid = a b ; Path=/x ; Domain=.Example.COM; Secure; HttpOnly; SameSite=Lax; \
             Max-Age=60; Expires=Sun, 06 Nov 1994 08:49:37 GMT; Unknown=1",
            4096,
        )
        .unwrap();
        assert_eq!((p.name, p.value), ("sid", "a b"));
        assert_eq!(p.path, Some("/x"));
        assert_eq!(p.domain.as_deref(), Some("example.com"));
        assert!(p.secure && p.http_only);
        assert_eq!(p.same_site, Some(SameSite::Lax));
        assert_eq!(p.max_age, Some(60));
        assert!(p.expires.is_some());
        // Later attributes of a name win; an empty Domain is ignored; a Path not
        // starting with `/` is the default path; a bad Max-Age is ignored.
        let p = parse(
            "a=1; Path=/one; Path=two; Domain=x.com; Domain=; Max-Age=1x; SameSite=odd",
            4096,
        )
        .unwrap();
        assert_eq!(p.path, None);
        assert_eq!(p.domain.as_deref(), Some("x.com"));
        assert_eq!(p.max_age, None);
        assert_eq!(p.same_site, None);
        assert_eq!(parse("a=1; Max-Age=-5", 4096).unwrap().max_age, Some(-5));
        assert_eq!(
            parse("a=1; Max-Age=99999999999999999999", 4096)
                .unwrap()
                .max_age,
            Some(i64::MAX)
        );
        // Empty values are values; quotes are kept.
        assert_eq!(parse("a=", 4096).unwrap().value, "");
        assert_eq!(parse("a=\"q\"", 4096).unwrap().value, "\"q\"");
        // Refused outright.
        assert_eq!(parse("novalue", 4096), Err(Rejected::NoName));
        assert_eq!(parse("=v", 4096), Err(Rejected::NoName));
        assert_eq!(parse(" =v; Path=/", 4096), Err(Rejected::NoName));
        assert_eq!(parse("a=b\x01c", 4096), Err(Rejected::BadCharacter));
        assert_eq!(parse("a=b\x7f", 4096), Err(Rejected::BadCharacter));
        let big = format!("a={}", "x".repeat(4094));
        assert!(parse(&big, 4096).is_ok());
        assert_eq!(parse(&format!("{big}x"), 4096), Err(Rejected::TooLarge));
    }

    #[test]
    fn domain_and_path_matching_sections_5_1_3_and_5_1_4() {
        for (host, domain, ok) in [
            ("example.com", "example.com", true),
            ("www.example.com", "example.com", true),
            ("a.b.example.com", "example.com", true),
            ("badexample.com", "example.com", false),
            ("example.com", "www.example.com", false),
            ("1.2.3.4", "2.3.4", false),
            ("1.2.3.4", "1.2.3.4", true),
        ] {
            assert_eq!(domain_match(host, domain), ok, "{host} {domain}");
        }
        for (path, want) in [
            ("", "/"),
            ("/", "/"),
            ("/a", "/"),
            ("/a/", "/a"),
            ("/a/b", "/a"),
            ("/a/b/c.html", "/a/b"),
        ] {
            assert_eq!(default_path(path), want, "{path}");
        }
        for (req, cookie, ok) in [
            ("/", "/", true),
            ("/a/b", "/", true),
            ("/a", "/a", true),
            ("/a/b", "/a", true),
            ("/a/b", "/a/", true),
            ("/ab", "/a", false),
            ("/a", "/a/", false),
            ("/", "/a", false),
        ] {
            assert_eq!(path_match(req, cookie), ok, "{req} {cookie}");
        }
    }

    /// (the response's URL, its `Set-Cookie`, accepted?)
    type Sets = &'static [(&'static str, &'static str, bool)];
    /// (a request URL, the `Cookie` field it carries)
    type Gets = &'static [(&'static str, Option<&'static str>)];

    /// RFC 6265 storage and retrieval cases: (the response's URL, its Set-Cookie,
    /// accepted?), then (a request URL, the Cookie field it carries).
    #[test]
    fn storage_model_and_retrieval_table() {
        let stories: &[(Sets, Gets)] = &[
            // Host-only: not sent to a subdomain or the parent.
            (
                &[("http://example.com/", "a=1", true)],
                &[
                    ("http://example.com/x", Some("a=1")),
                    ("http://www.example.com/", None),
                    ("http://com/", None),
                ],
            ),
            // Domain: sent to the domain and its subdomains, not to siblings.
            (
                &[("http://www.example.com/", "a=1; Domain=example.com", true)],
                &[
                    ("http://example.com/", Some("a=1")),
                    ("http://x.y.example.com/", Some("a=1")),
                    ("http://badexample.com/", None),
                ],
            ),
            // A Domain the host does not domain-match, or a single label, or a
            // different address on an IP host: refused.
            (
                &[
                    ("http://www.example.com/", "a=1; Domain=other.com", false),
                    (
                        "http://www.example.com/",
                        "b=1; Domain=www2.example.com",
                        false,
                    ),
                    ("http://www.example.com/", "c=1; Domain=com", false),
                    ("http://127.0.0.1/", "d=1; Domain=0.0.1", false),
                    ("http://127.0.0.1/", "e=1; Domain=localhost", false),
                    ("http://127.0.0.1/", "f=1; Domain=127.0.0.1", true),
                    ("http://localhost/", "g=1; Domain=localhost", true),
                ],
                &[
                    ("http://www.example.com/", None),
                    ("http://127.0.0.1/", Some("f=1")),
                    ("http://localhost/", Some("g=1")),
                    ("http://a.localhost/", None),
                ],
            ),
            // Default path is the request's directory; path matching at `/`.
            (
                &[
                    ("http://h.com/docs/a/page.html", "p=1", true),
                    ("http://h.com/", "q=2; Path=/docs", true),
                ],
                &[
                    ("http://h.com/docs/a/other", Some("p=1; q=2")),
                    ("http://h.com/docs/a", Some("p=1; q=2")),
                    ("http://h.com/docs/ab", Some("q=2")),
                    ("http://h.com/docsx", None),
                    ("http://h.com/", None),
                ],
            ),
            // Longest path first; equal paths in creation order; a replacement keeps
            // its place.
            (
                &[
                    ("http://h.com/", "b=1; Path=/", true),
                    ("http://h.com/", "a=1; Path=/", true),
                    ("http://h.com/", "c=1; Path=/x/y", true),
                    ("http://h.com/", "d=1; Path=/x", true),
                    ("http://h.com/", "b=2; Path=/", true),
                ],
                &[("http://h.com/x/y/z", Some("c=1; d=1; b=2; a=1"))],
            ),
            // Same name, different path: two cookies.
            (
                &[
                    ("http://h.com/", "a=root; Path=/", true),
                    ("http://h.com/", "a=sub; Path=/sub", true),
                ],
                &[
                    ("http://h.com/sub/x", Some("a=sub; a=root")),
                    ("http://h.com/", Some("a=root")),
                ],
            ),
            // Secure: only from and to https; an http response cannot shadow it.
            (
                &[
                    ("http://h.com/", "s=1; Secure", false),
                    ("https://h.com/", "s=2; Secure", true),
                    ("http://h.com/", "s=3", false),
                    ("http://h.com/", "t=1", true),
                ],
                &[
                    ("http://h.com/", Some("t=1")),
                    ("https://h.com/", Some("s=2; t=1")),
                ],
            ),
            // HttpOnly is stored and sent (no scripts here); SameSite is ignored.
            (
                &[("https://h.com/", "h=1; HttpOnly; SameSite=Strict", true)],
                &[("https://h.com/", Some("h=1"))],
            ),
            // Prefixes.
            (
                &[
                    ("https://h.com/", "__Secure-a=1", false),
                    ("https://h.com/", "__Secure-b=1; Secure", true),
                    (
                        "https://h.com/",
                        "__Host-c=1; Secure; Path=/; Domain=h.com",
                        true,
                    ),
                    (
                        "https://www.h.com/",
                        "__Host-d=1; Secure; Path=/; Domain=h.com",
                        false,
                    ),
                    ("https://h.com/", "__Host-e=1; Secure; Path=/x", false),
                ],
                &[("https://h.com/", Some("__Secure-b=1; __Host-c=1"))],
            ),
            // Deletion: Max-Age=0, a negative Max-Age, an Expires in the past; Max-Age
            // beats Expires whatever the order.
            (
                &[
                    ("http://h.com/", "a=1", true),
                    ("http://h.com/", "b=1", true),
                    ("http://h.com/", "c=1", true),
                    ("http://h.com/", "d=1", true),
                    ("http://h.com/", "a=; Max-Age=0", true),
                    ("http://h.com/", "b=; Max-Age=-1", true),
                    (
                        "http://h.com/",
                        "c=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                        true,
                    ),
                    (
                        "http://h.com/",
                        "d=2; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                        true,
                    ),
                    (
                        "http://h.com/",
                        "e=1; Expires=Thu, 01 Jan 2099 00:00:00 GMT; Max-Age=0",
                        true,
                    ),
                ],
                &[("http://h.com/", Some("d=2"))],
            ),
        ];
        for (i, (sets, gets)) in stories.iter().enumerate() {
            let jar = Jar::new();
            for (u, line, ok) in *sets {
                let r = jar.set(line, &url(u), t0());
                assert_eq!(r.is_ok(), *ok, "story {i}: {u} {line:?}: {r:?}");
            }
            for (u, want) in *gets {
                assert_eq!(
                    jar.header_at(&url(u), t0()).as_deref(),
                    *want,
                    "story {i}: {u}"
                );
            }
        }
    }

    #[test]
    fn expiry_over_time_and_the_400_day_cap() {
        let jar = Jar::new();
        let u = url("http://h.com/");
        jar.set("short=1; Max-Age=10", &u, t0()).unwrap();
        jar.set("dated=1; Expires=Mon, 01 Jan 2024 00:01:00 GMT", &u, t0())
            .unwrap();
        jar.set("far=1; Max-Age=999999999999", &u, t0()).unwrap();
        jar.set("session=1", &u, t0()).unwrap();
        let expiry = |name: &str| {
            let s = jar.lock();
            let c = s.domains["h.com"].iter().find(|c| c.cookie.name == name);
            c.map(|c| c.cookie.expires())
        };
        let day = 86_400;
        assert_eq!(
            expiry("far"),
            Some(Some(t0() + Duration::from_secs(400 * day)))
        );
        assert_eq!(expiry("session"), Some(None));
        let at = |s: u64| jar.header_at(&u, t0() + Duration::from_secs(s));
        assert_eq!(at(9).as_deref(), Some("short=1; dated=1; far=1; session=1"));
        assert_eq!(at(10).as_deref(), Some("dated=1; far=1; session=1"));
        assert_eq!(at(60).as_deref(), Some("far=1; session=1"));
        assert_eq!(at(400 * day - 1).as_deref(), Some("far=1; session=1"));
        assert_eq!(at(400 * day).as_deref(), Some("session=1"));
        assert_eq!(jar.len(), 1, "expired cookies are dropped when met");
    }

    #[test]
    fn limits_per_cookie_per_domain_and_per_jar() {
        // Size: the whole Set-Cookie value counts.
        let jar = Jar::new().max_cookie_size(20);
        let u = url("http://h.com/");
        assert!(jar.set("a=123456789012345678", &u, t0()).is_ok()); // 20 bytes
        assert_eq!(
            jar.set("a=1234567890123456789", &u, t0()),
            Err(Rejected::TooLarge)
        );
        assert_eq!(
            Jar::new().set(&format!("a={}", "x".repeat(4095)), &u, t0()),
            Err(Rejected::TooLarge),
            "default 4096"
        );
        // Per domain: the least recently used of that domain goes; others stay.
        let jar = Jar::new().max_cookies_per_domain(3);
        let other = url("http://other.com/");
        jar.set("o=1", &other, t0()).unwrap();
        for n in ["a", "b", "c"] {
            jar.set(&format!("{n}=1"), &u, t0()).unwrap();
        }
        // Replacing `c` refreshes it; `d` pushes out `a`, the least recently used.
        jar.set("c=2", &u, t0()).unwrap();
        jar.set("d=1", &u, t0()).unwrap();
        let mut names: Vec<String> = jar.cookies().iter().map(|c| c.name.clone()).collect();
        names.sort();
        assert_eq!(names, ["b", "c", "d", "o"]);
        // Sending a cookie counts as a use.
        let jar = Jar::new().max_cookies_per_domain(2);
        jar.set("a=1; Path=/a", &u, t0()).unwrap();
        jar.set("b=1; Path=/b", &u, t0()).unwrap();
        jar.header_at(&url("http://h.com/a"), t0()).unwrap(); // a used last
        jar.set("c=1", &u, t0()).unwrap();
        let mut names: Vec<String> = jar.cookies().iter().map(|c| c.name.clone()).collect();
        names.sort();
        assert_eq!(names, ["a", "c"]);
        // Expired cookies go before live ones.
        let jar = Jar::new().max_cookies_per_domain(2);
        jar.set("old=1; Max-Age=1", &u, t0()).unwrap();
        jar.set("live=1", &u, t0()).unwrap();
        jar.set("new=1", &u, t0() + Duration::from_secs(5)).unwrap();
        let mut names: Vec<String> = jar.cookies().iter().map(|c| c.name.clone()).collect();
        names.sort();
        assert_eq!(names, ["live", "new"]);
        // Per jar.
        let jar = Jar::new().max_cookies(5);
        for i in 0..20 {
            jar.set("k=1", &url(&format!("http://h{i}.com/")), t0())
                .unwrap();
        }
        assert_eq!(jar.len(), 5);
        let mut hosts: Vec<String> = jar.cookies().iter().map(|c| c.domain.clone()).collect();
        hosts.sort();
        assert_eq!(
            hosts,
            ["h15.com", "h16.com", "h17.com", "h18.com", "h19.com"]
        );
        // The defaults.
        let jar = Jar::new();
        for i in 0..(DEFAULT_MAX_COOKIES_PER_DOMAIN + 10) {
            jar.set(&format!("n{i}=1"), &u, t0()).unwrap();
        }
        assert_eq!(jar.len(), DEFAULT_MAX_COOKIES_PER_DOMAIN);
        for i in 0..(DEFAULT_MAX_COOKIES + 10) {
            jar.set("k=1", &url(&format!("http://d{i}.com/")), t0())
                .unwrap();
        }
        assert_eq!(jar.len(), DEFAULT_MAX_COOKIES);
    }

    #[test]
    fn response_fields_and_inspection() {
        let jar = Jar::new();
        let u = url("https://shop.example.com/cart/view");
        let mut h = HeaderMap::new();
        h.append(header::SET_COOKIE, HeaderValue::from_static("a=1; Secure"));
        h.append(
            header::SET_COOKIE,
            HeaderValue::from_static("b=2; Domain=example.com; Path=/; HttpOnly; SameSite=None"),
        );
        h.append(
            header::SET_COOKIE,
            HeaderValue::from_bytes(b"c=\xff").unwrap(),
        );
        jar.store_response(&u, &h);
        assert_eq!(jar.len(), 2, "the non-UTF-8 one is ignored");
        let b = jar.cookies().into_iter().find(|c| c.name() == "b").unwrap();
        assert_eq!(b.domain(), "example.com");
        assert!(!b.host_only() && b.http_only() && !b.secure());
        assert_eq!(b.same_site(), Some(SameSite::None));
        assert_eq!(b.path(), "/");
        let a = jar.cookies().into_iter().find(|c| c.name() == "a").unwrap();
        assert!(a.host_only() && a.secure());
        assert_eq!(a.path(), "/cart");
        assert_eq!(
            jar.header_value(&url("https://shop.example.com/cart")),
            Some(HeaderValue::from_static("a=1; b=2"))
        );
        assert_eq!(
            jar.cookie_header(&url("http://www.example.com/"))
                .as_deref(),
            Some("b=2")
        );
        assert!(format!("{jar:?}").contains("len: 2"));
        jar.clear();
        assert!(jar.is_empty());
    }
}
