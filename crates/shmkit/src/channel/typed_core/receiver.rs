//! The receiving half of a typed channel or broadcast, written once over either byte side.

use std::fmt;
use std::marker::PhantomData;
use std::mem::size_of;
use std::time::Duration;

use bytemuck::Pod;

use super::sealed::{ByteReceiver, ByteSample};
use super::{copy_slice, copy_value, fits, Sample, SliceSample};
use crate::sys::Deadline;
use crate::{Error, Result};

/// What a typed receiving side can do, whichever byte side it wraps: the methods of
/// [`channel::typed::Consumer`](crate::channel::typed::Consumer) (`R` is a
/// [`channel::Consumer`](crate::channel::Consumer)) and of
/// [`broadcast::typed::Subscriber`](crate::channel::broadcast::typed::Subscriber) (`R` is a
/// [`broadcast::Subscriber`](crate::channel::broadcast::Subscriber)), which dereference to it.
///
/// Read in place ([`recv`](Receiver::recv), [`recv_slice`](Receiver::recv_slice): a `&T` /
/// `&[T]` into shared memory, released on drop) or copy out
/// ([`recv_copy`](Receiver::recv_copy), [`recv_into`](Receiver::recv_into),
/// [`recv_slice_into`](Receiver::recv_slice_into): no reference to shared memory, for a
/// sender that is not trusted; see "Trust" in
/// [`channel::typed`](mod@crate::channel::typed#trust) or
/// [`broadcast::typed`](mod@crate::channel::broadcast::typed#trust)). Every form has `try_`
/// `_timeout` and `_deadline` variants. A message whose length does not fit the type (one `T` for the
/// value forms, a whole number of `T`s for the slice forms) is [`Error::Corrupt`]; it is
/// released, and the next call goes on with the next message.
///
/// The in-place forms return a [`Sample`] / [`SliceSample`] over the byte side's sample:
/// [`channel::typed::Sample`](crate::channel::typed::Sample) on a channel,
/// [`broadcast::typed::Sample`](crate::channel::broadcast::typed::Sample) on a broadcast.
pub struct Receiver<T, R> {
    inner: R,
    _t: PhantomData<fn() -> T>,
}

impl<T, R: ByteReceiver + fmt::Debug> fmt::Debug for Receiver<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(R::TYPED)
            .field("type", &std::any::type_name::<T>())
            .field("inner", &self.inner)
            .finish()
    }
}

/// `Corrupt` for `sample`, whose length is not that of one `T` (`whole`: of a whole number
/// of them).
#[cold]
fn misfit<T, R: ByteReceiver>(sample: &R::Sample<'_>, whole: bool) -> Error {
    let expected = format!(
        "{}-byte {} values{}",
        size_of::<T>(),
        std::any::type_name::<T>(),
        if whole {
            " (not a whole number of them)"
        } else {
            ""
        }
    );
    Error::Corrupt {
        name: sample.channel_name().to_owned(),
        reason: R::misfit(sample, &expected),
    }
}

impl<T: Pod, R: ByteReceiver> Receiver<T, R> {
    /// Wraps a byte side; the caller has checked `T` against the side's alignment (its
    /// `Fits`).
    pub(crate) fn new(inner: R) -> Self {
        Receiver {
            inner,
            _t: PhantomData,
        }
    }

    /// The byte side, for the methods only one kind of side has.
    pub(crate) fn bytes(&self) -> &R {
        &self.inner
    }

