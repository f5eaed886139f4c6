//! Unix synchronisation: the robust process-shared mutex and the word waker.
//!
//! * Linux: a `pthread_mutex_t` with `PTHREAD_PROCESS_SHARED`, `PTHREAD_MUTEX_ROBUST` and
//!   `PTHREAD_MUTEX_ERRORCHECK`, placed in the mapping. glibc keeps each thread's robust list
//!   (`set_robust_list`) and the kernel walks it when a thread dies, so a holder killed with
//!   SIGKILL hands the lock on with `EOWNERDEAD`. A home-made futex mutex could not join that
//!   list safely. Waits use `FUTEX_WAIT` on the shared word, without `FUTEX_PRIVATE_FLAG`.
//! * Other Unixes (macOS): no robust mutexes and no public futex. The mutex is a lock word
//!   holding the owner's pid and a per-thread token; a waiter polls it with back-off and, while
//!   waiting, checks whether the owner's pid is still alive, taking the lock over with "owner
//!   died" if not. The known hole: a pid reused by a new process before the check looks alive.
//!   Waits poll the word (1 ms … 10 ms); wakes are no-ops.

use std::sync::atomic::AtomicU32;

use super::super::Deadline;
use crate::Result;

/// Bytes a mapping reserves for a [`SysMutex`].
pub(crate) const MUTEX_SLOT: usize = 64;

/// Whether `pid` names a live process (a process we may not signal is alive). Only where
/// there is nothing better (macOS, the BSDs): a reused pid looks alive.
#[cfg(not(target_os = "linux"))]
pub(crate) fn process_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

/// The calling process's id.
pub(crate) fn current_pid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

#[cfg(target_os = "linux")]
mod imp {
    use std::mem::MaybeUninit;
    use std::sync::atomic::AtomicU32;
    use std::sync::OnceLock;
    use std::time::Instant;

    use super::MUTEX_SLOT;
    use crate::sys::{Acquired, Deadline};
    use crate::{Error, Result};

    const _: () = assert!(std::mem::size_of::<libc::pthread_mutex_t>() <= MUTEX_SLOT);
    const _: () = assert!(std::mem::align_of::<libc::pthread_mutex_t>() <= 8);

    /// `pthread_mutex_clocklock`: glibc >= 2.30, and not in the libc crate.
    type ClockLock = unsafe extern "C" fn(
        *mut libc::pthread_mutex_t,
        libc::clockid_t,
        *const libc::timespec,
    ) -> libc::c_int;

