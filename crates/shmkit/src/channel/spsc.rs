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
//! `write_pos` leaves one published frame uncounted. The protocol and the doorbell are
//! model-checked with loom in `tests/loom.rs`.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::layout::{self, Line, Role};
use super::wait::{self, Doorbell, Peer};
use super::WaitMode;
use crate::copy;
use crate::liveness::{Claim, Clock};
use crate::object::Object;
use crate::sys::Deadline;
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
    /// The doorbell this side sleeps on.
    my_bell: Doorbell,
    /// The doorbell the peer sleeps on.
    peer_bell: Doorbell,
    role: Role,
    wait: WaitMode,
    /// This side's role (given back on drop).
    claim: Option<Claim>,
    clock: Clock,
}

// SAFETY: `ring` points into the mapping owned by `obj`, accessed only per the ring protocol;
// nothing is tied to a thread.
unsafe impl Send for Shared {}

impl Shared {
    /// Wraps a side of a checked channel object of capacity `cap`, attached by `claim`,
    /// given the channel's (data, space) doorbells.
    pub(crate) fn new(
        obj: Object,
        (data, space): (Doorbell, Doorbell),
        cap: usize,
        (role, claim): (Role, Claim),
        wait: WaitMode,
    ) -> Shared {
        // The consumer sleeps on the producer line's bell ("data"), the producer on the
        // consumer line's bell ("space").
        let (my_bell, peer_bell) = match role {
            Role::Consumer => (data, space),
            Role::Producer => (space, data),
        };
        my_bell.forget_sleepers();
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
    /// `watch` changes when `ready()` may have turned true (see `wait::wait_for`).
    fn wait_for(
        &self,
        deadline: Deadline,
        watch: &AtomicU64,
        ready: impl FnMut() -> bool,
    ) -> Result<()> {
        wait::wait_for(
            self.name(),
            Some(Peer {
                obj: &self.obj,
                line: &self.peer,
                clock: &self.clock,
            }),
            &self.my_bell,
            self.wait,
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

/// The sending side of a channel.
#[derive(Debug)]
pub struct Producer {
    s: Shared,
    cur: ProducerCursor,
}

/// The producer's private positions.
#[derive(Debug)]
struct ProducerCursor {
    write: u64,
    read_cache: u64,
}

/// The receiving side of a channel.
#[derive(Debug)]
pub struct Consumer {
    s: Shared,
    cur: ConsumerCursor,
}

/// The consumer's private position.
#[derive(Debug)]
struct ConsumerCursor {
    read: u64,
}

/// A writable slot in the ring, from [`Producer::loan`]. Fill it, then [`Loan::commit`];
/// dropping it without committing publishes nothing.
///
/// It dereferences to `&mut [u8]` over the ring, past everything published: a cooperating
/// consumer never touches it. [`Producer::send`] copies instead.
#[derive(Debug)]
#[must_use = "a loan publishes nothing until commit()"]
pub struct Loan<'a> {
    p: &'a mut Producer,
    /// Ring offset of the frame header, and bytes of padding before it (at the old offset).
    frame: usize,
    pad: usize,
    len: usize,
    cap_len: usize,
}

/// A received message, read in place from the ring; releasing it (drop) frees its space.
///
/// It dereferences to `&[u8]` over the ring. The protocol gives this frame to the consumer
/// until the sample is dropped, so a cooperating producer never writes it; a process outside
/// the protocol that can write the segment could, which Rust calls undefined behaviour for a
/// live `&[u8]`. When the producer is not trusted, use [`Consumer::recv_into`], which copies
/// without making a reference (see the [trust model](crate#trust-model)).
#[derive(Debug)]
pub struct Sample<'a> {
    c: &'a mut Consumer,
    payload: *const u8,
    len: usize,
    /// Bytes from the consumer's position to the end of this frame (padding included).
    advance: u64,
}

impl Producer {
    /// The producer of an attached channel. Its write position is recovered from the ring
    /// (see [`recover_write`]), so a producer that re-attaches after one was killed goes on
    /// exactly after the last published frame.
    pub(crate) fn new(s: Shared) -> Result<Producer> {
        // SYNC POINT: Acquire pairs with the consumer's Release store of read_pos.
        let read = s.peer.pos().load(Ordering::Acquire);
        let write = recover_write(&s, s.mine.pos().load(Ordering::Relaxed), read)?;
        s.mine.pos().store(write, Ordering::Relaxed);
        Ok(Producer {
            s,
            cur: ProducerCursor {
                write,
                read_cache: read,
            },
        })
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        self.s.name()
    }

    /// The ring's size in bytes.
    pub fn capacity(&self) -> usize {
        self.s.cap
    }

    /// Whether this side created the channel (and so removes its name when dropped, unless
    /// told to keep it).
    pub fn is_creator(&self) -> bool {
        self.s.obj.is_creator()
    }

    /// The largest message this channel always accepts: `capacity / 2 - 8`, and at most
    /// `u32::MAX` rounded down to 8, less 8 (4 GiB - 16: a frame's length has 32 bits), which
    /// matters from 8 GiB rings on.
    pub fn max_message_len(&self) -> usize {
        max_message_len(self.s.cap)
    }

    /// Changes how this side waits (see [`WaitMode`]).
    pub fn set_wait_mode(&mut self, wait: WaitMode) {
        self.s.wait = wait;
    }

    #[inline]
    pub(crate) fn loan_until(&mut self, len: usize, deadline: Deadline) -> Result<Loan<'_>> {
        if len > self.max_message_len() {
            return Err(Error::size(
                self.name(),
                format!(
                    "a message of {len} bytes is over this channel's maximum of {}",
                    self.max_message_len()
                ),
            ));
        }
        let Producer { s, cur } = self;
        if layout::peer_gone(&s.obj, &s.peer, false) {
            return Err(s.disconnected());
        }
        let (pad, frame) = match place(cur, s, len)? {
            Some(p) => p,
            None => {
                let mut found = Ok(None);
                // Room appears when the consumer moves its position.
                s.wait_for(deadline, s.peer.pos(), || {
                    found = place(cur, s, len);
                    !matches!(found, Ok(None))
                })?;
                found?.expect("wait_for returns Ok only once there is room")
            }
        };
        Ok(Loan {
            p: self,
            frame,
            pad,
            len,
            cap_len: len,
        })
    }

    /// Borrows a slot for a message of `len` bytes, waiting for room as long as it takes.
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`] over [`Producer::max_message_len`]; [`Error::Disconnected`] if
    /// the consumer is gone.
    pub fn loan(&mut self, len: usize) -> Result<Loan<'_>> {
        self.loan_until(len, Deadline::Forever)
    }

    /// Like [`Producer::loan`], without waiting: [`Error::WouldBlock`] if the ring is full.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan`], and `WouldBlock`.
    pub fn try_loan(&mut self, len: usize) -> Result<Loan<'_>> {
        self.loan_until(len, Deadline::Try)
    }

    /// Like [`Producer::loan`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan`], and `Timeout`.
    pub fn loan_timeout(&mut self, len: usize, timeout: Duration) -> Result<Loan<'_>> {
        self.loan_until(len, Deadline::after(timeout))
    }

    /// Copies `msg` into the ring and publishes it, waiting for room.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan`].
    pub fn send(&mut self, msg: &[u8]) -> Result<()> {
        let mut loan = self.loan(msg.len())?;
        loan.copy_from_slice(msg);
        loan.commit();
        Ok(())
    }

    /// [`Producer::send`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Producer::try_loan`].
    pub fn try_send(&mut self, msg: &[u8]) -> Result<()> {
        let mut loan = self.try_loan(msg.len())?;
        loan.copy_from_slice(msg);
        loan.commit();
        Ok(())
    }

    /// [`Producer::send`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan_timeout`].
    pub fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<()> {
        let mut loan = self.loan_timeout(msg.len(), timeout)?;
        loan.copy_from_slice(msg);
        loan.commit();
        Ok(())
    }
}

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

