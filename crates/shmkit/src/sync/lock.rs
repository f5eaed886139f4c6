//! The robust lock shared by [`Mutex`](super::Mutex) and [`Shared`](super::Shared), and the
//! error type of its lock calls.
//!
//! # Owner death, the same on every OS
//!
//! The OS tells when the previous holder died holding the lock (Linux `EOWNERDEAD`, Windows
//! `WAIT_ABANDONED`, macOS: its pid is gone). shmkit then hands the lock on together with the
//! news, as [`LockError::OwnerDied`] carrying the guard. The new holder repairs the data and
//! calls `make_consistent()` on the guard; if it drops the guard without doing so, the lock
//! becomes unrecoverable and every later lock fails with [`Error::Unrecoverable`] — broken
//! state is never handed on silently. A holder that cannot repair can instead release the
//! lock with `unlock_unrepaired()`, which hands the news on: the next holder gets
//! `OwnerDied` as if the owner had just died. Converting a `LockError` into an [`Error`]
//! (what `?` does) does exactly that, so `?` on a lock never breaks it for everyone.
//!
//! State word (offset 64 of the segment), written only by the lock's holder:
//!
//! | state | meaning                                   | lock() gives                    |
//! |-------|-------------------------------------------|---------------------------------|
//! | 0     | consistent                                | the guard                       |
//! | 1     | owner died, not repaired yet              | `Err(OwnerDied(guard))`         |
//! | 2     | unrecoverable                             | `Err(Unrecoverable)`            |
//!
//! The OS reporting an owner death also gives `OwnerDied` (and sets state 1). Unlocking in
//! state 1 sets 2 (a guard dropped unrepaired) or leaves 1 (`unlock_unrepaired`; on Linux
//! the pthread mutex is then marked consistent, else glibc would make it unrecoverable).
//! (`unlock_unrepaired` came with layout version 3, so no process of an older version, which
//! would take state 1 on a clean acquisition for consistent, can open the same mutex.)

use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::object::{Object, LOCK_STATE, MUTEX};
use crate::sys::{Acquired, Deadline, SysMutex};
use crate::{Error, Result};

const CONSISTENT: u32 = 0;
const REPAIRING: u32 = 1;
const UNRECOVERABLE: u32 = 2;

/// The OS mutex of an object segment plus the portable consistency state.
///
/// # Leaked guards
///
/// On Linux the `pthread_mutex_t` lives in the mapping, and while a thread holds a robust
/// mutex glibc keeps it on that thread's robust list: later locks and unlocks of other robust
/// mutexes, and the kernel when the thread exits, write through that list. A guard leaked
/// with `mem::forget` holds the mutex for ever, so unmapping the segment would leave the list
/// pointing into unmapped (or re-used) memory — reachable from safe code. `held` therefore
/// counts the guards of this handle that are out (at most one: shmkit's locks are not
/// recursive), and the owner of the handle drops its object with [`RawLock::drop_object`],
/// which leaks the mapping, for the rest of the process, if a guard is still out.
#[derive(Debug)]
pub(crate) struct RawLock {
    sys: SysMutex,
    /// Guards of this handle not yet dropped. Written only by the lock's holder, so a plain
    /// load and store (Relaxed) suffice: the mutex orders them, and `drop_object` has `&mut`.
    held: AtomicUsize,
}

impl RawLock {
    /// Initialises the lock of a new object (called before the object is published).
    pub(crate) fn init(obj: &Object) -> Result<RawLock> {
        // SAFETY: the slot at MUTEX is 8-byte aligned (page-aligned mapping + 128), MUTEX_SLOT
        // bytes long inside the mapping, which `obj` keeps alive as long as the RawLock (they
        // live in one struct); nobody else uses it before the object is published.
        let sys = unsafe { SysMutex::init(obj.ptr(MUTEX), obj.name())? };
        Ok(RawLock::new(sys))
    }

    /// Attaches to the lock of an opened (checked, ready) object.
    pub(crate) fn attach(obj: &Object) -> Result<RawLock> {
        // SAFETY: as in `init`; the header check in `Object::open` says the creator put an
        // initialised mutex in the slot.
        let sys = unsafe { SysMutex::attach(obj.ptr(MUTEX), obj.name())? };
        Ok(RawLock::new(sys))
    }

    fn new(sys: SysMutex) -> RawLock {
        RawLock {
            sys,
            held: AtomicUsize::new(0),
        }
    }

    /// Drops `obj`, the object this lock lives in — but not its mapping while a guard of this
    /// handle is out (leaked): that mapping then stays for the rest of the process. The
    /// segment handle is dropped either way (so a creator still removes the name).
    ///
    /// # Safety
    ///
    /// `obj` is not used again (the caller is dropping it).
    pub(crate) unsafe fn drop_object(&mut self, obj: &mut ManuallyDrop<Object>) {
        // SAFETY: the caller never uses `obj` again.
        let obj = unsafe { ManuallyDrop::take(obj) };
        if *self.held.get_mut() > 0 {
            let Object { view, .. } = obj;
            std::mem::forget(view);
        }
    }

