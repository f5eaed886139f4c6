//! The consumer side of the ring: `Consumer`, its `Sample`, and reading the next frame.

use super::*;

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
    /// Messages released over the channel's life (the line's counter, `layout`).
    received: u64,
    /// The message [`Consumer::recv_held`] holds: its payload's ring offset, its length and
    /// the bytes from `read` to its frame's end (`advance == 0`: none held).
    held: Held,
}

/// A message held by the consumer itself (the bindings' form of a [`Sample`]).
#[derive(Debug, Default, Clone, Copy)]
struct Held {
    off: usize,
    len: usize,
    advance: u64,
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

impl Consumer {
    /// The message layout the channel records: `Some` for one created typed, `None` for
    /// bytes. (The producer side has the same; a bridge forwarding a channel as bytes asks
    /// its consumer.)
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the header cannot be read (it always can).
    pub fn message_layout(&self) -> Result<Option<crate::channel::MessageLayout>> {
        self.s.message_layout()
    }

    /// The consumer of an attached channel, going on from the stored read position (so a
    /// message a killed consumer was holding is delivered again).
    pub(crate) fn new(s: Shared) -> Result<Consumer> {
        let read = s.mine.pos().load(Ordering::Relaxed);
        check_positions(&s, s.peer.pos().load(Ordering::Relaxed), read)?;
        // Statistics only: Relaxed (see `layout`, "Counters").
        let received = s.mine.count().load(std::sync::atomic::Ordering::Relaxed);
        Ok(Consumer {
            s,
            cur: ConsumerCursor {
                read,
                received,
                held: Held::default(),
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

    /// Changes how this side waits (see [`WaitStrategy`]).
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.s.wait = wait;
    }

    /// How this side waits (see [`WaitStrategy`](crate::channel::WaitStrategy)).
    pub fn wait_strategy(&self) -> crate::channel::WaitStrategy {
        self.s.wait
    }

    /// Whether a well-formed message is there to receive now (a load of one header word
    /// when there is none; no wait, no liveness test): for a side that watches many rings and
    /// sleeps on a bell of its own (`service`). A corrupt frame reads as "nothing there".
    #[inline]
    pub(crate) fn has_message(&self) -> bool {
        matches!(peek(&self.cur, &self.s), Ok(Some(_)))
    }

    /// Walks the committed messages from the read position on, without consuming any, and
    /// calls `want` with a private copy of each one's first `N` bytes (messages shorter than
    /// that are passed over), until `want` says yes (then true), the committed frames end or
    /// one is corrupt (false). At most one ring's worth of frames; every header is checked
    /// as `peek` checks it. For the service server's readiness, which must pass over frames
    /// that `recv` drops unread.
    pub(crate) fn any_message<const N: usize>(
        &self,
        mut want: impl FnMut(&[u8; N]) -> bool,
    ) -> bool {
        let (s, cap) = (&self.s, self.s.cap);
        let mut pos = self.cur.read;
        let end = pos.wrapping_add(cap as u64);
        while pos != end {
            let (off, len) = match frame_at(s, pos) {
                (_, _, None) => return false,
                (_, _, Some(Frame::Pad(n))) => {
                    pos = pos.wrapping_add(n as u64);
                    continue;
                }
                (off, _, Some(Frame::Message(len))) => (off, len),
            };
            if len >= N {
                let mut prefix = [0u8; N];
                // SAFETY: `decode` checked that the frame's payload (`len >= N` bytes) lies
                // inside the ring; the frame is committed and not released, so the producer
                // does not write it; `prefix` is this thread's own memory.
                unsafe {
                    let payload = s.ring.add(off + FRAME_HEADER);
                    atomic_shim::read(payload, N);
                    std::ptr::copy_nonoverlapping(payload, prefix.as_mut_ptr(), N);
                }
                if want(&prefix) {
                    return true;
                }
            }
            pos = pos.wrapping_add(frame_size(len) as u64);
        }
        false
    }

    /// Whether a frame is committed at the read position, past a message `recv_held`
    /// holds (its header word is non-zero; a corrupt one too, which `recv` then reports):
    /// one load, for wait sets.
    #[inline]
    pub(crate) fn has_frame(&self) -> bool {
        let s = &self.s;
        let pos = self.cur.read.wrapping_add(self.cur.held.advance);
        // SYNC POINT: Acquire, as in `peek` (which `recv` runs again).
        header(s, (pos as usize) & (s.cap - 1)).load(Ordering::Acquire) != 0
    }

    #[inline]
    pub(crate) fn recv_until(&mut self, deadline: Deadline) -> Result<Sample<'_>> {
        if self.cur.held.advance != 0 {
            self.release_held();
        }
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
                found?.expect("until returns Ok only once a frame is there")
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

    /// Gives back the frame of a received message, `advance` bytes from the read position
    /// to its end: what dropping a [`Sample`] does.
    #[inline]
    fn release_frame(&mut self, advance: u64) {
        let c = self;
        c.cur.read = c.cur.read.wrapping_add(advance);
        // SYNC POINT: Release pairs with the producer's Acquire load of read_pos (it may now
        // reuse the bytes); the fence in `ring` orders it before the sleeper check.
        c.s.mine.pos().store(c.cur.read, Ordering::Release);
        c.cur.received = c.cur.received.wrapping_add(1);
        // Statistics only, in this side's own line: a plain store (`layout`, "Counters").
        c.s.mine
            .count()
            .store(c.cur.received, std::sync::atomic::Ordering::Relaxed);
        c.s.peer_bell.ring();
    }

    /// Receives the next message in place and holds it in the consumer itself, instead of
    /// in a [`Sample`] borrowing it: the form for bindings (the C API), whose handles keep
    /// a received message across calls, where a borrow cannot reach. Returns the message's
    /// first byte and its length. A message held before is released first.
    ///
    /// The bytes stay the consumer's until [`release_held`](Consumer::release_held), the
    /// next receive of any form, or the consumer's drop; reading them after that is reading
    /// memory the producer may be writing. Nothing ties the pointer to that span but the
    /// caller, which is why this returns a pointer, not a slice: read through it with the
    /// care [`Sample::as_ptr`] asks for.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv_deadline`], with the wait as `deadline` says; nothing is held
    /// after an error.
    #[inline]
    pub fn recv_held(&mut self, deadline: Deadline) -> Result<(*const u8, usize)> {
        // Not dropped: the consumer keeps what the sample's drop would release.
        let sample = std::mem::ManuallyDrop::new(self.recv_until(deadline)?);
        let (payload, len, advance) = (sample.payload, sample.len, sample.advance);
        // SAFETY: `payload` is `ring.add(off)` for the offset `peek` checked (in `recv_until`),
        // so both lie in the one mapping and the difference is that offset.
        let off = unsafe { payload.offset_from(self.s.ring) } as usize;
        self.cur.held = Held { off, len, advance };
        Ok((payload, len))
    }

    /// The message [`recv_held`](Consumer::recv_held) holds, if any: its first byte and
    /// its length.
    #[inline]
    pub fn held(&self) -> Option<(*const u8, usize)> {
        let h = self.cur.held;
        // SAFETY: `recv_held` stored an offset `peek` checked: the payload lies inside the
        // ring.
        (h.advance != 0).then(|| (unsafe { self.s.ring.add(h.off) }.cast_const(), h.len))
    }

    /// Releases the message [`recv_held`](Consumer::recv_held) holds, as dropping a
    /// [`Sample`] does; false if none is held.
    #[inline]
    pub fn release_held(&mut self) -> bool {
        let advance = std::mem::take(&mut self.cur.held).advance;
        if advance == 0 {
            return false;
        }
        self.release_frame(advance);
        true
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

    /// Like [`Self::recv`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::recv_timeout`].
    pub fn recv_deadline(&mut self, deadline: std::time::Instant) -> Result<Sample<'_>> {
        self.recv_until(Deadline::At(deadline))
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
        self.recv_into_until(buf, Deadline::Forever)
    }

    /// Like [`Consumer::recv_into`], without waiting: [`Error::WouldBlock`] if nothing is
    /// there.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`], and `WouldBlock`.
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        self.recv_into_until(buf, Deadline::Try)
    }

    /// Like [`Consumer::recv_into`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`], and `Timeout`.
    pub fn recv_into_timeout(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<usize> {
        self.recv_into_until(buf, Deadline::after(timeout))
    }

    /// Like [`Self::recv_into`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::recv_into_timeout`].
    pub fn recv_into_deadline(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: std::time::Instant,
    ) -> Result<usize> {
        self.recv_into_until(buf, Deadline::At(deadline))
    }

    fn recv_into_until(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<usize> {
        let sample = self.recv_until(deadline)?;
        buf.clear();
        atomic_shim::read(sample.payload, sample.len);
        // SAFETY: the payload lies inside the ring (checked by `peek`) and the protocol keeps
        // the producer away from it until the sample is dropped (see `Sample`'s `Deref`); a
        // producer outside the protocol can only make the copied bytes wrong.
        unsafe { atomic_copy::load_unshared_vec(sample.payload, sample.len, buf) };
        Ok(sample.len())
    }
}

impl crate::wait::Sealed for Consumer {
    fn point(&self) -> crate::wait::Point<'_> {
        self.s.my_bell.point(Some(self.s.peer.side(&self.s.obj)))
    }

    /// A message is committed, or the producer closed its side.
    fn ready(&self) -> bool {
        self.has_frame() || layout::peer_gone(&self.s.obj, &self.s.peer, false)
    }
}

/// The next message, if one is committed: (payload offset in the ring, length, bytes from
/// the read position to the end of its frame). Every header is checked against the ring's
/// geometry, so a corrupt ring is an error, not UB.
#[inline]
fn peek(cur: &ConsumerCursor, s: &Shared) -> Result<Option<(usize, usize, u64)>> {
    let mut skipped = 0u64;
    loop {
        match frame_at(s, cur.read.wrapping_add(skipped)) {
            (_, 0, _) => return Ok(None),
            (_, _, Some(Frame::Pad(n))) if skipped == 0 => skipped += n as u64,
            (off, _, Some(Frame::Message(len))) => {
                return Ok(Some((
                    off + FRAME_HEADER,
                    len,
                    skipped + frame_size(len) as u64,
                )));
            }
            (off, word, _) => {
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

/// The frame at ring position `pos`: its offset in the ring, its header word (0: nothing
/// committed there yet) and what the header says, checked (`None` for 0 or an impossible
/// frame). The one decoding of a frame header, for `peek` and `Consumer::any_message`.
#[inline(always)]
fn frame_at(s: &Shared, pos: u64) -> (usize, u64, Option<Frame>) {
    let off = (pos as usize) & (s.cap - 1);
    // SYNC POINT: Acquire pairs with the producer's Release store of this header word, so
    // the payload before it (and the zeroed header after it) are visible.
    let word = header(s, off).load(Ordering::Acquire);
    let frame = if word == 0 {
        None
    } else {
        Frame::decode(word, off, s.cap)
    };
    (off, word, frame)
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

    /// Copies the message's first `dst.len()` bytes (all of it if `dst` is longer) into `dst`
    /// without making a reference to the ring, and returns how many it copied: the copy-out
    /// path for a peer that is not trusted (a write by a process outside the protocol can only
    /// make the copied bytes wrong; see the crate's "Trust model"). Bindings use it.
    pub fn copy_to(&self, dst: &mut [u8]) -> usize {
        let n = self.len.min(dst.len());
        let dst = &mut dst[..n];
        atomic_shim::read(self.payload, dst.len());
        // SAFETY: as in `Consumer::recv_into`: the payload lies inside the ring (checked by
        // `peek`), the protocol keeps the producer away from it while the sample lives, and
        // `dst` is this process's own memory.
        unsafe { std::ptr::copy_nonoverlapping(self.payload, dst.as_mut_ptr(), dst.len()) };
        n
    }
}

impl Sample<'_> {
    /// The message's first byte, valid for [`len`](Sample::len) bytes while the sample lives;
    /// no reference to the ring is made (bindings hand this pointer to C).
    pub fn as_ptr(&self) -> *const u8 {
        self.payload
    }
}

impl Deref for Sample<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        atomic_shim::read(self.payload, self.len);
        // SAFETY: the frame was published and lies at or above read_pos, so the producer does
        // not write it until this sample is dropped and read_pos moves past it.
        unsafe { std::slice::from_raw_parts(self.payload, self.len) }
    }
}

impl Drop for Sample<'_> {
    #[inline]
    fn drop(&mut self) {
        self.c.release_frame(self.advance);
    }
}
