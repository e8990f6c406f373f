//! `cargo xtask test`: the whole gate CI runs: format, lints, peers, the
//! test suites with their peers required, and the fuzz regression report.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::fuzz;
use crate::peers;
use crate::util::{self, Progress};

const HELP: &str = "\
cargo xtask test [--no-fmt] [--no-clippy] [-p PACKAGE]...

Steps, in order; the first failure stops the run and is named:
  1. fmt         cargo fmt --all --check
  2. clippy      cargo clippy --workspace --all-targets -- -D warnings, and
                 flare without default features (no io_uring)
  3. peers       as `cargo xtask peers` (Debian packages, target/venv)
  4. test        cargo test --workspace --no-fail-fast, with
                 FLARE_PYTHON=<target/venv python> and FLARE_PEERS_REQUIRED=1
                 (a test missing a peer fails); ends with one line
                 `tests: N passed, N failed` over every test binary
  5. test on io_uring  (Linux, when flare is in scope) the flare crate's
                 end-to-end tests again with FLARE_TEST_IO_URING=1: every
                 server they start drives its connections through io_uring
  6. fuzz regressions  lists fuzz/corpus/* and fuzz/regressions/* that exist
                 (the crates replay regressions as unit tests; skipped
                 when there are none)

Local shortcuts (refused under CI=true, where everything is required):
  --no-fmt       skip step 1
  --no-clippy    skip step 2
  -p PACKAGE     limit fmt, clippy and test to PACKAGE (repeatable)
";

struct Options {
    fmt: bool,
    clippy: bool,
    packages: Vec<String>,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut opts = Options {
        fmt: true,
        clippy: true,
        packages: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--no-fmt" => opts.fmt = false,
            "--no-clippy" => opts.clippy = false,
            "-p" | "--package" => {
                let p = it
                    .next()
                    .ok_or_else(|| Error::Usage(format!("{arg} needs a package name")))?;
                opts.packages.push(p.clone());
            }
            s => return Err(Error::Usage(format!("unknown test flag `{s}`"))),
        }
    }
    let narrowed = !opts.fmt || !opts.clippy || !opts.packages.is_empty();
    if narrowed && util::in_ci() {
        return Err(Error::Usage(
            "CI=true requires every step on the whole workspace; drop --no-fmt/--no-clippy/-p"
                .into(),
        ));
    }
    Ok(Some(opts))
}

/// `cargo xtask test`.
pub fn main(args: &[String]) -> Result<()> {
    let Some(opts) = parse(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    let scope: Vec<String> = if opts.packages.is_empty() {
        vec!["--workspace".into()]
    } else {
        opts.packages
            .iter()
            .flat_map(|p| ["-p".to_string(), p.clone()])
            .collect()
    };
    let uring_pass = cfg!(target_os = "linux")
        && (opts.packages.is_empty() || opts.packages.iter().any(|p| p == "flare"));
    let total = 3 + usize::from(opts.fmt) + usize::from(opts.clippy) + usize::from(uring_pass);
    let mut progress = Progress::new(total);

    if opts.fmt {
        progress.step("fmt", || {
            let mut cmd = util::cargo();
            cmd.arg("fmt");
            if opts.packages.is_empty() {
                cmd.arg("--all");
            } else {
                cmd.args(&scope);
            }
            util::run(cmd.arg("--check"))
        })?;
    }
    if opts.clippy {
        progress.step("clippy", || {
            util::run(util::cargo().arg("clippy").args(&scope).args([
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))?;
            // The facade without its optional parts (io_uring, deflate) still builds
            // clean, and so do the codec crates without deflate.
            for krate in ["flare-ws", "flare-web"] {
                if opts.packages.is_empty() || opts.packages.iter().any(|p| p == krate) {
                    util::run(util::cargo().args([
                        "clippy",
                        "-p",
                        krate,
                        "--no-default-features",
                        "--all-targets",
                        "--",
                        "-D",
                        "warnings",
                    ]))?;
                }
            }
            if opts.packages.is_empty() || opts.packages.iter().any(|p| p == "flare") {
                util::run(util::cargo().args([
                    "clippy",
                    "-p",
                    "flare",
                    "--no-default-features",
                    "--",
                    "-D",
                    "warnings",
                ]))?;
                // And the heavy parts are really gone then, not only unused.
                let tree = util::output(util::cargo().args([
                    "tree",
                    "-p",
                    "flare",
                    "--no-default-features",
                    "-e",
                    "normal",
                    "--prefix",
                    "none",
                ]))?;
                for heavy in ["miniz_oxide", "io-uring"] {
                    if tree.lines().any(|l| l.starts_with(&format!("{heavy} "))) {
                        return Err(Error::Parse {
                            what: "cargo tree -p flare --no-default-features".into(),
                            detail: format!("{heavy} is still a dependency"),
                        });
                    }
                }
            }
            Ok(())
        })?;
    }
    let (python, wstest) = progress.step("peers", || {
        peers::ensure_debian()?;
        Ok((peers::ensure_python()?, peers::ensure_autobahn()?))
    })?;
    let mut totals = progress.step("test", || {
        run_tests(
            util::cargo()
                .arg("test")
                .args(&scope)
                .arg("--no-fail-fast")
                .env("FLARE_PYTHON", &python)
                .env("FLARE_WSTEST", &wstest)
                .env("FLARE_PEERS_REQUIRED", "1"),
        )
        .and_then(|mut t| {
            // Without the `deflate` feature: nothing negotiates permessage-deflate,
            // and the rest of the codec and the web layer still pass.
            if opts.packages.is_empty()
                || opts
                    .packages
                    .iter()
                    .any(|p| p == "flare-ws" || p == "flare-web")
            {
                let more = run_tests(util::cargo().args([
                    "test",
                    "-p",
                    "flare-ws",
                    "-p",
                    "flare-web",
                    "--no-default-features",
                    "--no-fail-fast",
                ]))?;
                t.passed += more.passed;
                t.failed += more.failed;
                t.ignored += more.ignored;
            }
            Ok(t)
        })
    })?;
    if uring_pass {
        let more = progress.step("test on io_uring", || {
            run_tests(
                util::cargo()
                    .args(["test", "-p", "flare", "--tests", "--no-fail-fast"])
                    .env("FLARE_PYTHON", &python)
                    .env("FLARE_WSTEST", &wstest)
                    .env("FLARE_PEERS_REQUIRED", "1")
                    .env("FLARE_TEST_IO_URING", "1"),
            )
        })?;
        totals.passed += more.passed;
        totals.failed += more.failed;
        totals.ignored += more.ignored;
    }
    progress.step("fuzz regressions", || report_regressions(&fuzz::fuzz_dir()))?;

    println!(
        "==> all {total} steps passed in {}",
        util::fmt_duration(progress.elapsed())
    );
    // Last, one plain summary line over every test binary, so a reader of
    // the log sees the whole count rather than the last crate's doc-tests.
    println!("{}", totals.closing_line());
    Ok(())
}

/// Tests counted over all of cargo's `test result:` lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match label {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }

    fn closing_line(&self) -> String {
        let mut line = format!("tests: {} passed, {} failed", self.passed, self.failed);
        if self.ignored > 0 {
            line.push_str(&format!(", {} skipped", self.ignored));
        }
        line
    }
}

/// Runs `cargo test`, echoing its stdout line by line while counting its
/// results; a failing exit is an error after the counts are printed.
fn run_tests(cmd: &mut Command) -> Result<Totals> {
    let line = util::describe(cmd);
    println!("    $ {line}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Spawn {
            program: "cargo".into(),
            source,
        })?;
    let mut totals = Totals::default();
    if let Some(out) = child.stdout.take() {
        for l in BufReader::new(out).lines().map_while(|l| l.ok()) {
            println!("{l}");
            totals.add_line(&l);
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::io("waiting for cargo test", e))?;
    if status.success() {
        Ok(totals)
    } else {
        println!("{}", totals.closing_line());
        Err(Error::Command {
            command: line,
            status,
        })
    }
}

/// Prints which `corpus/<target>` and `regressions/<target>` directories
/// exist. The crates replay regressions as unit tests, so there is nothing
/// to run here; with none, the step is skipped.
fn report_regressions(fuzz_dir: &Path) -> Result<()> {
    if !fuzz_dir.join("Cargo.toml").is_file() {
        println!("    no fuzz/Cargo.toml; skipped");
        return Ok(());
    }
    let found = regression_dirs(fuzz_dir, &fuzz::fuzz_targets(fuzz_dir)?);
    if found.is_empty() {
        println!("    no corpus or regressions directories; skipped");
    }
    for dir in found {
        if dir.starts_with("fuzz/regressions/") {
            println!("    {dir} (replayed by the crate's unit tests)");
        } else {
            println!("    {dir} (local corpus; `cargo xtask fuzz` grows it)");
        }
    }
    Ok(())
}

fn regression_dirs(fuzz_dir: &Path, targets: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for target in targets {
        for kind in ["corpus", "regressions"] {
            if fuzz_dir.join(kind).join(target).is_dir() {
                found.push(format!("fuzz/{kind}/{target}"));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_parse_and_unknown_ones_are_refused() {
        // CI may be set in the environment running these tests; only check
        // the non-narrowing forms there.
        let o = parse(&[]).expect("empty args").expect("not help");
        assert!(o.fmt && o.clippy && o.packages.is_empty());
        assert!(parse(&args(&["--help"])).expect("help").is_none());
        assert!(parse(&args(&["--bogus"])).is_err());
        assert!(parse(&args(&["-p"])).is_err());
        if !util::in_ci() {
            let o = parse(&args(&[
                "--no-clippy",
                "-p",
                "xtask",
                "--package",
                "flare-h1",
            ]))
            .expect("valid")
            .expect("not help");
            assert!(o.fmt && !o.clippy);
            assert_eq!(o.packages, ["xtask", "flare-h1"]);
        }
    }

    #[test]
    fn totals_add_up_every_result_line() {
        let mut t = Totals::default();
        for line in [
            "test result: ok. 34 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.02s",
            "running 3 tests",
            "test result: FAILED. 2 passed; 1 failed; 2 ignored; 0 measured; 5 filtered out; finished in 1.00s",
            "   Doc-tests flare_h1",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "test parse::result_line ... ok",
        ] {
            t.add_line(line);
        }
        assert_eq!(
            t,
            Totals {
                passed: 36,
                failed: 1,
                ignored: 2
            }
        );
        assert_eq!(t.closing_line(), "tests: 36 passed, 1 failed, 2 skipped");
        assert_eq!(
            Totals::default().closing_line(),
            "tests: 0 passed, 0 failed"
        );
    }

    #[test]
    fn regression_dirs_lists_only_existing_ones_per_target() {
        let dir = util::target_dir().join("xtask-test-regressions");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("corpus/a")).expect("mkdir");
        fs::create_dir_all(dir.join("regressions/b")).expect("mkdir");
        fs::create_dir_all(dir.join("regressions/not_a_target")).expect("mkdir");
        let targets = args(&["a", "b", "c"]);
        assert_eq!(
            regression_dirs(&dir, &targets),
            ["fuzz/corpus/a", "fuzz/regressions/b"]
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
