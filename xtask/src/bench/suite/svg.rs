//! docs/benchmark.svg, written by hand: per config, horizontal bars of
//! server CPU per request (user and system stacked) and of req/s per
//! target, each with a whisker of one sigma either side of the median.

use std::fmt::Write;

use super::load::Config;
use super::stats::{Spread, Summary};
use super::targets::Target;

const WIDTH: f64 = 960.0;
const LABEL_X: f64 = 112.0;
const CPU_X: f64 = 120.0;
const CPU_W: f64 = 280.0;
const RPS_X: f64 = 600.0;
const RPS_W: f64 = 290.0;
const ROW: f64 = 18.0;
const BAR: f64 = 13.0;

/// Bar colours: (user or req/s, system).
fn colours(t: Target) -> (&'static str, &'static str) {
    match t {
        Target::Flare => ("#d9480f", "#ffa94d"),
        Target::FlareUring => ("#a61e4d", "#f783ac"),
        _ => ("#1864ab", "#74c0fc"),
    }
}

/// The chart for `summaries` (configs in run order, targets in report
/// order). `caption` goes under the title (machine and commit).
pub fn chart(summaries: &[Summary], caption: &str) -> String {
    let configs: Vec<Config> = Config::ALL
        .into_iter()
        .filter(|c| summaries.iter().any(|s| s.config == *c))
        .collect();
    let mut body = String::new();
    let mut y = 70.0;
    for config in configs {
        let rows: Vec<&Summary> = summaries.iter().filter(|s| s.config == config).collect();
        let _ = writeln!(
            body,
            r#"<text x="8" y="{:.1}" class="h">{}</text>"#,
            y + 14.0,
            escape(&config.title().replace('`', ""))
        );
        y += 22.0;
        let cpu_max = scale(rows.iter().map(|s| s.cpu_us));
        let rps_max = scale(rows.iter().map(|s| s.rps));
        for s in &rows {
            let (dark, light) = colours(s.target);
            let mid = y + BAR / 2.0;
            let _ = writeln!(
                body,
                r#"<text x="{LABEL_X}" y="{:.1}" class="l">{}</text>"#,
                mid + 4.0,
                s.target.name()
            );
            let user_w = CPU_W * s.user_us.median / cpu_max;
            let sys_w = CPU_W * s.sys_us.median / cpu_max;
            rect(&mut body, CPU_X, y, user_w, dark);
            rect(&mut body, CPU_X + user_w, y, sys_w, light);
            let end = whisker(&mut body, CPU_X, CPU_W, cpu_max, s.cpu_us, mid);
            let _ = writeln!(
                body,
                r#"<text x="{:.1}" y="{:.1}" class="v">{:.2} us ({:.2} + {:.2})</text>"#,
                end + 4.0,
                mid + 4.0,
                s.cpu_us.median,
                s.user_us.median,
                s.sys_us.median
            );
            rect(&mut body, RPS_X, y, RPS_W * s.rps.median / rps_max, dark);
            let end = whisker(&mut body, RPS_X, RPS_W, rps_max, s.rps, mid);
            let _ = writeln!(
                body,
                r#"<text x="{:.1}" y="{:.1}" class="v">{}</text>"#,
                end + 4.0,
                mid + 4.0,
                kilo(s.rps.median)
            );
            y += ROW;
        }
        y += 14.0;
    }
    let height = y + 10.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="sans-serif">"#
    );
    svg.push_str(
        "<style>.t{font-size:16px;font-weight:bold}.c{font-size:11px;fill:#555}\
         .h{font-size:13px;font-weight:bold}.l{font-size:12px;text-anchor:end}\
         .v{font-size:11px;fill:#333}.a{font-size:12px;fill:#333}</style>\n",
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{WIDTH}" height="{height:.0}" fill="white"/>"#
    );
    svg.push_str(
        r#"<text x="8" y="20" class="t">flare vs the servers users would pick instead (1 worker each)</text>"#,
    );
    svg.push('\n');
    let _ = writeln!(
        svg,
        r#"<text x="8" y="38" class="c">{}</text>"#,
        escape(caption)
    );
    let _ = writeln!(
        svg,
        r#"<text x="{CPU_X}" y="60" class="a">server CPU per request, us (dark: user, light: system; lower is better)</text>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{RPS_X}" y="60" class="a">req/s (higher is better)</text>"#
    );
    svg.push_str(&body);
    svg.push_str("</svg>\n");
    svg
}

