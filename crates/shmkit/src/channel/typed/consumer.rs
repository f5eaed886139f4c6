//! The typed consumer: values and slices read in place, or copied out.

use std::fmt;
use std::marker::PhantomData;
use std::mem::size_of;
use std::time::Duration;

use bytemuck::Pod;

use super::super::{spsc, WaitMode};
use crate::channel::message::{self, sealed::Aligned, sealed::ByteSample};
use crate::sys::Deadline;
use crate::{Error, Result};

/// The receiving side of a typed channel, from [`channel::typed::<T>()`](fn@crate::channel::typed).
///
/// Read in place ([`recv`](Consumer::recv), [`recv_slice`](Consumer::recv_slice): a `&T` /
/// `&[T]` into the ring, released on drop) or copy out ([`recv_copy`](Consumer::recv_copy),
/// [`recv_into`](Consumer::recv_into), [`recv_slice_into`](Consumer::recv_slice_into): no
/// reference to shared memory, for producers that are not trusted; see the
/// [module docs](super#trust)). Every form has `try_` and `_timeout` variants.
///
/// A message whose length does not fit the type (one `T` for the value forms, a whole number
/// of `T`s for the slice forms) is [`Error::Corrupt`]; it is dropped, and the next call goes
/// on with the next message. Only a byte producer on a typed channel, or a process outside
/// the protocol, can send one.
pub struct Consumer<T> {
    inner: spsc::Consumer,
    _t: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("type", &std::any::type_name::<T>())
            .field("inner", &self.inner)
            .finish()
    }
}

/// A received value, read in place from the ring; dereferences to `&T`, and releases the
/// message when dropped; see [`message::Sample`].
///
/// The reference is into memory the producer's process can write: sound while it follows
/// the protocol (see the [module docs](super#trust)).
pub type Sample<'a, T> = message::Sample<T, spsc::Sample<'a>>;

/// A received slice, read in place from the ring; dereferences to `&[T]`, and releases the
/// message when dropped. The same trust caveat as [`Sample`]; see [`message::SliceSample`].
pub type SliceSample<'a, T> = message::SliceSample<T, spsc::Sample<'a>>;

impl<T: Pod> Consumer<T> {
    pub(super) fn wrap(inner: spsc::Consumer) -> Self {
        let () = super::Fits::<T>::OK;
        Consumer {
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

    /// The next message, if its length is `size_of::<T>()` (`whole`: a multiple of it);
    /// else it is released and the answer is `Corrupt`.
    #[inline]
    fn next(&mut self, deadline: Deadline, whole: bool) -> Result<spsc::Sample<'_>> {
        let sample = self.inner.recv_until(deadline)?;
        let (len, size) = (sample.len(), size_of::<T>());
        if message::fits::<T>(len, whole) {
            // The payload is 8-aligned (every ring frame's is) and `align_of::<T>() <= 8`, so
            // bytemuck's casts of it cannot fail.
            return Ok(sample);
        }
        Err(Error::Corrupt {
            name: sample.channel_name().to_owned(),
            reason: format!(
                "a message of {len} bytes on a channel of {size}-byte {} values{}",
                std::any::type_name::<T>(),
                if whole {
                    " (not a whole number of them)"
                } else {
                    ""
                }
            ),
        })
        // `sample` is dropped here: the message is released.
    }

    fn recv_until(&mut self, deadline: Deadline) -> Result<Sample<'_, T>> {
        Ok(Sample::new(self.next(deadline, false)?))
    }

