//! `client-ureq`: the load loop on one `ureq::Agent` shared by every thread
//! (HTTP/1.1 only; ureq has no HTTP/2).

use clients::{fail, options, run, Answer};

fn main() {
    let o = options();
    if o.h2 || o.ca.is_some() {
        fail("ureq has no HTTP/2; this driver runs plain HTTP/1.1 only");
    }
    // The default keeps 3 idle connections per host; 16 threads need 16.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_connections_per_host(64)
        .max_idle_connections(256)
        .http_status_as_error(false)
        .build()
        .into();
    run("ureq", &o, |url| {
        let mut resp = agent.get(url).call().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let version = match resp.version() {
            ureq::http::Version::HTTP_11 => "HTTP/1.1",
            ureq::http::Version::HTTP_2 => "HTTP/2",
            _ => "other",
        };
        let body = resp.body_mut().read_to_vec().map_err(|e| e.to_string())?;
        Ok(Answer {
            status,
            version,
            body,
        })
    });
}