    /// Locks; `Ok(true)` means the previous owner died and the caller must repair.
    pub(crate) fn lock(&self, obj: &Object, deadline: Deadline) -> Result<bool> {
        let acquired = self.sys.lock(deadline, obj.name())?;
        let state = obj.word(LOCK_STATE);
        // Relaxed: the state is only accessed by the lock's holder; the mutex orders it.
        let was = state.load(Ordering::Relaxed);
        if was == UNRECOVERABLE {
            self.sys.unlock();
            return Err(Error::Unrecoverable {
                name: obj.name().to_owned(),
            });
        }
        // A guard is about to exist (`to_result` makes it). Relaxed: see `held`.
        self.held
            .store(self.held.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        if acquired == Acquired::OwnerDied || was == REPAIRING {
            state.store(REPAIRING, Ordering::Relaxed);
            return Ok(true);
        }
        Ok(false)
    }

    /// Marks the data repaired (after an owner death).
    pub(crate) fn make_consistent(&self, obj: &Object) {
        self.sys.mark_consistent();
        obj.word(LOCK_STATE).store(CONSISTENT, Ordering::Relaxed);
    }

    /// Whether the current holder is repairing after an owner death.
    pub(crate) fn repairing(&self, obj: &Object) -> bool {
        obj.word(LOCK_STATE).load(Ordering::Relaxed) == REPAIRING
    }

    /// Unlocks (a guard's drop); a holder that did not repair leaves the lock unrecoverable.
    pub(crate) fn unlock(&self, obj: &Object) {
        let state = obj.word(LOCK_STATE);
        if state.load(Ordering::Relaxed) == REPAIRING {
            state.store(UNRECOVERABLE, Ordering::Relaxed);
        }
        self.held
            .store(self.held.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
        self.sys.unlock();
    }

    /// Unlocks leaving an owner death unrepaired for the next holder (state 1 stays).
    pub(crate) fn unlock_unrepaired(&self) {
        self.held
            .store(self.held.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
        // The OS mutex must be consistent to be usable at all; state 1 carries the news.
        self.sys.mark_consistent();
        self.sys.unlock();
    }
}

/// The guards of shmkit's locks, so that a [`LockError`] converts into an [`Error`].
/// Sealed: only [`MutexGuard`](super::MutexGuard) and [`SharedGuard`](super::SharedGuard).
pub trait LockGuard: sealed::Sealed {
    /// The name of the locked object.
    fn lock_name(&self) -> &str;

    /// Unlocks without repairing: the next holder gets [`LockError::OwnerDied`] in turn.
    fn unlock_unrepaired(self)
    where
        Self: Sized;
}

pub(crate) mod sealed {
    /// Implemented by shmkit's guards only.
    pub trait Sealed {}
}

/// Why a lock call did not simply return a guard.
pub enum LockError<G> {
    /// The previous holder died holding the lock. This is the guard: the lock is held. Repair
    /// the protected data, then call `make_consistent()` on the guard; dropping it without
    /// doing so makes the lock unrecoverable for everyone. `unlock_unrepaired()` on the
    /// guard, or converting this error into an [`Error`] (as `?` does), releases the lock and
    /// leaves the repair to its next holder, who gets `OwnerDied` in turn.
    OwnerDied(G),
    /// The lock was not acquired: [`Error::Timeout`], [`Error::WouldBlock`],
    /// [`Error::Unrecoverable`], [`Error::Deadlock`] or an OS error.
    Other(Error),
}

/// The result of a lock call.
pub type LockResult<G> = std::result::Result<G, LockError<G>>;

impl<G> LockError<G> {
    /// The guard, if the lock was acquired after an owner death.
    pub fn into_owner_died(self) -> Option<G> {
        match self {
            LockError::OwnerDied(g) => Some(g),
            LockError::Other(_) => None,
        }
    }
}

impl<G> From<Error> for LockError<G> {
    fn from(e: Error) -> Self {
        LockError::Other(e)
    }
}

/// Reports an `OwnerDied` as [`Error::OwnerDied`], releasing its guard *unrepaired*: the
/// next holder is told of the death in turn, so `?` on a lock call never leaves the lock
/// unrecoverable (dropping the guard would).
impl<G: LockGuard> From<LockError<G>> for Error {
    fn from(e: LockError<G>) -> Self {
        match e {
            LockError::OwnerDied(g) => {
                let name = g.lock_name().to_owned();
                g.unlock_unrepaired();
                Error::OwnerDied { name }
            }
            LockError::Other(e) => e,
        }
    }
}

impl<G> fmt::Debug for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::OwnerDied(_) => f.write_str("OwnerDied(..)"),
            LockError::Other(e) => f.debug_tuple("Other").field(e).finish(),
        }
    }
}

impl<G> fmt::Display for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::OwnerDied(_) => f.write_str(
                "the previous owner died holding the lock; repair, then make_consistent()",
            ),
            LockError::Other(e) => e.fmt(f),
        }
    }
}

impl<G> std::error::Error for LockError<G> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::OwnerDied(_) => None,
            LockError::Other(e) => Some(e),
        }
    }
}

/// Turns the outcome of [`RawLock::lock`] into a [`LockResult`] with `guard`.
pub(crate) fn to_result<G>(r: Result<bool>, guard: impl FnOnce() -> G) -> LockResult<G> {
    match r {
        Ok(false) => Ok(guard()),
        Ok(true) => Err(LockError::OwnerDied(guard())),
        Err(e) => Err(LockError::Other(e)),
    }
}
