//! Channels over shared memory: a lock-free single-producer / single-consumer byte ring with
//! zero-copy loans on both sides. [Typed channels](mod@typed) carry values or slices of a
//! `#[repr(C)]` plain-old-data type over the same ring ([`typed::<T>()`](fn@typed)).
//!
//! ```
//! use shmkit::channel;
//! # let name = format!("doc-chan-{}", std::process::id());
//! let mut tx = channel::create_producer(&name, 1 << 16)?;   // producer; creates the segment
//! let mut rx = channel::open_consumer(&name)?;              // consumer; e.g. in another process
//!
//! let mut loan = tx.loan(5)?;                      // zero-copy: write straight into the ring
//! loan.copy_from_slice(b"hello");
//! loan.commit();
//! tx.send(b"world")?;                              // or copy in
//!
//! assert_eq!(&*rx.recv()?, b"hello");              // read in place; released on drop
//! let mut buf = Vec::new();
//! rx.recv_into(&mut buf)?;
//! assert_eq!(buf, b"world");
//! # Ok::<(), shmkit::Error>(())
//! ```
//!
//! # Semantics
//!
//! * Messages are 0 ..= [`Producer::max_message_len`] bytes (`capacity / 2 - 8`, at most
//!   4 GiB - 16), delivered in order, each exactly once.
//! * A full ring blocks the producer, an empty one the consumer; every wait has `try_`,
//!   blocking, `_timeout` and `_deadline` forms. [`WaitStrategy`] chooses spin-then-sleep,
//!   sleep, or busy-poll.
//! * Disconnect: when one side is dropped or its process dies, the other side's calls
//!   return [`Error::Disconnected`] — the consumer only after it
//!   has received everything committed. A producer killed mid-write never exposes a partial
//!   message. Death without a drop is noticed within ~50 ms (a liveness test of the peer's
//!   role, held by the kernel — an OFD lock on Linux, see `liveness` in the crate docs —
//!   at most one per handle per 50 ms, made by blocking calls and by repeated `try_` /
//!   `_timeout` calls alike). This holds across pid namespaces and pid reuse.
//! * Re-attaching: a side whose process died (or that was dropped) can be opened again by
//!   another process. A new producer goes on after the last published message; a new
//!   consumer goes on from the last message released — so a message the dead consumer was
//!   still holding as a [`Sample`] is delivered again (at-least-once across a consumer's
//!   death, exactly-once otherwise).
//! * Opening checks the segment's header (magic, layout version, kind, capacity); a foreign,
//!   truncated or future segment is a typed error. A ring holding an impossible frame (a
//!   buggy or hostile writer) makes `recv` return [`Error::Corrupt`],
//!   never undefined behaviour.
//!
//! The layout (and who holds which side) is in `layout.rs`, the ring algorithm and its memory
//! orderings in `spsc/`; how a side waits (its bells, the spin-then-sleep loop, the peer-gone
//! checks) is the crate's wait layer (`crate::wait`).
//!
//! # Trust
//!
//! Zero-copy rests on cooperating peers (the [trust model](crate#trust-model): what a
//! process outside the protocol can and cannot do): a [`Sample`] dereferences to `&[u8]` and
//! a [`Loan`] to `&mut [u8]` over the ring, sound because the protocol gives each frame to
//! one side at a time. Frame headers, positions, capacities, slot lengths and stamps are
//! checked before use. The copying paths ([`Producer::send`], [`Consumer::recv_into`],
//! broadcast's `recv_into`) never make a reference to the shared bytes; they copy with
//! `memcpy`, because the protocol keeps the other side away from the bytes being copied (a
//! broadcast subscriber holds the slot it copies, as it holds one it reads in place). Prefer
//! them when the peer is not trusted.
//!
//! # Held forms, for bindings
//!
//! A language binding keeps a received message or a loan in a handle across calls, where a
//! [`Sample`]'s or a [`Loan`]'s borrow of its side cannot reach. [`Consumer::recv_held`] and
//! [`Producer::loan_held`] keep it in the side instead and return a raw pointer and a
//! length; [`Consumer::release_held`], [`Producer::commit_held`] and
//! [`Producer::abort_held`] end it, as dropping the sample or committing or dropping the loan
//! would, and so does the next receive or loan of any form. They cost what the borrowed forms
//! cost (the C API's producer and consumer are written on them); the pointer is valid only
//! until the hold ends, which nothing but the caller checks, so Rust code should use the
//! borrowed forms.
//!
//! # Platform notes
//!
//! Sleeping uses a futex on Linux and named semaphores `<name>.data` / `<name>.space` on
//! Windows; on macOS sleepers poll (1–10 ms), so use [`WaitStrategy::BusyPoll`] for latency
//! there.

