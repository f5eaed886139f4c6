//! What a sending or receiving handle (`Sender`, `Receiver`) and the objects it lends out
//! (`Loan`, `Sample`) share: the state behind a mutex, and the count of buffer views.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pyo3::prelude::*;
use pyo3::sync::MutexExt;

use crate::buffer::Exports;

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
