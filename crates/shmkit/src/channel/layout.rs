//! The channel segment: header, the two sides' control lines, the ring — and the per-side
//! state that both processes read: who is attached, and the bells sleepers wait on.
//!
//! ```text
//! offset  size  what
//!      0    64  object header (magic, version, kind = channel, length, creator pid, ready,
//!               params = [capacity, message size | align << 32, fingerprint]; both 0 for
//!               a byte channel, see `message_layout.rs`)
//!     64    16  who is attached: producer word u64 | consumer word u64, each a role word
//!               `state | generation << 8 | pid << 32` (`crate::liveness`; one word, so a
//!               claim is a single compare-exchange); the kernel's record of the holder is
//!               an OFD lock on role slot 2 (producer) / 3 (consumer)
//!     80    48  a typed channel's tag text, for error messages (`message_layout.rs`)
//!    128   128  producer line: write_pos u64 | data bell: seq u32, sleepers u32
//!               (the consumer sleeps on this bell) | messages sent u64 | payload
//!               bytes sent u64
//!    256   128  consumer line: read_pos u64  | space bell: seq u32, sleepers u32
//!               (the producer sleeps on this bell) | messages received u64
//!    384   cap  the ring: frames of `len u32, kind u32, payload`, 8-byte aligned
//! ```
//!
//! The two position lines are 128 bytes apart so the producer's and the consumer's hot words
//! never share a cache line (nor an adjacent-line prefetch pair). Attachment words change only
//! on attach and detach, so reading them on every call costs no cache miss.
//!
//! **Counters** (layout version 5), Aeron's model: each side keeps a count of its own in its
//! own line, next to the position it stores anyway, and stores it (Relaxed) after each
//! message — no read-modify-write, no line another process writes on the hot path. A channel
//! producer counts the messages it committed (and their payload bytes), a consumer the
//! messages it released (a message
//! a killed consumer held is delivered again and counted once, when released); a broadcast
//! publisher counts there the messages it overwrote unread and the payload bytes it
//! published (`broadcast`). A side that
//! (re)attaches goes on from the stored count, so counts cover the object's whole life (a
//! producer killed between a commit and its count's store leaves the count one short).
//! Counters are statistics: they order nothing, so they are plain std atomics (not modelled
//! by loom), and [`crate::inspect`] reads them without taking a role.

use crate::atomic_shim;

use crate::liveness::{self, slot, Claim, Claimed};
use crate::object::Object;
use crate::sys;
use crate::wait::{Bell, Notifier, Side};
use crate::{Error, Result};

const ATTACHMENTS: usize = 64;
/// Where a typed channel keeps its tag text (`fingerprint::TAG_ROOM` bytes, up to 128).
pub(crate) const TAG_TEXT: usize = 80;
const _: () = assert!(TAG_TEXT + super::message_layout::TAG_ROOM <= PRODUCER_LINE);
pub(crate) const PRODUCER_LINE: usize = 128;
pub(crate) const CONSUMER_LINE: usize = 256;
pub(crate) const RING: usize = 384;
const POS: usize = 0;
/// A line's bell (`crate::wait::Bell`): seq u32 here, sleepers u32 after it.
const SEQ: usize = 8;
/// A line's counter (see the module docs).
pub(crate) const COUNT: usize = 16;
/// A line's byte counter: the payload bytes the producer (or a broadcast's publisher)
/// committed (see the module docs). Zero in a consumer's line.
pub(crate) const BYTES: usize = 24;

/// The smallest ring shmkit makes.
pub const MIN_CAPACITY: usize = 64;

/// A side's state word: the states a waiter's peer-gone check reads (`crate::wait`).
pub(crate) use crate::wait::{ATTACHED, CLOSED};

/// Which side of the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Producer,
    Consumer,
}

impl Role {
    fn line(self) -> usize {
        match self {
            Role::Producer => PRODUCER_LINE,
            Role::Consumer => CONSUMER_LINE,
        }
    }

    /// Offset of this side's attachment word.
    fn attachment(self) -> usize {
        match self {
            Role::Producer => ATTACHMENTS,
            Role::Consumer => ATTACHMENTS + 8,
        }
    }

    /// This side's liveness slot.
    fn slot(self) -> u32 {
        match self {
            Role::Producer => slot::PRODUCER,
            Role::Consumer => slot::CONSUMER,
        }
    }

    pub(crate) fn peer(self) -> Role {
        match self {
            Role::Producer => Role::Consumer,
            Role::Consumer => Role::Producer,
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Consumer => "consumer",
        }
    }
}

/// Raw pointers to one side's words, valid while the channel's mapping lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line {
    base: *const u8,
    attachment: *const u8,
    slot: u32,
}

impl Line {
    /// The words of `role` in `obj`.
    pub(crate) fn of(obj: &Object, role: Role) -> Line {
        let line = Line {
            base: obj.ptr(role.line()),
            attachment: obj.ptr(role.attachment()),
            slot: role.slot(),
        };
        #[cfg(shmkit_loom)]
        {
            atomic_shim::model::prime_u64(line.base, 8);
            atomic_shim::model::prime_u64(line.attachment, 8);
            atomic_shim::model::prime_kernel(obj.name(), role.slot());
        }
        line
    }

