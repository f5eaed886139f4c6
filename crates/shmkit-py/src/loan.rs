//! A loan of room in a channel or broadcast (`Producer.loan`, `Publisher.loan`): the Python
//! side of the self-borrowing loan that `tx.rs` keeps next to its sender (see its module
//! docs for why that is sound).

use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::{PyBufferError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyMemoryView;

use crate::buffer::{self, Exports};
use crate::errors::views_alive;
use crate::tx::TxShared;
use crate::typed::{self, Typed};

/// Room for one message in shared memory, from ``Producer.loan`` / ``Publisher.loan``.
///
/// Supports the buffer protocol (writable). As a context manager it yields a memoryview (a
/// typed side's loan: its :attr:`value`, the record or records) and commits on a clean
/// exit; or call :meth:`commit` / :meth:`abort` yourself.
///
/// Thread safety: while open, the loan holds its sender: other threads' calls on the sender
/// wait until it is committed or aborted (or garbage-collected, which aborts it). Its own
/// methods may be called from any thread.
#[pyclass(module = "shmkit", frozen)]
pub(crate) struct Loan {
    core: Arc<TxShared>,
    id: u64,
    addr: usize,
    len: usize,
    exports: Exports,
    /// The memoryview `__enter__` handed out, released by `__exit__`.
    view: Mutex<Option<Py<PyAny>>>,
    /// A typed side's layout, and whether the loan is one record (not a slice).
    typed: Option<(Typed, bool)>,
    /// The channel's name (for errors).
    name: String,
}

impl Loan {
    /// Loan `id` of `core`: `len` bytes at `addr`, its exports counted in `exports`.
    pub(crate) fn new(
        core: Arc<TxShared>,
        (id, addr, len, exports): (u64, usize, usize, Exports),
        typed: Option<(Typed, bool)>,
        name: String,
    ) -> Loan {
        Loan {
            core,
            id,
            addr,
            len,
            exports,
            view: Mutex::new(None),
            typed,
            name,
        }
    }

    fn end(&self, py: Python<'_>, commit: bool, len: Option<usize>) -> PyResult<()> {
        if let Some(n) = len {
            if n > self.len {
                return Err(PyValueError::new_err(format!(
                    "cannot commit {n} bytes of a {}-byte loan",
                    self.len
                )));
            }
            match &self.typed {
                // A one-record loan commits its record, as Rust's typed `Loan`.
                Some((t, true)) => typed::check_one(Some(t), &self.name, n, "a commit")?,
                Some((t, false)) => typed::check_len(Some(t), &self.name, n, "a commit")?,
                None => {}
            }
        }
        // The state stays locked until the Rust loan is committed or dropped: nobody else
        // may use the sender it borrows meanwhile (module docs).
        let mut st = self.core.lock(py);
        let loan = st.finish(self.id)?;
        if commit {
            loan.commit(len);
        } else {
            drop(loan);
        }
        drop(st);
        self.core.ended();
        Ok(())
    }
}

impl Drop for Loan {
    /// A loan object that goes away without a commit publishes nothing, as a Rust loan
    /// dropped uncommitted (no view can be alive: each holds a reference to this object).
    fn drop(&mut self) {
        Python::attach(|py| {
            let ended = self.core.lock(py).drop_loan(self.id);
            if ended {
                self.core.ended();
            }
        });
    }
}

#[pymethods]
impl Loan {
    /// Publishes the message: its first ``size`` bytes (default: all of them).
    ///
    /// Raises ``BufferError`` while views of the loan are alive (the loan stays open), and
    /// ``ValueError`` if it was already committed or aborted.
    #[pyo3(signature = (size=None))]
    fn commit(&self, py: Python<'_>, size: Option<usize>) -> PyResult<()> {
        self.end(py, true, size)
    }

    /// Gives the room back without publishing anything. Raises as :meth:`commit`.
    fn abort(&self, py: Python<'_>) -> PyResult<()> {
        self.end(py, false, None)
    }

    /// Whether the loan is still open (neither committed nor aborted).
    #[getter]
    fn open(&self, py: Python<'_>) -> bool {
        self.core.lock(py).is_open(self.id)
    }

    /// A typed loan's writable, zero-copy view: the record (a numpy array of shape ``()``,
    /// or an instance of the ctypes type) for :meth:`Sender.loan`, an array of them for
    /// :meth:`Sender.loan_slice`; a memoryview for a layout given by numbers. A new view
    /// each time; each must be gone before the loan is committed (``BufferError``).
    /// ``TypeError`` on a byte side's loan (use ``memoryview(loan)``).
    #[getter]
    fn value<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let (t, one) = this.typed.as_ref().ok_or_else(|| {
            PyTypeError::new_err("a byte side's loan has no typed value: use memoryview(loan)")
        })?;
        typed::view(t, slf.as_any(), *one, true)
    }

    /// The size in bytes.
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
        let st = this.core.lock(slf.py());
        if !st.is_open(this.id) {
            return Err(PyBufferError::new_err(
                "the loan is already committed or aborted",
            ));
        }
        // SAFETY: the loan is open, so its bytes are mapped (the state owns the mapping) and
        // this process's to write; they stay mapped while the export lives: the view holds
        // this object, which holds the state, and the sender cannot close or end the loan
        // while the export is counted.
        unsafe {
            buffer::export(
                view,
                flags,
                slf.as_any(),
                (this.addr as *mut u8, this.len),
                false,
                &[&this.exports, &this.core.exports],
            )
        }
    }

    /// # Safety
    ///
    /// Called by the interpreter for a buffer `__getbuffer__` filled.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        self.exports.released();
        self.core.exports.released();
    }

    /// Enters a `with` block (see the class docs for what leaving it does): a memoryview,
    /// or a typed loan's :attr:`value`.
    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        if slf.get().typed.is_some() {
            return Loan::value(&slf);
        }
        let mv = PyMemoryView::from(slf.as_any())?;
        *slf.get()
            .view
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(mv.clone().into_any().unbind());
        Ok(mv.into_any())
    }

    /// Commits on a clean exit, aborts on an exception. With views still alive, a clean exit
    /// raises ``BufferError`` (nothing is published, the loan stays open), and an exception
    /// leaves the loan open for the next ``loan``/``send`` to abandon.
    #[pyo3(signature = (exc_type, _exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let view = self
            .view
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let clean = exc_type.is_none_or(|t| t.is_none());
        if clean && self.typed.is_some() && self.exports.live() > 0 {
            return Err(views_alive(
                "the loan (nothing was published; it stays open: delete the typed view, \
                 `del rec`, before the block ends)",
                self.exports.live(),
            ));
        }
        if let Some(v) = view {
            // Fails while views of the memoryview (a numpy array) are alive.
            if v.bind(py).call_method0("release").is_err() && clean {
                return Err(views_alive(
                    "the loan (nothing was published; it stays open)",
                    self.exports.live(),
                ));
            }
        }
        match (clean, self.exports.live()) {
            (true, _) => self.end(py, true, None)?,
            (false, 0) => self.end(py, false, None)?,
            (false, _) => {}
        }
        Ok(false)
    }
}
