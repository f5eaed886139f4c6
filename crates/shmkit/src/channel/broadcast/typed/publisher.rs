//! The typed publisher and its loans: an uninitialised value (or slice) in a slot, which only
//! becomes committable once written.

use std::fmt;
use std::marker::PhantomData;
use std::mem::size_of;
use std::time::Duration;

use bytemuck::Pod;

use super::super::layout::PAYLOAD_ALIGN;
use super::super::{self as bytes, Policy};
use crate::channel::message::{self, sealed::Aligned, sealed::ByteLoan};
use crate::sys::Deadline;
use crate::Result;

/// The publishing side of a typed broadcast, from
/// [`broadcast::typed::<T>()`](fn@crate::channel::broadcast::typed).
///
/// Each message is one `T` ([`send`](Publisher::send), [`loan`](Publisher::loan)) or a slice
/// of them ([`send_slice`](Publisher::send_slice), [`loan_slice`](Publisher::loan_slice)).
/// Waiting, policies and liveness are the byte broadcast's; see
/// [`broadcast`](crate::channel::broadcast#policies).
pub struct Publisher<T> {
    inner: bytes::Publisher,
    _t: PhantomData<fn(T)>,
}

impl<T> fmt::Debug for Publisher<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("type", &std::any::type_name::<T>())
            .field("inner", &self.inner)
            .finish()
    }
}

/// A slot for one `T`, not yet written: from [`Publisher::loan`].
///
/// [`write`](message::Loan::write) a value (or [`zeroed`](message::Loan::zeroed), or fill
/// [`as_uninit`](message::Loan::as_uninit) and [`assume_init`](message::Loan::assume_init))
/// to get a [`Written`] loan, which alone can be committed. Dropping either publishes nothing.
pub type Loan<'a, T> = message::Loan<T, bytes::Loan<'a>>;

/// A written slot for one `T`: dereferences to the value in the slot, to change it further in
/// place; [`commit`](message::Written::commit) publishes it to every subscriber.
pub type Written<'a, T> = message::Written<T, bytes::Loan<'a>>;

/// A slot for `len` values of `T`, not yet written: from [`Publisher::loan_slice`]. Becomes a
/// [`WrittenSlice`] once filled; see [`message::SliceLoan`].
pub type SliceLoan<'a, T> = message::SliceLoan<T, bytes::Loan<'a>>;

/// A written slice in a slot: dereferences to `[T]`;
/// [`truncate`](message::WrittenSlice::truncate) it to send fewer values than were loaned,
/// then [`commit`](message::WrittenSlice::commit).
pub type WrittenSlice<'a, T> = message::WrittenSlice<T, bytes::Loan<'a>>;

