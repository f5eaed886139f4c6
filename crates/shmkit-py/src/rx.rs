//! The receiving side of a channel or broadcast, and its samples, shared by `Consumer` and
//! `Subscriber` (both extend the base class [`Receiver`]).
//!
//! A Rust sample borrows its consumer mutably, as a loan borrows its producer; the same
//! arrangement as in `tx.rs` keeps the current sample next to the boxed consumer: the sample
//! is dropped first, and every other use of the consumer goes through
//! [`RxState::receiver`], which releases the current sample (or fails) first. Every use of
//! the receiver or of the sample happens with the state's mutex held, and calls from threads
//! other than the sample's wait for it to be released (`shared.rs`, "Threads").

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::ThreadId;

use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyTuple};

use shmkit::channel::{self, broadcast, WaitStrategy};

use crate::buffer::{self, Exports};
use crate::channel::{parse_wait_strategy, wait_strategy_name};
use crate::errors::{views_alive, Fail};
use crate::shared::{Lends, Lent, Owned, Shared};
use crate::typed::{self, Fit, Typed};
use crate::wait::{Slice, Wait};

/// The Rust receiving side.
pub(crate) enum RustReceiver {
    Channel(channel::Consumer),
    Broadcast(broadcast::Subscriber),
}

/// A Rust sample of either kind.
enum RawSample<'a> {
    Channel(channel::Sample<'a>),
    Broadcast(broadcast::Sample<'a>),
}

impl RawSample<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            RawSample::Channel(s) => s,
            RawSample::Broadcast(s) => s,
        }
    }

    fn seq(&self) -> Option<u64> {
        match self {
            RawSample::Channel(_) => None,
            RawSample::Broadcast(s) => Some(s.seq()),
        }
    }
}

impl RustReceiver {
    fn wait_strategy(&self) -> WaitStrategy {
        match self {
            RustReceiver::Channel(c) => c.wait_strategy(),
            RustReceiver::Broadcast(s) => s.wait_strategy(),
        }
    }

    fn set_wait_strategy(&mut self, w: WaitStrategy) {
        match self {
            RustReceiver::Channel(c) => c.set_wait_strategy(w),
            RustReceiver::Broadcast(s) => s.set_wait_strategy(w),
        }
    }

    fn recv(&mut self, slice: Slice) -> shmkit::Result<RawSample<'_>> {
        Ok(match (self, slice) {
            (RustReceiver::Channel(c), None) => RawSample::Channel(c.try_recv()?),
            (RustReceiver::Channel(c), Some(d)) => RawSample::Channel(c.recv_timeout(d)?),
            (RustReceiver::Broadcast(s), None) => RawSample::Broadcast(s.try_recv()?),
            (RustReceiver::Broadcast(s), Some(d)) => RawSample::Broadcast(s.recv_timeout(d)?),
        })
    }
}

/// A receiver and its current sample (see the module docs).
pub(crate) struct RxState {
    /// Borrows `*receiver`: declared (and dropped) first.
    current: Option<Lent<RawSample<'static>>>,
    receiver: Owned<RustReceiver>,
    next_id: u64,
}

// SAFETY: the consumer and subscriber are `Send`; the raw pointers (the box, and inside the
// samples) point into memory this state owns, and nothing in it is tied to a thread.
unsafe impl Send for RxState {}

impl Lends for RxState {
    fn current(&self) -> Option<(u64, ThreadId)> {
        self.current.as_ref().map(|c| (c.id, c.owner))
    }
}

/// What `recv` hands to Python about a sample: id, address, length, seq, export count.
type Received = (u64, usize, usize, Option<u64>, Exports);

impl RxState {
    /// Releases the current sample, which must have no live views.
    fn release(&mut self) -> Result<(), Fail> {
        Lent::end(&mut self.current, "the previous sample")
    }

    /// The receiver, after releasing the current sample (see the module docs).
    fn receiver(&mut self) -> Result<&mut RustReceiver, Fail> {
        self.release()?;
        // SAFETY: no sample is current, so no other reference to the receiver exists; the
        // borrow is tied to `&mut self`, so it ends before the receiver is closed or dropped.
        Ok(unsafe { self.receiver.get() }.ok_or_else(closed)?)
    }

