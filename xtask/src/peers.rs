//! `cargo xtask peers`: installs the external programs and Python packages
//! the test suites talk to, when missing. Idempotent, and quick when all is
//! present: only `command -v`-style lookups and one Python import.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::error::{Error, Result};
use crate::util::{self, Progress};

/// A program a test or benchmark runs, and the Debian package that ships it.
pub struct DebianPeer {
    /// Binary looked up on PATH (and the sbin directories).
    pub binary: &'static str,
    /// Package that provides it.
    pub package: &'static str,
}

/// Every Debian-packaged peer. nginx is only for `bench h1` but cheap.
pub const DEBIAN_PEERS: &[DebianPeer] = &[
    DebianPeer {
        binary: "curl",
        package: "curl",
    },
    DebianPeer {
        binary: "nghttp",
        package: "nghttp2-client",
    },
    DebianPeer {
        binary: "h2load",
        package: "nghttp2-client",
    },
    DebianPeer {
        binary: "wrk",
        package: "wrk",
    },
    DebianPeer {
        binary: "dnsmasq",
        package: "dnsmasq-base",
    },
    DebianPeer {
        binary: "dig",
        package: "bind9-dnsutils",
    },
    DebianPeer {
        binary: "dnsperf",
        package: "dnsperf",
    },
    DebianPeer {
        binary: "openssl",
        package: "openssl",
    },
    DebianPeer {
        binary: "gnutls-cli",
        package: "gnutls-bin",
    },
    DebianPeer {
        binary: "nginx",
        package: "nginx-light",
    },
    DebianPeer {
        binary: "strace",
        package: "strace",
    },
    DebianPeer {
        binary: "testssl",
        package: "testssl.sh",
    },
    DebianPeer {
        binary: "systemd-socket-activate",
        package: "systemd",
    },
    DebianPeer {
        binary: "haproxy",
        package: "haproxy",
    },
    DebianPeer {
        binary: "redis-cli",
        package: "redis-tools",
    },
    DebianPeer {
        binary: "redis-benchmark",
        package: "redis-tools",
    },
    DebianPeer {
        binary: "nghttpd",
        package: "nghttp2-server",
    },
    DebianPeer {
        binary: "tinyproxy",
        package: "tinyproxy",
    },
    // `cargo xtask bench h2`'s reference HTTP/2 server.
    DebianPeer {
        binary: "h2o",
        package: "h2o",
    },
];

/// What pip installs into the venv.
pub const PYTHON_PACKAGES: &[&str] = &[
    "h2",
    "hpack",
    "httpx[http2]",
    "websockets",
    "dnslib",
    "dnspython",
    "tlslite-ng",
    "hypercorn",
];

/// The modules those packages provide, checked with one import.
pub const PYTHON_MODULES: &[&str] = &[
    "h2",
    "hpack",
    "httpx",
    "websockets",
    "dnslib",
    "dns",
    "tlslite",
    "hypercorn",
];

/// `cargo xtask peers`.
pub fn main(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        if arg == "-h" || arg == "--help" {
            print!("{HELP}");
            return Ok(());
        }
        return Err(Error::Usage(format!(
            "`peers` takes no arguments, got `{arg}`"
        )));
    }
    let mut progress = Progress::new(3);
    progress.step("debian peers", ensure_debian)?;
    let python = progress.step("python peers", ensure_python)?;
    let wstest = progress.step("autobahn", ensure_autobahn)?;
    println!("    FLARE_WSTEST={}", wstest.display());
    println!(
        "==> peers ready in {}",
        util::fmt_duration(progress.elapsed())
    );
    println!("    FLARE_PYTHON={}", python.display());
    Ok(())
}

const HELP: &str = "\
cargo xtask peers

Installs the external peers the test suites need, when missing:
  Debian packages (apt-get, sudo when not root): curl, nghttp2-client,
    wrk, dnsmasq-base, bind9-dnsutils, openssl, gnutls-bin, nginx-light,
    strace, testssl.sh, systemd (socket activation), haproxy, redis-tools,
    dnsperf, nghttp2-server (nghttpd), tinyproxy, h2o
  Python packages in target/venv: h2 hpack httpx[http2] websockets
    dnslib dnspython tlslite-ng hypercorn
  The Autobahn|Testsuite (wstest) in a Python 2.7 virtualenv under
    target/autobahn (Python 2.7 from FLARE_PYTHON2, PATH or pyenv)
Fast and a no-op when everything is present. Exits non-zero naming the peer
that could not be installed.
";

