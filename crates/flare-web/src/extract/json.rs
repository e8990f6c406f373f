//! `Json<T>`: a JSON body in, a JSON body out.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{media_type, FromRequest, Rejection, RejectionKind};
use crate::handler::IntoResponse;
use crate::request::Request;
use crate::response::Response;

/// As an extractor: the body parsed as JSON into `T`. The `Content-Type` must be
/// `application/json` or `application/<something>+json` (`415` otherwise); malformed
/// JSON is `400`; well-formed JSON that does not fit `T` (a missing field, a wrong
/// type) is `422`, with the line and column in the reason.
///
/// As a response: `T` serialized, `200` with `Content-Type: application/json` (`500`
/// if `T` cannot be serialized, e.g. a map with non-string keys).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

fn is_json(media: &str) -> bool {
    let Some((top, sub)) = media.split_once('/') else {
        return false;
    };
    top.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            || sub.len() > 5
                && sub
                    .get(sub.len() - 5..)
                    .is_some_and(|s| s.eq_ignore_ascii_case("+json")))
}

impl<S, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Rejection;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Rejection> {
        if !media_type(req).is_some_and(is_json) {
            return Err(Rejection::new(
                RejectionKind::UnsupportedMediaType,
                "expected Content-Type: application/json",
            ));
        }
        serde_json::from_slice(req.body()).map(Json).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => Rejection::with_reason(
                    RejectionKind::JsonDoesNotFit,
                    format!(
                        "JSON body does not fit the expected type (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
                ),
                Category::Syntax | Category::Eof | Category::Io => Rejection::with_reason(
                    RejectionKind::MalformedJson,
                    format!(
                        "malformed JSON body (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
                ),
            }
        })
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        Response::json(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Serialize, Debug, PartialEq)]
    struct User {
        id: u64,
        name: String,
    }

    fn post(ct: Option<&str>, body: &str) -> Request {
        let mut b = Request::builder().body(body);
        if let Some(ct) = ct {
            b = b.header("Content-Type", ct);
        }
        b.build()
    }

    #[test]
    fn parses_typed_body() {
        for ct in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            let r = post(Some(ct), r#"{"id":1,"name":"a"}"#);
            assert_eq!(
                Json::<User>::from_request(&r, &()).unwrap().0,
                User {
                    id: 1,
                    name: "a".into()
                },
                "{ct}"
            );
        }
    }

    #[test]
    fn rejections() {
        for ct in [
            None,
            Some("text/plain"),
            Some("application/jsonx"),
            Some("+json"),
        ] {
            let r = post(ct, r#"{"id":1,"name":"a"}"#);
            assert_eq!(
                Json::<User>::from_request(&r, &()).unwrap_err().status(),
                415
            );
        }
        let r = post(Some("application/json"), r#"{"id":1,"name":"<b>x"#);
        let e = Json::<User>::from_request(&r, &()).unwrap_err();
        assert_eq!(
            (e.status(), e.kind()),
            (400.try_into().unwrap(), RejectionKind::MalformedJson)
        );
        let r = post(Some("application/json"), r#"{"id":"<b>","name":"a"}"#);
        let e = Json::<User>::from_request(&r, &()).unwrap_err();
        assert_eq!(e.status(), 422);
        assert!(!e.reason().contains("<b>"), "{}", e.reason());
        assert!(e.reason().contains("line 1"), "{}", e.reason());
        let r = post(Some("application/json"), r#"{"id":1}"#);
        assert_eq!(
            Json::<User>::from_request(&r, &()).unwrap_err().status(),
            422
        );
        let r = post(Some("application/json"), "");
        assert_eq!(
            Json::<User>::from_request(&r, &()).unwrap_err().status(),
            400
        );
    }

    #[test]
    fn serializes_response() {
        let r = Json(User {
            id: 2,
            name: "b".into(),
        })
        .into_response();
        assert_eq!(r.status(), 200);
        assert_eq!(r.content_type().unwrap(), "application/json");
        assert_eq!(r.body_bytes().unwrap(), r#"{"id":2,"name":"b"}"#);
        let mut bad = std::collections::HashMap::new();
        bad.insert(vec![1u8], 1);
        assert_eq!(Json(bad).into_response().status(), 500);
    }
}
