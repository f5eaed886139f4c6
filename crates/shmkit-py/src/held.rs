//! A robust lock's hold kept across Python calls, written once for `sync.Mutex` and
//! `sync.Shared`: the Rust guard, the `Arc` of the object it borrows, and the thread that
//! locked.

use std::sync::Arc;
use std::thread::{self, ThreadId};

use shmkit::sync::{LockError, LockResult};

use crate::errors::Fail;

/// A hold of the lock of an `O` (a `Mutex`, a `SharedBytes`) through its guard `G`.
pub(crate) struct Held<O, G> {
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
unsafe impl<O: Send + Sync, G> Send for Held<O, G> {}

impl<O: 'static, G> Held<O, G> {
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

impl<O, G> Drop for Held<O, G> {
    fn drop(&mut self) {
        if let Some(g) = self.guard.take() {
            if self.thread == thread::current().id() {
                drop(g);
            } else {
                // Not the locking thread: leak it (see the `Send` note).
                std::mem::forget(g);
            }
        }
    }
}
