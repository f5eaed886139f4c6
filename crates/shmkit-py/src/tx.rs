//! The sending side of a channel or broadcast, and its loans, shared by `Producer` and
//! `Publisher` (both extend the base class [`Sender`]).
//!
//! # The self-borrowing loan
//!
//! A Rust loan (`channel::Loan<'a>`) mutably borrows its producer, but a Python `Loan` is an
//! object of its own, committed later. So the producer lives in a heap box owned by
//! [`TxState`] (a raw pointer, `shared::Owned`), and the current loan is kept next to it
//! with its lifetime extended to `'static`. That is sound because (1) the box does not move
//! or die before the loan: `TxState` drops the loan first, and the producer only when no
//! loan is current; (2) nothing else touches the producer while a loan is current: every
//! use goes through [`TxState::sender`], which ends the current loan (or fails) first, and
//! (3) every use of the sender or of the loan, from `loan` to `commit`, happens with the
//! state's mutex held, and calls from threads other than the loan's wait for it to end
//! (`shared.rs`, "Threads"): so there is never a second `&mut` to the sender.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::ThreadId;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use shmkit::channel::{self, broadcast, WaitStrategy};

use crate::buffer::{self, Exports};
use crate::channel::{parse_wait_strategy, wait_strategy_name};
use crate::errors::{views_alive, Fail};
use crate::loan::Loan;
use crate::shared::{Lends, Lent, Owned, Shared};
use crate::typed::{self, Typed};
use crate::wait::{Slice, Wait};

/// The Rust sending side.
pub(crate) enum RustSender {
    Channel(channel::Producer),
    Broadcast(broadcast::Publisher),
}

/// A Rust loan of either kind.
pub(crate) enum RawLoan<'a> {
    Channel(channel::Loan<'a>),
    Broadcast(broadcast::Loan<'a>),
}

impl RawLoan<'_> {
    fn bytes(&mut self) -> &mut [u8] {
        match self {
            RawLoan::Channel(l) => l,
            RawLoan::Broadcast(l) => l,
        }
    }

    pub(crate) fn commit(self, len: Option<usize>) {
        match self {
            RawLoan::Channel(mut l) => {
                if let Some(n) = len {
                    l.truncate(n);
                }
                l.commit();
            }
            RawLoan::Broadcast(mut l) => {
                if let Some(n) = len {
                    l.truncate(n);
                }
                l.commit();
            }
        }
    }
}

impl RustSender {
    fn wait_strategy(&self) -> WaitStrategy {
        match self {
            RustSender::Channel(p) => p.wait_strategy(),
            RustSender::Broadcast(p) => p.wait_strategy(),
        }
    }

    fn set_wait_strategy(&mut self, w: WaitStrategy) {
        match self {
            RustSender::Channel(p) => p.set_wait_strategy(w),
            RustSender::Broadcast(p) => p.set_wait_strategy(w),
        }
    }

    fn loan(&mut self, len: usize, slice: Slice) -> shmkit::Result<RawLoan<'_>> {
        Ok(match (self, slice) {
            (RustSender::Channel(p), None) => RawLoan::Channel(p.try_loan(len)?),
            (RustSender::Channel(p), Some(d)) => RawLoan::Channel(p.loan_timeout(len, d)?),
            (RustSender::Broadcast(p), None) => RawLoan::Broadcast(p.try_loan(len)?),
            (RustSender::Broadcast(p), Some(d)) => RawLoan::Broadcast(p.loan_timeout(len, d)?),
        })
    }

    pub(crate) fn max_message_len(&self) -> usize {
        match self {
            RustSender::Channel(p) => p.max_message_len(),
            RustSender::Broadcast(p) => p.max_message_len(),
        }
    }
}

/// A sender and its current loan (see the module docs).
pub(crate) struct TxState {
    /// Borrows `*sender`: declared (and dropped) first.
    current: Option<Lent<RawLoan<'static>>>,
    sender: Owned<RustSender>,
    next_id: u64,
}

// SAFETY: the producer and publisher are `Send`; the raw pointers (the box, and inside the
// loans) point into memory this state owns, and nothing in it is tied to a thread.
unsafe impl Send for TxState {}

impl Lends for TxState {
    fn current(&self) -> Option<(u64, ThreadId)> {
        self.current.as_ref().map(|c| (c.id, c.owner))
    }
}

impl TxState {
    /// Ends the current loan, which must have no live views; it publishes nothing.
    fn abandon(&mut self) -> Result<(), Fail> {
        Lent::end(&mut self.current, "the open loan")
    }

