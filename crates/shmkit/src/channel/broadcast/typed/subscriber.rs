//! The typed subscriber: values and slices read in place, or copied out.

use std::fmt;
use std::marker::PhantomData;
use std::mem::size_of;
use std::time::Duration;

use bytemuck::Pod;

use super::super::layout::PAYLOAD_ALIGN;
use super::super::{self as bytes, Policy};
use crate::channel::message::{self, sealed::Aligned, sealed::ByteSample};
use crate::sys::Deadline;
use crate::{Error, Result};

/// A subscriber of a typed broadcast, from
/// [`broadcast::typed::<T>()`](fn@crate::channel::broadcast::typed).
///
/// Read in place ([`recv`](Subscriber::recv), [`recv_slice`](Subscriber::recv_slice): a `&T`
/// / `&[T]` into the slot, which every subscriber reads at once, released on drop) or copy
/// out ([`recv_copy`](Subscriber::recv_copy), [`recv_into`](Subscriber::recv_into),
/// [`recv_slice_into`](Subscriber::recv_slice_into): no reference to shared memory, for
/// publishers that are not trusted; see the [module docs](super#trust)). Every form has
/// `try_` and `_timeout` variants, and every form reports [`Error::Lagged`] under
/// [`Policy::Overwrite`] as the byte subscriber does.
///
/// A message whose length does not fit the type (one `T` for the value forms, a whole number
/// of `T`s for the slice forms) is [`Error::Corrupt`]; it is released, and the next call goes
/// on with the next message. Only a process outside the protocol can publish one: a typed
/// broadcast's publisher is always typed.
pub struct Subscriber<T> {
    inner: bytes::Subscriber,
    _t: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Subscriber<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("type", &std::any::type_name::<T>())
            .field("inner", &self.inner)
            .finish()
    }
}

/// A received value, read in place from its slot; dereferences to `&T`, and releases the
/// message when dropped. Hold it briefly: see [`broadcast::Sample`](bytes::Sample), and
/// [`message::Sample`] for its methods.
///
/// The reference is into memory the publisher's process can write: sound while it follows
/// the protocol (see the [module docs](super#trust)).
pub type Sample<'a, T> = message::Sample<T, bytes::Sample<'a>>;

/// A received slice, read in place from its slot; dereferences to `&[T]`, and releases the
/// message when dropped. The same caveats as [`Sample`]; see [`message::SliceSample`].
pub type SliceSample<'a, T> = message::SliceSample<T, bytes::Sample<'a>>;

impl<T: Pod> Subscriber<T> {
    pub(super) fn wrap(inner: bytes::Subscriber) -> Self {
        let () = super::Fits::<T>::OK;
        Subscriber {
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

    /// The next message, if its length is `size_of::<T>()` (`whole`: a multiple of it);
    /// else it is released and the answer is `Corrupt`.
    #[inline]
    fn next(&mut self, deadline: Deadline, whole: bool) -> Result<bytes::Sample<'_>> {
        let sample = self.inner.recv_until(deadline)?;
        let (len, size) = (sample.len(), size_of::<T>());
        if message::fits::<T>(len, whole) {
            // The payload is 16-aligned (every slot's is) and `align_of::<T>() <= 16`, so
            // bytemuck's casts of it cannot fail.
            return Ok(sample);
        }
        Err(Error::Corrupt {
            name: sample.channel_name().to_owned(),
            reason: format!(
                "message {} has {len} bytes on a broadcast of {size}-byte {} values{}",
                sample.seq(),
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
    /// As [`broadcast::Subscriber::recv`](bytes::Subscriber::recv) (`Lagged`,
    /// `Disconnected`, `Corrupt`), and [`Error::Corrupt`] for a message that is not one `T`.
    pub fn recv(&mut self) -> Result<Sample<'_, T>> {
        self.recv_until(Deadline::Forever)
    }

    /// Like [`Subscriber::recv`], without waiting: `WouldBlock` if nothing is new.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv`], and `WouldBlock`.
    pub fn try_recv(&mut self) -> Result<Sample<'_, T>> {
        self.recv_until(Deadline::Try)
    }

    /// Like [`Subscriber::recv`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv`], and `Timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Sample<'_, T>> {
        self.recv_until(Deadline::after(timeout))
    }

    fn recv_into_until(&mut self, value: &mut T, deadline: Deadline) -> Result<()> {
        message::copy_value(self.next(deadline, false)?, value);
        Ok(())
    }

    /// Receives the next value into `value`, copied out of the slot without a reference to it
    /// ever being made (see the [module docs](super#trust)).
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv`].
    pub fn recv_into(&mut self, value: &mut T) -> Result<()> {
        self.recv_into_until(value, Deadline::Forever)
    }

    /// [`Subscriber::recv_into`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::try_recv`].
    pub fn try_recv_into(&mut self, value: &mut T) -> Result<()> {
        self.recv_into_until(value, Deadline::Try)
    }

    /// [`Subscriber::recv_into`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv_timeout`].
    pub fn recv_into_timeout(&mut self, value: &mut T, timeout: Duration) -> Result<()> {
        self.recv_into_until(value, Deadline::after(timeout))
    }

    fn recv_copy_until(&mut self, deadline: Deadline) -> Result<T> {
        let mut value = T::zeroed();
        self.recv_into_until(&mut value, deadline)?;
        Ok(value)
    }

    /// Receives the next value as a copy (the copy-out path of [`Subscriber::recv_into`]).
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv`].
    pub fn recv_copy(&mut self) -> Result<T> {
        self.recv_copy_until(Deadline::Forever)
    }

    /// [`Subscriber::recv_copy`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::try_recv`].
    pub fn try_recv_copy(&mut self) -> Result<T> {
        self.recv_copy_until(Deadline::Try)
    }

