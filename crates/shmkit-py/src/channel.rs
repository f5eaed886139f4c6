//! `shmkit.channel`: the single-producer / single-consumer byte channel.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use shmkit::channel::{self, MessageLayout, WaitStrategy};

use crate::errors::to_py;
use crate::rx::{Receiver, RustReceiver};
use crate::tx::{RustSender, Sender};
use crate::typed::{self, Typed};
use crate::wait::{opening, Wait};

/// The largest alignment a typed channel carries: its ring's payloads are 8-aligned.
const CHANNEL_ALIGN: u64 = 8;

/// `layout=` / `tag=` of a channel function.
fn typed_arg(
    py: Python<'_>,
    layout: Option<&Bound<'_, PyAny>>,
    tag: Option<&str>,
) -> PyResult<(Option<MessageLayout>, Option<Typed>)> {
    Ok(typed::resolve(py, layout, tag, CHANNEL_ALIGN, "channel")?.unzip())
}

/// Reads a wait strategy: ``"adaptive"`` (spin, then sleep: the default), ``"blocking"``
/// (sleep at once) or ``"busy_poll"`` (never sleep).
pub(crate) fn parse_wait_strategy(s: &str) -> PyResult<WaitStrategy> {
    match s {
        "adaptive" => Ok(WaitStrategy::Adaptive),
        "blocking" => Ok(WaitStrategy::Blocking),
        "busy_poll" | "busy-poll" => Ok(WaitStrategy::BusyPoll),
        _ => Err(PyValueError::new_err(format!(
            "wait_strategy must be 'adaptive', 'blocking' or 'busy_poll', not {s:?}"
        ))),
    }
}

/// The name of a wait strategy, as ``wait_strategy=`` takes it.
pub(crate) fn wait_strategy_name(w: WaitStrategy) -> &'static str {
    match w {
        WaitStrategy::Adaptive => "adaptive",
        WaitStrategy::Blocking => "blocking",
        WaitStrategy::BusyPoll => "busy_poll",
    }
}

/// The sending side of a channel (see :class:`Sender` for the methods).
///
/// Thread safety: as :class:`Sender` (shared between threads; an open loan holds it).
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
///
/// Thread safety: as :class:`Receiver` (shared between threads; a held sample holds it).
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

    /// A short description for the REPL.
    fn __repr__(slf: PyRef<'_, Self>) -> String {
        format!(
            "<shmkit.channel.Consumer {:?} capacity={}>",
            slf.as_super().name,
            slf.capacity
        )
    }
}

fn options(
    capacity: usize,
    wait_strategy: &str,
    mode: u32,
    keep: bool,
) -> PyResult<channel::Options> {
    let mut o = channel::options();
    o.capacity(capacity)
        .wait_strategy(parse_wait_strategy(wait_strategy)?)
        .mode(mode)
        .keep(keep);
    Ok(o)
}

fn producer(py: Python<'_>, p: channel::Producer, t: Option<Typed>) -> PyResult<Py<Producer>> {
    let (capacity, creator, name) = (p.capacity(), p.is_creator(), p.name().to_owned());
    let base = Sender::new(name, RustSender::Channel(p), t);
    Py::new(
        py,
        PyClassInitializer::from(base).add_subclass(Producer { capacity, creator }),
    )
}

fn consumer(py: Python<'_>, c: channel::Consumer, t: Option<Typed>) -> PyResult<Py<Consumer>> {
    let (capacity, creator, name) = (c.capacity(), c.is_creator(), c.name().to_owned());
    let base = Receiver::new(name, RustReceiver::Channel(c), t);
    Py::new(
        py,
        PyClassInitializer::from(base).add_subclass(Consumer { capacity, creator }),
    )
}

