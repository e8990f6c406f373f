//! Conditional requests (RFC 9110 section 13): entity-tag comparison and the order in
//! which a server evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and
//! `If-Modified-Since`. Shared by [`ServeDir`](super::ServeDir) and the
//! [`Conditional`](crate::middleware::Conditional) middleware.

use http::Method;

use super::http_date;
use crate::request::Request;

/// The outcome of evaluating a request's preconditions against a representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// No precondition stops the request.
    Proceed,
    /// `304 Not Modified` (GET and HEAD only).
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// Evaluates the request's preconditions against the current `etag` (as it would be
/// sent, quotes included) and last modification time, in the order of RFC 9110
/// section 13.2.2 steps 1 to 4.
pub fn evaluate(req: &Request, etag: Option<&str>, last_modified: Option<u64>) -> Precondition {
    let get_or_head = matches!(*req.method(), Method::GET | Method::HEAD);
    // Step 1: If-Match, strong comparison.
    if let Some(im) = req.header("if-match") {
        if !list_matches(im, etag, true) {
            return Precondition::Failed;
        }
    } else if let Some(ius) = req.header("if-unmodified-since") {
        // Step 2: If-Unmodified-Since, only without If-Match; an invalid date is
        // ignored.
        if let (Some(date), Some(lm)) = (http_date::parse(ius), last_modified) {
            if lm > date {
                return Precondition::Failed;
            }
        }
    }
    // Step 3: If-None-Match, weak comparison.
    if let Some(inm) = req.header("if-none-match") {
        if list_matches(inm, etag, false) {
            return if get_or_head {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if get_or_head {
        // Step 4: If-Modified-Since, only without If-None-Match and for GET/HEAD.
        if let Some(ims) = req.header("if-modified-since") {
            if let (Some(date), Some(lm)) = (http_date::parse(ims), last_modified) {
                if lm <= date {
                    return Precondition::NotModified;
                }
            }
        }
    }
    Precondition::Proceed
}

/// Whether `If-Range` lets a range request through (RFC 9110 section 13.1.5): an
/// entity tag must match strongly; a date must equal the last modification time.
pub fn if_range_holds(value: &str, etag: Option<&str>, last_modified: Option<u64>) -> bool {
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        return match (parse_tag(value), etag.and_then(parse_tag)) {
            (Some((a, rest)), Some((b, _))) if rest.trim().is_empty() => strong_eq(a, b),
            _ => false,
        };
    }
    matches!((http_date::parse(value), last_modified), (Some(d), Some(lm)) if d == lm)
}

/// Whether any entity tag in the `If-Match` / `If-None-Match` list `list` matches
/// `etag`; `*` matches when the representation exists. A malformed list matches
/// nothing.
pub fn list_matches(list: &str, etag: Option<&str>, strong: bool) -> bool {
    let Some(current) = etag.and_then(parse_tag).map(|(t, _)| t) else {
        return list.trim() == "*" && etag.is_some();
    };
    if list.trim() == "*" {
        return true;
    }
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        let Some((tag, after)) = parse_tag(rest) else {
            return false;
        };
        let eq = if strong {
            strong_eq(tag, current)
        } else {
            tag.opaque == current.opaque
        };
        if eq {
            return true;
        }
        rest = after;
    }
}

/// An entity tag: its opaque part (quotes included) and whether it is weak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tag<'a> {
    weak: bool,
    opaque: &'a str,
}

fn strong_eq(a: Tag<'_>, b: Tag<'_>) -> bool {
    !a.weak && !b.weak && a.opaque == b.opaque
}

