//! `shmkit.sync`: the robust `Mutex`, `Event` and `Semaphore`, with the shapes of
//! `threading.Lock`, `threading.Event` and `threading.Semaphore`.

use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::Duration;

use pyo3::exceptions::{PyNotImplementedError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyTuple, PyType};

use shmkit::sync::{self as rsync, Reset};

use crate::errors::{self, to_py};
use crate::wait::{blocking, opening, Wait};

/// An object that `close()` can drop while other threads wait on a clone of it.
struct Handle<T>(StdMutex<Option<Arc<T>>>);

impl<T> Handle<T> {
    fn new(t: T) -> Self {
        Handle(StdMutex::new(Some(Arc::new(t))))
    }

    fn get(&self, py: Python<'_>) -> PyResult<Arc<T>> {
        self.0
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| PyValueError::new_err("the object is closed"))
    }

    fn close(&self, py: Python<'_>) {
        self.0
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// `blocking` + `timeout` of `threading`'s `acquire`, as a wait.
fn acquire_wait(blocking: bool, timeout: Option<f64>) -> PyResult<Wait> {
    match (blocking, timeout) {
        (false, Some(_)) => Err(PyValueError::new_err(
            "can't specify a timeout for a non-blocking call",
        )),
        (false, None) => Ok(Wait::Try),
        // threading's "no timeout" is -1.
        (true, Some(-1.0)) => Ok(Wait::Forever),
        (true, t) => Wait::from_timeout(t),
    }
}

/// Waits (in slices, see [`blocking`]) with `try_once` (no wait) and `timed` (at most a
/// slice): `Ok(true)` when it passed, `Ok(false)` on a timeout (or busy object), else the
/// error.
fn wait_on(
    py: Python<'_>,
    wait: Wait,
    try_once: impl Fn() -> shmkit::Result<()> + Sync,
    timed: impl Fn(Duration) -> shmkit::Result<()> + Sync,
) -> PyResult<bool> {
    let r = blocking(py, wait, |slice| {
        Ok(match slice {
            None => try_once(),
            Some(d) => timed(d),
        }?)
    });
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.is_instance(py, errors::class(py, "Timeout")?.as_any()) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A held lock of a Rust mutex.
type Held = crate::held::Held<rsync::Mutex, rsync::MutexGuard<'static>>;

/// Unlocks `held` (on the locking thread, which the caller checked), plainly or unrepaired.
fn unlock(held: Held, unrepaired: bool) {
    held.end(|g| {
        if unrepaired {
            g.unlock_unrepaired();
        }
    });
}

/// A mutex that processes find by name and that survives its holder being killed.
///
/// Shaped like ``threading.Lock``: :meth:`acquire` / :meth:`release`, and ``with mutex:``.
/// The thread that acquired must release. :meth:`held` says whether this handle holds it;
/// ``locked()`` raises ``NotImplementedError``, since whether another process holds it
/// cannot be told without taking it. If the previous holder died holding it,
/// :meth:`acquire` raises :class:`shmkit.OwnerDied` **with the lock held**: repair the
/// shared state, call :meth:`make_consistent`, then :meth:`release`.
///
/// Thread safety: a handle may be shared between threads; ``acquire`` waits for another
/// thread's hold (the GIL released, Ctrl-C seen), and only the holding thread may
/// ``release`` (``RuntimeError`` elsewhere).
#[pyclass(module = "shmkit.sync", frozen)]
pub(crate) struct Mutex {
    handle: Handle<rsync::Mutex>,
    held: StdMutex<Option<Held>>,
    /// The mutex's name.
    #[pyo3(get)]
    name: String,
    /// Whether this handle created the mutex.
    #[pyo3(get, name = "is_creator")]
    creator: bool,
}

impl Mutex {
    fn wrap(m: shmkit::Result<rsync::Mutex>) -> PyResult<Mutex> {
        let m = m.map_err(to_py)?;
        Ok(Mutex {
            name: m.name().to_owned(),
            creator: m.is_creator(),
            handle: Handle::new(m),
            held: StdMutex::new(None),
        })
    }

    fn with_held<T>(&self, py: Python<'_>, f: impl FnOnce(&mut Option<Held>) -> T) -> T {
        f(&mut self
            .held
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner))
    }

    fn take_mine(&self, py: Python<'_>) -> PyResult<Held> {
        self.with_held(py, |h| match h {
            Some(held) if held.mine() => Ok(h.take().expect("checked")),
            Some(_) => Err(PyRuntimeError::new_err(
                "the mutex is held by another thread of this process",
            )),
            None => Err(PyRuntimeError::new_err(
                "release of an unheld shmkit.sync.Mutex",
            )),
        })
    }
}

#[pymethods]
impl Mutex {
    /// Creates the mutex ``name``; the creator removes the name when closed, unless ``keep``.
    #[classmethod]
    #[pyo3(
        signature = (name, *, mode=shmkit::segment::DEFAULT_MODE, keep=false),
        text_signature = "($cls, name, *, mode=shmkit.DEFAULT_MODE, keep=False)"
    )]
    fn create(cls: &Bound<'_, PyType>, name: &str, mode: u32, keep: bool) -> PyResult<Mutex> {
        Mutex::wrap(
            cls.py()
                .detach(|| rsync::Mutex::options().mode(mode).keep(keep).create(name)),
        )
    }

    /// Opens the existing mutex ``name``. ``open_timeout``: how many seconds to wait for it
    /// to appear (``None``: do not wait, ``math.inf``: forever; Ctrl-C interrupts); then
    /// ``NotFound``.
    #[classmethod]
    #[pyo3(signature = (name, *, open_timeout=None))]
    fn open(cls: &Bound<'_, PyType>, name: &str, open_timeout: Option<f64>) -> PyResult<Mutex> {
        let mut o = rsync::Mutex::options();
        let wait = Wait::from_open_timeout(open_timeout)?;
        let opened = opening(cls.py(), wait, |d| o.open_timeout(d).open(name))?;
        Mutex::wrap(Ok(opened))
    }

    /// Opens the mutex ``name``, creating it if it does not exist.
    #[classmethod]
    #[pyo3(
        signature = (name, *, mode=shmkit::segment::DEFAULT_MODE, keep=false),
        text_signature = "($cls, name, *, mode=shmkit.DEFAULT_MODE, keep=False)"
    )]
    fn open_or_create(
        cls: &Bound<'_, PyType>,
        name: &str,
        mode: u32,
        keep: bool,
    ) -> PyResult<Mutex> {
        Mutex::wrap(cls.py().detach(|| {
            rsync::Mutex::options()
                .mode(mode)
                .keep(keep)
                .open_or_create(name)
        }))
    }

    /// Acquires the mutex, waiting up to ``timeout`` seconds (``None`` or ``-1``: forever);
    /// ``blocking=False`` does not wait. Returns whether it was acquired.
    ///
    /// Raises ``OwnerDied`` (lock held: repair, :meth:`make_consistent`, :meth:`release`),
    /// ``Unrecoverable``, or ``Deadlock`` if this thread holds it already.
    #[pyo3(signature = (blocking=true, timeout=None))]
    fn acquire(slf: Bound<'_, Self>, blocking: bool, timeout: Option<f64>) -> PyResult<bool> {
        let py = slf.py();
        let this = slf.get();
        let wait = acquire_wait(blocking, timeout)?;
        if this.with_held(py, |h| h.as_ref().is_some_and(Held::mine)) {
            return Err(to_py(shmkit::Error::Deadlock {
                name: this.name.clone(),
            }));
        }
        let m = this.handle.get(py)?;
        let r = crate::wait::blocking(py, wait, |slice| {
            Held::take(&m, |m| match slice {
                None => m.try_lock(),
                Some(d) => m.lock_timeout(d),
            })
        });
        let (held, died) = match r {
            Ok(x) => x,
            Err(e) if e.is_instance(py, errors::class(py, "Timeout")?.as_any()) => {
                return Ok(false)
            }
            Err(e) => return Err(e),
        };
        this.with_held(py, |h| *h = Some(held));
        if died {
            let err = to_py(shmkit::Error::OwnerDied {
                name: this.name.clone(),
            });
            err.value(py).setattr("mutex", &slf)?;
            return Err(err);
        }
        Ok(true)
    }

    /// Releases the mutex (from the thread that acquired it). After an owner death that was
    /// not repaired (:meth:`make_consistent`), this makes the mutex unrecoverable for
    /// everyone; see :meth:`unlock_unrepaired`.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        let held = self.take_mine(py)?;
        unlock(held, false);
        Ok(())
    }

    /// Declares the protected state repaired after an owner death (the lock stays held).
    fn make_consistent(&self, py: Python<'_>) -> PyResult<()> {
        self.with_held(py, |h| match h {
            Some(held) if held.mine() => {
                held.guard().make_consistent();
                Ok(())
            }
            _ => Err(PyRuntimeError::new_err(
                "this thread does not hold the mutex",
            )),
        })
    }

    /// Releases without repairing after an owner death: the next holder gets ``OwnerDied``.
    fn unlock_unrepaired(&self, py: Python<'_>) -> PyResult<()> {
        let held = self.take_mine(py)?;
        unlock(held, true);
        Ok(())
    }

    /// Whether this thread holds the mutex after an owner death not repaired yet.
    #[getter]
    fn needs_repair(&self, py: Python<'_>) -> bool {
        self.with_held(py, |h| {
            h.as_ref()
                .is_some_and(|held| held.mine() && held.guard().needs_repair())
        })
    }

    /// Whether this handle holds the mutex (in any of this process's threads). Says nothing
    /// of other handles or processes: see :meth:`locked`.
    fn held(&self, py: Python<'_>) -> bool {
        self.with_held(py, |h| h.is_some())
    }

    /// Raises ``NotImplementedError``. ``threading.Lock.locked()`` says whether *anyone*
    /// holds the lock; the OS mutex under this one cannot be asked that without taking it
    /// for a moment, during which another process's ``acquire(blocking=False)`` would fail.
    /// Use :meth:`held` (whether this handle holds it) or ``acquire(blocking=False)``.
    fn locked(&self) -> PyResult<bool> {
        Err(PyNotImplementedError::new_err(
            "shmkit.sync.Mutex cannot tell whether another process holds it without taking it; \
             held() says whether this handle holds it, acquire(blocking=False) tries to take it",
        ))
    }

    /// Closes the handle (a creator removes the name). Raises ``RuntimeError`` while held.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if self.held(py) {
            return Err(PyRuntimeError::new_err("cannot close a held mutex"));
        }
        self.handle.close(py);
        Ok(())
    }

    /// Enters a `with` block (see the class docs for what leaving it does).
    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        Mutex::acquire(slf.clone(), true, None)?;
        Ok(slf)
    }

    /// Leaves a `with` block.
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.release(py)?;
        Ok(false)
    }

    /// A short description for the REPL.
    fn __repr__(&self) -> String {
        format!("<shmkit.sync.Mutex {:?}>", self.name)
    }
}