    /// The sender, after ending a loan that has no views (see the module docs).
    fn sender(&mut self) -> Result<&mut RustSender, Fail> {
        self.abandon()?;
        // SAFETY: no loan is current, so no other reference to the sender exists; the
        // borrow is tied to `&mut self`, so it ends before the sender is closed or dropped.
        Ok(unsafe { self.sender.get() }.ok_or_else(closed)?)
    }

    /// Starts a loan of `len` bytes: (id, address, length, its export count).
    fn start(&mut self, len: usize, slice: Slice) -> Result<(u64, usize, Exports), Fail> {
        self.sender()?;
        // SAFETY: as in `sender`; the loan's lifetime is extended to 'static, sound because
        // it is stored in `current`, which is always dropped before the box is freed, and
        // `sender()` ends it before anything else uses the sender (module docs).
        let sender: &'static mut RustSender = unsafe { self.sender.get() }.ok_or_else(closed)?;
        let mut loan = sender.loan(len, slice)?;
        let addr = loan.bytes().as_mut_ptr() as usize;
        let (id, exports) = Lent::store(&mut self.current, &mut self.next_id, loan);
        Ok((id, addr, exports))
    }

    /// Takes the current loan if it is `id` and has no live views; the caller keeps the
    /// state locked until it has committed or dropped it (module docs).
    pub(crate) fn finish(&mut self, id: u64) -> PyResult<RawLoan<'static>> {
        match &self.current {
            Some(cur) if cur.id == id => {
                let n = cur.exports.live();
                if n > 0 {
                    return Err(views_alive("the loan", n));
                }
            }
            _ => {
                return Err(PyValueError::new_err(
                    "the loan is already committed or aborted",
                ))
            }
        }
        self.current.take().map(|c| c.item).ok_or_else(closed)
    }

    /// For a wait set (`waitset.rs`): the sender as a member, or `None` while a loan is
    /// open (it borrows the sender mutably, so the sender cannot be looked at).
    ///
    /// # Errors
    ///
    /// `ValueError` once closed.
    pub(crate) fn waitable(&self) -> Result<Option<&dyn shmkit::Waitable>, PyErr> {
        if self.current.is_some() {
            return Ok(None);
        }
        // SAFETY: no loan is open, so nothing holds a `&mut` to the sender; every `&mut`
        // use goes through `&mut self`, which cannot exist while this `&self` borrow (tied
        // to the returned reference) lives, and the box is freed only through `&mut self`.
        let s = unsafe { self.sender.peek() }.ok_or_else(closed)?;
        Ok(Some(match s {
            RustSender::Channel(p) => p as &dyn shmkit::Waitable,
            RustSender::Broadcast(p) => p as &dyn shmkit::Waitable,
        }))
    }

    /// Whether loan `id` is still open.
    pub(crate) fn is_open(&self, id: u64) -> bool {
        matches!(&self.current, Some(c) if c.id == id)
    }

    /// Ends loan `id` if it is still open, publishing nothing (its views are gone).
    pub(crate) fn drop_loan(&mut self, id: u64) -> bool {
        let open = self.is_open(id);
        if open {
            self.current = None;
        }
        open
    }
}

fn closed() -> PyErr {
    PyValueError::new_err("the sender is closed")
}

/// What a `Sender` object and its loans share.
pub(crate) type TxShared = Shared<TxState>;

impl Sender {
    /// The base object of a `Producer` or `Publisher` wrapping `sender` (a typed side's
    /// when `typed` is given).
    pub(crate) fn new(name: String, sender: RustSender, typed: Option<Typed>) -> Sender {
        Sender {
            typed,
            max_message_len: sender.max_message_len(),
            wait_strategy: Mutex::new(wait_strategy_name(sender.wait_strategy())),
            core: TxShared::new(&name, sender),
            name,
        }
    }
}

impl TxShared {
    fn new(name: &str, sender: RustSender) -> Arc<TxShared> {
        Shared::wrap(
            name,
            TxState {
                current: None,
                sender: Owned::new(sender),
                next_id: 0,
            },
        )
    }

    /// Runs `f` on the sender, after another thread's loan ends; `RuntimeError` while this
    /// thread's loan is open (the loan borrows the sender).
    pub(crate) fn with<T: Send>(
        &self,
        py: Python<'_>,
        mut f: impl FnMut(&mut RustSender) -> T + Send,
    ) -> PyResult<T> {
        self.call_now(py, |st| {
            if st.current.is_some() {
                return Err(PyRuntimeError::new_err(
                    "not available while a loan is open: commit or abort it first",
                )
                .into());
            }
            Ok(f(st.sender()?))
        })
    }

