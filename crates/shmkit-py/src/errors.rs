//! `shmkit::Error` → the Python exception hierarchy of `shmkit/_errors.py`.
//!
//! The classes are defined in Python (so that they can also derive from `PermissionError`,
//! `TimeoutError` and friends, which `create_exception!` cannot express) and looked up once.

use pyo3::exceptions::PyBufferError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The Python class of every variant, by name; an unknown future variant maps to `Error`.
fn class_name(e: &shmkit::Error) -> &'static str {
    use shmkit::Error as E;
    match e {
        E::NameInvalid { .. } => "NameInvalid",
        E::NotFound { .. } => "NotFound",
        E::AlreadyExists { .. } => "AlreadyExists",
        E::AccessDenied { .. } => "AccessDenied",
        E::AccessMismatch { .. } => "AccessMismatch",
        E::SizeInvalid { .. } => "SizeInvalid",
        E::NoSpace { .. } => "NoSpace",
        E::Corrupt { .. } => "Corrupt",
        E::VersionMismatch { .. } => "VersionMismatch",
        E::KindMismatch { .. } => "KindMismatch",
        E::LayoutMismatch { .. } => "LayoutMismatch",
        E::Timeout { .. } => "Timeout",
        E::WouldBlock { .. } => "WouldBlock",
        E::OwnerDied { .. } => "OwnerDied",
        E::Unrecoverable { .. } => "Unrecoverable",
        E::Deadlock { .. } => "Deadlock",
        E::Full { .. } => "Full",
        // `Client.wait` on a request already answered, cancelled or another client's.
        E::NotOutstanding { .. } => "NotOutstanding",
        E::Disconnected { .. } => "Disconnected",
        E::Lagged { .. } => "Lagged",
        E::InUse { .. } => "InUse",
        E::Unsupported { .. } => "Unsupported",
        E::Io { .. } => "Io",
        _ => "Error",
    }
}

/// The name of the object an error is about, if it names one.
fn object_name(e: &shmkit::Error) -> Option<&str> {
    use shmkit::Error as E;
    match e {
        E::NameInvalid { name, .. }
        | E::NotFound { name }
        | E::AlreadyExists { name }
        | E::AccessDenied { name, .. }
        | E::AccessMismatch { name, .. }
        | E::SizeInvalid { name, .. }
        | E::NoSpace { name, .. }
        | E::Corrupt { name, .. }
        | E::VersionMismatch { name, .. }
        | E::KindMismatch { name, .. }
        | E::LayoutMismatch { name, .. }
        | E::Timeout { name }
        | E::WouldBlock { name }
        | E::OwnerDied { name }
        | E::Unrecoverable { name }
        | E::Deadlock { name }
        | E::Full { name, .. }
        | E::NotOutstanding { name, .. }
        | E::Disconnected { name }
        | E::Lagged { name, .. }
        | E::InUse { name, .. }
        | E::Io { name, .. } => Some(name),
        _ => None,
    }
}

/// The exception class `shmkit._errors.<name>`.
pub(crate) fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || py.import("shmkit._errors").map(Bound::unbind))?;
    Ok(module.bind(py).getattr(name)?.cast_into::<PyType>()?)
}

/// Builds the Python exception for `e`, with `.name` and the variant's own fields.
fn build(py: Python<'_>, e: &shmkit::Error) -> PyResult<PyErr> {
    let cls = class(py, class_name(e))?;
    let exc = cls.call1((e.to_string(), object_name(e)))?;
    match e {
        shmkit::Error::Lagged { missed, .. } => exc.setattr("missed", missed)?,
        shmkit::Error::NotOutstanding { id, .. } => exc.setattr("id", id)?,
        shmkit::Error::InUse { role, pid, .. } => {
            exc.setattr("role", role)?;
            exc.setattr("pid", pid)?;
        }
        shmkit::Error::Io { source, .. } => {
            if let Some(code) = source.raw_os_error() {
                exc.setattr("errno", code)?;
            }
        }
        _ => {}
    }
    Ok(PyErr::from_value(exc))
}

/// Converts a shmkit error into the matching Python exception.
pub(crate) fn to_py(e: shmkit::Error) -> PyErr {
    Python::attach(|py| build(py, &e).unwrap_or_else(|lookup| lookup))
}

/// Why a sliced wait or an operation on a handle failed: a shmkit error (converted to its
/// Python class once attached again) or a Python exception made without the interpreter.
#[derive(Debug)]
pub(crate) enum Fail {
    /// An error of the library.
    Shm(shmkit::Error),
    /// A Python exception (built lazily: no interpreter needed).
    Py(PyErr),
}

impl From<shmkit::Error> for Fail {
    fn from(e: shmkit::Error) -> Self {
        Fail::Shm(e)
    }
}

impl From<PyErr> for Fail {
    fn from(e: PyErr) -> Self {
        Fail::Py(e)
    }
}

impl From<Fail> for PyErr {
    fn from(f: Fail) -> Self {
        match f {
            Fail::Shm(e) => to_py(e),
            Fail::Py(e) => e,
        }
    }
}

/// `BufferError` saying that `what` still has `n` views and cannot be released.
pub(crate) fn views_alive(what: &str, n: usize) -> PyErr {
    PyBufferError::new_err(format!(
        "{what} still has {n} live buffer view(s) (memoryview, numpy array, ...); release \
         them first (del the array, or memoryview.release())"
    ))
}