    /// `pthread_mutex_clocklock` if the C library has it, looked up once at run time: linking
    /// it directly would stop the binary from loading on glibc < 2.30 (or on musl), for the
    /// sake of timed locks alone.
    fn clocklock() -> Option<ClockLock> {
        static FOUND: OnceLock<Option<ClockLock>> = OnceLock::new();
        *FOUND.get_or_init(|| {
            // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name has no preconditions;
            // it returns null when no loaded object defines the symbol.
            let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"pthread_mutex_clocklock".as_ptr()) };
            // SAFETY: a non-null address for this name is glibc's pthread_mutex_clocklock,
            // whose C signature `ClockLock` spells.
            (!f.is_null())
                .then(|| unsafe { std::mem::transmute::<*mut libc::c_void, ClockLock>(f) })
        })
    }

    /// A robust, process-shared, error-checking pthread mutex living in a mapping.
    #[derive(Debug)]
    pub(crate) struct SysMutex {
        m: *mut libc::pthread_mutex_t,
    }

    // SAFETY: the pointer targets a process-shared mutex in a mapping kept alive by the owner
    // of this value; such a mutex may be locked from any thread (each thread unlocks only
    // what it locked, which the non-Send guards ensure).
    unsafe impl Send for SysMutex {}
    // SAFETY: as for Send; all operations go through the thread-safe pthread API.
    unsafe impl Sync for SysMutex {}

    fn check(r: libc::c_int, op: &'static str, name: &str) -> Result<()> {
        if r == 0 {
            Ok(())
        } else {
            Err(Error::os(op, name, std::io::Error::from_raw_os_error(r)))
        }
    }

    impl SysMutex {
        /// Initialises a new mutex in `slot`.
        ///
        /// # Safety
        ///
        /// `slot` is 8-byte aligned, valid for `MUTEX_SLOT` bytes of a shared mapping that
        /// outlives the returned value, and no other process uses it yet.
        pub(crate) unsafe fn init(slot: *mut u8, name: &str) -> Result<SysMutex> {
            let m = slot.cast::<libc::pthread_mutex_t>();
            let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
            // SAFETY: the attribute object is initialised before use and destroyed after; the
            // slot is valid and unshared, as the caller promises.
            unsafe {
                check(
                    libc::pthread_mutexattr_init(attr.as_mut_ptr()),
                    "pthread_mutexattr_init",
                    name,
                )?;
                let a = attr.as_mut_ptr();
                let r = (|| {
                    check(
                        libc::pthread_mutexattr_setpshared(a, libc::PTHREAD_PROCESS_SHARED),
                        "pthread_mutexattr_setpshared",
                        name,
                    )?;
                    check(
                        libc::pthread_mutexattr_setrobust(a, libc::PTHREAD_MUTEX_ROBUST),
                        "pthread_mutexattr_setrobust",
                        name,
                    )?;
                    check(
                        libc::pthread_mutexattr_settype(a, libc::PTHREAD_MUTEX_ERRORCHECK),
                        "pthread_mutexattr_settype",
                        name,
                    )?;
                    check(libc::pthread_mutex_init(m, a), "pthread_mutex_init", name)
                })();
                libc::pthread_mutexattr_destroy(a);
                r?;
            }
            Ok(SysMutex { m })
        }

        /// Uses the mutex another process initialised in `slot`.
        ///
        /// # Safety
        ///
        /// As [`SysMutex::init`], and the slot holds a mutex made by `init` (the segment's
        /// header says so).
        pub(crate) unsafe fn attach(slot: *mut u8, _name: &str) -> Result<SysMutex> {
            Ok(SysMutex { m: slot.cast() })
        }

        /// Locks, waiting until `deadline`.
        pub(crate) fn lock(&self, deadline: Deadline, name: &str) -> Result<Acquired> {
            // SAFETY: `m` points to an initialised process-shared mutex in a live mapping
            // (the contract of `init`/`attach`).
            let r = unsafe {
                match deadline {
                    Deadline::Try => libc::pthread_mutex_trylock(self.m),
                    Deadline::Forever => libc::pthread_mutex_lock(self.m),
                    Deadline::At(t) => timed_lock(self.m, t),
                }
            };
            match r {
                0 => Ok(Acquired::Clean),
                libc::EOWNERDEAD => Ok(Acquired::OwnerDied),
                libc::EBUSY | libc::ETIMEDOUT => Err(Error::gave_up(name, deadline)),
                libc::ENOTRECOVERABLE => Err(Error::Unrecoverable {
                    name: name.to_owned(),
                }),
                libc::EDEADLK => Err(Error::Deadlock {
                    name: name.to_owned(),
                }),
                e => Err(Error::os(
                    "pthread_mutex_lock",
                    name,
                    std::io::Error::from_raw_os_error(e),
                )),
            }
        }

        /// Marks the state protected by a mutex acquired with `OwnerDied` as repaired.
        pub(crate) fn mark_consistent(&self) {
            // SAFETY: as in `lock`; the calling thread holds the mutex.
            unsafe { libc::pthread_mutex_consistent(self.m) };
        }

        /// Unlocks a mutex the calling thread holds.
        pub(crate) fn unlock(&self) {
            // SAFETY: as in `lock`; callers only unlock what this thread locked.
            unsafe { libc::pthread_mutex_unlock(self.m) };
        }
    }

    /// Locks `m`, waiting until `t`: `pthread_mutex_clocklock` on CLOCK_MONOTONIC where the C
    /// library has it, else `pthread_mutex_timedlock`.
    ///
    /// # Safety
    ///
    /// `m` is an initialised mutex.
    unsafe fn timed_lock(m: *mut libc::pthread_mutex_t, t: Instant) -> libc::c_int {
        // SAFETY: the caller's contract.
        unsafe { timed_lock_with(m, t, clocklock()) }
    }

    /// [`timed_lock`] with `clocklock` given, so that tests can take the fallback.
    ///
    /// The fallback, `pthread_mutex_timedlock`, measures its deadline on CLOCK_REALTIME: the
    /// time left until `t` is added to the wall clock's "now", so a wall-clock step during the
    /// wait (NTP, an administrator) lengthens or shortens it by as much.
    ///
    /// # Safety
    ///
    /// `m` is an initialised mutex.
    unsafe fn timed_lock_with(
        m: *mut libc::pthread_mutex_t,
        t: Instant,
        clocklock: Option<ClockLock>,
    ) -> libc::c_int {
        let left = t.saturating_duration_since(Instant::now());
        let clock = if clocklock.is_some() {
            libc::CLOCK_MONOTONIC
        } else {
            libc::CLOCK_REALTIME
        };
        let mut now = MaybeUninit::<libc::timespec>::uninit();
        // SAFETY: `now` is a valid out-pointer.
        unsafe { libc::clock_gettime(clock, now.as_mut_ptr()) };
        // SAFETY: clock_gettime filled it.
        let now = unsafe { now.assume_init() };
        let mut sec = now.tv_sec.saturating_add(left.as_secs() as libc::time_t);
        let mut nsec = now.tv_nsec + left.subsec_nanos() as libc::c_long;
        if nsec >= 1_000_000_000 {
            nsec -= 1_000_000_000;
            sec = sec.saturating_add(1);
        }
        let abs = libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        };
        match clocklock {
            // SAFETY: `m` is initialised (caller), `abs` is a valid timespec on `clock`, and
            // `f` is pthread_mutex_clocklock (see `clocklock`).
            Some(f) => unsafe { f(m, clock, &abs) },
            // SAFETY: as above; the deadline is on CLOCK_REALTIME, as timedlock wants.
            None => unsafe { libc::pthread_mutex_timedlock(m, &abs) },
        }
    }

    /// Sleeps while `word` holds `expected`, until woken or `deadline` (spurious returns allowed).
    pub(crate) fn wait_word(word: &AtomicU32, expected: u32, deadline: Deadline) {
        use rustix::thread::futex;
        let timeout = deadline.remaining().map(|d| futex::Timespec {
            tv_sec: d.as_secs() as _,
            tv_nsec: d.subsec_nanos() as _,
        });
        // Flags::empty(): a shared futex, keyed by the physical page, so it works across
        // processes. EAGAIN (the word changed), EINTR and ETIMEDOUT all return to the caller's
        // loop, which re-checks the word and the deadline.
        let _ = futex::wait(word, futex::Flags::empty(), expected, timeout.as_ref());
    }

    /// Wakes up to `n` sleepers in [`wait_word`] on `word`; how many were woken, if known.
    ///
    /// The kernel reads the count as a C `int` and stops after the first wake once it has
    /// woken `nr_wake` or more (`futex_wake`: `if (++ret >= nr_wake) break`), so a count
    /// above `i32::MAX` — `u32::MAX`, "all", is -1 there — would wake exactly one. Clamped,
    /// as glibc's broadcast passes `INT_MAX`.
    pub(crate) fn wake_word(word: &AtomicU32, n: u32) -> Option<usize> {
        let n = n.min(i32::MAX as u32);
        rustix::thread::futex::wake(word, rustix::thread::futex::Flags::empty(), n).ok()
    }

    #[cfg(test)]
    mod tests {
        use std::sync::mpsc;
        use std::time::Duration;

        use super::*;

        /// A wake of `u32::MAX` ("all") wakes every sleeper, not one (the kernel's count is
        /// an `int`: see `wake_word`).
        #[test]
        fn a_wake_of_all_wakes_every_sleeper() {
            let word = AtomicU32::new(0);
            let (tx, rx) = mpsc::channel();
            std::thread::scope(|s| {
                for _ in 0..3 {
                    let (word, tx) = (&word, tx.clone());
                    s.spawn(move || {
                        // No deadline, and the word never changes: only a wake ends this.
                        wait_word(word, 0, Deadline::Forever);
                        tx.send(()).unwrap();
                    });
                }
                // Let all three fall asleep (one that has not yet makes the count below 3
                // and the test fail, never pass wrongly).
                std::thread::sleep(Duration::from_millis(200));
                let woken = wake_word(&word, u32::MAX);
                let got = (0..3)
                    .filter(|_| rx.recv_timeout(Duration::from_secs(10)).is_ok())
                    .count();
                if got < 3 {
                    // Free the rest one by one so that the scope can end, then fail.
                    while wake_word(&word, 1) != Some(0) {}
                }
                assert_eq!((woken, got), (Some(3), 3));
            });
        }

        /// A robust mutex in (private) heap memory, and a thread that holds it until told.
        #[test]
        fn timed_locks_work_without_clocklock() {
            let mut slot = Box::new([0u64; MUTEX_SLOT / 8]);
            // SAFETY: the slot is 8-byte aligned, MUTEX_SLOT bytes, outlives the mutex (both
            // live until the end of this test) and nobody else uses it.
            let m = unsafe { SysMutex::init(slot.as_mut_ptr().cast(), "test").unwrap() };
            for clocklock in [None, clocklock()] {
                let (locked_tx, locked_rx) = mpsc::channel();
                let (release_tx, release_rx) = mpsc::channel::<()>();
                std::thread::scope(|s| {
                    let m = &m;
                    s.spawn(move || {
                        m.lock(Deadline::Forever, "test").unwrap();
                        locked_tx.send(()).unwrap();
                        release_rx.recv().unwrap();
                        m.unlock();
                    });
                    locked_rx.recv().unwrap();
                    let soon = Instant::now() + Duration::from_millis(20);
                    // SAFETY: `m.m` is initialised.
                    let r = unsafe { timed_lock_with(m.m, soon, clocklock) };
                    assert_eq!(r, libc::ETIMEDOUT, "clocklock: {}", clocklock.is_some());
                    release_tx.send(()).unwrap();
                });
                let later = Instant::now() + Duration::from_secs(30);
                // SAFETY: as above; the other thread has unlocked and ended.
                assert_eq!(unsafe { timed_lock_with(m.m, later, clocklock) }, 0);
                m.unlock();
            }
        }

        #[test]
        #[cfg(target_env = "gnu")]
        fn glibc_has_clocklock() {
            // Every glibc this crate is tested on is >= 2.30; the fallback is for older ones.
            assert!(clocklock().is_some());
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use super::{current_pid, process_alive, MUTEX_SLOT};
    use crate::sys::{Acquired, Deadline};
    use crate::{Error, Result};

    const _: () = assert!(std::mem::size_of::<AtomicU64>() <= MUTEX_SLOT);

    /// A lock word `pid << 32 | thread token`, 0 when free, polled by waiters.
    #[derive(Debug)]
    pub(crate) struct SysMutex {
        word: *const AtomicU64,
    }

    // SAFETY: the pointer targets an atomic in a mapping kept alive by the owner of this
    // value; atomics may be used from any thread.
    unsafe impl Send for SysMutex {}
    // SAFETY: as for Send.
    unsafe impl Sync for SysMutex {}

    fn me() -> u64 {
        use std::sync::atomic::AtomicU32 as Counter;
        static NEXT: Counter = Counter::new(1);
        std::thread_local!(static TOKEN: u32 = NEXT.fetch_add(1, Ordering::Relaxed));
        (u64::from(current_pid()) << 32) | u64::from(TOKEN.with(|t| *t))
    }

    impl SysMutex {
        /// Initialises a new mutex in `slot`.
        ///
        /// # Safety
        ///
        /// `slot` is 8-byte aligned, valid for `MUTEX_SLOT` bytes of a shared mapping that
        /// outlives the returned value.
        pub(crate) unsafe fn init(slot: *mut u8, name: &str) -> Result<SysMutex> {
            // SAFETY: as promised by the caller.
            unsafe { SysMutex::attach(slot, name) }
        }

        /// Uses the mutex in `slot`.
        ///
        /// # Safety
        ///
        /// As [`SysMutex::init`].
        pub(crate) unsafe fn attach(slot: *mut u8, _name: &str) -> Result<SysMutex> {
            Ok(SysMutex { word: slot.cast() })
        }

        fn word(&self) -> &AtomicU64 {
            // SAFETY: aligned, in a live shared mapping (contract of `init`/`attach`).
            unsafe { &*self.word }
        }

        /// Locks, waiting until `deadline`; takes the lock over if its owner's pid is dead.
        pub(crate) fn lock(&self, deadline: Deadline, name: &str) -> Result<Acquired> {
            let me = me();
            let mut pause = Duration::from_micros(50);
            let mut last_check = Instant::now();
            loop {
                // SYNC POINT: Acquire pairs with the Release store in `unlock`.
                match self
                    .word()
                    .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
                {
                    Ok(_) => return Ok(Acquired::Clean),
                    Err(owner) if owner == me => {
                        return Err(Error::Deadlock {
                            name: name.to_owned(),
                        })
                    }
                    Err(owner) => {
                        if (deadline == Deadline::Try
                            || last_check.elapsed() > Duration::from_millis(20))
                            && !process_alive((owner >> 32) as u32)
                            && self
                                .word()
                                .compare_exchange(owner, me, Ordering::Acquire, Ordering::Relaxed)
                                .is_ok()
                        {
                            return Ok(Acquired::OwnerDied);
                        }
                        last_check = Instant::now();
                    }
                }
                if deadline.passed() {
                    return Err(Error::gave_up(name, deadline));
                }
                std::thread::sleep(pause.min(deadline.remaining().unwrap_or(pause)));
                pause = (pause * 2).min(Duration::from_millis(5));
            }
        }

        /// Nothing to do: the state word outside this lock carries consistency.
        pub(crate) fn mark_consistent(&self) {}

        /// Unlocks.
        pub(crate) fn unlock(&self) {
            // SYNC POINT: Release pairs with the Acquire in `lock`.
            self.word().store(0, Ordering::Release);
        }
    }

    /// Polls `word` until it differs from `expected` or `deadline` passes (no futex here).
    pub(crate) fn wait_word(word: &AtomicU32, expected: u32, deadline: Deadline) {
        let mut pause = Duration::from_millis(1);
        while word.load(Ordering::Acquire) == expected && !deadline.passed() {
            std::thread::sleep(pause.min(deadline.remaining().unwrap_or(pause)));
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// Nothing to wake: waiters poll.
    pub(crate) fn wake_word(_word: &AtomicU32, _n: u32) -> Option<usize> {
        None
    }
}

pub(crate) use imp::SysMutex;

/// Sleeps on 32-bit words in a mapping. Unix needs no kernel object for that.
#[derive(Debug)]
pub(crate) struct SysWaker;

impl SysWaker {
    /// The waker named `name` (creator side).
    pub(crate) fn create(_name: &str) -> Result<SysWaker> {
        Ok(SysWaker)
    }

    /// The waker named `name` (opener side).
    pub(crate) fn open(_name: &str) -> Result<SysWaker> {
        Ok(SysWaker)
    }

    /// A waker for words in this process's own memory, which no other process opens.
    pub(crate) fn private() -> Result<SysWaker> {
        Ok(SysWaker)
    }

    /// Sleeps while `word == expected`, until woken or `deadline`; may return spuriously.
    pub(crate) fn wait(&self, word: &AtomicU32, expected: u32, deadline: Deadline) -> Result<()> {
        imp::wait_word(word, expected, deadline);
        Ok(())
    }

    /// Wakes up to `n` sleepers on `word`; returns how many were asleep and woken, where the
    /// OS says (Linux), `None` elsewhere.
    pub(crate) fn wake(&self, word: &AtomicU32, n: u32) -> Option<usize> {
        imp::wake_word(word, n)
    }
}