/// A named event: one process sets it, others wait for it (``threading.Event``'s shape).
///
/// ``auto_reset=True`` lets one waiter pass per :meth:`set` and resets the event.
///
/// Thread safety: every method works from any thread; ``wait`` releases the GIL.
#[pyclass(module = "shmkit.sync", frozen)]
pub(crate) struct Event {
    handle: Handle<rsync::Event>,
    /// The event's name.
    #[pyo3(get)]
    name: String,
    /// Whether this handle created the event.
    #[pyo3(get, name = "is_creator")]
    creator: bool,
}

impl Event {
    /// The Rust event, for a wait set; `ValueError` once closed.
    pub(crate) fn shared(&self, py: Python<'_>) -> PyResult<Arc<rsync::Event>> {
        self.handle.get(py)
    }

    fn wrap(e: shmkit::Result<rsync::Event>) -> PyResult<Event> {
        let e = e.map_err(to_py)?;
        Ok(Event {
            name: e.name().to_owned(),
            creator: e.is_creator(),
            handle: Handle::new(e),
        })
    }
}

#[pymethods]
impl Event {
    /// Creates the event ``name`` (not set).
    #[classmethod]
    #[pyo3(
        signature = (name, *, auto_reset=false, mode=shmkit::segment::DEFAULT_MODE, keep=false),
        text_signature = "($cls, name, *, auto_reset=False, mode=shmkit.DEFAULT_MODE, keep=False)"
    )]
    fn create(
        cls: &Bound<'_, PyType>,
        name: &str,
        auto_reset: bool,
        mode: u32,
        keep: bool,
    ) -> PyResult<Event> {
        let reset = if auto_reset {
            Reset::Auto
        } else {
            Reset::Manual
        };
        Event::wrap(cls.py().detach(|| {
            rsync::Event::options()
                .reset(reset)
                .mode(mode)
                .keep(keep)
                .create(name)
        }))
    }

    /// Opens the existing event ``name``. ``open_timeout``: how many seconds to wait for it
    /// to appear (``None``: do not wait, ``math.inf``: forever; Ctrl-C interrupts); then
    /// ``NotFound``.
    #[classmethod]
    #[pyo3(signature = (name, *, open_timeout=None))]
    fn open(cls: &Bound<'_, PyType>, name: &str, open_timeout: Option<f64>) -> PyResult<Event> {
        let mut o = rsync::Event::options();
        let wait = Wait::from_open_timeout(open_timeout)?;
        let opened = opening(cls.py(), wait, |d| o.open_timeout(d).open(name))?;
        Event::wrap(Ok(opened))
    }

    /// Whether the event resets itself when a waiter passes.
    #[getter]
    fn auto_reset(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.handle.get(py)?.reset_kind() == Reset::Auto)
    }

    /// Sets the event, waking waiters (one, if ``auto_reset``).
    fn set(&self, py: Python<'_>) -> PyResult<()> {
        self.handle.get(py)?.set().map_err(to_py)
    }

    /// Clears the event.
    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        self.handle.get(py)?.reset();
        Ok(())
    }

    /// Whether the event is set.
    fn is_set(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.handle.get(py)?.is_set())
    }

    /// Waits until the event is set, up to ``timeout`` seconds (``None``: forever). Returns
    /// whether it was set.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let e = self.handle.get(py)?;
        wait_on(
            py,
            Wait::from_timeout(timeout)?,
            || e.try_wait(),
            |d| e.wait_timeout(d),
        )
    }

    /// ``await event.wait_async(timeout=None)``: :meth:`wait` for asyncio, suspending the
    /// task rather than the thread (any event loop); returns whether the event was set.
    /// Cancellation-safe: an await cancelled (or timed out) took nothing (for an
    /// ``auto_reset`` event, the set stays for the next waiter). One reactor thread per
    /// process waits for every pending await (see ``shmkit._aio``).
    #[pyo3(signature = (timeout=None))]
    fn wait_async<'py>(
        slf: &Bound<'py, Self>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::aio_call!(slf.py(), "wait", (slf, timeout))
    }

    /// Closes the handle (a creator removes the name).
    fn close(&self, py: Python<'_>) {
        self.handle.close(py);
    }

    /// Whether the handle is closed.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        self.handle.get(py).is_err()
    }

    /// A short description for the REPL.
    fn __repr__(&self) -> String {
        format!("<shmkit.sync.Event {:?}>", self.name)
    }
}

