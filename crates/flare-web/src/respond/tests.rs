use super::*;
use crate::extract::SameSite;
use crate::Json;
use bytes::Bytes;

fn body(r: &Response) -> Bytes {
    r.body_bytes().unwrap()
}

#[test]
fn plain_values() {
    let r = "hi".into_response();
    assert_eq!((r.status().as_u16(), body(&r)), (200, Bytes::from("hi")));
    assert_eq!(r.content_type().unwrap(), "text/plain; charset=utf-8");
    let r = String::from("s").into_response();
    assert_eq!(body(&r), "s");
    let r = vec![1u8, 2].into_response();
    assert_eq!(r.content_type().unwrap(), "application/octet-stream");
    assert_eq!(body(&r), &[1u8, 2][..]);
    let r = Bytes::from_static(b"b").into_response();
    assert_eq!(body(&r), "b");
    let r = ().into_response();
    assert_eq!((r.status().as_u16(), r.body().len_hint()), (200, Some(0)));
    assert_eq!(StatusCode::ACCEPTED.into_response().status(), 202);
    let r = Html("<p>x</p>").into_response();
    assert_eq!(r.content_type().unwrap(), "text/html; charset=utf-8");
    assert_eq!(body(&r), "<p>x</p>");
    let r = Html(String::from("<b>")).into_response();
    assert_eq!(body(&r), "<b>");
    let r = Json(serde_json::json!({"a": [1]})).into_response();
    assert_eq!(body(&r), r#"{"a":[1]}"#);
    let r = Body::from_chunks(std::iter::once(Bytes::from("c"))).into_response();
    assert!(r.body().is_stream());
    let ok: Result<&'static str, StatusCode> = Ok("fine");
    assert_eq!(ok.into_response().status(), 200);
    let err: Result<&'static str, (StatusCode, &'static str)> = Err((StatusCode::CONFLICT, "no"));
    let r = err.into_response();
    assert_eq!((r.status().as_u16(), body(&r)), (409, Bytes::from("no")));
}

#[test]
fn redirects() {
    let r = Redirect::to("/next").into_response();
    assert_eq!(r.status(), 303);
    assert_eq!(r.header("location").unwrap(), "/next");
    assert_eq!(Redirect::see_other("/").status(), 303);
    assert_eq!(Redirect::temporary("/t").into_response().status(), 307);
    assert_eq!(Redirect::permanent("/p").into_response().status(), 308);
    let r = Redirect::to("/a b\r\nSet-Cookie: x=1/é");
    assert_eq!(r.location(), "/a%20b%0D%0ASet-Cookie:%20x=1/%C3%A9");
}

#[test]
fn parts_tuples() {
    let xa = HeaderName::from_static("x-a");
    let r = ([(xa.clone(), HeaderValue::from_static("1"))], "body").into_response();
    assert_eq!(r.header("x-a").unwrap(), "1");
    assert_eq!(body(&r), "body");
    let r = (
        StatusCode::CREATED,
        [
            (xa.clone(), HeaderValue::from_static("1")),
            (
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv"),
            ),
        ],
        "a,b",
    )
        .into_response();
    assert_eq!(r.status(), 201);
    assert_eq!(r.content_type().unwrap(), "text/csv");
    let mut map = HeaderMap::new();
    map.append(xa.clone(), HeaderValue::from_static("1"));
    map.append(xa.clone(), HeaderValue::from_static("2"));
    map.append(
        HeaderName::from_static("x-b"),
        HeaderValue::from_static("3"),
    );
    let r = (StatusCode::ACCEPTED, map, ()).into_response();
    assert_eq!(r.status(), 202);
    let xs: Vec<_> = r
        .headers()
        .iter()
        .map(|(n, v)| format!("{n}={}", v.to_str().unwrap()))
        .collect();
    assert_eq!(xs, ["x-a=1", "x-a=2", "x-b=3"]);
    let r = (
        vec![(xa.clone(), HeaderValue::from_static("v"))],
        Cookie::new("s", "1").http_only(true),
        "x",
    )
        .into_response();
    assert_eq!(r.header("x-a").unwrap(), "v");
    assert_eq!(r.header("set-cookie").unwrap(), "s=1; HttpOnly");
    let r = (
        StatusCode::OK,
        vec![
            Cookie::new("a", "1"),
            Cookie::new("b", "2").same_site(SameSite::Lax),
        ],
        [(xa, HeaderValue::from_static("1"))],
        "x",
    )
        .into_response();
    let cookies: Vec<_> = r
        .headers()
        .iter()
        .filter(|(n, _)| n == http::header::SET_COOKIE)
        .map(|(_, v)| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2; SameSite=Lax"]);
    let r = Response::text("x").with_cookie(Cookie::removal("a"));
    assert_eq!(r.header("set-cookie").unwrap(), "a=; Max-Age=0");
}