    /// Receives the next value in place, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// As [`channel::Consumer::recv`](crate::channel::Consumer::recv), and
    /// [`Error::Corrupt`] for a message that is not one `T`.
    pub fn recv(&mut self) -> Result<Sample<'_, T>> {
        self.recv_until(Deadline::Forever)
    }

    /// Like [`Consumer::recv`], without waiting: `WouldBlock` if nothing is there.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`], and `WouldBlock`.
    pub fn try_recv(&mut self) -> Result<Sample<'_, T>> {
        self.recv_until(Deadline::Try)
    }

    /// Like [`Consumer::recv`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`], and `Timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Sample<'_, T>> {
        self.recv_until(Deadline::after(timeout))
    }

    fn recv_into_until(&mut self, value: &mut T, deadline: Deadline) -> Result<()> {
        message::copy_value(self.next(deadline, false)?, value);
        Ok(())
    }

    /// Receives the next value into `value`, copied out of the ring without a reference to
    /// it ever being made (see the [module docs](super#trust)).
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`].
    pub fn recv_into(&mut self, value: &mut T) -> Result<()> {
        self.recv_into_until(value, Deadline::Forever)
    }

    /// [`Consumer::recv_into`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Consumer::try_recv`].
    pub fn try_recv_into(&mut self, value: &mut T) -> Result<()> {
        self.recv_into_until(value, Deadline::Try)
    }

    /// [`Consumer::recv_into`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv_timeout`].
    pub fn recv_into_timeout(&mut self, value: &mut T, timeout: Duration) -> Result<()> {
        self.recv_into_until(value, Deadline::after(timeout))
    }

    fn recv_copy_until(&mut self, deadline: Deadline) -> Result<T> {
        let mut value = T::zeroed();
        self.recv_into_until(&mut value, deadline)?;
        Ok(value)
    }

    /// Receives the next value as a copy (the copy-out path of [`Consumer::recv_into`]).
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`].
    pub fn recv_copy(&mut self) -> Result<T> {
        self.recv_copy_until(Deadline::Forever)
    }

    /// [`Consumer::recv_copy`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Consumer::try_recv`].
    pub fn try_recv_copy(&mut self) -> Result<T> {
        self.recv_copy_until(Deadline::Try)
    }

    /// [`Consumer::recv_copy`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv_timeout`].
    pub fn recv_copy_timeout(&mut self, timeout: Duration) -> Result<T> {
        self.recv_copy_until(Deadline::after(timeout))
    }

    fn recv_slice_until(&mut self, deadline: Deadline) -> Result<SliceSample<'_, T>> {
        Ok(SliceSample::new(self.next(deadline, true)?))
    }

    /// Receives the next slice in place, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// As [`channel::Consumer::recv`](crate::channel::Consumer::recv), and
    /// [`Error::Corrupt`] for a message that is not a whole number of `T`s.
    pub fn recv_slice(&mut self) -> Result<SliceSample<'_, T>> {
        self.recv_slice_until(Deadline::Forever)
    }

    /// [`Consumer::recv_slice`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv_slice`], and `WouldBlock`.
    pub fn try_recv_slice(&mut self) -> Result<SliceSample<'_, T>> {
        self.recv_slice_until(Deadline::Try)
    }

    /// [`Consumer::recv_slice`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv_slice`], and `Timeout`.
    pub fn recv_slice_timeout(&mut self, timeout: Duration) -> Result<SliceSample<'_, T>> {
        self.recv_slice_until(Deadline::after(timeout))
    }

    fn recv_slice_into_until(&mut self, buf: &mut Vec<T>, deadline: Deadline) -> Result<usize> {
        Ok(message::copy_slice(self.next(deadline, true)?, buf))
    }

    /// Receives the next slice into `buf` (cleared first), copied out of the ring without a
    /// reference to it ever being made; returns the number of values.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv_slice`].
    pub fn recv_slice_into(&mut self, buf: &mut Vec<T>) -> Result<usize> {
        self.recv_slice_into_until(buf, Deadline::Forever)
    }

    /// [`Consumer::recv_slice_into`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Consumer::try_recv_slice`].
    pub fn try_recv_slice_into(&mut self, buf: &mut Vec<T>) -> Result<usize> {
        self.recv_slice_into_until(buf, Deadline::Try)
    }

    /// [`Consumer::recv_slice_into`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv_slice_timeout`].
    pub fn recv_slice_into_timeout(
        &mut self,
        buf: &mut Vec<T>,
        timeout: Duration,
    ) -> Result<usize> {
        self.recv_slice_into_until(buf, Deadline::after(timeout))
    }
}

impl Aligned for spsc::Sample<'_> {
    // every ring frame, and so every payload, is 8-aligned (`spsc` module docs)
    const ALIGN: usize = 8;
}

impl ByteSample for spsc::Sample<'_> {
    fn copy_to(&self, dst: &mut [u8]) {
        spsc::Sample::copy_to(self, dst);
    }
}

impl<T> crate::waitset::sealed::Sealed for Consumer<T> {
    fn point(&self) -> crate::waitset::Point<'_> {
        crate::waitset::sealed::Sealed::point(&self.inner)
    }

    fn ready(&self) -> bool {
        crate::waitset::sealed::Sealed::ready(&self.inner)
    }
}
