//! A robust lock's hold kept across Python calls, written once for `sync.Mutex` and
//! `sync.Shared`: the Rust guard, the `Arc` of the object it borrows, and the thread that
//! locked.

use std::sync::Arc;
use std::thread::{self, ThreadId};

use shmkit::sync::{self as rsync, LockError, LockResult};

use crate::errors::Fail;

/// What a hold needs of its guard.
pub(crate) trait Guard {
    /// Whether the lock came from a dead holder and has not been repaired yet.
    fn needs_repair(&self) -> bool;
    /// Unlocks, leaving the repair to the next holder (who gets `OwnerDied`).
    fn unlock_unrepaired(self);
}

impl Guard for rsync::MutexGuard<'_> {
    fn needs_repair(&self) -> bool {
        rsync::MutexGuard::needs_repair(self)
    }
    fn unlock_unrepaired(self) {
        rsync::MutexGuard::unlock_unrepaired(self)
    }
}

impl Guard for rsync::SharedBytesGuard<'_> {
    fn needs_repair(&self) -> bool {
        rsync::SharedBytesGuard::needs_repair(self)
    }
    fn unlock_unrepaired(self) {
        rsync::SharedBytesGuard::unlock_unrepaired(self)
    }
}

/// A hold of the lock of an `O` (a `Mutex`, a `SharedBytes`) through its guard `G`.
///
/// A hold dropped without an unlock (its Python object collected, its handle closed, an
/// ignored `OwnerDied` that carried it) unlocks; one from a dead holder that was not repaired
/// unlocks *unrepaired*, as Rust's `?` does with such a guard: the next holder gets
/// `OwnerDied` and the repair, instead of the value becoming unrecoverable for everyone. An
/// explicit unlock without repair still makes it unrecoverable (`unlock_unrepaired` is the
/// other choice), as documented on the Python classes.
pub(crate) struct Held<O, G: Guard> {
    /// Borrows `*_owner`: declared (and dropped) first; `None` once unlocked.
    guard: Option<G>,
    _owner: Arc<O>,
    thread: ThreadId,
}

// SAFETY: a guard must be unlocked on the thread that locked; a `Held` is created on that
// thread, is only unlocked there (every unlock path checks `mine`), and `Drop` leaks the guard
// instead when another thread drops it (the library then leaks the mapping, its documented
// answer to a leaked guard). The guards are `!Send` for that reason only; the owner is
// `Send + Sync` (asked below), so sharing the `Arc` across threads is sound.
unsafe impl<O: Send + Sync, G: Guard> Send for Held<O, G> {}

impl<O: 'static, G: Guard> Held<O, G> {
    /// Takes `owner`'s lock with `lock` (a try, or a wait of one slice): the hold, and whether
    /// the previous holder died holding it (the hold then has the repair to make).
    pub(crate) fn take(
        owner: &Arc<O>,
        lock: impl FnOnce(&'static O) -> LockResult<G>,
    ) -> Result<(Self, bool), Fail> {
        // SAFETY: the guard borrows `*owner` in the `Arc`'s allocation, which the hold keeps
        // alive (a clone) and drops after the guard (field order, and `Drop` takes the guard
        // first); the 'static lifetime never escapes the hold.
        let o: &'static O = unsafe { &*Arc::as_ptr(owner) };
        let (guard, died) = match lock(o) {
            Ok(g) => (g, false),
            Err(LockError::OwnerDied(g)) => (g, true),
            Err(LockError::Other(e)) => return Err(Fail::Shm(e)),
        };
        let held = Held {
            guard: Some(guard),
            _owner: owner.clone(),
            thread: thread::current().id(),
        };
        Ok((held, died))
    }

    /// Whether the calling thread locked.
    pub(crate) fn mine(&self) -> bool {
        self.thread == thread::current().id()
    }

    /// The guard.
    pub(crate) fn guard(&self) -> &G {
        self.guard
            .as_ref()
            .expect("a hold has its guard until it ends")
    }

    /// Ends the hold, giving its guard to `end` (the caller checked [`Held::mine`]).
    pub(crate) fn end(mut self, end: impl FnOnce(G)) {
        if let Some(g) = self.guard.take() {
            end(g);
        }
    }
}

impl<O, G: Guard> Drop for Held<O, G> {
    fn drop(&mut self) {
        if let Some(g) = self.guard.take() {
            if self.thread == thread::current().id() {
                if g.needs_repair() {
                    g.unlock_unrepaired();
                } else {
                    drop(g);
                }
            } else {
                // Not the locking thread: leak it (see the `Send` note).
                std::mem::forget(g);
            }
        }
    }
}
