//! 1 → N broadcast: one publisher, up to `max_subscribers` subscribers that join and leave at
//! any time; each sees every message from its join point on, read in place.
//!
//! ```
//! use shmkit::channel::broadcast;
//! # let name = format!("doc-bcast-{}", std::process::id());
//! let mut publ = broadcast::options().slots(8).slot_size(1 << 10).create_publisher(&name)?;
//! let mut sub = broadcast::options().open_subscriber(&name)?; // e.g. in another process
//!
//! let mut loan = publ.loan(5)?;           // zero-copy: write straight into a slot
//! loan.copy_from_slice(b"hello");
//! loan.commit();                          // every subscriber can read it now
//! publ.send(b"world")?;                   // or copy in
//!
//! assert_eq!(&*sub.recv()?, b"hello");    // read in place; released on drop
//! let mut buf = Vec::new();
//! sub.recv_into(&mut buf)?;               // or copy out
//! assert_eq!(buf, b"world");
//! assert_eq!(publ.subscribers(), 1);
//! # Ok::<(), shmkit::Error>(())
//! ```
//!
//! Only the creator publishes: the options open a broadcast as a subscriber only, so unlike
//! the other kinds a broadcast has no `open_or_create`.
//!
//! For messages that are values of a `#[repr(C)]` type (or slices of them) rather than
//! bytes, [`broadcast::typed::<T>()`](fn@typed) wraps this with a layout check: see
//! [`mod@typed`].
//!
//! # Policies
//!
//! What happens when a subscriber falls a whole ring behind:
//!
//! * [`Policy::Block`] (back-pressure, the default): the publisher waits for the slowest live
//!   subscriber to release the message a ring back. Subscribers whose holder is gone — as
//!   the kernel says, see the crate's liveness notes — are evicted, so a killed subscriber
//!   (even one killed while holding a [`Sample`]) cannot block it for longer than a liveness
//!   test (~50 ms).
//! * [`Policy::Overwrite`]: the publisher does not wait for slow subscribers; a lapped
//!   subscriber's next `recv` says exactly how many messages it lost ([`Error::Lagged`]) and
//!   continues with the oldest one still in the ring. A [`Sample`] a subscriber holds is
//!   never overwritten under it: the publisher skips its slot. So the publisher waits only
//!   if every slot is held, which cannot happen with more slots than subscribers.
//!
//! # Design
//!
//! A ring of fixed-size slots, each stamped: `2k + 1` while message `k` is being written (or
//! about to be), `2k + 2` once it is complete. An index of one word per slot says which slot
//! message `k` went to (entry `k % slots`): under back-pressure always slot `k % slots`;
//! under overwrite the publisher may skip held slots, so it can be another. The count of
//! published messages is in the publisher's line. Subscribers keep, in their entry of the
//! table, their next sequence number and (under overwrite) the message they hold.
//!
//! A subscriber reads message `r` in place: it takes the slot from the index and accepts it
//! only if the slot's stamp is `2r + 2`; then it *holds* the message until the [`Sample`] is
//! dropped, and nothing writes the slot meanwhile. A subscriber holds one message at a time:
//! [`Subscriber::recv`] borrows the subscriber for as long as the sample lives. That keeps
//! "what a subscriber holds" one word, which a dead subscriber's eviction clears in one go.
//! The copying [`Subscriber::recv_into`] is a hold, a `memcpy`, a release, so it never races
//! with the publisher either, and [`Publisher::send`] is a loan, a copy, a commit.
//!
//! **Back-pressure.** A subscriber's `next` moves past message `r` only when it releases
//! it, so `next` itself marks what it holds: the publisher writes message `k` only when every
//! live subscriber's `next` is past `k - slots` (the message in that slot). That is the
//! suggested `min(next, held)` with `held = next`; no second word, no extra fence per
//! message. The publisher scans the table only when its cached minimum says the ring is
//! full.
//!
//! **Overwrite.** Holding must not stop the publisher, so `next` advances freely and a
//! separate `held` word names the message held (`u64::MAX`: none). Taking and overwriting
//! race, and both sides store first, then fence, then load (Dekker):
//!
//! | publisher, to write message `k` in slot `c` holding `j` | subscriber, to hold message `r` |
//! |---|---|
//! | `stamp[c] = CHECKING \| 2j + 2` (Release) | `held = r` (Release) |
//! | SeqCst fence | SeqCst fence |
//! | any live entry with `held == j`? | `c = index[r % slots]`; `stamp[c] == 2r + 2`? |
//! | yes: `stamp[c] = 2j + 2` (Release), ring, skip to slot `c + 1` | yes: read in place; `held = NONE` (Release) on drop |
//! | no: `stamp[c] = 2k + 1`, write the payload, `stamp[c] = 2k + 2` (Release), then the count | `CHECKING \| 2r + 2`: `held = NONE`; look again (woken by the ring) |
//! | | other: `held = NONE`; `r` is lost (or corrupt) |
//!
//! In the single total order of SeqCst fences one fence comes first, and the other side's
//! load sees the first side's store: the publisher sees `held == j` and skips the slot, or
//! the subscriber sees the marked stamp and backs off (both may happen; then the subscriber
//! looks again, and finds `r` given back or overwritten). It is never the case
//! that the publisher writes the slot while the subscriber reads it. The `CHECKING` mark
//! (bit 63 of `j`'s own stamp, `layout::CHECKING`) keeps backing off from being a loss while
//! the publisher has not decided: without it, a second subscriber reading message `j` that
//! another one holds could see an odd stamp and report `j` lost, though the publisher gives
//! the slot back a moment later. A publisher killed before it decides left the payload as it
//! was: a subscriber that finds the mark and the kernel saying the publisher is gone reads
//! the message. The subscriber's
//! Release store of `NONE` pairs with the publisher's Acquire load of `held`, so the reads of
//! a released message happen before the publisher's writes over it.
//!
//! A held word counts only while its entry is ACTIVE: a subscriber killed while holding is
//! evicted by the publisher (liveness test, rate-limited per [`Publisher`]), and its held
//! word, like its `next`, stops counting. A joiner clears its held word before it turns
//! ACTIVE. Cost: one SeqCst fence per message on each side, and the publisher reads every
//! subscriber's entry line per message; per-slot reader counts would make that O(1) but
//! cannot be repaired after a holder dies without a record of what it held, which is this
//! word.
//!
//! Lag accounting: a message is lost when the count is more than a ring ahead of it (the
//! commit of the message a ring later rewrote its index entry, so it cannot be found), or
//! when its slot's stamp says it was (or is being) overwritten; a subscriber then skips to the
//! oldest message possibly still there and reports how many it skipped, so "received +
//! reported lost" is exactly what was published after it joined. `Lagged` means lost: a
//! subscriber that finds the publisher deciding whether it may overwrite its message (the
//! stamp marked `CHECKING`, for as long as the publisher looks for a holder; another
//! subscriber may hold it, and the publisher then gives the stamp back) does not count the
//! message lost, but looks again. So a ring of `slots` keeps the last `slots` messages
//! readable (one with one slot works too). Readiness for wait sets and `aio` asks the same
//! question without holding (`Reader::see`), so a subscriber is reported ready exactly when
//! `try_recv` returns a message, a lag, `Corrupt` or `Disconnected`.
//!
//! A publisher killed mid-loan leaves an odd stamp and an unchanged count: nothing it did not
//! commit is exposed, and subscribers get [`Error::Disconnected`] after the last committed
//! message. A dropped [`Loan`] publishes nothing either (the slot it took, whose old message
//! may be half overwritten, stays marked "being written").
//!
//! # Trust
//!
//! A [`Sample`] dereferences to `&[u8]` and a [`Loan`] to `&mut [u8]` over the segment: sound
//! between cooperating peers because the slot protocol gives each slot to one writer or to
//! readers, never both. A process that writes the segment outside the protocol can change
//! bytes under a live `Sample` (undefined behaviour for the `&[u8]`, in the subscriber). It
//! cannot make shmkit access memory outside the mapping or panic: the geometry, counts,
//! index entries, stamps and lengths are checked before use. With an untrusted publisher use
//! [`Subscriber::recv_into`]. See the [crate docs](crate#trust-model).

