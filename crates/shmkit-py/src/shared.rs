//! What a sending or receiving handle (`Sender`, `Receiver`) and the objects it lends out
//! (`Loan`, `Sample`) share: the state behind a mutex, and the count of buffer views.
//!
//! # Threads
//!
//! A handle may be used from several Python threads; each call happens whole, in some
//! order, and nothing acknowledged is lost. Two rules give that:
//!
//! 1. Every use of the Rust sender or receiver, from taking a loan or sample to committing or
//!    releasing it, happens with the state's mutex held, so there is never a second `&mut`
//!    to it (the lock is not dropped between taking the Rust loan out of the state and
//!    committing it).
//! 2. A loan or sample that is current belongs to the thread that took it ([`Lent::owner`])
//!    and holds the handle until it ends: a call from another thread waits for that
//!    ([`Shared::call`]), detached from the interpreter and in slices (so the owner can take
//!    the GIL to finish, and Ctrl-C is seen), until the deadline of the call, which then
//!    raises `Timeout` (`WouldBlock` for `timeout=0`). A call from the owner's own thread
//!    ends the item instead, as documented ("one loan at a time"): waiting there could only
//!    deadlock.
//!
//! | current item        | call from its owner            | call from another thread      |
//! |---------------------|--------------------------------|-------------------------------|
//! | none                | runs                           | runs                          |
//! | without views       | ends it, then runs (*)         | waits for it to end           |
//! | with live views     | `BufferError` (*)              | waits for it to end           |
//!
//! (*) But for a sender's accessors (`set_wait_strategy`, `subscribers`,
//! `wait_for_subscribers`), which raise `RuntimeError` while their own thread's loan is open.
//!
//! Ownership does not move with the Python object: a loan handed to another thread may be
//! committed there, but that thread's own calls on the handle wait for it like any other's.
//!
//! The item's own methods (`commit`, `abort`, `release`, `bytes`, buffer export) work from
//! any thread: they act on that item only, under the mutex, and wake the waiters when it
//! ends ([`Shared::ended`]).

use std::ptr::NonNull;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::sync::MutexExt;

use crate::buffer::Exports;
use crate::errors::{views_alive, Fail};
use crate::wait::{blocking, Slice, Wait};

/// A state that lends out at most one item (a loan or a sample) at a time.
pub(crate) trait Lends {
    /// The id and owner of the item lent out now, if any.
    fn current(&self) -> Option<(u64, ThreadId)>;
}

/// The state `S` of a handle, shared with what it lends out.
pub(crate) struct Shared<S> {
    state: Mutex<S>,
    /// Notified whenever a lent item ends, for the calls that wait for it.
    ended: Condvar,
    /// The handle's name, for `Timeout` / `WouldBlock`.
    name: String,
    /// Views of anything lent out by this handle: the mapping stays while there are any.
    pub(crate) exports: Exports,
}

impl<S> Shared<S> {
    /// Wraps `state` of the handle `name`, with no views yet.
    pub(crate) fn wrap(name: &str, state: S) -> Arc<Shared<S>> {
        Arc::new(Shared {
            state: Mutex::new(state),
            ended: Condvar::new(),
            name: name.to_owned(),
            exports: Exports::default(),
        })
    }

