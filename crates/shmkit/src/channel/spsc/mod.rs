//! The single-producer / single-consumer byte ring: `Producer`, `Consumer`, `Loan`, `Sample`.
//!
//! Algorithm: a ring of variable-size frames at monotonic u64 positions (never wrapped; the
//! ring offset is `pos & (cap - 1)`). Frames are 8-byte aligned: an 8-byte header word
//! (`len u32 | kind u32 << 32`, read and written atomically) then the payload; when a frame
//! would wrap, a PAD frame fills the tail so every loan is one contiguous slice.
//!
//! Publication is per frame, the technique of Aeron's term buffers: the header word is written
//! last, with Release, and a zero header means "not yet". Before publishing frame k the
//! producer zeroes the header word where frame k+1 will start, so the consumer — which only
//! ever reads header words at frame boundaries, in order — can never take bytes left from an
//! earlier lap for a header. The consumer therefore polls the frame itself: one cache line
//! crosses per message instead of the write position's line and then the frame's. The
//! producer keeps a cached copy of the consumer's `read_pos` and reloads it only when the
//! cache says full; the consumer stores `read_pos` (Release) when it releases a frame. A
//! killed producer can leave only an unpublished (zero-header) frame, which nobody reads.
//! The producer also stores `write_pos` (its own line) after each commit. Only a producer
//! that re-attaches reads it back, and it walks the published frames from there to the first
//! zero header (`recover_write`), because a producer killed between a frame's header and
//! `write_pos` leaves one published frame uncounted. loom model-checks this code itself
//! (its atomics go through `crate::atomic_shim`): `src/loom_tests/`.

use crate::atomic_shim::{self, AtomicU64, Ordering};
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use super::layout::{self, Line, Role};
use super::WaitStrategy;
use crate::atomic_copy;
use crate::liveness::{Claim, Clock};
use crate::object::Object;
use crate::sys::Deadline;
use crate::wait::{self, Bell, Peer};
use crate::{Error, Result};

pub(crate) const FRAME_HEADER: usize = 8;
const KIND_MESSAGE: u32 = 1;
const KIND_PAD: u32 = 2;

fn frame_size(len: usize) -> usize {
    FRAME_HEADER + len.next_multiple_of(8)
}

/// The header word of the frame at ring offset `off` (8-aligned, below `cap`).
fn header(s: &Shared, off: usize) -> &AtomicU64 {
    debug_assert!(off % 8 == 0 && off < s.cap);
    // SAFETY: the ring starts 384 bytes into a page-aligned mapping, so an 8-aligned offset
    // below `cap` is an aligned, in-bounds u64; the mapping lives as long as `s`.
    unsafe { &*s.ring.add(off).cast::<AtomicU64>() }
}

/// The ordering that publishes a frame: Release (a loom test weakens it to check that the
/// bug is caught; normally a constant).
#[inline(always)]
fn publish() -> Ordering {
    #[cfg(shmkit_loom)]
    if atomic_shim::model::mutated(atomic_shim::model::Mutation::RelaxedPublish) {
        return Ordering::Relaxed;
    }
    Ordering::Release
}

/// The header word of a frame: `len` must fit the 32-bit length field (every frame the
/// producer writes does: [`MAX_MESSAGE_LEN`] and pads are below 2^32).
fn encode(len: usize, kind: u32) -> u64 {
    debug_assert!(
        len <= u32::MAX as usize,
        "frame length {len} overflows its field"
    );
    len as u64 | u64::from(kind) << 32
}

/// What both sides share: the mapping and its geometry.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) obj: Object,
    ring: *mut u8,
    cap: usize,
    mine: Line,
    peer: Line,
    /// The bell this side sleeps on.
    my_bell: Bell,
    /// The bell the peer sleeps on.
    peer_bell: Bell,
    role: Role,
    wait: WaitStrategy,
    /// This side's role (given back on drop).
    claim: Option<Claim>,
    clock: Clock,
}

// SAFETY: `ring` points into the mapping owned by `obj`, accessed only per the ring protocol;
// nothing is tied to a thread.
unsafe impl Send for Shared {}