/// The venv directory: `<root>/target/venv`, whatever `CARGO_TARGET_DIR`
/// says, because the tests find it relative to their crate.
pub fn venv_dir() -> PathBuf {
    util::workspace_root().join("target").join("venv")
}

/// The venv's interpreter, passed to tests as `FLARE_PYTHON`.
pub fn venv_python() -> PathBuf {
    venv_dir().join("bin").join("python")
}

/// Installs the missing Debian peers; errors name those still missing.
pub fn ensure_debian() -> Result<()> {
    let missing: Vec<&DebianPeer> = DEBIAN_PEERS
        .iter()
        .filter(|p| util::which(p.binary).is_none())
        .collect();
    if missing.is_empty() {
        println!("    all {} programs present", DEBIAN_PEERS.len());
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|p| p.package).collect();
    packages.dedup();
    let names: Vec<&str> = missing.iter().map(|p| p.binary).collect();
    println!(
        "    missing: {}; installing {}",
        names.join(", "),
        packages.join(" ")
    );
    let installed = apt_install(&packages);
    let still: Vec<String> = missing
        .iter()
        .filter(|p| util::which(p.binary).is_none())
        .map(|p| format!("{} (Debian package {})", p.binary, p.package))
        .collect();
    match (still.is_empty(), installed) {
        (true, _) => Ok(()),
        (false, Err(e)) => Err(Error::MissingPeer {
            peer: still.join(", "),
            detail: e.to_string(),
        }),
        (false, Ok(())) => Err(Error::MissingPeer {
            peer: still.join(", "),
            detail: "apt-get succeeded but the binary is not on PATH".into(),
        }),
    }
}

/// `apt-get update` then `apt-get install -y --no-install-recommends`,
/// through sudo when not root. Waits for a dpkg lock held by another apt.
fn apt_install(packages: &[&str]) -> Result<()> {
    if util::which("apt-get").is_none() {
        return Err(Error::Missing {
            what: "apt-get".into(),
            hint: format!("install {} with your package manager", packages.join(" ")),
        });
    }
    let apt = |args: &[&str]| -> Result<Command> {
        let mut cmd = if util::is_root() {
            Command::new("apt-get")
        } else if util::which("sudo").is_some() {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        } else {
            return Err(Error::Missing {
                what: "sudo (not root)".into(),
                hint: format!("run as root or install {}", packages.join(" ")),
            });
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive")
            .args(["-o", "DPkg::Lock::Timeout=600"]);
        cmd.args(args);
        Ok(cmd)
    };
    if let Err(e) = util::run(&mut apt(&["update", "-qq"])?) {
        // Stale lists may still hold the packages; the install decides.
        println!("    warning: {e}; trying the install anyway");
    }
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(packages);
    util::run(&mut apt(&args)?)
}

/// Where the Autobahn|Testsuite lives: a Python 2.7 virtualenv (wstest is
/// Python 2 only), passed to tests as `FLARE_WSTEST`.
pub fn autobahn_dir() -> PathBuf {
    util::workspace_root().join("target").join("autobahn")
}

/// The `wstest` program of the Autobahn|Testsuite.
pub fn wstest() -> PathBuf {
    autobahn_dir().join("venv").join("bin").join("wstest")
}

/// A Python 2.7 interpreter: `FLARE_PYTHON2`, `python2.7` on PATH, or pyenv's.
fn python27() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FLARE_PYTHON2") {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = util::which("python2.7") {
        if util::succeeds(
            Command::new(&p).args(["-c", "import sys; assert sys.version_info[:2] == (2, 7)"]),
        ) {
            return Some(p);
        }
    }
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))?;
    let mut versions: Vec<PathBuf> = fs::read_dir(root.join("versions"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("2.7"))
        })
        .collect();
    versions.sort();
    versions.pop().map(|v| v.join("bin").join("python"))
}