mod layout;
mod publisher;
mod subscriber;
pub mod typed;

use bytemuck::Pod;

use self::layout::{entry, sub_slot, Geometry, ACTIVE, ENTRY, FREE, JOINING, NONE, RECORD, TABLE};
use super::layout::{self as chan, Line, Role};
use super::message_layout::MessageLayout;
use super::WaitStrategy;
use crate::atomic_shim::Ordering;
use crate::liveness::{self, Claimed, Clock};
use crate::object::{creation_setters, Creation, Kind, Object};
use crate::{Error, Result};

pub use publisher::{Loan, Publisher};
pub use subscriber::{Sample, Subscriber};

/// What happens when a subscriber falls a whole ring behind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// The publisher waits for the slowest subscriber (back-pressure). The default.
    #[default]
    Block,
    /// The publisher overwrites; the slow subscriber is told how many messages it lost.
    Overwrite,
}

/// How to create a broadcast channel; see [`broadcast::options`](options).
#[derive(Clone, Debug)]
pub struct Options {
    slots: usize,
    slot_size: usize,
    max_subscribers: usize,
    policy: Policy,
    wait: WaitStrategy,
    how: Creation,
}

/// Options for a broadcast channel: 64 slots of 4 KiB, 16 subscribers, back-pressure, mode
/// 0600, removed when the publisher is dropped.
///
/// There is no open-or-create: only [`Options::create_publisher`] makes a publisher (a publisher cannot
/// attach to an existing channel), and a subscriber that created the channel would wait for a
/// publisher that can never attach.
pub fn options() -> Options {
    Options {
        slots: 64,
        slot_size: 4096,
        max_subscribers: 16,
        policy: Policy::Block,
        wait: WaitStrategy::Adaptive,
        how: Creation::default(),
    }
}

