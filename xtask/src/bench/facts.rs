//! Facts about the machine and the tools, recorded with every result.

use std::fs;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::util;

/// Short commit hash, with `-dirty` when tracked files have changes.
pub fn commit() -> String {
    let git = |args: &[&str]| {
        util::output(
            Command::new("git")
                .args(args)
                .current_dir(util::workspace_root()),
        )
    };
    let sha = git(&["rev-parse", "--short", "HEAD"])
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .map(|s| !s.trim().is_empty())
        .unwrap_or(false);
    if dirty {
        format!("{sha}-dirty")
    } else {
        sha
    }
}

/// `/proc/cpuinfo`'s first model name.
pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// `uname -r`.
pub fn kernel() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Online CPUs available to us.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The version a `-v` prints (nginx and wrk print on stderr; wrk exits 1).
pub fn version(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .and_then(|o| {
            let out = String::from_utf8_lossy(&o.stdout).into_owned();
            let err = String::from_utf8_lossy(&o.stderr);
            version_token(&(out + &err)).map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The first word of the first line that holds a digit:
/// `nginx version: nginx/1.22.1` -> `nginx/1.22.1`.
fn version_token(text: &str) -> Option<&str> {
    text.lines()
        .next()?
        .split_whitespace()
        .find(|w| w.chars().any(|c| c.is_ascii_digit()))
}

/// Now as `(YYYY-MM-DD, HH:MM)` in UTC.
pub fn utc_now() -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let day_secs = secs % 86_400;
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}", day_secs / 3600, day_secs % 3600 / 60),
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_tokens() {
        assert_eq!(
            version_token("nginx version: nginx/1.22.1\n"),
            Some("nginx/1.22.1")
        );
        assert_eq!(
            version_token("wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer\nUsage"),
            Some("debian/4.1.0-3+b2")
        );
        assert_eq!(version_token("no digits"), None);
        assert_eq!(version_token(""), None);
    }

    #[test]
    fn machine_facts_are_read() {
        assert_ne!(kernel(), "unknown");
        assert_ne!(cpu_model(), "");
        // A short hash, maybe marked dirty; "unknown" only outside git.
        let c = commit();
        let sha = c.trim_end_matches("-dirty");
        assert!(
            c == "unknown" || (sha.len() >= 7 && sha.chars().all(|ch| ch.is_ascii_hexdigit())),
            "{c}"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