    /// Receives the next message in place; one that does not `fit` is dropped (`Corrupt`,
    /// naming the channel `name`).
    fn start(&mut self, slice: Slice, fit: Fit, name: &str) -> Result<Received, Fail> {
        self.receiver()?;
        // SAFETY: as in `receiver`; the sample's lifetime is extended to 'static, sound
        // because it is stored in `current`, dropped before the box is freed, and
        // `receiver()` releases it before anything else uses the receiver.
        let receiver: &'static mut RustReceiver =
            unsafe { self.receiver.get() }.ok_or_else(closed)?;
        let sample = receiver.recv(slice)?;
        let bytes = sample.bytes();
        let (addr, len, seq) = (bytes.as_ptr() as usize, bytes.len(), sample.seq());
        if let Err(e) = fit.check(name, len) {
            drop(sample);
            return Err(e.into());
        }
        let (id, exports) = Lent::store(&mut self.current, &mut self.next_id, sample);
        Ok((id, addr, len, seq, exports))
    }

    /// For a wait set (`waitset.rs`): the receiver as a member, or `None` while a sample is
    /// current (it borrows the receiver mutably, so the receiver cannot be looked at).
    ///
    /// # Errors
    ///
    /// `ValueError` once closed.
    pub(crate) fn waitable(&self) -> Result<Option<&dyn shmkit::Waitable>, PyErr> {
        if self.current.is_some() {
            return Ok(None);
        }
        // SAFETY: no sample is current, so nothing holds a `&mut` to the receiver; every
        // `&mut` use goes through `&mut self`, which cannot exist while this `&self` borrow
        // (tied to the returned reference) lives, and the box is freed only through
        // `&mut self` (close, drop).
        let r = unsafe { self.receiver.peek() }.ok_or_else(closed)?;
        Ok(Some(match r {
            RustReceiver::Channel(c) => c as &dyn shmkit::Waitable,
            RustReceiver::Broadcast(s) => s as &dyn shmkit::Waitable,
        }))
    }

    fn sample(&self, id: u64) -> Option<&Lent<RawSample<'static>>> {
        self.current.as_ref().filter(|c| c.id == id)
    }

    /// Releases sample `id` if it is still held, whatever its views (for a sample that has
    /// none: dropped, or never handed out); whether it was.
    fn drop_sample(&mut self, id: u64) -> bool {
        let held = self.sample(id).is_some();
        if held {
            self.current = None;
        }
        held
    }
}

fn closed() -> PyErr {
    PyValueError::new_err("the receiver is closed")
}

fn released() -> PyErr {
    PyValueError::new_err("the sample was released (copy it with .bytes() to keep it)")
}

/// What a `Receiver` object and its samples share.
pub(crate) type RxShared = Shared<RxState>;

impl RxShared {
    pub(crate) fn new(name: &str, receiver: RustReceiver) -> Arc<RxShared> {
        Shared::wrap(
            name,
            RxState {
                current: None,
                receiver: Owned::new(receiver),
                next_id: 0,
            },
        )
    }

    /// Runs `f` on the receiver, after another thread's sample is released (this thread's
    /// is released first, unless it has views).
    pub(crate) fn with<T: Send>(
        &self,
        py: Python<'_>,
        mut f: impl FnMut(&mut RustReceiver) -> T + Send,
    ) -> PyResult<T> {
        self.call_now(py, |st| Ok(f(st.receiver()?)))
    }

    /// Releases sample `id` if it is still held, and wakes the calls waiting for it.
    fn drop_sample(&self, py: Python<'_>, id: u64) -> bool {
        let held = self.lock(py).drop_sample(id);
        if held {
            self.ended();
        }
        held
    }
}

/// The receiving side of a channel (`Consumer`) or broadcast (`Subscriber`).
///
/// One sample at a time: ``recv`` releases the previous sample first, and raises
/// ``BufferError`` if views of it are still alive.
///
/// Thread safety: a handle may be shared between threads. Each call happens whole, in some
/// order, and every message is received once; blocking calls release the interpreter while
/// they wait. A held :class:`Sample` holds its receiver until it is released: calls from
/// other threads (``recv``, ``recv_into``, ``close``, ``set_wait_strategy``) wait for that,
/// up to their ``timeout`` (``Timeout``; ``WouldBlock`` for ``timeout=0``; Ctrl-C interrupts
/// the wait). Calls from the thread that received it release it first, as above.
#[pyclass(module = "shmkit", subclass, frozen)]
pub(crate) struct Receiver {
    pub(crate) core: Arc<RxShared>,
    pub(crate) name: String,
    /// What `set_wait_strategy` set last (read without releasing a sample).
    wait_strategy: Mutex<&'static str>,
    /// The message type of a typed side.
    pub(crate) typed: Option<Typed>,
}

