//! Server CPU time from `/proc/<pid>/stat`, summed over a process tree.
//!
//! A process's stat line already sums all its threads; a multi-process
//! server (nginx: master plus workers) needs its descendants added.

use std::collections::HashMap;
use std::fs;
use std::process::Command;

use crate::error::{Error, Result};

/// User and system CPU time in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    /// utime (field 14).
    pub user: u64,
    /// stime (field 15).
    pub system: u64,
}

impl CpuTicks {
    /// `self - earlier`, saturating (a vanished child makes a sum shrink).
    pub fn since(self, earlier: CpuTicks) -> CpuTicks {
        CpuTicks {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }

    /// Sum of two readings.
    pub fn plus(self, other: CpuTicks) -> CpuTicks {
        CpuTicks {
            user: self.user + other.user,
            system: self.system + other.system,
        }
    }
}

/// The fields of a stat line we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    ppid: u32,
    cpu: CpuTicks,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses
/// and may itself hold spaces and parentheses, so fields are counted from
/// the last `)`.
fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state), so field N is fields[N - 3].
    Some(Stat {
        ppid: fields.get(1)?.parse().ok()?,
        cpu: CpuTicks {
            user: fields.get(11)?.parse().ok()?,
            system: fields.get(12)?.parse().ok()?,
        },
    })
}

fn all_processes() -> HashMap<u32, Stat> {
    let mut out = HashMap::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes come and go while we scan; a vanished one is skipped.
        if let Some(stat) = fs::read_to_string(entry.path().join("stat"))
            .ok()
            .as_deref()
            .and_then(parse_stat)
        {
            out.insert(pid, stat);
        }
    }
    out
}

/// `root` and all its descendants, root first.
pub fn tree_pids(root: u32) -> Vec<u32> {
    descendants(root, &all_processes())
}

fn descendants(root: u32, procs: &HashMap<u32, Stat>) -> Vec<u32> {
    let mut pids = vec![root];
    let mut i = 0;
    while let Some(&parent) = pids.get(i) {
        let mut children: Vec<u32> = procs
            .iter()
            .filter(|(_, s)| s.ppid == parent)
            .map(|(&pid, _)| pid)
            .collect();
        children.sort_unstable();
        pids.extend(children);
        i += 1;
    }
    pids
}

/// CPU time of `root` and all its descendants (threads included).
pub fn tree_cpu(root: u32) -> Result<CpuTicks> {
    let procs = all_processes();
    let stat = procs.get(&root).ok_or_else(|| Error::Server {
        name: format!("pid {root}"),
        detail: "process vanished from /proc".into(),
    })?;
    let mut total = stat.cpu;
    for pid in descendants(root, &procs).into_iter().skip(1) {
        if let Some(s) = procs.get(&pid) {
            total = total.plus(s.cpu);
        }
    }
    Ok(total)
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 when that fails).
pub fn clock_ticks_per_sec() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// This process's own CPU ticks plus its reaped children's (utime, stime, cutime,
/// cstime), to leave the bench's own work out of "other processes".
pub fn self_and_children() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    // rest's first field is field 3, so fields 14..=17 are 11..=14.
    rest.split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum()
}

/// Busy ticks of the whole machine: the `cpu` line of `/proc/stat`, all fields
/// but idle and iowait (USER_HZ, as `/proc/PID/stat`). Its growth during a run,
/// less the server's and [`self_and_children`]'s, is what other processes used.
pub fn machine_busy() -> u64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    line.split_whitespace()
        .skip(1)
        .enumerate()
        .filter(|&(i, _)| i != 3 && i != 4)
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_paren() {
        // From nginx's worker, then the same with a hostile comm.
        let line =
            "9670 (nginx) S 9668 9663 4003 0 -1 4194624 234 0 2 0 69 223 0 0 20 0 1 0 1300547";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 9668,
                cpu: CpuTicks {
                    user: 69,
                    system: 223
                }
            })
        );
        let odd = line.replace("(nginx)", "(a) b (c)");
        assert_eq!(parse_stat(&odd), parse_stat(line));
        assert_eq!(parse_stat("12 (x) S 1 2"), None);
        assert_eq!(parse_stat("no parens"), None);
    }

    #[test]
    fn descendants_walk_the_whole_tree() {
        let cpu = CpuTicks::default();
        let procs: HashMap<u32, Stat> = [(10, 1), (11, 10), (12, 10), (13, 11), (20, 1)]
            .into_iter()
            .map(|(pid, ppid)| (pid, Stat { ppid, cpu }))
            .collect();
        assert_eq!(descendants(10, &procs), [10, 11, 12, 13]);
        assert_eq!(descendants(20, &procs), [20]);
    }

    #[test]
    fn our_own_cpu_time_is_readable_and_grows() {
        let me = std::process::id();
        let before = tree_cpu(me).expect("own stat");
        // Burn CPU until the reading moves; bounded so a broken reader fails.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut x = 0u64;
        let mut after = before;
        while after == before && std::time::Instant::now() < deadline {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            after = tree_cpu(me).expect("own stat");
        }
        let d = after.since(before);
        assert!(d.user + d.system > 0, "{before:?} -> {after:?}");
        assert!(clock_ticks_per_sec() >= 100);
    }
}