/// Where a frame of `len` bytes goes, if there is room now: (padding, frame offset). Room
/// means the padding, the frame and the next frame's header word are all free. Positions
/// are compared modulo 2^64 (they come from another process, so they must not overflow).
#[inline]
fn place(cur: &mut ProducerCursor, s: &Shared, len: usize) -> Result<Option<(usize, usize)>> {
    let need = frame_size(len);
    let off = (cur.write as usize) & (s.cap - 1);
    let tail = s.cap - off;
    let (pad, frame) = if need <= tail { (0, off) } else { (tail, 0) };
    // Room for the frame, its padding, and the zeroed header word after it.
    let total = (pad + need + FRAME_HEADER) as u64;
    if fits(cur.write, cur.read_cache, total, s.cap) || reload_fits(cur, s, total)? {
        Ok(Some((pad, frame)))
    } else {
        Ok(None)
    }
}

fn fits(write: u64, read: u64, total: u64, cap: usize) -> bool {
    write.wrapping_sub(read).saturating_add(total) <= cap as u64
}

/// Reloads the consumer's position into the cache and says whether `total` bytes fit now. A
/// position ahead of the producer's, or more than a ring behind it, is `Corrupt`.
#[cold]
fn reload_fits(cur: &mut ProducerCursor, s: &Shared, total: u64) -> Result<bool> {
    // SYNC POINT: Acquire pairs with the consumer's Release store of read_pos: the bytes it
    // released are no longer being read.
    let read = s.peer.pos().load(Ordering::Acquire);
    let write = cur.write;
    if write.wrapping_sub(read) > s.cap as u64 {
        return Err(Error::Corrupt {
            name: s.name().to_owned(),
            reason: format!(
                "the consumer's position {read} is not within {} bytes behind the \
                 producer's {write}",
                s.cap
            ),
        });
    }
    cur.read_cache = read;
    Ok(fits(write, read, total, s.cap))
}

