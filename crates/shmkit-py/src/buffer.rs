//! The buffer protocol, both ways: exporting shared memory to Python (`memoryview(seg)`,
//! `numpy.frombuffer(sample, ...)`) and reading the bytes of any object that exports a
//! buffer (`send(obj)`).
//!
//! Exported buffers are counted ([`Exports`]). Every exporter keeps the memory it exports
//! mapped while its count is not zero — the view holds a reference to the exporter, which
//! holds the mapping — and refuses (`BufferError`) to give that memory back to the protocol
//! (release a sample, commit a loan, close a segment) while views are alive. So a view never
//! outlives the memory under it.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;

/// A count of live exported buffers, shared by an exporter and the handle it belongs to.
#[derive(Debug, Default, Clone)]
pub(crate) struct Exports(Arc<AtomicUsize>);

impl Exports {
    /// How many views are alive now.
    pub(crate) fn live(&self) -> usize {
        // Acquire: pairs with the Release in `released`, so a count of zero means every
        // view's last access happened before.
        self.0.load(Ordering::Acquire)
    }

    fn exported(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// One view was released (`__releasebuffer__`).
    pub(crate) fn released(&self) {
        // Release: pairs with the Acquire in `live`.
        self.0.fetch_sub(1, Ordering::Release);
    }
}

/// Fills `view` for `len` bytes at `ptr`, exported by `owner`, and counts the export in each
/// of `counts` (the caller's `__releasebuffer__` must call [`Exports::released`] on them).
///
/// # Safety
///
/// `view` is the `Py_buffer` the interpreter passed to `__getbuffer__`; `ptr .. ptr + len`
/// is mapped (and writable unless `readonly`) until the matching `__releasebuffer__`.
pub(crate) unsafe fn export(
    view: *mut ffi::Py_buffer,
    flags: c_int,
    owner: &Bound<'_, PyAny>,
    (ptr, len): (*mut u8, usize),
    readonly: bool,
    counts: &[&Exports],
) -> PyResult<()> {
    if view.is_null() {
        return Err(PyBufferError::new_err("no Py_buffer to fill"));
    }
    let len = isize::try_from(len).map_err(|_| PyBufferError::new_err("buffer too large"))?;
    // SAFETY: `view` is the interpreter's (checked non-null); `owner` is a live object, which
    // PyBuffer_FillInfo keeps a reference to in `view.obj`; the memory contract is the
    // caller's. It raises BufferError itself for a writable request on read-only memory.
    let rc = unsafe {
        ffi::PyBuffer_FillInfo(
            view,
            owner.as_ptr(),
            ptr.cast::<c_void>(),
            len,
            c_int::from(readonly),
            flags,
        )
    };
    if rc != 0 {
        return Err(PyErr::fetch(owner.py()));
    }
    for c in counts {
        c.exported();
    }
    Ok(())
}

/// A buffer exported for reading ([`input`]): released when dropped (or by
/// [`Input::release`]), so the memory stays valid until then.
pub(crate) enum Input {
    /// Exported without a format (see [`input`]).
    Bytes(Box<ffi::Py_buffer>),
    /// Exported by pyo3 with its full description (`None` once released).
    Full(Option<PyUntypedBuffer>),
}

impl Input {
    /// Gives the buffer back to its exporter (with the interpreter attached: `py`).
    pub(crate) fn release(mut self, py: Python<'_>) {
        match &mut self {
            Input::Bytes(view) => {
                // SAFETY: filled by a successful `PyObject_GetBuffer`, not yet released;
                // this clears `obj`, so `Drop` does not release it again. The interpreter is
                // attached.
                unsafe { ffi::PyBuffer_Release(&mut **view) };
            }
            Input::Full(buf) => {
                if let Some(b) = buf.take() {
                    b.release(py);
                }
            }
        }
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        if let Input::Bytes(view) = self {
            if !view.obj.is_null() {
                Python::attach(|_| {
                    // SAFETY: filled by a successful `PyObject_GetBuffer` and not released
                    // (`release` clears `obj`, checked above); the interpreter is attached.
                    unsafe { ffi::PyBuffer_Release(&mut **view) };
                });
            }
        }
    }
}

/// The bytes of an object that exports a C-contiguous buffer (bytes, bytearray, memoryview,
/// numpy array, ...), as a pointer and length valid while the returned buffer lives.
///
/// Asked for as C-contiguous bytes, without `PyBUF_FORMAT`: a message is bytes, and numpy
/// builds a structured dtype's format string on every export that asks for it (about half
/// a microsecond per typed send). An exporter that refuses that request gets the full one,
/// whose errors are the ones reported.
pub(crate) fn input(obj: &Bound<'_, PyAny>) -> PyResult<(Input, usize, usize)> {
    // SAFETY: an all-zero `Py_buffer` is a valid value to hand to `PyObject_GetBuffer`,
    // which fills it.
    let mut view: Box<ffi::Py_buffer> = Box::new(unsafe { std::mem::zeroed() });
    // SAFETY: `obj` is a live object and `view` a writable `Py_buffer` that does not move
    // (boxed) until released; the interpreter is attached (`obj` is bound).
    let rc = unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), &mut *view, ffi::PyBUF_C_CONTIGUOUS) };
    if rc == 0 {
        let (ptr, len) = (view.buf as usize, view.len as usize);
        return Ok((Input::Bytes(view), ptr, len));
    }
    drop(PyErr::fetch(obj.py()));
    let buf = PyUntypedBuffer::get(obj)?;
    if !buf.is_c_contiguous() {
        return Err(PyBufferError::new_err(
            "the buffer is not C-contiguous (numpy: use numpy.ascontiguousarray)",
        ));
    }
    let (ptr, len) = (buf.buf_ptr() as usize, buf.len_bytes());
    Ok((Input::Full(Some(buf)), ptr, len))
}

/// A writable C-contiguous buffer of `obj` (for `recv_into`), as a pointer and length valid
/// while the returned buffer lives.
pub(crate) fn output(obj: &Bound<'_, PyAny>) -> PyResult<(PyUntypedBuffer, usize, usize)> {
    let buf = PyUntypedBuffer::get(obj)?;
    if !buf.is_c_contiguous() {
        return Err(PyBufferError::new_err(
            "the buffer is not C-contiguous (numpy: use numpy.ascontiguousarray)",
        ));
    }
    let (ptr, len) = (buf.buf_ptr() as usize, buf.len_bytes());
    if buf.readonly() {
        return Err(PyBufferError::new_err("the buffer is read-only"));
    }
    Ok((buf, ptr, len))
}
