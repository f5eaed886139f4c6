//! The sending half of a typed channel or broadcast, written once over either byte side.

use std::fmt;
use std::marker::PhantomData;
use std::mem::size_of;
use std::time::Duration;

use bytemuck::Pod;

use super::sealed::ByteSender;
use super::{Loan, SliceLoan};
use crate::sys::Deadline;
use crate::Result;

/// What a typed sending side can do, whichever byte side it wraps: the methods of
/// [`channel::typed::Producer`](crate::channel::typed::Producer) (`S` is a
/// [`channel::Producer`](crate::channel::Producer)) and of
/// [`broadcast::typed::Publisher`](crate::channel::broadcast::typed::Publisher) (`S` is a
/// [`broadcast::Publisher`](crate::channel::broadcast::Publisher)), which dereference to it.
///
/// Each message is one `T` ([`send`](Sender::send), [`loan`](Sender::loan)) or a slice of
/// them ([`send_slice`](Sender::send_slice), [`loan_slice`](Sender::loan_slice)). A loan is
/// a [`Loan`] / [`SliceLoan`] over the byte side's loan:
/// [`channel::typed::Loan`](crate::channel::typed::Loan) on a channel,
/// [`broadcast::typed::Loan`](crate::channel::broadcast::typed::Loan) on a broadcast.
pub struct Sender<T, S> {
    inner: S,
    _t: PhantomData<fn(T)>,
}

impl<T, S: ByteSender + fmt::Debug> fmt::Debug for Sender<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(S::TYPED)
            .field("type", &std::any::type_name::<T>())
            .field("inner", &self.inner)
            .finish()
    }
}

impl<T: Pod, S: ByteSender> Sender<T, S> {
    /// Wraps a byte side; the caller has checked `T` against the side's alignment (its
    /// `Fits`).
    pub(crate) fn new(inner: S) -> Self {
        Sender {
            inner,
            _t: PhantomData,
        }
    }

    /// The byte side, for the methods only one kind of side has.
    pub(crate) fn bytes(&self) -> &S {
        &self.inner
    }

    /// The byte side, mutably.
    pub(crate) fn bytes_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// The longest slice one message can carry: the byte side's `max_message_len`
    /// ([`channel::Producer::max_message_len`](crate::channel::Producer::max_message_len),
    /// [`broadcast::Publisher::max_message_len`](
    /// crate::channel::broadcast::Publisher::max_message_len))
    /// bytes, in `T`s.
    pub fn max_slice_len(&self) -> usize {
        self.inner.max_message_len() / size_of::<T>()
    }

