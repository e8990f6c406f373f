//! SIGINT/SIGTERM and CPU pinning for the UDP server: the same few lines as the HTTP
//! server's (`server/signal.rs`, `server/mod.rs`), which are private to it.

use crate::error::Result;

/// Blocks SIGINT and SIGTERM in the calling thread, so the workers it spawns inherit
/// the mask and only [`wait_for_termination`] sees the signals (no handler runs in
/// async-signal context).
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

/// Waits (with `sigwait`) for SIGINT or SIGTERM.
pub(crate) fn wait_for_termination() -> Result<()> {
    #[cfg(unix)]
    {
        let set = termination_set();
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is an initialised sigset owned by this frame; sigwait writes
        // one int to `sig`.
        let rc = unsafe { libc::sigwait(&set, &mut sig) };
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc).into());
        }
        log::info!("signal {sig}");
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

/// Pins the calling thread to `cpu` (Linux; elsewhere a no-op).
pub(crate) fn pin_to_cpu(cpu: usize) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: cpu_set_t is a plain bitmask, all-zero is the empty set; CPU_SET
        // writes inside it (cpu is checked against CPU_SETSIZE), and sched_setaffinity
        // reads it for the calling thread (pid 0).
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if cpu < libc::CPU_SETSIZE as usize {
                libc::CPU_SET(cpu, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}