impl Loan<'_> {
    fn payload(&self) -> *mut u8 {
        // SAFETY: frame + FRAME_HEADER + cap_len <= cap (placed by `Producer::place`).
        unsafe { self.p.s.ring.add(self.frame + FRAME_HEADER) }
    }

    /// The payload's first byte, without making a reference to it (for the typed layer,
    /// which may leave bytes uninitialised until its user writes them). 8-aligned; valid for
    /// writes of the loaned length while the loan lives.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.payload()
    }

    /// Shrinks the message to `len` bytes (at most the loaned length) before committing.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Publishes the message to the consumer.
    #[inline]
    pub fn commit(self) {
        let p = &mut *self.p;
        let s = &p.s;
        let size = frame_size(self.len);
        let next = (self.frame + size) & (s.cap - 1);
        // The next frame's header must read "not yet" before this one is published (the room
        // for it was checked by `place`); Relaxed, ordered by the Release store below.
        header(s, next).store(0, Ordering::Relaxed);
        // SYNC POINT: Release publishes the payload (and the zeroed next header) to the
        // consumer's Acquire load of this header word.
        header(s, self.frame).store(encode(self.len, KIND_MESSAGE), Ordering::Release);
        if self.pad > 0 {
            // Published last: the consumer reaches the message only through the pad.
            let at = (p.cur.write as usize) & (s.cap - 1);
            header(s, at).store(encode(self.pad, KIND_PAD), Ordering::Release);
        }
        p.cur.write = p.cur.write.wrapping_add((self.pad + size) as u64);
        p.s.mine.pos().store(p.cur.write, Ordering::Relaxed);
        // The doorbell's SeqCst fence orders the header store before its sleeper check.
        p.s.peer_bell.ring();
    }
}

impl Deref for Loan<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the slot lies past the last published frame; the consumer reads only
        // published frames and the header word before this payload, so this producer
        // (borrowed mutably by the loan) is the payload's only user until commit.
        unsafe { std::slice::from_raw_parts(self.payload(), self.cap_len) }
    }
}

impl DerefMut for Loan<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.payload(), self.cap_len) }
    }
}

impl Consumer {
    /// The consumer of an attached channel, going on from the stored read position (so a
    /// message a killed consumer was holding is delivered again).
    pub(crate) fn new(s: Shared) -> Result<Consumer> {
        let read = s.mine.pos().load(Ordering::Relaxed);
        check_positions(&s, s.peer.pos().load(Ordering::Relaxed), read)?;
        Ok(Consumer {
            s,
            cur: ConsumerCursor { read },
        })
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        self.s.name()
    }

    /// The ring's size in bytes.
    pub fn capacity(&self) -> usize {
        self.s.cap
    }

    /// Whether this side created the channel (and so removes its name when dropped, unless
    /// told to keep it).
    pub fn is_creator(&self) -> bool {
        self.s.obj.is_creator()
    }

    /// Changes how this side waits (see [`WaitMode`]).
    pub fn set_wait_mode(&mut self, wait: WaitMode) {
        self.s.wait = wait;
    }

