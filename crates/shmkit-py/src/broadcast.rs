//! `shmkit.broadcast`: one publisher, many subscribers, each message read in place by all.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use shmkit::channel::broadcast::{self, Policy};

use crate::channel::parse_wait_strategy;
use crate::errors::to_py;
use crate::rx::{Receiver, RustReceiver};
use crate::tx::{RustSender, Sender};
use crate::typed;
use crate::wait::{opening, Wait};

/// The largest alignment a typed broadcast carries: its slots are 16-aligned.
const BROADCAST_ALIGN: u64 = 16;

fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::Block => "block",
        Policy::Overwrite => "overwrite",
    }
}

/// The publishing side of a broadcast (see :class:`Sender` for the methods).
///
/// Thread safety: as :class:`Sender` (shared between threads; an open loan holds it).
#[pyclass(module = "shmkit.broadcast", extends = Sender, frozen)]
pub(crate) struct Publisher {
    policy: Policy,
}

#[pymethods]
impl Publisher {
    /// ``"block"`` (back-pressure) or ``"overwrite"`` (slow subscribers get ``Lagged``).
    #[getter]
    fn policy(&self) -> &'static str {
        policy_name(self.policy)
    }

    /// How many subscribers are attached now (``RuntimeError`` while a loan is open).
    #[getter]
    fn subscribers(slf: PyRef<'_, Self>) -> PyResult<usize> {
        slf.as_super().core.with(slf.py(), |s| match s {
            RustSender::Broadcast(p) => p.subscribers(),
            RustSender::Channel(_) => 0,
        })
    }

    /// Waits until at least ``n`` subscribers are attached, up to ``timeout`` seconds
    /// (``None``: forever, ``0``: not at all), and returns how many are. Raises ``Timeout``
    /// (``WouldBlock`` for ``timeout=0``) if fewer are by then; Ctrl-C interrupts the wait.
    ///
    /// Waits for another thread's open loan, as ``send`` does; ``RuntimeError`` while this
    /// thread's loan is open. Other threads' calls on this publisher wait meanwhile.
    #[pyo3(signature = (n, timeout=None))]
    fn wait_for_subscribers(
        slf: PyRef<'_, Self>,
        n: usize,
        timeout: Option<f64>,
    ) -> PyResult<usize> {
        let wait = Wait::from_timeout(timeout)?;
        slf.as_super()
            .core
            .with_waiting(slf.py(), wait, |s, slice| match (s, slice) {
                (RustSender::Broadcast(p), None) => p.try_wait_for_subscribers(n),
                (RustSender::Broadcast(p), Some(d)) => p.wait_for_subscribers_timeout(n, d),
                (RustSender::Channel(_), _) => Ok(0),
            })
    }

    /// A short description for the REPL.
    fn __repr__(slf: PyRef<'_, Self>) -> String {
        format!(
            "<shmkit.broadcast.Publisher {:?} policy={}>",
            slf.as_super().name,
            policy_name(slf.policy)
        )
    }
}

/// A subscriber of a broadcast (see :class:`Receiver` for the methods). Its samples have a
/// ``seq``.
///
/// Thread safety: as :class:`Receiver` (shared between threads; a held sample holds it).
#[pyclass(module = "shmkit.broadcast", extends = Receiver, frozen)]
pub(crate) struct Subscriber {
    policy: Policy,
}

#[pymethods]
impl Subscriber {
    /// The channel's policy: ``"block"`` or ``"overwrite"``.
    #[getter]
    fn policy(&self) -> &'static str {
        policy_name(self.policy)
    }

    /// A short description for the REPL.
    fn __repr__(slf: PyRef<'_, Self>) -> String {
        format!(
            "<shmkit.broadcast.Subscriber {:?} policy={}>",
            slf.as_super().name,
            policy_name(slf.policy)
        )
    }
}

