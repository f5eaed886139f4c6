//! The producer side of the ring: `Producer`, its `Loan`, and where the next frame goes.

use super::*;

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
    /// The payload length of the latest `loan` (or `send`): what readiness asks room for.
    wanted: usize,
    /// Messages committed over the channel's life (the line's counter, `layout`).
    sent: u64,
    /// Their payload bytes (the line's byte counter).
    bytes: u64,
    /// The slot [`Producer::loan_held`] holds, if any.
    held: Option<HeldLoan>,
}

/// A slot held by the producer itself (the bindings' form of a [`Loan`]).
#[derive(Debug, Clone, Copy)]
struct HeldLoan {
    frame: usize,
    pad: usize,
    len: usize,
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

impl Producer {
    /// The producer of an attached channel. Its write position is recovered from the ring
    /// (see [`recover_write`]), so a producer that re-attaches after one was killed goes on
    /// exactly after the last published frame.
    pub(crate) fn new(s: Shared) -> Result<Producer> {
        // SYNC POINT: Acquire pairs with the consumer's Release store of read_pos.
        let read = s.peer.pos().load(Ordering::Acquire);
        let write = recover_write(&s, s.mine.pos().load(Ordering::Relaxed), read)?;
        s.mine.pos().store(write, Ordering::Relaxed);
        // Statistics only: Relaxed (see `layout`, "Counters").
        let sent = s.mine.count().load(std::sync::atomic::Ordering::Relaxed);
        let bytes = s.mine.bytes().load(std::sync::atomic::Ordering::Relaxed);
        Ok(Producer {
            s,
            cur: ProducerCursor {
                write,
                read_cache: read,
                wanted: 8,
                sent,
                bytes,
                held: None,
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

    /// The message layout the channel records: `Some` for one created typed, `None` for
    /// bytes (as [`Consumer::message_layout`](crate::channel::Consumer::message_layout)).
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) if the header cannot be read (it always can).
    pub fn message_layout(&self) -> Result<Option<crate::channel::MessageLayout>> {
        self.s.message_layout()
    }

    /// The largest message this channel always accepts: `capacity / 2 - 8`, and at most
    /// `u32::MAX` rounded down to 8, less 8 (4 GiB - 16: a frame's length has 32 bits), which
    /// matters from 8 GiB rings on.
    #[inline]
    pub fn max_message_len(&self) -> usize {
        max_message_len(self.s.cap)
    }

    /// Changes how this side waits (see [`WaitStrategy`]).
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.s.wait = wait;
    }

    /// How this side waits (see [`WaitStrategy`](crate::channel::WaitStrategy)).
    pub fn wait_strategy(&self) -> crate::channel::WaitStrategy {
        self.s.wait
    }

    /// Borrows a slot for `len` bytes and holds it in the producer itself, instead of in a
    /// [`Loan`] borrowing it: the form for bindings (the C API), whose handles keep a loan
    /// across calls, where a borrow cannot reach. Returns the slot's first byte (8-aligned),
    /// writable for `len` bytes. A slot held before is given back unsent first.
    ///
    /// The slot stays the producer's until [`commit_held`](Producer::commit_held),
    /// [`abort_held`](Producer::abort_held), the next loan or send of any form, or the
    /// producer's drop; writing it after that writes where the next message goes.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan_deadline`], with the wait as `deadline` says; nothing is held
    /// after an error.
    #[inline]
    pub fn loan_held(&mut self, len: usize, deadline: Deadline) -> Result<*mut u8> {
        let mut loan = self.loan_until(len, deadline)?;
        let payload = loan.as_mut_ptr();
        let Loan { frame, pad, .. } = loan;
        self.cur.held = Some(HeldLoan { frame, pad, len });
        Ok(payload)
    }

    /// The length of the slot [`loan_held`](Producer::loan_held) holds, if any.
    #[inline]
    pub fn held_loan_len(&self) -> Option<usize> {
        self.cur.held.map(|h| h.len)
    }

    /// Publishes the first `len` bytes of the slot [`loan_held`](Producer::loan_held)
    /// holds (at most its length: more is cut to it, as [`Loan::truncate`] does), as
    /// [`Loan::commit`]; false if no slot is held.
    #[inline]
    pub fn commit_held(&mut self, len: usize) -> bool {
        let Some(h) = self.cur.held.take() else {
            return false;
        };
        self.publish(h.frame, h.pad, h.len.min(len));
        true
    }

    /// Gives the slot [`loan_held`](Producer::loan_held) holds back unsent, as dropping a
    /// [`Loan`] does; false if none is held.
    #[inline]
    pub fn abort_held(&mut self) -> bool {
        self.cur.held.take().is_some()
    }

    #[inline]
    pub(crate) fn loan_until(&mut self, len: usize, deadline: Deadline) -> Result<Loan<'_>> {
        // A slot `loan_held` holds is given back: this loan is the same slot.
        self.cur.held = None;
        if len > self.max_message_len() {
            return Err(self.too_long(len));
        }
        let Producer { s, cur } = self;
        cur.wanted = len;
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
                found?.expect("until returns Ok only once there is room")
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

    /// The error of a message over [`Producer::max_message_len`]; out of line, off the
    /// loan's path.
    #[cold]
    #[inline(never)]
    fn too_long(&self, len: usize) -> Error {
        Error::size(
            self.name(),
            format!(
                "a message of {len} bytes is over this channel's maximum of {}",
                self.max_message_len()
            ),
        )
    }

    /// Publishes the `len`-byte message written in the slot at ring offset `frame`, after
    /// `pad` bytes of padding: what [`Loan::commit`] does.
    #[inline]
    fn publish(&mut self, frame: usize, pad: usize, len: usize) {
        let p = self;
        let s = &p.s;
        let size = frame_size(len);
        let next = (frame + size) & (s.cap - 1);
        // The next frame's header must read "not yet" before this one is published (the room
        // for it was checked by `place`); Relaxed, ordered by the Release store below.
        header(s, next).store(0, Ordering::Relaxed);
        // SYNC POINT: Release publishes the payload (and the zeroed next header) to the
        // consumer's Acquire load of this header word.
        header(s, frame).store(encode(len, KIND_MESSAGE), publish());
        if pad > 0 {
            // Published last: the consumer reaches the message only through the pad.
            let at = (p.cur.write as usize) & (s.cap - 1);
            header(s, at).store(encode(pad, KIND_PAD), publish());
        }
        p.cur.write = p.cur.write.wrapping_add((pad + size) as u64);
        p.s.mine.pos().store(p.cur.write, Ordering::Relaxed);
        p.cur.sent = p.cur.sent.wrapping_add(1);
        // Statistics only, in this side's own line: a plain store (`layout`, "Counters").
        p.s.mine
            .count()
            .store(p.cur.sent, std::sync::atomic::Ordering::Relaxed);
        p.cur.bytes = p.cur.bytes.wrapping_add(len as u64);
        p.s.mine
            .bytes()
            .store(p.cur.bytes, std::sync::atomic::Ordering::Relaxed);
        // The bell's SeqCst fence orders the header store before its sleeper check.
        p.s.peer_bell.ring();
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

    /// Like [`Self::loan`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::loan_timeout`].
    pub fn loan_deadline(&mut self, len: usize, deadline: std::time::Instant) -> Result<Loan<'_>> {
        self.loan_until(len, Deadline::At(deadline))
    }

    pub(crate) fn send_until(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        let mut loan = self.loan_until(msg.len(), deadline)?;
        loan.copy_from_slice(msg);
        loan.commit();
        Ok(())
    }

    /// Copies `msg` into the ring and publishes it, waiting for room.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan`].
    pub fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.send_until(msg, Deadline::Forever)
    }

    /// [`Producer::send`] without waiting.
    ///
    /// # Errors
    ///
    /// As [`Producer::try_loan`].
    pub fn try_send(&mut self, msg: &[u8]) -> Result<()> {
        self.send_until(msg, Deadline::Try)
    }

    /// [`Producer::send`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Producer::loan_timeout`].
    pub fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<()> {
        self.send_until(msg, Deadline::after(timeout))
    }

    /// Like [`Self::send`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::send_timeout`].
    pub fn send_deadline(&mut self, msg: &[u8], deadline: std::time::Instant) -> Result<()> {
        self.send_until(msg, Deadline::At(deadline))
    }
}

impl crate::wait::Sealed for Producer {
    fn point(&self) -> crate::wait::Point<'_> {
        self.s.my_bell.point(Some(self.s.peer.side(&self.s.obj)))
    }

