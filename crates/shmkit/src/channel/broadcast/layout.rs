//! Where everything of a broadcast segment lives: the geometry (checked arithmetic on
//! parameters that may come from another process), the subscriber table and the slots.
//!
//! ```text
//! offset  what
//!      0  object header; params = [slots, slot size, max subscribers | policy << 32]
//!     64  publisher attachment: a role word u64 (`crate::liveness`; kernel slot 2)
//!    128  publisher line: published count u64 | data bell (subscribers sleep here) |
//!         overwritten count u64 (overwrite policy: messages overwritten unread)
//!    256  space bell (the publisher sleeps here while it has no slot)
//!    320  a typed broadcast's layout record: size | align << 32 u64, fingerprint u64, tag
//!         text (`channel::fingerprint`); zero in a byte broadcast
//!    384  subscriber table: 64 bytes each: role word u64 (kernel slot 16 + i), next
//!         sequence u64, held sequence u64 (u64::MAX: none), received count u64, lost
//!         count u64 (the counters, layout version 5; zeroed by each joiner)
//!      …  slots: stamp u64, len u32, 4 bytes padding, payload (16-aligned); stride a
//!         multiple of 64
//!      …  index: one u64 per slot, rounded up to 64 bytes: entry `k % slots` names the slot
//!         message `k` went to
//! ```

use super::Policy;
use crate::atomic_shim::{AtomicU32, AtomicU64};
use crate::channel::message_layout::RECORD_LEN;
use crate::liveness::slot;
use crate::object::Object;
use crate::{Error, Result};

pub(crate) const TABLE: usize = 384;
pub(crate) const ENTRY: usize = 64;
const SLOT_HEADER: usize = 16;
/// Where a typed broadcast records its message layout (free bytes of the space bell's
/// 128-byte line, on a cache line of their own; read once, on subscribe). Added within layout
/// version 4: no earlier process reads or writes these bytes, and zeros (a byte broadcast,
/// or one made before typed broadcasts) mean "no type recorded", so nobody can misread them.
pub(crate) const RECORD: usize = 320;
const _: () = assert!(RECORD >= 256 + 64 && RECORD + RECORD_LEN <= TABLE);
/// Every slot's payload is aligned to this: slots start on 64-byte boundaries (the table and
/// each stride are multiples of 64, the mapping is page-aligned) and the header is 16 bytes.
pub(super) const PAYLOAD_ALIGN: usize = 16;
const _: () = assert!(SLOT_HEADER % PAYLOAD_ALIGN == 0 && TABLE % 64 == 0 && ENTRY % 64 == 0);
pub(super) const FREE: u32 = 0;
pub(crate) const ACTIVE: u32 = 1;
/// Being claimed: the publisher ignores it; nobody else reclaims it while its holder lives.
pub(super) const JOINING: u32 = 2;
/// A held word (or a slot's message, for the publisher) meaning "none".
pub(super) const NONE: u64 = u64::MAX;
/// Marks the complete stamp `2j + 2` of a slot while the publisher (overwrite policy) decides
/// whether it may overwrite message `j`, that is before it knows whether a live subscriber
/// holds `j`: a reader of `j` that sees it backs off without calling `j` lost, since the
/// publisher may still give the slot back (`publisher::place`). Counts beyond 2^62 are
/// corrupt ([`MAX_COUNT`]), so the bit is never part of a real stamp.
pub(super) const CHECKING: u64 = 1 << 63;
/// Counts a segment may hold: beyond, the count is corrupt (no publisher sends 2^62
/// messages), so stamp arithmetic (`2k + 2`) never overflows into the [`CHECKING`] bit.
pub(super) const MAX_COUNT: u64 = 1 << 62;

pub(super) struct Geometry {
    pub(super) slots: usize,
    pub(super) slot_size: usize,
    /// Bytes from one slot to the next: header and payload, rounded up to a cache line.
    stride: usize,
    pub(super) max_subs: usize,
    /// Offset of the first slot (the end of the subscriber table).
    slots_at: usize,
    /// Offset of the index (the end of the slots).
    index_at: usize,
    /// Bytes of the whole segment.
    pub(super) len: usize,
    pub(super) policy: Policy,
}

impl std::fmt::Debug for Geometry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} slots x {} bytes, {:?}",
            self.slots, self.slot_size, self.policy
        )
    }
}

