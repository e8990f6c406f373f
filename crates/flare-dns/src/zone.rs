//! A zone from master-file text (RFC 1035 section 5), the subset an authoritative
//! server for a small zone needs: `$ORIGIN`, `$TTL`, `@`, relative and absolute
//! owner names, an omitted owner (the previous one), optional TTL and class (`IN`)
//! in either order, parentheses across lines, `;` comments, and the types A, AAAA,
//! CNAME, MX, TXT (quoted strings with `\"`, `\\` and `\DDD` escapes), NS and SOA.
//! TTLs may carry the BIND units `s`, `m`, `h`, `d`, `w`.
//!
//! Not supported (an error names the line): `$INCLUDE`, `$GENERATE`, other classes
//! and types, escapes in names.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::message::Record;
use crate::name::Name;
use crate::rdata::{Class, RData, Soa};

/// A parsed zone: its origin and its records, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    /// The zone's apex (`$ORIGIN`, or the origin given to [`Zone::parse`]).
    pub origin: Name,
    /// Every record, in file order.
    pub records: Vec<Record>,
}

/// Why zone text was rejected, and on which line (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneError {
    /// The line the record or directive starts on.
    pub line: usize,
    /// What was wrong.
    pub kind: ZoneErrorKind,
}

/// The kinds of [`ZoneError`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ZoneErrorKind {
    /// A relative name (or `@`) before any `$ORIGIN`, with no origin given.
    NoOrigin,
    /// A record without an owner on the first record line.
    NoOwner,
    /// A record without a TTL and no `$TTL` before it.
    NoTtl,
    /// A name that is not a valid host name.
    BadName(String),
    /// A TTL that is not a number (with an optional unit) below 2^31.
    BadTtl(String),
    /// A record type this parser does not know.
    UnknownType(String),
    /// A directive this parser does not know (`$INCLUDE`, ...).
    UnknownDirective(String),
    /// RDATA missing, extra or malformed for its type.
    BadRdata(&'static str),
    /// A quoted string without its closing quote, or a `(` without `)`.
    Unterminated,
    /// A TXT character-string over 255 bytes.
    StringTooLong,
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "zone line {}: ", self.line)?;
        match &self.kind {
            ZoneErrorKind::NoOrigin => f.write_str("relative name with no $ORIGIN"),
            ZoneErrorKind::NoOwner => f.write_str("first record has no owner name"),
            ZoneErrorKind::NoTtl => f.write_str("record has no TTL and there is no $TTL"),
            ZoneErrorKind::BadName(n) => write!(f, "bad name {n:?}"),
            ZoneErrorKind::BadTtl(t) => write!(f, "bad TTL {t:?}"),
            ZoneErrorKind::UnknownType(t) => write!(f, "unsupported record type {t:?}"),
            ZoneErrorKind::UnknownDirective(d) => write!(f, "unsupported directive {d:?}"),
            ZoneErrorKind::BadRdata(why) => write!(f, "bad RDATA: {why}"),
            ZoneErrorKind::Unterminated => f.write_str("unterminated string or parenthesis"),
            ZoneErrorKind::StringTooLong => f.write_str("TXT string over 255 bytes"),
        }
    }
}

impl std::error::Error for ZoneError {}

/// One token of a logical line; quoted strings are kept apart so `"@"` is text.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(Vec<u8>),
}

impl Token {
    fn word(&self) -> Option<&str> {
        match self {
            Token::Word(w) => Some(w),
            Token::Quoted(_) => None,
        }
    }
}

/// A logical line: its tokens, the line it starts on, and whether it started with
/// blank space (then the owner is the previous one).
struct Logical {
    line: usize,
    indented: bool,
    tokens: Vec<Token>,
}

