//! The typed producer and its loans: an uninitialised value (or slice) in the ring, which
//! only becomes committable once written.

use std::fmt;
use std::marker::PhantomData;
use std::mem::size_of;
use std::time::Duration;

use bytemuck::Pod;

use super::super::{spsc, WaitMode};
use crate::channel::message::{self, sealed::Aligned, sealed::ByteLoan};
use crate::sys::Deadline;
use crate::Result;

/// The sending side of a typed channel, from [`channel::typed::<T>()`](fn@crate::channel::typed).
///
/// Each message is one `T` ([`send`](Producer::send), [`loan`](Producer::loan)) or a slice
/// of them ([`send_slice`](Producer::send_slice), [`loan_slice`](Producer::loan_slice)).
/// Disconnection, waiting and liveness are the byte channel's; see
/// [`channel`](crate::channel#semantics).
pub struct Producer<T> {
    inner: spsc::Producer,
    _t: PhantomData<fn(T)>,
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("type", &std::any::type_name::<T>())
            .field("inner", &self.inner)
            .finish()
    }
}

/// A slot for one `T` in the ring, not yet written: from [`Producer::loan`].
///
/// [`write`](message::Loan::write) a value (or [`zeroed`](message::Loan::zeroed), or fill
/// [`as_uninit`](message::Loan::as_uninit) and [`assume_init`](message::Loan::assume_init))
/// to get a [`Written`] loan, which alone can be committed. Dropping either publishes nothing.
pub type Loan<'a, T> = message::Loan<T, spsc::Loan<'a>>;

/// A written slot for one `T`: dereferences to the value in the ring, to change it further in
/// place; [`commit`](message::Written::commit) publishes it.
pub type Written<'a, T> = message::Written<T, spsc::Loan<'a>>;

/// A slot for `len` values of `T` in the ring, not yet written: from
/// [`Producer::loan_slice`]. Becomes a [`WrittenSlice`] once filled; see
/// [`message::SliceLoan`].
pub type SliceLoan<'a, T> = message::SliceLoan<T, spsc::Loan<'a>>;

/// A written slice in the ring: dereferences to `[T]`;
/// [`truncate`](message::WrittenSlice::truncate) it to send fewer values than were loaned,
/// then [`commit`](message::WrittenSlice::commit).
pub type WrittenSlice<'a, T> = message::WrittenSlice<T, spsc::Loan<'a>>;