impl Options {
    creation_setters!();

    /// Number of message slots (the most a subscriber can lag before blocking or losing).
    pub fn slots(&mut self, slots: usize) -> &mut Self {
        self.slots = slots;
        self
    }

    /// Largest message, in bytes.
    pub fn slot_size(&mut self, bytes: usize) -> &mut Self {
        self.slot_size = bytes;
        self
    }

    /// How many subscribers may be attached at once (at least 1).
    pub fn max_subscribers(&mut self, n: usize) -> &mut Self {
        self.max_subscribers = n;
        self
    }

    /// What happens to a subscriber that falls a whole ring behind.
    pub fn policy(&mut self, policy: Policy) -> &mut Self {
        self.policy = policy;
        self
    }

    /// How the returned side waits.
    pub fn wait_strategy(&mut self, wait: WaitStrategy) -> &mut Self {
        self.wait = wait;
        self
    }

    /// Creates the broadcast channel `name`; returns its publisher.
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`] for zero slots, slot size or subscribers; else as
    /// [`Segment::create`](crate::Segment::create).
    pub fn create_publisher(&self, name: &str) -> Result<Publisher> {
        self.create_as(name, None)
    }

    /// Creates the byte broadcast `name` recording the message layout `layout`, so that typed
    /// subscribers of that layout can join it (and others get
    /// [`Error::LayoutMismatch`]). For code that forwards typed messages it knows only as
    /// bytes, such as a bridge from another machine; a program that knows the type uses
    /// [`broadcast::typed`](fn@typed). Nothing checks that what is published has the layout.
    ///
    /// # Errors
    ///
    /// As [`Options::create_publisher`].
    pub fn create_publisher_with_layout(
        &self,
        name: &str,
        layout: &MessageLayout,
    ) -> Result<Publisher> {
        self.create_as(name, Some(layout))
    }

    /// Creates the channel, recording `msg` (a typed broadcast) if given.
    fn create_as(&self, name: &str, msg: Option<&MessageLayout>) -> Result<Publisher> {
        let g = Geometry::new(
            self.slots,
            self.slot_size,
            self.max_subscribers,
            self.policy,
        )
        .ok_or_else(|| {
            Error::size(
                name,
                "a broadcast needs slots, a slot size and subscribers (all > 0, not too large)",
            )
        })?;
        let (obj, (bells, claim)) =
            Object::create(name, self.how, Kind::Broadcast, g.len, g.params(), |o| {
                if let Some(m) = msg {
                    m.write_record(o, RECORD);
                }
                let bells = chan::bells(o, true)?;
                Ok((bells, chan::attach(o, Role::Producer)?))
            })?;
        Ok(Publisher::new(obj, g, bells, claim, self.wait))
    }

    /// Joins the broadcast channel `name` as a subscriber: it receives every message published
    /// from now on.
    ///
    /// # Errors
    ///
    /// `NotFound`, `KindMismatch`, `Corrupt`, `VersionMismatch`, and [`Error::Full`] if all
    /// subscriber places are taken by live processes.
    pub fn open_subscriber(&self, name: &str) -> Result<Subscriber> {
        self.subscribe_as(name, None)
    }

    /// Joins the broadcast channel `name` as a subscriber, checking first that it records the
    /// message layout `layout`, as a [typed](fn@typed) subscriber of that layout does: for
    /// code that knows the message type only by numbers (the C API's typed subscribers).
    ///
    /// # Errors
    ///
    /// [`Error::LayoutMismatch`], naming both layouts, if the broadcast records another
    /// layout or none (a byte broadcast); otherwise as [`Options::open_subscriber`].
    pub fn open_subscriber_with_layout(
        &self,
        name: &str,
        layout: &MessageLayout,
    ) -> Result<Subscriber> {
        self.subscribe_as(name, Some(layout))
    }

    /// Joins the channel, checking first that it records `msg` (a typed broadcast) if given;
    /// waits up to the `open_timeout` for it to appear.
    fn subscribe_as(&self, name: &str, msg: Option<&MessageLayout>) -> Result<Subscriber> {
        crate::segment::open_waiting(self.how.open_timeout, || self.subscribe_now(name, msg))
    }

    /// [`Options::subscribe_as`] without waiting for the channel to appear.
    fn subscribe_now(&self, name: &str, msg: Option<&MessageLayout>) -> Result<Subscriber> {
        let (obj, header) = Object::open(name, Kind::Broadcast, TABLE + ENTRY)?;
        let g = Geometry::from_params(name, header.params, header.total_len)?;
        if let Some(m) = msg {
            m.check_record(&obj, RECORD)?;
        }
        let line = Line::of(&obj, Role::Producer);
        let (data, space) = chan::bells(&obj, false)?;
        #[cfg(shmkit_loom)]
        layout::prime(&obj, &g);
        for i in 0..g.max_subs {
            let e = entry(&obj, i);
            // Free, or held (or being joined) by a holder that is gone.
            let held = |state| state != FREE;
            let Claimed::Yes(mut claim) =
                liveness::claim(&obj.segment, sub_slot(i), e.word(), JOINING, held)?
            else {
                continue;
            };
            // Join protocol (SeqCst throughout, against the publisher's SeqCst scan): publish
            // a provisional position w0 while JOINING (ignored by the publisher), turn ACTIVE,
            // then read the count again (w1 >= w0) and start there. A scan before the ACTIVE
            // store saw at most w1 messages, so it cannot let the publisher lap w1; a scan
            // after it sees w0 <= w1.
            e.next()
                .store(line.pos().load(Ordering::SeqCst), Ordering::SeqCst);
            // Nothing held yet: a held word left by a dead predecessor must not count once
            // this entry is ACTIVE.
            e.held().store(NONE, Ordering::SeqCst);
            // Our counters start at zero (a dead predecessor's are not ours); only we write
            // them while the entry is ours.
            for c in e.counters() {
                c.store(0, std::sync::atomic::Ordering::Relaxed);
            }
            if !claim.set_state(e.word(), ACTIVE, Ordering::SeqCst) {
                // Taken from under us: only if we were judged gone (pid liveness, macOS).
                liveness::release(&obj.segment, claim, e.word(), FREE, 0);
                continue;
            }
            // SYNC POINT (join, subscriber side): pairs with the fence in the publisher's
            // scan (`publisher::room`).
            #[cfg(shmkit_loom)]
            let skip = crate::atomic_shim::model::mutated(
                crate::atomic_shim::model::Mutation::NoJoinFence,
            );
            #[cfg(not(shmkit_loom))]
            let skip = false;
            if !skip {
                crate::atomic_shim::fence(Ordering::SeqCst);
            }
            let start = line.pos().load(Ordering::SeqCst);
            e.next().store(start, Ordering::SeqCst);
            return Ok(Subscriber {
                index: i,
                next: start,
                held: None,
                received: 0,
                lost: 0,
                data,
                space,
                line,
                g,
                wait: self.wait,
                claim: Some(claim),
                clock: Clock::default(),
                obj,
            });
        }
        Err(Error::Full {
            name: name.to_owned(),
            max: g.max_subs as u32,
        })
    }
}

/// Joins the broadcast channel `name` as a subscriber, with default options.
///
/// # Errors
///
/// As [`Options::open_subscriber`].
pub fn open_subscriber(name: &str) -> Result<Subscriber> {
    options().open_subscriber(name)
}

/// How many messages the broadcast `name` has had published (committed) since it was created,
/// also after its publisher is gone: the sequence number its next message would get. Opens the
/// channel as a user, not as a subscriber, so it works while every subscriber place is taken.
///
/// # Errors
///
/// `NotFound`, `KindMismatch`, `Corrupt`, `VersionMismatch`, as [`Options::open_subscriber`].
pub fn published(name: &str) -> Result<u64> {
    let (obj, header) = Object::open(name, Kind::Broadcast, TABLE + ENTRY)?;
    Geometry::from_params(name, header.params, header.total_len)?;
    Ok(Line::of(&obj, Role::Producer).pos().load(Ordering::SeqCst))
}

/// What inspection needs of a broadcast segment's layout (`crate::inspect`).
pub(crate) mod shape {
    pub(crate) use super::layout::{
        sub_slot, ACTIVE, ENTRY, ENTRY_LOST, ENTRY_RECEIVED, RECORD, TABLE,
    };

    /// (slots, slot size, max subscribers, policy) of a segment of `total` bytes whose header
    /// has `params`, checked as an opener checks them.
    pub(crate) fn geometry(
        name: &str,
        params: [u64; 3],
        total: u64,
    ) -> crate::Result<(usize, usize, usize, super::Policy)> {
        let g = super::Geometry::from_params(name, params, total)?;
        Ok((g.slots, g.slot_size, g.max_subs, g.policy))
    }
}

/// Options for a typed broadcast carrying values (or slices) of `T`; see [`mod@typed`].
///
/// ```
/// use shmkit::channel::broadcast;
/// # let name = format!("doc-tbcast-fn-{}", std::process::id());
/// let mut publ = broadcast::typed::<[f32; 4]>().create_publisher(&name)?;
/// let mut sub = broadcast::typed::<[f32; 4]>().open_subscriber(&name)?;
/// publ.send(&[1.0, 2.0, 3.0, 4.0])?;
/// assert_eq!(sub.recv()?[3], 4.0);
/// # Ok::<(), shmkit::Error>(())
/// ```
pub fn typed<T: Pod>() -> typed::Options<T> {
    typed::Options::new()
}

/// The roles of a broadcast segment of `len` bytes whose header has `params`, for inspection:
/// the publisher and every subscriber entry that fits in the segment.
pub(crate) fn roles(params: [u64; 3], len: usize) -> Vec<chan::RoleAt> {
    let mut roles = chan::roles();
    roles.truncate(1); // the publisher is the producer side
    roles[0].label = "publisher".to_owned();
    let max = (params[2] as u32 as usize).min(len.saturating_sub(TABLE) / ENTRY);
    roles.extend((0..max).map(|i| chan::RoleAt {
        label: format!("subscriber {i}"),
        slot: sub_slot(i),
        offset: TABLE + i * ENTRY,
        held: |s| s != FREE,
    }));
    roles
}