impl Shared {
    /// The message layout the channel records (`None`: bytes); either side asks this.
    pub(crate) fn message_layout(&self) -> Result<Option<crate::channel::MessageLayout>> {
        let header: crate::object::Header =
            bytemuck::pod_read_unaligned(&self.obj.view.read_vec(0, crate::object::HEADER_LEN)?);
        Ok(crate::channel::MessageLayout::read(
            &self.obj,
            [header.params[1], header.params[2]],
            layout::TAG_TEXT,
        ))
    }

    /// Wraps a side of a checked channel object of capacity `cap`, attached by `claim`,
    /// given the channel's (data, space) bells.
    pub(crate) fn new(
        obj: Object,
        (data, space): (Bell, Bell),
        cap: usize,
        (role, claim): (Role, Claim),
        wait: WaitStrategy,
    ) -> Shared {
        // The consumer sleeps on the producer line's bell ("data"), the producer on the
        // consumer line's bell ("space").
        let (my_bell, peer_bell) = match role {
            Role::Consumer => (data, space),
            Role::Producer => (space, data),
        };
        my_bell.forget_sleepers();
        #[cfg(shmkit_loom)]
        atomic_shim::model::prime_u64(obj.ptr(layout::RING), cap);
        Shared {
            ring: obj.ptr(layout::RING),
            mine: Line::of(&obj, role),
            peer: Line::of(&obj, role.peer()),
            obj,
            cap,
            my_bell,
            peer_bell,
            role,
            wait,
            claim: Some(claim),
            clock: Clock::default(),
        }
    }

    fn name(&self) -> &str {
        self.obj.name()
    }

    fn disconnected(&self) -> Error {
        Error::Disconnected {
            name: self.name().to_owned(),
        }
    }

    /// Waits until `ready()` or the deadline, or the peer is gone (then `Disconnected`);
    /// `watch` changes when `ready()` may have turned true (see `wait::until`).
    fn wait_for(
        &self,
        deadline: Deadline,
        watch: &AtomicU64,
        ready: impl FnMut() -> bool,
    ) -> Result<()> {
        wait::until(
            self.name(),
            Some(Peer {
                side: self.peer.side(&self.obj),
                clock: &self.clock,
            }),
            &self.my_bell,
            self.wait.backoff(),
            deadline,
            Some(watch),
            ready,
        )
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(claim) = self.claim.take() {
            layout::detach(&self.obj, self.role, claim, &self.peer_bell);
        }
    }
}

mod consumer;
mod producer;

pub use consumer::{Consumer, Sample};
pub use producer::{Loan, Producer};

/// Checks positions read from the segment on attach: both frame-aligned, and within a ring of
/// each other (either may be ahead: a killed producer's stored position can lag a frame the
/// consumer already received).
fn check_positions(s: &Shared, write: u64, read: u64) -> Result<()> {
    let cap = s.cap as u64;
    let reason = if write % 8 != 0 || read % 8 != 0 {
        "not frame-aligned"
    } else if write.wrapping_sub(read) > cap && read.wrapping_sub(write) > cap {
        "more than a ring apart"
    } else {
        return Ok(());
    };
    Err(Error::Corrupt {
        name: s.name().to_owned(),
        reason: format!("positions {write} (producer) and {read} (consumer) are {reason}"),
    })
}

