//! Listening sockets inherited from the process that started this one, and handed
//! to the one that replaces it: systemd socket activation and zero-downtime restart.
//!
//! At the first `bind`, the sockets named by the environment are adopted:
//! systemd's `LISTEN_FDS` (with `LISTEN_PID` equal to this process, names in
//! `LISTEN_FDNAMES`), or `FLARE_LISTEN_FDS` (with `FLARE_LISTEN_FDNAMES`), which a
//! flare predecessor sets when it hands its sockets over
//! ([`ServerHandle::spawn_successor`](super::ServerHandle::spawn_successor)). The
//! descriptors are 3, 4, ... in order. A later `bind(addr)` (`bind_tls`,
//! `bind_unix`) whose address matches an inherited socket takes it instead of
//! binding a new one: every inherited socket for that address is kept, and all
//! workers share them (`EPOLLEXCLUSIVE`).
//!
//! Why hand sockets over instead of binding fresh `SO_REUSEPORT` ones: Linux
//! resets the connections waiting in the accept queue of a `SO_REUSEPORT` listener
//! that is closed (without the `tcp_migrate_req` sysctl), and a new listener in the
//! group takes new connections while the old one still gets its share until it
//! closes. A socket that is handed over is never closed: the old process stops
//! accepting on it and drains, the new one accepts on the same queue, and no
//! connection is lost (`tests/restart.rs` replaces a server three times under load).

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use flare_net::{TcpListener, UnixListener};

/// The first inherited descriptor (systemd's `SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// An inherited listening socket.
pub(crate) enum Inherited {
    Tcp {
        addr: SocketAddr,
        name: String,
        l: TcpListener,
    },
    Unix {
        path: PathBuf,
        l: UnixListener,
    },
}

fn registry() -> &'static Mutex<Vec<Inherited>> {
    static INHERITED: OnceLock<Mutex<Vec<Inherited>>> = OnceLock::new();
    INHERITED.get_or_init(|| Mutex::new(adopt_from_env()))
}

/// Takes the inherited TCP sockets bound to `addr`; empty when there are none.
pub(crate) fn take_tcp(addr: SocketAddr) -> Vec<TcpListener> {
    let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    let mut taken = Vec::new();
    let mut i = 0;
    while i < reg.len() {
        if matches!(&reg[i], Inherited::Tcp { addr: a, .. } if *a == addr) {
            if let Inherited::Tcp { l, name, .. } = reg.remove(i) {
                log::info!("using inherited listener {addr} ({name})");
                taken.push(l);
            }
        } else {
            i += 1;
        }
    }
    taken
}

/// Takes the inherited Unix socket at `path`, if any.
pub(crate) fn take_unix(path: &std::path::Path) -> Option<UnixListener> {
    let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    let i = reg
        .iter()
        .position(|x| matches!(x, Inherited::Unix { path: p, .. } if p == path))?;
    match reg.remove(i) {
        Inherited::Unix { l, .. } => {
            log::info!("using inherited listener unix:{}", path.display());
            Some(l)
        }
        Inherited::Tcp { .. } => None,
    }
}

fn adopt_from_env() -> Vec<Inherited> {
    let env = |k: &str| std::env::var(k).ok();
    let (count, names) = if let Some(n) = env("FLARE_LISTEN_FDS") {
        (n, env("FLARE_LISTEN_FDNAMES"))
    } else if let Some(n) = env("LISTEN_FDS") {
        // systemd: only for the process it was meant for.
        if env("LISTEN_PID").and_then(|p| p.parse::<u32>().ok()) != Some(std::process::id()) {
            return Vec::new();
        }
        (n, env("LISTEN_FDNAMES"))
    } else {
        return Vec::new();
    };
    // Not for our children.
    for k in [
        "FLARE_LISTEN_FDS",
        "FLARE_LISTEN_FDNAMES",
        "LISTEN_FDS",
        "LISTEN_PID",
        "LISTEN_FDNAMES",
    ] {
        std::env::remove_var(k);
    }
    let Ok(count) = count.parse::<i32>() else {
        log::warn!("ignoring a listen-fds count that is not a number: {count:?}");
        return Vec::new();
    };
    let names: Vec<String> = names
        .map(|n| n.split(':').map(str::to_string).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for i in 0..count.clamp(0, 1024) {
        let fd = FIRST_FD + i;
        let name = names.get(i as usize).cloned().unwrap_or_default();
        // SAFETY: the protocol hands us descriptors FIRST_FD.. FIRST_FD+count-1,
        // open and owned by this process from now on; nothing else in the process
        // took ownership of them (they are adopted once, at the first bind).
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        match classify(owned) {
            Some(Inherited::Tcp { addr, l, .. }) => out.push(Inherited::Tcp { addr, name, l }),
            Some(u @ Inherited::Unix { .. }) => out.push(u),
            None => log::warn!("inherited fd {fd} is not a listening stream socket; ignored"),
        }
    }
    out
}

/// A listening TCP or Unix stream socket, made non-blocking and close-on-exec.
fn classify(fd: OwnedFd) -> Option<Inherited> {
    use rustix::net::sockopt;
    if !sockopt::socket_acceptconn(&fd).ok()? {
        return None;
    }
    if sockopt::socket_type(&fd).ok()? != rustix::net::SocketType::STREAM {
        return None;
    }
    rustix::io::ioctl_fionbio(&fd, true).ok()?;
    rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC).ok()?;
    let family = rustix::net::getsockname(&fd).ok()?.address_family();
    if family == rustix::net::AddressFamily::UNIX {
        let l = UnixListener::from(fd);
        return match l.local_addr().ok()? {
            flare_net::UnixAddr::Path(path) => Some(Inherited::Unix { path, l }),
            _ => None,
        };
    }
    let l = TcpListener::from(fd);
    let addr = l.local_addr().ok()?;
    Some(Inherited::Tcp {
        addr,
        name: String::new(),
        l,
    })
}

/// Arranges for `cmd`'s process to get `fds` as 3, 4, ... with
/// `FLARE_LISTEN_FDS`/`FLARE_LISTEN_FDNAMES` set, and spawns it.
pub(crate) fn spawn_with_fds(
    cmd: &mut std::process::Command,
    fds: &[(std::os::fd::BorrowedFd<'_>, &str)],
) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let n = fds.len() as RawFd;
    // Copies above the target range first (close-on-exec), so that moving them to
    // 3.. in the child never overwrites one not moved yet.
    let mut high = Vec::with_capacity(fds.len());
    for (fd, _) in fds {
        high.push(rustix::io::fcntl_dupfd_cloexec(
            fd.as_fd(),
            FIRST_FD + n + 64,
        )?);
    }
    let raw: Vec<RawFd> = high.iter().map(AsRawFd::as_raw_fd).collect();
    cmd.env("FLARE_LISTEN_FDS", fds.len().to_string());
    cmd.env(
        "FLARE_LISTEN_FDNAMES",
        fds.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(":"),
    );
    // SAFETY: between fork and exec the closure only calls dup2(2), which is
    // async-signal-safe, on descriptors that stay open in the parent until spawn
    // returns (`high` outlives the call). dup2 clears close-on-exec on the target.
    unsafe {
        cmd.pre_exec(move || {
            for (i, src) in raw.iter().enumerate() {
                if libc::dup2(*src, FIRST_FD + i as RawFd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn();
    drop(high);
    child
}