impl Geometry {
    /// The layout for these parameters, if they are all non-zero and the segment's size is
    /// representable (slot sizes and subscriber counts are stored as 32-bit values). All
    /// arithmetic is checked: the parameters may come from a segment another process wrote.
    pub(super) fn new(
        slots: usize,
        slot_size: usize,
        max_subs: usize,
        policy: Policy,
    ) -> Option<Geometry> {
        if slots == 0 || slot_size == 0 || max_subs == 0 {
            return None;
        }
        u32::try_from(slot_size).ok()?;
        u32::try_from(max_subs).ok()?;
        let stride = SLOT_HEADER
            .checked_add(slot_size)?
            .checked_next_multiple_of(64)?;
        let slots_at = max_subs.checked_mul(ENTRY)?.checked_add(TABLE)?;
        let index_at = slots.checked_mul(stride)?.checked_add(slots_at)?;
        let len = slots
            .checked_mul(8)?
            .checked_next_multiple_of(64)?
            .checked_add(index_at)?;
        (len <= isize::MAX as usize).then_some(Geometry {
            slots,
            slot_size,
            stride,
            max_subs,
            slots_at,
            index_at,
            len,
            policy,
        })
    }

    pub(super) fn from_params(name: &str, p: [u64; 3], total: u64) -> Result<Geometry> {
        let corrupt = |reason: String| Error::Corrupt {
            name: name.to_owned(),
            reason,
        };
        let policy = match p[2] >> 32 {
            0 => Policy::Block,
            1 => Policy::Overwrite,
            n => return Err(corrupt(format!("unknown policy {n}"))),
        };
        let (slots, slot_size, max_subs) = (p[0], p[1], p[2] & 0xffff_ffff);
        let fits = |v: u64| usize::try_from(v).ok();
        match (fits(slots), fits(slot_size), fits(max_subs)) {
            (Some(a), Some(b), Some(c)) => Geometry::new(a, b, c, policy),
            _ => None,
        }
        .filter(|g| g.len as u64 == total)
        .ok_or_else(|| {
            corrupt(format!(
                "{slots} slots of {slot_size} bytes for {max_subs} subscribers do not fill \
                 {total} bytes"
            ))
        })
    }

    /// The parameters the header records.
    pub(super) fn params(&self) -> [u64; 3] {
        let policy = match self.policy {
            Policy::Block => 0u64,
            Policy::Overwrite => 1,
        };
        [
            self.slots as u64,
            self.slot_size as u64,
            self.max_subs as u64 | policy << 32,
        ]
    }
}

/// One subscriber's entry in the table.
pub(super) struct Entry<'a>(*const u8, std::marker::PhantomData<&'a Object>);

impl<'a> Entry<'a> {
    /// The entry's role word, `state | generation << 8 | pid << 32`. A std atomic, as every
    /// role word (`crate::liveness`): under loom it is not shadowed, so it is not
    /// model-checked (loom sees it as sequentially consistent, with no preemption at it).
    pub(super) fn word(&self) -> &'a AtomicU64 {
        // SAFETY: entries are 64-byte aligned inside the mapping (checked geometry); the
        // mapping lives as long as the borrowed Object ('a).
        unsafe { &*self.0.cast::<AtomicU64>() }
    }

    /// The next message the subscriber will receive (under back-pressure: the oldest one it
    /// has not released).
    pub(super) fn next(&self) -> &'a AtomicU64 {
        // SAFETY: as above, offset 8 (8-byte aligned).
        unsafe { &*self.0.add(8).cast::<AtomicU64>() }
    }

    /// The message the subscriber holds (overwrite policy only), or [`NONE`].
    pub(super) fn held(&self) -> &'a AtomicU64 {
        // SAFETY: as above, offset 16 (8-byte aligned).
        unsafe { &*self.0.add(16).cast::<AtomicU64>() }
    }

    /// The subscriber's counters: messages received (released), and lost (reported as
    /// [`Error::Lagged`](crate::Error::Lagged)) since it joined. Statistics, written only by
    /// the subscriber (a Relaxed store of its own count), so std atomics outside the loom
    /// model (`channel::layout`, "Counters").
    pub(super) fn counters(&self) -> [&'a std::sync::atomic::AtomicU64; 2] {
        // SAFETY: as above, offsets 24 and 32 (8-byte aligned, inside the 64-byte entry).
        unsafe {
            [
                &*self
                    .0
                    .add(ENTRY_RECEIVED)
                    .cast::<std::sync::atomic::AtomicU64>(),
                &*self
                    .0
                    .add(ENTRY_LOST)
                    .cast::<std::sync::atomic::AtomicU64>(),
            ]
        }
    }
}