impl Receiver {
    /// The base object of a `Consumer` or `Subscriber` wrapping `receiver` (a typed side's
    /// when `typed` is given).
    pub(crate) fn new(name: String, receiver: RustReceiver, typed: Option<Typed>) -> Receiver {
        Receiver {
            typed,
            wait_strategy: Mutex::new(wait_strategy_name(receiver.wait_strategy())),
            core: RxShared::new(&name, receiver),
            name,
        }
    }
}

#[pymethods]
impl Receiver {
    /// The channel's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Whether the receiver is closed.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        self.core.lock(py).receiver.is_closed()
    }

    /// How this side waits: ``"adaptive"``, ``"blocking"`` or ``"busy_poll"``.
    #[getter]
    fn wait_strategy(&self) -> &'static str {
        *self
            .wait_strategy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes how this side waits: ``"adaptive"`` (spin, then sleep), ``"blocking"`` (sleep
    /// at once) or ``"busy_poll"`` (never sleep). Releases this thread's sample first, as
    /// ``recv`` does (``BufferError`` if views of it are alive); waits for another thread's.
    fn set_wait_strategy(&self, py: Python<'_>, wait_strategy: &str) -> PyResult<()> {
        let w = parse_wait_strategy(wait_strategy)?;
        self.core.with(py, |r| r.set_wait_strategy(w))?;
        *self
            .wait_strategy
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = wait_strategy_name(w);
        Ok(())
    }

    /// Receives the next message, read in place: a :class:`Sample`. Waits up to ``timeout``
    /// seconds (``None``: forever, ``0``: not at all).
    ///
    /// Raises ``Timeout``, ``Disconnected`` once the sender is gone and everything it
    /// committed was received, ``Lagged`` (broadcast, overwrite policy), or ``BufferError``
    /// if this thread's previous sample still has live views. Waits for another thread's
    /// sample to be released.
    ///
    /// On a typed side (opened with ``layout=``) the message is one record, as Rust's typed
    /// ``recv()``: :attr:`Sample.value` views it. A message of another length (from a byte
    /// producer) is dropped and raises ``Corrupt``; :meth:`recv_slice` takes any number of
    /// records.
    #[pyo3(signature = (timeout=None))]
    fn recv(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<Sample>> {
        self.receive(py, timeout, true)
    }

    /// A typed side's :meth:`recv` of a whole number of records (Rust's ``recv_slice``):
    /// :attr:`Sample.value` is an array of them. A message that is not a whole number of
    /// records is dropped and raises ``Corrupt``; ``TypeError`` on a byte side.
    #[pyo3(signature = (timeout=None))]
    fn recv_slice(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<Sample>> {
        typed::typed_only(self.typed.as_ref(), "recv_slice")?;
        self.receive(py, timeout, false)
    }

    /// The message type of a typed side (a :class:`shmkit.Layout`), ``None`` for bytes.
    #[getter]
    fn layout(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.typed.as_ref().map(|t| t.layout.clone_ref(py))
    }

    /// ``await rx.recv_async(timeout=None)``: :meth:`recv` for asyncio, suspending the task
    /// rather than the thread (any event loop). Cancellation-safe: an await cancelled (or
    /// timed out) consumed nothing, the next ``recv`` gets the message. One reactor thread
    /// per process waits for every pending await (see ``shmkit._aio``).
    #[pyo3(signature = (timeout=None))]
    fn recv_async<'py>(
        slf: &Bound<'py, Self>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::aio_call!(slf.py(), "recv", (slf, timeout))
    }

    /// ``await rx.recv_slice_async(timeout=None)``: :meth:`recv_slice` for asyncio, as
    /// :meth:`recv_async` is :meth:`recv`'s (``TypeError`` on a byte side, at once).
    #[pyo3(signature = (timeout=None))]
    fn recv_slice_async<'py>(
        slf: &Bound<'py, Self>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        typed::typed_only(slf.borrow().typed.as_ref(), "recv_slice_async")?;
        crate::aio_call!(slf.py(), "recv_slice", (slf, timeout))
    }

    /// Receives the next message into ``buffer`` and returns its length (on a typed side, a
    /// whole number of records, else ``Corrupt`` as :meth:`recv_slice`). A ``bytearray`` is
    /// resized to the message; any other writable buffer must be large enough (else
    /// ``ValueError``, and the message is discarded). Copies: the sender may reuse the
    /// memory at once.
    #[pyo3(signature = (buffer, timeout=None))]
    fn recv_into(
        &self,
        py: Python<'_>,
        buffer: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<usize> {
        let wait = Wait::from_timeout(timeout)?;
        let core = &self.core;
        // The message is held as this thread's sample, with no Python object: other threads'
        // calls wait until it is released below, whatever Python code runs meanwhile (the
        // buffer's `__buffer__`, the resize).
        let (fit, name) = (Fit::of(self.typed.as_ref(), false), &self.name);
        let (id, src, len, _, _) = core.call(py, wait, |st, slice| st.start(slice, fit, name))?;
        let copy = || -> PyResult<()> {
            if let Ok(ba) = buffer.cast::<PyByteArray>() {
                ba.resize(len)?;
            }
            let (out, dst, room) = buffer::output(buffer)?;
            if room < len {
                // The message cannot be delivered here: it is discarded, as documented.
                return Err(PyValueError::new_err(format!(
                    "the message has {len} bytes, the buffer only {room}"
                )));
            }
            let copied = py.detach(|| {
                let st = core.lock_detached();
                let held = st.sample(id).is_some();
                if held {
                    // SAFETY: the sample is current (checked, with the state locked), so its
                    // `len` bytes at `src` are mapped and held for this consumer (the producer
                    // keeps off them); `dst` is the exported buffer `out`, at least `len`
                    // bytes, private to this process.
                    unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, len) };
                }
                held
            });
            out.release(py);
            // Only this thread could release it: by calling this receiver from the code
            // above (a `__buffer__` method, say).
            if copied {
                Ok(())
            } else {
                Err(released())
            }
        };
        let r = copy();
        core.drop_sample(py, id);
        r.map(|()| len)
    }

    /// Closes the receiver (the sender sees ``Disconnected``). Waits for another thread's
    /// sample to be released; releases this thread's (raises ``BufferError`` while views of
    /// it are alive). Closing twice is allowed.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let core = &self.core;
        core.call_now(py, |st| {
            let n = core.exports.live();
            if n > 0 {
                return Err(views_alive("a sample of this receiver", n).into());
            }
            st.release()?;
            // SAFETY: no sample is current (released above), so nothing borrows the receiver.
            unsafe { st.receiver.close() };
            Ok(())
        })
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
}

