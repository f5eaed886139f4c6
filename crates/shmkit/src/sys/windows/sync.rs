//! Windows synchronisation: named kernel mutexes and semaphores whose names derive from the
//! segment's name. `WaitOnAddress` only works inside one process, so cross-process sleeping
//! uses a named semaphore: sleepers wait on it, wakers release one permit per sleeper.
//!
//! Kernel objects share one namespace with file mappings, hence the suffixes: the mutex of
//! segment `foo` is `foo.lock`, its waker `foo.wake`.

use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::ptr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use windows_sys::Win32::Foundation::{HANDLE, WAIT_ABANDONED, WAIT_OBJECT_0, WAIT_TIMEOUT};
use windows_sys::Win32::System::Threading::{
    CreateMutexW, CreateSemaphoreW, GetCurrentProcessId, GetCurrentThreadId, OpenMutexW,
    OpenSemaphoreW, ReleaseMutex, ReleaseSemaphore, WaitForSingleObject, INFINITE,
    MUTEX_MODIFY_STATE, SEMAPHORE_MODIFY_STATE, SYNCHRONIZATION_SYNCHRONIZE,
};

use super::{owned, wide};
use crate::sys::{Acquired, Deadline};
use crate::{Error, Result};

/// Bytes a mapping reserves for a [`SysMutex`] (unused on Windows: the mutex is a kernel object).
pub(crate) const MUTEX_SLOT: usize = 64;

/// The calling process's id.
pub(crate) fn current_pid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { GetCurrentProcessId() }
}

/// Waits on a kernel object until `deadline`; returns the wait result.
fn wait_handle(h: HANDLE, deadline: Deadline) -> u32 {
    loop {
        let ms = match deadline.remaining() {
            None => INFINITE,
            // Round up so a wait never ends before the deadline; cap below INFINITE.
            Some(d) => d
                .as_nanos()
                .div_ceil(1_000_000)
                .min(u128::from(INFINITE - 1)) as u32,
        };
        // SAFETY: `h` is a valid waitable handle owned by the caller.
        let r = unsafe { WaitForSingleObject(h, ms) };
        if r == WAIT_TIMEOUT && !deadline.passed() {
            continue; // a capped wait of a very long deadline
        }
        return r;
    }
}

/// A named kernel mutex, `<name>.lock`. Abandonment (`WAIT_ABANDONED`) is "owner died".
///
/// Kernel mutexes are recursive; shmkit's are not (two guards would give two `&mut T`), so
/// the slot in the mapping records the owner as `pid << 32 | thread id`, and a lock by the
/// thread that already owns it is undone and reported as `Deadlock`, as on Unix.
#[derive(Debug)]
pub(crate) struct SysMutex {
    handle: OwnedHandle,
    owner: *const AtomicU64,
}

// SAFETY: `owner` targets an atomic in a mapping kept alive by the owner of this value, and
// kernel mutex handles may be used from any thread (the non-Send guards make the locking
// thread the unlocking one).
unsafe impl Send for SysMutex {}
// SAFETY: as for Send.
unsafe impl Sync for SysMutex {}

fn me() -> u64 {
    // SAFETY: no preconditions.
    (u64::from(current_pid()) << 32) | u64::from(unsafe { GetCurrentThreadId() })
}

impl SysMutex {
    /// Creates the mutex of the new object `name`.
    ///
    /// # Safety
    ///
    /// `slot` is 8-byte aligned and valid for `MUTEX_SLOT` bytes of a shared mapping that
    /// outlives the returned value.
    pub(crate) unsafe fn init(slot: *mut u8, name: &str) -> Result<SysMutex> {
        let w = wide(&format!("{name}.lock"));
        // SAFETY: `w` is NUL-terminated; default security; not initially owned.
        let h = unsafe { CreateMutexW(ptr::null(), 0, w.as_ptr()) };
        Ok(SysMutex {
            handle: owned(h, "CreateMutexW", name, 0)?,
            owner: slot.cast(),
        })
    }

    /// Opens the mutex of the existing object `name`.
    ///
    /// # Safety
    ///
    /// As [`SysMutex::init`].
    pub(crate) unsafe fn attach(slot: *mut u8, name: &str) -> Result<SysMutex> {
        let w = wide(&format!("{name}.lock"));
        // SAFETY: `w` is NUL-terminated.
        let h = unsafe {
            OpenMutexW(
                SYNCHRONIZATION_SYNCHRONIZE | MUTEX_MODIFY_STATE,
                0,
                w.as_ptr(),
            )
        };
        Ok(SysMutex {
            handle: owned(h, "OpenMutexW", name, 0)?,
            owner: slot.cast(),
        })
    }

    fn raw(&self) -> HANDLE {
        self.handle.as_raw_handle() as HANDLE
    }

    fn owner(&self) -> &AtomicU64 {
        // SAFETY: aligned, in a live shared mapping (contract of `init`/`attach`).
        unsafe { &*self.owner }
    }

