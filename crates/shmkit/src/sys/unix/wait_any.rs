//! Sleeping until any of several words changes (the OS half of `crate::waitset`).
//!
//! * Linux 5.16+: `futex_waitv` on up to [`wait_any_max`] shared (not `FUTEX2_PRIVATE`) 32-bit
//!   futexes, with an absolute deadline on `CLOCK_MONOTONIC`. A `FUTEX_WAKE` on any of the
//!   words (what every waker in shmkit issues) ends it, and so does a word that no longer
//!   holds its expected value when the call starts (checked by the kernel atomically with
//!   queueing, as for `FUTEX_WAIT`).
//! * Older Linux kernels (`ENOSYS`, detected once): degraded. The sleeper `FUTEX_WAIT`s on one
//!   of the words (a different one each call) for a slice of 2 ms and looks at all of them
//!   in between, so a change of the word slept on is seen at once and any other within a
//!   slice.
//! * Other Unixes (macOS): no public futex, so every word is polled, 1–10 ms apart, as the
//!   single-word wait there does.

use std::sync::atomic::AtomicU32;
#[cfg(target_os = "linux")]
use std::sync::atomic::{AtomicU8, Ordering};

use super::SysWaker;
use crate::sys::Deadline;
use crate::Result;

/// One word of a [`wait_any`]: sleep while `word == expected`; `waker` is the word's
/// [`SysWaker`] (no kernel object on Unix; the Windows backend waits on it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaitOn<'a> {
    pub(crate) word: &'a AtomicU32,
    pub(crate) expected: u32,
    #[allow(dead_code)] // the Windows backend waits on it; Unix needs the word only
    pub(crate) waker: &'a SysWaker,
}

/// A [`WaitOn`] without its lifetime, for a helper thread of a large wait set (see
/// [`wait_any_raw`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawWaitOn {
    word: usize,
    expected: u32,
}

impl WaitOn<'_> {
    /// This entry without its borrow.
    pub(crate) fn raw(&self) -> RawWaitOn {
        RawWaitOn {
            word: self.word as *const AtomicU32 as usize,
            expected: self.expected,
        }
    }
}

/// How many sleepers a wake of `n` asks the OS to wake when `sleeping` are counted in: `n`.
/// A futex wake of more than are asleep costs nothing more, and a wait set's helper thread
/// may be queued on the word without being counted (`crate::waitset`): a wake of every
/// sleeper must reach the counted ones too.
pub(crate) fn wake_count(n: u32, _sleeping: u32) -> u32 {
    n
}

/// Regions this process has unmapped: an address a helper's wait was armed with may name
/// other memory once this has moved (`crate::waitset`'s helpers re-arm then).
static UNMAPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts an unmapping (`MapRegion::drop`).
pub(super) fn unmapped() {
    UNMAPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// How many regions this process has unmapped so far.
pub(crate) fn unmaps() -> u64 {
    UNMAPS.load(std::sync::atomic::Ordering::SeqCst)
}

/// Whether a helper thread must be out of [`wait_any_raw`] before the words it was given may
/// go away. Not with `futex_waitv`: the kernel reads the words there (an address no longer
/// mapped is `EFAULT`, a spurious return), user space never does.
pub(crate) fn raw_needs_live() -> bool {
    !wait_any_is_native()
}

/// `futex_waitv`'s limit on words per call (`FUTEX_WAITV_MAX`).
#[cfg(target_os = "linux")]
const WAITV_MAX: usize = 128;

/// Whether the kernel has `futex_waitv`: 0 not asked yet, 1 yes, 2 no.
#[cfg(target_os = "linux")]
static WAITV: AtomicU8 = AtomicU8::new(0);

/// Whether `futex_waitv` exists, asked of the kernel once: a call with no words is `EINVAL`
/// where it exists, `ENOSYS` where it does not.
#[cfg(target_os = "linux")]
fn have_waitv() -> bool {
    use rustix::thread::futex;
    match WAITV.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let r = futex::waitv(
                &[],
                futex::WaitvFlags::empty(),
                None,
                rustix::time::ClockId::Monotonic,
            );
            let have = !matches!(r, Err(rustix::io::Errno::NOSYS));
            WAITV.store(if have { 1 } else { 2 }, Ordering::Relaxed);
            have
        }
    }
}

/// How many words one [`wait_any`] call takes; larger sets are split across helper threads
/// (`crate::waitset`). Unlimited where the wait polls.
pub(crate) fn wait_any_max() -> usize {
    #[cfg(target_os = "linux")]
    if have_waitv() {
        return WAITV_MAX;
    }
    usize::MAX
}

/// Whether [`wait_any`] is the real thing here (`futex_waitv`), not a degraded poll.
pub(crate) fn wait_any_is_native() -> bool {
    #[cfg(target_os = "linux")]
    return have_waitv();
    #[cfg(not(target_os = "linux"))]
    false
}