/// Creates the broadcast channel ``name`` and returns its :class:`Publisher`.
///
/// ``slots`` messages of at most ``slot_size`` bytes fit in the ring; up to
/// ``max_subscribers`` may be attached. ``policy="block"`` makes the publisher wait for the
/// slowest subscriber, ``"overwrite"`` lets it go on (a lapped subscriber gets ``Lagged``).
/// ``wait_strategy``: how this side waits (``"adaptive"``, ``"blocking"``, ``"busy_poll"``);
/// ``mode``: the permission bits; the creator removes the name when closed, unless ``keep``.
///
/// ``layout`` / ``tag``: the message type of a typed broadcast (a numpy dtype, a ctypes type
/// or a :class:`shmkit.Layout`; alignment at most 16), as Rust's ``broadcast::typed``;
/// ``slot_size`` then defaults to one record (``None``: 4096 bytes for a byte broadcast).
#[pyfunction]
#[pyo3(
    signature = (name, *, slots=64, slot_size=None, max_subscribers=16, policy="block",
                 wait_strategy="adaptive", mode=shmkit::segment::DEFAULT_MODE, keep=false,
                 layout=None, tag=None),
    text_signature = "(name, *, slots=64, slot_size=None, max_subscribers=16, policy=\"block\", \
                      wait_strategy=\"adaptive\", mode=shmkit.DEFAULT_MODE, keep=False, \
                      layout=None, tag=None)"
)]
#[allow(clippy::too_many_arguments)]
fn create_publisher(
    py: Python<'_>,
    name: &str,
    slots: usize,
    slot_size: Option<usize>,
    max_subscribers: usize,
    policy: &str,
    wait_strategy: &str,
    mode: u32,
    keep: bool,
    layout: Option<&Bound<'_, PyAny>>,
    tag: Option<&str>,
) -> PyResult<Py<Publisher>> {
    let (m, t) = typed::resolve(py, layout, tag, BROADCAST_ALIGN, "broadcast")?.unzip();
    // As the C API: a typed broadcast's slot holds one record unless told otherwise.
    let slot_size = slot_size.unwrap_or(t.as_ref().map_or(4096, |t| t.size));
    let policy = match policy {
        "block" => Policy::Block,
        "overwrite" => Policy::Overwrite,
        _ => {
            return Err(PyValueError::new_err(format!(
                "policy must be 'block' or 'overwrite', not {policy:?}"
            )))
        }
    };
    let mut o = broadcast::options();
    o.slots(slots)
        .slot_size(slot_size)
        .max_subscribers(max_subscribers)
        .policy(policy)
        .wait_strategy(parse_wait_strategy(wait_strategy)?)
        .mode(mode)
        .keep(keep);
    let p = py
        .detach(|| match &m {
            None => o.create_publisher(name),
            Some(m) => o.create_publisher_with_layout(name, m),
        })
        .map_err(to_py)?;
    let base = Sender::new(p.name().to_owned(), RustSender::Broadcast(p), t);
    Py::new(
        py,
        PyClassInitializer::from(base).add_subclass(Publisher { policy }),
    )
}

/// Joins the broadcast channel ``name``: the :class:`Subscriber` receives every message
/// published from now on.
///
/// ``open_timeout``: how many seconds to wait for the channel to appear (``None``: do not
/// wait, ``math.inf``: forever); then ``NotFound``. Ctrl-C interrupts the wait.
/// ``layout`` / ``tag``: a typed subscriber, checked against what the broadcast records
/// (``LayoutMismatch`` naming both, also for a byte broadcast).
#[pyfunction]
#[pyo3(signature = (name, *, wait_strategy="adaptive", open_timeout=None, layout=None, tag=None))]
fn open_subscriber(
    py: Python<'_>,
    name: &str,
    wait_strategy: &str,
    open_timeout: Option<f64>,
    layout: Option<&Bound<'_, PyAny>>,
    tag: Option<&str>,
) -> PyResult<Py<Subscriber>> {
    let (m, t) = typed::resolve(py, layout, tag, BROADCAST_ALIGN, "broadcast")?.unzip();
    let mut o = broadcast::options();
    o.wait_strategy(parse_wait_strategy(wait_strategy)?);
    let wait = Wait::from_open_timeout(open_timeout)?;
    let s = opening(py, wait, |d| match &m {
        None => o.open_timeout(d).open_subscriber(name),
        Some(m) => o.open_timeout(d).open_subscriber_with_layout(name, m),
    })?;
    let policy = s.policy();
    let name = s.name().to_owned();
    let base = Receiver::new(name, RustReceiver::Broadcast(s), t);
    Py::new(
        py,
        PyClassInitializer::from(base).add_subclass(Subscriber { policy }),
    )
}

/// Builds the `broadcast` submodule.
pub(crate) fn module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let m = PyModule::new(py, "broadcast")?;
    m.add_class::<Publisher>()?;
    m.add_class::<Subscriber>()?;
    m.add_function(wrap_pyfunction!(create_publisher, &m)?)?;
    m.add_function(wrap_pyfunction!(open_subscriber, &m)?)?;
    Ok(m)
}
