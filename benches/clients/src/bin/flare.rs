//! `client-flare`: the load loop on `flare::client::Client`, one client shared
//! by every thread (HTTP/1.1 keep-alive pool; HTTP/2 by ALPN over TLS).

use clients::{fail, options, read_ca, run, Answer};
use flare::client::Client;

fn main() {
    let o = options();
    let mut b = Client::builder().pool_max_idle_per_host(64);
    if let Some(ca) = &o.ca {
        b = b.add_root_certificate_pem(&read_ca(ca));
    }
    if !o.h2 {
        b = b.http1_only();
    }
    let client = b
        .build()
        .unwrap_or_else(|e| fail(&format!("building the client: {e}")));
    run("flare", &o, |url| {
        let resp = client.get(url).send().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let version = match resp.version() {
            http::Version::HTTP_2 => "HTTP/2",
            http::Version::HTTP_11 => "HTTP/1.1",
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
