//! `Query<T>` and `Form<T>`: urlencoded pairs into serde types.

use serde::de::DeserializeOwned;

use super::{content_type_is, FromRequest, Rejection, RejectionKind};
use crate::request::Request;

/// The query string deserialized into `T` (`application/x-www-form-urlencoded`
/// rules: `+` is a space, `%XX` escapes). A missing query is an empty one, so a `T`
/// whose fields are all `Option` or defaulted always succeeds. `400` when the query
/// does not fit `T`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<S, T: DeserializeOwned> FromRequest<S> for Query<T> {
    type Rejection = Rejection;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Rejection> {
        serde_urlencoded::from_str(req.query().unwrap_or(""))
            .map(Query)
            .map_err(|_| {
                Rejection::new(
                    RejectionKind::InvalidQuery,
                    "query string does not fit the expected fields",
                )
            })
    }
}

/// An `application/x-www-form-urlencoded` body deserialized into `T`. `415` for
/// another `Content-Type`, `422` when the body does not fit `T`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Form<T>(pub T);

impl<S, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = Rejection;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Rejection> {
        if !content_type_is(req, "application/x-www-form-urlencoded") {
            return Err(Rejection::new(
                RejectionKind::UnsupportedMediaType,
                "expected Content-Type: application/x-www-form-urlencoded",
            ));
        }
        serde_urlencoded::from_bytes(req.body())
            .map(Form)
            .map_err(|_| {
                Rejection::new(
                    RejectionKind::FormDoesNotFit,
                    "form body does not fit the expected fields",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Paging {
        page: Option<u32>,
        q: Option<String>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Login {
        user: String,
        age: u8,
    }

    #[test]
    fn query_success_and_rejection() {
        let r = Request::builder().uri("/s?page=2&q=a+b%21").build();
        assert_eq!(
            Query::<Paging>::from_request(&r, &()).unwrap().0,
            Paging {
                page: Some(2),
                q: Some("a b!".into())
            }
        );
        let r = Request::builder().uri("/s").build();
        assert_eq!(
            Query::<Paging>::from_request(&r, &()).unwrap().0,
            Paging {
                page: None,
                q: None
            }
        );
        let r = Request::builder().uri("/s?page=<script>").build();
        let e = Query::<Paging>::from_request(&r, &()).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(!e.reason().contains("script"));
    }

    #[test]
    fn form_success_and_rejections() {
        let ok = Request::builder()
            .header(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body("user=ann+lee&age=30")
            .build();
        assert_eq!(
            Form::<Login>::from_request(&ok, &()).unwrap().0,
            Login {
                user: "ann lee".into(),
                age: 30
            }
        );
        let wrong_type = Request::builder()
            .header("Content-Type", "text/plain")
            .body("user=a&age=1")
            .build();
        assert_eq!(
            Form::<Login>::from_request(&wrong_type, &())
                .unwrap_err()
                .status(),
            415
        );
        let missing = Request::builder().body("user=a&age=1").build();
        assert_eq!(
            Form::<Login>::from_request(&missing, &())
                .unwrap_err()
                .status(),
            415
        );
        let bad = Request::builder()
            .header("content-type", "application/x-www-form-urlencoded")
            .body("user=a&age=300")
            .build();
        let e = Form::<Login>::from_request(&bad, &()).unwrap_err();
        assert_eq!(e.status(), 422);
        assert_eq!(e.kind(), RejectionKind::FormDoesNotFit);
    }
}
