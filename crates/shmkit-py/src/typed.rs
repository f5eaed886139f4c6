//! Typed sides: what `layout=` / `tag=` give a channel or broadcast side, and the checks
//! that keep its messages a whole number of records.
//!
//! A typed side is a byte side opened with `*_with_layout` (the layout checked as Rust's
//! `channel::typed::<T>()` checks it), plus a Python `shmkit.Layout` (made in
//! `shmkit/_layout.py` from a numpy dtype, a ctypes type or numbers), which views the
//! messages as that type. As in Rust's typed sides (`channel::typed_core::Receiver`) a
//! received message whose length does not fit (one record for `recv`, a whole number of
//! them for `recv_slice`) is released and reported as `Corrupt`; as in the C API a loan,
//! commit or send of another length is `SizeInvalid`.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView};

use shmkit::channel::MessageLayout;

/// The message type of a typed side: the Python `Layout` and its record size.
pub(crate) struct Typed {
    pub(crate) layout: Py<PyAny>,
    pub(crate) size: usize,
    /// The layout's numpy dtype, if it has one (`send`'s fast check).
    dtype: Option<Py<PyAny>>,
}

impl Typed {
    /// The message type of the Python `Layout` `l`, of `size` bytes.
    fn of(l: Bound<'_, PyAny>, size: usize) -> PyResult<Typed> {
        let dtype = l.getattr(intern!(l.py(), "dtype"))?;
        Ok(Typed {
            dtype: (!dtype.is_none()).then(|| dtype.unbind()),
            layout: l.unbind(),
            size,
        })
    }

    /// A second handle on the same layout.
    pub(crate) fn clone_ref(&self, py: Python<'_>) -> Typed {
        Typed {
            layout: self.layout.clone_ref(py),
            size: self.size,
            dtype: self.dtype.as_ref().map(|d| d.clone_ref(py)),
        }
    }
}

/// A function of `shmkit._layout`, looked up once.
fn layout_fn<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    crate::python_fn(py, cell, "shmkit._layout", name)
}

/// The layout `layout=` / `tag=` ask for (`None`: a byte side), checked against the
/// largest alignment the kind's payloads have (`max_align`, as the C API checks it).
pub(crate) fn resolve(
    py: Python<'_>,
    layout: Option<&Bound<'_, PyAny>>,
    tag: Option<&str>,
    max_align: u64,
    kind: &str,
) -> PyResult<Option<(MessageLayout, Typed)>> {
    let Some(layout) = layout.filter(|l| !l.is_none()) else {
        return match tag {
            Some(_) => Err(PyValueError::new_err(
                "tag= names a message type: give layout= too",
            )),
            None => Ok(None),
        };
    };
    static RESOLVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let l = layout_fn(py, &RESOLVE, "_resolve")?.call1((layout, tag))?;
    let (size, align): (u64, u64) = (
        l.getattr("size")?.extract()?,
        l.getattr("align")?.extract()?,
    );
    let tag: Option<String> = l.getattr("tag")?.extract()?;
    if align > max_align {
        return Err(PyValueError::new_err(format!(
            "layout alignment {align}: a typed {kind} carries types aligned to at most \
             {max_align} bytes (its payloads are {max_align}-aligned)"
        )));
    }
    let msg = MessageLayout::new(size, align, tag.as_deref());
    let size = usize::try_from(size).map_err(|_| PyValueError::new_err("layout too large"))?;
    Ok(Some((msg, Typed::of(l, size)?)))
}

/// How many records a received message must hold.
#[derive(Clone, Copy)]
pub(crate) enum Fit {
    /// A byte side: any length.
    Any,
    /// `recv` of a typed side: one record of this size.
    One(usize),
    /// `recv_slice` / `recv_into` of a typed side: a whole number of records of this size.
    Whole(usize),
}

impl Fit {
    /// For `recv` (`one`) or the slice forms of a side typed by `typed`.
    pub(crate) fn of(typed: Option<&Typed>, one: bool) -> Fit {
        match typed {
            None => Fit::Any,
            Some(t) if one => Fit::One(t.size),
            Some(t) => Fit::Whole(t.size),
        }
    }

    /// `Corrupt` unless a message of `len` bytes fits, as Rust's typed sides report it (the
    /// caller drops the message).
    pub(crate) fn check(self, name: &str, len: usize) -> shmkit::Result<()> {
        let (ok, want) = match self {
            Fit::Any => return Ok(()),
            Fit::One(n) => (len == n, format!("one {n}-byte record")),
            Fit::Whole(n) => (len % n == 0, format!("a whole number of {n}-byte records")),
        };
        if ok {
            return Ok(());
        }
        Err(shmkit::Error::Corrupt {
            name: name.to_owned(),
            reason: format!(
                "a message of {len} bytes is not {want} (the typed side's layout); it was \
                 dropped"
            ),
        })
    }
}

/// `SizeInvalid` unless `len` bytes are a whole number of `typed`'s records.
pub(crate) fn check_len(typed: Option<&Typed>, name: &str, len: usize, what: &str) -> PyResult<()> {
    match typed {
        Some(t) if len % t.size != 0 => Err(crate::errors::to_py(shmkit::Error::SizeInvalid {
            name: name.to_owned(),
            reason: format!(
                "{what} of {len} bytes is not a whole number of the typed side's {}-byte records",
                t.size
            ),
        })),
        _ => Ok(()),
    }
}