    fn loan_until(&mut self, deadline: Deadline) -> Result<Loan<T, S::Loan<'_>>> {
        Ok(Loan::new(self.inner.loan_until(size_of::<T>(), deadline)?))
    }

    /// Borrows room for one `T` — in the ring, or the slot of the next message — waiting as
    /// long as it takes (see [`channel::Producer::loan`](crate::channel::Producer::loan),
    /// [`broadcast::Publisher::loan`](crate::channel::broadcast::Publisher::loan)).
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`](crate::Error::SizeInvalid) if a `T` is larger than the largest
    /// message (on a broadcast, only for one created with a zero-length slice, which `create`
    /// refuses); [`Error::Disconnected`](crate::Error::Disconnected) if a channel's consumer
    /// is gone.
    pub fn loan(&mut self) -> Result<Loan<T, S::Loan<'_>>> {
        self.loan_until(Deadline::Forever)
    }

    /// Like [`Sender::loan`], without waiting: `WouldBlock` if the ring is full, or there is
    /// no slot.
    ///
    /// # Errors
    ///
    /// As [`Sender::loan`], and `WouldBlock`.
    pub fn try_loan(&mut self) -> Result<Loan<T, S::Loan<'_>>> {
        self.loan_until(Deadline::Try)
    }

    /// Like [`Sender::loan`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Sender::loan`], and `Timeout`.
    pub fn loan_timeout(&mut self, timeout: Duration) -> Result<Loan<T, S::Loan<'_>>> {
        self.loan_until(Deadline::after(timeout))
    }

    /// Like [`Self::loan`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::loan_timeout`].
    pub fn loan_deadline(&mut self, deadline: std::time::Instant) -> Result<Loan<T, S::Loan<'_>>> {
        self.loan_until(Deadline::At(deadline))
    }

    fn loan_slice_until(
        &mut self,
        len: usize,
        deadline: Deadline,
    ) -> Result<SliceLoan<T, S::Loan<'_>>> {
        // Saturates: an impossible length is refused by the byte loan as too large.
        let bytes = len.saturating_mul(size_of::<T>());
        Ok(SliceLoan::new(self.inner.loan_until(bytes, deadline)?, len))
    }

    /// Borrows room for `len` values of `T` (a variable-length array: audio, an image row,
    /// points) — in the ring, or the slot of the next message — waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`](crate::Error::SizeInvalid) over [`Sender::max_slice_len`];
    /// `Disconnected` if a channel's consumer is gone.
    pub fn loan_slice(&mut self, len: usize) -> Result<SliceLoan<T, S::Loan<'_>>> {
        self.loan_slice_until(len, Deadline::Forever)
    }

    /// Like [`Sender::loan_slice`], without waiting.
    ///
    /// # Errors
    ///
    /// As [`Sender::loan_slice`], and `WouldBlock`.
    pub fn try_loan_slice(&mut self, len: usize) -> Result<SliceLoan<T, S::Loan<'_>>> {
        self.loan_slice_until(len, Deadline::Try)
    }

    /// Like [`Sender::loan_slice`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Sender::loan_slice`], and `Timeout`.
    pub fn loan_slice_timeout(
        &mut self,
        len: usize,
        timeout: Duration,
    ) -> Result<SliceLoan<T, S::Loan<'_>>> {
        self.loan_slice_until(len, Deadline::after(timeout))
    }

    /// Like [`Self::loan_slice`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::loan_slice_timeout`].
    pub fn loan_slice_deadline(
        &mut self,
        len: usize,
        deadline: std::time::Instant,
    ) -> Result<SliceLoan<T, S::Loan<'_>>> {
        self.loan_slice_until(len, Deadline::At(deadline))
    }

    /// Copies `value` into the ring, or the next slot, and publishes it (to the consumer, or
    /// to every subscriber), waiting for room.
    ///
    /// # Errors
    ///
    /// As [`Sender::loan`].
    pub fn send(&mut self, value: &T) -> Result<()> {
        self.inner
            .send_until(bytemuck::bytes_of(value), Deadline::Forever)
    }

    /// [`Sender::send`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Sender::try_loan`].
    pub fn try_send(&mut self, value: &T) -> Result<()> {
        self.inner
            .send_until(bytemuck::bytes_of(value), Deadline::Try)
    }

    /// [`Sender::send`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Sender::loan_timeout`].
    pub fn send_timeout(&mut self, value: &T, timeout: Duration) -> Result<()> {
        self.inner
            .send_until(bytemuck::bytes_of(value), Deadline::after(timeout))
    }

    /// Like [`Self::send`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::send_timeout`].
    pub fn send_deadline(&mut self, value: &T, deadline: std::time::Instant) -> Result<()> {
        self.inner
            .send_until(bytemuck::bytes_of(value), Deadline::At(deadline))
    }

    /// Copies `values` into the ring, or the next slot, as one message and publishes it,
    /// waiting for room.
    ///
    /// # Errors
    ///
    /// As [`Sender::loan_slice`].
    pub fn send_slice(&mut self, values: &[T]) -> Result<()> {
        self.inner
            .send_until(bytemuck::cast_slice(values), Deadline::Forever)
    }

    /// [`Sender::send_slice`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Sender::try_loan_slice`].
    pub fn try_send_slice(&mut self, values: &[T]) -> Result<()> {
        self.inner
            .send_until(bytemuck::cast_slice(values), Deadline::Try)
    }

    /// [`Sender::send_slice`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Sender::loan_slice_timeout`].
    pub fn send_slice_timeout(&mut self, values: &[T], timeout: Duration) -> Result<()> {
        self.inner
            .send_until(bytemuck::cast_slice(values), Deadline::after(timeout))
    }

    /// Like [`Self::send_slice`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::send_slice_timeout`].
    pub fn send_slice_deadline(
        &mut self,
        values: &[T],
        deadline: std::time::Instant,
    ) -> Result<()> {
        self.inner
            .send_until(bytemuck::cast_slice(values), Deadline::At(deadline))
    }
}

impl<T, S: crate::wait::Sealed> crate::wait::Sealed for Sender<T, S> {
    fn point(&self) -> crate::wait::Point<'_> {
        self.inner.point()
    }

    fn ready(&self) -> bool {
        self.inner.ready()
    }
}
