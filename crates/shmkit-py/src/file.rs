//! `shmkit.FileMapping` and `shmkit.View`: a file opened for mapping (Rust `FileMapping`)
//! and a mapped range of it (Rust `View`), with the buffer protocol and `flush`.

use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyTuple, PyType};

use shmkit::Access;

use crate::buffer::{self, Exports};
use crate::errors::{to_py, views_alive};

/// `access="read_only" | "read_write" | "copy_on_write"` (the Rust `Access`), or `None`.
fn access_arg(access: Option<&str>) -> PyResult<Option<Access>> {
    Ok(match access {
        None => None,
        Some("read_only") => Some(Access::ReadOnly),
        Some("read_write") => Some(Access::ReadWrite),
        Some("copy_on_write") => Some(Access::CopyOnWrite),
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "access must be \"read_only\", \"read_write\" or \"copy_on_write\", not {other:?}"
            )))
        }
    })
}

fn access_name(a: Access) -> &'static str {
    match a {
        Access::ReadOnly => "read_only",
        Access::ReadWrite => "read_write",
        Access::CopyOnWrite => "copy_on_write",
    }
}

/// A non-negative size or offset argument, as `usize` (`ValueError` otherwise).
fn size_arg(what: &str, v: i64) -> PyResult<usize> {
    usize::try_from(v)
        .map_err(|_| PyValueError::new_err(format!("{what} must not be negative, not {v}")))
}

/// A file opened for mapping: views of it (:meth:`map`) work like a :class:`Segment`'s
/// memory, and :meth:`View.flush` writes a read-write view's changes back to the file.
///
/// ``FileMapping.create(path, size)`` makes a new file of ``size`` zero bytes;
/// ``FileMapping.open(path)`` opens an existing one (``read_only=True``: views are read-only
/// or copy-on-write; ``size``: the file must have at least that many bytes). Copy-on-write
/// views never change the file. The handle may be closed while views live: they keep the
/// mapping.
///
/// A process that shrinks a mapped file (truncates it) makes every process touching a page
/// past the new end die of SIGBUS: map only files that processes you trust can write (the
/// Rust ``FileMapping`` docs, "Files that others can change").
///
/// Thread safety: every method works from any thread.
#[pyclass(module = "shmkit", frozen)]
pub(crate) struct FileMapping {
    inner: Mutex<Option<shmkit::FileMapping>>,
    /// The file's path, as given.
    #[pyo3(get)]
    path: String,
    /// The file's size in bytes (also ``len()``).
    #[pyo3(get)]
    size: usize,
    /// Whether the file was opened read-only.
    #[pyo3(get)]
    read_only: bool,
}

impl FileMapping {
    fn wrap(f: shmkit::Result<shmkit::FileMapping>) -> PyResult<FileMapping> {
        let f = f.map_err(to_py)?;
        Ok(FileMapping {
            path: f.path().to_owned(),
            size: f.len(),
            read_only: f.access() == Access::ReadOnly,
            inner: Mutex::new(Some(f)),
        })
    }

