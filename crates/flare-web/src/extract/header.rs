//! Header extractors: all of them as a map, or one typed header.

use std::convert::Infallible;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::{FromRequest, Rejection, RejectionKind};
use crate::request::Request;

/// Every request header field as an [`http::HeaderMap`] (copied; fields whose name
/// or value `http` refuses are left out). For one field, [`TypedHeader`] or
/// [`Request::header`] is cheaper.
#[derive(Clone, Debug, Default)]
pub struct Headers(pub HeaderMap);

impl<S> FromRequest<S> for Headers {
    type Rejection = Infallible;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Infallible> {
        let mut map = HeaderMap::with_capacity(req.header_count());
        for (n, v) in req.headers() {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(n.as_bytes()),
                HeaderValue::from_bytes(v),
            ) {
                map.append(n, v);
            }
        }
        Ok(Headers(map))
    }
}

/// A header that decodes into a typed value, for [`TypedHeader`].
pub trait TypedHeaderValue: Sized {
    /// The field name, lowercase.
    const NAME: &'static str;
    /// Decodes the first field value; `None` when it is invalid.
    fn decode(value: &[u8]) -> Option<Self>;
}

/// One header, decoded. `400` when it is missing or invalid; take
/// `Option<TypedHeader<T>>` for an optional header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedHeader<T>(pub T);

impl<S, T: TypedHeaderValue> FromRequest<S> for TypedHeader<T> {
    type Rejection = Rejection;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Rejection> {
        let raw = req.header_bytes(T::NAME).ok_or(Rejection::new(
            RejectionKind::MissingHeader,
            "a required header is missing",
        ))?;
        T::decode(raw).map(TypedHeader).ok_or(Rejection::new(
            RejectionKind::InvalidHeader,
            "a header value is invalid",
        ))
    }
}

fn utf8(v: &[u8]) -> Option<String> {
    std::str::from_utf8(v).ok().map(|s| s.trim().to_owned())
}

/// `User-Agent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAgent(pub String);

impl TypedHeaderValue for UserAgent {
    const NAME: &'static str = "user-agent";
    fn decode(v: &[u8]) -> Option<Self> {
        utf8(v).map(UserAgent)
    }
}

/// `Host` (HTTP/1.1; an HTTP/2 driver puts `:authority` there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host(pub String);

impl TypedHeaderValue for Host {
    const NAME: &'static str = "host";
    fn decode(v: &[u8]) -> Option<Self> {
        utf8(v).filter(|h| !h.is_empty()).map(Host)
    }
}

/// `Content-Type`, as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentType(pub String);

impl TypedHeaderValue for ContentType {
    const NAME: &'static str = "content-type";
    fn decode(v: &[u8]) -> Option<Self> {
        utf8(v).filter(|h| h.contains('/')).map(ContentType)
    }
}

/// `Authorization`, split into its scheme (`Bearer`, `Basic`...) and credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The auth scheme as sent.
    pub scheme: String,
    /// What follows the scheme, trimmed.
    pub credentials: String,
}

impl TypedHeaderValue for Authorization {
    const NAME: &'static str = "authorization";
    fn decode(v: &[u8]) -> Option<Self> {
        let s = utf8(v)?;
        let (scheme, cred) = s.split_once(' ')?;
        if scheme.is_empty() {
            return None;
        }
        Some(Authorization {
            scheme: scheme.to_owned(),
            credentials: cred.trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_map_and_typed_headers() {
        let r = Request::builder()
            .header("User-Agent", "curl/8")
            .header("X-A", "1")
            .header("x-a", "2")
            .header("Authorization", "Bearer  tok")
            .header("Content-Type", "nonsense")
            .build();
        let Headers(m) = Headers::from_request(&r, &()).unwrap();
        assert_eq!(m.get_all("x-a").iter().count(), 2);
        assert_eq!(m["user-agent"], "curl/8");
        let TypedHeader(UserAgent(ua)) = TypedHeader::from_request(&r, &()).unwrap();
        assert_eq!(ua, "curl/8");
        let TypedHeader(a) = TypedHeader::<Authorization>::from_request(&r, &()).unwrap();
        assert_eq!(
            (a.scheme.as_str(), a.credentials.as_str()),
            ("Bearer", "tok")
        );
        let e = TypedHeader::<Host>::from_request(&r, &()).unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.kind()),
            (400, RejectionKind::MissingHeader)
        );
        let e = TypedHeader::<ContentType>::from_request(&r, &()).unwrap_err();
        assert_eq!(e.kind(), RejectionKind::InvalidHeader);
        assert_eq!(
            Option::<TypedHeader<Host>>::from_request(&r, &()).unwrap(),
            None
        );
    }
}