impl<T: Pod> Producer<T> {
    pub(super) fn wrap(inner: spsc::Producer) -> Self {
        let () = super::Fits::<T>::OK;
        Producer {
            inner,
            _t: PhantomData,
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// The ring's size in bytes.
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// Whether this side created the channel (and so removes its name when dropped, unless
    /// told to keep it).
    pub fn is_creator(&self) -> bool {
        self.inner.is_creator()
    }

    /// Changes how this side waits (see [`WaitMode`]).
    pub fn set_wait_mode(&mut self, wait: WaitMode) {
        self.inner.set_wait_mode(wait);
    }

    /// The longest slice one message can carry: [`Producer::max_message_len`](
    /// crate::channel::Producer::max_message_len) bytes, in `T`s.
    pub fn max_slice_len(&self) -> usize {
        self.inner.max_message_len() / size_of::<T>()
    }

    fn loan_until(&mut self, deadline: Deadline) -> Result<Loan<'_, T>> {
        Ok(Loan::new(self.inner.loan_until(size_of::<T>(), deadline)?))
    }

    /// Borrows a slot for one `T`, waiting for room as long as it takes.
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`](crate::Error::SizeInvalid) if a `T` is larger than the largest
    /// message; [`Error::Disconnected`](crate::Error::Disconnected) if the consumer is gone.
    pub fn loan(&mut self) -> Result<Loan<'_, T>> {
        self.loan_until(Deadline::Forever)
    }

    /// Like [`Producer::loan`], without waiting: `WouldBlock` if the ring is full.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan`], and `WouldBlock`.
    pub fn try_loan(&mut self) -> Result<Loan<'_, T>> {
        self.loan_until(Deadline::Try)
    }

    /// Like [`Producer::loan`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan`], and `Timeout`.
    pub fn loan_timeout(&mut self, timeout: Duration) -> Result<Loan<'_, T>> {
        self.loan_until(Deadline::after(timeout))
    }

    fn loan_slice_until(&mut self, len: usize, deadline: Deadline) -> Result<SliceLoan<'_, T>> {
        // Saturates: an impossible length is refused by the byte loan as too large.
        let bytes = len.saturating_mul(size_of::<T>());
        Ok(SliceLoan::new(self.inner.loan_until(bytes, deadline)?, len))
    }

    /// Borrows a slot for `len` values of `T` (a variable-length array: audio, an image row,
    /// points), waiting for room as long as it takes.
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`](crate::Error::SizeInvalid) over
    /// [`Producer::max_slice_len`]; `Disconnected` if the consumer is gone.
    pub fn loan_slice(&mut self, len: usize) -> Result<SliceLoan<'_, T>> {
        self.loan_slice_until(len, Deadline::Forever)
    }

    /// Like [`Producer::loan_slice`], without waiting.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan_slice`], and `WouldBlock`.
    pub fn try_loan_slice(&mut self, len: usize) -> Result<SliceLoan<'_, T>> {
        self.loan_slice_until(len, Deadline::Try)
    }

    /// Like [`Producer::loan_slice`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan_slice`], and `Timeout`.
    pub fn loan_slice_timeout(
        &mut self,
        len: usize,
        timeout: Duration,
    ) -> Result<SliceLoan<'_, T>> {
        self.loan_slice_until(len, Deadline::after(timeout))
    }

    /// Copies `value` into the ring and publishes it, waiting for room.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan`].
    pub fn send(&mut self, value: &T) -> Result<()> {
        self.inner.send(bytemuck::bytes_of(value))
    }

    /// [`Producer::send`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Producer::try_loan`].
    pub fn try_send(&mut self, value: &T) -> Result<()> {
        self.inner.try_send(bytemuck::bytes_of(value))
    }

    /// [`Producer::send`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan_timeout`].
    pub fn send_timeout(&mut self, value: &T, timeout: Duration) -> Result<()> {
        self.inner.send_timeout(bytemuck::bytes_of(value), timeout)
    }

    /// Copies `values` into the ring as one message and publishes it, waiting for room.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan_slice`].
    pub fn send_slice(&mut self, values: &[T]) -> Result<()> {
        self.inner.send(bytemuck::cast_slice(values))
    }

    /// [`Producer::send_slice`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Producer::try_loan_slice`].
    pub fn try_send_slice(&mut self, values: &[T]) -> Result<()> {
        self.inner.try_send(bytemuck::cast_slice(values))
    }

    /// [`Producer::send_slice`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan_slice_timeout`].
    pub fn send_slice_timeout(&mut self, values: &[T], timeout: Duration) -> Result<()> {
        self.inner
            .send_timeout(bytemuck::cast_slice(values), timeout)
    }
}

impl Aligned for spsc::Loan<'_> {
    // every ring frame, and so every payload, is 8-aligned (`spsc` module docs)
    const ALIGN: usize = 8;
}

// SAFETY: `as_mut_ptr` is the payload's start, 8-aligned and valid for writes of the loaned
// length while the loan lives; the loan borrows the producer mutably and the protocol keeps
// every reader off the payload until `commit`.
unsafe impl ByteLoan for spsc::Loan<'_> {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        spsc::Loan::as_mut_ptr(self)
    }

    fn truncate(&mut self, len: usize) {
        spsc::Loan::truncate(self, len);
    }

    fn commit(self) {
        spsc::Loan::commit(self);
    }
}

impl<T> crate::waitset::sealed::Sealed for Producer<T> {
    fn point(&self) -> crate::waitset::Point<'_> {
        crate::waitset::sealed::Sealed::point(&self.inner)
    }

    fn ready(&self) -> bool {
        crate::waitset::sealed::Sealed::ready(&self.inner)
    }
}
