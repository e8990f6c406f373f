//! `cargo xtask autobahn`: the whole Autobahn|Testsuite fuzzing client against the
//! example server's WebSocket echo, 9.* (large messages, performance) included,
//! in a release build. `cargo xtask test` runs everything but 9.* in debug.

use crate::error::{Error, Result};
use crate::peers;
use crate::util::{self, Progress};

const HELP: &str = "\
cargo xtask autobahn

Installs wstest when missing (cargo xtask peers), then runs
`cargo test --release -p flare --test autobahn` with FLARE_AUTOBAHN_FULL=1: every
Autobahn case, 9.* included, against the example's /ws. Fails on any case that is
not OK, NON-STRICT or INFORMATIONAL; prints the counts.
";

/// `cargo xtask autobahn`.
pub fn main(args: &[String]) -> Result<()> {
    if let Some(a) = args.first() {
        if a == "-h" || a == "--help" {
            print!("{HELP}");
            return Ok(());
        }
        return Err(Error::Usage(format!(
            "`autobahn` takes no arguments, got `{a}`"
        )));
    }
    let mut progress = Progress::new(3);
    let wstest = progress.step("wstest", peers::ensure_autobahn)?;
    // `cargo test --test` alone does not build the examples.
    progress.step("example server (release)", || {
        util::run(util::cargo().args(["build", "--release", "-p", "flare", "--example", "server"]))
    })?;
    progress.step("autobahn, every case", || {
        util::run(
            util::cargo()
                .args(["test", "--release", "-p", "flare", "--test", "autobahn"])
                .args(["--", "--nocapture"])
                .env("FLARE_WSTEST", &wstest)
                .env("FLARE_AUTOBAHN_FULL", "1"),
        )
    })?;
    Ok(())
}