/// A received message, read in place from shared memory (``Consumer.recv``,
/// ``Subscriber.recv``).
///
/// Supports the buffer protocol (read-only): ``memoryview(sample)``,
/// ``numpy.frombuffer(sample, dtype)`` see the message without copying. Release it with
/// :meth:`release` or a ``with`` block (or let the next ``recv`` in the same thread, or its
/// garbage collection, do it); views must be gone by then, or ``BufferError`` is raised and
/// the message stays held. :meth:`bytes` copies. A typed side's sample is viewed as its type
/// by :attr:`value`.
///
/// Thread safety: while held, the sample holds its receiver: other threads' calls on the
/// receiver wait until it is released. Its own methods may be called from any thread.
#[pyclass(module = "shmkit", frozen)]
pub(crate) struct Sample {
    core: Arc<RxShared>,
    id: u64,
    addr: usize,
    len: usize,
    seq: Option<u64>,
    exports: Exports,
    /// A typed side's layout, and whether the sample is one record (not a slice).
    typed: Option<(Typed, bool)>,
}

impl Receiver {
    /// `recv` (`one`) or `recv_slice`.
    fn receive(&self, py: Python<'_>, timeout: Option<f64>, one: bool) -> PyResult<Py<Sample>> {
        let wait = Wait::from_timeout(timeout)?;
        let core = &self.core;
        let (fit, name) = (Fit::of(self.typed.as_ref(), one), &self.name);
        let (id, addr, len, seq, exports) =
            core.call(py, wait, |st, slice| st.start(slice, fit, name))?;
        let sample = Sample {
            core: core.clone(),
            id,
            addr,
            len,
            seq,
            exports,
            typed: self.typed.as_ref().map(|t| (t.clone_ref(py), one)),
        };
        // On failure the `Sample` is dropped, which releases the message.
        Py::new(py, sample)
    }
}

