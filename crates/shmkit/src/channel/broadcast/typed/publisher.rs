//! The typed publisher and its loans: an uninitialised value (or slice) in a slot, which only
//! becomes committable once written.

use std::fmt;
use std::marker::PhantomData;
use std::mem::{size_of, MaybeUninit};
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use bytemuck::Pod;

use super::super::{self as bytes, Policy};
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
/// [`write`](Loan::write) a value (or [`zeroed`](Loan::zeroed), or fill
/// [`as_uninit`](Loan::as_uninit) and [`assume_init`](Loan::assume_init)) to get a
/// [`Written`] loan, which alone can be committed. Dropping either publishes nothing.
#[must_use = "a loan publishes nothing until written and committed"]
pub struct Loan<'a, T> {
    inner: bytes::Loan<'a>,
    _t: PhantomData<fn(T)>,
}

/// A written slot for one `T`: dereferences to the value in the slot, to change it further in
/// place; [`commit`](Written::commit) publishes it to every subscriber.
#[must_use = "a loan publishes nothing until commit()"]
pub struct Written<'a, T> {
    inner: bytes::Loan<'a>,
    _t: PhantomData<fn(T)>,
}

/// A slot for `len` values of `T`, not yet written: from [`Publisher::loan_slice`]. Becomes a
/// [`WrittenSlice`] once filled.
#[must_use = "a loan publishes nothing until written and committed"]
pub struct SliceLoan<'a, T> {
    inner: bytes::Loan<'a>,
    len: usize,
    _t: PhantomData<fn(T)>,
}

/// A written slice in a slot: dereferences to `[T]`; [`truncate`](WrittenSlice::truncate) it
/// to send fewer values than were loaned, then [`commit`](WrittenSlice::commit).
#[must_use = "a loan publishes nothing until commit()"]
pub struct WrittenSlice<'a, T> {
    inner: bytes::Loan<'a>,
    len: usize,
    _t: PhantomData<fn(T)>,
}

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
        Ok(Loan {
            inner: self.inner.loan_until(size_of::<T>(), deadline)?,
            _t: PhantomData,
        })
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
        Ok(SliceLoan {
            inner: self.inner.loan_until(bytes, deadline)?,
            len,
            _t: PhantomData,
        })
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

impl<'a, T: Pod> Loan<'a, T> {
    /// The slot, uninitialised, to write in place (field by field, through raw pointers, or
    /// with [`MaybeUninit::write`]); then [`Loan::assume_init`].
    pub fn as_uninit(&mut self) -> &mut MaybeUninit<T> {
        // SAFETY: the loan's payload is `size_of::<T>()` bytes (the byte loan's length) at a
        // 16-aligned address (every slot payload is, `layout::PAYLOAD_ALIGN`; `Fits` checks
        // `align_of::<T>() <= 16` at compile time), the publisher's alone until commit (the
        // slot protocol; the loan borrows the publisher mutably), and `MaybeUninit<T>` has no
        // validity requirement.
        unsafe { &mut *self.inner.as_mut_ptr().cast::<MaybeUninit<T>>() }
    }

    /// Writes `value` into the slot, ready to commit.
    #[inline]
    pub fn write(mut self, value: T) -> Written<'a, T> {
        self.as_uninit().write(value);
        Written {
            inner: self.inner,
            _t: PhantomData,
        }
    }

    /// Zeroes the slot, ready to be changed in place and committed.
    pub fn zeroed(self) -> Written<'a, T> {
        self.write(T::zeroed())
    }

    /// Declares the slot written through [`Loan::as_uninit`].
    ///
    /// # Safety
    ///
    /// Every byte of the `T` must have been initialised (as for
    /// [`MaybeUninit::assume_init`]; a `Pod` type has no padding, so every field).
    pub unsafe fn assume_init(self) -> Written<'a, T> {
        Written {
            inner: self.inner,
            _t: PhantomData,
        }
    }
}

