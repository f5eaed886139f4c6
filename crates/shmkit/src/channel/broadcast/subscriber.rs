//! The receiving side: [`Subscriber`] and the [`Sample`] it reads in place. The protocol is in
//! the module docs of [`broadcast`](super); the SYNC POINTs here name their partners.

use std::ops::Deref;
use std::time::Duration;

use super::layout::{entry, index, oldest, slot, Geometry, CHECKING, FREE, MAX_COUNT, NONE};
use super::publisher::{dekker_fence, Side};
use super::Policy;
use crate::atomic_copy;
use crate::atomic_shim::{self, Ordering};
use crate::channel::layout::{peer_gone, Line};
use crate::channel::MessageLayout;
use crate::channel::WaitStrategy;
use crate::liveness::{self, Claim, Clock};
use crate::object::Object;
use crate::sys::Deadline;
use crate::wait::{self, Bell, Peer};
use crate::{Error, Result};

/// A subscriber of a broadcast channel.
#[derive(Debug)]
pub struct Subscriber {
    pub(super) obj: Object,
    pub(super) g: Geometry,
    pub(super) line: Line,
    pub(super) data: Bell,
    pub(super) space: Bell,
    /// This subscriber's entry in the table.
    pub(super) index: usize,
    /// The next message to receive (while one is held, the held one).
    pub(super) next: u64,
    /// The message [`Subscriber::recv_held`] holds: its sequence number, payload and length.
    pub(super) held: Option<(u64, *const u8, usize)>,
    /// Messages received and lost since joining: the entry's counters (`Entry::counters`).
    pub(super) received: u64,
    pub(super) lost: u64,
    pub(super) wait: WaitStrategy,
    /// This subscriber's entry (given back on drop).
    pub(super) claim: Option<Claim>,
    pub(super) clock: Clock,
}

// SAFETY: as for Publisher: shared state is reached through atomics and the slot protocol.
// The held message's payload pointer points into this subscriber's own mapping, which moves
// with it.
unsafe impl Send for Subscriber {}

/// A received message, read in place from its slot; released when dropped.
///
/// Every subscriber reads the same bytes: nothing is copied per subscriber. While a sample
/// lives, the publisher does not write its slot: under back-pressure it waits for the release
/// (as for a subscriber that has not read the message yet), under overwrite it skips the
/// slot. Hold a sample briefly: under back-pressure the publisher can get at most a ring
/// ahead of it, and under overwrite a held slot is one slot less in the ring. A sample that
/// is leaked (`mem::forget`) is never released: the next `recv` returns its message again
/// (or, under overwrite, reports it lost).
///
/// It dereferences to `&[u8]` over the slot. A cooperating publisher never writes it while
/// the sample lives; a process outside the protocol that can write the segment could, which
/// Rust calls undefined behaviour for a live `&[u8]`. When the publisher is not trusted, use
/// [`Subscriber::recv_into`], which copies without making a reference (see the
/// [trust model](crate#trust-model)).
#[derive(Debug)]
pub struct Sample<'a> {
    s: &'a mut Subscriber,
    seq: u64,
    payload: *const u8,
    len: usize,
}

/// A subscriber's view of the shared state, borrowed apart from its position.
struct Reader<'a> {
    obj: &'a Object,
    g: &'a Geometry,
    line: &'a Line,
    space: &'a Bell,
    index: usize,
}

/// What a look at message `r` found (`Reader::see`).
enum Seen {
    /// Not published yet.
    Empty,
    /// The publisher is deciding whether it may overwrite the message's slot.
    Deciding,
    /// Complete in `slot`, `len` bytes.
    Ready {
        slot: usize,
        len: usize,
    },
    /// Lost: the oldest message that may still be there.
    Lost(u64),
    Corrupt(String),
}

/// What one attempt to take a message found.
enum Hold {
    Empty,
    /// Message `seq` is held in `slot`, `len` bytes.
    Got {
        seq: u64,
        slot: usize,
        len: usize,
    },
    Lagged(u64),
}

