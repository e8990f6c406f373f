//! The servers under test with TLS: the shared certificate, nginx's TLS
//! configuration, and a started server process (ready, answering, stopped by
//! pid).

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::bench::procfs::{self, CpuTicks};
use crate::bench::server::{free_port, pinned, BODY, NGINX};
use crate::error::{Error, Result};
use crate::util;

/// The certificate both servers present.
pub(super) struct Cert {
    pub(super) cert: PathBuf,
    pub(super) key: PathBuf,
}

/// Makes the ECDSA P-256 certificate once; later runs reuse it.
pub(super) fn certificate(dir: &Path) -> Result<Cert> {
    util::create_dir(dir)?;
    let c = Cert {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    if c.cert.is_file() && c.key.is_file() {
        println!("    reusing {}", c.cert.display());
        return Ok(c);
    }
    util::output(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "3650",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout",
            ])
            .arg(&c.key)
            .arg("-out")
            .arg(&c.cert),
    )?;
    println!("    wrote {}", c.cert.display());
    Ok(c)
}

/// nginx with TLS on one port: one worker, no access log, long keep-alive,
/// TLS 1.2 and 1.3 like flare's default.
pub(super) fn nginx_config(dir: &Path, cert: &Cert, port: u16) -> String {
    crate::bench::server::nginx_config_with(
        "cargo xtask bench tls",
        dir,
        1,
        "",
        &format!("127.0.0.1:{port} ssl"),
        &format!(
            "        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location /plaintext {{
            default_type text/plain;
            return 200 \"{BODY}\";
        }}
",
            cert = cert.cert.display(),
            key = cert.key.display(),
        ),
    )
}

/// A server under test, listening with TLS on `port`.
pub(super) struct TlsServer {
    pub(super) name: &'static str,
    pub(super) port: u16,
    pub(super) command: String,
    pub(super) child: Child,
    pub(super) log: PathBuf,
}

impl TlsServer {
    pub(super) fn start_nginx(dir: &Path, cert: &Cert, cpu: Option<&str>) -> Result<TlsServer> {
        util::create_dir(&dir.join("tmp"))?;
        let port = free_port()?;
        let conf = dir.join("nginx.conf");
        util::write_file(&conf, &nginx_config(dir, cert, port))?;
        let mut cmd = pinned(cpu, NGINX);
        cmd.arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"));
        TlsServer::spawn("nginx", cmd, port, dir.join("stderr.log"))
    }

    /// The example server with one worker; its plaintext port is unused.
    pub(super) fn start_flare(
        binary: &Path,
        cert: &Cert,
        log_dir: &Path,
        cpu: Option<&str>,
    ) -> Result<TlsServer> {
        let plain = free_port()?;
        let port = free_port()?;
        let mut cmd = pinned(cpu, &binary.to_string_lossy());
        cmd.args(["--addr", &format!("127.0.0.1:{plain}"), "--workers", "1"])
            .args(["--tls-addr", &format!("127.0.0.1:{port}"), "--tls-cert"])
            .arg(&cert.cert)
            .arg("--tls-key")
            .arg(&cert.key);
        TlsServer::spawn("flare", cmd, port, log_dir.join("flare-tls-stderr.log"))
    }

    fn spawn(name: &'static str, mut cmd: Command, port: u16, log: PathBuf) -> Result<TlsServer> {
        let command = util::describe(&cmd);
        println!("    $ {command}");
        let err = fs::File::create(&log).map_err(|e| Error::io(log.display().to_string(), e))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            program: command.clone(),
            source,
        })?;
        let mut s = TlsServer {
            name,
            port,
            command,
            child,
            log,
        };
        s.wait_ready()?;
        s.check_answer()?;
        Ok(s)
    }

    fn fail(&self, detail: impl Into<String>) -> Error {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        let mut detail = detail.into();
        if !tail.is_empty() {
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            detail = format!("{detail}; stderr: {}", tail.join(" | "));
        }
        Error::Server {
            name: self.name.into(),
            detail,
        }
    }

    fn wait_ready(&mut self) -> Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.fail(format!("exited before listening ({status})")));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.fail(format!("not listening on {addr} after 20 s")));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// One HTTPS `GET /plaintext` (curl, certificate not checked: it is the
    /// same file for both servers) must answer [`BODY`].
    fn check_answer(&self) -> Result<()> {
        let url = format!("https://127.0.0.1:{}/plaintext", self.port);
        let body = util::output(Command::new("curl").args([
            "-sSk",
            "--http1.1",
            "--max-time",
            "5",
            "--fail",
            &url,
        ]))
        .map_err(|e| self.fail(format!("GET {url}: {e}")))?;
        if body == BODY {
            Ok(())
        } else {
            Err(self.fail(format!("GET {url} answered {body:?}, want {BODY:?}")))
        }
    }

    pub(super) fn cpu(&mut self) -> Result<CpuTicks> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(self.fail(format!("exited during the benchmark ({status})")));
        }
        procfs::tree_cpu(self.child.id())
    }

    pub(super) fn stop(mut self) {
        self.shutdown();
    }

    /// SIGTERM, then SIGKILL to the whole tree after 5 s.
    fn shutdown(&mut self) {
        crate::bench::stop_tree(self.name, &mut self.child);
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_config_serves_tls_with_the_given_certificate() {
        let cert = Cert {
            cert: PathBuf::from("/t/tls/cert.pem"),
            key: PathBuf::from("/t/tls/key.pem"),
        };
        let conf = nginx_config(Path::new("/t/tls/nginx"), &cert, 8443);
        for needle in [
            "worker_processes 1;",
            "access_log off;",
            "keepalive_requests 100000;",
            "listen 127.0.0.1:8443 ssl;",
            "ssl_certificate /t/tls/cert.pem;",
            "ssl_certificate_key /t/tls/key.pem;",
            "ssl_protocols TLSv1.2 TLSv1.3;",
            "return 200 \"Hello, World!\";",
        ] {
            assert!(conf.contains(needle), "missing `{needle}` in\n{conf}");
        }
        assert_eq!(conf.matches('{').count(), conf.matches('}').count());
    }
}
