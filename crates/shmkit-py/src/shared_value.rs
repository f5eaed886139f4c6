//! The native half of `shmkit.sync.Shared`: `SharedBytes` (the Rust `SharedBytes`, a value
//! of a layout given at run time behind the robust lock) and `SharedLock` (one hold of it,
//! with the buffer protocol over the value's bytes).
//!
//! The typed half (numpy dtypes, ctypes types, what a `with` block yields and checks when it
//! ends) is Python, in `python/shmkit/sync.py`, over these two classes.
//!
//! # Memory
//!
//! A `SharedLock` holds the Rust handle (an `Arc`), so the value stays mapped while the lock
//! object lives, and every exported buffer holds the lock object: a view never outlives the
//! memory under it, whatever is unlocked or closed meanwhile. Unlocking does not unmap
//! anything, so it needs no export check for soundness (the Python guard checks views for
//! the *protocol*: no write to the value outside the lock); after an unlock the lock object
//! refuses new exports.
//!
//! # Threads
//!
//! The OS requires the locking thread to unlock (Linux: an error-checking robust
//! `pthread_mutex_t`). A `SharedLock` remembers that thread; `unlock` and friends from
//! another thread raise `RuntimeError`, and a `SharedLock` dropped on another thread still
//! locked leaks its Rust guard (the library then leaks the mapping for the process's life,
//! its documented answer to a leaked guard; the OS reports an owner death once the locking
//! thread ends). Two threads may lock one `SharedBytes` at once: the second waits for the
//! first, each with a guard of its own.

use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use pyo3::exceptions::{PyBufferError, PyRuntimeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::PyType;

use shmkit::sync as rsync;

use crate::buffer::{self, Exports};
use crate::errors::to_py;
use crate::wait::{blocking, opening, Wait};

/// A shared value of a run-time layout (``shmkit.sync.Shared`` is the public face).
///
/// Thread safety: every method works from any thread; ``lock`` waits with the GIL released.
#[pyclass(module = "shmkit.sync", frozen)]
pub(crate) struct SharedBytes {
    handle: StdMutex<Option<Arc<rsync::SharedBytes>>>,
    /// The segment's name.
    #[pyo3(get)]
    name: String,
    /// Whether this handle created the value.
    #[pyo3(get)]
    is_creator: bool,
    /// The value's size in bytes.
    #[pyo3(get)]
    size: usize,
    /// The value's alignment in bytes.
    #[pyo3(get)]
    align: usize,
}

impl SharedBytes {
    fn wrap(s: rsync::SharedBytes) -> SharedBytes {
        SharedBytes {
            name: s.name().to_owned(),
            is_creator: s.is_creator(),
            size: s.size(),
            align: s.align(),
            handle: StdMutex::new(Some(Arc::new(s))),
        }
    }

    fn get(&self, py: Python<'_>) -> PyResult<Arc<rsync::SharedBytes>> {
        self.handle
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| PyValueError::new_err("the shared value is closed"))
    }
}

/// The options of every verb: layout, tag, mode, keep.
fn options(
    layout: Option<(usize, usize)>,
    tag: Option<&str>,
    mode: u32,
    keep: bool,
    value: &[u8],
) -> rsync::SharedBytesOptions {
    let mut o = rsync::SharedBytes::options();
    o.mode(mode).keep(keep).value(value);
    if let Some((size, align)) = layout {
        o.layout(size, align);
    }
    if let Some(t) = tag {
        o.tag(t);
    }
    o
}

#[pymethods]
impl SharedBytes {
    /// Creates the value ``name``: ``size`` bytes aligned to ``align``, tagged ``tag``, set to
    /// ``value`` (zeros beyond it) before anyone else can see it.
    #[classmethod]
    #[pyo3(signature = (name, size, align, tag, mode, keep, value))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        name: &str,
        size: usize,
        align: usize,
        tag: &str,
        mode: u32,
        keep: bool,
        value: &[u8],
    ) -> PyResult<SharedBytes> {
        let o = options(Some((size, align)), Some(tag), mode, keep, value);
        let s = py.detach(|| o.create(name)).map_err(to_py)?;
        Ok(SharedBytes::wrap(s))
    }

    /// Opens the value ``name``; ``layout`` (size, align) and ``tag`` are checked if given.
    #[classmethod]
    #[pyo3(signature = (name, layout, tag, open_timeout))]
    fn open(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        name: &str,
        layout: Option<(usize, usize)>,
        tag: Option<&str>,
        open_timeout: Option<f64>,
    ) -> PyResult<SharedBytes> {
        let mut o = options(layout, tag, shmkit::segment::DEFAULT_MODE, false, &[]);
        let wait = Wait::from_open_timeout(open_timeout)?;
        let s = opening(py, wait, |d| o.open_timeout(d).open(name))?;
        Ok(SharedBytes::wrap(s))
    }

    /// Opens the value ``name`` if it exists (checking layout and tag), else creates it.
    #[classmethod]
    #[pyo3(signature = (name, size, align, tag, mode, keep, value))]
    #[allow(clippy::too_many_arguments)]
    fn open_or_create(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        name: &str,
        size: usize,
        align: usize,
        tag: &str,
        mode: u32,
        keep: bool,
        value: &[u8],
    ) -> PyResult<SharedBytes> {
        let o = options(Some((size, align)), Some(tag), mode, keep, value);
        let s = py.detach(|| o.open_or_create(name)).map_err(to_py)?;
        Ok(SharedBytes::wrap(s))
    }

    /// Locks: returns ``(lock, owner_died)``, waiting as ``timeout`` says (``None`` forever,
    /// ``0`` not at all: ``WouldBlock``; else seconds: ``Timeout``).
    #[pyo3(signature = (timeout=None))]
    fn lock(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<(SharedLock, bool)> {
        let wait = Wait::from_timeout(timeout)?;
        let s = self.get(py)?;
        let (held, died) = blocking(py, wait, |slice| {
            HeldBytes::take(&s, |s| match slice {
                None => s.try_lock(),
                Some(d) => s.lock_timeout(d),
            })
        })?;
        let lock = SharedLock {
            addr: held.guard().as_ptr() as usize,
            len: held.guard().len(),
            name: self.name.clone(),
            held: StdMutex::new(Some(held)),
            exports: Exports::default(),
            _keep: s,
        };
        Ok((lock, died))
    }

    /// Closes the handle; locks taken from it keep the mapping until they are gone (and a
    /// creator's name goes with the last of them).
    fn close(&self, py: Python<'_>) {
        self.handle
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Whether the handle is closed.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        self.handle
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }
}

