//! `shmkit.channel`: the single-producer / single-consumer byte channel.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use shmkit::channel::{self, WaitStrategy};

use crate::errors::to_py;
use crate::rx::{Receiver, RustReceiver, RxShared};
use crate::tx::{RustSender, Sender};

/// Reads a wait mode: ``"adaptive"`` (spin, then sleep: the default), ``"blocking"`` (sleep
/// at once) or ``"busy_poll"`` (never sleep).
pub(crate) fn wait_mode(s: &str) -> PyResult<WaitStrategy> {
    match s {
        "adaptive" => Ok(WaitStrategy::Adaptive),
        "blocking" => Ok(WaitStrategy::Blocking),
        "busy_poll" | "busy-poll" => Ok(WaitStrategy::BusyPoll),
        _ => Err(PyValueError::new_err(format!(
            "wait must be 'adaptive', 'blocking' or 'busy_poll', not {s:?}"
        ))),
    }
}

/// The sending side of a channel (see :class:`Sender` for the methods).
#[pyclass(module = "shmkit.channel", extends = Sender, frozen)]
pub(crate) struct Producer {
    capacity: usize,
    creator: bool,
}

#[pymethods]
impl Producer {
    /// The ring's size in bytes.
    #[getter]
    fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether this side created the channel (and removes its name when closed, unless
    /// ``keep`` was given).
    #[getter]
    fn is_creator(&self) -> bool {
        self.creator
    }

    /// Changes how this side waits: ``"adaptive"``, ``"blocking"`` or ``"busy_poll"``.
    /// ``RuntimeError`` while a loan is open.
    fn set_wait_mode(slf: PyRef<'_, Self>, wait: &str) -> PyResult<()> {
        let mode = wait_mode(wait)?;
        slf.as_super().core.with(slf.py(), |s| {
            if let RustSender::Channel(p) = s {
                p.set_wait_strategy(mode);
            }
        })
    }

    /// A short description for the REPL.
    fn __repr__(slf: PyRef<'_, Self>) -> String {
        format!(
            "<shmkit.channel.Producer {:?} capacity={}>",
            slf.as_super().name,
            slf.capacity
        )
    }
}

/// The receiving side of a channel (see :class:`Receiver` for the methods).
#[pyclass(module = "shmkit.channel", extends = Receiver, frozen)]
pub(crate) struct Consumer {
    capacity: usize,
    creator: bool,
}

#[pymethods]
impl Consumer {
    /// The ring's size in bytes.
    #[getter]
    fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether this side created the channel.
    #[getter]
    fn is_creator(&self) -> bool {
        self.creator
    }

    /// Changes how this side waits: ``"adaptive"``, ``"blocking"`` or ``"busy_poll"``.
    /// Releases the current sample first, as ``recv`` does (``BufferError`` if views of it
    /// are alive).
    fn set_wait_mode(slf: PyRef<'_, Self>, wait: &str) -> PyResult<()> {
        let mode = wait_mode(wait)?;
        slf.as_super().core.with(slf.py(), |r| {
            if let RustReceiver::Channel(c) = r {
                c.set_wait_strategy(mode);
            }
        })
    }

    /// A short description for the REPL.
    fn __repr__(slf: PyRef<'_, Self>) -> String {
        format!(
            "<shmkit.channel.Consumer {:?} capacity={}>",
            slf.as_super().name,
            slf.capacity
        )
    }
}

fn options(capacity: usize, wait: &str, mode: u32, keep: bool) -> PyResult<channel::Options> {
    let mut o = channel::options();
    o.capacity(capacity)
        .wait_strategy(wait_mode(wait)?)
        .mode(mode)
        .keep(keep);
    Ok(o)
}

fn producer(py: Python<'_>, p: shmkit::Result<channel::Producer>) -> PyResult<Py<Producer>> {
    let p = p.map_err(to_py)?;
    let (capacity, creator, name) = (p.capacity(), p.is_creator(), p.name().to_owned());
    let base = Sender::new(name, RustSender::Channel(p));
    Py::new(
        py,
        PyClassInitializer::from(base).add_subclass(Producer { capacity, creator }),
    )
}

fn consumer(py: Python<'_>, c: shmkit::Result<channel::Consumer>) -> PyResult<Py<Consumer>> {
    let c = c.map_err(to_py)?;
    let (capacity, creator, name) = (c.capacity(), c.is_creator(), c.name().to_owned());
    let base = Receiver {
        core: RxShared::new(&name, RustReceiver::Channel(c)),
        name,
    };
    Py::new(
        py,
        PyClassInitializer::from(base).add_subclass(Consumer { capacity, creator }),
    )
}

/// Creates the channel ``name`` with a ring of ``capacity`` bytes (rounded up to a power of
/// two) and returns its :class:`Producer`. The creator removes the name when closed, unless
/// ``keep``.
#[pyfunction]
#[pyo3(
    signature = (name, capacity, *, wait="adaptive", mode=shmkit::segment::DEFAULT_MODE, keep=false),
    text_signature = "(name, capacity, *, wait=\"adaptive\", mode=shmkit.DEFAULT_MODE, keep=False)"
)]
fn create(
    py: Python<'_>,
    name: &str,
    capacity: usize,
    wait: &str,
    mode: u32,
    keep: bool,
) -> PyResult<Py<Producer>> {
    let o = options(capacity, wait, mode, keep)?;
    producer(py, py.detach(|| o.create_producer(name)))
}

