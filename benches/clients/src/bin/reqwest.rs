//! `client-reqwest`: the load loop on one `reqwest::blocking::Client` shared by
//! every thread (HTTP/1.1 keep-alive; HTTP/2 by ALPN over rustls with `--h2`).

use clients::{fail, options, read_ca, run, Answer};

fn main() {
    let o = options();
    let mut b = reqwest::blocking::Client::builder().use_rustls_tls();
    if let Some(ca) = &o.ca {
        let cert = reqwest::Certificate::from_pem(&read_ca(ca))
            .unwrap_or_else(|e| fail(&format!("--ca: {e}")));
        b = b.add_root_certificate(cert);
    }
    if !o.h2 {
        b = b.http1_only();
    }
    let client = b
        .build()
        .unwrap_or_else(|e| fail(&format!("building the client: {e}")));
    run("reqwest", &o, |url| {
        let resp = client.get(url).send().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let version = match resp.version() {
            reqwest::Version::HTTP_2 => "HTTP/2",
            reqwest::Version::HTTP_11 => "HTTP/1.1",
            _ => "other",
        };
        let body = resp.bytes().map_err(|e| e.to_string())?.to_vec();
        Ok(Answer {
            status,
            version,
            body,
        })
    });
}