/// Sleeps while every `on[i].word == on[i].expected`, until one changes, a wake on one of
/// them, or `deadline`. May return spuriously; callers loop and re-check. At most
/// [`wait_any_max`] entries.
pub(crate) fn wait_any(on: &[WaitOn<'_>], deadline: Deadline) -> Result<()> {
    debug_assert!(on.len() <= wait_any_max());
    #[cfg(target_os = "linux")]
    if have_waitv() && !on.is_empty() {
        let mut buf = [rustix::thread::futex::Wait::new(); WAITV_MAX];
        let n = on.len().min(WAITV_MAX);
        for (w, o) in buf.iter_mut().zip(on) {
            *w = waiter(o.raw());
        }
        waitv(&buf[..n], deadline);
        return Ok(());
    }
    poll(on.len(), |i| (on[i].word, on[i].expected), deadline);
    Ok(())
}

/// [`wait_any`] for a helper thread, whose words belong to a call that may have returned.
///
/// # Safety
///
/// Where [`raw_needs_live`] says so, every word stays mapped until this returns.
pub(crate) unsafe fn wait_any_raw(on: &[RawWaitOn], deadline: Deadline) -> Option<usize> {
    #[cfg(target_os = "linux")]
    if have_waitv() {
        let mut buf = [rustix::thread::futex::Wait::new(); WAITV_MAX];
        let n = on.len().min(WAITV_MAX);
        for (w, &o) in buf.iter_mut().zip(on) {
            *w = waiter(o);
        }
        return waitv(&buf[..n], deadline);
    }
    poll(
        on.len(),
        |i| {
            // SAFETY: without futex_waitv, `raw_needs_live()` holds, so the caller keeps the
            // word mapped until this returns; it is an aligned AtomicU32 (made from one).
            (
                unsafe { &*(on[i].word as *const AtomicU32) },
                on[i].expected,
            )
        },
        deadline,
    );
    None
}

#[cfg(target_os = "linux")]
fn waiter(o: RawWaitOn) -> rustix::thread::futex::Wait {
    use rustix::thread::futex;
    let mut w = futex::Wait::new();
    w.val = u64::from(o.expected);
    w.uaddr = futex::WaitPtr::new(o.word as *mut std::ffi::c_void);
    // SIZE_U32 without FUTEX2_PRIVATE: a shared futex, keyed by the page, so that wakers in
    // other processes find it.
    w.flags = futex::WaitFlags::SIZE_U32;
    w
}

/// One `futex_waitv` call; every outcome (woken, `EAGAIN`: a word changed, `ETIMEDOUT`,
/// `EINTR`, `EFAULT`: a word no longer mapped) returns to the caller's loop. The index of
/// the word woken, if one was.
#[cfg(target_os = "linux")]
fn waitv(waits: &[rustix::thread::futex::Wait], deadline: Deadline) -> Option<usize> {
    use rustix::thread::futex;
    use rustix::time::ClockId;
    // futex_waitv takes an absolute time on the clock it is given: the monotonic one.
    let abs = deadline.remaining().map(|left| {
        let now = rustix::time::clock_gettime(ClockId::Monotonic);
        let mut sec = now.tv_sec.saturating_add(left.as_secs() as _);
        let mut nsec = now.tv_nsec + left.subsec_nanos() as i64;
        if nsec >= 1_000_000_000 {
            nsec -= 1_000_000_000;
            sec = sec.saturating_add(1);
        }
        futex::Timespec {
            tv_sec: sec,
            tv_nsec: nsec as _,
        }
    });
    futex::waitv(
        waits,
        futex::WaitvFlags::empty(),
        abs.as_ref(),
        ClockId::Monotonic,
    )
    .ok()
}

/// The degraded wait (module docs): returns once a word differs from its expected value, or
/// after one slice (Linux without `futex_waitv`), or at the deadline.
fn poll<'a>(n: usize, at: impl Fn(usize) -> (&'a AtomicU32, u32), deadline: Deadline) {
    use std::time::Duration;
    if n == 0 {
        let nap = deadline.remaining().unwrap_or(Duration::from_millis(10));
        std::thread::sleep(nap.min(Duration::from_millis(10)));
        return;
    }
    #[cfg(target_os = "linux")]
    {
        use std::sync::atomic::AtomicUsize;
        if (0..n).any(|i| {
            let (w, e) = at(i);
            w.load(Ordering::Acquire) != e
        }) {
            return;
        }
        // A different word each call, so that over a few slices each is slept on.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let (word, expected) = at(NEXT.fetch_add(1, Ordering::Relaxed) % n);
        let slice = std::time::Duration::from_millis(2);
        let left = deadline.remaining().map_or(slice, |r| r.min(slice));
        let timeout = rustix::thread::futex::Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let _ = rustix::thread::futex::wait(
            word,
            rustix::thread::futex::Flags::empty(),
            expected,
            Some(&timeout),
        );
    }
    #[cfg(not(target_os = "linux"))]
    {
        use std::sync::atomic::Ordering;
        let mut pause = Duration::from_millis(1);
        loop {
            if (0..n).any(|i| {
                let (w, e) = at(i);
                w.load(Ordering::Acquire) != e
            }) || deadline.passed()
            {
                return;
            }
            std::thread::sleep(pause.min(deadline.remaining().unwrap_or(pause)));
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{Duration, Instant};

    use super::*;

    /// The degraded wait (no `futex_waitv`, or macOS) returns once a word changes, whichever
    /// it sleeps on, and at the deadline otherwise.
    #[test]
    fn the_degraded_wait_sees_any_word_change() {
        let words: Vec<AtomicU32> = (0..5).map(|_| AtomicU32::new(7)).collect();
        let at = |i: usize| (&words[i], 7);
        let t0 = Instant::now();
        let d = Deadline::after(Duration::from_millis(30));
        while !d.passed() {
            poll(words.len(), at, d);
        }
        assert!(t0.elapsed() >= Duration::from_millis(30));
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                words[3].store(8, Ordering::Release);
            });
            let d = Deadline::after(Duration::from_secs(30));
            while words[3].load(Ordering::Acquire) == 7 {
                poll(words.len(), at, d);
                assert!(!d.passed(), "the change was never seen");
            }
        });
    }
}