impl Drop for Sample {
    /// A sample object that goes away releases its message (no view can be alive: each
    /// holds a reference to this object), so the sender can reuse its memory.
    fn drop(&mut self) {
        Python::attach(|py| {
            self.core.drop_sample(py, self.id);
        });
    }
}

#[pymethods]
impl Sample {
    /// A copy of the message.
    fn bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        // Copied with the state locked, so no other thread releases the sample meanwhile;
        // making a `bytes` runs no Python code (it is not a GC-tracked type), so nothing in
        // here can re-enter this receiver.
        let st = self.core.lock(py);
        let cur = st.sample(self.id).ok_or_else(released)?;
        Ok(PyBytes::new(py, cur.item.bytes()))
    }

    /// Releases the message, so the sender can reuse its memory. Raises ``BufferError``
    /// while views are alive. Releasing twice is allowed.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        let mut st = self.core.lock(py);
        if st.sample(self.id).is_some() {
            st.release()?;
            drop(st);
            self.core.ended();
        }
        Ok(())
    }

    /// Whether the message is still held (not released).
    #[getter]
    fn held(&self, py: Python<'_>) -> bool {
        self.core.lock(py).sample(self.id).is_some()
    }

    /// The broadcast sequence number (how many messages were published before this one);
    /// ``None`` for channel samples.
    #[getter]
    fn seq(&self) -> Option<u64> {
        self.seq
    }

    /// The size in bytes.
    fn __len__(&self) -> usize {
        self.len
    }

    /// A typed sample's read-only, zero-copy view: the record (a numpy array of shape ``()``
    /// or an instance of the ctypes type) for :meth:`Receiver.recv`, an array of them (shape
    /// ``(n,)``) for :meth:`Receiver.recv_slice`; a memoryview for a layout given by
    /// numbers. A new view each time; each must be gone before the sample is released
    /// (``BufferError``). ctypes has no read-only objects: do not write through a ctypes
    /// view of a sample. ``TypeError`` on a byte side's sample (use ``memoryview(sample)``).
    #[getter]
    fn value<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let (t, one) = this.typed.as_ref().ok_or_else(|| {
            pyo3::exceptions::PyTypeError::new_err(
                "a byte side's sample has no typed value: use memoryview(sample)",
            )
        })?;
        typed::view(t, slf.as_any(), *one, false)
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
        let st = this.core.lock(slf.py());
        if st.sample(this.id).is_none() {
            return Err(PyBufferError::new_err(
                "the sample was released (copy it with .bytes() to keep it)",
            ));
        }
        // SAFETY: the sample is current, so its bytes are mapped and held (the sender keeps
        // off them); they stay so while the export lives: the view holds this object, which
        // holds the state, and neither the sample nor the receiver is released while the
        // export is counted. Read-only: the consumer must not write a message.
        unsafe {
            buffer::export(
                view,
                flags,
                slf.as_any(),
                (this.addr as *mut u8, this.len),
                true,
                &[&this.exports, &this.core.exports],
            )
        }
    }

    /// # Safety
    ///
    /// Called by the interpreter for a buffer `__getbuffer__` filled.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        self.exports.released();
        self.core.exports.released();
    }

    /// Enters a `with` block (see the class docs for what leaving it does).
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Releases the sample. With views still alive, a clean exit raises ``BufferError``;
    /// after an exception the sample stays held (the next ``recv`` releases it).
    #[pyo3(signature = (exc_type, _exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let clean = exc_type.is_none_or(|t| t.is_none());
        if clean || self.exports.live() == 0 {
            self.release(py)?;
        }
        Ok(false)
    }
}
