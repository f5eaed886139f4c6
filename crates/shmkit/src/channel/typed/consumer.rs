//! The typed consumer: values and slices read in place, or copied out.

use bytemuck::Pod;

use super::super::{spsc, WaitStrategy};
use crate::channel::typed_core::{
    self, sealed::Aligned, sealed::ByteReceiver, sealed::ByteSample, typed_side,
};
use crate::sys::Deadline;
use crate::Result;

/// The receiving side of a typed channel, from [`channel::typed::<T>()`](fn@crate::channel::typed).
///
/// Read in place ([`recv`](typed_core::Receiver::recv),
/// [`recv_slice`](typed_core::Receiver::recv_slice): a `&T` / `&[T]` into the ring, released on
/// drop) or copy out ([`recv_copy`](typed_core::Receiver::recv_copy),
/// [`recv_into`](typed_core::Receiver::recv_into),
/// [`recv_slice_into`](typed_core::Receiver::recv_slice_into): no reference to shared memory, for
/// producers that are not trusted; see the [module docs](super#trust)). Every form has `try_`
/// `_timeout` and `_deadline` variants. Those methods are written once for typed channels and broadcasts,
/// on [`typed_core::Receiver`], which this dereferences to; the ones here are a channel's own.
///
/// A message whose length does not fit the type (one `T` for the value forms, a whole number
/// of `T`s for the slice forms) is [`Error::Corrupt`](crate::Error::Corrupt); it is dropped,
/// and the next call goes on with the next message. Only a byte producer on a typed channel,
/// or a process outside the protocol, can send one.
pub struct Consumer<T> {
    inner: typed_core::Receiver<T, spsc::Consumer>,
}

typed_side!(Consumer => typed_core::Receiver<T, spsc::Consumer>);

/// A received value, read in place from the ring; dereferences to `&T`, and releases the
/// message when dropped; see [`typed_core::Sample`].
///
/// The reference is into memory the producer's process can write: sound while it follows
/// the protocol (see the [module docs](super#trust)).
pub type Sample<'a, T> = typed_core::Sample<T, spsc::Sample<'a>>;

/// A received slice, read in place from the ring; dereferences to `&[T]`, and releases the
/// message when dropped. The same trust caveat as [`Sample`]; see [`typed_core::SliceSample`].
pub type SliceSample<'a, T> = typed_core::SliceSample<T, spsc::Sample<'a>>;

impl<T: Pod> Consumer<T> {
    pub(super) fn wrap(inner: spsc::Consumer) -> Self {
        let () = super::Fits::<T>::OK;
        Consumer {
            inner: typed_core::Receiver::new(inner),
        }
    }

    /// The ring's size in bytes.
    pub fn capacity(&self) -> usize {
        self.inner.bytes().capacity()
    }

    /// Whether this side created the channel (and so removes its name when dropped, unless
    /// told to keep it).
    pub fn is_creator(&self) -> bool {
        self.inner.bytes().is_creator()
    }

    /// Changes how this side waits (see [`WaitStrategy`]).
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.inner.bytes_mut().set_wait_strategy(wait);
    }

    /// How this side waits (see [`WaitStrategy`](crate::channel::WaitStrategy)).
    pub fn wait_strategy(&self) -> crate::channel::WaitStrategy {
        self.inner.bytes().wait_strategy()
    }
}

impl ByteReceiver for spsc::Consumer {
    type Sample<'a> = spsc::Sample<'a>;
    const TYPED: &'static str = "Consumer";

    fn name(&self) -> &str {
        spsc::Consumer::name(self)
    }

    #[inline]
    fn recv_until(&mut self, deadline: Deadline) -> Result<spsc::Sample<'_>> {
        spsc::Consumer::recv_until(self, deadline)
    }

    fn misfit(sample: &spsc::Sample<'_>, expected: &str) -> String {
        format!(
            "a message of {} bytes on a channel of {expected}",
            sample.len()
        )
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

    fn channel_name(&self) -> &str {
        spsc::Sample::channel_name(self)
    }
}

impl<T> crate::wait::Sealed for Consumer<T> {
    fn point(&self) -> crate::wait::Point<'_> {
        crate::wait::Sealed::point(&self.inner)
    }

    fn ready(&self) -> bool {
        crate::wait::Sealed::ready(&self.inner)
    }
}
