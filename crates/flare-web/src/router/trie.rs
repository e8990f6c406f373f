//! The routing table: a trie of path segments.
//!
//! A path is split on `/` into segments (`/users/7/posts` is `users`, `7`, `posts`;
//! `/` is no segment at all; a trailing slash is a last, empty segment). Each node
//! has static children (sorted, so a wide node is searched by bisection), at most
//! one named parameter child and at most one catch-all. Lookup tries, at every
//! segment, the static child first, then the parameter, then the catch-all, and backs
//! up to the next choice when a branch runs out; so the precedence is static over
//! parameter over catch-all, decided segment by segment from the left, and a lookup
//! never allocates.

use std::fmt;

/// The most parameters one route may capture (a deeper pattern is refused when the
/// route is added). Lookups record captures in a fixed array of this size.
pub const MAX_PARAMS: usize = 16;

/// Static children up to this many are scanned (length and first byte first); more
/// are bisected.
const LINEAR_CHILDREN: usize = 16;

/// A segment of a route pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Segment<'a> {
    /// Matches these exact bytes.
    Static(&'a str),
    /// `{name}`: one non-empty segment.
    Param(&'a str),
    /// `{*name}`: the rest of the path, one byte or more, slashes included.
    CatchAll(&'a str),
}

/// Why a route pattern was refused. Patterns are code, not network input: the
/// router panics with this when a route is added.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatternError {
    /// The pattern does not start with `/`.
    NoLeadingSlash,
    /// A `{` or `}` inside a segment that is not exactly `{name}` or `{*name}`.
    BadBraces,
    /// `{}` or `{*}`, or a name with `/`.
    EmptyName,
    /// `{*name}` is not the last segment.
    CatchAllNotLast,
    /// The same parameter name twice in one pattern.
    DuplicateName,
    /// More than [`MAX_PARAMS`] parameters.
    TooManyParams,
    /// A parameter at this position already exists under another name
    /// (`/users/{id}` and `/users/{name}/posts`).
    NameConflict {
        /// The name already there.
        existing: String,
    },
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::NoLeadingSlash => f.write_str("a route pattern must start with `/`"),
            PatternError::BadBraces => {
                f.write_str("a segment with braces must be exactly `{name}` or `{*name}`")
            }
            PatternError::EmptyName => f.write_str("a parameter needs a name"),
            PatternError::CatchAllNotLast => f.write_str("`{*name}` must be the last segment"),
            PatternError::DuplicateName => f.write_str("a parameter name is used twice"),
            PatternError::TooManyParams => write!(f, "more than {MAX_PARAMS} parameters"),
            PatternError::NameConflict { existing } => write!(
                f,
                "a parameter at this position is already named `{existing}`"
            ),
        }
    }
}

impl std::error::Error for PatternError {}

/// Splits a route pattern into segments, checking its syntax.
pub(crate) fn parse_pattern(pattern: &str) -> Result<Vec<Segment<'_>>, PatternError> {
    let rest = pattern
        .strip_prefix('/')
        .ok_or(PatternError::NoLeadingSlash)?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let parts: Vec<&str> = rest.split('/').collect();
    let last = parts.len() - 1;
    for (i, part) in parts.iter().enumerate() {
        let seg = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(inner) => {
                let (catch_all, name) = match inner.strip_prefix('*') {
                    Some(n) => (true, n),
                    None => (false, inner),
                };
                if name.is_empty() {
                    return Err(PatternError::EmptyName);
                }
                if name.contains(['{', '}', '*']) {
                    return Err(PatternError::BadBraces);
                }
                if names.contains(&name) {
                    return Err(PatternError::DuplicateName);
                }
                names.push(name);
                if names.len() > MAX_PARAMS {
                    return Err(PatternError::TooManyParams);
                }
                if catch_all {
                    if i != last {
                        return Err(PatternError::CatchAllNotLast);
                    }
                    Segment::CatchAll(name)
                } else {
                    Segment::Param(name)
                }
            }
            None if part.contains(['{', '}']) => return Err(PatternError::BadBraces),
            None => Segment::Static(part),
        };
        out.push(seg);
    }
    Ok(out)
}

/// The parameter names of a parsed pattern, in order.
pub(crate) fn param_names(segments: &[Segment<'_>]) -> Box<[Box<str>]> {
    segments
        .iter()
        .filter_map(|s| match s {
            Segment::Param(n) | Segment::CatchAll(n) => Some((*n).into()),
            Segment::Static(_) => None,
        })
        .collect()
}

/// One captured parameter: its byte range in the path. The names come from the
/// matched route's pattern, in the same order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Capture {
    pub start: u32,
    pub end: u32,
}

