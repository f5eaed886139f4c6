//! `shmkit.Segment`: named raw bytes with the buffer protocol; `remove`, `inspect`, `list`.

use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyDict, PyTuple, PyType};

use shmkit::{Access, View};

use crate::buffer::{self, Exports};
use crate::errors::{to_py, views_alive};
use crate::wait::{opening, Wait};

/// An open segment and its mapping.
struct Mapped {
    /// Dropped before the segment (a creator's drop removes the name).
    view: View,
    segment: shmkit::Segment,
}

/// A named shared-memory segment: raw bytes that other processes (Rust, C, Python's
/// ``multiprocessing.shared_memory``) open by the same name.
///
/// Supports the buffer protocol without copying: ``memoryview(seg)``,
/// ``numpy.frombuffer(seg, dtype)`` (read-only for a segment opened ``read_only``). The
/// creator removes the name when the segment is closed (``close()``, the end of a ``with``
/// block, or garbage collection) unless ``keep=True``. Closing raises ``BufferError`` while
/// views are alive, as ``mmap.close`` does; dropping the last reference cannot unmap memory
/// that a view still uses, because every view holds a reference to the segment.
///
/// Thread safety: every method may be called from any thread (they are serialised); the
/// bytes are plain shared memory, so writers in several threads or processes synchronise
/// themselves (``shmkit.sync.Mutex``).
#[pyclass(module = "shmkit", frozen)]
pub(crate) struct Segment {
    mapped: Mutex<Option<Mapped>>,
    exports: Exports,
    name: String,
    len: usize,
    read_only: bool,
    creator: bool,
}

impl Segment {
    fn wrap(py: Python<'_>, seg: shmkit::Result<shmkit::Segment>) -> PyResult<Segment> {
        let segment = seg.map_err(to_py)?;
        let read_only = segment.access() == Access::ReadOnly;
        let access = if read_only {
            Access::ReadOnly
        } else {
            Access::ReadWrite
        };
        let view = py.detach(|| segment.map(access)).map_err(to_py)?;
        Ok(Segment {
            name: segment.name().to_owned(),
            len: segment.len(),
            creator: segment.is_creator(),
            read_only,
            exports: Exports::default(),
            mapped: Mutex::new(Some(Mapped { view, segment })),
        })
    }

    fn lock(&self, py: Python<'_>) -> MutexGuard<'_, Option<Mapped>> {
        self.mapped
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl Segment {
    /// Creates the segment ``name`` of ``size`` bytes, zero-filled, with permission bits
    /// ``mode``. Raises ``AlreadyExists``, ``NoSpace``, ``NameInvalid``, ``SizeInvalid``.
    #[classmethod]
    #[pyo3(
        signature = (name, size, mode=shmkit::segment::DEFAULT_MODE, keep=false),
        text_signature = "($cls, name, size, mode=shmkit.DEFAULT_MODE, keep=False)"
    )]
    fn create(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        name: &str,
        size: usize,
        mode: u32,
        keep: bool,
    ) -> PyResult<Segment> {
        let mut o = shmkit::Segment::options();
        o.size(size).mode(mode).keep(keep);
        Segment::wrap(py, py.detach(|| o.create(name)))
    }

    /// Opens the existing segment ``name`` (``read_only``: its buffer is read-only).
    /// ``open_timeout``: how many seconds to wait for it to appear (``None``: do not wait,
    /// ``math.inf``: forever; Ctrl-C interrupts). Raises ``NotFound``, ``AccessDenied``.
    #[classmethod]
    #[pyo3(signature = (name, read_only=false, *, open_timeout=None))]
    fn open(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        name: &str,
        read_only: bool,
        open_timeout: Option<f64>,
    ) -> PyResult<Segment> {
        let mut o = shmkit::Segment::options();
        o.read_only(read_only);
        let wait = Wait::from_open_timeout(open_timeout)?;
        let seg = opening(py, wait, |d| o.open_timeout(d).open(name))?;
        Segment::wrap(py, Ok(seg))
    }

    /// The segment's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The size in bytes (also ``len(seg)``).
    #[getter]
    fn size(&self) -> usize {
        self.len
    }

    /// Whether the segment was opened read-only.
    #[getter]
    fn read_only(&self) -> bool {
        self.read_only
    }

    /// Whether this handle created the segment (and so removes the name when closed).
    #[getter]
    fn is_creator(&self) -> bool {
        self.creator
    }

    /// Whether the segment is closed.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        self.lock(py).is_none()
    }

    /// Whether closing leaves the name in place (always true for openers).
    #[getter]
    fn get_keep(&self, py: Python<'_>) -> PyResult<bool> {
        let m = self.lock(py);
        Ok(m.as_ref().ok_or_else(closed)?.segment.keeps_name())
    }

