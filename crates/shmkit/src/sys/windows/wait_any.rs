//! Sleeping until any of several words changes (the OS half of `crate::waitset`):
//! `WaitForMultipleObjects` on the words' wakers, the named semaphores every wake releases
//! permits of (`sync.rs`). A wake of a member whose sleeper count includes the wait set leaves
//! a permit there, so a wake between the wait set's last look and this wait is not lost; the
//! wait takes that permit. At most `MAXIMUM_WAIT_OBJECTS` (64) handles per call; larger sets
//! are split across helper threads by `crate::waitset`.

use std::sync::atomic::AtomicU32;

use windows_sys::Win32::Foundation::{HANDLE, WAIT_FAILED, WAIT_OBJECT_0, WAIT_TIMEOUT};
use windows_sys::Win32::System::Threading::{WaitForMultipleObjects, INFINITE};

use super::SysWaker;
use crate::sys::Deadline;
use crate::Result;

/// `MAXIMUM_WAIT_OBJECTS`.
const MAX: usize = 64;

/// One member of a [`wait_any`]: its word (unused here: the semaphore carries the wake) and
/// its waker.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaitOn<'a> {
    #[allow(dead_code)] // the Unix backend sleeps on the word; here the semaphore carries it
    pub(crate) word: &'a AtomicU32,
    #[allow(dead_code)]
    pub(crate) expected: u32,
    pub(crate) waker: &'a SysWaker,
}

/// A [`WaitOn`] without its lifetime: the raw handle, for a helper thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawWaitOn {
    handle: usize,
}

impl WaitOn<'_> {
    /// This entry without its borrow.
    pub(crate) fn raw(&self) -> RawWaitOn {
        RawWaitOn {
            handle: self.waker.raw_handle() as usize,
        }
    }
}

/// A helper must leave [`wait_any_raw`] before its handles may be closed: waiting on a handle
/// that is closed meanwhile is undefined.
pub(crate) fn raw_needs_live() -> bool {
    true
}

/// Unmappings are not counted here: helpers never stay armed on Windows
/// ([`raw_needs_live`]).
pub(crate) fn unmaps() -> u64 {
    0
}

/// How many permits a wake of `n` releases when `sleeping` are counted in: no more than
/// that, since a permit nobody takes makes a later wait return at once.
pub(crate) fn wake_count(n: u32, sleeping: u32) -> u32 {
    n.min(sleeping)
}

/// How many members one [`wait_any`] call takes.
pub(crate) fn wait_any_max() -> usize {
    MAX
}

/// `WaitForMultipleObjects` is the real thing.
pub(crate) fn wait_any_is_native() -> bool {
    true
}

/// Sleeps until a wake of one of `on` (a permit of its semaphore, which this takes) or
/// `deadline`. May return spuriously (a stale permit). At most [`wait_any_max`] entries.
pub(crate) fn wait_any(on: &[WaitOn<'_>], deadline: Deadline) -> Result<()> {
    let mut handles = [std::ptr::null_mut(); MAX];
    for (h, o) in handles.iter_mut().zip(on) {
        *h = o.waker.raw_handle();
    }
    wait_handles(&handles[..on.len().min(MAX)], deadline).map(|_| ())
}

/// [`wait_any`] for a helper thread.
///
/// # Safety
///
/// Every handle stays open until this returns ([`raw_needs_live`]).
pub(crate) unsafe fn wait_any_raw(on: &[RawWaitOn], deadline: Deadline) -> Option<usize> {
    let mut handles = [std::ptr::null_mut(); MAX];
    for (h, o) in handles.iter_mut().zip(on) {
        *h = o.handle as HANDLE;
    }
    wait_handles(&handles[..on.len().min(MAX)], deadline)
        .ok()
        .flatten()
}

/// The index of the handle signalled, if one was.
fn wait_handles(handles: &[HANDLE], deadline: Deadline) -> Result<Option<usize>> {
    if handles.is_empty() {
        let nap = deadline
            .remaining()
            .unwrap_or(std::time::Duration::from_millis(10));
        std::thread::sleep(nap.min(std::time::Duration::from_millis(10)));
        return Ok(None);
    }
    loop {
        let ms = match deadline.remaining() {
            None => INFINITE,
            // Round up so a wait never ends before the deadline; cap below INFINITE.
            Some(d) => d
                .as_nanos()
                .div_ceil(1_000_000)
                .min(u128::from(INFINITE - 1)) as u32,
        };
        // SAFETY: `handles` holds at most 64 valid semaphore handles that stay open during
        // the call (the callers' contract); bWaitAll is FALSE.
        let r = unsafe { WaitForMultipleObjects(handles.len() as u32, handles.as_ptr(), 0, ms) };
        if r == WAIT_TIMEOUT && !deadline.passed() {
            continue; // a capped wait of a very long deadline
        }
        if r == WAIT_FAILED {
            return Err(super::last_error("WaitForMultipleObjects", "waitset", 0));
        }
        let i = r.wrapping_sub(WAIT_OBJECT_0) as usize;
        return Ok((i < handles.len()).then_some(i));
    }
}
