//! The typed producer and its loans: an uninitialised value (or slice) in the ring, which
//! only becomes committable once written.

use std::fmt;
use std::marker::PhantomData;
use std::mem::{size_of, MaybeUninit};
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use bytemuck::Pod;

use super::super::{spsc, WaitMode};
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
/// [`write`](Loan::write) a value (or [`zeroed`](Loan::zeroed), or fill
/// [`as_uninit`](Loan::as_uninit) and [`assume_init`](Loan::assume_init)) to get a
/// [`Written`] loan, which alone can be committed. Dropping either publishes nothing.
#[must_use = "a loan publishes nothing until written and committed"]
pub struct Loan<'a, T> {
    inner: spsc::Loan<'a>,
    _t: PhantomData<fn(T)>,
}

/// A written slot for one `T`: dereferences to the value in the ring, to change it further in
/// place; [`commit`](Written::commit) publishes it.
#[must_use = "a loan publishes nothing until commit()"]
pub struct Written<'a, T> {
    inner: spsc::Loan<'a>,
    _t: PhantomData<fn(T)>,
}

/// A slot for `len` values of `T` in the ring, not yet written: from
/// [`Producer::loan_slice`]. Becomes a [`WrittenSlice`] once filled.
#[must_use = "a loan publishes nothing until written and committed"]
pub struct SliceLoan<'a, T> {
    inner: spsc::Loan<'a>,
    len: usize,
    _t: PhantomData<fn(T)>,
}

/// A written slice in the ring: dereferences to `[T]`; [`truncate`](WrittenSlice::truncate)
/// it to send fewer values than were loaned, then [`commit`](WrittenSlice::commit).
#[must_use = "a loan publishes nothing until commit()"]
pub struct WrittenSlice<'a, T> {
    inner: spsc::Loan<'a>,
    len: usize,
    _t: PhantomData<fn(T)>,
}

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
        Ok(Loan {
            inner: self.inner.loan_until(size_of::<T>(), deadline)?,
            _t: PhantomData,
        })
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
        Ok(SliceLoan {
            inner: self.inner.loan_until(bytes, deadline)?,
            len,
            _t: PhantomData,
        })
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

impl<'a, T: Pod> Loan<'a, T> {
    /// The slot, uninitialised, to write in place (field by field, through raw pointers, or
    /// with [`MaybeUninit::write`]); then [`Loan::assume_init`].
    pub fn as_uninit(&mut self) -> &mut MaybeUninit<T> {
        // SAFETY: the loan's payload is `size_of::<T>()` bytes at an 8-aligned address (every
        // ring payload is; `align_of::<T>() <= 8` is checked at compile time by `Fits`),
        // exclusively this loan's until commit (the ring protocol; the loan borrows the
        // producer mutably), and `MaybeUninit<T>` has no validity requirement.
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
    /// Publishes the value to the consumer.
    #[inline]
    pub fn commit(self) {
        self.inner.commit();
    }
}

impl<T: Pod> Deref for Written<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // The payload is exactly one initialised `T`, 8-aligned: `from_bytes` cannot fail.
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
        // SAFETY: the payload is `len * size_of::<T>()` bytes (the byte loan's length) at an
        // 8-aligned address (`align_of::<T>() <= 8`, checked by `Fits`), exclusively this
        // loan's until commit; `MaybeUninit<T>` has no validity requirement.
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

    /// Publishes the values to the consumer.
    #[inline]
    pub fn commit(self) {
        self.inner.commit();
    }
}

impl<T: Pod> Deref for WrittenSlice<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // Initialised, 8-aligned, a whole number of `T`s: `cast_slice` cannot fail.
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
