//! `cargo xtask fuzz`: time-boxed libFuzzer runs of the targets listed in
//! `fuzz/Cargo.toml`, through cargo-fuzz on nightly.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::util::{self, Progress};

const DEFAULT_SECS: u64 = 30;

const HELP: &str = "\
cargo xtask fuzz [TARGET] [--time SECS]

Runs `cargo +nightly fuzz run TARGET -- -max_total_time=SECS` for TARGET, or
for every target listed in fuzz/Cargo.toml when none is given.
  --time SECS   time box per target (default 30)
Installs cargo-fuzz (`cargo install --locked cargo-fuzz`) when missing.
Corpora grow in fuzz/corpus/TARGET; crashes land in fuzz/artifacts/TARGET.
";

/// `cargo xtask fuzz`.
pub fn main(args: &[String]) -> Result<()> {
    let mut target: Option<String> = None;
    let mut secs = DEFAULT_SECS;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(());
            }
            "--time" => {
                let v = it
                    .next()
                    .ok_or_else(|| Error::Usage("--time needs SECS".into()))?;
                secs = parse_secs(v)?;
            }
            s if s.starts_with("--time=") => secs = parse_secs(&s["--time=".len()..])?,
            s if s.starts_with('-') => {
                return Err(Error::Usage(format!("unknown fuzz flag `{s}`")))
            }
            s if target.is_none() => target = Some(s.to_string()),
            s => {
                return Err(Error::Usage(format!(
                    "one fuzz target at a time, got `{s}` too"
                )))
            }
        }
    }
    let all = fuzz_targets(&fuzz_dir())?;
    let targets = match target {
        Some(t) if all.contains(&t) => vec![t],
        Some(t) => {
            return Err(Error::Usage(format!(
                "no fuzz target `{t}` in fuzz/Cargo.toml (have: {})",
                all.join(", ")
            )))
        }
        None if all.is_empty() => {
            return Err(Error::Missing {
                what: "fuzz targets".into(),
                hint: "fuzz/Cargo.toml lists no [[bin]] targets".into(),
            })
        }
        None => all,
    };
    let mut progress = Progress::new(targets.len() + 1);
    progress.step("cargo-fuzz", ensure_cargo_fuzz)?;
    for t in &targets {
        progress.step(&format!("fuzz {t} ({secs}s)"), || {
            util::run(
                nightly_cargo()
                    .args(["fuzz", "run", t, "--"])
                    .arg(format!("-max_total_time={secs}")),
            )
        })?;
    }
    println!(
        "==> fuzzed {} target(s) in {}",
        targets.len(),
        util::fmt_duration(progress.elapsed())
    );
    Ok(())
}

fn parse_secs(v: &str) -> Result<u64> {
    v.parse()
        .ok()
        .filter(|&s| s > 0)
        .ok_or_else(|| Error::Usage(format!("--time wants seconds > 0, got `{v}`")))
}

/// `<root>/fuzz`.
pub fn fuzz_dir() -> PathBuf {
    util::workspace_root().join("fuzz")
}

/// The `name`s of the `[[bin]]` sections of `fuzz/Cargo.toml`, in order.
pub fn fuzz_targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let manifest = fuzz_dir.join("Cargo.toml");
    let text =
        fs::read_to_string(&manifest).map_err(|e| Error::io(manifest.display().to_string(), e))?;
    Ok(parse_bin_names(&text))
}

/// Minimal TOML reading: `name = "..."` lines inside `[[bin]]` tables.
fn parse_bin_names(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
            continue;
        }
        if !in_bin {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "name" {
            let value = value.trim().trim_matches('"');
            if !value.is_empty() {
                names.push(value.to_string());
            }
        }
    }
    names
}

/// `cargo +nightly` through the rustup proxy, without the variables that
/// pin the toolchain `cargo xtask` itself runs on.
fn nightly_cargo() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg("+nightly").current_dir(util::workspace_root());
    for var in [
        "RUSTUP_TOOLCHAIN",
        "CARGO",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn ensure_cargo_fuzz() -> Result<()> {
    if !util::succeeds(nightly_cargo().arg("--version")) {
        return Err(Error::Missing {
            what: "the nightly toolchain (cargo-fuzz needs it)".into(),
            hint: "rustup toolchain install nightly".into(),
        });
    }
    if util::which("cargo-fuzz").is_some() {
        println!("    cargo-fuzz present");
        return Ok(());
    }
    util::run(util::cargo().args(["install", "--locked", "cargo-fuzz"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_names_come_only_from_bin_tables() {
        let manifest = r#"
[package]
name = "flare-fuzz"

[dependencies]
name = "not-a-target"

[[bin]]
name = "h1_request"
path = "fuzz_targets/h1_request.rs"

[[bin]]
path = "fuzz_targets/dns.rs"
name = "dns_decode"
"#;
        assert_eq!(parse_bin_names(manifest), ["h1_request", "dns_decode"]);
    }

    #[test]
    fn the_real_fuzz_manifest_lists_targets() {
        let targets = fuzz_targets(&fuzz_dir()).expect("fuzz/Cargo.toml readable");
        assert!(!targets.is_empty());
        assert!(targets.iter().all(|t| !t.contains('"') && !t.contains(' ')));
    }

    #[test]
    fn time_must_be_positive_seconds() {
        assert_eq!(parse_secs("45").ok(), Some(45));
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("ten").is_err());
    }
}
