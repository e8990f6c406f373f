//! Syscall counts of a running server: `strace -c -f -p PID...` attached
//! for the length of one load run, then interrupted for its summary.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::signal;
use crate::error::{Error, Result};

/// Calls per syscall name, most frequent first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyscallCounts {
    /// `(name, calls)`, sorted by calls descending, then name.
    pub by_name: Vec<(String, u64)>,
    /// All calls (strace's `total` line).
    pub total: u64,
}

/// Parses strace's `-c` table:
///
/// ```text
/// % time     seconds  usecs/call     calls    errors syscall
/// ------ ----------- ----------- --------- --------- ----------------
///  77.47    0.449885           6     69486           writev
///  18.86    0.109520           1     69551        48 recvfrom
/// ------ ----------- ----------- --------- --------- ----------------
/// 100.00    0.580721           4    140446        48 total
/// ```
pub fn parse_summary(text: &str) -> Result<SyscallCounts> {
    let err = |detail: String| Error::Parse {
        what: "strace -c summary".into(),
        detail,
    };
    let mut counts = SyscallCounts::default();
    let mut saw_total = false;
    let mut in_table = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("% time") {
            in_table = true;
            continue;
        }
        if !in_table || trimmed.is_empty() || trimmed.starts_with("---") {
            continue;
        }
        let cols: Vec<&str> = trimmed.split_whitespace().collect();
        // pct, seconds, usecs/call, calls, [errors,] name
        let (Some(name), Some(calls)) = (cols.last(), cols.get(3)) else {
            return Err(err(format!("short row `{trimmed}`")));
        };
        let calls: u64 = calls
            .parse()
            .map_err(|_| err(format!("bad calls in `{trimmed}`")))?;
        if *name == "total" {
            counts.total = calls;
            saw_total = true;
        } else {
            counts.by_name.push((name.to_string(), calls));
        }
    }
    if !saw_total {
        return Err(err("no `total` row".into()));
    }
    counts
        .by_name
        .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(counts)
}

/// strace attached to a server's processes.
pub struct Tracer {
    child: Child,
    summary: PathBuf,
}

/// Attaches `strace -c -f` (pinned like the server) to every pid and waits
/// until strace reports each one attached.
pub fn attach(pids: &[u32], cpu: Option<&str>, summary: &Path) -> Result<Tracer> {
    let mut cmd = match cpu {
        Some(c) => {
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", c, "strace"]);
            cmd
        }
        None => Command::new("strace"),
    };
    cmd.args(["-c", "-f", "-o"]).arg(summary);
    for pid in pids {
        cmd.arg("-p").arg(pid.to_string());
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        program: "strace".into(),
        source,
    })?;
    let stderr = child.stderr.take();
    let (tx, rx) = mpsc::channel::<String>();
    // Drains strace's stderr for its whole life so it never blocks on it.
    thread::spawn(move || {
        let Some(stderr) = stderr else { return };
        for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut attached = 0;
    let mut seen = Vec::new();
    while attached < pids.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if line.contains(" attached") {
                    attached += 1;
                }
                seen.push(line);
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Server {
                    name: "strace".into(),
                    detail: format!(
                        "attached to {attached} of {} pids: {}",
                        pids.len(),
                        seen.join(" | ")
                    ),
                });
            }
        }
    }
    Ok(Tracer {
        child,
        summary: summary.to_path_buf(),
    })
}

impl Tracer {
    /// Interrupts strace (it detaches and writes its summary) and reads it.
    pub fn finish(mut self) -> Result<SyscallCounts> {
        signal(&[self.child.id()], "INT");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err(Error::Server {
                        name: "strace".into(),
                        detail: "did not exit on SIGINT".into(),
                    });
                }
            }
        }
        let text = std::fs::read_to_string(&self.summary)
            .map_err(|e| Error::io(self.summary.display().to_string(), e))?;
        parse_summary(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // strace 6.1 against an nginx master and worker.
    const NGINX: &str = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 77.47    0.449885           6     69486           writev
 18.86    0.109520           1     69551        48 recvfrom
  3.60    0.020877          18      1150           epoll_wait
  0.04    0.000211           3        65           accept4
  0.02    0.000116           1        65           epoll_ctl
  0.01    0.000081           1        64           setsockopt
  0.01    0.000031           0        65           close
------ ----------- ----------- --------- --------- ----------------
100.00    0.580721           4    140446        48 total
";

    #[test]
    fn parses_rows_with_and_without_errors() {
        let c = parse_summary(NGINX).expect("parses");
        assert_eq!(c.total, 140_446);
        assert_eq!(c.by_name.len(), 7);
        assert_eq!(c.by_name[0], ("recvfrom".to_string(), 69_551));
        assert_eq!(c.by_name[1], ("writev".to_string(), 69_486));
        // Ties sort by name.
        assert_eq!(c.by_name[3].0, "accept4");
        assert_eq!(c.by_name.iter().map(|(_, n)| n).sum::<u64>(), c.total);
    }

    // strace 6.1 against flare's example server with `--io-uring` (2 s of wrk,
    // 210,777 requests): the ring's io_uring_enter is a syscall like any other.
    const FLARE_URING: &str = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 99.84    0.960900          47     20321           io_uring_enter
  0.06    0.000536           8        65           close
  0.05    0.000526           2       190           mprotect
  0.03    0.000316           4        67         2 accept4
  0.01    0.000120           1        65           setsockopt
  0.00    0.000008           4         2           epoll_pwait
------ ----------- ----------- --------- --------- ----------------
100.00    0.962406          46     20710         2 total
";

    #[test]
    fn counts_io_uring_enter() {
        let c = parse_summary(FLARE_URING).expect("parses");
        assert_eq!(c.total, 20_710);
        assert_eq!(c.by_name[0], ("io_uring_enter".to_string(), 20_321));
        assert_eq!(c.by_name.iter().map(|(_, n)| n).sum::<u64>(), c.total);
    }

    #[test]
    fn truncated_summary_is_an_error() {
        let cut: String = NGINX.lines().take(5).collect::<Vec<_>>().join("\n");
        assert!(parse_summary(&cut).is_err());
        assert!(parse_summary("").is_err());
        assert!(parse_summary("% time x\n 1.0 0.1 1 notanumber writev\n").is_err());
    }
}