impl<T: Pod> Written<'_, T> {
    /// Publishes the value to every subscriber.
    #[inline]
    pub fn commit(self) {
        self.inner.commit();
    }
}

impl<T: Pod> Deref for Written<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // Exactly one initialised `T`, 16-aligned: `from_bytes` cannot fail.
        bytemuck::from_bytes(&self.inner)
    }
}

impl<T: Pod> DerefMut for Written<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        bytemuck::from_bytes_mut(&mut self.inner)
    }
}

impl<'a, T: Pod> SliceLoan<'a, T> {
    /// The number of values loaned.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the loan holds no value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot, uninitialised, to write in place; then [`SliceLoan::assume_init`].
    pub fn as_uninit(&mut self) -> &mut [MaybeUninit<T>] {
        // SAFETY: the payload is `len * size_of::<T>()` bytes (the byte loan's length) at a
        // 16-aligned address (`align_of::<T>() <= 16`, checked by `Fits`), the publisher's
        // alone until commit; `MaybeUninit<T>` has no validity requirement.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.inner.as_mut_ptr().cast::<MaybeUninit<T>>(),
                self.len,
            )
        }
    }

    fn written(self) -> WrittenSlice<'a, T> {
        WrittenSlice {
            inner: self.inner,
            len: self.len,
            _t: PhantomData,
        }
    }

    /// Copies `values` into the slot, ready to commit.
    ///
    /// # Panics
    ///
    /// If `values.len()` is not the loaned length, as `<[T]>::copy_from_slice`.
    pub fn copy_from_slice(mut self, values: &[T]) -> WrittenSlice<'a, T> {
        let slot = self.as_uninit();
        assert_eq!(
            values.len(),
            slot.len(),
            "the slice's length differs from the loan's"
        );
        for (d, s) in slot.iter_mut().zip(values) {
            d.write(*s);
        }
        self.written()
    }

    /// Writes `f(i)` as the `i`-th value, for every value of the slot, ready to commit. If
    /// `f` panics, the loan is dropped and nothing is published.
    #[inline]
    pub fn write_with(mut self, mut f: impl FnMut(usize) -> T) -> WrittenSlice<'a, T> {
        for (i, d) in self.as_uninit().iter_mut().enumerate() {
            d.write(f(i));
        }
        self.written()
    }

    /// Zeroes the slot, ready to be changed in place and committed.
    pub fn zeroed(self) -> WrittenSlice<'a, T> {
        self.write_with(|_| T::zeroed())
    }

    /// Declares the slot written through [`SliceLoan::as_uninit`].
    ///
    /// # Safety
    ///
    /// Every byte of every value must have been initialised.
    pub unsafe fn assume_init(self) -> WrittenSlice<'a, T> {
        self.written()
    }
}

impl<T: Pod> WrittenSlice<'_, T> {
    /// Shrinks the message to its first `len` values (at most the loaned length).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
        self.inner.truncate(self.len * size_of::<T>());
    }

    /// Publishes the values to every subscriber.
    #[inline]
    pub fn commit(self) {
        self.inner.commit();
    }
}

impl<T: Pod> Deref for WrittenSlice<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // Initialised, 16-aligned, a whole number of `T`s: `cast_slice` cannot fail.
        bytemuck::cast_slice(&self.inner[..self.len * size_of::<T>()])
    }
}

impl<T: Pod> DerefMut for WrittenSlice<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        let bytes = self.len * size_of::<T>();
        bytemuck::cast_slice_mut(&mut self.inner[..bytes])
    }
}

macro_rules! debug_loan {
    ($($ty:ident),*) => {$(
        impl<T> fmt::Debug for $ty<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("type", &std::any::type_name::<T>())
                    .finish_non_exhaustive()
            }
        }
    )*};
}
debug_loan!(Loan, Written, SliceLoan, WrittenSlice);