    fn lock(&self, py: Python<'_>) -> MutexGuard<'_, Option<shmkit::FileMapping>> {
        self.inner
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn options(size: Option<i64>, read_only: bool) -> PyResult<shmkit::FileOptions> {
        let mut o = shmkit::FileMapping::options();
        if let Some(s) = size {
            o.size(size_arg("size", s)?);
        }
        o.read_only(read_only);
        Ok(o)
    }
}

#[pymethods]
impl FileMapping {
    /// Creates the file ``path`` with ``size`` zero bytes, opened read-write. Raises
    /// ``AlreadyExists`` if it exists, ``SizeInvalid`` for a zero size, ``NoSpace``.
    #[classmethod]
    fn create(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        path: std::path::PathBuf,
        size: i64,
    ) -> PyResult<FileMapping> {
        let o = FileMapping::options(Some(size), false)?;
        FileMapping::wrap(py.detach(|| o.create(&path)))
    }

    /// Opens the existing file ``path`` (``read_only``: views may not write it). ``size``:
    /// the file must have at least this many bytes (``SizeInvalid`` otherwise; an empty file
    /// is always ``SizeInvalid``). Raises ``NotFound``, ``AccessDenied``.
    #[classmethod]
    #[pyo3(signature = (path, size=None, *, read_only=false))]
    fn open(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        path: std::path::PathBuf,
        size: Option<i64>,
        read_only: bool,
    ) -> PyResult<FileMapping> {
        let o = FileMapping::options(size, read_only)?;
        FileMapping::wrap(py.detach(|| o.open(&path)))
    }

    /// Opens the file ``path`` if it exists (at least ``size`` bytes), else creates it with
    /// ``size`` zero bytes.
    #[classmethod]
    fn open_or_create(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        path: std::path::PathBuf,
        size: i64,
    ) -> PyResult<FileMapping> {
        let o = FileMapping::options(Some(size), false)?;
        FileMapping::wrap(py.detach(|| o.open_or_create(&path)))
    }

    /// Maps ``size`` bytes from ``offset`` (default: all of the file from ``offset``; any
    /// offset, shmkit aligns internally). ``access``: ``"read_only"``, ``"read_write"``
    /// or ``"copy_on_write"`` (default: read-write, read-only for a file opened read-only).
    /// Raises ``AccessMismatch`` for a read-write view of a read-only file, ``SizeInvalid``
    /// for an empty range or one past the end.
    #[pyo3(signature = (offset=0, size=None, *, access=None))]
    fn map(
        &self,
        py: Python<'_>,
        offset: i64,
        size: Option<i64>,
        access: Option<&str>,
    ) -> PyResult<View> {
        let offset = size_arg("offset", offset)?;
        let size = size.map(|s| size_arg("size", s)).transpose()?;
        let access = access_arg(access)?.unwrap_or(if self.read_only {
            Access::ReadOnly
        } else {
            Access::ReadWrite
        });
        let f = self.lock(py);
        let f = f
            .as_ref()
            .ok_or_else(|| PyValueError::new_err("the file mapping is closed"))?;
        let len = match size {
            Some(s) => s,
            None => f.len().checked_sub(offset).ok_or_else(|| {
                to_py(shmkit::Error::SizeInvalid {
                    name: self.path.clone(),
                    reason: format!("offset {offset} is past the end ({} bytes)", f.len()),
                })
            })?,
        };
        let view = f.map_range(access, offset, len).map_err(to_py)?;
        Ok(View::new(view))
    }

    /// Closes the handle (views keep their mapping until they are closed).
    fn close(&self, py: Python<'_>) {
        self.lock(py).take();
    }

    /// Whether the handle is closed.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        self.lock(py).is_none()
    }

    /// The file's size in bytes.
    fn __len__(&self) -> usize {
        self.size
    }

    /// Enters a `with` block (closed when it ends).
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Leaves a `with` block.
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    /// A short description for the REPL.
    fn __repr__(&self) -> String {
        format!(
            "<shmkit.FileMapping {:?} size={}{}>",
            self.path,
            self.size,
            if self.read_only { " read-only" } else { "" }
        )
    }
}

/// A mapped range of a :class:`FileMapping` (Rust ``View``), with the buffer protocol
/// (``memoryview(view)``, ``numpy.frombuffer(view, dtype)``; read-only for a read-only
/// view) and :meth:`flush`.
///
/// Closing (``close()``, the end of a ``with`` block) unmaps it and raises ``BufferError``
/// while buffer views of it are alive; every buffer view holds the ``View``, so garbage
/// collection never unmaps memory still in use.
///
/// Thread safety: every method works from any thread; the bytes are plain shared memory
/// (synchronise writers yourself).
#[pyclass(module = "shmkit", frozen)]
pub(crate) struct View {
    view: Mutex<Option<shmkit::View>>,
    exports: Exports,
    /// The view's offset in the file.
    #[pyo3(get)]
    offset: usize,
    /// The view's size in bytes (also ``len()``).
    #[pyo3(get)]
    size: usize,
    access: Access,
}

impl View {
    fn new(view: shmkit::View) -> View {
        View {
            offset: view.offset(),
            size: view.len(),
            access: view.access(),
            exports: Exports::default(),
            view: Mutex::new(Some(view)),
        }
    }

    fn lock(&self, py: Python<'_>) -> MutexGuard<'_, Option<shmkit::View>> {
        self.view
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl View {
    /// ``"read_only"``, ``"read_write"`` or ``"copy_on_write"``.
    #[getter]
    fn access(&self) -> &'static str {
        access_name(self.access)
    }

    /// Writes the view's changes (``size`` bytes from ``offset`` within the view; default:
    /// all of it) back to the file and waits until the OS reports them written. A no-op for
    /// read-only and copy-on-write views. Raises ``SizeInvalid`` for a range outside the
    /// view, ``Io`` when the OS fails.
    #[pyo3(signature = (offset=0, size=None))]
    fn flush(&self, py: Python<'_>, offset: i64, size: Option<i64>) -> PyResult<()> {
        let offset = size_arg("offset", offset)?;
        let size = size.map(|s| size_arg("size", s)).transpose()?;
        let v = self.lock(py);
        let v = v
            .as_ref()
            .ok_or_else(|| PyValueError::new_err("the view is closed"))?;
        let r = match size {
            None if offset == 0 => py.detach(|| v.flush()),
            None => match v.len().checked_sub(offset) {
                Some(n) => py.detach(|| v.flush_range(offset, n)),
                None => v.flush_range(offset, 0),
            },
            Some(n) => py.detach(|| v.flush_range(offset, n)),
        };
        r.map_err(to_py)
    }

    /// Starts writing the whole view back to its file without waiting.
    fn flush_async(&self, py: Python<'_>) -> PyResult<()> {
        let v = self.lock(py);
        let v = v
            .as_ref()
            .ok_or_else(|| PyValueError::new_err("the view is closed"))?;
        v.flush_async().map_err(to_py)
    }

    /// Unmaps the view. Raises ``BufferError`` while buffer views of it are alive. Closing
    /// twice is allowed.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let mut v = self.lock(py);
        let n = self.exports.live();
        if n > 0 {
            return Err(views_alive("the view", n));
        }
        v.take();
        Ok(())
    }

    /// Whether the view is closed.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        self.lock(py).is_none()
    }

    /// The size in bytes.
    fn __len__(&self) -> usize {
        self.size
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
        let v = this.lock(slf.py());
        let mapped = v
            .as_ref()
            .ok_or_else(|| PyBufferError::new_err("the view is closed"))?;
        // SAFETY: the view maps `len` bytes (writable unless read-only); it stays mapped
        // while the export lives: the buffer holds this object, and `close` refuses while
        // the export is counted.
        unsafe {
            buffer::export(
                view,
                flags,
                slf.as_any(),
                (mapped.as_mut_ptr(), mapped.len()),
                !this.access.is_writable(),
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

    /// Enters a `with` block (closed when it ends).
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Leaves a `with` block.
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// A short description for the REPL.
    fn __repr__(&self) -> String {
        format!(
            "<shmkit.View offset={} size={} {}>",
            self.offset,
            self.size,
            access_name(self.access)
        )
    }
}
