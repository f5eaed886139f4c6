//! What a sending or receiving handle (`Sender`, `Receiver`) and the objects it lends out
//! (`Loan`, `Sample`) share: the state behind a mutex, and the count of buffer views.

use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pyo3::prelude::*;
use pyo3::sync::MutexExt;

use crate::buffer::Exports;
use crate::errors::{views_alive, Fail};

/// The state `S` of a handle, shared with what it lends out.
pub(crate) struct Shared<S> {
    state: Mutex<S>,
    /// Views of anything lent out by this handle: the mapping stays while there are any.
    pub(crate) exports: Exports,
}

impl<S> Shared<S> {
    /// Wraps `state`, with no views yet.
    pub(crate) fn wrap(state: S) -> Arc<Shared<S>> {
        Arc::new(Shared {
            state: Mutex::new(state),
            exports: Exports::default(),
        })
    }

    /// Locks the state with the interpreter attached (without deadlocking against it).
    pub(crate) fn lock<'a>(&'a self, py: Python<'_>) -> MutexGuard<'a, S> {
        self.state
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks the state while detached.
    pub(crate) fn lock_detached(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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
/// with the count of views of it.
pub(crate) struct Lent<C> {
    pub(crate) id: u64,
    pub(crate) item: C,
    pub(crate) exports: Exports,
}

impl<C> Lent<C> {
    /// Puts `item` in `slot` under the next id from `next_id`: returns the id and the count
    /// of its views.
    pub(crate) fn store(slot: &mut Option<Lent<C>>, next_id: &mut u64, item: C) -> (u64, Exports) {
        let id = *next_id;
        *next_id += 1;
        let exports = Exports::default();
        *slot = Some(Lent {
            id,
            item,
            exports: exports.clone(),
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