/// The position after the last published frame. The stored `write_pos` can lag it by one
/// frame: a producer killed between publishing a header and storing `write_pos` leaves that
/// frame (and the pad before it, if it wrapped) published but not counted. So look at the
/// frames from the stored position: nothing (a zero header: commit zeroes the header after
/// each frame before publishing the frame), a message, or a pad and a message; then a zero
/// header. A consumer ahead of the stored position has received that frame, so its position
/// is the end, and the header there is zero. Anything else no producer could have left:
/// `Corrupt`.
fn recover_write(s: &Shared, stored: u64, read: u64) -> Result<u64> {
    check_positions(s, stored, read)?;
    let consumer_ahead = stored.wrapping_sub(read) > s.cap as u64;
    let mut pos = if consumer_ahead { read } else { stored };
    loop {
        let off = (pos as usize) & (s.cap - 1);
        // SYNC POINT: Acquire, as the consumer's load in `peek` (the frames were published by
        // a producer that is gone; nothing writes them now).
        let word = header(s, off).load(Ordering::Acquire);
        if word == 0 {
            return Ok(pos);
        }
        match Frame::decode(word, off, s.cap) {
            Some(Frame::Pad(n)) if !consumer_ahead && pos == stored => {
                pos = pos.wrapping_add(n as u64);
            }
            Some(Frame::Message(len)) if !consumer_ahead => {
                // The uncounted frame; the header after it must be zero.
                let end = pos.wrapping_add(frame_size(len) as u64);
                let next = (end as usize) & (s.cap - 1);
                if header(s, next).load(Ordering::Acquire) == 0 {
                    return Ok(end);
                }
                break;
            }
            _ => break,
        }
    }
    Err(Error::Corrupt {
        name: s.name().to_owned(),
        reason: format!(
            "the ring past the producer's position {stored} (consumer at {read}) holds frames \
             no producer could have left"
        ),
    })
}

/// A published frame, decoded from its header word.
enum Frame {
    /// Padding of this many bytes, to the ring's end.
    Pad(usize),
    /// A message of this many bytes.
    Message(usize),
}

impl Frame {
    /// The frame whose header `word` lies at ring offset `off`, if a producer could have
    /// written that header there.
    #[inline]
    fn decode(word: u64, off: usize, cap: usize) -> Option<Frame> {
        let (len, kind) = ((word & 0xffff_ffff) as usize, (word >> 32) as u32);
        match kind {
            KIND_PAD if len == cap - off => Some(Frame::Pad(len)),
            KIND_MESSAGE if len <= cap / 2 && frame_size(len) <= cap - off => {
                Some(Frame::Message(len))
            }
            _ => None,
        }
    }
}

/// The largest message any ring accepts, whatever its size: a frame's length field has 32
/// bits, so a frame (header and payload rounded up to 8) must stay within `u32::MAX`. Rings
/// of 8 GiB and more reach it; a pad is shorter than the frame it precedes, so it fits too.
pub(crate) const MAX_MESSAGE_LEN: usize = (u32::MAX as usize & !7) - FRAME_HEADER;

/// The largest message a ring of `cap` bytes always accepts: half the ring less a frame
/// header, and never more than [`MAX_MESSAGE_LEN`].
pub(crate) fn max_message_len(cap: usize) -> usize {
    (cap / 2 - FRAME_HEADER).min(MAX_MESSAGE_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_longest_message_of_any_ring_keeps_its_frame_kind() {
        const GIB: usize = 1 << 30;
        assert_eq!(max_message_len(4 * GIB), 2 * GIB - 8);
        assert_eq!(max_message_len(8 * GIB), 4 * GIB - 16);
        for cap in [16 * GIB, 64 * GIB, 1 << 40] {
            assert_eq!(max_message_len(cap), MAX_MESSAGE_LEN, "ring of {cap}");
        }
        for cap in [8 * GIB, 16 * GIB, 1 << 40] {
            let len = max_message_len(cap);
            assert!(frame_size(len) <= u32::MAX as usize);
            // The frame written at the ring's start decodes as the message it is...
            assert!(matches!(
                Frame::decode(encode(len, KIND_MESSAGE), 0, cap),
                Some(Frame::Message(l)) if l == len
            ));
            // ...and so does the pad before a frame that would not fit at the ring's end.
            let pad = frame_size(len) - 8;
            assert!(matches!(
                Frame::decode(encode(pad, KIND_PAD), cap - pad, cap),
                Some(Frame::Pad(p)) if p == pad
            ));
        }
    }

    #[test]
    fn small_rings_keep_half_their_capacity() {
        assert_eq!(max_message_len(4096), 2040);
        assert_eq!(max_message_len(1 << 20), (1 << 19) - 8);
    }
}