/// The axis length: the largest median + sigma, with room for labels.
fn scale(spreads: impl Iterator<Item = Spread>) -> f64 {
    let max = spreads.map(|s| s.median + s.sigma).fold(0.0f64, f64::max);
    if max > 0.0 {
        max * 1.05
    } else {
        1.0
    }
}

fn rect(out: &mut String, x: f64, y: f64, w: f64, fill: &str) {
    let _ = writeln!(
        out,
        r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{BAR}" fill="{fill}"/>"#,
        w.max(0.0)
    );
}

/// Draws median +- sigma at height `mid`; returns the rightmost x drawn.
fn whisker(out: &mut String, x0: f64, width: f64, max: f64, s: Spread, mid: f64) -> f64 {
    let at = |v: f64| x0 + width * (v / max).clamp(0.0, 1.0);
    let (lo, hi) = (at(s.median - s.sigma), at(s.median + s.sigma));
    if s.sigma > 0.0 {
        let _ = writeln!(
            out,
            "<path d=\"M{lo:.1} {mid:.1}H{hi:.1}M{lo:.1} {:.1}V{:.1}M{hi:.1} {:.1}V{:.1}\" \
             stroke=\"#000\" stroke-width=\"1\"/>",
            mid - 4.0,
            mid + 4.0,
            mid - 4.0,
            mid + 4.0
        );
    }
    hi.max(at(s.median))
}

/// `123456.0` -> `123k`; `1234567.0` -> `1.23M`.
pub fn kilo(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(target: Target, config: Config, rps: f64, user: f64, sys: f64) -> Summary {
        let sp = |m: f64| Spread {
            median: m,
            sigma: m / 10.0,
        };
        Summary {
            target,
            config,
            rounds: 5,
            rps: sp(rps),
            cpu_us: sp(user + sys),
            user_us: sp(user),
            sys_us: sp(sys),
            p50_us: sp(100.0),
            p99_us: sp(500.0),
            p999_us: sp(900.0),
            errors: 0,
        }
    }

    #[test]
    fn the_chart_has_a_bar_pair_and_whiskers_per_target_and_config() {
        let sums = vec![
            summary(Target::Flare, Config::KeepAlive, 200_000.0, 0.5, 3.0),
            summary(Target::Nginx, Config::KeepAlive, 150_000.0, 1.5, 4.0),
            summary(Target::Flare, Config::Pipelined, 1_500_000.0, 0.3, 0.2),
            summary(Target::Nginx, Config::Pipelined, 900_000.0, 0.8, 0.3),
        ];
        let svg = chart(&sums, "a <caption> & more");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        // Title, 2 per row CPU (user+sys) + 1 rps bar, 4 rows: 1 + 12.
        assert_eq!(svg.matches("<rect ").count(), 1 + 12);
        assert_eq!(svg.matches("<path ").count(), 8);
        assert!(svg.contains("a &lt;caption&gt; &amp; more"));
        assert!(svg.contains("200k") && svg.contains("1.50M"));
        assert!(svg.contains("3.50 us (0.50 + 3.00)"));
        // Every element that opens also closes.
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }

    #[test]
    fn kilo_units() {
        assert_eq!(kilo(999.0), "999");
        assert_eq!(kilo(123_456.0), "123k");
        assert_eq!(kilo(2_345_678.0), "2.35M");
    }
}