pub mod broadcast;
pub(crate) mod layout;
pub(crate) mod message_layout;
mod spsc;
pub mod typed;
pub mod typed_core;
mod typed_options;

use bytemuck::Pod;

use crate::object::{creation_setters, open_or_create, Creation, Kind, Object};
use crate::{Error, Result};

pub(crate) use layout::RoleAt;
pub use layout::MIN_CAPACITY;

/// The roles a channel or broadcast segment records, for inspection (`None`: another kind).
pub(crate) fn roles(kind: Kind, params: [u64; 3], len: usize) -> Option<Vec<layout::RoleAt>> {
    match kind {
        Kind::Channel => Some(layout::roles()),
        Kind::Broadcast => Some(broadcast::roles(params, len)),
        _ => None,
    }
}
use layout::Role;
pub use message_layout::MessageLayout;
pub use spsc::{Consumer, Loan, Producer, Sample};

/// How a blocked side waits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Spin briefly (64 pauses: about a µs), then yield the CPU some 60 times (a few tens of
    /// µs when nothing else wants the CPU, and then the CPU goes to whoever does), then sleep
    /// on the OS waker. No syscall on the fast path while the peer is not sleeping. The
    /// default.
    #[default]
    Adaptive,
    /// Sleep at once (least CPU).
    Blocking,
    /// Never sleep: spin until the condition holds (lowest latency, burns a core).
    BusyPoll,
}

impl WaitStrategy {
    /// The spin budget this mode gives a wait before it sleeps (`crate::wait::Backoff`).
    #[inline(always)]
    pub(crate) fn backoff(self) -> crate::wait::Backoff {
        crate::wait::Backoff::new(match self {
            WaitStrategy::BusyPoll => None,
            WaitStrategy::Adaptive => Some(crate::wait::SPINS),
            WaitStrategy::Blocking => Some(0),
        })
    }
}

/// Options for creating or opening a channel; see [`options`].
///
/// ```
/// use shmkit::channel;
/// # let name = format!("doc-chan-opts-{}", std::process::id());
/// // Whichever side starts first creates the channel; the other opens it.
/// let rx = channel::options().capacity(1 << 16).mode(0o660).open_or_create_consumer(&name)?;
/// let tx = channel::options().capacity(1 << 16).mode(0o660).open_or_create_producer(&name)?;
/// assert!(rx.is_creator() && !tx.is_creator());
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    capacity: usize,
    wait: WaitStrategy,
    how: Creation,
}

/// The ring capacity a channel is created with unless [`Options::capacity`] says otherwise:
/// 64 KiB (messages up to 32 KiB - 8 bytes). The C API's default is the same.
pub const DEFAULT_CAPACITY: usize = 1 << 16;

/// Defaults: a [`DEFAULT_CAPACITY`] ring, [`WaitStrategy::Adaptive`], and the creation
/// defaults every kind has (mode 0600, the creator removes the name, no wait on open).
impl Default for Options {
    fn default() -> Self {
        Options {
            capacity: DEFAULT_CAPACITY,
            wait: WaitStrategy::default(),
            how: Creation::default(),
        }
    }
}

/// Options for creating or opening a channel.
pub fn options() -> Options {
    Options::default()
}

impl Options {
    creation_setters!();

    /// Ring capacity in bytes (default [`DEFAULT_CAPACITY`], 64 KiB); rounded up to a power
    /// of two, at least [`MIN_CAPACITY`]. Used when creating; an opened channel keeps its
    /// capacity. The largest message is half of it less 8 bytes.
    pub fn capacity(&mut self, capacity: usize) -> &mut Self {
        self.capacity = capacity;
        self
    }

    /// How the returned side waits (default [`WaitStrategy::Adaptive`]).
    pub fn wait_strategy(&mut self, wait: WaitStrategy) -> &mut Self {
        self.wait = wait;
        self
    }

    fn ring_capacity(&self, name: &str) -> Result<usize> {
        self.capacity
            .max(MIN_CAPACITY)
            .checked_next_power_of_two()
            .filter(|&c| c <= isize::MAX as usize - layout::RING)
            .ok_or_else(|| {
                Error::size(
                    name,
                    format!("a ring of {} bytes is too large", self.capacity),
                )
            })
    }

