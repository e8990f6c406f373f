//! From runs to figures: per target and config, the median and sigma over
//! rounds of req/s, server CPU per request (user, system, total) and
//! latency percentiles; and where flare stands against the best peer.

use super::load::{Config, Measured};
use super::targets::Target;
use crate::bench::procfs::CpuTicks;

/// One client run against one target.
#[derive(Debug, Clone)]
pub struct Run {
    /// Who was measured.
    pub target: Target,
    /// Load shape.
    pub config: Config,
    /// 1-based round.
    pub round: u32,
    /// What the client measured.
    pub measured: Measured,
    /// Server CPU time during the run (whole process tree).
    pub cpu: CpuTicks,
    /// Raw client output, relative to the results folder.
    pub raw: String,
}

impl Run {
    /// Server (user, system) CPU microseconds per completed request.
    pub fn cpu_us(&self, clk_tck: u64) -> (f64, f64) {
        let per = 1e6 / clk_tck.max(1) as f64 / self.measured.requests.max(1) as f64;
        (self.cpu.user as f64 * per, self.cpu.system as f64 * per)
    }
}

/// Median and sample standard deviation of one figure over rounds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// Sample standard deviation (0 with one round).
    pub sigma: f64,
}

impl Spread {
    /// Of `values`; zero when empty.
    pub fn of(values: &[f64]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        };
        let sigma = if v.len() < 2 {
            0.0
        } else {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
            var.sqrt()
        };
        Spread { median, sigma }
    }
}

/// The figures of one target under one config.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Who.
    pub target: Target,
    /// Which load.
    pub config: Config,
    /// Rounds summarised.
    pub rounds: usize,
    /// Requests per second.
    pub rps: Spread,
    /// Server CPU microseconds per request, user + system.
    pub cpu_us: Spread,
    /// User part.
    pub user_us: Spread,
    /// System part.
    pub sys_us: Spread,
    /// Latency percentiles, microseconds.
    pub p50_us: Spread,
    /// 99th.
    pub p99_us: Spread,
    /// 99.9th.
    pub p999_us: Spread,
    /// Socket errors over all rounds.
    pub errors: u64,
}