    /// [`Subscriber::recv_copy`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv_timeout`].
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
    /// As [`broadcast::Subscriber::recv`](bytes::Subscriber::recv), and [`Error::Corrupt`]
    /// for a message that is not a whole number of `T`s.
    pub fn recv_slice(&mut self) -> Result<SliceSample<'_, T>> {
        self.recv_slice_until(Deadline::Forever)
    }

    /// [`Subscriber::recv_slice`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv_slice`], and `WouldBlock`.
    pub fn try_recv_slice(&mut self) -> Result<SliceSample<'_, T>> {
        self.recv_slice_until(Deadline::Try)
    }

    /// [`Subscriber::recv_slice`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv_slice`], and `Timeout`.
    pub fn recv_slice_timeout(&mut self, timeout: Duration) -> Result<SliceSample<'_, T>> {
        self.recv_slice_until(Deadline::after(timeout))
    }

    fn recv_slice_into_until(&mut self, buf: &mut Vec<T>, deadline: Deadline) -> Result<usize> {
        Ok(message::copy_slice(self.next(deadline, true)?, buf))
    }

    /// Receives the next slice into `buf` (cleared first), copied out of the slot without a
    /// reference to it ever being made; returns the number of values.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv_slice`].
    pub fn recv_slice_into(&mut self, buf: &mut Vec<T>) -> Result<usize> {
        self.recv_slice_into_until(buf, Deadline::Forever)
    }

    /// [`Subscriber::recv_slice_into`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::try_recv_slice`].
    pub fn try_recv_slice_into(&mut self, buf: &mut Vec<T>) -> Result<usize> {
        self.recv_slice_into_until(buf, Deadline::Try)
    }

    /// [`Subscriber::recv_slice_into`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv_slice_timeout`].
    pub fn recv_slice_into_timeout(
        &mut self,
        buf: &mut Vec<T>,
        timeout: Duration,
    ) -> Result<usize> {
        self.recv_slice_into_until(buf, Deadline::after(timeout))
    }
}

impl<T> Sample<'_, T> {
    /// The message's sequence number: how many messages the publisher sent before it.
    pub fn seq(&self) -> u64 {
        self.inner.seq()
    }
}

impl<T> SliceSample<'_, T> {
    /// The message's sequence number: how many messages the publisher sent before it.
    pub fn seq(&self) -> u64 {
        self.inner.seq()
    }
}

impl Aligned for bytes::Sample<'_> {
    // every slot payload is `PAYLOAD_ALIGN` (16)-aligned (`broadcast::layout`)
    const ALIGN: usize = PAYLOAD_ALIGN;
}

impl ByteSample for bytes::Sample<'_> {
    fn copy_to(&self, dst: &mut [u8]) {
        bytes::Sample::copy_to(self, dst);
    }
}

impl<T> crate::waitset::sealed::Sealed for Subscriber<T> {
    fn point(&self) -> crate::waitset::Point<'_> {
        crate::waitset::sealed::Sealed::point(&self.inner)
    }

    fn ready(&self) -> bool {
        crate::waitset::sealed::Sealed::ready(&self.inner)
    }
}