impl Zone {
    /// Parses master-file text. `origin` is the origin before any `$ORIGIN`
    /// (`None`: the text must set one before using a relative name).
    pub fn parse(text: &str, origin: Option<Name>) -> Result<Zone, ZoneError> {
        let mut origin = origin;
        let mut default_ttl: Option<u32> = None;
        let mut last_owner: Option<Name> = None;
        let mut last_ttl: Option<u32> = None;
        let mut records = Vec::new();
        for logical in logical_lines(text)? {
            let line = logical.line;
            let err = |kind| ZoneError { line, kind };
            let mut toks = logical.tokens.into_iter().peekable();
            let Some(first) = toks.peek().cloned() else {
                continue;
            };
            if let Some(w) = first.word().filter(|w| w.starts_with('$')) {
                toks.next();
                let arg = toks.next().and_then(|t| t.word().map(str::to_owned));
                match w.to_ascii_uppercase().as_str() {
                    "$ORIGIN" => {
                        let arg = arg.ok_or(err(ZoneErrorKind::BadName(String::new())))?;
                        origin = Some(parse_name(&arg, origin.as_ref()).map_err(err)?);
                    }
                    "$TTL" => {
                        let arg = arg.unwrap_or_default();
                        default_ttl = Some(parse_ttl(&arg).ok_or(err(ZoneErrorKind::BadTtl(arg)))?);
                    }
                    _ => return Err(err(ZoneErrorKind::UnknownDirective(w.to_owned()))),
                }
                continue;
            }
            let owner = if logical.indented {
                last_owner.clone().ok_or(err(ZoneErrorKind::NoOwner))?
            } else {
                let t = toks.next().and_then(|t| t.word().map(str::to_owned));
                parse_name(&t.unwrap_or_default(), origin.as_ref()).map_err(err)?
            };
            // [ttl] [class] or [class] [ttl], then the type.
            let mut ttl = None;
            let mut rtype = None;
            for _ in 0..3 {
                let Some(Token::Word(w)) = toks.next() else {
                    return Err(err(ZoneErrorKind::BadRdata("no record type")));
                };
                if w.eq_ignore_ascii_case("IN") {
                    continue;
                }
                if ttl.is_none() && w.starts_with(|c: char| c.is_ascii_digit()) {
                    ttl = Some(parse_ttl(&w).ok_or(err(ZoneErrorKind::BadTtl(w.clone())))?);
                    continue;
                }
                rtype = Some(w.to_ascii_uppercase());
                break;
            }
            let rtype = rtype.ok_or(err(ZoneErrorKind::BadRdata("no record type")))?;
            let rest: Vec<Token> = toks.collect();
            let data = parse_rdata(&rtype, &rest, origin.as_ref()).map_err(err)?;
            // RFC 2308 section 4: a record without a TTL takes $TTL; before RFC 2308
            // files took the last explicit one, which we keep as the fallback.
            let ttl = ttl
                .or(default_ttl)
                .or(last_ttl)
                .or(match &data {
                    RData::Soa(soa) => Some(soa.minimum),
                    _ => None,
                })
                .ok_or(err(ZoneErrorKind::NoTtl))?;
            last_ttl = Some(ttl);
            last_owner = Some(owner.clone());
            records.push(Record {
                name: owner,
                class: Class::IN,
                ttl,
                data,
            });
        }
        let origin = match origin {
            Some(o) => o,
            None => match records.first() {
                Some(r) => r.name.clone(),
                None => {
                    return Err(ZoneError {
                        line: 0,
                        kind: ZoneErrorKind::NoOrigin,
                    })
                }
            },
        };
        Ok(Zone { origin, records })
    }
}