impl<T: Pod> Publisher<T> {
    pub(super) fn wrap(inner: bytes::Publisher) -> Self {
        let () = super::Fits::<T>::OK;
        Publisher {
            inner,
            _t: PhantomData,
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// What happens to a subscriber that falls a whole ring behind.
    pub fn policy(&self) -> Policy {
        self.inner.policy()
    }

    /// The longest slice one message can carry, in `T`s.
    pub fn max_slice_len(&self) -> usize {
        self.inner.max_message_len() / size_of::<T>()
    }

    /// How many subscribers are attached now; see
    /// [`broadcast::Publisher::subscriber_count`](crate::channel::broadcast::Publisher::subscriber_count).
    pub fn subscriber_count(&self) -> usize {
        self.inner.subscriber_count()
    }

    fn loan_until(&mut self, deadline: Deadline) -> Result<Loan<'_, T>> {
        Ok(Loan::new(self.inner.loan_until(size_of::<T>(), deadline)?))
    }

    /// Borrows the slot of the next message, for one `T`, waiting as long as it takes (see
    /// [`broadcast::Publisher::loan`](crate::channel::broadcast::Publisher::loan)).
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`](crate::Error::SizeInvalid) if a `T` does not fit a slot (only
    /// for a broadcast created with a zero-length slice, which `create` refuses).
    pub fn loan(&mut self) -> Result<Loan<'_, T>> {
        self.loan_until(Deadline::Forever)
    }

    /// Like [`Publisher::loan`], without waiting: `WouldBlock` if there is no slot.
    ///
    /// # Errors
    ///
    /// As [`Publisher::loan`], and `WouldBlock`.
    pub fn try_loan(&mut self) -> Result<Loan<'_, T>> {
        self.loan_until(Deadline::Try)
    }

    /// Like [`Publisher::loan`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Publisher::loan`], and `Timeout`.
    pub fn loan_timeout(&mut self, timeout: Duration) -> Result<Loan<'_, T>> {
        self.loan_until(Deadline::after(timeout))
    }

    fn loan_slice_until(&mut self, len: usize, deadline: Deadline) -> Result<SliceLoan<'_, T>> {
        // Saturates: an impossible length is refused by the byte loan as too large.
        let bytes = len.saturating_mul(size_of::<T>());
        Ok(SliceLoan::new(self.inner.loan_until(bytes, deadline)?, len))
    }

    /// Borrows the slot of the next message for `len` values of `T` (a variable-length array:
    /// audio, an image row, points), waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`](crate::Error::SizeInvalid) over [`Publisher::max_slice_len`].
    pub fn loan_slice(&mut self, len: usize) -> Result<SliceLoan<'_, T>> {
        self.loan_slice_until(len, Deadline::Forever)
    }

    /// Like [`Publisher::loan_slice`], without waiting.
    ///
    /// # Errors
    ///
    /// As [`Publisher::loan_slice`], and `WouldBlock`.
    pub fn try_loan_slice(&mut self, len: usize) -> Result<SliceLoan<'_, T>> {
        self.loan_slice_until(len, Deadline::Try)
    }

    /// Like [`Publisher::loan_slice`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Publisher::loan_slice`], and `Timeout`.
    pub fn loan_slice_timeout(
        &mut self,
        len: usize,
        timeout: Duration,
    ) -> Result<SliceLoan<'_, T>> {
        self.loan_slice_until(len, Deadline::after(timeout))
    }

    /// Copies `value` into the next slot and publishes it to every subscriber.
    ///
    /// # Errors
    ///
    /// As [`Publisher::loan`].
    pub fn send(&mut self, value: &T) -> Result<()> {
        self.inner
            .send_until(bytemuck::bytes_of(value), Deadline::Forever)
    }

    /// [`Publisher::send`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Publisher::try_loan`].
    pub fn try_send(&mut self, value: &T) -> Result<()> {
        self.inner
            .send_until(bytemuck::bytes_of(value), Deadline::Try)
    }

    /// [`Publisher::send`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Publisher::loan_timeout`].
    pub fn send_timeout(&mut self, value: &T, timeout: Duration) -> Result<()> {
        self.inner
            .send_until(bytemuck::bytes_of(value), Deadline::after(timeout))
    }

    /// Copies `values` into the next slot as one message and publishes it.
    ///
    /// # Errors
    ///
    /// As [`Publisher::loan_slice`].
    pub fn send_slice(&mut self, values: &[T]) -> Result<()> {
        self.inner
            .send_until(bytemuck::cast_slice(values), Deadline::Forever)
    }

    /// [`Publisher::send_slice`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Publisher::try_loan_slice`].
    pub fn try_send_slice(&mut self, values: &[T]) -> Result<()> {
        self.inner
            .send_until(bytemuck::cast_slice(values), Deadline::Try)
    }

    /// [`Publisher::send_slice`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Publisher::loan_slice_timeout`].
    pub fn send_slice_timeout(&mut self, values: &[T], timeout: Duration) -> Result<()> {
        self.inner
            .send_until(bytemuck::cast_slice(values), Deadline::after(timeout))
    }
}

impl Aligned for bytes::Loan<'_> {
    // every slot payload is `PAYLOAD_ALIGN` (16)-aligned (`broadcast::layout`)
    const ALIGN: usize = PAYLOAD_ALIGN;
}

// SAFETY: `as_mut_ptr` is the slot payload's start, `PAYLOAD_ALIGN`-aligned and valid for
// writes of the loaned length (at most the slot size) while the loan lives; the loan borrows
// the publisher mutably and the slot protocol keeps every subscriber off the slot until
// `commit`.
unsafe impl ByteLoan for bytes::Loan<'_> {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        bytes::Loan::as_mut_ptr(self)
    }

    fn truncate(&mut self, len: usize) {
        bytes::Loan::truncate(self, len);
    }

    fn commit(self) {
        bytes::Loan::commit(self);
    }
}
