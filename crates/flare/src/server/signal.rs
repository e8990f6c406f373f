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
pub(crate) fn wait_for_termination(handle: &ServerHandle, grace: Duration) -> Result<()> {
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
        log::info!("signal {sig}: draining for at most {grace:?}");
        handle.shutdown(grace);
    }
    Ok(())
}

#[cfg(unix)]
fn termination_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set; sigaddset only sets bits in it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
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
