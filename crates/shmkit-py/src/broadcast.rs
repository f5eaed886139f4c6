//! `shmkit.broadcast`: one publisher, many subscribers, each message read in place by all.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use shmkit::channel::broadcast::{self, Policy};

use crate::channel::wait_mode;
use crate::errors::to_py;
use crate::rx::{Receiver, RustReceiver, RxShared};
use crate::tx::{RustSender, Sender};

fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::Block => "block",
        Policy::Overwrite => "overwrite",
    }
}

/// The publishing side of a broadcast (see :class:`Sender` for the methods).
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
    fn subscriber_count(slf: PyRef<'_, Self>) -> PyResult<usize> {
        slf.as_super().core.with(slf.py(), |s| match s {
            RustSender::Broadcast(p) => p.subscribers(),
            RustSender::Channel(_) => 0,
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
#[pyfunction]
#[pyo3(
    signature = (name, *, slots=64, slot_size=4096, max_subscribers=16, policy="block",
                 wait="adaptive", mode=shmkit::segment::DEFAULT_MODE, keep=false),
    text_signature = "(name, *, slots=64, slot_size=4096, max_subscribers=16, policy=\"block\", \
                      wait=\"adaptive\", mode=shmkit.DEFAULT_MODE, keep=False)"
)]
#[allow(clippy::too_many_arguments)]
fn create(
    py: Python<'_>,
    name: &str,
    slots: usize,
    slot_size: usize,
    max_subscribers: usize,
    policy: &str,
    wait: &str,
    mode: u32,
    keep: bool,
) -> PyResult<Py<Publisher>> {
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
        .wait_mode(wait_mode(wait)?)
        .mode(mode)
        .keep(keep);
    let p = py.detach(|| o.create(name)).map_err(to_py)?;
    let base = Sender::new(p.name().to_owned(), RustSender::Broadcast(p));
    Py::new(
        py,
        PyClassInitializer::from(base).add_subclass(Publisher { policy }),
    )
}

/// Joins the broadcast channel ``name``: the :class:`Subscriber` receives every message
/// published from now on.
#[pyfunction]
#[pyo3(signature = (name, *, wait="adaptive"))]
fn subscribe(py: Python<'_>, name: &str, wait: &str) -> PyResult<Py<Subscriber>> {
    let mut o = broadcast::options();
    o.wait_mode(wait_mode(wait)?);
    let s = py.detach(|| o.subscribe(name)).map_err(to_py)?;
    let policy = s.policy();
    let name = s.name().to_owned();
    let base = Receiver {
        core: RxShared::new(&name, RustReceiver::Broadcast(s)),
        name,
    };
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
    m.add_function(wrap_pyfunction!(create, &m)?)?;
    m.add_function(wrap_pyfunction!(subscribe, &m)?)?;
    Ok(m)
}