/// A held lock of a shared value.
type HeldBytes = crate::held::Held<rsync::SharedBytes, rsync::SharedBytesGuard<'static>>;

/// One hold of a shared value's lock, with the buffer protocol over the value's bytes (the
/// typed guard ``shmkit.sync.SharedGuard`` is built on it).
///
/// Thread safety: ``unlock``, ``unlock_unrepaired`` and ``make_consistent`` only on the thread
/// that locked (``RuntimeError`` elsewhere); the rest from any thread.
#[pyclass(module = "shmkit.sync", frozen)]
pub(crate) struct SharedLock {
    held: StdMutex<Option<HeldBytes>>,
    exports: Exports,
    addr: usize,
    len: usize,
    name: String,
    /// Keeps the value mapped while exports live, after the hold ends.
    _keep: Arc<rsync::SharedBytes>,
}

impl SharedLock {
    fn with_held<T>(&self, py: Python<'_>, f: impl FnOnce(&mut Option<HeldBytes>) -> T) -> T {
        f(&mut self
            .held
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// Takes the hold out, on the locking thread only.
    fn take_mine(&self, py: Python<'_>) -> PyResult<HeldBytes> {
        self.with_held(py, |h| match h {
            Some(held) if held.mine() => Ok(h.take().expect("checked")),
            Some(_) => Err(PyRuntimeError::new_err(format!(
                "the shared value {:?} was locked by another thread; only it can unlock",
                self.name
            ))),
            None => Err(PyRuntimeError::new_err(format!(
                "the shared value {:?} is already unlocked",
                self.name
            ))),
        })
    }
}

#[pymethods]
impl SharedLock {
    /// Unlocks. After an owner death that was not repaired (:meth:`make_consistent`), this
    /// makes the value unrecoverable for everyone; see :meth:`unlock_unrepaired`.
    fn unlock(&self, py: Python<'_>) -> PyResult<()> {
        self.take_mine(py)?.end(drop);
        Ok(())
    }

    /// Unlocks without repairing after an owner death: the next holder gets ``OwnerDied``.
    fn unlock_unrepaired(&self, py: Python<'_>) -> PyResult<()> {
        self.take_mine(py)?.end(|g| g.unlock_unrepaired());
        Ok(())
    }

    /// Declares the value repaired after an owner death (the lock stays held).
    fn make_consistent(&self, py: Python<'_>) -> PyResult<()> {
        self.with_held(py, |h| match h {
            Some(held) if held.mine() => {
                held.guard().make_consistent();
                Ok(())
            }
            _ => Err(PyRuntimeError::new_err(
                "this thread does not hold the shared value's lock",
            )),
        })
    }

    /// Whether the lock is held (by this object) after an owner death not repaired yet.
    #[getter]
    fn needs_repair(&self, py: Python<'_>) -> bool {
        self.with_held(py, |h| {
            h.as_ref().is_some_and(|held| held.guard().needs_repair())
        })
    }

    /// Whether this object still holds the lock.
    #[getter]
    fn locked(&self, py: Python<'_>) -> bool {
        self.with_held(py, |h| h.is_some())
    }

    /// How many buffer views of the value are alive.
    #[getter]
    fn exports(&self) -> usize {
        self.exports.live()
    }

    /// The value's size in bytes.
    fn __len__(&self) -> usize {
        self.len
    }

    /// # Safety
    ///
    /// Called by the interpreter with its `Py_buffer`.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: std::ffi::c_int,
    ) -> PyResult<()> {
        let this = slf.get();
        let held = this.with_held(slf.py(), |h| h.is_some());
        if !held {
            return Err(PyBufferError::new_err(
                "the shared value is unlocked: lock it again for a view",
            ));
        }
        // SAFETY: `len` bytes at `addr` are the value, inside the mapping that `_keep` holds
        // while this object lives, and the buffer holds this object; the mapping is
        // read-write (objects are always mapped so).
        unsafe {
            buffer::export(
                view,
                flags,
                slf.as_any(),
                (this.addr as *mut u8, this.len),
                false,
                &[&this.exports],
            )
        }
    }

    /// # Safety
    ///
    /// Called by the interpreter for a buffer `__getbuffer__` filled.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        self.exports.released();
    }

    /// A short description for the REPL.
    fn __repr__(&self, py: Python<'_>) -> String {
        let state = if self.locked(py) {
            "locked"
        } else {
            "unlocked"
        };
        format!("<shmkit.sync.SharedLock {:?} {state}>", self.name)
    }
}
