//! The servers the suite measures: flare's example server (on epoll, and on
//! io_uring), nginx, and the crates.io peers of `benches/peers`, each started
//! with one worker pinned to the server CPU and stopped by pid.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::bench::procfs::{self, CpuTicks};
use crate::bench::server::{self, free_port, pinned};
use crate::error::{Error, Result};
use crate::util;

/// The peer workspace, relative to the repository root.
pub const PEERS_MANIFEST: &str = "benches/peers/Cargo.toml";

/// One server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// `crates/flare/examples/server.rs`, `bench-abort` profile.
    Flare,
    /// The same binary with `--io-uring`.
    FlareUring,
    /// Debian's nginx with a generated config.
    Nginx,
    /// hyper 1.x, a current-thread tokio runtime per worker.
    HyperCt,
    /// hyper 1.x on the multi-thread tokio runtime.
    HyperMt,
    /// axum 0.8.
    Axum,
    /// actix-web 4.
    ActixWeb,
    /// may_minihttp.
    MayMinihttp,
}

impl Target {
    /// Every target, in report order.
    pub const ALL: [Target; 8] = [
        Target::Flare,
        Target::FlareUring,
        Target::Nginx,
        Target::HyperCt,
        Target::HyperMt,
        Target::Axum,
        Target::ActixWeb,
        Target::MayMinihttp,
    ];

    /// Name in files, tables and `--targets`; for peers also the binary.
    pub fn name(self) -> &'static str {
        match self {
            Target::Flare => "flare",
            Target::FlareUring => "flare-uring",
            Target::Nginx => "nginx",
            Target::HyperCt => "hyper-ct",
            Target::HyperMt => "hyper-mt",
            Target::Axum => "axum",
            Target::ActixWeb => "actix-web",
            Target::MayMinihttp => "may-minihttp",
        }
    }

    /// The target called `name`.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Built from `benches/peers`.
    pub fn is_cargo_peer(self) -> bool {
        !matches!(self, Target::Flare | Target::FlareUring | Target::Nginx)
    }

    /// flare itself (either I/O backend), as opposed to a peer it is held
    /// against.
    pub fn is_flare(self) -> bool {
        matches!(self, Target::Flare | Target::FlareUring)
    }
}

/// Where the binaries are, once built.
pub struct Binaries {
    /// flare's example server, when flare is measured.
    pub flare: Option<PathBuf>,
    /// `benches/peers/target/release`, when a peer is measured.
    pub peers: Option<PathBuf>,
}

/// Builds what `targets` need: flare with `bench-abort`, the peers with
/// their own release profile (LTO, one codegen unit, panic = abort) into
/// `benches/peers/target`.
pub fn build(targets: &[Target]) -> Result<Binaries> {
    let flare = if targets.iter().any(|t| t.is_flare()) {
        Some(server::build_flare()?)
    } else {
        None
    };
    let peers = if targets.iter().any(|t| t.is_cargo_peer()) {
        let root = util::workspace_root();
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["build", "--release", "--manifest-path", PEERS_MANIFEST])
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", root.join("benches/peers/target"));
        util::run(&mut cmd)?;
        Some(root.join("benches/peers/target/release"))
    } else {
        None
    };
    Ok(Binaries { flare, peers })
}

/// nginx's configuration for the suite: both routes, `workers` worker
/// processes, no access log, long keep-alive.
pub fn nginx_config(dir: &Path, port: u16, workers: usize) -> String {
    crate::bench::server::nginx_config_with(
        "cargo xtask bench",
        dir,
        workers,
        "",
        &format!("127.0.0.1:{port} backlog=4096"),
        "        location = /plaintext {
            default_type text/plain;
            return 200 \"Hello, World!\";
        }
        location = /json {
            default_type application/json;
            return 200 '{\"message\":\"Hello, World!\"}';
        }
",
    )
}

/// A running server process tree.
pub struct Running {
    /// What it is.
    pub target: Target,
    /// Its loopback port.
    pub port: u16,
    /// The command line, for the report.
    pub command: String,
    child: Child,
    log: PathBuf,
}