/// Where a subscriber entry keeps its counters (`Entry::counters`).
pub(crate) const ENTRY_RECEIVED: usize = 24;
pub(crate) const ENTRY_LOST: usize = 32;
const _: () = assert!(ENTRY_LOST + 8 <= ENTRY);

/// Subscriber entry `i` (below `max_subs`) of `obj`.
pub(super) fn entry(obj: &Object, i: usize) -> Entry<'_> {
    Entry(obj.ptr(TABLE + i * ENTRY), std::marker::PhantomData)
}

/// The liveness slot of subscriber entry `i`.
pub(crate) fn sub_slot(i: usize) -> u32 {
    slot::SUBSCRIBER.wrapping_add(i as u32)
}

/// Makes the loom shadows of every shimmed word of the table, the slots and the index now
/// (see `atomic_shim::model::prime_u64`): called where a side is made, which loom tests do on
/// the main thread before they spawn.
#[cfg(shmkit_loom)]
pub(super) fn prime(obj: &Object, g: &Geometry) {
    use crate::atomic_shim::model;
    for i in 0..g.max_subs {
        let e = entry(obj, i);
        model::prime_u64(e.0, 24);
        model::prime_kernel(obj.name(), sub_slot(i));
    }
    for c in 0..g.slots {
        let s = slot(obj, g, c);
        model::prime_u64(s.base, 8);
        model::prime_u32(s.len());
    }
    model::prime_u64(obj.ptr(g.index_at), g.slots * 8);
}

/// Slot `c` (below `g.slots`) of `obj`.
pub(super) struct Slot<'a> {
    base: *mut u8,
    _obj: std::marker::PhantomData<&'a Object>,
}

pub(super) fn slot<'a>(obj: &'a Object, g: &Geometry, c: usize) -> Slot<'a> {
    debug_assert!(c < g.slots);
    Slot {
        base: obj.ptr(g.slots_at + c * g.stride),
        _obj: std::marker::PhantomData,
    }
}

impl<'a> Slot<'a> {
    /// The slot's stamp: `2k + 1` while message `k` is being written (or about to be), `2k + 2`
    /// once it is complete; `CHECKING | (2j + 2)` while the publisher decides whether it may
    /// overwrite message `j` (overwrite policy).
    pub(super) fn stamp(&self) -> &'a AtomicU64 {
        // SAFETY: slots start 64-byte aligned inside the mapping (checked geometry) and the
        // mapping lives as long as the borrowed Object.
        unsafe { &*self.base.cast::<AtomicU64>() }
    }

    /// The message's length.
    pub(super) fn len(&self) -> &'a AtomicU32 {
        // SAFETY: as above, offset 8 (4-byte aligned).
        unsafe { &*self.base.add(8).cast::<AtomicU32>() }
    }

    /// The payload: `slot_size` bytes.
    pub(super) fn payload(&self) -> *mut u8 {
        // SAFETY: the payload starts SLOT_HEADER bytes into the slot, inside the mapping.
        unsafe { self.base.add(SLOT_HEADER) }
    }
}

/// The index entry of message `k`: the slot it went to (valid while no later message with the
/// same `k % slots` was published).
pub(super) fn index<'a>(obj: &'a Object, g: &Geometry, k: u64) -> &'a AtomicU64 {
    let at = g.index_at + (k % g.slots as u64) as usize * 8;
    // SAFETY: `at` is 8-byte aligned (index_at is a multiple of 64) and inside the mapping
    // (geometry checked against its length); the mapping lives as long as `obj`.
    unsafe { &*obj.ptr(at).cast::<AtomicU64>() }
}

/// The oldest message a lapped subscriber may still read when the count is `w`: message
/// `w - slots`, whose index entry only the commit of message `w` rewrites (the subscriber
/// checks the entry and the stamp, and a message gone by then is reported then). The index
/// entry of every message before it was rewritten by a commit the count shows: unreachable,
/// so lost. Saturating, because `w` comes from the segment.
pub(super) fn oldest(w: u64, slots: u64) -> u64 {
    w.saturating_sub(slots)
}
