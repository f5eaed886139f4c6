//! The only module that calls the operating system.
//!
//! One `cfg` switch selects a backend; each backend exposes the same private items, so the rest
//! of the crate is written once (memmap2's layout):
//!
//! * `Section` — an open shared-memory object or file mapping, from which views are mapped;
//! * `shm_open`, `shm_unlink` — named segments;
//! * `file_section` — a mapping of an open `std::fs::File`;
//! * `MapRegion` — one mapped region, unmapped on drop, with `flush`;
//! * `granularity` — the alignment a mapping offset must have;
//! * `SysMutex` — the OS's robust process-shared mutex, its state in a `MUTEX_SLOT`-byte slot
//!   of a mapping and/or a kernel object named after the segment;
//! * `SysWaker` — sleep until a 32-bit word in a mapping changes, and wake such sleepers;
//! * `wait_any` (with `WaitOn`, `wait_any_max`, `wait_any_raw`, `wake_count`, `unmaps`) —
//!   sleep until any of several such words changes (`futex_waitv`, `WaitForMultipleObjects`,
//!   polling), for `crate::waitset`;
//! * `process_alive` (Unix but Linux) — whether a process id names a running process;
//! * `role` — who holds a role of an object, as the kernel sees it: `hold`, `release`,
//!   `holder_alive`, and the object's users (`join_users`, `users_present`, `exclude_users`).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

#[cfg(not(any(unix, windows)))]
compile_error!("shmkit supports Unix (Linux, macOS, the BSDs) and Windows");

/// How `shm_open` treats an existing or missing name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpenHow {
    /// Fail with `AlreadyExists` if the name exists.
    Create,
    /// Fail with `NotFound` if the name does not exist.
    Open,
    /// Open the name if it exists, create it otherwise.
    OpenOrCreate,
}

/// What `shm_open` returns: the section, its size, and whether this call created it.
pub(crate) struct Opened {
    pub(crate) section: Section,
    pub(crate) len: usize,
    pub(crate) created: bool,
}

/// How long a blocking call may wait: the one form every `recv`/`loan`/`wait` family is
/// written on (`try_*`, the plain blocking call, `*_timeout`, `*_deadline`).
///
/// Public for the calls that take it directly, the held forms bindings use
/// ([`Consumer::recv_held`](crate::channel::Consumer::recv_held),
/// [`Producer::loan_held`](crate::channel::Producer::loan_held)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// Do not wait at all.
    Try,
    /// Wait as long as it takes.
    Forever,
    /// Wait until this instant of the monotonic clock.
    At(std::time::Instant),
}

impl Deadline {
    /// The deadline `timeout` from now (`Forever` if that overflows the clock).
    pub fn after(timeout: std::time::Duration) -> Deadline {
        std::time::Instant::now()
            .checked_add(timeout)
            .map_or(Deadline::Forever, Deadline::At)
    }

    /// Time left, `None` for `Forever`; zero once passed or for `Try`.
    pub(crate) fn remaining(self) -> Option<std::time::Duration> {
        match self {
            Deadline::Try => Some(std::time::Duration::ZERO),
            Deadline::Forever => None,
            Deadline::At(t) => Some(t.saturating_duration_since(std::time::Instant::now())),
        }
    }

    /// The earlier of two deadlines.
    pub(crate) fn min(self, other: Deadline) -> Deadline {
        match (self, other) {
            (Deadline::Try, _) | (_, Deadline::Try) => Deadline::Try,
            (Deadline::Forever, d) | (d, Deadline::Forever) => d,
            (Deadline::At(a), Deadline::At(b)) => Deadline::At(a.min(b)),
        }
    }

    /// Whether no more waiting is allowed.
    pub(crate) fn passed(self) -> bool {
        self.remaining() == Some(std::time::Duration::ZERO)
    }

    /// Asks `attempt` until it gives an answer (`Some`) or this deadline passes (`None`),
    /// sleeping between attempts: 100 µs at first, doubling to 10 ms. For waits with no bell
    /// to sleep on (an object's name appearing, subscribers joining), which poll.
    pub(crate) fn poll<T>(self, mut attempt: impl FnMut() -> Option<T>) -> Option<T> {
        const FIRST: std::time::Duration = std::time::Duration::from_micros(100);
        const LAST: std::time::Duration = std::time::Duration::from_millis(10);
        let mut pause = FIRST;
        loop {
            if let Some(answer) = attempt() {
                return Some(answer);
            }
            let left = self.remaining().unwrap_or(pause);
            if left.is_zero() {
                return None;
            }
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(LAST);
        }
    }
}

/// How a lock was acquired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acquired {
    /// The previous owner unlocked it.
    Clean,
    /// The previous owner died holding it; the protected data may be inconsistent.
    OwnerDied,
}