/// `TypeError` if `data` is typed (a numpy array, a ctypes object) but not of the side's
/// type; plain buffers (and received samples) are checked by length only (by the caller).
/// Returns what to send
/// (a ctypes object's bytes, as a memoryview).
pub(crate) fn check_send<'py>(
    typed: &Typed,
    data: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    if data.is_instance_of::<PyBytes>()
        || data.is_instance_of::<PyByteArray>()
        || data.is_instance_of::<PyMemoryView>()
        || data.is_instance_of::<crate::rx::Sample>()
    {
        return Ok(data.clone());
    }
    // The common case, a numpy array of the side's dtype, without a call into Python (a
    // 0-dimensional record goes on to `_check_send`, which gives its bytes).
    if let (Some(want), Ok(dt)) = (&typed.dtype, data.getattr(intern!(data.py(), "dtype"))) {
        let ndim: usize = data.getattr(intern!(data.py(), "ndim"))?.extract()?;
        if ndim > 0 && (dt.is(want) || dt.eq(want)?) {
            return Ok(data.clone());
        }
    }
    static CHECK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    layout_fn(data.py(), &CHECK, "_check_send")?.call1((typed.layout.bind(data.py()), data))
}

/// A zero-copy view of `exporter` (a sample or loan of a typed side) as the side's type:
/// one record (`one`) or an array of them.
pub(crate) fn view<'py>(
    typed: &Typed,
    exporter: &Bound<'py, PyAny>,
    one: bool,
    writable: bool,
) -> PyResult<Bound<'py, PyAny>> {
    static VIEW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = exporter.py();
    layout_fn(py, &VIEW, "_view")?.call1((typed.layout.bind(py), exporter, one, writable))
}

/// `TypeError` for a slice form called on a byte side.
pub(crate) fn typed_only<'a>(typed: Option<&'a Typed>, what: &str) -> PyResult<&'a Typed> {
    typed.ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{what} is for typed sides (opened with layout=); a byte side has no records"
        ))
    })
}

/// A typed service's request and response types (`request_layout=`, `response_layout=`,
/// `tag=`), tagged `"<tag> request"` / `"<tag> response"` as Rust's `service::typed`.
pub(crate) struct ServiceTypes {
    pub(crate) request: Typed,
    pub(crate) response: Typed,
    pub(crate) layouts: (MessageLayout, MessageLayout),
}

impl ServiceTypes {
    /// `(request, response)` as Python `Layout`s.
    pub(crate) fn pair(&self, py: Python<'_>) -> (Py<PyAny>, Py<PyAny>) {
        (
            self.request.layout.clone_ref(py),
            self.response.layout.clone_ref(py),
        )
    }
}

/// The types of a typed service, or `None` for a byte service.
pub(crate) fn resolve_service(
    py: Python<'_>,
    request: Option<&Bound<'_, PyAny>>,
    response: Option<&Bound<'_, PyAny>>,
    tag: Option<&str>,
) -> PyResult<Option<ServiceTypes>> {
    static PAIR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let pair = layout_fn(py, &PAIR, "_service_layouts")?.call1((request, response, tag))?;
    if pair.is_none() {
        return Ok(None);
    }
    let (q, s): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair.extract()?;
    let one = |l: Bound<'_, PyAny>| -> PyResult<(MessageLayout, Typed)> {
        let (size, align): (u64, u64) = (
            l.getattr("size")?.extract()?,
            l.getattr("align")?.extract()?,
        );
        let tag: Option<String> = l.getattr("tag")?.extract()?;
        let msg = MessageLayout::new(size, align, tag.as_deref());
        let size = usize::try_from(size).map_err(|_| PyValueError::new_err("layout too large"))?;
        Ok((msg, Typed::of(l, size)?))
    };
    let ((qm, request), (sm, response)) = (one(q)?, one(s)?);
    Ok(Some(ServiceTypes {
        request,
        response,
        layouts: (qm, sm),
    }))
}

/// What to copy in for a typed service's message `data` (checked as [`check_send`]);
/// `data` itself for a byte service.
pub(crate) fn service_data<'py>(
    typed: Option<&Typed>,
    data: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    match typed {
        Some(t) => check_send(t, data),
        None => Ok(data.clone()),
    }
}

/// `SizeInvalid` unless a message of `len` bytes is one record of `typed` (Rust's typed
/// services carry one value per request and response; a typed loan of one value commits
/// it whole).
pub(crate) fn check_one(typed: Option<&Typed>, name: &str, len: usize, what: &str) -> PyResult<()> {
    match typed {
        Some(t) if len != t.size => Err(crate::errors::to_py(shmkit::Error::SizeInvalid {
            name: name.to_owned(),
            reason: format!(
                "{what} of {len} bytes is not one {}-byte record (the typed layout)",
                t.size
            ),
        })),
        _ => Ok(()),
    }
}

/// A typed service's message (a copy, `bytes`) as its type: a numpy record (shape `()`,
/// read-only), a ctypes object (a copy), or the bytes for a layout given by numbers; the
/// bytes themselves for a byte service. `Corrupt` for a typed message of another length.
pub(crate) fn service_value<'py>(
    typed: Option<&Typed>,
    name: &str,
    bytes: Bound<'py, PyBytes>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(t) = typed else {
        return Ok(bytes.into_any());
    };
    let len = bytes.as_bytes().len();
    Fit::One(t.size)
        .check(name, len)
        .map_err(crate::errors::to_py)?;
    static VALUE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = bytes.py();
    layout_fn(py, &VALUE, "_value_of")?.call1((t.layout.bind(py), bytes))
}
