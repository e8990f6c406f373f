//! docs/benchmark-h2.svg: per shape, horizontal bars of server CPU per
//! request (user and system stacked) and of req/s per server, each with a
//! whisker of one sigma either side of the median. Each shape has its own
//! scale (one TLS request on one stream costs many h2c ones).

use std::fmt::Write;

use super::load::Shape;
use super::report::Summary;
use super::servers::Target;
use crate::bench::spread::Spread;

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
        Target::Hyper => ("#5f3dc4", "#b197fc"),
        Target::H2o => ("#2b8a3e", "#8ce99a"),
        Target::Nginx => ("#1864ab", "#74c0fc"),
    }
}

/// The chart of `summaries`; `caption` goes under the title.
pub(super) fn chart(summaries: &[Summary], caption: &str) -> String {
    let mut body = String::new();
    let mut y = 70.0;
    for shape in Shape::ALL {
        let rows: Vec<&Summary> = summaries.iter().filter(|s| s.shape == shape).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            body,
            r#"<text x="8" y="{:.1}" class="h">{}</text>"#,
            y + 14.0,
            shape.title()
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
        r#"<text x="8" y="20" class="t">HTTP/2: flare vs hyper, h2o and nginx (1 worker each, h2load GET /plaintext)</text>"#,
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
fn kilo(v: f64) -> String {
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
    use super::super::report::tests::summary;
    use super::*;

    #[test]
    fn a_group_per_shape_and_a_bar_pair_per_server() {
        let mut s = Vec::new();
        for shape in [Shape::ALL[0], Shape::ALL[5]] {
            for t in Target::ALL {
                s.push(summary(t, shape, 1.0 + t as u8 as f64));
            }
        }
        let svg = chart(&s, "a <caption> & more");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("h2c -c 16 -m 100") && svg.contains("tls -c 1 -m 1"));
        assert!(!svg.contains("h2c -c 64 -m 10"));
        assert!(svg.contains("a &lt;caption&gt; &amp; more"));
        // Two shapes x four servers: user, system and req/s bars, two whiskers each.
        assert_eq!(svg.matches("<rect x=").count(), 8 * 3);
        assert_eq!(svg.matches("<path ").count(), 8 * 2);
        assert!(svg.contains(">hyper</text>") && svg.contains(">h2o</text>"));
        assert_eq!(kilo(1_234_567.0), "1.23M");
        assert_eq!(kilo(98_765.0), "99k");
    }
}