/// Creates the channel ``name`` with a ring of ``capacity`` bytes (rounded up to a power of
/// two) and returns its :class:`Producer`. The creator removes the name when closed, unless
/// ``keep``. ``mode``: the permission bits; ``wait_strategy``: how this side waits
/// (``"adaptive"``, ``"blocking"`` or ``"busy_poll"``).
///
/// ``layout``: the message type of a typed channel (a numpy dtype, a ctypes type or a
/// :class:`shmkit.Layout`; alignment at most 8), recorded so that openers of another type
/// get ``LayoutMismatch``; ``tag``: its name and version (``"pose v1"``), as Rust's
/// ``channel::typed::<T>().tag(...)``. Every function of this module takes both.
#[pyfunction]
#[pyo3(
    signature = (name, capacity, *, wait_strategy="adaptive", mode=shmkit::segment::DEFAULT_MODE, keep=false, layout=None, tag=None),
    text_signature = "(name, capacity, *, wait_strategy=\"adaptive\", mode=shmkit.DEFAULT_MODE, keep=False, layout=None, tag=None)"
)]
#[allow(clippy::too_many_arguments)]
fn create_producer(
    py: Python<'_>,
    name: &str,
    capacity: usize,
    wait_strategy: &str,
    mode: u32,
    keep: bool,
    layout: Option<&Bound<'_, PyAny>>,
    tag: Option<&str>,
) -> PyResult<Py<Producer>> {
    let o = options(capacity, wait_strategy, mode, keep)?;
    let (m, t) = typed_arg(py, layout, tag)?;
    let p = py
        .detach(|| match &m {
            None => o.create_producer(name),
            Some(m) => o.create_producer_with_layout(name, m),
        })
        .map_err(to_py)?;
    producer(py, p, t)
}

/// Opens the existing channel ``name`` as its :class:`Consumer`.
///
/// ``open_timeout``: how many seconds to wait for the channel to appear (``None``: do not
/// wait, ``math.inf``: forever); then ``NotFound``. Ctrl-C interrupts the wait.
/// ``layout`` / ``tag``: a typed side, checked against what the channel records
/// (``LayoutMismatch`` naming both, also for a byte channel); see :func:`create_producer`.
#[pyfunction]
#[pyo3(signature = (name, *, wait_strategy="adaptive", open_timeout=None, layout=None, tag=None))]
fn open_consumer(
    py: Python<'_>,
    name: &str,
    wait_strategy: &str,
    open_timeout: Option<f64>,
    layout: Option<&Bound<'_, PyAny>>,
    tag: Option<&str>,
) -> PyResult<Py<Consumer>> {
    let mut o = options(0, wait_strategy, 0o600, false)?;
    let wait = Wait::from_open_timeout(open_timeout)?;
    let (m, t) = typed_arg(py, layout, tag)?;
    let c = opening(py, wait, |d| match &m {
        None => o.open_timeout(d).open_consumer(name),
        Some(m) => o.open_timeout(d).open_consumer_with_layout(name, m),
    })?;
    consumer(py, c, t)
}

/// The reverse roles: creates the channel ``name`` and returns its :class:`Consumer`
/// (arguments as :func:`create_producer`).
#[pyfunction]
#[pyo3(
    signature = (name, capacity, *, wait_strategy="adaptive", mode=shmkit::segment::DEFAULT_MODE, keep=false, layout=None, tag=None),
    text_signature = "(name, capacity, *, wait_strategy=\"adaptive\", mode=shmkit.DEFAULT_MODE, keep=False, layout=None, tag=None)"
)]
#[allow(clippy::too_many_arguments)]
fn create_consumer(
    py: Python<'_>,
    name: &str,
    capacity: usize,
    wait_strategy: &str,
    mode: u32,
    keep: bool,
    layout: Option<&Bound<'_, PyAny>>,
    tag: Option<&str>,
) -> PyResult<Py<Consumer>> {
    let o = options(capacity, wait_strategy, mode, keep)?;
    let (m, t) = typed_arg(py, layout, tag)?;
    let c = py
        .detach(|| match &m {
            None => o.create_consumer(name),
            Some(m) => o.create_consumer_with_layout(name, m),
        })
        .map_err(to_py)?;
    consumer(py, c, t)
}

