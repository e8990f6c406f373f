//! SIGINT / SIGTERM: start a graceful drain.

use std::time::Duration;

use super::ServerHandle;
use crate::error::Result;

/// Blocks SIGINT and SIGTERM in this thread (the workers were started with them
/// blocked too, see `block_termination_signals`), waits for one, then drains.
///
/// Workers inherit the signal mask of the thread that spawns them; `serve` blocks the
/// signals before spawning, so only `sigwait` here ever sees them and no handler runs
/// in async-signal context.
///
/// SIGHUP: when `restart_on_hup`, this program is started again with the same
/// arguments and every listening socket inherited ([`ServerHandle::spawn_successor`]),
/// then this one drains: a zero-downtime restart (e.g. after the binary was
/// replaced). Otherwise SIGHUP is not caught.
pub(crate) fn wait_for_termination(
    handle: &ServerHandle,
    grace: Duration,
    restart_on_hup: bool,
) -> Result<()> {
    #[cfg(unix)]
    {
        let set = termination_set();
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is an initialised sigset owned by this frame; sigwait writes one
        // int to `sig`.
        let rc = unsafe { libc::sigwait(&set, &mut sig) };
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc).into());
        }
        if sig == libc::SIGHUP && restart_on_hup {
            let exe = std::env::current_exe()?;
            let mut cmd = std::process::Command::new(exe);
            cmd.args(std::env::args_os().skip(1));
            let child = handle.spawn_successor(&mut cmd)?;
            log::info!(
                "SIGHUP: successor {} started on the same sockets; draining for at most {grace:?}",
                child.id()
            );
        } else {
            log::info!("signal {sig}: draining for at most {grace:?}");
        }
        handle.shutdown(grace);
    }
    #[cfg(not(unix))]
    let _ = restart_on_hup;
    Ok(())
}

/// Whether SIGHUP is in the set (`HttpServer::restart_on_sighup`).
pub(crate) static RESTART_ON_HUP: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

#[cfg(unix)]
fn termination_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set; sigaddset only sets bits in it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if RESTART_ON_HUP.load(std::sync::atomic::Ordering::Relaxed) {
            libc::sigaddset(&mut set, libc::SIGHUP);
        }
        set
    }
}

/// Blocks SIGINT and SIGTERM in the calling thread, so threads it spawns inherit the
/// mask and the signals wait for `sigwait`.
pub(crate) fn block_termination_signals() {
    #[cfg(unix)]
    {
        let set = termination_set();
        // SAFETY: `set` is initialised; a null old-set pointer is allowed.
        unsafe {
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
    }
}