    /// Creates the channel and claims `role`; `msg` is the message type of a typed channel
    /// (`None`: bytes).
    fn create_side(
        &self,
        name: &str,
        role: Role,
        msg: Option<&MessageLayout>,
    ) -> Result<spsc::Shared> {
        let cap = self.ring_capacity(name)?;
        let [size_align, fp] = msg.map_or([0, 0], MessageLayout::params);
        let (obj, (bells, claim)) = Object::create(
            name,
            self.how,
            Kind::Channel,
            layout::RING + cap,
            [cap as u64, size_align, fp],
            |o| {
                if let Some(m) = msg {
                    m.write_tag(o, layout::TAG_TEXT);
                }
                let bells = layout::bells(o, true)?;
                Ok((bells, layout::attach(o, role)?))
            },
        )?;
        Ok(spsc::Shared::new(obj, bells, cap, (role, claim), self.wait))
    }

    /// Opens the channel and claims `role`, waiting up to the `open_timeout` for it to
    /// appear; `msg` is the message type a typed side expects (`None`: bytes, which any
    /// channel carries).
    fn open_side(
        &self,
        name: &str,
        role: Role,
        msg: Option<&MessageLayout>,
    ) -> Result<spsc::Shared> {
        crate::segment::open_waiting(self.how.open_timeout, || {
            self.open_side_now(name, role, msg)
        })
    }

    /// [`Options::open_side`] without waiting for the channel to appear (`open_or_create`).
    fn open_side_now(
        &self,
        name: &str,
        role: Role,
        msg: Option<&MessageLayout>,
    ) -> Result<spsc::Shared> {
        let (obj, header) = Object::open(name, Kind::Channel, layout::RING + MIN_CAPACITY)?;
        if let Some(m) = msg {
            m.check(&obj, [header.params[1], header.params[2]], layout::TAG_TEXT)?;
        }
        let cap = header.params[0];
        if !cap.is_power_of_two()
            || cap < MIN_CAPACITY as u64
            || header.total_len != layout::RING as u64 + cap
        {
            return Err(Error::Corrupt {
                name: name.to_owned(),
                reason: format!(
                    "capacity {cap} does not match a segment of {} bytes",
                    header.total_len
                ),
            });
        }
        let bells = layout::bells(&obj, false)?;
        let claim = layout::attach(&obj, role)?;
        Ok(spsc::Shared::new(
            obj,
            bells,
            cap as usize,
            (role, claim),
            self.wait,
        ))
    }

    /// Creates the channel `name` and returns its producer side.
    ///
    /// # Errors
    ///
    /// As [`Segment::create`](crate::Segment::create).
    pub fn create_producer(&self, name: &str) -> Result<Producer> {
        Producer::new(self.create_side(name, Role::Producer, None)?)
    }

    /// Creates the byte channel `name` recording the message layout `layout`, so that a
    /// typed consumer of that layout can open it (and others get
    /// [`Error::LayoutMismatch`]); returns the producer. For code that forwards typed
    /// messages it knows only as bytes, such as `shmkit replay`; a program that knows the
    /// type uses [`channel::typed`](fn@typed). Nothing checks that what is sent has the
    /// layout.
    ///
    /// # Errors
    ///
    /// As [`Options::create_producer`].
    pub fn create_producer_with_layout(
        &self,
        name: &str,
        layout: &MessageLayout,
    ) -> Result<Producer> {
        Producer::new(self.create_side(name, Role::Producer, Some(layout))?)
    }

    /// Creates the channel `name` and returns its consumer side.
    ///
    /// # Errors
    ///
    /// As [`Segment::create`](crate::Segment::create).
    pub fn create_consumer(&self, name: &str) -> Result<Consumer> {
        Consumer::new(self.create_side(name, Role::Consumer, None)?)
    }

    /// Opens the existing channel `name` as its producer.
    ///
    /// # Errors
    ///
    /// `NotFound`, `KindMismatch`, `Corrupt`, `VersionMismatch`, and
    /// [`Error::InUse`] if a live process is already the producer.
    pub fn open_producer(&self, name: &str) -> Result<Producer> {
        Producer::new(self.open_side(name, Role::Producer, None)?)
    }

    /// Opens the existing channel `name` as its consumer.
    ///
    /// # Errors
    ///
    /// As [`Options::open_producer`].
    pub fn open_consumer(&self, name: &str) -> Result<Consumer> {
        Consumer::new(self.open_side(name, Role::Consumer, None)?)
    }

    /// Opens the channel `name` as its producer, creating it first if it does not exist. Two
    /// processes racing here get one channel: one creates it, the other opens it once it is
    /// initialised. [`Producer::is_creator`] tells which happened.
    ///
    /// # Errors
    ///
    /// As [`Options::create_producer`] and [`Options::open_producer`].
    pub fn open_or_create_producer(&self, name: &str) -> Result<Producer> {
        open_or_create(
            || self.create_producer(name),
            || Producer::new(self.open_side_now(name, Role::Producer, None)?),
        )
    }