    #[setter]
    fn set_keep(&self, py: Python<'_>, keep: bool) -> PyResult<()> {
        let mut m = self.lock(py);
        m.as_mut().ok_or_else(closed)?.segment.set_keep(keep);
        Ok(())
    }

    /// Unmaps the segment and, for its creator, removes the name (unless ``keep``). Raises
    /// ``BufferError`` while views (memoryviews, numpy arrays) of it are alive. Closing
    /// twice is allowed.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let mut m = self.lock(py);
        let n = self.exports.live();
        if n > 0 {
            return Err(views_alive("the segment", n));
        }
        m.take();
        Ok(())
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
        let m = this.lock(slf.py());
        let mapped = m
            .as_ref()
            .ok_or_else(|| PyBufferError::new_err("the segment is closed"))?;
        // SAFETY: the view maps `len` bytes (writable unless read-only); it stays mapped
        // while the export lives: the buffer holds this object, and `close` refuses while
        // the export is counted.
        unsafe {
            buffer::export(
                view,
                flags,
                slf.as_any(),
                (mapped.view.as_mut_ptr(), mapped.view.len()),
                this.read_only,
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

    /// Enters a `with` block (see the class docs for what leaving it does).
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
            "<shmkit.Segment {:?} size={}{}>",
            self.name,
            self.len,
            if self.read_only { " read-only" } else { "" }
        )
    }
}

fn closed() -> PyErr {
    PyValueError::new_err("the segment is closed")
}

/// Removes the name ``name``: new opens fail, existing mappings keep working. Works for any
/// shmkit object (channels, mutexes, ...), which are segments too.
#[pyfunction]
pub(crate) fn remove(py: Python<'_>, name: &str) -> PyResult<()> {
    py.detach(|| shmkit::Segment::remove(name)).map_err(to_py)
}

/// An `Info` as the dict `inspect` and `list` return: the JSON `shmkit info --json` prints
/// (less its `schema`), parsed by Python's `json` — one shape, defined by the library's
/// `Serialize` for `Info`.
fn info_dict<'py>(py: Python<'py>, info: &shmkit::inspect::Info) -> PyResult<Bound<'py, PyDict>> {
    let json = serde_json::to_string(info)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    Ok(py
        .import("json")?
        .call_method1("loads", (json,))?
        .cast_into::<PyDict>()?)
}

/// What ``name`` is and who uses it, as a dict: the JSON ``shmkit info --json`` prints,
/// less ``schema``: ``name``, ``size``, ``kind`` (``"raw"``, ``"channel"``,
/// ``"broadcast_channel"``, ``"mutex"``, ...), ``layout_version``, ``creator_pid``,
/// ``creator_alive``, ``in_use``, ``holders`` (a list of ``{"role", "pid"}``),
/// ``owner_uid``, ``mode`` (octal string, ``"600"``), ``modified`` (RFC 3339, UTC),
/// ``age_seconds``, ``details`` (the object's shape and counters, read without joining it:
/// a dict whose ``kind`` is ``"channel"`` — ``capacity``, ``fill``, ``sent``, ``received``,
/// ``layout`` —, ``"broadcast"`` — ``slots``, ``slot_size``, ``policy``, ``published``,
/// ``overwritten``, ``subscribers`` with each one's ``position``, ``lag``, ``received``,
/// ``lost`` —, ``"service"``, ...; the CLI README lists every field), ``details_error``.
/// Unknown values are ``None``.
#[pyfunction]
pub(crate) fn inspect<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
    let info = py
        .detach(|| shmkit::inspect::inspect(name))
        .map_err(to_py)?;
    info_dict(py, &info)
}

/// The segments on this machine that the OS can list (Linux: ``/dev/shm``), sorted by
/// name, as :func:`inspect` dicts (``shmkit ls --json``). Segments this process may not
/// open, or that vanish meanwhile, are left out, and so are glibc's ``sem.*`` semaphores
/// unless ``all``. Raises ``Unsupported`` on macOS.
#[pyfunction]
#[pyo3(signature = (all=false))]
pub(crate) fn list(py: Python<'_>, all: bool) -> PyResult<Vec<Bound<'_, PyDict>>> {
    let infos = py.detach(|| {
        shmkit::inspect::list().map(|names| {
            names
                .iter()
                .filter(|n| all || !n.starts_with("sem."))
                .filter_map(|n| shmkit::inspect::inspect(n).ok())
                .collect::<Vec<_>>()
        })
    });
    infos
        .map_err(to_py)?
        .iter()
        .map(|i| info_dict(py, i))
        .collect()
}