/// The parameters a lookup captured, in a fixed array (no allocation).
#[derive(Debug)]
pub(crate) struct Captures {
    items: [Capture; MAX_PARAMS],
    len: usize,
}

impl Captures {
    pub fn new() -> Self {
        Captures {
            items: [Capture::default(); MAX_PARAMS],
            len: 0,
        }
    }
    pub fn as_slice(&self) -> &[Capture] {
        self.items.get(..self.len).unwrap_or(&[])
    }
    #[inline]
    fn push(&mut self, start: usize, end: usize) -> bool {
        match (self.items.get_mut(self.len), u32::try_from(end)) {
            (Some(slot), Ok(end)) => {
                *slot = Capture {
                    start: start as u32,
                    end,
                };
                self.len += 1;
                true
            }
            _ => false,
        }
    }
}

/// A trie node.
#[derive(Clone, Debug, Default)]
pub(crate) struct Node {
    statics: Vec<(Box<[u8]>, Node)>,
    param: Option<Box<(Box<str>, Node)>>,
    catch_all: Option<Box<(Box<str>, Node)>>,
    value: Option<usize>,
}

impl Node {
    /// The value slot for `segments`, creating nodes on the way.
    pub fn insert(&mut self, segments: &[Segment<'_>]) -> Result<&mut Option<usize>, PatternError> {
        let Some((first, rest)) = segments.split_first() else {
            return Ok(&mut self.value);
        };
        let child = match *first {
            Segment::Static(s) => {
                let key = s.as_bytes();
                let at = match self.statics.binary_search_by(|(k, _)| (**k).cmp(key)) {
                    Ok(i) => i,
                    Err(i) => {
                        self.statics.insert(i, (key.into(), Node::default()));
                        i
                    }
                };
                match self.statics.get_mut(at) {
                    Some((_, n)) => n,
                    None => unreachable!("index from binary_search"),
                }
            }
            Segment::Param(name) => slot_named(&mut self.param, name)?,
            Segment::CatchAll(name) => slot_named(&mut self.catch_all, name)?,
        };
        child.insert(rest)
    }

    /// The value for `path` and the parameters it captured.
    pub fn lookup(&self, path: &str, caps: &mut Captures) -> Option<usize> {
        let bytes = path.as_bytes();
        match bytes.split_first() {
            Some((b'/', [])) => self.value,
            Some((b'/', _)) => self.find(bytes, 1, caps),
            _ => None,
        }
    }

    /// Matches the segment starting at `pos` (just after a `/`) and the rest.
    fn find(&self, path: &[u8], pos: usize, caps: &mut Captures) -> Option<usize> {
        let tail = path.get(pos..).unwrap_or(&[]);
        let slash = tail.iter().position(|&b| b == b'/');
        let seg = match slash {
            Some(i) => tail.get(..i).unwrap_or(&[]),
            None => tail,
        };
        let next = slash.map(|i| pos + i + 1);
        if let Some(child) = self.static_child(seg) {
            if let Some(v) = child.descend(path, next, caps) {
                return Some(v);
            }
        }
        if let Some(p) = &self.param {
            if !seg.is_empty() {
                let mark = caps.len;
                if caps.push(pos, pos + seg.len()) {
                    if let Some(v) = p.1.descend(path, next, caps) {
                        return Some(v);
                    }
                }
                caps.len = mark;
            }
        }
        if let Some(c) = &self.catch_all {
            if !tail.is_empty() && c.1.value.is_some() && caps.push(pos, path.len()) {
                return c.1.value;
            }
        }
        None
    }

    #[inline]
    fn descend(&self, path: &[u8], next: Option<usize>, caps: &mut Captures) -> Option<usize> {
        match next {
            None => self.value,
            Some(pos) => self.find(path, pos, caps),
        }
    }

    fn static_child(&self, seg: &[u8]) -> Option<&Node> {
        if self.statics.len() <= LINEAR_CHILDREN {
            // Length and first byte rule out almost every sibling without a memcmp.
            let first = seg.first();
            self.statics
                .iter()
                .find(|(k, _)| k.len() == seg.len() && k.first() == first && **k == *seg)
                .map(|(_, n)| n)
        } else {
            self.statics
                .binary_search_by(|(k, _)| (**k).cmp(seg))
                .ok()
                .and_then(|i| self.statics.get(i))
                .map(|(_, n)| n)
        }
    }
}

fn slot_named<'n>(
    slot: &'n mut Option<Box<(Box<str>, Node)>>,
    name: &str,
) -> Result<&'n mut Node, PatternError> {
    let entry = slot.get_or_insert_with(|| Box::new((name.into(), Node::default())));
    if &*entry.0 != name {
        return Err(PatternError::NameConflict {
            existing: entry.0.to_string(),
        });
    }
    Ok(&mut entry.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Table {
        root: Node,
        names: Vec<Box<[Box<str>]>>,
    }

    fn table(patterns: &[&str]) -> Table {
        let mut root = Node::default();
        let mut names = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            let segs = parse_pattern(p).unwrap();
            *root.insert(&segs).unwrap() = Some(i);
            names.push(param_names(&segs));
        }
        Table { root, names }
    }

    fn find(t: &Table, path: &str) -> Option<(usize, Vec<(String, String)>)> {
        let mut caps = Captures::new();
        let v = t.root.lookup(path, &mut caps)?;
        let got = caps
            .as_slice()
            .iter()
            .zip(&t.names[v])
            .map(|(c, n)| {
                (
                    n.to_string(),
                    path[c.start as usize..c.end as usize].to_string(),
                )
            })
            .collect();
        assert_eq!(caps.as_slice().len(), t.names[v].len());
        Some((v, got))
    }

    fn caps(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn precedence_static_then_param_then_catch_all() {
        let t = table(&[
            "/users/new",
            "/users/{id}",
            "/users/{*rest}",
            "/users/{id}/edit",
            "/",
        ]);
        assert_eq!(find(&t, "/users/new"), Some((0, vec![])));
        assert_eq!(find(&t, "/users/7"), Some((1, caps(&[("id", "7")]))));
        assert_eq!(find(&t, "/users/7/x"), Some((2, caps(&[("rest", "7/x")]))));
        // `new` is static, but has no `edit` child: back up to the parameter.
        assert_eq!(
            find(&t, "/users/new/edit"),
            Some((3, caps(&[("id", "new")])))
        );
        assert_eq!(find(&t, "/"), Some((4, vec![])));
        assert_eq!(find(&t, "/users"), None);
        // A parameter never matches an empty segment, a catch-all never matches
        // nothing.
        assert_eq!(find(&t, "/users/"), None);
        assert_eq!(
            find(&t, "/users//edit"),
            Some((2, caps(&[("rest", "/edit")])))
        );
    }

    #[test]
    fn trailing_slash_is_a_distinct_route() {
        let t = table(&["/a", "/b/"]);
        assert_eq!(find(&t, "/a"), Some((0, vec![])));
        assert_eq!(find(&t, "/a/"), None);
        assert_eq!(find(&t, "/b/"), Some((1, vec![])));
        assert_eq!(find(&t, "/b"), None);
    }

    #[test]
    fn catch_all_at_root_and_paths_without_slash() {
        let t = table(&["/{*all}"]);
        assert_eq!(find(&t, "/x/y"), Some((0, caps(&[("all", "x/y")]))));
        assert_eq!(find(&t, "/"), None);
        assert_eq!(find(&t, "*"), None);
        assert_eq!(find(&t, ""), None);
    }

    #[test]
    fn wide_nodes_are_bisected() {
        let names: Vec<String> = (0..40).map(|i| format!("/s{i:02}/x")).collect();
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let t = table(&refs);
        for (i, n) in names.iter().enumerate() {
            assert_eq!(find(&t, n), Some((i, vec![])));
        }
        assert_eq!(find(&t, "/s99/x"), None);
    }

    #[test]
    fn multiple_params() {
        let t = table(&["/{a}/{b}/{c}", "/x/{b}/z"]);
        assert_eq!(
            find(&t, "/1/2/3"),
            Some((0, caps(&[("a", "1"), ("b", "2"), ("c", "3")])))
        );
        assert_eq!(find(&t, "/x/2/z"), Some((1, caps(&[("b", "2")]))));
        assert_eq!(
            find(&t, "/x/2/q"),
            Some((0, caps(&[("a", "x"), ("b", "2"), ("c", "q")])))
        );
    }

    #[test]
    fn pattern_errors() {
        assert_eq!(parse_pattern("a"), Err(PatternError::NoLeadingSlash));
        assert_eq!(parse_pattern("/a{b}"), Err(PatternError::BadBraces));
        assert_eq!(parse_pattern("/{}"), Err(PatternError::EmptyName));
        assert_eq!(parse_pattern("/{*}"), Err(PatternError::EmptyName));
        assert_eq!(parse_pattern("/{*a}/b"), Err(PatternError::CatchAllNotLast));
        assert_eq!(parse_pattern("/{a}/{a}"), Err(PatternError::DuplicateName));
        let deep: String = (0..=MAX_PARAMS).map(|i| format!("/{{p{i}}}")).collect();
        assert_eq!(parse_pattern(&deep), Err(PatternError::TooManyParams));
        let mut t = table(&["/u/{id}"]);
        let segs = parse_pattern("/u/{name}/x").unwrap();
        assert_eq!(
            t.root.insert(&segs).map(|_| ()),
            Err(PatternError::NameConflict {
                existing: "id".into()
            })
        );
    }

    /// The rule the trie implements, stated naively: among the patterns that match
    /// the path segment by segment, the one whose kinds (static < parameter <
    /// catch-all) are smallest read left to right.
    fn reference(patterns: &[Vec<Segment<'_>>], path: &str) -> Option<usize> {
        let rest = path.strip_prefix('/')?;
        let segs: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        let matches = |pat: &[Segment<'_>]| -> bool {
            for (i, s) in pat.iter().enumerate() {
                match *s {
                    Segment::CatchAll(_) => {
                        return i < segs.len() && !segs[i..].join("/").is_empty();
                    }
                    Segment::Param(_) => {
                        if segs.get(i).is_none_or(|v| v.is_empty()) {
                            return false;
                        }
                    }
                    Segment::Static(t) => {
                        if segs.get(i) != Some(&t) {
                            return false;
                        }
                    }
                }
            }
            pat.len() == segs.len()
        };
        let kinds = |pat: &[Segment<'_>]| -> Vec<u8> {
            pat.iter()
                .map(|s| match s {
                    Segment::Static(_) => 0,
                    Segment::Param(_) => 1,
                    Segment::CatchAll(_) => 2,
                })
                .collect()
        };
        (0..patterns.len())
            .filter(|&i| matches(&patterns[i]))
            .min_by_key(|&i| kinds(&patterns[i]))
    }

    fn pattern_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop::collection::vec(0u8..5, 0..4).prop_map(|kinds| {
            let mut p = String::new();
            let last = kinds.len().saturating_sub(1);
            for (i, k) in kinds.iter().enumerate() {
                p.push('/');
                match k {
                    0 => p.push('a'),
                    1 => p.push('b'),
                    2 => p.push_str(""),
                    3 => p.push_str(&format!("{{p{i}}}")),
                    _ if i == last => p.push_str(&format!("{{*c{i}}}")),
                    _ => p.push_str(&format!("{{p{i}}}")),
                }
            }
            if p.is_empty() {
                p.push('/');
            }
            p
        })
    }

    proptest::proptest! {
        #[test]
        fn lookup_agrees_with_the_naive_rule(
            patterns in proptest::collection::vec(pattern_strategy(), 1..12),
            paths in proptest::collection::vec("(/(a|b|x|)){0,5}", 1..20),
        ) {
            // Keep the first of duplicate patterns (the router merges them).
            let mut uniq: Vec<String> = Vec::new();
            for p in patterns {
                if !uniq.contains(&p) {
                    uniq.push(p);
                }
            }
            let parsed: Vec<Vec<Segment<'_>>> =
                uniq.iter().map(|p| parse_pattern(p).unwrap()).collect();
            let mut root = Node::default();
            for (i, segs) in parsed.iter().enumerate() {
                *root.insert(segs).unwrap() = Some(i);
            }
            for path in paths {
                let path = if path.is_empty() { "/".to_string() } else { path };
                let mut caps = Captures::new();
                let got = root.lookup(&path, &mut caps);
                proptest::prop_assert_eq!(got, reference(&parsed, &path), "path {}", path);
                if let Some(i) = got {
                    let n = param_names(&parsed[i]).len();
                    proptest::prop_assert_eq!(caps.as_slice().len(), n);
                    for c in caps.as_slice() {
                        proptest::prop_assert!(path.get(c.start as usize..c.end as usize).is_some());
                    }
                }
            }
        }
    }
}
