//! A redirect followed on the I/O thread, as the blocking client follows it.

use http::{header, HeaderValue};

use super::super::super::error::{Error, ProtocolError};
use super::super::super::redirect;
use super::super::super::url::Scheme;
use super::super::check_supported;
use super::super::exchange::Finished;
use super::{Call, IoConfig};

/// Follows a redirect as the blocking client does: `Ok(true)` when the call now
/// names the next request.
pub(super) fn follow_redirect(
    call: &mut Call,
    fin: &Finished,
    config: &IoConfig,
) -> Result<bool, Error> {
    if !redirect::is_redirect(fin.status) {
        return Ok(false);
    }
    let Some(limit) = config.redirect.limit() else {
        return Ok(false);
    };
    let Some(location) = fin
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(false);
    };
    let url = &call.req.url;
    let bad = || Error::protocol(&call.req.url_text, ProtocolError::BadRedirect);
    let next = url.join(location).map_err(|_| bad())?;
    if !matches!(next.scheme_kind(), Scheme::Http | Scheme::Https) {
        return Err(bad());
    }
    if !config.redirect.allows(url, &next) {
        return Ok(false);
    }
    let (method, keep_body) = redirect::next_method(fin.status, &call.req.method);
    let next_text = next.to_string();
    if call.redirects >= limit {
        return Err(Error::TooManyRedirects {
            url: next_text,
            limit,
        });
    }
    check_supported(&next, &next_text)?;
    call.redirects += 1;
    let cross_origin = url.origin() != next.origin();
    redirect::strip(&mut call.req.headers, keep_body, cross_origin);
    if !call.req.user_host {
        if let Ok(v) = HeaderValue::from_str(&next.authority()) {
            call.req.headers.insert(header::HOST, v);
        }
    }
    // The caller's own `Cookie` goes to the first origin only (strip removed it
    // across origins); the jar's are chosen for the new URL, as the blocking
    // client does.
    call.req.user_cookie &= !cross_origin;
    if !call.req.user_cookie {
        call.req.headers.remove(header::COOKIE);
        if let Some(v) = config.cookies.as_ref().and_then(|j| j.header_value(&next)) {
            call.req.headers.insert(header::COOKIE, v);
        }
    }
    if !keep_body {
        call.req.body = bytes::Bytes::new();
    }
    call.req.method = method;
    call.req.url = next;
    call.req.url_text = next_text;
    call.retried = false;
    Ok(true)
}