    /// The byte side, mutably.
    pub(crate) fn bytes_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// The next message, if its length is `size_of::<T>()` (`whole`: a multiple of it);
    /// else it is released and the answer is `Corrupt`.
    #[inline]
    fn next(&mut self, deadline: Deadline, whole: bool) -> Result<R::Sample<'_>> {
        let sample = self.inner.recv_until(deadline)?;
        if fits::<T>(sample.len(), whole) {
            // The payload is `ALIGN`-aligned (8 for every ring frame, 16 for every slot) and
            // `align_of::<T>() <= ALIGN` (each side's `Fits`), so bytemuck's casts of it
            // cannot fail.
            return Ok(sample);
        }
        Err(misfit::<T, R>(&sample, whole))
        // `sample` is dropped here: the message is released.
    }

    fn recv_until(&mut self, deadline: Deadline) -> Result<Sample<T, R::Sample<'_>>> {
        Ok(Sample::new(self.next(deadline, false)?))
    }

    /// Receives the next value in place, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// As the byte side's `recv` — [`channel::Consumer::recv`](crate::channel::Consumer::recv)
    /// (`Disconnected`, `Corrupt`) or
    /// [`broadcast::Subscriber::recv`](crate::channel::broadcast::Subscriber::recv)
    /// (`Lagged`, `Disconnected`, `Corrupt`) — and [`Error::Corrupt`] for a message that is
    /// not one `T`.
    pub fn recv(&mut self) -> Result<Sample<T, R::Sample<'_>>> {
        self.recv_until(Deadline::Forever)
    }

    /// Like [`Receiver::recv`], without waiting: `WouldBlock` if nothing is new.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv`], and `WouldBlock`.
    pub fn try_recv(&mut self) -> Result<Sample<T, R::Sample<'_>>> {
        self.recv_until(Deadline::Try)
    }

    /// Like [`Receiver::recv`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv`], and `Timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Sample<T, R::Sample<'_>>> {
        self.recv_until(Deadline::after(timeout))
    }

    /// Like [`Self::recv`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::recv_timeout`].
    pub fn recv_deadline(
        &mut self,
        deadline: std::time::Instant,
    ) -> Result<Sample<T, R::Sample<'_>>> {
        self.recv_until(Deadline::At(deadline))
    }

    fn recv_into_until(&mut self, value: &mut T, deadline: Deadline) -> Result<()> {
        copy_value(self.next(deadline, false)?, value);
        Ok(())
    }

    /// Receives the next value into `value`, copied out of the ring or slot without a
    /// reference to it ever being made (see "Trust" in [`channel::typed`](
    /// mod@crate::channel::typed#trust) or [`broadcast::typed`](
    /// mod@crate::channel::broadcast::typed#trust)).
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv`].
    pub fn recv_into(&mut self, value: &mut T) -> Result<()> {
        self.recv_into_until(value, Deadline::Forever)
    }

    /// [`Receiver::recv_into`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Receiver::try_recv`].
    pub fn try_recv_into(&mut self, value: &mut T) -> Result<()> {
        self.recv_into_until(value, Deadline::Try)
    }

    /// [`Receiver::recv_into`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv_timeout`].
    pub fn recv_into_timeout(&mut self, value: &mut T, timeout: Duration) -> Result<()> {
        self.recv_into_until(value, Deadline::after(timeout))
    }

    /// Like [`Self::recv_into`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::recv_into_timeout`].
    pub fn recv_into_deadline(
        &mut self,
        value: &mut T,
        deadline: std::time::Instant,
    ) -> Result<()> {
        self.recv_into_until(value, Deadline::At(deadline))
    }

    fn recv_copy_until(&mut self, deadline: Deadline) -> Result<T> {
        let mut value = T::zeroed();
        self.recv_into_until(&mut value, deadline)?;
        Ok(value)
    }

    /// Receives the next value as a copy (the copy-out path of [`Receiver::recv_into`]).
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv`].
    pub fn recv_copy(&mut self) -> Result<T> {
        self.recv_copy_until(Deadline::Forever)
    }

    /// [`Receiver::recv_copy`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Receiver::try_recv`].
    pub fn try_recv_copy(&mut self) -> Result<T> {
        self.recv_copy_until(Deadline::Try)
    }

    /// [`Receiver::recv_copy`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv_timeout`].
    pub fn recv_copy_timeout(&mut self, timeout: Duration) -> Result<T> {
        self.recv_copy_until(Deadline::after(timeout))
    }

    /// Like [`Self::recv_copy`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::recv_copy_timeout`].
    pub fn recv_copy_deadline(&mut self, deadline: std::time::Instant) -> Result<T> {
        self.recv_copy_until(Deadline::At(deadline))
    }

    fn recv_slice_until(&mut self, deadline: Deadline) -> Result<SliceSample<T, R::Sample<'_>>> {
        Ok(SliceSample::new(self.next(deadline, true)?))
    }

    /// Receives the next slice in place, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// As the byte side's `recv` (see [`Receiver::recv`]), and [`Error::Corrupt`] for a
    /// message that is not a whole number of `T`s.
    pub fn recv_slice(&mut self) -> Result<SliceSample<T, R::Sample<'_>>> {
        self.recv_slice_until(Deadline::Forever)
    }

    /// [`Receiver::recv_slice`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv_slice`], and `WouldBlock`.
    pub fn try_recv_slice(&mut self) -> Result<SliceSample<T, R::Sample<'_>>> {
        self.recv_slice_until(Deadline::Try)
    }

    /// [`Receiver::recv_slice`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv_slice`], and `Timeout`.
    pub fn recv_slice_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SliceSample<T, R::Sample<'_>>> {
        self.recv_slice_until(Deadline::after(timeout))
    }

    /// Like [`Self::recv_slice`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::recv_slice_timeout`].
    pub fn recv_slice_deadline(
        &mut self,
        deadline: std::time::Instant,
    ) -> Result<SliceSample<T, R::Sample<'_>>> {
        self.recv_slice_until(Deadline::At(deadline))
    }

    fn recv_slice_into_until(&mut self, buf: &mut Vec<T>, deadline: Deadline) -> Result<usize> {
        Ok(copy_slice(self.next(deadline, true)?, buf))
    }

    /// Receives the next slice into `buf` (cleared first), copied out of the ring or slot
    /// without a reference to it ever being made; returns the number of values.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv_slice`].
    pub fn recv_slice_into(&mut self, buf: &mut Vec<T>) -> Result<usize> {
        self.recv_slice_into_until(buf, Deadline::Forever)
    }

    /// [`Receiver::recv_slice_into`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Receiver::try_recv_slice`].
    pub fn try_recv_slice_into(&mut self, buf: &mut Vec<T>) -> Result<usize> {
        self.recv_slice_into_until(buf, Deadline::Try)
    }

    /// [`Receiver::recv_slice_into`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv_slice_timeout`].
    pub fn recv_slice_into_timeout(
        &mut self,
        buf: &mut Vec<T>,
        timeout: Duration,
    ) -> Result<usize> {
        self.recv_slice_into_until(buf, Deadline::after(timeout))
    }

    /// Like [`Self::recv_slice_into`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::recv_slice_into_timeout`].
    pub fn recv_slice_into_deadline(
        &mut self,
        buf: &mut Vec<T>,
        deadline: std::time::Instant,
    ) -> Result<usize> {
        self.recv_slice_into_until(buf, Deadline::At(deadline))
    }
}

/// A typed side waits where its byte side does (`crate::waitset`).
impl<T, R: crate::wait::Sealed> crate::wait::Sealed for Receiver<T, R> {
    fn point(&self) -> crate::wait::Point<'_> {
        self.inner.point()
    }

    fn ready(&self) -> bool {
        self.inner.ready()
    }
}