/// Splits the text into logical lines: comments dropped, parentheses joined,
/// quoted strings unescaped.
fn logical_lines(text: &str) -> Result<Vec<Logical>, ZoneError> {
    let mut out = Vec::new();
    let mut cur: Option<Logical> = None;
    let mut depth = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let bytes = raw.as_bytes();
        if depth == 0 {
            if let Some(done) = cur.take() {
                out.push(done);
            }
            cur = Some(Logical {
                line,
                indented: bytes.first().is_some_and(|b| *b == b' ' || *b == b'\t'),
                tokens: Vec::new(),
            });
        }
        let Some(logical) = cur.as_mut() else {
            continue;
        };
        let mut j = 0;
        while j < bytes.len() {
            match bytes[j] {
                b' ' | b'\t' | b'\r' => j += 1,
                b';' => break,
                b'(' => {
                    depth += 1;
                    j += 1;
                }
                b')' => {
                    depth = depth.saturating_sub(1);
                    j += 1;
                }
                b'"' => {
                    let (s, next) = quoted(bytes, j + 1).ok_or(ZoneError {
                        line,
                        kind: ZoneErrorKind::Unterminated,
                    })?;
                    logical.tokens.push(Token::Quoted(s));
                    j = next;
                }
                _ => {
                    let start = j;
                    while j < bytes.len() && !b" \t\r;()\"".contains(&bytes[j]) {
                        j += 1;
                    }
                    logical.tokens.push(Token::Word(raw[start..j].to_owned()));
                }
            }
        }
    }
    if depth != 0 {
        let line = cur.as_ref().map_or(0, |c| c.line);
        return Err(ZoneError {
            line,
            kind: ZoneErrorKind::Unterminated,
        });
    }
    out.extend(cur);
    Ok(out)
}

/// Reads a quoted string starting after its opening quote; returns the bytes and
/// the index after the closing quote.
fn quoted(bytes: &[u8], mut j: usize) -> Option<(Vec<u8>, usize)> {
    let mut s = Vec::new();
    loop {
        match *bytes.get(j)? {
            b'"' => return Some((s, j + 1)),
            b'\\' => {
                let d = bytes
                    .get(j + 1..j + 4)
                    .filter(|d| d.iter().all(u8::is_ascii_digit));
                if let Some(d) = d {
                    let v = d.iter().fold(0u32, |v, b| v * 10 + u32::from(b - b'0'));
                    s.push(u8::try_from(v).ok()?);
                    j += 4;
                } else {
                    s.push(*bytes.get(j + 1)?);
                    j += 2;
                }
            }
            b => {
                s.push(b);
                j += 1;
            }
        }
    }
}

fn parse_name(text: &str, origin: Option<&Name>) -> Result<Name, ZoneErrorKind> {
    let bad = || ZoneErrorKind::BadName(text.to_owned());
    if text == "@" {
        return origin.cloned().ok_or(ZoneErrorKind::NoOrigin);
    }
    if text.is_empty() {
        return Err(bad());
    }
    let name = Name::from_ascii(text).map_err(|_| bad())?;
    if Name::is_fqdn_text(text) {
        return Ok(name);
    }
    let origin = origin.ok_or(ZoneErrorKind::NoOrigin)?;
    name.join(origin).map_err(|_| bad())
}

/// A TTL: seconds, or a sum of numbers with `s`/`m`/`h`/`d`/`w` units (`1h30m`).
fn parse_ttl(text: &str) -> Option<u32> {
    if let Ok(v) = text.parse::<u32>() {
        return (v <= i32::MAX as u32).then_some(v);
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(num.unwrap_or(0).checked_mul(10)? + u64::from(d));
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(num.take()?.checked_mul(unit)?)?;
    }
    if num.is_some() {
        return None; // digits after the last unit
    }
    u32::try_from(total).ok().filter(|v| *v <= i32::MAX as u32)
}