    /// Opens the channel `name` as its consumer, creating it first if it does not exist; see
    /// [`Options::open_or_create_producer`].
    ///
    /// # Errors
    ///
    /// As [`Options::create_consumer`] and [`Options::open_consumer`].
    pub fn open_or_create_consumer(&self, name: &str) -> Result<Consumer> {
        open_or_create(
            || self.create_consumer(name),
            || Consumer::new(self.open_side_now(name, Role::Consumer, None)?),
        )
    }

    /// Creates the byte channel `name` recording the message layout `layout`; returns the
    /// consumer. As [`Options::create_producer_with_layout`], from the other side.
    ///
    /// # Errors
    ///
    /// As [`Options::create_consumer`].
    pub fn create_consumer_with_layout(
        &self,
        name: &str,
        layout: &MessageLayout,
    ) -> Result<Consumer> {
        Consumer::new(self.create_side(name, Role::Consumer, Some(layout))?)
    }

    /// Opens the existing channel `name` as its producer, checking first that it records the
    /// message layout `layout`, as a [typed](fn@typed) producer of that layout does: for
    /// code that knows the message type only by numbers (the C API's typed sides). Nothing
    /// checks that what is sent has the layout.
    ///
    /// # Errors
    ///
    /// [`Error::LayoutMismatch`], naming both layouts, if the channel records another layout
    /// or none (a byte channel); otherwise as [`Options::open_producer`].
    pub fn open_producer_with_layout(
        &self,
        name: &str,
        layout: &MessageLayout,
    ) -> Result<Producer> {
        Producer::new(self.open_side(name, Role::Producer, Some(layout))?)
    }

    /// Opens the existing channel `name` as its consumer, checking first that it records the
    /// message layout `layout`; see [`Options::open_producer_with_layout`].
    ///
    /// # Errors
    ///
    /// As [`Options::open_producer_with_layout`].
    pub fn open_consumer_with_layout(
        &self,
        name: &str,
        layout: &MessageLayout,
    ) -> Result<Consumer> {
        Consumer::new(self.open_side(name, Role::Consumer, Some(layout))?)
    }

    /// Opens the channel `name` as its producer, checking its layout as
    /// [`Options::open_producer_with_layout`] does, or creates it recording `layout`.
    ///
    /// # Errors
    ///
    /// As [`Options::create_producer_with_layout`] and [`Options::open_producer_with_layout`].
    pub fn open_or_create_producer_with_layout(
        &self,
        name: &str,
        layout: &MessageLayout,
    ) -> Result<Producer> {
        open_or_create(
            || self.create_producer_with_layout(name, layout),
            || Producer::new(self.open_side_now(name, Role::Producer, Some(layout))?),
        )
    }

    /// Opens the channel `name` as its consumer, checking its layout as
    /// [`Options::open_consumer_with_layout`] does, or creates it recording `layout`.
    ///
    /// # Errors
    ///
    /// As [`Options::create_consumer_with_layout`] and [`Options::open_consumer_with_layout`].
    pub fn open_or_create_consumer_with_layout(
        &self,
        name: &str,
        layout: &MessageLayout,
    ) -> Result<Consumer> {
        open_or_create(
            || self.create_consumer_with_layout(name, layout),
            || Consumer::new(self.open_side_now(name, Role::Consumer, Some(layout))?),
        )
    }
}

/// Creates the channel `name` with a ring of `capacity` bytes; returns the producer.
///
/// # Errors
///
/// As [`Options::create_producer`].
pub fn create_producer(name: &str, capacity: usize) -> Result<Producer> {
    options().capacity(capacity).create_producer(name)
}

/// Opens the channel `name` as its consumer.
///
/// # Errors
///
/// As [`Options::open_consumer`].
pub fn open_consumer(name: &str) -> Result<Consumer> {
    options().open_consumer(name)
}

/// Options for a typed channel carrying values (or slices) of `T`; see [`mod@typed`].
///
/// ```
/// use shmkit::channel;
/// # let name = format!("doc-typed-fn-{}", std::process::id());
/// let mut tx = channel::typed::<[f32; 4]>().capacity(1 << 16).create_producer(&name)?;
/// let mut rx = channel::typed::<[f32; 4]>().open_consumer(&name)?;
/// tx.send(&[1.0, 2.0, 3.0, 4.0])?;
/// assert_eq!(rx.recv()?[3], 4.0);
/// # Ok::<(), shmkit::Error>(())
/// ```
pub fn typed<T: Pod>() -> typed::Options<T> {
    typed::Options::new()
}