    /// [`TxShared::with`] for an accessor that waits, up to `wait`, in slices: `f` gets what
    /// is left of the slice (`None`: must not wait) and returns [`shmkit::Error::Timeout`]
    /// when nothing happened in it (see [`Shared::call`]).
    pub(crate) fn with_waiting<T: Send>(
        &self,
        py: Python<'_>,
        wait: Wait,
        mut f: impl FnMut(&mut RustSender, Slice) -> shmkit::Result<T> + Send,
    ) -> PyResult<T> {
        self.call(py, wait, |st, slice| {
            if st.current.is_some() {
                return Err(PyRuntimeError::new_err(
                    "not available while a loan is open: commit or abort it first",
                )
                .into());
            }
            Ok(f(st.sender()?, slice)?)
        })
    }
}

/// The sending side of a channel (`Producer`) or broadcast (`Publisher`).
///
/// Thread safety: a handle may be shared between threads. Each call happens whole, in some
/// order, and nothing acknowledged is lost; blocking calls release the interpreter while
/// they wait. An open :class:`Loan` holds its sender until it is committed or aborted:
/// calls from other threads (``loan``, ``send``, ``close``, ``set_wait_strategy``,
/// ``subscribers``, ``wait_for_subscribers``) wait for it, up to their ``timeout`` (``Timeout``; ``WouldBlock``
/// for ``timeout=0``; Ctrl-C interrupts the wait). Calls from the thread that took the loan
/// do not wait: ``loan``/``send``/``close`` abandon it, as documented below.
#[pyclass(module = "shmkit", subclass, frozen)]
pub(crate) struct Sender {
    pub(crate) core: Arc<TxShared>,
    pub(crate) name: String,
    pub(crate) max_message_len: usize,
    /// What `set_wait_strategy` set last (read without waiting for a loan).
    wait_strategy: Mutex<&'static str>,
    /// The message type of a typed side.
    pub(crate) typed: Option<Typed>,
}

impl Sender {
    /// Starts a loan of `len` bytes (`one`: a typed side's single record).
    fn start_loan(
        slf: &Bound<'_, Self>,
        len: usize,
        one: bool,
        timeout: Option<f64>,
    ) -> PyResult<Py<Loan>> {
        let py = slf.py();
        let this = slf.get();
        let core = this.core.clone();
        let wait = Wait::from_timeout(timeout)?;
        let (id, addr, exports) = core.call(py, wait, |st, slice| st.start(len, slice))?;
        let typed = this.typed.as_ref().map(|t| (t.clone_ref(py), one));
        let loan = Loan::new(
            core.clone(),
            (id, addr, len, exports),
            typed,
            this.name.clone(),
        );
        // On failure the `Loan` is dropped, which ends the loan.
        Py::new(py, loan)
    }
}

#[pymethods]
impl Sender {
    /// The channel's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The largest message this channel accepts, in bytes.
    #[getter]
    fn max_message_len(&self) -> usize {
        self.max_message_len
    }

    /// The message type of a typed side (a :class:`shmkit.Layout`), ``None`` for bytes.
    #[getter]
    fn layout(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.typed.as_ref().map(|t| t.layout.clone_ref(py))
    }

    /// Whether the sender is closed.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        self.core.lock(py).sender.is_closed()
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
    /// at once) or ``"busy_poll"`` (never sleep). ``RuntimeError`` while this thread's loan
    /// is open; waits for another thread's.
    fn set_wait_strategy(&self, py: Python<'_>, wait_strategy: &str) -> PyResult<()> {
        let w = parse_wait_strategy(wait_strategy)?;
        self.core.with(py, |s| s.set_wait_strategy(w))?;
        *self
            .wait_strategy
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = wait_strategy_name(w);
        Ok(())
    }

    /// Borrows room for a message of ``size`` bytes in shared memory, waiting for room up to
    /// ``timeout`` seconds (``None``: forever, ``0``: not at all). On a typed side (opened
    /// with ``layout=``) give no size: the loan is one record (:meth:`loan_slice` loans
    /// several), as Rust's typed ``loan()``.
    ///
    /// Use it as a context manager: ``with tx.loan(n) as buf:`` gives a writable memoryview
    /// (a typed side's: a writable view of the record, see :attr:`Loan.value`); leaving the
    /// block normally publishes the message, leaving it with an exception publishes
    /// nothing. Views made inside the block (``numpy.frombuffer(buf, ...)``, the typed view)
    /// must be gone when it ends, or leaving raises ``BufferError`` and publishes nothing.
    ///
    /// One loan at a time: while another thread's loan is open, this waits for it to end.
    /// This thread's previous loan still open is abandoned (it publishes nothing), or
    /// ``BufferError`` is raised if it has live views. Raises ``Timeout``,
    /// ``Disconnected`` (the receiver is gone), ``SizeInvalid`` (over ``max_message_len``),
    /// ``TypeError`` for a size on a typed side or none on a byte side.
    #[pyo3(signature = (size=None, timeout=None))]
    fn loan(slf: Bound<'_, Self>, size: Option<usize>, timeout: Option<f64>) -> PyResult<Py<Loan>> {
        let (len, one) = match (&slf.get().typed, size) {
            (None, Some(n)) => (n, false),
            (None, None) => {
                return Err(PyTypeError::new_err(
                    "loan() on a byte side needs the size in bytes",
                ))
            }
            (Some(t), None) => (t.size, true),
            (Some(_), Some(_)) => {
                return Err(PyTypeError::new_err(
                    "a typed side loans records: loan() for one, loan_slice(n) for n",
                ))
            }
        };
        Sender::start_loan(&slf, len, one, timeout)
    }