/// Makes `target/autobahn/venv` (Python 2.7) with `autobahntestsuite`; returns
/// its `wstest`.
pub fn ensure_autobahn() -> Result<PathBuf> {
    let wstest = wstest();
    if wstest.is_file() && util::succeeds(Command::new(&wstest).arg("--help")) {
        println!("    {} works", wstest.display());
        return Ok(wstest);
    }
    let missing = |detail: String| Error::MissingPeer {
        peer: "Autobahn|Testsuite (wstest, Python 2.7)".into(),
        detail,
    };
    let py = python27().ok_or_else(|| {
        missing("no Python 2.7: set FLARE_PYTHON2, or `pyenv install 2.7.18`".into())
    })?;
    let dir = autobahn_dir();
    let _ = fs::remove_dir_all(&dir);
    let tool = dir.join("virtualenv");
    // virtualenv before 20.22 still makes Python 2.7 environments.
    util::run(
        Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(&tool)
            .arg("virtualenv<20.22"),
    )
    .map_err(|e| missing(format!("pip install virtualenv: {e}")))?;
    util::run(
        Command::new(&py)
            .env("PYTHONPATH", &tool)
            .args(["-m", "virtualenv", "-q"])
            .arg(dir.join("venv")),
    )
    .map_err(|e| missing(format!("virtualenv: {e}")))?;
    util::run(
        Command::new(dir.join("venv").join("bin").join("pip")).args([
            "install",
            "-q",
            "--disable-pip-version-check",
            "autobahntestsuite",
        ]),
    )
    .map_err(|e| missing(format!("pip install autobahntestsuite: {e}")))?;
    if !util::succeeds(Command::new(&wstest).arg("--help")) {
        return Err(missing("installed, but `wstest --help` fails".into()));
    }
    Ok(wstest)
}

/// Makes `target/venv` with the Python peers; returns its interpreter.
pub fn ensure_python() -> Result<PathBuf> {
    let python = venv_python();
    let usable =
        python.is_file() && util::succeeds(Command::new(&python).args(["-c", "import sys"]));
    if !usable {
        create_venv()?;
    }
    let import_all = format!("import {}", PYTHON_MODULES.join(", "));
    if util::succeeds(Command::new(&python).args(["-c", &import_all])) {
        println!(
            "    venv {} has {}",
            venv_dir().display(),
            PYTHON_MODULES.join(" ")
        );
        return Ok(python);
    }
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "install", "--disable-pip-version-check", "-q"])
        .args(PYTHON_PACKAGES);
    let installed = util::run(&mut pip);
    let broken: Vec<&str> = PYTHON_MODULES
        .iter()
        .copied()
        .filter(|m| !util::succeeds(Command::new(&python).args(["-c", &format!("import {m}")])))
        .collect();
    if broken.is_empty() {
        return Ok(python);
    }
    Err(Error::MissingPeer {
        peer: format!(
            "Python module(s) {} in {}",
            broken.join(", "),
            venv_dir().display()
        ),
        detail: match installed {
            Err(e) => e.to_string(),
            Ok(()) => "pip succeeded but the import still fails".into(),
        },
    })
}

/// `python3 -m venv target/venv`, installing python3-venv when the module
/// is unavailable.
fn create_venv() -> Result<()> {
    let dir = venv_dir();
    let python3 = util::which("python3").ok_or_else(|| Error::MissingPeer {
        peer: "python3".into(),
        detail: "not on PATH; install Python 3".into(),
    })?;
    let make = || {
        // A half-made venv would make `-m venv` fail or keep a broken python.
        let _ = fs::remove_dir_all(&dir);
        util::run(Command::new(&python3).arg("-m").arg("venv").arg(&dir))
    };
    if make().is_ok() {
        return Ok(());
    }
    println!("    `python3 -m venv` failed; installing python3-venv");
    apt_install(&["python3-venv"])
        .and_then(|()| make())
        .map_err(|e| Error::MissingPeer {
            peer: "python3 venv module (python3-venv)".into(),
            detail: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_python_package_has_its_module_checked() {
        assert_eq!(PYTHON_PACKAGES.len(), PYTHON_MODULES.len());
        for (package, module) in PYTHON_PACKAGES.iter().zip(PYTHON_MODULES) {
            let base = package.split('[').next().unwrap_or(package);
            let expected = match base {
                "dnspython" => "dns",
                "tlslite-ng" => "tlslite",
                other => other,
            };
            assert_eq!(&expected, module);
        }
    }

    #[test]
    fn packages_of_one_binary_group_are_adjacent_so_dedup_works() {
        // `ensure_debian` dedups consecutive package names only.
        let mut seen: Vec<&str> = Vec::new();
        for p in DEBIAN_PEERS {
            if seen.last() != Some(&p.package) {
                assert!(
                    !seen.contains(&p.package),
                    "{} listed twice apart",
                    p.package
                );
                seen.push(p.package);
            }
        }
    }

    #[test]
    fn venv_is_where_the_tests_look() {
        let expected = util::workspace_root().join("target/venv/bin/python");
        assert_eq!(venv_python(), expected);
    }
}