    /// Room for a message as long as the latest `loan` or `send` asked for (8 bytes before
    /// the first), or the consumer gone: so a `try_send` of that length right after does not
    /// say `WouldBlock`. (A longer one may.)
    fn ready(&self) -> bool {
        let s = &self.s;
        let need = frame_size(self.cur.wanted);
        let off = (self.cur.write as usize) & (s.cap - 1);
        let pad = if need <= s.cap - off { 0 } else { s.cap - off };
        let total = (pad + need + FRAME_HEADER) as u64;
        // SYNC POINT: Acquire, as in `reload_fits` (which `loan` runs again).
        let read = s.peer.pos().load(Ordering::Acquire);
        // A position out of range is ready too: `loan` reports it as `Corrupt`.
        fits(self.cur.write, read, total, s.cap)
            || self.cur.write.wrapping_sub(read) > s.cap as u64
            || layout::peer_gone(&s.obj, &s.peer, false)
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
        atomic_shim::wrote(self.payload(), self.cap_len);
        self.payload()
    }

    /// Shrinks the message to `len` bytes (at most the loaned length) before committing.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Publishes the message to the consumer.
    #[inline]
    pub fn commit(self) {
        let Loan {
            p, frame, pad, len, ..
        } = self;
        p.publish(frame, pad, len);
    }
}

impl Deref for Loan<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        atomic_shim::read(self.payload(), self.cap_len);
        // SAFETY: the slot lies past the last published frame; the consumer reads only
        // published frames and the header word before this payload, so this producer
        // (borrowed mutably by the loan) is the payload's only user until commit.
        unsafe { std::slice::from_raw_parts(self.payload(), self.cap_len) }
    }
}

impl DerefMut for Loan<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        atomic_shim::wrote(self.payload(), self.cap_len);
        // SAFETY: as in `deref`; `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.payload(), self.cap_len) }
    }
}