/// A named counting semaphore (``threading.Semaphore``'s shape; ``with sem:`` acquires).
///
/// Thread safety: every method works from any thread; ``acquire`` releases the GIL.
#[pyclass(module = "shmkit.sync", frozen)]
pub(crate) struct Semaphore {
    handle: Handle<rsync::Semaphore>,
    /// The semaphore's name.
    #[pyo3(get)]
    name: String,
    /// Whether this handle created the semaphore.
    #[pyo3(get, name = "is_creator")]
    creator: bool,
}

impl Semaphore {
    /// The Rust semaphore, for a wait set; `ValueError` once closed.
    pub(crate) fn shared(&self, py: Python<'_>) -> PyResult<Arc<rsync::Semaphore>> {
        self.handle.get(py)
    }

    fn wrap(s: shmkit::Result<rsync::Semaphore>) -> PyResult<Semaphore> {
        let s = s.map_err(to_py)?;
        Ok(Semaphore {
            name: s.name().to_owned(),
            creator: s.is_creator(),
            handle: Handle::new(s),
        })
    }
}

#[pymethods]
impl Semaphore {
    /// Creates the semaphore ``name`` with ``value`` permits, at most ``max``.
    #[classmethod]
    #[pyo3(
        signature = (name, value=0, *, max=u32::MAX, mode=shmkit::segment::DEFAULT_MODE, keep=false),
        text_signature = "($cls, name, value=0, *, max=4294967295, mode=shmkit.DEFAULT_MODE, keep=False)"
    )]
    fn create(
        cls: &Bound<'_, PyType>,
        name: &str,
        value: u32,
        max: u32,
        mode: u32,
        keep: bool,
    ) -> PyResult<Semaphore> {
        Semaphore::wrap(cls.py().detach(|| {
            rsync::Semaphore::options()
                .initial(value)
                .max(max)
                .mode(mode)
                .keep(keep)
                .create(name)
        }))
    }

    /// Opens the existing semaphore ``name``. ``open_timeout``: how many seconds to wait for it
    /// to appear (``None``: do not wait, ``math.inf``: forever; Ctrl-C interrupts); then
    /// ``NotFound``.
    #[classmethod]
    #[pyo3(signature = (name, *, open_timeout=None))]
    fn open(cls: &Bound<'_, PyType>, name: &str, open_timeout: Option<f64>) -> PyResult<Semaphore> {
        let mut o = rsync::Semaphore::options();
        let wait = Wait::from_open_timeout(open_timeout)?;
        let opened = opening(cls.py(), wait, |d| o.open_timeout(d).open(name))?;
        Semaphore::wrap(Ok(opened))
    }

    /// The permits available now.
    #[getter]
    fn value(&self, py: Python<'_>) -> PyResult<u32> {
        Ok(self.handle.get(py)?.value())
    }

    /// The maximum count.
    #[getter]
    fn max(&self, py: Python<'_>) -> PyResult<u32> {
        Ok(self.handle.get(py)?.max())
    }

    /// Takes a permit, waiting up to ``timeout`` seconds (``None`` or ``-1``: forever);
    /// ``blocking=False`` does not wait. Returns whether a permit was taken.
    #[pyo3(signature = (blocking=true, timeout=None))]
    fn acquire(&self, py: Python<'_>, blocking: bool, timeout: Option<f64>) -> PyResult<bool> {
        let s = self.handle.get(py)?;
        wait_on(
            py,
            acquire_wait(blocking, timeout)?,
            || s.try_wait(),
            |d| s.wait_timeout(d),
        )
    }

    /// ``await sem.acquire_async(timeout=None)``: :meth:`acquire` for asyncio, suspending
    /// the task rather than the thread (any event loop); returns whether a permit was
    /// taken. Cancellation-safe: an await cancelled (or timed out) took no permit. One
    /// reactor thread per process waits for every pending await (see ``shmkit._aio``).
    #[pyo3(signature = (timeout=None))]
    fn acquire_async<'py>(
        slf: &Bound<'py, Self>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::aio_call!(slf.py(), "acquire", (slf, timeout))
    }

    /// Gives a permit back (``Full`` at the maximum).
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        self.handle.get(py)?.post().map_err(to_py)
    }

    /// Closes the handle (a creator removes the name).
    fn close(&self, py: Python<'_>) {
        self.handle.close(py);
    }

    /// Whether the handle is closed.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        self.handle.get(py).is_err()
    }

    /// Enters a `with` block (see the class docs for what leaving it does).
    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().acquire(slf.py(), true, None)?;
        Ok(slf)
    }

    /// Leaves a `with` block.
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.release(py)?;
        Ok(false)
    }

    /// A short description for the REPL.
    fn __repr__(&self) -> String {
        format!("<shmkit.sync.Semaphore {:?}>", self.name)
    }
}

/// Builds the `sync` submodule.
pub(crate) fn module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let m = PyModule::new(py, "sync")?;
    m.add_class::<Mutex>()?;
    m.add_class::<Event>()?;
    m.add_class::<Semaphore>()?;
    m.add_class::<crate::shared_value::SharedBytes>()?;
    m.add_class::<crate::shared_value::SharedLock>()?;
    Ok(m)
}