/// Opens the existing channel ``name`` as its :class:`Consumer`.
#[pyfunction]
#[pyo3(signature = (name, *, wait="adaptive"))]
fn open(py: Python<'_>, name: &str, wait: &str) -> PyResult<Py<Consumer>> {
    let o = options(0, wait, 0o600, false)?;
    consumer(py, py.detach(|| o.open_consumer(name)))
}

/// The reverse roles: creates the channel ``name`` and returns its :class:`Consumer`.
#[pyfunction]
#[pyo3(
    signature = (name, capacity, *, wait="adaptive", mode=shmkit::segment::DEFAULT_MODE, keep=false),
    text_signature = "(name, capacity, *, wait=\"adaptive\", mode=shmkit.DEFAULT_MODE, keep=False)"
)]
fn create_consumer(
    py: Python<'_>,
    name: &str,
    capacity: usize,
    wait: &str,
    mode: u32,
    keep: bool,
) -> PyResult<Py<Consumer>> {
    let o = options(capacity, wait, mode, keep)?;
    consumer(py, py.detach(|| o.create_consumer(name)))
}

/// The reverse roles: opens the existing channel ``name`` as its :class:`Producer`.
#[pyfunction]
#[pyo3(signature = (name, *, wait="adaptive"))]
fn open_producer(py: Python<'_>, name: &str, wait: &str) -> PyResult<Py<Producer>> {
    let o = options(0, wait, 0o600, false)?;
    producer(py, py.detach(|| o.open_producer(name)))
}

/// Opens the channel ``name`` as its producer, creating it first if it does not exist.
#[pyfunction]
#[pyo3(
    signature = (name, capacity, *, wait="adaptive", mode=shmkit::segment::DEFAULT_MODE, keep=false),
    text_signature = "(name, capacity, *, wait=\"adaptive\", mode=shmkit.DEFAULT_MODE, keep=False)"
)]
fn open_or_create_producer(
    py: Python<'_>,
    name: &str,
    capacity: usize,
    wait: &str,
    mode: u32,
    keep: bool,
) -> PyResult<Py<Producer>> {
    let o = options(capacity, wait, mode, keep)?;
    producer(py, py.detach(|| o.open_or_create_producer(name)))
}

/// Opens the channel ``name`` as its consumer, creating it first if it does not exist.
#[pyfunction]
#[pyo3(
    signature = (name, capacity, *, wait="adaptive", mode=shmkit::segment::DEFAULT_MODE, keep=false),
    text_signature = "(name, capacity, *, wait=\"adaptive\", mode=shmkit.DEFAULT_MODE, keep=False)"
)]
fn open_or_create_consumer(
    py: Python<'_>,
    name: &str,
    capacity: usize,
    wait: &str,
    mode: u32,
    keep: bool,
) -> PyResult<Py<Consumer>> {
    let o = options(capacity, wait, mode, keep)?;
    consumer(py, py.detach(|| o.open_or_create_consumer(name)))
}

/// Builds the `channel` submodule.
pub(crate) fn module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let m = PyModule::new(py, "channel")?;
    m.add_class::<Producer>()?;
    m.add_class::<Consumer>()?;
    m.add_function(wrap_pyfunction!(create, &m)?)?;
    m.add_function(wrap_pyfunction!(open, &m)?)?;
    m.add_function(wrap_pyfunction!(create_consumer, &m)?)?;
    m.add_function(wrap_pyfunction!(open_producer, &m)?)?;
    m.add_function(wrap_pyfunction!(open_or_create_producer, &m)?)?;
    m.add_function(wrap_pyfunction!(open_or_create_consumer, &m)?)?;
    m.add("MIN_CAPACITY", channel::MIN_CAPACITY)?;
    Ok(m)
}
