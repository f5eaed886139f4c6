//! `shmkit.WaitSet`: waiting on many handles at once, over Rust's `shmkit::WaitSet`.
//!
//! Unlike the Rust wait set (which is handed its members on each call), the Python one holds
//! its members (`add`, `remove`, `clear`) and returns the ready ones as the objects that were
//! added. It holds a strong reference to each, so a member cannot go away while a wait looks
//! at it; a member *closed* while in the set makes the next `wait` raise `ValueError` naming
//! it (the closed handle's own error), never a crash.
//!
//! # One wait
//!
//! A wait is cut into slices of at most [`SLICE`] (50 ms), detached from the interpreter, as
//! every blocking call here (`wait.rs`): between slices pending signals are handled, so Ctrl-C
//! raises `KeyboardInterrupt` within about 50 ms. One slice:
//!
//! 1. locks the Rust wait set (two threads waiting on one `WaitSet` take turns), then the
//!    state of every channel or broadcast member, in address order (so that two wait sets
//!    sharing members cannot deadlock; nothing else holds two of these locks);
//! 2. skips a member that has a loan or sample open (it borrows the Rust handle mutably:
//!    the handle cannot be looked at until it ends), and then sleeps at most [`BUSY_NAP`]
//!    so that the member is looked at again soon;
//! 3. sleeps on the others with `shmkit::WaitSet::wait_timeout` (`try_wait` for `timeout=0`).
//!
//! Holding a member's lock during the slice means that another thread's call on that handle
//! (`recv`, `send`, ...) waits until the slice ends: at once when a member becomes ready, else
//! at most 50 ms. Receive from the thread that waits, as in the examples.
//!
//! # Kinds
//!
//! Every waitable Python kind is a [`Kind`]: channel producers and consumers, broadcast
//! publishers and subscribers (through their `Sender` / `Receiver` bases), events and
//! semaphores. Services: add a variant to [`Kind`], its arm in [`Kind::of`] (the Python
//! class) and in [`Locked::member`] (its Rust handle, which is `Waitable`).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::PyList;

use shmkit::service::{Client as RustClient, Server as RustServer};
use shmkit::sync as rsync;
use shmkit::Waitable;

use crate::errors::{to_py, Fail};
use crate::rx::{Receiver, RxShared, RxState};
use crate::service::{Client, Server};
use crate::sync::{Event, Semaphore};
use crate::tx::{Sender, TxShared, TxState};
use crate::wait::{Wait, SLICE};

/// The longest a slice sleeps while a member is skipped (a loan or sample open on it).
const BUSY_NAP: Duration = Duration::from_millis(5);

/// A member's Rust side, as the wait needs it.
enum Kind {
    Rx(Arc<RxShared>),
    Tx(Arc<TxShared>),
    Event(Py<Event>),
    Semaphore(Py<Semaphore>),
    Server(Py<Server>),
    Client(Py<Client>),
}

impl Kind {
    /// The kind of `obj`; `TypeError` if it cannot be waited on.
    fn of(obj: &Bound<'_, PyAny>) -> PyResult<Kind> {
        if let Ok(r) = obj.cast::<Receiver>() {
            return Ok(Kind::Rx(r.get().core.clone()));
        }
        if let Ok(s) = obj.cast::<Sender>() {
            return Ok(Kind::Tx(s.get().core.clone()));
        }
        if let Ok(e) = obj.cast::<Event>() {
            return Ok(Kind::Event(e.clone().unbind()));
        }
        if let Ok(s) = obj.cast::<Semaphore>() {
            return Ok(Kind::Semaphore(s.clone().unbind()));
        }
        if let Ok(s) = obj.cast::<Server>() {
            return Ok(Kind::Server(s.clone().unbind()));
        }
        if let Ok(c) = obj.cast::<Client>() {
            return Ok(Kind::Client(c.clone().unbind()));
        }
        Err(PyTypeError::new_err(format!(
            "a WaitSet waits on channel Producers/Consumers, broadcast Publishers/Subscribers, \
             Events, Semaphores and service Servers/Clients, not {}",
            obj.get_type().name()?
        )))
    }

