//! The integrity gate: before anything is measured, every server must answer
//! `GET /plaintext` and `GET /json` over HTTP/2, on h2c (prior knowledge) and
//! over TLS (ALPN `h2`), with 200, the right media type and the exact body.
//! curl is the client (built with nghttp2): over TLS it reports HTTP version 2
//! only when ALPN chose `h2`.

use std::process::Command;

use super::servers::{H2Server, JSON_BODY};
use crate::bench::server::BODY;
use crate::error::Result;
use crate::util;

/// The routes checked: path, body, media type (prefix: flare adds a charset).
pub(super) const ROUTES: [(&str, &str, &str); 2] = [
    ("/plaintext", BODY, "text/plain"),
    ("/json", JSON_BODY, "application/json"),
];

/// What curl's `--write-out` is asked for, after the body.
const WRITE_OUT: &str = "\n%{http_code} %{http_version} %{content_type}";

/// curl's arguments for one check.
pub(super) fn curl_args(tls: bool, port: u16, path: &str) -> Vec<String> {
    let mut a: Vec<String> = ["-sS", "--max-time", "5", "-w", WRITE_OUT]
        .into_iter()
        .map(String::from)
        .collect();
    let scheme = if tls {
        a.extend(["--http2".into(), "-k".into()]);
        "https"
    } else {
        a.push("--http2-prior-knowledge".into());
        "http"
    };
    a.push(format!("{scheme}://127.0.0.1:{port}{path}"));
    a
}

/// The check as a shell line for the report, ports spelled `PORT`/`TLS_PORT`.
pub(super) fn shown(tls: bool) -> String {
    let url = if tls {
        "--http2 -k https://127.0.0.1:TLS_PORT/PATH"
    } else {
        "--http2-prior-knowledge http://127.0.0.1:PORT/PATH"
    };
    format!(
        "curl -sS --max-time 5 -w '{}' {url}",
        WRITE_OUT.replace('\n', "\\n")
    )
}

/// Checks curl's output (body, then the `--write-out` line) against the route.
fn judge(out: &str, body: &str, media: &str) -> std::result::Result<(), String> {
    let (got, meta) = out.rsplit_once('\n').unwrap_or(("", out));
    let mut m = meta.split(' ');
    let (code, version, ctype) = (m.next(), m.next(), m.next().unwrap_or(""));
    if code != Some("200") {
        return Err(format!("status {code:?}, want 200"));
    }
    if version != Some("2") {
        return Err(format!("HTTP version {version:?}, want 2 (h2)"));
    }
    if !ctype.starts_with(media) {
        return Err(format!("content-type `{ctype}`, want {media}"));
    }
    if got != body {
        return Err(format!("body {got:?}, want {body:?}"));
    }
    Ok(())
}

/// Both routes on both ports of `server`; the first failure is an error.
pub(super) fn check(server: &H2Server) -> Result<()> {
    for tls in [false, true] {
        for (path, body, media) in ROUTES {
            let port = server.port(tls);
            let args = curl_args(tls, port, path);
            let out = util::output(Command::new("curl").args(&args))
                .map_err(|e| server.fail(format!("curl {}: {e}", args.join(" "))))?;
            judge(&out, body, media).map_err(|detail| {
                let how = if tls { "h2 over TLS" } else { "h2c" };
                server.fail(format!("GET {path} over {how} (port {port}): {detail}"))
            })?;
        }
    }
    println!(
        "    {}: /plaintext and /json answer 200 with the right body on h2c and on TLS (ALPN h2)",
        server.name()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_is_asked_for_h2_both_ways() {
        let a = curl_args(false, 80, "/json").join(" ");
        assert!(
            a.ends_with("--http2-prior-knowledge http://127.0.0.1:80/json"),
            "{a}"
        );
        let a = curl_args(true, 443, "/plaintext").join(" ");
        assert!(
            a.ends_with("--http2 -k https://127.0.0.1:443/plaintext"),
            "{a}"
        );
        assert_eq!(
            shown(true),
            "curl -sS --max-time 5 -w '\\n%{http_code} %{http_version} %{content_type}' \
             --http2 -k https://127.0.0.1:TLS_PORT/PATH"
        );
    }

    #[test]
    fn answers_are_judged() {
        let ok = "Hello, World!\n200 2 text/plain; charset=utf-8";
        assert!(judge(ok, BODY, "text/plain").is_ok());
        let h1 = "Hello, World!\n200 1.1 text/plain";
        assert!(judge(h1, BODY, "text/plain")
            .unwrap_err()
            .contains("version"));
        let wrong = "Hello\n200 2 text/plain";
        assert!(judge(wrong, BODY, "text/plain")
            .unwrap_err()
            .contains("body"));
        let typed = "{}\n200 2 text/html";
        assert!(judge(typed, "{}", "application/json").is_err());
        assert!(judge("\n404 2 text/plain", "", "text/plain").is_err());
    }
}
