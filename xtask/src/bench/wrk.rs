//! Reading wrk's report (`wrk --latency`).

use crate::error::{Error, Result};

/// What one wrk run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkReport {
    /// Completed requests (`N requests in`).
    pub requests: u64,
    /// `Requests/sec`.
    pub rps: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
    /// Sum of connect, read, write and timeout socket errors.
    pub socket_errors: u64,
    /// `Non-2xx or 3xx responses`.
    pub non_2xx: u64,
}

/// Parses the text wrk prints with `--latency`.
pub fn parse(text: &str) -> Result<WrkReport> {
    let err = |detail: &str| Error::Parse {
        what: "wrk output".into(),
        detail: detail.into(),
    };
    let mut requests = None;
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut socket_errors = 0;
    let mut non_2xx = 0;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = v.trim().parse::<f64>().ok();
        } else if let Some((n, _)) = line.split_once(" requests in ") {
            requests = n.trim().parse::<u64>().ok();
        } else if let Some(v) = line.strip_prefix("50%") {
            p50 = duration_us(v.trim());
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = duration_us(v.trim());
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in v.split(',') {
                let n = part
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok());
                socket_errors += n.ok_or_else(|| err(line))?;
            }
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx = v.trim().parse().map_err(|_| err(line))?;
        }
    }
    Ok(WrkReport {
        requests: requests.ok_or_else(|| err("no `N requests in` line"))?,
        rps: rps.ok_or_else(|| err("no `Requests/sec:` line"))?,
        p50_us: p50.ok_or_else(|| err("no 50% latency line (was --latency given?)"))?,
        p99_us: p99.ok_or_else(|| err("no 99% latency line (was --latency given?)"))?,
        socket_errors,
        non_2xx,
    })
}

/// `620.53us`, `1.20ms`, `2.00s`, `1.50m` -> microseconds.
fn duration_us(v: &str) -> Option<f64> {
    let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = v.split_at(split);
    let num: f64 = num.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(num * scale)
}

/// A run with wrong answers is not a measurement: no completed request or any
/// non-2xx response is an error; socket errors are reported but tolerated (a
/// closing server can reset a few).
pub fn checked(server: &str, w: WrkReport) -> Result<WrkReport> {
    if w.requests == 0 {
        return Err(Error::Server {
            name: server.into(),
            detail: "wrk completed no requests".into(),
        });
    }
    if w.non_2xx > 0 {
        return Err(Error::Server {
            name: server.into(),
            detail: format!("{} non-2xx responses", w.non_2xx),
        });
    }
    if w.socket_errors > 0 {
        println!(
            "    warning: {} socket errors against {server}",
            w.socket_errors
        );
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from wrk 4.1.0 against nginx on loopback.
    const NGINX: &str = "\
Running 2s test @ http://127.0.0.1:18089/plaintext
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   289.07us  259.41us   5.13ms   95.80%
    Req/Sec   167.28k    20.94k  185.91k    80.00%
  Latency Distribution
     50%  209.00us
     75%  333.00us
     90%  459.00us
     99%    1.38ms
  332395 requests in 2.00s, 51.04MB read
Requests/sec: 166062.99
Transfer/sec:     25.50MB
";

    #[test]
    fn parses_a_clean_run() {
        let r = parse(NGINX).expect("parses");
        assert_eq!(r.requests, 332_395);
        assert!((r.rps - 166_062.99).abs() < 1e-6);
        assert!((r.p50_us - 209.0).abs() < 1e-9);
        assert!((r.p99_us - 1380.0).abs() < 1e-6);
        assert_eq!((r.socket_errors, r.non_2xx), (0, 0));
    }

    #[test]
    fn counts_errors_and_bad_statuses() {
        let text = NGINX.replace(
            "Requests/sec:",
            "  Socket errors: connect 1, read 2, write 3, timeout 4\n  Non-2xx or 3xx responses: 17\nRequests/sec:",
        );
        let r = parse(&text).expect("parses");
        assert_eq!((r.socket_errors, r.non_2xx), (10, 17));
    }

    #[test]
    fn missing_latency_distribution_is_an_error() {
        let text: String = NGINX
            .lines()
            .filter(|l| !l.contains('%') || l.contains("Stdev"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(parse(&text).is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(duration_us("12us"), Some(12.0));
        assert_eq!(duration_us("1.5ms"), Some(1500.0));
        assert_eq!(duration_us("2.00s"), Some(2e6));
        assert_eq!(duration_us("1.00m"), Some(60e6));
        assert_eq!(duration_us("3ns"), None);
        assert_eq!(duration_us("ms"), None);
    }
}
