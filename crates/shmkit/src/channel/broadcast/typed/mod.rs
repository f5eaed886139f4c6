//! Typed broadcast: the 1 → N broadcast carrying values, or slices, of a plain-old-data type
//! `T`, written and read in place.
//!
//! ```
//! use shmkit::channel::broadcast::{self, Policy};
//! use shmkit::sync::{Pod, Zeroable};
//!
//! #[repr(C)]
//! #[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
//! #[bytemuck(crate = "shmkit::bytemuck")]
//! struct Pose { t_ns: u64, xyz: [f32; 3], quality: u32 }
//!
//! # let name = format!("doc-tbcast-{}", std::process::id());
//! let mut publ = broadcast::typed::<Pose>().tag("pose v1").slots(16).create_publisher(&name)?;
//! // In other processes, any number of them (up to `max_subscribers`):
//! let mut a = broadcast::typed::<Pose>().tag("pose v1").open_subscriber(&name)?;
//! let mut b = broadcast::typed::<Pose>().tag("pose v1").open_subscriber(&name)?;
//! assert_eq!(publ.subscribers(), 2);
//!
//! // Write in place: a loan is an uninitialised `Pose` in a slot; `write` fills it, and only
//! // a written loan can be committed.
//! publ.loan()?.write(Pose { t_ns: 1, xyz: [0.0, 1.0, 2.0], quality: 9 }).commit();
//! publ.send(&Pose { t_ns: 2, xyz: [3.0; 3], quality: 7 })?;   // or copy in
//!
//! assert_eq!(a.recv()?.t_ns, 1);           // read in place: a `&Pose` into the slot
//! assert_eq!(b.recv()?.t_ns, 1);           // the same bytes, not a copy
//! assert_eq!(a.recv_copy()?.quality, 7);   // or copy out
//!
//! // Variable-length arrays: slices of `T`, up to `max_slice_len` values per message.
//! let mut pcm = broadcast::typed::<f32>()
//!     .max_slice_len(480)
//!     .policy(Policy::Overwrite)
//!     .create_publisher(&format!("{name}-pcm"))?;
//! let mut ear = broadcast::typed::<f32>().open_subscriber(&format!("{name}-pcm"))?;
//! pcm.loan_slice(480)?.write_with(|i| (i as f32 * 0.01).sin()).commit();
//! assert_eq!(ear.recv_slice()?.len(), 480);
//! # Ok::<(), shmkit::Error>(())
//! ```
//!
//! # Which types
//!
//! `T` must be [`bytemuck::Pod`], not zero-sized, and aligned to at most 16 bytes (every
//! slot's payload is 16-aligned, so each message can be read in place as a `&T`). A type with
//! a larger alignment is refused when the program is built.
//!
//! # The message type is checked on subscribe
//!
//! As for [typed channels](mod@crate::channel::typed#the-message-type-is-checked-on-open): the
//! creator records the size and alignment of `T` and a fingerprint over them and the
//! [tag](Options::tag) (never the Rust type's name, so separately built programs that define
//! the same `#[repr(C)]` struct interoperate). Subscribing with another size, alignment or
//! tag is [`Error::LayoutMismatch`](crate::Error::LayoutMismatch) naming both sides. A byte
//! broadcast ([`broadcast::options`](super::options)) records no type, and subscribing to it
//! as a typed one is `LayoutMismatch` too; the other way round is allowed (a byte
//! [`Subscriber`](super::Subscriber) of a typed broadcast receives the values' bytes).
//!
//! # Policies, waiting, liveness
//!
//! Those of the byte broadcast this wraps — one protocol, one implementation; see
//! [`broadcast`](super#policies). Under [`Policy::Block`] every
//! subscriber gets every value; under [`Policy::Overwrite`] a slow
//! one gets [`Error::Lagged`](crate::Error::Lagged) with the exact number it lost, and a
//! sample it holds is never overwritten under it.
//!
//! # Trust
//!
//! [`Sample`] and [`SliceSample`] dereference to `&T` / `&[T]` over the slot: sound between
//! cooperating processes (the protocol keeps the publisher off a held slot), undefined
//! behaviour in the reader if a process outside the protocol writes the slot meanwhile.
//! Every bit pattern is a valid `T`, so the copy-outs
//! ([`Subscriber::recv_copy`](crate::channel::typed_core::Receiver::recv_copy),
//! [`Subscriber::recv_into`](crate::channel::typed_core::Receiver::recv_into),
//! [`Subscriber::recv_slice_into`](crate::channel::typed_core::Receiver::recv_slice_into)) are
//! safe whatever was written: use them when the publisher is not trusted, and validate the
//! copy. See the
//! [crate docs](crate#trust-model).

