//! Pinning for the Rust twins of `python -m shmkit.bench`: the same rule as the Python side
//! and as `bench/src/sync.rs` (sender on CPU 0, receiver on CPU 1), so that the two
//! processes never share one CPU, where a spinning waiter only delays its peer.

/// Pins the calling thread to `cpu` if the machine has more than one (and
/// `SHMKIT_BENCH_NO_PIN` is not set: `python -m shmkit.bench --no-pin`); returns whether it did.
pub fn pin(cpu: usize) -> bool {
    if std::env::var_os("SHMKIT_BENCH_NO_PIN").is_some() {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        // Not available_parallelism: it shrinks to 1 once the parent is pinned, and a child
        // must still reach the other CPU.
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
        if n < 2 {
            return false;
        }
        // SAFETY: a zeroed cpu_set_t is empty; CPU_SET writes inside it; sched_setaffinity
        // reads it for the calling thread.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu % n, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = cpu;
        false
    }
}