/// One summary per (config, target) that has runs, in config then target
/// order.
pub fn summarize(runs: &[Run], clk_tck: u64) -> Vec<Summary> {
    let mut out = Vec::new();
    for config in Config::ALL {
        for target in Target::ALL {
            let mine: Vec<&Run> = runs
                .iter()
                .filter(|r| r.target == target && r.config == config)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let of = |f: &dyn Fn(&Run) -> f64| {
                Spread::of(&mine.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            out.push(Summary {
                target,
                config,
                rounds: mine.len(),
                rps: of(&|r| r.measured.rps),
                cpu_us: of(&|r| {
                    let (u, s) = r.cpu_us(clk_tck);
                    u + s
                }),
                user_us: of(&|r| r.cpu_us(clk_tck).0),
                sys_us: of(&|r| r.cpu_us(clk_tck).1),
                p50_us: of(&|r| r.measured.p50_us),
                p99_us: of(&|r| r.measured.p99_us),
                p999_us: of(&|r| r.measured.p999_us),
                errors: mine.iter().map(|r| r.measured.errors).sum(),
            });
        }
    }
    out
}

/// flare (one of its targets) against the peers under one config.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    /// Which flare: `Flare` (epoll) or `FlareUring`.
    pub target: Target,
    /// Which load.
    pub config: Config,
    /// flare's CPU per request over the lowest peer's (< 1 is ahead).
    pub cpu_vs_best: f64,
    /// The peer with the lowest CPU per request.
    pub best_cpu_peer: Target,
    /// flare's user CPU per request over the lowest peer user figure.
    pub user_vs_best: f64,
    /// The peer with the lowest user CPU per request.
    pub best_user_peer: Target,
    /// flare's req/s over the highest peer's (>= 1 is ahead).
    pub rps_vs_best: f64,
    /// The peer with the highest req/s.
    pub best_rps_peer: Target,
}

/// Where flare target `who` stands under `config` against the peers (flare's
/// other backend is not a peer), when both were measured.
pub fn standing(summaries: &[Summary], who: Target, config: Config) -> Option<Standing> {
    let of = |c: Config| summaries.iter().filter(move |s| s.config == c);
    let flare = of(config).find(|s| s.target == who)?;
    let peers: Vec<&Summary> = of(config).filter(|s| !s.target.is_flare()).collect();
    let min_by =
        |f: fn(&Summary) -> f64| peers.iter().min_by(|a, b| f(a).total_cmp(&f(b))).copied();
    let cpu = min_by(|s| s.cpu_us.median)?;
    let user = min_by(|s| s.user_us.median)?;
    let rps = min_by(|s| -s.rps.median)?;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    Some(Standing {
        target: who,
        config,
        cpu_vs_best: ratio(flare.cpu_us.median, cpu.cpu_us.median),
        best_cpu_peer: cpu.target,
        user_vs_best: ratio(flare.user_us.median, user.user_us.median),
        best_user_peer: user.target,
        rps_vs_best: ratio(flare.rps.median, rps.rps.median),
        best_rps_peer: rps.target,
    })
}

/// The constant rate: `share` of the slowest peer's median keep-alive
/// req/s; `None` without a measured peer.
pub fn constant_rate(summaries: &[Summary], share: f64) -> Option<u64> {
    summaries
        .iter()
        .filter(|s| s.config == Config::KeepAlive && !s.target.is_flare())
        .map(|s| s.rps.median)
        .filter(|r| *r > 0.0)
        .min_by(f64::total_cmp)
        .map(|r| (r * share).round().max(1.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(target: Target, config: Config, round: u32, rps: f64, user: u64, sys: u64) -> Run {
        Run {
            target,
            config,
            round,
            measured: Measured {
                requests: (rps * 10.0) as u64,
                rps,
                p50_us: 100.0,
                p99_us: 900.0,
                p999_us: 2000.0,
                errors: 1,
                bad: 0,
            },
            cpu: CpuTicks { user, system: sys },
            raw: String::new(),
        }
    }

    #[test]
    fn median_and_sigma() {
        assert_eq!(Spread::of(&[]), Spread::default());
        assert_eq!(
            Spread::of(&[5.0]),
            Spread {
                median: 5.0,
                sigma: 0.0
            }
        );
        let s = Spread::of(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!(s.median, 2.5);
        // mean 4, squares 9+1+4+36 = 50, /3, sqrt.
        assert!((s.sigma - (50.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn cpu_per_request_from_ticks() {
        // 100 ticks/s; 10 s at 100k req/s = 1e6 requests; 300 user ticks = 3 s.
        let r = run(Target::Flare, Config::KeepAlive, 1, 100_000.0, 300, 700);
        let (u, s) = r.cpu_us(100);
        assert!((u - 3.0).abs() < 1e-9 && (s - 7.0).abs() < 1e-9, "{u} {s}");
    }

    #[test]
    fn standing_against_the_best_peer() {
        let runs = vec![
            run(Target::Flare, Config::KeepAlive, 1, 200_000.0, 100, 800),
            run(Target::Nginx, Config::KeepAlive, 1, 150_000.0, 300, 500),
            run(
                Target::MayMinihttp,
                Config::KeepAlive,
                1,
                180_000.0,
                200,
                950,
            ),
        ];
        let sums = summarize(&runs, 100);
        assert_eq!(sums.len(), 3);
        assert_eq!(sums[0].target, Target::Flare);
        let st = standing(&sums, Target::Flare, Config::KeepAlive).expect("both measured");
        assert_eq!(st.best_rps_peer, Target::MayMinihttp);
        assert!((st.rps_vs_best - 200.0 / 180.0).abs() < 1e-9);
        // Total: nginx 800 ticks / 1.5M = 5.3 us, may 1150 / 1.8M = 6.4 us;
        // user: may 1.1 us, nginx 2.0 us.
        assert_eq!(st.best_cpu_peer, Target::Nginx);
        assert_eq!(st.best_user_peer, Target::MayMinihttp);
        assert!(standing(&sums, Target::Flare, Config::Json).is_none());
        assert!(standing(&sums, Target::FlareUring, Config::KeepAlive).is_none());
        assert_eq!(constant_rate(&sums, 0.8), Some(120_000));

        // flare on io_uring is held against the same peers, never against
        // flare on epoll, and is no peer for the constant rate either.
        let mut runs = runs;
        runs.push(run(
            Target::FlareUring,
            Config::KeepAlive,
            1,
            100_000.0,
            40,
            300,
        ));
        let sums = summarize(&runs, 100);
        assert_eq!(sums[1].target, Target::FlareUring);
        let st = standing(&sums, Target::FlareUring, Config::KeepAlive).expect("measured");
        assert_eq!(st.best_cpu_peer, Target::Nginx);
        assert_eq!(st.best_rps_peer, Target::MayMinihttp);
        let flare = standing(&sums, Target::Flare, Config::KeepAlive).expect("measured");
        assert_eq!(flare.best_user_peer, Target::MayMinihttp);
        assert_eq!(constant_rate(&sums, 0.8), Some(120_000));
    }
}