    /// Locks, waiting until `deadline`.
    pub(crate) fn lock(&self, deadline: Deadline, name: &str) -> Result<Acquired> {
        let acquired = match wait_handle(self.raw(), deadline) {
            WAIT_OBJECT_0 => Acquired::Clean,
            WAIT_ABANDONED => Acquired::OwnerDied,
            WAIT_TIMEOUT => return Err(Error::gave_up(name, deadline)),
            _ => return Err(super::last_error("WaitForSingleObject", name, 0)),
        };
        // The owner word is only written by the mutex's holder, so Relaxed suffices: the
        // kernel mutex orders these accesses.
        if acquired == Acquired::Clean && self.owner().load(Ordering::Relaxed) == me() {
            // SAFETY: undoes the recursive acquisition this thread just made.
            unsafe { ReleaseMutex(self.raw()) };
            return Err(Error::Deadlock {
                name: name.to_owned(),
            });
        }
        self.owner().store(me(), Ordering::Relaxed);
        Ok(acquired)
    }

    /// Nothing to do: the consistency state lives in the segment's header.
    pub(crate) fn mark_consistent(&self) {}

    /// Unlocks a mutex the calling thread holds.
    pub(crate) fn unlock(&self) {
        self.owner().store(0, Ordering::Relaxed);
        // SAFETY: the handle is valid; releasing a mutex this thread owns.
        unsafe { ReleaseMutex(self.raw()) };
    }
}

/// Sleeping on words in a mapping: a named semaphore `<name>.wake`, one permit per wake.
#[derive(Debug)]
pub(crate) struct SysWaker {
    handle: OwnedHandle,
}

impl SysWaker {
    /// Creates the waker named `name` (the kernel object's full name).
    pub(crate) fn create(name: &str) -> Result<SysWaker> {
        let w = wide(name);
        // SAFETY: `w` is NUL-terminated; default security.
        let h = unsafe { CreateSemaphoreW(ptr::null(), 0, i32::MAX, w.as_ptr()) };
        Ok(SysWaker {
            handle: owned(h, "CreateSemaphoreW", name, 0)?,
        })
    }

    /// Opens the existing waker named `name` (the kernel object's full name).
    pub(crate) fn open(name: &str) -> Result<SysWaker> {
        let w = wide(name);
        // SAFETY: `w` is NUL-terminated.
        let h = unsafe {
            OpenSemaphoreW(
                SYNCHRONIZATION_SYNCHRONIZE | SEMAPHORE_MODIFY_STATE,
                0,
                w.as_ptr(),
            )
        };
        Ok(SysWaker {
            handle: owned(h, "OpenSemaphoreW", name, 0)?,
        })
    }

    /// A waker for words in this process's own memory: an unnamed semaphore.
    pub(crate) fn private() -> Result<SysWaker> {
        // SAFETY: default security, no name.
        let h = unsafe { CreateSemaphoreW(ptr::null(), 0, i32::MAX, ptr::null()) };
        Ok(SysWaker {
            handle: owned(h, "CreateSemaphoreW", "waitset", 0)?,
        })
    }

    /// The semaphore's handle, for `WaitForMultipleObjects` (`wait_any.rs`).
    pub(crate) fn raw_handle(&self) -> HANDLE {
        self.handle.as_raw_handle() as HANDLE
    }

    /// Sleeps until woken or `deadline`. The caller has registered as a sleeper and re-checked
    /// its word first, so a wake between that check and this wait leaves a permit and is not
    /// lost. Stale permits cause spurious returns, which callers handle.
    pub(crate) fn wait(&self, _word: &AtomicU32, _expected: u32, deadline: Deadline) -> Result<()> {
        let r = wait_handle(self.handle.as_raw_handle() as HANDLE, deadline);
        if r == WAIT_OBJECT_0 || r == WAIT_TIMEOUT {
            Ok(())
        } else {
            Err(super::last_error("WaitForSingleObject", "waker", 0))
        }
    }

    /// Releases `n` permits (the caller passes at most the number of sleepers); how many
    /// sleepers that woke is not known here (`None`).
    pub(crate) fn wake(&self, _word: &AtomicU32, n: u32) -> Option<usize> {
        let n = n.min(i32::MAX as u32) as i32;
        if n > 0 {
            // SAFETY: valid semaphore handle; the previous count is not wanted.
            unsafe { ReleaseSemaphore(self.handle.as_raw_handle() as HANDLE, n, ptr::null_mut()) };
        }
        None
    }
}

/// The sleeper gate (see the Unix backend): nothing here. Sleepers park on a kernel semaphore,
/// and a wake cannot tell whether anyone was woken, so a stale sleeper count is not repaired
/// on Windows; it costs a `ReleaseSemaphore` per wake and some spurious returns.
#[derive(Debug, Default)]
pub(crate) struct SleeperGate;

impl SleeperGate {
    /// Nothing to do; always protected.
    pub(crate) fn enter(&self, _section: &super::Section) -> bool {
        true
    }

    /// Nothing to do.
    pub(crate) fn leave(&self, _section: &super::Section) {}
}

/// Never runs `reset`: there is no gate on Windows.
pub(crate) fn with_no_sleepers(_section: &super::Section, _reset: impl FnOnce()) -> bool {
    false
}
