//! Typed channels: the SPSC ring carrying values, or slices, of a plain-old-data type `T`.
//!
//! ```
//! use shmkit::channel;
//! use shmkit::sync::{Pod, Zeroable};
//!
//! #[repr(C)]
//! #[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
//! #[bytemuck(crate = "shmkit::bytemuck")]
//! struct Pose { t_ns: u64, xyz: [f32; 3], quality: u32 }
//!
//! # let name = format!("doc-typed-{}", std::process::id());
//! let mut tx = channel::typed::<Pose>().tag("pose v1").capacity(1 << 16).create_producer(&name)?;
//! let mut rx = channel::typed::<Pose>().tag("pose v1").open_consumer(&name)?; // another process
//!
//! // Write in place: a loan is an uninitialised `Pose` in the ring; `write` fills it, and
//! // only a written loan can be committed.
//! tx.loan()?.write(Pose { t_ns: 1, xyz: [0.0, 1.0, 2.0], quality: 9 }).commit();
//! tx.send(&Pose { t_ns: 2, xyz: [3.0; 3], quality: 7 })?;    // or copy in
//!
//! assert_eq!(rx.recv()?.t_ns, 1);                             // read in place: a `&Pose`
//! assert_eq!(rx.recv_copy()?.quality, 7);                     // or copy out
//!
//! // Variable-length arrays: slices of `T`.
//! let mut pcm = channel::typed::<f32>().capacity(1 << 16).create_producer(&format!("{name}-pcm"))?;
//! let mut rx_pcm = channel::typed::<f32>().open_consumer(&format!("{name}-pcm"))?;
//! pcm.loan_slice(480)?.write_with(|i| (i as f32 * 0.01).sin()).commit();
//! assert_eq!(rx_pcm.recv_slice()?.len(), 480);
//! # Ok::<(), shmkit::Error>(())
//! ```
//!
//! # Which types
//!
//! `T` must be [`bytemuck::Pod`] (`#[repr(C)]` or a primitive, `Copy`, no padding, any bit
//! pattern valid, no pointers), not zero-sized, and aligned to at most 8 bytes: the ring's
//! payloads are 8-byte aligned, so every message can be read in place as a `&T`. A type with
//! a larger alignment is refused when the program is built:
//!
//! ```compile_fail,E0080
//! #[repr(C, align(16))]
//! #[derive(Clone, Copy, shmkit::sync::Pod, shmkit::sync::Zeroable)]
//! #[bytemuck(crate = "shmkit::bytemuck")]
//! struct Wide { v: [u64; 2] }
//! let _ = shmkit::channel::typed::<Wide>(); // error: alignment over 8
//! ```
//!
//! # The message type is checked on open
//!
//! The creator records the size and alignment of `T` and a *fingerprint*: FNV-1a over size,
//! alignment and the [tag](Options::tag), if one was given. Opening with a type of another
//! size or alignment, or another tag, is [`Error::LayoutMismatch`](crate::Error), whose
//! message shows both sides' sizes, alignments and tags. The fingerprint never involves the
//! Rust type's name, so two separately built programs that each define the same
//! `#[repr(C)]` struct interoperate. Without a tag only size and alignment are compared: tag
//! a type (`"pose v1"`) to tell apart two layouts of the same size, and change the tag when
//! the fields change.
//!
//! A byte channel ([`channel::create_producer`](super::create_producer)) records no type; opening it as a
//! typed channel is `LayoutMismatch`. The other way round is allowed: a typed channel opened
//! as a byte channel ([`channel::open_consumer`](super::open_consumer)) carries the values' bytes, for tools
//! that do not know the type. A byte producer can then send messages of any length; a typed
//! consumer reports one whose length is not that of a `T` (or of a whole number of `T`s) as
//! [`Error::Corrupt`](crate::Error) and drops it.
//!
//! # Trust
//!
//! As for byte channels (see the [channel docs](super#trust)): [`Sample`] and
//! [`SliceSample`] dereference to `&T` / `&[T]` over the ring, sound because the protocol
//! keeps the producer away from a frame the consumer holds; a process outside the protocol
//! that writes the segment could change it under the reference, which is undefined behaviour
//! in the reader. Every bit pattern is a valid `T`, so a copy is safe whatever was written:
//! when the producer is not trusted, use
//! [`Consumer::recv_copy`](super::typed_core::Receiver::recv_copy),
//! [`Consumer::recv_into`](super::typed_core::Receiver::recv_into) or
//! [`Consumer::recv_slice_into`](super::typed_core::Receiver::recv_slice_into), which copy out
//! without making a reference, and validate the copy.
//!
//! # Names
//!
//! `typed::Producer<T>` and `typed::Consumer<T>` mirror the byte channel's
//! [`Producer`](super::Producer) and [`Consumer`](super::Consumer), which stay non-generic
//! (their messages are byte strings of any length; a typed side's are values). They wrap the
//! byte sides: the same ring, the same waits, the same liveness, one implementation.

mod consumer;
mod producer;

use std::marker::PhantomData;

use bytemuck::Pod;

use super::layout::Role;
use super::spsc;
use super::typed_options::typed_options;
use crate::object::open_or_create;
use crate::Result;