    #[inline]
    pub(crate) fn recv_until(&mut self, deadline: Deadline) -> Result<Sample<'_>> {
        let Consumer { s, cur } = self;
        let (off, len, advance) = match peek(cur, s)? {
            Some(f) => f,
            None => {
                let mut found = Ok(None);
                // A message appears when the header word at the read position turns non-zero
                // (a pad is published after the message it leads to, so it is never alone).
                let watch = header(s, (cur.read as usize) & (s.cap - 1));
                s.wait_for(deadline, watch, || {
                    found = peek(cur, s);
                    !matches!(found, Ok(None))
                })?;
                found?.expect("wait_for returns Ok only once a frame is there")
            }
        };
        Ok(Sample {
            // SAFETY: checked by `peek`: the payload lies inside the ring.
            payload: unsafe { self.s.ring.add(off) },
            len,
            advance,
            c: self,
        })
    }

    /// Receives the next message in place, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] once the producer is gone and every committed message has been
    /// received; [`Error::Corrupt`] if the ring holds an impossible frame.
    pub fn recv(&mut self) -> Result<Sample<'_>> {
        self.recv_until(Deadline::Forever)
    }

    /// Like [`Consumer::recv`], without waiting: [`Error::WouldBlock`] if nothing is there.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`], and `WouldBlock`.
    pub fn try_recv(&mut self) -> Result<Sample<'_>> {
        self.recv_until(Deadline::Try)
    }

    /// Like [`Consumer::recv`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`], and `Timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Sample<'_>> {
        self.recv_until(Deadline::after(timeout))
    }

    /// Receives the next message into `buf` (cleared first); returns its length.
    ///
    /// The copy-out path: the message is copied from the ring into `buf` without a reference
    /// to the shared bytes ever being made, so a producer that is not trusted can at worst
    /// put wrong bytes in `buf` (see the [trust model](crate#trust-model)).
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`].
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        let sample = self.recv()?;
        buf.clear();
        // SAFETY: the payload lies inside the ring (checked by `peek`) and the protocol keeps
        // the producer away from it until the sample is dropped (see `Sample`'s `Deref`); a
        // producer outside the protocol can only make the copied bytes wrong.
        unsafe { copy::load_unshared_vec(sample.payload, sample.len, buf) };
        Ok(sample.len())
    }
}

/// The next message, if one is committed: (payload offset in the ring, length, bytes from
/// the read position to the end of its frame). Every header is checked against the ring's
/// geometry, so a corrupt ring is an error, not UB.
#[inline]
fn peek(cur: &mut ConsumerCursor, s: &Shared) -> Result<Option<(usize, usize, u64)>> {
    let cap = s.cap;
    let mut skipped = 0u64;
    loop {
        let off = (cur.read.wrapping_add(skipped) as usize) & (cap - 1);
        // SYNC POINT: Acquire pairs with the producer's Release store of this header word, so
        // the payload before it (and the zeroed header after it) are visible.
        let word = header(s, off).load(Ordering::Acquire);
        if word == 0 {
            return Ok(None);
        }
        match Frame::decode(word, off, cap) {
            Some(Frame::Pad(n)) if skipped == 0 => skipped += n as u64,
            Some(Frame::Message(len)) => {
                return Ok(Some((
                    off + FRAME_HEADER,
                    len,
                    skipped + frame_size(len) as u64,
                )));
            }
            _ => {
                return Err(Error::Corrupt {
                    name: s.name().to_owned(),
                    reason: format!(
                        "bad frame at ring offset {off}: kind {}, length {}",
                        word >> 32,
                        word & 0xffff_ffff
                    ),
                })
            }
        }
    }
}

impl Sample<'_> {
    /// The message's length in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The channel's name.
    pub(crate) fn channel_name(&self) -> &str {
        self.c.name()
    }

    /// Copies the message's first `dst.len()` bytes (at most its length) into `dst` without
    /// making a reference to the ring: the copy-out path of the typed layer.
    pub(crate) fn copy_to(&self, dst: &mut [u8]) {
        assert!(dst.len() <= self.len, "copying past the message");
        // SAFETY: as in `Consumer::recv_into`: the payload lies inside the ring (checked by
        // `peek`), the protocol keeps the producer away from it while the sample lives, and
        // `dst` is this process's own memory.
        unsafe { std::ptr::copy_nonoverlapping(self.payload, dst.as_mut_ptr(), dst.len()) };
    }
}

impl Deref for Sample<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the frame was published and lies at or above read_pos, so the producer does
        // not write it until this sample is dropped and read_pos moves past it.
        unsafe { std::slice::from_raw_parts(self.payload, self.len) }
    }
}

impl Drop for Sample<'_> {
    #[inline]
    fn drop(&mut self) {
        let c = &mut *self.c;
        c.cur.read = c.cur.read.wrapping_add(self.advance);
        // SYNC POINT: Release pairs with the producer's Acquire load of read_pos (it may now
        // reuse the bytes); the fence in `ring` orders it before the sleeper check.
        c.s.mine.pos().store(c.cur.read, Ordering::Release);
        c.s.peer_bell.ring();
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