    /// This side's attachment word (a role word, `crate::liveness`).
    pub(crate) fn attachment(&self) -> &atomic_shim::AtomicU64 {
        // SAFETY: 64 and 72 are 8-byte aligned offsets of a page-aligned mapping that holds
        // at least RING bytes (checked on create and open) and outlives every Line (they
        // live in the same struct as the Object).
        unsafe { &*self.attachment.cast::<atomic_shim::AtomicU64>() }
    }

    pub(crate) fn pos(&self) -> &atomic_shim::AtomicU64 {
        // SAFETY: as in `attachment`; lines are 128-byte aligned offsets (128, 256).
        unsafe { &*self.base.add(POS).cast::<atomic_shim::AtomicU64>() }
    }

    /// This side's counter (module docs: "Counters"): written only by the side that holds
    /// the line, with a Relaxed store of a count it keeps itself.
    pub(crate) fn count(&self) -> &std::sync::atomic::AtomicU64 {
        // SAFETY: as in `pos`; offset 16 of a line is 8-byte aligned and inside it.
        unsafe { &*self.base.add(COUNT).cast::<std::sync::atomic::AtomicU64>() }
    }

    /// This side's byte counter (module docs: "Counters"): written as [`Line::count`] is.
    pub(crate) fn bytes(&self) -> &std::sync::atomic::AtomicU64 {
        // SAFETY: as in `pos`; offset 24 of a line is 8-byte aligned and inside it.
        unsafe { &*self.base.add(BYTES).cast::<std::sync::atomic::AtomicU64>() }
    }

    /// This side as a waiter's peer-gone check sees it (`crate::wait`).
    pub(crate) fn side<'a>(&'a self, obj: &'a Object) -> Side<'a> {
        Side {
            obj,
            word: self.attachment(),
            slot: self.slot,
        }
    }
}

// SAFETY: a Line only points into a shared mapping and is used through atomics.
unsafe impl Send for Line {}
// SAFETY: as above.
unsafe impl Sync for Line {}

/// Claims `role` of the channel (or the publisher of a broadcast) for this handle: a side
/// that was never attached, was closed, or whose holder is gone may be (re)claimed; a side a
/// live process holds may not (`crate::liveness`). Call it last when opening, so that no
/// later failure leaves the side claimed.
pub(crate) fn attach(obj: &Object, role: Role) -> Result<Claim> {
    let line = Line::of(obj, role);
    match liveness::claim(&obj.segment, line.slot, line.attachment(), ATTACHED, |s| {
        s == ATTACHED
    })? {
        Claimed::Yes(c) => Ok(c),
        Claimed::HeldBy(pid) => Err(Error::InUse {
            name: obj.name().to_owned(),
            role: role.label(),
            pid,
        }),
    }
}

/// Marks `role` closed — if this handle still holds it — and wakes the peer so that it
/// notices.
pub(crate) fn detach(obj: &Object, role: Role, claim: Claim, peer_bell: &Bell) {
    let line = Line::of(obj, role);
    liveness::release(
        &obj.segment,
        claim,
        line.attachment(),
        CLOSED,
        sys::current_pid(),
    );
    peer_bell.ring();
}

/// Whether the side in `line` is gone: closed, or attached by a holder that is no longer
/// there. With `test` false only the attachment word is read (no system call).
#[inline]
pub(crate) fn peer_gone(obj: &Object, line: &Line, test: bool) -> bool {
    line.side(obj).gone(test)
}

/// The channel's two bells, (data, space): subscribers and consumers sleep on the first (in
/// the producer's line), a producer waiting for room on the second (in the consumer's);
/// named `<name>.data` and `<name>.space` on Windows. `create`: for a new channel.
pub(crate) fn bells(obj: &Object, create: bool) -> Result<(Bell, Bell)> {
    let bell = |role: Role, suffix: &str| -> Result<Bell> {
        let name = format!("{}.{suffix}", obj.name());
        let notifier = if create {
            Notifier::create(&name)?
        } else {
            Notifier::open(&name)?
        };
        Ok(Bell::at(obj, role.line() + SEQ, notifier))
    };
    Ok((
        bell(Role::Producer, "data")?,
        bell(Role::Consumer, "space")?,
    ))
}

/// The roles of a channel segment, for inspection: (label, liveness slot, offset of the
/// role word, whether a state is a holding one).
pub(crate) fn roles() -> Vec<RoleAt> {
    [Role::Producer, Role::Consumer]
        .into_iter()
        .map(|r| RoleAt {
            label: r.label().to_owned(),
            slot: r.slot(),
            offset: r.attachment(),
            held: |s| s == ATTACHED,
        })
        .collect()
}

/// Where a role's word is, for inspection (see `inspect`).
pub(crate) struct RoleAt {
    pub(crate) label: String,
    pub(crate) slot: u32,
    pub(crate) offset: usize,
    pub(crate) held: fn(u32) -> bool,
}