    /// A typed side's loan of ``count`` records (Rust's ``loan_slice``): its view is an
    /// array of ``count`` (``numpy`` shape ``(count,)``, or a ctypes array). Waits and
    /// raises as :meth:`loan`; ``TypeError`` on a byte side.
    #[pyo3(signature = (count, timeout=None))]
    fn loan_slice(slf: Bound<'_, Self>, count: usize, timeout: Option<f64>) -> PyResult<Py<Loan>> {
        let t = typed::typed_only(slf.get().typed.as_ref(), "loan_slice")?;
        let len = count
            .checked_mul(t.size)
            .ok_or_else(|| PyValueError::new_err(format!("{count} records do not fit memory")))?;
        Sender::start_loan(&slf, len, false, timeout)
    }

    /// ``await tx.send_async(data, timeout=None)``: :meth:`send` for asyncio, suspending the
    /// task rather than the thread. Cancellation-safe: a cancelled await sent nothing.
    #[pyo3(signature = (data, timeout=None))]
    fn send_async<'py>(
        slf: &Bound<'py, Self>,
        data: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::aio_call!(slf.py(), "send", (slf, data, timeout))
    }

    /// ``await tx.loan_async(size, timeout=None)``: :meth:`loan` for asyncio, suspending the
    /// task rather than the thread. Cancellation-safe: a cancelled await holds no loan. On a
    /// typed side give no size (one record), as :meth:`loan`.
    #[pyo3(signature = (size=None, timeout=None))]
    fn loan_async<'py>(
        slf: &Bound<'py, Self>,
        size: Option<usize>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::aio_call!(slf.py(), "loan", (slf, size, timeout))
    }

    /// Copies ``data`` (any C-contiguous buffer: bytes, bytearray, memoryview, numpy array)
    /// into the channel as one message, waiting for room up to ``timeout`` seconds.
    ///
    /// Raises as :meth:`loan`, and waits as it does for another thread's loan.
    ///
    /// On a typed side ``data`` is a whole number of records: a numpy array or record of the
    /// side's dtype, a ctypes object of its type (or an array of them), or plain bytes of
    /// that length (``TypeError`` for another type, ``SizeInvalid`` for another length).
    #[pyo3(signature = (data, timeout=None))]
    fn send(&self, py: Python<'_>, data: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<()> {
        let data = match &self.typed {
            Some(t) => typed::check_send(t, data)?,
            None => data.clone(),
        };
        let (buf, src, len) = buffer::input(&data)?;
        typed::check_len(self.typed.as_ref(), &self.name, len, "a message")?;
        let wait = Wait::from_timeout(timeout)?;
        self.core.call(py, wait, |st, slice| {
            let mut loan = st.sender()?.loan(len, slice)?;
            // SAFETY: `src .. src + len` is the exported buffer `buf`, which stays exported
            // (and so allocated, and not resized) until after this call; the loan's bytes are
            // this process's to write. (Another Python thread writing the object meanwhile
            // makes the message's bytes a mix, as with any C extension that reads a buffer
            // without the GIL.)
            unsafe {
                std::ptr::copy_nonoverlapping(src as *const u8, loan.bytes().as_mut_ptr(), len)
            };
            loan.commit(None);
            Ok(())
        })?;
        buf.release(py);
        Ok(())
    }

    /// Closes the sender: the receiving side sees ``Disconnected`` once it has received
    /// everything. Waits for another thread's open loan; abandons this thread's (raises
    /// ``BufferError`` while views of it are alive). Closing twice is allowed.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let core = &self.core;
        core.call_now(py, |st| {
            let n = core.exports.live();
            if n > 0 {
                return Err(views_alive("a loan of this sender", n).into());
            }
            st.abandon()?;
            // SAFETY: no loan is current (ended above), so nothing borrows the sender.
            unsafe { st.sender.close() };
            Ok(())
        })
    }

    /// Enters a `with` block (see the class docs for what leaving it does).
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Leaves a `with` block.
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}