impl Reader<'_> {
    fn overwrite(&self) -> bool {
        self.g.policy == Policy::Overwrite
    }

    /// One attempt to hold message `*next`: `Got` leaves it held until [`Reader::release`].
    /// Losses found on the way are reported together: after a skip the next message is
    /// looked at too (a few times at most), and only a message that is there ends the skip.
    fn try_hold(&self, next: &mut u64) -> Result<Hold> {
        let start = *next;
        let mut r = start;
        for _ in 0..4 {
            let seen = self.look_decided(r);
            match seen {
                Seen::Lost(to) => r = to,
                Seen::Ready { .. } if r != start => {
                    // Report the loss first; this message is taken by the next attempt.
                    self.let_go();
                    break;
                }
                Seen::Empty | Seen::Deciding if r == start => return Ok(Hold::Empty),
                Seen::Ready { slot, len } => return Ok(Hold::Got { seq: r, slot, len }),
                Seen::Corrupt(reason) if r == start => return Err(self.corrupt(reason)),
                Seen::Empty | Seen::Deciding | Seen::Corrupt(_) => break,
            }
        }
        Ok(self.skip_to(next, r))
    }

    /// [`Reader::look`], waiting a little for a publisher found deciding whether it may
    /// overwrite message `r`: it decides within a few loads, so a message a wait set has just
    /// reported ready is not turned into `WouldBlock` by a publisher passing by (a few spins,
    /// then yields, in case it was preempted in the middle). Still deciding after that: the
    /// caller says `WouldBlock` (readiness says not ready then, too).
    fn look_decided(&self, r: u64) -> Seen {
        #[cfg(not(shmkit_loom))]
        const TRIES: u32 = 64;
        #[cfg(shmkit_loom)]
        const TRIES: u32 = 1;
        let mut tries = 0;
        loop {
            let seen = self.look(r);
            if !matches!(seen, Seen::Deciding) || tries == TRIES {
                return seen;
            }
            tries += 1;
            if tries <= 8 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// [`Reader::see`] message `r`, holding it (overwrite policy) if it is there: the
    /// hold stays only for `Ready`.
    fn look(&self, r: u64) -> Seen {
        let held = entry(self.obj, self.index).held();
        let mut holding = false;
        let seen = self.see(r, || {
            if self.overwrite() {
                // SYNC POINT (Dekker, subscriber side): store the held word, SeqCst fence,
                // then load the stamp (in `see`). Pairs with the publisher's marked-stamp
                // store, SeqCst fence, load of the held words (`publisher::place`): either it
                // sees us holding r and skips the slot, or we see its mark (or a later
                // stamp) and back off. Release, as the store of NONE in `release`: a
                // publisher that reads this value instead of that NONE still sees our reads
                // of the message we let go before.
                held.store(r, Ordering::Release);
                dekker_fence(Side::Subscriber);
                holding = true;
            }
        });
        if holding && !matches!(seen, Seen::Ready { .. }) {
            self.let_go();
        }
        seen
    }

    /// Stops holding (overwrite policy).
    fn let_go(&self) {
        if self.overwrite() {
            // SYNC POINT: Release pairs with the publisher's Acquire load of the held words
            // (`publisher::held`): our reads of the payload happen before it rewrites it.
            entry(self.obj, self.index)
                .held()
                .store(NONE, Ordering::Release);
        }
    }

    /// What the count, the index entry and the slot's stamp say of message `r`. `hold` runs
    /// between the count's load and the index entry's (the overwrite policy's Dekker store),
    /// and only if the count is past `r` and less than a ring ahead. Readiness
    /// (`Sealed::ready`) asks this without holding, so a wait set reports a subscriber ready
    /// exactly when `try_recv` would return something other than `WouldBlock` (up to a
    /// publisher moving on in between).
    fn see(&self, r: u64, hold: impl FnOnce()) -> Seen {
        // SYNC POINT: Acquire pairs with the publisher's SeqCst store of the count: the
        // index entries and stamps of the messages before it are visible.
        let w = self.line.pos().load(Ordering::Acquire);
        if w >= MAX_COUNT {
            return Seen::Corrupt(format!("its count of {w} messages is impossible"));
        }
        if r >= w {
            return Seen::Empty;
        }
        let slots = self.g.slots as u64;
        if self.overwrite() && w - r > slots {
            return Seen::Lost(oldest(w, slots));
        }
        hold();
        // SYNC POINT: Acquire pairs with the Release store of the entry in `Loan::commit`.
        let c = index(self.obj, self.g, r).load(Ordering::Acquire);
        let Some(c) = usize::try_from(c).ok().filter(|&c| c < self.g.slots) else {
            return Seen::Corrupt(format!("message {r} is in slot {c} of {slots}"));
        };
        let s = slot(self.obj, self.g, c);
        // SYNC POINT: Acquire pairs with the publisher's Release store of the complete stamp
        // (`Loan::commit`), of a stamp given back, or of its mark (`place`): the payload and
        // length are visible.
        let s1 = s.stamp().load(Ordering::Acquire);
        // r < w < 2^62: no overflow.
        let done = 2 * r + 2;
        // The publisher is deciding whether message r's slot is free (a subscriber may hold
        // r): not lost yet. It decides within a few loads, then takes the slot (whose commit
        // rings) or gives the stamp back (and rings). If it died before deciding, it never
        // touched the payload (the kernel says whether it is gone: a system call, on this
        // rare path only).
        let deciding = s1 == CHECKING | done && !peer_gone(self.obj, self.line, true);
        if deciding {
            return Seen::Deciding;
        }
        if s1 & !CHECKING == done {
            let len = s.len().load(Ordering::Relaxed) as usize;
            if len > self.g.slot_size {
                return Seen::Corrupt(format!(
                    "message {r} claims {len} bytes in a {}-byte slot",
                    self.g.slot_size
                ));
            }
            return Seen::Ready { slot: c, len };
        }
        // A stamp the publisher can have written by now: it stores the count before the
        // stamps of the next message, with Release, so the count loaded after the stamp is
        // at least that message's. Beyond that, or before r, no publisher wrote it. (A
        // marked stamp of another message: r was overwritten before it.)
        let w = self.line.pos().load(Ordering::Acquire).min(MAX_COUNT);
        let base = s1 & !CHECKING;
        if base > done && base <= 2 * w + 2 {
            // Message r was overwritten or is being overwritten: gone for good.
            return Seen::Lost(oldest(w, slots).max(r + 1));
        }
        Seen::Corrupt(format!(
            "slot {c} of message {r} has stamp {s1}, which no publisher of {w} messages writes"
        ))
    }

    /// Lets go of message `seq`, held by `try_hold`: the next one to receive is `seq + 1`.
    fn release(&self, next: &mut u64, seq: u64) {
        self.let_go();
        self.advance(next, seq + 1);
    }

    fn corrupt(&self, reason: String) -> Error {
        Error::Corrupt {
            name: self.obj.name().to_owned(),
            reason,
        }
    }

    /// Moves past lost messages to `to`. If the count does not show a lap yet, there is
    /// nothing to skip: report empty, and the next attempt looks again.
    fn skip_to(&self, next: &mut u64, to: u64) -> Hold {
        if to <= *next {
            return Hold::Empty;
        }
        let missed = to - *next;
        self.advance(next, to);
        Hold::Lagged(missed)
    }

    fn advance(&self, next: &mut u64, to: u64) {
        *next = to;
        // SYNC POINT: SeqCst; the publisher's SeqCst scan sees it (`room`: under
        // back-pressure our reads of the messages before `to` happen before it rewrites
        // them), and the space bell's check is ordered after it.
        entry(self.obj, self.index)
            .next()
            .store(to, Ordering::SeqCst);
        self.space.ring();
    }
}

impl Subscriber {
    /// The channel's name.
    pub fn name(&self) -> &str {
        self.obj.name()
    }

    /// What happens to a subscriber that falls a whole ring behind.
    pub fn policy(&self) -> Policy {
        self.g.policy
    }

    /// The largest message (the slot size the publisher created the channel with).
    pub fn max_message_len(&self) -> usize {
        self.g.slot_size
    }

    /// How many message slots the ring has.
    pub fn slots(&self) -> usize {
        self.g.slots
    }

    /// How many subscribers the channel has places for.
    pub fn max_subscribers(&self) -> usize {
        self.g.max_subs
    }

    /// Changes how this side waits (see [`WaitStrategy`](crate::channel::WaitStrategy)).
    pub fn set_wait_strategy(&mut self, wait: crate::channel::WaitStrategy) {
        self.wait = wait;
    }

    /// How this side waits (see [`WaitStrategy`](crate::channel::WaitStrategy)).
    pub fn wait_strategy(&self) -> crate::channel::WaitStrategy {
        self.wait
    }

    /// The sequence number of the next message this subscriber receives: the count of
    /// messages published before it, since the channel was created. A subscriber starts at
    /// the count when it joined, so on a channel whose publisher is gone this is how many
    /// messages it published.
    pub fn next_seq(&self) -> u64 {
        // A held message is released by the next receive, which gets the one after it.
        self.held.map_or(self.next, |(seq, _, _)| seq + 1)
    }

    /// Receives the next message in place and holds it in the subscriber itself, instead of
    /// in a [`Sample`] borrowing it: the form for bindings (the C API), as
    /// [`Consumer::recv_held`](crate::channel::Consumer::recv_held) is the channel's (the
    /// channel module's "Held forms, for bindings"). Returns the message's first byte and
    /// its length. A message held before is released first.
    ///
    /// The slot stays held (the publisher does not write it) until
    /// [`release_held`](Subscriber::release_held), the next receive of any form, or the
    /// subscriber's drop.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv_deadline`], with the wait as `deadline` says; nothing is held
    /// after an error.
    pub fn recv_held(&mut self, deadline: Deadline) -> Result<(*const u8, usize)> {
        // Not dropped: the subscriber keeps what the sample's drop would release.
        let sample = std::mem::ManuallyDrop::new(self.recv_until(deadline)?);
        let (seq, payload, len) = (sample.seq, sample.payload, sample.len);
        self.held = Some((seq, payload, len));
        Ok((payload, len))
    }

    /// The message [`recv_held`](Subscriber::recv_held) holds, if any: its first byte and
    /// its length.
    pub fn held(&self) -> Option<(*const u8, usize)> {
        self.held.map(|(_, payload, len)| (payload, len))
    }

    /// The sequence number of the message [`recv_held`](Subscriber::recv_held) holds, if
    /// any.
    pub fn held_seq(&self) -> Option<u64> {
        self.held.map(|(seq, _, _)| seq)
    }

    /// Releases the message [`recv_held`](Subscriber::recv_held) holds, as dropping a
    /// [`Sample`] does; false if none is held.
    pub fn release_held(&mut self) -> bool {
        let Some((seq, _, _)) = self.held.take() else {
            return false;
        };
        self.release_msg(seq);
        true
    }

    /// This subscriber's view of the shared state.
    fn reader(&self) -> Reader<'_> {
        Reader {
            obj: &self.obj,
            g: &self.g,
            line: &self.line,
            space: &self.space,
            index: self.index,
        }
    }

    /// Lets go of message `seq`, held by a sample or by `recv_held`: what dropping a
    /// [`Sample`] does.
    fn release_msg(&mut self, seq: u64) {
        let mut next = self.next;
        self.reader().release(&mut next, seq);
        self.next = next;
        self.received = self.received.wrapping_add(1);
        // Statistics only, in our own entry (whose `next` was just stored): a plain store.
        entry(&self.obj, self.index).counters()[0]
            .store(self.received, std::sync::atomic::Ordering::Relaxed);
    }

    /// The message layout the broadcast records: `Some` for one created typed (or
    /// [`create_publisher_with_layout`](super::Options::create_publisher_with_layout)), `None` for bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the mapping cannot be read (it always can).
    pub fn message_layout(&self) -> Result<Option<MessageLayout>> {
        MessageLayout::read_record(&self.obj, super::layout::RECORD)
    }

    pub(crate) fn recv_until(&mut self, deadline: Deadline) -> Result<Sample<'_>> {
        if self.held.is_some() {
            self.release_held();
        }
        let hold = {
            let Subscriber {
                obj,
                g,
                line,
                data,
                space,
                index,
                next,
                wait,
                clock,
                ..
            } = self;
            let reader = Reader {
                obj,
                g,
                line,
                space,
                index: *index,
            };
            let mut outcome = reader.try_hold(next)?;
            if let Hold::Empty = outcome {
                let mut err = None;
                wait::until(
                    obj.name(),
                    Some(Peer {
                        side: line.side(obj),
                        clock,
                    }),
                    data,
                    wait.backoff(),
                    deadline,
                    // A message appears when the publisher's count moves.
                    Some(line.pos()),
                    // `until` may ask again after a success; taking a message holds it,
                    // so answer from what was already taken.
                    || {
                        if !matches!(outcome, Hold::Empty) || err.is_some() {
                            return true;
                        }
                        match reader.try_hold(next) {
                            Ok(Hold::Empty) => false,
                            Ok(h) => {
                                outcome = h;
                                true
                            }
                            Err(e) => {
                                err = Some(e);
                                true
                            }
                        }
                    },
                )?;
                if let Some(e) = err {
                    return Err(e);
                }
            }
            outcome
        };
        match hold {
            Hold::Got { seq, slot: c, len } => Ok(Sample {
                payload: slot(&self.obj, &self.g, c).payload(),
                seq,
                len,
                s: self,
            }),
            Hold::Lagged(missed) => {
                self.lost = self.lost.wrapping_add(missed);
                // Statistics only, in our own entry: a plain store (`layout`, "Counters").
                entry(&self.obj, self.index).counters()[1]
                    .store(self.lost, std::sync::atomic::Ordering::Relaxed);
                Err(Error::Lagged {
                    name: self.obj.name().to_owned(),
                    missed,
                })
            }
            Hold::Empty => unreachable!("until returns Ok only once a message was taken"),
        }
    }

    /// Receives the next message in place, waiting as long as it takes. The sample holds
    /// the message until dropped (one at a time: it borrows the subscriber).
    ///
    /// ```
    /// use shmkit::channel::broadcast;
    /// # let name = format!("doc-bcast-recv-{}", std::process::id());
    /// let mut publ = broadcast::options().slot_size(64).create_publisher(&name)?;
    /// let mut a = broadcast::options().open_subscriber(&name)?;
    /// let mut b = broadcast::options().open_subscriber(&name)?;
    /// publ.send(b"to all")?;
    /// let (sa, sb) = (a.recv()?, b.recv()?); // both read the one slot in place
    /// assert_eq!((&*sa, &*sb), (&b"to all"[..], &b"to all"[..]));
    /// # Ok::<(), shmkit::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Lagged`] (overwrite policy) when messages were lost — the next call continues
    /// with the oldest message still available; [`Error::Disconnected`] once the publisher is
    /// gone and everything it published was received; [`Error::Corrupt`] if the segment
    /// holds what no publisher writes.
    pub fn recv(&mut self) -> Result<Sample<'_>> {
        self.recv_until(Deadline::Forever)
    }

    /// Like [`Subscriber::recv`], without waiting: [`Error::WouldBlock`] if nothing is new.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv`], and `WouldBlock`.
    pub fn try_recv(&mut self) -> Result<Sample<'_>> {
        self.recv_until(Deadline::Try)
    }

    /// Like [`Subscriber::recv`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv`], and `Timeout`.
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

    fn recv_into_until(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<usize> {
        let sample = self.recv_until(deadline)?;
        buf.clear();
        atomic_shim::read(sample.payload, sample.len);
        // SAFETY: the payload's `len` bytes lie inside the slot (checked by `try_hold`), and
        // the protocol keeps the publisher away from them while the sample holds them; a
        // writer outside the protocol can only make the copied bytes wrong.
        unsafe { atomic_copy::load_unshared_vec(sample.payload, sample.len, buf) };
        Ok(sample.len)
    }

    /// Copies the next message into `buf` (cleared first) and returns its length, waiting as
    /// long as it takes.
    ///
    /// The copy-out path: no reference to the shared bytes is ever made, so a publisher that
    /// is not trusted can at worst put wrong bytes in `buf` (see the
    /// [trust model](crate#trust-model)).
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv`].
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        self.recv_into_until(buf, Deadline::Forever)
    }

    /// [`Subscriber::recv_into`] without waiting: [`Error::WouldBlock`] if nothing is new.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv_into`], and `WouldBlock`.
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        self.recv_into_until(buf, Deadline::Try)
    }

    /// [`Subscriber::recv_into`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv_into`], and `Timeout`.
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
}