/// Parses one entity tag at the start of `s`; returns it and the rest.
fn parse_tag(s: &str) -> Option<(Tag<'_>, &str)> {
    let (weak, s) = match s.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let body = s.strip_prefix('"')?;
    // etagc is %x21 / %x23-7E / obs-text: anything but DQUOTE, controls and space.
    let end = body.find('"')?;
    if body[..end].bytes().any(|b| b <= b' ' || b == 0x7f) {
        return None;
    }
    Some((
        Tag {
            weak,
            opaque: &s[..end + 2],
        },
        &body[end + 1..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().uri("/x");
        for (n, v) in headers {
            b = b.header(n, v);
        }
        b.build()
    }

    #[test]
    fn list_matching_weak_and_strong() {
        let e = Some("\"abc\"");
        assert!(list_matches("\"abc\"", e, false));
        assert!(list_matches("W/\"abc\"", e, false));
        assert!(!list_matches("W/\"abc\"", e, true));
        assert!(list_matches("\"x\", \"abc\"", e, true));
        assert!(list_matches("\"x\",W/\"abc\"", Some("W/\"abc\""), false));
        assert!(!list_matches("\"x\",W/\"abc\"", Some("W/\"abc\""), true));
        assert!(list_matches("\"a,b\"", Some("\"a,b\""), true));
        assert!(list_matches("*", e, true));
        assert!(!list_matches("*", None, true));
        assert!(!list_matches("\"abc", e, false));
        assert!(!list_matches("abc", e, false));
        assert!(!list_matches("\"x\" garbage \"abc\"", e, false));
        assert!(!list_matches("", e, false));
        assert!(!list_matches("\"abc\"", None, false));
    }

    #[test]
    fn evaluation_order() {
        use Precondition::*;
        let etag = Some("\"v1\"");
        let lm = Some(1_000_000);
        let old = "Mon, 12 Jan 1970 13:46:39 GMT"; // 999_999
        let same = "Mon, 12 Jan 1970 13:46:40 GMT"; // 1_000_000
        let cases: &[(&[(&str, &str)], Precondition)] = &[
            (&[], Proceed),
            (&[("if-none-match", "\"v1\"")], NotModified),
            (&[("if-none-match", "W/\"v1\"")], NotModified),
            (&[("if-none-match", "\"v0\"")], Proceed),
            (&[("if-modified-since", same)], NotModified),
            (&[("if-modified-since", old)], Proceed),
            (&[("if-modified-since", "garbage")], Proceed),
            // If-None-Match wins over If-Modified-Since.
            (
                &[("if-none-match", "\"v0\""), ("if-modified-since", same)],
                Proceed,
            ),
            (&[("if-match", "\"v0\"")], Failed),
            (&[("if-match", "W/\"v1\"")], Failed),
            (&[("if-match", "\"v1\"")], Proceed),
            (&[("if-unmodified-since", old)], Failed),
            (&[("if-unmodified-since", same)], Proceed),
            // If-Match wins over If-Unmodified-Since.
            (
                &[("if-match", "\"v1\""), ("if-unmodified-since", old)],
                Proceed,
            ),
        ];
        for (h, want) in cases {
            assert_eq!(evaluate(&req(h), etag, lm), *want, "{h:?}");
        }
        let mut put = req(&[("if-none-match", "*")]);
        put.set_method(Method::PUT);
        assert_eq!(evaluate(&put, etag, lm), Failed);
        let mut post = req(&[("if-modified-since", same)]);
        post.set_method(Method::POST);
        assert_eq!(evaluate(&post, etag, lm), Proceed);
    }

    #[test]
    fn odd_lists_never_panic() {
        let alphabet = ["\"", "W/", ",", " ", "*", "a", "\u{e9}", "\t", "W"];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..50_000 {
            let n = next() % 10;
            let s: String = (0..n)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            for etag in [Some("\"a\""), Some("W/\"a\""), None] {
                let _ = list_matches(&s, etag, true);
                let _ = list_matches(&s, etag, false);
                let _ = if_range_holds(&s, etag, Some(0));
            }
        }
    }

    #[test]
    fn if_range() {
        assert!(if_range_holds("\"v1\"", Some("\"v1\""), None));
        assert!(!if_range_holds("W/\"v1\"", Some("\"v1\""), None));
        assert!(!if_range_holds("\"v1\"", Some("W/\"v1\""), None));
        assert!(!if_range_holds("\"v0\"", Some("\"v1\""), None));
        assert!(!if_range_holds("\"v1\" \"v2\"", Some("\"v1\""), None));
        let d = "Thu, 01 Jan 1970 00:00:10 GMT";
        assert!(if_range_holds(d, None, Some(10)));
        assert!(!if_range_holds(d, None, Some(11)));
        assert!(!if_range_holds("nonsense", Some("\"v1\""), Some(10)));
    }
}