fn parse_rdata(rtype: &str, rest: &[Token], origin: Option<&Name>) -> Result<RData, ZoneErrorKind> {
    let words: Vec<&str> = rest.iter().filter_map(Token::word).collect();
    let exactly = |n: usize, why| {
        if words.len() == n && rest.len() == n {
            Ok(())
        } else {
            Err(ZoneErrorKind::BadRdata(why))
        }
    };
    let num = |w: &str, why| w.parse::<u32>().map_err(|_| ZoneErrorKind::BadRdata(why));
    Ok(match rtype {
        "A" => {
            exactly(1, "A takes one IPv4 address")?;
            RData::A(
                words[0]
                    .parse::<Ipv4Addr>()
                    .map_err(|_| ZoneErrorKind::BadRdata("bad IPv4 address"))?,
            )
        }
        "AAAA" => {
            exactly(1, "AAAA takes one IPv6 address")?;
            RData::Aaaa(
                words[0]
                    .parse::<Ipv6Addr>()
                    .map_err(|_| ZoneErrorKind::BadRdata("bad IPv6 address"))?,
            )
        }
        "CNAME" => {
            exactly(1, "CNAME takes one name")?;
            RData::Cname(parse_name(words[0], origin)?)
        }
        "NS" => {
            exactly(1, "NS takes one name")?;
            RData::Ns(parse_name(words[0], origin)?)
        }
        "MX" => {
            exactly(2, "MX takes a preference and a name")?;
            let preference = u16::try_from(num(words[0], "bad MX preference")?)
                .map_err(|_| ZoneErrorKind::BadRdata("bad MX preference"))?;
            RData::Mx {
                preference,
                exchange: parse_name(words[1], origin)?,
            }
        }
        "TXT" => {
            if rest.is_empty() {
                return Err(ZoneErrorKind::BadRdata("TXT takes at least one string"));
            }
            let mut strings = Vec::with_capacity(rest.len());
            for t in rest {
                let s = match t {
                    Token::Word(w) => w.as_bytes().to_vec(),
                    Token::Quoted(q) => q.clone(),
                };
                if s.len() > 255 {
                    return Err(ZoneErrorKind::StringTooLong);
                }
                strings.push(s);
            }
            RData::Txt(strings)
        }
        "SOA" => {
            exactly(
                7,
                "SOA takes mname rname serial refresh retry expire minimum",
            )?;
            let ttl = |w: &str| parse_ttl(w).ok_or(ZoneErrorKind::BadRdata("bad SOA timer"));
            RData::Soa(Soa {
                mname: parse_name(words[0], origin)?,
                rname: parse_name(words[1], origin)?,
                serial: num(words[2], "bad SOA serial")?,
                refresh: ttl(words[3])?,
                retry: ttl(words[4])?,
                expire: ttl(words[5])?,
                minimum: ttl(words[6])?,
            })
        }
        other => return Err(ZoneErrorKind::UnknownType(other.to_owned())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    const ZONE: &str = r#"
$ORIGIN example.test.
$TTL 1h
@       IN SOA ns1 hostmaster.example.test. (
                2024010101 ; serial
                7200 3600 1209600 300 )
        IN NS  ns1
        NS     ns2.other.test.
        MX 10  mail
ns1     A      192.0.2.1
www  300 IN A  192.0.2.10
        AAAA   2001:db8::10
alias   IN 60 CNAME www
mail    A      192.0.2.25
txt     TXT    "hello world" plain "quote \" and \\ and \065"
"#;

    #[test]
    fn parses_the_subset() {
        let z = Zone::parse(ZONE, None).unwrap();
        assert_eq!(z.origin, name("example.test"));
        let r = &z.records;
        assert_eq!(r.len(), 10);
        let RData::Soa(soa) = &r[0].data else {
            panic!("{:?}", r[0])
        };
        assert_eq!(r[0].name, name("example.test"));
        assert_eq!(r[0].ttl, 3600);
        assert_eq!(soa.mname, name("ns1.example.test"));
        assert_eq!(soa.rname, name("hostmaster.example.test"));
        assert_eq!(
            (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum),
            (2024010101, 7200, 3600, 1209600, 300)
        );
        assert_eq!(
            r[1].name,
            name("example.test"),
            "omitted owner is the previous one"
        );
        assert_eq!(r[1].data, RData::Ns(name("ns1.example.test")));
        assert_eq!(
            r[2].data,
            RData::Ns(name("ns2.other.test")),
            "absolute names stay"
        );
        assert_eq!(
            r[3].data,
            RData::Mx {
                preference: 10,
                exchange: name("mail.example.test")
            }
        );
        assert_eq!(
            (r[5].name.clone(), r[5].ttl),
            (name("www.example.test"), 300)
        );
        assert_eq!(r[6].data, RData::Aaaa("2001:db8::10".parse().unwrap()));
        assert_eq!(r[6].name, name("www.example.test"));
        assert_eq!(r[6].ttl, 3600, "$TTL applies, not the previous record's");
        assert_eq!(
            (r[7].ttl, r[7].data.clone()),
            (60, RData::Cname(name("www.example.test"))),
            "class before TTL"
        );
        assert_eq!(
            r[9].data,
            RData::Txt(vec![
                b"hello world".to_vec(),
                b"plain".to_vec(),
                b"quote \" and \\ and A".to_vec()
            ])
        );
    }

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("300"), Some(300));
        assert_eq!(parse_ttl("1h30m"), Some(5400));
        assert_eq!(parse_ttl("2D"), Some(172_800));
        assert_eq!(parse_ttl("1w"), Some(604_800));
        assert_eq!(parse_ttl("10x"), None);
        assert_eq!(parse_ttl("1h5"), None);
        assert_eq!(parse_ttl("4294967295"), None);
    }

    #[test]
    fn origin_from_the_caller_and_errors_name_the_line() {
        let z = Zone::parse("@ 60 A 192.0.2.1\n", Some(name("given.test"))).unwrap();
        assert_eq!(z.records[0].name, name("given.test"));

        let cases: &[(&str, usize, ZoneErrorKind)] = &[
            ("www 60 A 192.0.2.1\n", 1, ZoneErrorKind::NoOrigin),
            (
                "$ORIGIN a.test.\nwww A 192.0.2.1\n",
                2,
                ZoneErrorKind::NoTtl,
            ),
            (
                "$ORIGIN a.test.\n$TTL 60\nwww A 300.0.0.1\n",
                3,
                ZoneErrorKind::BadRdata("bad IPv4 address"),
            ),
            (
                "$ORIGIN a.test.\n$TTL 60\nwww SRV 1 2 3 x\n",
                3,
                ZoneErrorKind::UnknownType("SRV".into()),
            ),
            (
                "$INCLUDE other\n",
                1,
                ZoneErrorKind::UnknownDirective("$INCLUDE".into()),
            ),
            (
                "$ORIGIN a.test.\n$TTL 60\nt TXT \"open\n",
                3,
                ZoneErrorKind::Unterminated,
            ),
            (
                "$ORIGIN a.test.\n$TTL 60\n@ SOA a b ( 1 2 3 4 5\n",
                3,
                ZoneErrorKind::Unterminated,
            ),
            (
                "$ORIGIN a.test.\n$TTL 60\nbad@name A 192.0.2.1\n",
                3,
                ZoneErrorKind::BadName("bad@name".into()),
            ),
            (
                "$ORIGIN a.test.\n$TTL 60\n@ MX mail\n",
                3,
                ZoneErrorKind::BadRdata("MX takes a preference and a name"),
            ),
            ("  A 192.0.2.1\n", 1, ZoneErrorKind::NoOwner),
        ];
        for (text, line, kind) in cases {
            let e = Zone::parse(text, None).unwrap_err();
            assert_eq!((e.line, &e.kind), (*line, kind), "{text:?}");
        }
        let long = format!("$ORIGIN a.test.\n$TTL 60\nt TXT \"{}\"\n", "x".repeat(256));
        assert_eq!(
            Zone::parse(&long, None).unwrap_err().kind,
            ZoneErrorKind::StringTooLong
        );
    }
}