    /// What a slice locks or holds for this member (attached: events and semaphores are
    /// looked up in their Python handle, which raises `ValueError` once closed).
    fn resolve(&self, py: Python<'_>) -> PyResult<Resolved> {
        Ok(match self {
            Kind::Rx(r) => Resolved::Rx(r.clone()),
            Kind::Tx(t) => Resolved::Tx(t.clone()),
            Kind::Event(e) => Resolved::Event(e.get().shared(py)?),
            Kind::Semaphore(s) => Resolved::Semaphore(s.get().shared(py)?),
            Kind::Server(s) => Resolved::Server(s.clone_ref(py)),
            Kind::Client(c) => Resolved::Client(c.clone_ref(py)),
        })
    }
}

/// A member ready for one slice.
enum Resolved {
    Rx(Arc<RxShared>),
    Tx(Arc<TxShared>),
    Event(Arc<rsync::Event>),
    Semaphore(Arc<rsync::Semaphore>),
    Server(Py<Server>),
    Client(Py<Client>),
}

impl Resolved {
    /// Where the lock order puts it.
    fn addr(&self) -> usize {
        match self {
            Resolved::Rx(r) => Arc::as_ptr(r) as usize,
            Resolved::Tx(t) => Arc::as_ptr(t) as usize,
            Resolved::Event(e) => Arc::as_ptr(e) as usize,
            Resolved::Semaphore(s) => Arc::as_ptr(s) as usize,
            Resolved::Server(s) => s.as_ptr() as usize,
            Resolved::Client(c) => c.as_ptr() as usize,
        }
    }

    /// Locks it (detached).
    fn lock(&self) -> Locked<'_> {
        match self {
            Resolved::Rx(r) => Locked::Rx(r.lock_detached()),
            Resolved::Tx(t) => Locked::Tx(t.lock_detached()),
            Resolved::Event(e) => Locked::Free(&**e),
            Resolved::Semaphore(s) => Locked::Free(&**s),
            Resolved::Server(s) => Locked::Server(
                s.get()
                    .server
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            ),
            Resolved::Client(c) => Locked::Client(
                c.get()
                    .client
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            ),
        }
    }
}

