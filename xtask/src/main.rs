//! flare's task runner: `cargo xtask <command>`.
//!
//! Std only, so it builds in seconds on a fresh machine. Every command
//! prints `==> [i/n] step` progress lines with timings, exits non-zero on
//! any failure, and names the failing step in its last line.

mod autobahn;
mod bench;
mod check;
mod error;
mod fuzz;
mod peers;
mod util;

use std::process::ExitCode;

use error::{Error, Result};

const HELP: &str = "\
cargo xtask <COMMAND> [OPTIONS]

Commands:
  test      fmt, clippy, peers, the workspace tests with peers required,
            fuzz regression report (what CI runs)
  peers     install the external peers the tests need (apt, target/venv)
  fuzz      time-boxed cargo-fuzz runs: fuzz [TARGET] [--time SECS]
  autobahn  the whole Autobahn|Testsuite (9.* included) against the example's
            WebSocket echo, release build
  bench     benchmarks against named peers: bench [--quick] (the full
            suite vs nginx, hyper, axum, actix-web, may_minihttp) or
            bench h1|h2|tls|hpack|dns [--quick]

`cargo xtask <COMMAND> --help` tells more.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &[String]) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        print!("{HELP}");
        return Err(Error::Usage("no command given".into()));
    };
    match command.as_str() {
        "-h" | "--help" | "help" => {
            print!("{HELP}");
            Ok(())
        }
        "test" => check::main(rest),
        "peers" => peers::main(rest),
        "fuzz" => fuzz::main(rest),
        "autobahn" => autobahn::main(rest),
        "bench" => bench::main(rest),
        other => Err(Error::Usage(format!("unknown command `{other}`"))),
    }
}
