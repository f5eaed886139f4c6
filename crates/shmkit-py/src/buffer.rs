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

/// The bytes of an object that exports a C-contiguous buffer (bytes, bytearray, memoryview,
/// numpy array, ...), as a pointer and length valid while the returned buffer lives.
pub(crate) fn input(obj: &Bound<'_, PyAny>) -> PyResult<(PyUntypedBuffer, usize, usize)> {
    let buf = PyUntypedBuffer::get(obj)?;
    if !buf.is_c_contiguous() {
        return Err(PyBufferError::new_err(
            "the buffer is not C-contiguous (numpy: use numpy.ascontiguousarray)",
        ));
    }
    let (ptr, len) = (buf.buf_ptr() as usize, buf.len_bytes());
    Ok((buf, ptr, len))
}

/// Like [`input`], for a buffer that will be written.
pub(crate) fn output(obj: &Bound<'_, PyAny>) -> PyResult<(PyUntypedBuffer, usize, usize)> {
    let (buf, ptr, len) = input(obj)?;
    if buf.readonly() {
        return Err(PyBufferError::new_err("the buffer is read-only"));
    }
    Ok((buf, ptr, len))
}