/// A member locked for a slice.
enum Locked<'a> {
    Rx(MutexGuard<'a, RxState>),
    Tx(MutexGuard<'a, TxState>),
    Free(&'a dyn Waitable),
    Server(MutexGuard<'a, Option<RustServer>>),
    Client(MutexGuard<'a, Option<RustClient>>),
}

impl Locked<'_> {
    /// The member to wait on; `None` while a loan or sample is open on it.
    fn member(&self) -> PyResult<Option<&dyn Waitable>> {
        match self {
            Locked::Rx(g) => g.waitable(),
            Locked::Tx(g) => g.waitable(),
            Locked::Free(w) => Ok(Some(*w)),
            Locked::Server(g) => match g.as_ref() {
                Some(s) => Ok(Some(s)),
                None => Err(closed("service server")),
            },
            Locked::Client(g) => match g.as_ref() {
                Some(c) => Ok(Some(c)),
                None => Err(closed("service client")),
            },
        }
    }
}

/// One added member: the object (returned when ready, kept alive) and its kind.
struct Member {
    obj: Py<PyAny>,
    kind: Kind,
}

/// Waits until any of its members is ready, and says which (``select``/``poll`` for shmkit
/// handles).
///
/// Members: channel :class:`~shmkit.channel.Producer` (room for a small message, or the
/// consumer gone) and :class:`~shmkit.channel.Consumer` (a message, or the producer gone),
/// broadcast :class:`~shmkit.broadcast.Publisher` (a free slot) and
/// :class:`~shmkit.broadcast.Subscriber` (a message, a lag, or the publisher gone),
/// :class:`~shmkit.sync.Event` (set), :class:`~shmkit.sync.Semaphore` (a permit), and service
/// :class:`~shmkit.service.Server` (a request) and :class:`~shmkit.service.Client` (a
/// response, or the server gone). Ready
/// means the member's next call with ``timeout=0`` would not raise ``WouldBlock``; as with
/// ``poll(2)``, another thread or process may take it first, so receive with ``timeout=0``
/// and loop::
///
///     ws = shmkit.WaitSet(consumers)
///     while True:
///         for rx in ws.wait(timeout=1.0):
///             with rx.recv(timeout=0) as msg:
///                 ...
///
/// The set holds its members (a strong reference each); a member closed while in the set
/// makes ``wait`` raise ``ValueError`` (remove it first). A member with a loan or sample
/// open is looked at again every 5 ms until it ends. A wait holds each channel or broadcast
/// member for up to 50 ms at a time (less when one is ready): another thread's call on that
/// member waits as long. The interpreter is released while waiting; Ctrl-C interrupts.
///
/// Thread safety: a ``WaitSet`` may be shared between threads; its methods happen whole, and
/// two threads waiting on one set take turns (use one set per waiting thread).
#[pyclass(module = "shmkit", frozen)]
pub(crate) struct WaitSet {
    members: Mutex<Vec<Member>>,
    inner: Mutex<shmkit::WaitSet>,
}

impl WaitSet {
    fn members<'a>(&'a self, py: Python<'_>) -> MutexGuard<'a, Vec<Member>> {
        self.members
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// One slice, detached (module docs): the indices (into `members`) of the ready ones.
    fn slice(&self, members: &[Resolved], slice: Option<Duration>) -> Result<Vec<usize>, Fail> {
        let mut set = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by_key(|&i| members[i].addr());
        // A member given twice (the same handle added through two objects) is locked once.
        order.dedup_by_key(|i| members[*i].addr());
        let locked: Vec<(usize, Locked<'_>)> =
            order.iter().map(|&i| (i, members[i].lock())).collect();
        let mut list: Vec<&dyn Waitable> = Vec::with_capacity(locked.len());
        let mut index: Vec<usize> = Vec::with_capacity(locked.len());
        let mut busy = false;
        for (i, l) in &locked {
            match l.member()? {
                Some(w) => {
                    list.push(w);
                    index.push(*i);
                }
                None => busy = true,
            }
        }
        let slice = if busy {
            slice.map(|d| d.min(BUSY_NAP))
        } else {
            slice
        };
        if list.is_empty() {
            if let Some(d) = slice {
                std::thread::sleep(d);
            }
            return Ok(Vec::new());
        }
        let r = match slice {
            None => set.try_wait(&list),
            Some(d) => set.wait_timeout(&list, d),
        };
        match r {
            Ok(ready) => {
                let mut out: Vec<usize> = ready.iter().map(|&k| index[k]).collect();
                out.sort_unstable();
                Ok(out)
            }
            Err(shmkit::Error::Timeout { .. } | shmkit::Error::WouldBlock { .. }) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }
}

#[pymethods]
impl WaitSet {
    /// A wait set over ``members`` (an iterable; none by default).
    #[new]
    #[pyo3(signature = (members=None))]
    fn new(members: Option<&Bound<'_, PyAny>>) -> PyResult<WaitSet> {
        let ws = WaitSet {
            members: Mutex::new(Vec::new()),
            inner: Mutex::new(shmkit::WaitSet::new()),
        };
        if let Some(ms) = members {
            for m in ms.try_iter()? {
                ws.add(&m?)?;
            }
        }
        Ok(ws)
    }

    /// Adds ``member`` (adding one already in the set does nothing). ``TypeError`` if it is
    /// not a kind that can be waited on.
    fn add(&self, member: &Bound<'_, PyAny>) -> PyResult<()> {
        let kind = Kind::of(member)?;
        let mut ms = self.members(member.py());
        if !ms.iter().any(|m| m.obj.is(member)) {
            ms.push(Member {
                obj: member.clone().unbind(),
                kind,
            });
        }
        Ok(())
    }

    /// Removes ``member``; ``KeyError`` if it is not in the set.
    fn remove(&self, member: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut ms = self.members(member.py());
        match ms.iter().position(|m| m.obj.is(member)) {
            Some(i) => {
                ms.remove(i);
                Ok(())
            }
            None => Err(PyKeyError::new_err("not a member of this WaitSet")),
        }
    }

    /// Removes ``member`` if it is in the set.
    fn discard(&self, member: &Bound<'_, PyAny>) {
        let mut ms = self.members(member.py());
        ms.retain(|m| !m.obj.is(member));
    }

    /// Removes every member.
    fn clear(&self, py: Python<'_>) {
        self.members(py).clear();
    }

    /// The members, in the order they were added.
    #[getter]
    fn get_members<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let objs: Vec<Py<PyAny>> = self
            .members(py)
            .iter()
            .map(|m| m.obj.clone_ref(py))
            .collect();
        PyList::new(py, objs)
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.members(py).len()
    }

    fn __contains__(&self, member: &Bound<'_, PyAny>) -> bool {
        self.members(member.py()).iter().any(|m| m.obj.is(member))
    }

    /// Waits until at least one member is ready, up to ``timeout`` seconds (``None``:
    /// forever; ``0``: do not wait). Returns the ready members (a list, in the order they
    /// were added; each once).
    ///
    /// Raises ``Timeout`` when none was ready in time (``WouldBlock`` for ``timeout=0``),
    /// ``ValueError`` if a member is closed. With no members it waits out the timeout.
    /// The interpreter is released while waiting; Ctrl-C raises ``KeyboardInterrupt``.
    #[pyo3(signature = (timeout=None))]
    fn wait<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyList>> {
        let wait = Wait::from_timeout(timeout)?;
        loop {
            // The members are read again for each slice: `add`/`remove` from another thread
            // take effect within one.
            let (objs, resolved) = {
                let ms = self.members(py);
                let objs: Vec<Py<PyAny>> = ms.iter().map(|m| m.obj.clone_ref(py)).collect();
                let resolved = ms
                    .iter()
                    .map(|m| m.kind.resolve(py))
                    .collect::<PyResult<Vec<Resolved>>>()?;
                (objs, resolved)
            };
            let slice = match wait {
                Wait::Try => None,
                Wait::Forever => Some(SLICE),
                Wait::Until(deadline) => Some(
                    deadline
                        .saturating_duration_since(Instant::now())
                        .min(SLICE),
                ),
            };
            let ready = py.detach(|| self.slice(&resolved, slice))?;
            if !ready.is_empty() {
                return PyList::new(py, ready.into_iter().map(|i| objs[i].clone_ref(py)));
            }
            // A slice may end early (a member busy): the deadline decides.
            let last = match wait {
                Wait::Try => true,
                Wait::Forever => false,
                Wait::Until(deadline) => Instant::now() >= deadline,
            };
            if last {
                let name = "waitset".to_owned();
                return Err(to_py(match wait {
                    Wait::Try => shmkit::Error::WouldBlock { name },
                    _ => shmkit::Error::Timeout { name },
                }));
            }
            py.check_signals()?;
        }
    }

    /// Whether waits sleep in the OS until woken (Linux ≥ 5.16, Windows) rather than poll.
    #[staticmethod]
    fn native() -> bool {
        shmkit::WaitSet::native()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<shmkit.WaitSet of {} members>", self.members(py).len())
    }
}

/// The error for a member closed while in the set.
fn closed(what: &str) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(format!(
        "a {what} in the WaitSet was closed: remove it from the set first"
    ))
}