    /// Locks the state with the interpreter attached (without deadlocking against it).
    ///
    /// For the lent item's own methods and for reading flags: this does not wait for another
    /// thread's item (see [`Shared::call`]).
    pub(crate) fn lock<'a>(&'a self, py: Python<'_>) -> MutexGuard<'a, S> {
        self.state
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks the state while detached.
    pub(crate) fn lock_detached(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the calls waiting for a lent item: call it after ending one.
    pub(crate) fn ended(&self) {
        self.ended.notify_all();
    }
}

impl<S: Lends + Send> Shared<S> {
    /// Runs `attempt` on the locked state once no other thread's item is current (module
    /// docs), waiting up to `wait`, detached, in slices (see [`blocking`]). `attempt` gets
    /// what is left of the slice (`None`: must not wait) and returns
    /// [`shmkit::Error::Timeout`] when nothing happened in it.
    pub(crate) fn call<T: Send>(
        &self,
        py: Python<'_>,
        wait: Wait,
        mut attempt: impl FnMut(&mut S, Slice) -> Result<T, Fail> + Send,
    ) -> PyResult<T> {
        let me = thread::current().id();
        blocking(py, wait, |slice| {
            let start = Instant::now();
            let mut st = self.lock_detached();
            while st.current().is_some_and(|(_, owner)| owner != me) {
                let Some(d) = slice else {
                    return Err(shmkit::Error::WouldBlock {
                        name: self.name.clone(),
                    }
                    .into());
                };
                let left = d.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Err(shmkit::Error::Timeout {
                        name: self.name.clone(),
                    }
                    .into());
                }
                st = self
                    .ended
                    .wait_timeout(st, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            // The attempt may end this thread's own item (one at a time): wake the waiters.
            let before = st.current().map(|(id, _)| id);
            let r = attempt(&mut st, slice.map(|d| d.saturating_sub(start.elapsed())));
            if before.is_some() && st.current().map(|(id, _)| id) != before {
                self.ended();
            }
            r
        })
    }

    /// Runs `f` on the locked state once no other thread's item is current, waiting as long
    /// as it takes (but for Ctrl-C): for the calls that take no timeout.
    pub(crate) fn call_now<T: Send>(
        &self,
        py: Python<'_>,
        mut f: impl FnMut(&mut S) -> Result<T, Fail> + Send,
    ) -> PyResult<T> {
        self.call(py, Wait::Forever, |st, _| f(st))
    }
}

/// A sender or receiver in a heap box that its state owns through a raw pointer, so that a
/// loan or sample borrowing it can be stored next to it (see the module docs of `tx.rs`);
/// empty once closed. Closing or dropping it frees the box.
pub(crate) struct Owned<T>(Option<NonNull<T>>);

impl<T> Owned<T> {
    pub(crate) fn new(value: T) -> Owned<T> {
        Owned(Some(NonNull::from(Box::leak(Box::new(value)))))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.0.is_none()
    }

    /// The value, borrowed for a lifetime the caller picks; `None` once closed.
    ///
    /// # Safety
    ///
    /// No other reference to the value may be alive while the returned one is used, and the
    /// returned one must not be used after `self` is closed or dropped.
    pub(crate) unsafe fn get<'a>(&mut self) -> Option<&'a mut T> {
        // SAFETY: the box lives until `close` or drop, and the caller promises that this
        // borrow is the only one and ends before then.
        self.0.map(|p| unsafe { &mut *p.as_ptr() })
    }

    /// The value, shared, for a lifetime the caller picks; `None` once closed.
    ///
    /// # Safety
    ///
    /// No `&mut` to the value (from [`Owned::get`], or held by a loan or sample borrowing
    /// it) may be alive while the returned one is used, and the returned one must not be
    /// used after `self` is closed or dropped.
    pub(crate) unsafe fn peek<'a>(&self) -> Option<&'a T> {
        // SAFETY: the box lives until `close` or drop, and the caller promises that no
        // `&mut` to it is alive while this borrow is used, and that it ends before then.
        self.0.map(|p| unsafe { &*p.as_ptr() })
    }

    /// Frees the value; closing twice does nothing.
    ///
    /// # Safety
    ///
    /// No reference from [`Owned::get`] may be used any more.
    pub(crate) unsafe fn close(&mut self) {
        if let Some(p) = self.0.take() {
            // SAFETY: made by `Box::leak` in `new` and taken out of `self`, so freed once;
            // the caller promises nothing borrows it.
            drop(unsafe { Box::from_raw(p.as_ptr()) });
        }
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: every state holding an `Owned` declares what borrows the value (the
        // current loan or sample) before it, so that is dropped first; no other borrow from
        // `get` outlives the state.
        unsafe { self.close() }
    }
}

/// What a handle lends out now (a loan or a sample), under the id its Python object carries,
/// with the count of views of it and the thread that took it.
pub(crate) struct Lent<C> {
    pub(crate) id: u64,
    pub(crate) item: C,
    pub(crate) exports: Exports,
    /// The thread that took it: calls from other threads wait for it to end.
    pub(crate) owner: ThreadId,
}

impl<C> Lent<C> {
    /// Puts `item` in `slot` under the next id from `next_id`, owned by the calling thread:
    /// returns the id and the count of its views.
    pub(crate) fn store(slot: &mut Option<Lent<C>>, next_id: &mut u64, item: C) -> (u64, Exports) {
        let id = *next_id;
        *next_id += 1;
        let exports = Exports::default();
        *slot = Some(Lent {
            id,
            item,
            exports: exports.clone(),
            owner: thread::current().id(),
        });
        (id, exports)
    }

    /// Empties `slot` unless views of what it holds are alive: then `BufferError` naming
    /// `what`.
    pub(crate) fn end(slot: &mut Option<Lent<C>>, what: &str) -> Result<(), Fail> {
        if let Some(cur) = slot {
            let n = cur.exports.live();
            if n > 0 {
                return Err(views_alive(what, n).into());
            }
        }
        *slot = None;
        Ok(())
    }
}