#[cfg(all(shmkit_loom, test))]
impl Subscriber {
    /// Ends this subscriber as SIGKILL ends its process: the kernel's hold on its entry goes
    /// (the segment's descriptor closes), and nothing else runs — the entry's word still says
    /// it is there, and any sample it held stays marked held.
    pub(crate) fn vanish(mut self) {
        self.claim = None;
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        if let Some(claim) = self.claim.take() {
            let e = entry(&self.obj, self.index);
            liveness::release(&self.obj.segment, claim, e.word(), FREE, 0);
        }
        self.space.ring();
    }
}

impl crate::wait::Sealed for Subscriber {
    fn point(&self) -> crate::wait::Point<'_> {
        self.data.point(Some(self.line.side(&self.obj)))
    }

    /// Exactly when `try_recv` would return something other than `WouldBlock`: the next
    /// message is there, lost (a lag under overwrite) or corrupt, or the publisher closed.
    fn ready(&self) -> bool {
        // Past a message `recv_held` holds: the next receive releases it.
        !matches!(
            self.reader().see(self.next_seq(), || {}),
            Seen::Empty | Seen::Deciding
        ) || peer_gone(&self.obj, &self.line, false)
    }
}

impl Sample<'_> {
    /// The message's length in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The message's sequence number: how many messages the publisher sent before it.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub(crate) fn channel_name(&self) -> &str {
        self.s.name()
    }

    /// Copies the message's first `dst.len()` bytes (all of it if `dst` is longer) into `dst`
    /// without making a reference to the slot, and returns how many it copied: the copy-out
    /// path for a peer that is not trusted (a write by a process outside the protocol can only
    /// make the copied bytes wrong; see the crate's "Trust model"). Bindings use it.
    pub fn copy_to(&self, dst: &mut [u8]) -> usize {
        let n = self.len.min(dst.len());
        let dst = &mut dst[..n];
        atomic_shim::read(self.payload, dst.len());
        // SAFETY: as in `Subscriber::recv_into`: the payload's `len` bytes lie inside the
        // slot (checked by `try_hold`), the protocol keeps the publisher away from them while
        // the sample holds them, and `dst` is this process's own memory. A plain copy, as in
        // `recv_into` (see `copy`'s notes): a writer outside the protocol, in another process,
        // can only make the copied bytes wrong.
        unsafe { std::ptr::copy_nonoverlapping(self.payload, dst.as_mut_ptr(), dst.len()) };
        n
    }
}

impl Sample<'_> {
    /// The message's first byte, valid for [`len`](Sample::len) bytes while the sample lives;
    /// no reference to the slot is made (bindings hand this pointer to C).
    pub fn as_ptr(&self) -> *const u8 {
        self.payload
    }
}

impl Deref for Sample<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        atomic_shim::read(self.payload, self.len);
        // SAFETY: `len <= slot_size` bytes of the slot's payload (checked by `try_hold`),
        // inside the mapping. The message is held until this sample is dropped: under
        // back-pressure the publisher does not write the slot before our `next` passes it,
        // under overwrite it skips a slot whose message a live subscriber holds.
        unsafe { std::slice::from_raw_parts(self.payload, self.len) }
    }
}

impl Drop for Sample<'_> {
    fn drop(&mut self) {
        self.s.release_msg(self.seq);
    }
}
