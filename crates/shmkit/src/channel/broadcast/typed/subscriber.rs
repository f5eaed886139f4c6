//! The typed subscriber: values and slices read in place, or copied out.

use bytemuck::Pod;

use super::super::layout::PAYLOAD_ALIGN;
use super::super::{self as bytes, Policy};
use crate::channel::typed_core::{
    self, sealed::Aligned, sealed::ByteReceiver, sealed::ByteSample, typed_side,
};
use crate::sys::Deadline;
use crate::Result;

/// A subscriber of a typed broadcast, from
/// [`broadcast::typed::<T>()`](fn@crate::channel::broadcast::typed).
///
/// Read in place ([`recv`](typed_core::Receiver::recv),
/// [`recv_slice`](typed_core::Receiver::recv_slice): a `&T` / `&[T]` into the slot, which every
/// subscriber reads at once, released on drop) or copy out
/// ([`recv_copy`](typed_core::Receiver::recv_copy), [`recv_into`](typed_core::Receiver::recv_into),
/// [`recv_slice_into`](typed_core::Receiver::recv_slice_into): no reference to shared memory,
/// for publishers that are not trusted; see the [module docs](super#trust)). Every form has
/// `try_`, `_timeout` and `_deadline` variants, and every form reports
/// [`Error::Lagged`](crate::Error::Lagged) under [`Policy::Overwrite`] as the byte subscriber
/// does. Those methods are written once for typed channels and broadcasts, on
/// [`typed_core::Receiver`], which this dereferences to; the ones here are a broadcast's own.
///
/// A message whose length does not fit the type (one `T` for the value forms, a whole number
/// of `T`s for the slice forms) is [`Error::Corrupt`](crate::Error::Corrupt); it is released,
/// and the next call goes on with the next message. Only a process outside the protocol can
/// publish one: a typed broadcast's publisher is always typed.
pub struct Subscriber<T> {
    inner: typed_core::Receiver<T, bytes::Subscriber>,
}

typed_side!(Subscriber => typed_core::Receiver<T, bytes::Subscriber>);

/// A received value, read in place from its slot; dereferences to `&T`, and releases the
/// message when dropped. Hold it briefly: see [`broadcast::Sample`](bytes::Sample), and
/// [`typed_core::Sample`] for its methods.
///
/// The reference is into memory the publisher's process can write: sound while it follows
/// the protocol (see the [module docs](super#trust)).
pub type Sample<'a, T> = typed_core::Sample<T, bytes::Sample<'a>>;

/// A received slice, read in place from its slot; dereferences to `&[T]`, and releases the
/// message when dropped. The same caveats as [`Sample`]; see [`typed_core::SliceSample`].
pub type SliceSample<'a, T> = typed_core::SliceSample<T, bytes::Sample<'a>>;

impl<T: Pod> Subscriber<T> {
    pub(super) fn wrap(inner: bytes::Subscriber) -> Self {
        let () = super::Fits::<T>::OK;
        Subscriber {
            inner: typed_core::Receiver::new(inner),
        }
    }

    /// What happens to a subscriber that falls a whole ring behind.
    pub fn policy(&self) -> Policy {
        self.inner.bytes().policy()
    }

    /// Changes how this side waits (see [`WaitStrategy`](crate::channel::WaitStrategy)).
    pub fn set_wait_strategy(&mut self, wait: crate::channel::WaitStrategy) {
        self.inner.bytes_mut().set_wait_strategy(wait);
    }

    /// How this side waits (see [`WaitStrategy`](crate::channel::WaitStrategy)).
    pub fn wait_strategy(&self) -> crate::channel::WaitStrategy {
        self.inner.bytes().wait_strategy()
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

impl ByteReceiver for bytes::Subscriber {
    type Sample<'a> = bytes::Sample<'a>;
    const TYPED: &'static str = "Subscriber";

    fn name(&self) -> &str {
        bytes::Subscriber::name(self)
    }

    #[inline]
    fn recv_until(&mut self, deadline: Deadline) -> Result<bytes::Sample<'_>> {
        bytes::Subscriber::recv_until(self, deadline)
    }

    fn misfit(sample: &bytes::Sample<'_>, expected: &str) -> String {
        format!(
            "message {} has {} bytes on a broadcast of {expected}",
            sample.seq(),
            sample.len()
        )
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

    fn channel_name(&self) -> &str {
        bytes::Sample::channel_name(self)
    }
}

impl<T> crate::wait::Sealed for Subscriber<T> {
    fn point(&self) -> crate::wait::Point<'_> {
        crate::wait::Sealed::point(&self.inner)
    }

    fn ready(&self) -> bool {
        crate::wait::Sealed::ready(&self.inner)
    }
}
