// The TechEmpower plaintext and JSON routes as a hyper service function, as
// the HTTP/1.1 peers answer them; the JSON body is serialized per request.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, SERVER};
use hyper::{Request, Response, StatusCode};

pub async fn serve(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, ctype, body) = match req.uri().path() {
        "/plaintext" => (
            StatusCode::OK,
            "text/plain",
            Bytes::from_static(peer_common::PLAINTEXT),
        ),
        "/json" => (
            StatusCode::OK,
            "application/json",
            Bytes::from(serde_json::to_vec(&peer_common::MESSAGE).unwrap_or_default()),
        ),
        _ => (StatusCode::NOT_FOUND, "text/plain", Bytes::new()),
    };
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(SERVER, HeaderValue::from_static("hyper"));
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    Ok(res)
}
