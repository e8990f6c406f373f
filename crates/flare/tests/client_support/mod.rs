//! Helpers for the client tests against external peers on loopback: free ports,
//! a scratch directory, waiting for a port, a child killed on drop, and an nginx
//! run from a config body the test writes (`{d}` in it is the directory).
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed and reaped on drop.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh directory under the system temp dir, with `www/` inside.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("flare-client-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("www")).unwrap();
    d
}

/// Waits (at most 10 s) until `port` accepts connections; panics naming `peer`.
pub fn wait_port(port: u16, peer: &str, child: &mut Child) {
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{peer} exited at start: {status}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{peer} never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An nginx in the foreground; killed on drop, its directory removed.
pub struct Nginx {
    _child: Kill,
    pub dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts nginx with `servers` (the inside of the `http {}` block; `{d}` is the
/// scratch directory) and waits for every port in `ports`. `setup` writes files
/// (certificates) into the directory first.
pub fn nginx(name: &str, servers: &str, ports: &[u16], setup: impl FnOnce(&PathBuf)) -> Nginx {
    let bin = crate::common::require("nginx");
    let dir = temp_dir(name);
    setup(&dir);
    let d = dir.display().to_string();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;\n\
             error_log {d}/error.log; events {{ worker_connections 256; }}\n\
             http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d};\n\
             fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n{}\n}}\n",
            servers.replace("{d}", &d)
        ),
    )
    .unwrap();
    let mut child = Command::new(&bin)
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&dir)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for &p in ports {
        wait_port(p, "nginx", &mut child);
    }
    Nginx {
        _child: Kill(child),
        dir,
    }
}