/// The reverse roles: opens the existing channel ``name`` as its :class:`Producer`
/// (arguments as :func:`open_consumer`).
#[pyfunction]
#[pyo3(signature = (name, *, wait_strategy="adaptive", open_timeout=None, layout=None, tag=None))]
fn open_producer(
    py: Python<'_>,
    name: &str,
    wait_strategy: &str,
    open_timeout: Option<f64>,
    layout: Option<&Bound<'_, PyAny>>,
    tag: Option<&str>,
) -> PyResult<Py<Producer>> {
    let mut o = options(0, wait_strategy, 0o600, false)?;
    let wait = Wait::from_open_timeout(open_timeout)?;
    let (m, t) = typed_arg(py, layout, tag)?;
    let p = opening(py, wait, |d| match &m {
        None => o.open_timeout(d).open_producer(name),
        Some(m) => o.open_timeout(d).open_producer_with_layout(name, m),
    })?;
    producer(py, p, t)
}

/// Opens the channel ``name`` as its producer, creating it first if it does not exist
/// (arguments as :func:`create_producer`; an existing channel keeps its capacity).
#[pyfunction]
#[pyo3(
    signature = (name, capacity, *, wait_strategy="adaptive", mode=shmkit::segment::DEFAULT_MODE, keep=false, layout=None, tag=None),
    text_signature = "(name, capacity, *, wait_strategy=\"adaptive\", mode=shmkit.DEFAULT_MODE, keep=False, layout=None, tag=None)"
)]
#[allow(clippy::too_many_arguments)]
fn open_or_create_producer(
    py: Python<'_>,
    name: &str,
    capacity: usize,
    wait_strategy: &str,
    mode: u32,
    keep: bool,
    layout: Option<&Bound<'_, PyAny>>,
    tag: Option<&str>,
) -> PyResult<Py<Producer>> {
    let o = options(capacity, wait_strategy, mode, keep)?;
    let (m, t) = typed_arg(py, layout, tag)?;
    let p = py
        .detach(|| match &m {
            None => o.open_or_create_producer(name),
            Some(m) => o.open_or_create_producer_with_layout(name, m),
        })
        .map_err(to_py)?;
    producer(py, p, t)
}

/// Opens the channel ``name`` as its consumer, creating it first if it does not exist
/// (arguments as :func:`create_producer`; an existing channel keeps its capacity).
#[pyfunction]
#[pyo3(
    signature = (name, capacity, *, wait_strategy="adaptive", mode=shmkit::segment::DEFAULT_MODE, keep=false, layout=None, tag=None),
    text_signature = "(name, capacity, *, wait_strategy=\"adaptive\", mode=shmkit.DEFAULT_MODE, keep=False, layout=None, tag=None)"
)]
#[allow(clippy::too_many_arguments)]
fn open_or_create_consumer(
    py: Python<'_>,
    name: &str,
    capacity: usize,
    wait_strategy: &str,
    mode: u32,
    keep: bool,
    layout: Option<&Bound<'_, PyAny>>,
    tag: Option<&str>,
) -> PyResult<Py<Consumer>> {
    let o = options(capacity, wait_strategy, mode, keep)?;
    let (m, t) = typed_arg(py, layout, tag)?;
    let c = py
        .detach(|| match &m {
            None => o.open_or_create_consumer(name),
            Some(m) => o.open_or_create_consumer_with_layout(name, m),
        })
        .map_err(to_py)?;
    consumer(py, c, t)
}

/// Builds the `channel` submodule.
pub(crate) fn module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let m = PyModule::new(py, "channel")?;
    m.add_class::<Producer>()?;
    m.add_class::<Consumer>()?;
    m.add_function(wrap_pyfunction!(create_producer, &m)?)?;
    m.add_function(wrap_pyfunction!(open_consumer, &m)?)?;
    m.add_function(wrap_pyfunction!(create_consumer, &m)?)?;
    m.add_function(wrap_pyfunction!(open_producer, &m)?)?;
    m.add_function(wrap_pyfunction!(open_or_create_producer, &m)?)?;
    m.add_function(wrap_pyfunction!(open_or_create_consumer, &m)?)?;
    m.add("MIN_CAPACITY", channel::MIN_CAPACITY)?;
    Ok(m)
}