impl Running {
    /// Starts `target` with `workers` workers on a free loopback port,
    /// pinned to `cpu`, and waits until it accepts connections.
    pub fn start(
        target: Target,
        bins: &Binaries,
        out_dir: &Path,
        cpu: Option<&str>,
        workers: usize,
    ) -> Result<Running> {
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let missing = |what: &str| Error::Missing {
            what: format!("{what} binary"),
            hint: "the build step did not run".into(),
        };
        let cmd = match target {
            Target::Nginx => {
                let dir = util::workspace_root().join("target/bench/nginx-suite");
                util::create_dir(&dir.join("tmp"))?;
                let conf = dir.join("nginx.conf");
                util::write_file(&conf, &nginx_config(&dir, port, workers))?;
                let mut cmd = pinned(cpu, server::NGINX);
                cmd.arg("-p")
                    .arg(&dir)
                    .arg("-c")
                    .arg(&conf)
                    .arg("-e")
                    .arg(dir.join("error.log"));
                cmd
            }
            Target::Flare | Target::FlareUring => {
                let bin = bins.flare.as_ref().ok_or_else(|| missing("flare"))?;
                let mut cmd = pinned(cpu, &bin.to_string_lossy());
                cmd.args(["--addr", &addr, "--workers", &workers.to_string()]);
                if target == Target::FlareUring {
                    cmd.arg("--io-uring");
                }
                cmd
            }
            peer => {
                let dir = bins.peers.as_ref().ok_or_else(|| missing(peer.name()))?;
                let bin = dir.join(peer.name());
                let mut cmd = pinned(cpu, &bin.to_string_lossy());
                cmd.args(["--addr", &addr, "--workers", &workers.to_string()]);
                cmd
            }
        };
        let log = out_dir.join(format!("{}-stderr.log", target.name()));
        Running::spawn(target, cmd, port, log)
    }

    fn spawn(target: Target, mut cmd: Command, port: u16, log: PathBuf) -> Result<Running> {
        let command = util::describe(&cmd);
        println!("    $ {command}");
        let err = File::create(&log).map_err(|e| Error::io(log.display().to_string(), e))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            program: command.clone(),
            source,
        })?;
        let mut running = Running {
            target,
            port,
            command,
            child,
            log,
        };
        running.wait_ready()?;
        Ok(running)
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// An error naming the target, with the tail of its stderr.
    pub fn fail(&self, detail: impl Into<String>) -> Error {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        let mut detail = detail.into();
        if !tail.is_empty() {
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            detail = format!("{detail}; stderr: {}", tail.join(" | "));
        }
        Error::Server {
            name: self.target.name().into(),
            detail,
        }
    }

    /// Polls until the port accepts, the process dies, or 20 s pass.
    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.fail(format!("exited before listening ({status})")));
            }
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.fail(format!("not listening on {} after 20 s", self.addr())));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// CPU time of the whole tree (every process and thread).
    pub fn cpu(&mut self) -> Result<CpuTicks> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(self.fail(format!("exited during the benchmark ({status})")));
        }
        procfs::tree_cpu(self.child.id())
    }

    /// SIGTERM, then SIGKILL to the whole tree after 5 s.
    fn shutdown(&mut self) {
        crate::bench::stop_tree(self.target.name(), &mut self.child);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Target::ALL {
            assert_eq!(Target::from_name(t.name()), Some(t));
        }
        assert_eq!(Target::from_name("apache"), None);
        let peers: Vec<_> = Target::ALL
            .into_iter()
            .filter(|t| t.is_cargo_peer())
            .collect();
        assert_eq!(peers.len(), 5);
        let flares: Vec<_> = Target::ALL.into_iter().filter(|t| t.is_flare()).collect();
        assert_eq!(flares, [Target::Flare, Target::FlareUring]);
        assert_eq!(Target::from_name("flare-uring"), Some(Target::FlareUring));
    }

    #[test]
    fn every_peer_is_a_member_of_the_peer_workspace() {
        let root = util::workspace_root();
        let manifest = fs::read_to_string(root.join(PEERS_MANIFEST)).expect("peers manifest");
        assert!(manifest.contains("[workspace]"));
        assert!(manifest.contains("lto = \"fat\""));
        assert!(manifest.contains("codegen-units = 1"));
        assert!(manifest.contains("panic = \"abort\""));
        for t in Target::ALL.into_iter().filter(|t| t.is_cargo_peer()) {
            let member =
                fs::read_to_string(root.join("benches/peers").join(t.name()).join("Cargo.toml"))
                    .expect("member manifest");
            let binary = format!("name = \"{}\"", t.name());
            assert!(
                member.contains(&binary),
                "{} does not build `{}`",
                t.name(),
                t.name()
            );
        }
    }

    #[test]
    fn nginx_config_serves_both_routes() {
        let conf = nginx_config(Path::new("/t/n"), 8123, 1);
        for needle in [
            "worker_processes 1;",
            "access_log off;",
            "keepalive_requests 100000;",
            "listen 127.0.0.1:8123",
            "return 200 \"Hello, World!\";",
            "return 200 '{\"message\":\"Hello, World!\"}';",
            "default_type application/json;",
        ] {
            assert!(conf.contains(needle), "missing `{needle}` in\n{conf}");
        }
        assert_eq!(conf.matches('{').count() - 1, conf.matches('}').count() - 1);
        assert!(nginx_config(Path::new("/t"), 1, 2).contains("worker_processes 2;"));
    }
}
