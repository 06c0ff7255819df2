//! CPU priority of plugin work done beside the threads serving queries: building
//! spares, rebuilding a trapped instance, building a reloaded chain.
//!
//! Such work is a plugin's `init`: with a big list, hundreds of milliseconds of
//! CPU. At normal priority on a proxy whose cores all serve, the scheduler gives
//! it a fair share of them, and every query queued behind it waits a time slice.
//! At a higher nice value the serving threads win each wakeup and the build runs
//! on what they leave idle. Linux keeps the nice value per thread, and threads
//! inherit it from the thread that spawns them (a chain build's per-core builders
//! too). An unprivileged thread cannot lower it back, so only threads that exit
//! after the work call [`lower`].
//!
//! Measured (`benches/reload_latency.sh`: proxy pinned to one core, a 1M-name
//! blocklist, W1 at 20k QPS for 10 s with four reloads of 0.6–0.8 s each, 27 Nov,
//! quiet runs): p99 1.04–1.41 ms with reloads at normal priority, 0.30–0.82 ms
//! at nice 10, 0.47–0.85 ms at nice 19 (no better, and slower reloads), against
//! 0.19–0.32 ms without reloads. The rest is not CPU share: streaming and
//! sorting the list on the serving core evicts its caches.

/// Spares and rebuilds: nothing waits for them (a spare is extra; a trapped
/// instance's calls are answered per `on_error` meanwhile), so the lowest.
pub const SPARE: i32 = 19;

/// A reload: the old chain serves until the new one is built, so it may be slow,
/// but not starved: at nice 10 it still gets about a tenth of a core the serving
/// threads keep busy, so a reload under full load ends in seconds, not minutes.
pub const RELOAD: i32 = 10;

/// Sets the calling thread's nice value to `nice`. Failure only costs latency,
/// so it is logged (naming `what`), not returned.
pub fn lower(nice: i32, what: &str) {
    // SAFETY: setpriority only changes scheduling; `0` names the calling thread.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        tracing::debug!(what, "background plugin work keeps its priority: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowering_is_per_thread_and_inherited_by_threads_it_spawns() {
        // SAFETY: getpriority only reads; `0` names the calling thread.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let before = nice();
        let (theirs, their_childs) = std::thread::spawn(move || {
            lower(RELOAD, "test");
            let child = std::thread::spawn(nice).join().unwrap();
            (nice(), child)
        })
        .join()
        .unwrap();
        assert_eq!(theirs, RELOAD);
        assert_eq!(their_childs, RELOAD, "a chain build's per-core builders");
        assert_eq!(nice(), before, "the caller's priority is unchanged");
    }
}