pub use consumer::{Consumer, Sample, SliceSample};
pub use producer::{Loan, Producer, SliceLoan, Written, WrittenSlice};

/// The compile-time checks on a message type.
struct Fits<T>(PhantomData<T>);

impl<T> Fits<T> {
    const OK: () = {
        assert!(
            std::mem::align_of::<T>() <= 8,
            "typed channels carry types aligned to at most 8 bytes (ring payloads are 8-aligned)"
        );
        assert!(
            std::mem::size_of::<T>() > 0,
            "a typed channel of a zero-sized type would carry nothing"
        );
        assert!(
            std::mem::size_of::<T>() <= u32::MAX as usize,
            "a message is at most 4 GiB"
        );
    };
}

/// How to create or open a typed channel: [`channel::typed::<T>()`](fn@super::typed).
///
/// The same options as a byte channel's ([`channel::Options`](super::Options)), and a
/// [`tag`](Options::tag).
///
/// ```
/// use shmkit::channel::{self, WaitStrategy};
/// # let name = format!("doc-typed-opts-{}", std::process::id());
/// // Whichever side starts first creates the channel; the other opens it.
/// let rx = channel::typed::<u64>().tag("ticks").open_or_create_consumer(&name)?;
/// let tx = channel::typed::<u64>()
///     .tag("ticks")
///     .wait_strategy(WaitStrategy::BusyPoll)
///     .open_or_create_producer(&name)?;
/// assert!(rx.is_creator() && !tx.is_creator());
/// # Ok::<(), shmkit::Error>(())
/// ```
pub struct Options<T> {
    base: super::Options,
    tag: Option<String>,
    _t: PhantomData<fn() -> T>,
}

typed_options!();

impl<T: Pod> Options<T> {
    pub(super) fn new() -> Self {
        let () = Fits::<T>::OK;
        Options {
            base: super::Options::default(),
            tag: None,
            _t: PhantomData,
        }
    }

    /// Ring capacity in bytes, as [`channel::Options::capacity`](super::Options::capacity)
    /// (the largest message is half of it, less 8 bytes).
    pub fn capacity(&mut self, capacity: usize) -> &mut Self {
        self.base.capacity(capacity);
        self
    }

    /// Creates the channel `name` and returns its producer side.
    ///
    /// # Errors
    ///
    /// As [`channel::Options::create_producer`](super::Options::create_producer).
    pub fn create_producer(&self, name: &str) -> Result<Producer<T>> {
        let side = self
            .base
            .create_side(name, Role::Producer, Some(&self.layout()))?;
        Ok(Producer::wrap(spsc::Producer::new(side)?))
    }

    /// Creates the channel `name` and returns its consumer side.
    ///
    /// # Errors
    ///
    /// As [`channel::Options::create_consumer`](super::Options::create_consumer).
    pub fn create_consumer(&self, name: &str) -> Result<Consumer<T>> {
        let side = self
            .base
            .create_side(name, Role::Consumer, Some(&self.layout()))?;
        Ok(Consumer::wrap(spsc::Consumer::new(side)?))
    }

    /// Opens the existing channel `name` as its producer.
    ///
    /// # Errors
    ///
    /// [`Error::LayoutMismatch`](crate::Error::LayoutMismatch) if it carries another message
    /// type (another size, alignment or tag) or bytes; otherwise as
    /// [`channel::Options::open_producer`](super::Options::open_producer).
    pub fn open_producer(&self, name: &str) -> Result<Producer<T>> {
        let side = self
            .base
            .open_side(name, Role::Producer, Some(&self.layout()))?;
        Ok(Producer::wrap(spsc::Producer::new(side)?))
    }

    /// Opens the existing channel `name` as its consumer.
    ///
    /// # Errors
    ///
    /// As [`Options::open_producer`].
    pub fn open_consumer(&self, name: &str) -> Result<Consumer<T>> {
        let side = self
            .base
            .open_side(name, Role::Consumer, Some(&self.layout()))?;
        Ok(Consumer::wrap(spsc::Consumer::new(side)?))
    }

    /// Opens the channel `name` as its producer, creating it first if it does not exist; see
    /// [`channel::Options::open_or_create_producer`](super::Options::open_or_create_producer).
    ///
    /// # Errors
    ///
    /// As [`Options::create_producer`] and [`Options::open_producer`].
    pub fn open_or_create_producer(&self, name: &str) -> Result<Producer<T>> {
        open_or_create(
            || self.create_producer(name),
            || {
                let side = self
                    .base
                    .open_side_now(name, Role::Producer, Some(&self.layout()))?;
                Ok(Producer::wrap(spsc::Producer::new(side)?))
            },
        )
    }

    /// Opens the channel `name` as its consumer, creating it first if it does not exist.
    ///
    /// # Errors
    ///
    /// As [`Options::create_consumer`] and [`Options::open_consumer`].
    pub fn open_or_create_consumer(&self, name: &str) -> Result<Consumer<T>> {
        open_or_create(
            || self.create_consumer(name),
            || {
                let side = self
                    .base
                    .open_side_now(name, Role::Consumer, Some(&self.layout()))?;
                Ok(Consumer::wrap(spsc::Consumer::new(side)?))
            },
        )
    }
}