mod publisher;
mod subscriber;

use std::marker::PhantomData;
use std::mem::size_of;

use bytemuck::Pod;

use super::layout::PAYLOAD_ALIGN;
use super::Policy;
use crate::channel::typed_options::typed_options;
use crate::Result;

pub use publisher::{Loan, Publisher, SliceLoan, Written, WrittenSlice};
pub use subscriber::{Sample, SliceSample, Subscriber};

/// The compile-time checks on a message type.
struct Fits<T>(PhantomData<T>);

impl<T> Fits<T> {
    const OK: () = {
        assert!(
            std::mem::align_of::<T>() <= PAYLOAD_ALIGN,
            "typed broadcasts carry types aligned to at most 16 bytes (slot payloads are 16-aligned)"
        );
        assert!(
            size_of::<T>() > 0,
            "a typed broadcast of a zero-sized type would carry nothing"
        );
        assert!(
            size_of::<T>() <= u32::MAX as usize,
            "a message is at most 4 GiB"
        );
    };
}

/// How to create or join a typed broadcast: [`broadcast::typed::<T>()`](fn@super::typed).
///
/// The byte broadcast's options ([`broadcast::Options`](super::Options)), with the slot size
/// given in values ([`max_slice_len`](Options::max_slice_len), default 1) and a
/// [`tag`](Options::tag).
pub struct Options<T> {
    base: super::Options,
    tag: Option<String>,
    _t: PhantomData<fn() -> T>,
}

typed_options!();

impl<T: Pod> Options<T> {
    pub(super) fn new() -> Self {
        let () = Fits::<T>::OK;
        let mut base = super::options();
        base.slot_size(size_of::<T>());
        Options {
            base,
            tag: None,
            _t: PhantomData,
        }
    }

    /// Number of message slots (default 64): how far a subscriber can lag before the
    /// publisher waits ([`Policy::Block`]) or the subscriber loses messages
    /// ([`Policy::Overwrite`]).
    pub fn slots(&mut self, slots: usize) -> &mut Self {
        self.base.slots(slots);
        self
    }

    /// The most values one message can carry (default 1: the slot holds one `T`). Set it for
    /// [`Publisher::loan_slice`](crate::channel::typed_core::Sender::loan_slice) /
    /// [`Publisher::send_slice`](crate::channel::typed_core::Sender::send_slice).
    pub fn max_slice_len(&mut self, len: usize) -> &mut Self {
        // Saturates: an impossible slot size is refused by `create` as too large.
        self.base.slot_size(len.saturating_mul(size_of::<T>()));
        self
    }

    /// How many subscribers may be attached at once (default 16).
    pub fn max_subscribers(&mut self, n: usize) -> &mut Self {
        self.base.max_subscribers(n);
        self
    }

    /// What happens to a subscriber that falls a whole ring behind (default
    /// [`Policy::Block`]).
    pub fn policy(&mut self, policy: Policy) -> &mut Self {
        self.base.policy(policy);
        self
    }

    /// Creates the typed broadcast `name`, recording `T`'s layout; returns its publisher.
    ///
    /// # Errors
    ///
    /// As [`broadcast::Options::create_publisher`](super::Options::create_publisher)
    /// (`SizeInvalid` for zero slots, subscribers or slice length).
    pub fn create_publisher(&self, name: &str) -> Result<Publisher<T>> {
        Ok(Publisher::wrap(
            self.base.create_as(name, Some(&self.layout()))?,
        ))
    }

    /// Joins the typed broadcast `name` as a subscriber: it receives every value published
    /// from now on.
    ///
    /// # Errors
    ///
    /// [`Error::LayoutMismatch`](crate::Error::LayoutMismatch), naming both layouts, if it
    /// carries another type (size, alignment or tag) or bytes; otherwise as
    /// [`broadcast::Options::open_subscriber`](super::Options::open_subscriber).
    pub fn open_subscriber(&self, name: &str) -> Result<Subscriber<T>> {
        Ok(Subscriber::wrap(
            self.base.subscribe_as(name, Some(&self.layout()))?,
        ))
    }
}
