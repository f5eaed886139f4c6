//! The publishing side: [`Publisher`] and its zero-copy [`Loan`]. The protocol is in the
//! module docs of [`broadcast`](super); the SYNC POINTs here name their partners.

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use super::layout::{entry, index, slot, sub_slot, Geometry, ACTIVE, CHECKING, FREE, NONE};
use super::Policy;
use crate::atomic_shim::{self, fence, Ordering};
use crate::channel::layout::{self as chan, Line, Role};
use crate::channel::WaitStrategy;
use crate::liveness::{self, Claim, Clock};
use crate::object::Object;
use crate::sys::Deadline;
use crate::wait::{self, Bell};
use crate::{Error, Result};

/// What the publisher shares with the wait loop: the mapping and its words.
#[derive(Debug)]
struct Ring {
    obj: Object,
    g: Geometry,
    line: Line,
    data: Bell,
    space: Bell,
}

/// The publisher's private state.
#[derive(Debug)]
struct Cursor {
    /// The sequence number of the next message.
    write: u64,
    /// The slowest subscriber's position when last scanned (back-pressure only).
    min_cache: u64,
    /// The slot the next message goes to (under overwrite it moves past held slots).
    at: usize,
    /// The message each slot holds, [`NONE`] if none a subscriber could read.
    in_slot: Vec<u64>,
    /// Rate-limits the liveness tests of lagging or holding subscribers.
    clock: Clock,
    /// Messages overwritten before every attached subscriber had received them (overwrite
    /// policy; the line's counter, `channel::layout`).
    overwritten: u64,
    /// Payload bytes published (the line's byte counter, `channel::layout`).
    bytes: u64,
    /// A lower bound of every attached subscriber's position (`count_overwrite`).
    unread_below: u64,
    /// The slot [`Publisher::loan_held`] holds and its length, if any.
    held: Option<(usize, usize)>,
}

/// The publishing side of a broadcast channel.
#[derive(Debug)]
pub struct Publisher {
    ring: Ring,
    cur: Cursor,
    wait: WaitStrategy,
    /// The publisher role (given back on drop).
    claim: Option<Claim>,
}

// SAFETY: all shared state is reached through atomics or the slot protocol; nothing is tied
// to a thread.
unsafe impl Send for Publisher {}

/// A wait set (and an async `loan`) waits on the space bell, as a blocking `loan` does,
/// as a plain bell: a publisher has no one peer whose death makes it ready (a dead
/// subscriber is evicted by the readiness test itself, at the wait set's liveness ticks).
impl crate::wait::Sealed for Publisher {
    fn point(&self) -> crate::wait::Point<'_> {
        self.ring.space.point(None)
    }

    /// Whether `try_loan` would find a slot now (for any length up to the slot size): under
    /// back-pressure, every live subscriber has released the message a ring back; under
    /// overwrite, some slot's message is held by no live subscriber. Subscribers due a
    /// liveness test are tested and evicted if gone, as `try_loan` does. A subscriber may take
    /// hold of a message between this answer and the `try_loan` (overwrite), as with
    /// `poll(2)`: loan with the `try_` form and loop.
    fn ready(&self) -> bool {
        let (ring, cur) = (&self.ring, &self.cur);
        match ring.g.policy {
            Policy::Block => {
                let mut min = cur.min_cache;
                room(&ring.obj, &ring.g, cur.write, &mut min, &cur.clock)
            }
            Policy::Overwrite => {
                let mut test = None;
                cur.in_slot
                    .iter()
                    .any(|&j| j == NONE || !held(&ring.obj, &ring.g, j, &mut test, &cur.clock))
            }
        }
    }
}

/// A slot to write the next message in place, from [`Publisher::loan`]. Fill it, then
/// [`Loan::commit`]; dropping it without committing publishes nothing.
///
/// It dereferences to `&mut [u8]` over the slot. The protocol gives the slot to the publisher
/// alone until the commit: no subscriber holds the message that was in it, and one that tries
/// sees the slot's "being written" stamp and backs off before touching the payload.
#[derive(Debug)]
#[must_use = "a loan publishes nothing until commit()"]
pub struct Loan<'a> {
    p: &'a mut Publisher,
    slot: usize,
    len: usize,
    cap_len: usize,
    committed: bool,
}

impl Publisher {
    pub(super) fn new(
        obj: Object,
        g: Geometry,
        bells: (Bell, Bell),
        claim: Claim,
        wait: WaitStrategy,
    ) -> Publisher {
        let (data, space) = bells;
        space.forget_sleepers();
        #[cfg(shmkit_loom)]
        super::layout::prime(&obj, &g);
        Publisher {
            cur: Cursor {
                write: 0,
                min_cache: 0,
                at: 0,
                in_slot: vec![NONE; g.slots],
                clock: Clock::default(),
                overwritten: 0,
                bytes: 0,
                unread_below: 0,
                held: None,
            },
            ring: Ring {
                line: Line::of(&obj, Role::Producer),
                obj,
                g,
                data,
                space,
            },
            wait,
            claim: Some(claim),
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        self.ring.obj.name()
    }

    /// The largest message.
    pub fn max_message_len(&self) -> usize {
        self.ring.g.slot_size
    }

    /// How many message slots the ring has.
    pub fn slots(&self) -> usize {
        self.ring.g.slots
    }

    /// How many subscribers the channel has places for.
    pub fn max_subscribers(&self) -> usize {
        self.ring.g.max_subs
    }

    /// What happens to a subscriber that falls a whole ring behind.
    pub fn policy(&self) -> Policy {
        self.ring.g.policy
    }

    /// Changes how this side waits (see [`WaitStrategy`](crate::channel::WaitStrategy)).
    pub fn set_wait_strategy(&mut self, wait: crate::channel::WaitStrategy) {
        self.wait = wait;
    }

    /// How this side waits (see [`WaitStrategy`](crate::channel::WaitStrategy)).
    pub fn wait_strategy(&self) -> crate::channel::WaitStrategy {
        self.wait
    }

    /// How many messages this publisher has published (committed) since the channel was
    /// created: the sequence number the next one gets.
    pub fn published(&self) -> u64 {
        self.cur.write
    }

    /// How many subscribers are attached now: live holders of an entry. Entries whose holder
    /// is gone (as the kernel says) are freed on the way. A system call per subscriber.
    pub fn subscribers(&self) -> usize {
        let obj = &self.ring.obj;
        (0..self.ring.g.max_subs)
            .filter(|&i| {
                let e = entry(obj, i);
                let seen = e.word().load(Ordering::Acquire);
                if liveness::unpack(seen).0 != ACTIVE {
                    return false;
                }
                if liveness::holder_alive(&obj.segment, sub_slot(i), seen) {
                    return true;
                }
                liveness::evict(e.word(), seen, FREE);
                false
            })
            .count()
    }

    /// Waits until at least `n` subscribers are attached (as [`Publisher::subscribers`]
    /// counts them) and returns how many are. Subscribers joining ring no bell, so this
    /// polls: every 100 µs at first, backing off to 10 ms.
    ///
    /// A subscriber is counted from the moment the publisher must respect it, which is a
    /// moment before it fixes where it starts (the join protocol in `broadcast/mod.rs`): a
    /// message published right after this returns may come before a new subscriber's first
    /// one. When a subscriber must see everything from some message on, have it say so (a
    /// first message it answers, an [`Event`](crate::sync::Event)), or compare its
    /// [`Subscriber::next_seq`](super::Subscriber::next_seq) with the messages' sequence.
    ///
    /// ```
    /// use shmkit::channel::broadcast;
    /// # let name = format!("doc-bcast-wait-subs-{}", std::process::id());
    /// let publ = broadcast::options().slot_size(64).create_publisher(&name)?;
    /// let _sub = broadcast::options().open_subscriber(&name)?; // e.g. in another process
    /// assert_eq!(publ.wait_for_subscribers(1)?, 1);
    /// # Ok::<(), shmkit::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// None today (the `Result` is for the forms that give up).
    pub fn wait_for_subscribers(&self, n: usize) -> Result<usize> {
        self.subscribers_until(n, Deadline::Forever)
    }

    /// [`Publisher::wait_for_subscribers`] without waiting.
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`] if fewer than `n` are attached.
    pub fn try_wait_for_subscribers(&self, n: usize) -> Result<usize> {
        self.subscribers_until(n, Deadline::Try)
    }

    /// [`Publisher::wait_for_subscribers`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if fewer than `n` are attached by then.
    pub fn wait_for_subscribers_timeout(&self, n: usize, timeout: Duration) -> Result<usize> {
        self.subscribers_until(n, Deadline::after(timeout))
    }

    /// [`Publisher::wait_for_subscribers`] waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if fewer than `n` are attached by then.
    pub fn wait_for_subscribers_deadline(&self, n: usize, deadline: Instant) -> Result<usize> {
        self.subscribers_until(n, Deadline::At(deadline))
    }

    pub(crate) fn subscribers_until(&self, n: usize, deadline: Deadline) -> Result<usize> {
        deadline
            .poll(|| Some(self.subscribers()).filter(|&count| count >= n))
            .ok_or_else(|| Error::gave_up(self.name(), deadline))
    }

    pub(crate) fn loan_until(&mut self, len: usize, deadline: Deadline) -> Result<Loan<'_>> {
        if self.cur.held.is_some() {
            // This loan takes the held slot's place.
            self.abort_held();
        }
        if len > self.ring.g.slot_size {
            return Err(Error::size(
                self.name(),
                format!(
                    "a message of {len} bytes is over the slot size {}",
                    self.ring.g.slot_size
                ),
            ));
        }
        let Publisher {
            ring, cur, wait, ..
        } = self;
        let slot = match place(ring, cur) {
            Some(c) => c,
            None => {
                let mut found = None;
                // Room appears when any subscriber moves or lets go: no single word to watch.
                wait::until(
                    ring.obj.name(),
                    None,
                    &ring.space,
                    wait.backoff(),
                    deadline,
                    None,
                    || {
                        // `until` may ask again after a success: answer from the slot taken.
                        if found.is_none() {
                            found = place(ring, cur);
                        }
                        found.is_some()
                    },
                )?;
                found.expect("until returns Ok only once a slot was taken")
            }
        };
        Ok(Loan {
            p: self,
            slot,
            len,
            cap_len: len,
            committed: false,
        })
    }

    /// Borrows the slot of the next message and holds it in the publisher itself, instead
    /// of in a [`Loan`] borrowing it: the form for bindings (the C API), as
    /// [`Producer::loan_held`](crate::channel::Producer::loan_held) is the channel's (the
    /// channel module's "Held forms, for bindings"). Returns the slot's payload
    /// (`PAYLOAD_ALIGN`-aligned), writable for `len` bytes. A slot held before is given back
    /// unsent first.
    ///
    /// The slot stays the publisher's until [`commit_held`](Publisher::commit_held),
    /// [`abort_held`](Publisher::abort_held), the next loan or send of any form, or the
    /// publisher's drop.
    ///
    /// # Errors
    ///
    /// As [`Publisher::loan_deadline`], with the wait as `deadline` says; nothing is held
    /// after an error.
    pub fn loan_held(&mut self, len: usize, deadline: Deadline) -> Result<*mut u8> {
        // Not dropped: the publisher keeps the slot the loan's drop would give back.
        let mut loan = std::mem::ManuallyDrop::new(self.loan_until(len, deadline)?);
        let (slot, payload) = (loan.slot, loan.as_mut_ptr());
        self.cur.held = Some((slot, len));
        Ok(payload)
    }

    /// The length of the slot [`loan_held`](Publisher::loan_held) holds, if any.
    pub fn held_loan_len(&self) -> Option<usize> {
        self.cur.held.map(|(_, len)| len)
    }

    /// Publishes the first `len` bytes of the slot [`loan_held`](Publisher::loan_held) holds
    /// (at most its length: more is cut to it, as [`Loan::truncate`] does), as
    /// [`Loan::commit`]; false if no slot is held.
    pub fn commit_held(&mut self, len: usize) -> bool {
        let Some((slot, held_len)) = self.cur.held.take() else {
            return false;
        };
        self.publish(slot, held_len.min(len));
        true
    }

    /// Gives the slot [`loan_held`](Publisher::loan_held) holds back unsent, as dropping a
    /// [`Loan`] does; false if none is held.
    pub fn abort_held(&mut self) -> bool {
        let Some((slot, _)) = self.cur.held.take() else {
            return false;
        };
        self.give_back(slot);
        true
    }

    /// Publishes the `len`-byte message written in `slot`: what [`Loan::commit`] does.
    fn publish(&mut self, slot_index: usize, len: usize) {
        let Publisher { ring, cur, .. } = self;
        let (obj, g) = (&ring.obj, &ring.g);
        let k = cur.write;
        let s = slot(obj, g, slot_index);
        s.len().store(len as u32, Ordering::Relaxed);
        // SYNC POINT: Release, paired with the reader's Acquire load of the index entry: a
        // reader that sees this entry also sees the odd stamp `place` stored in that slot, so
        // it cannot take the slot's older complete stamp for the message it wants.
        index(obj, g, k).store(slot_index as u64, Ordering::Release);
        // SYNC POINT: Release publishes the payload, length and index entry to a reader's
        // Acquire load of this stamp (`Reader::try_hold`).
        s.stamp().store(2 * k + 2, Ordering::Release);
        cur.in_slot[slot_index] = k;
        cur.at = (slot_index + 1) % g.slots;
        cur.write = k + 1;
        // SYNC POINT: SeqCst publish; pairs with subscribers' Acquire loads of the count (and
        // with their SeqCst join protocol); the bell's fence orders it before the sleeper
        // check.
        ring.line.pos().store(cur.write, Ordering::SeqCst);
        cur.bytes = cur.bytes.wrapping_add(len as u64);
        // Statistics only, in the publisher's own line: a plain store.
        ring.line
            .bytes()
            .store(cur.bytes, std::sync::atomic::Ordering::Relaxed);
        ring.data.ring();
    }

    /// Gives `slot` back unsent: what dropping a [`Loan`] does. Nothing is published; the
    /// slot keeps its odd stamp (its old message may be half overwritten) and is the first
    /// tried for the next message.
    fn give_back(&mut self, slot: usize) {
        self.cur.in_slot[slot] = NONE;
        self.cur.at = slot;
    }

    /// Borrows the slot of the next message, `len` bytes to write in place, waiting as long
    /// as it takes: under back-pressure for the slowest live subscriber to release the
    /// message a ring back; under overwrite only if every slot is held by a subscriber.
    ///
    /// ```
    /// use shmkit::channel::broadcast;
    /// # let name = format!("doc-bcast-loan-{}", std::process::id());
    /// let mut publ = broadcast::options().slot_size(64).create_publisher(&name)?;
    /// let mut sub = broadcast::options().open_subscriber(&name)?;
    /// let mut loan = publ.loan(5)?;
    /// loan.copy_from_slice(b"hello");
    /// loan.commit();
    /// assert_eq!(&*sub.recv()?, b"hello");
    /// # Ok::<(), shmkit::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`] over the slot size.
    pub fn loan(&mut self, len: usize) -> Result<Loan<'_>> {
        self.loan_until(len, Deadline::Forever)
    }

    /// Like [`Publisher::loan`], without waiting: [`Error::WouldBlock`] if there is no slot.
    ///
    /// # Errors
    ///
    /// As [`Publisher::loan`], and `WouldBlock`.
    pub fn try_loan(&mut self, len: usize) -> Result<Loan<'_>> {
        self.loan_until(len, Deadline::Try)
    }

    /// Like [`Publisher::loan`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Publisher::loan`], and `Timeout`.
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

    /// Copies `msg` into the next slot and publishes it to every subscriber (a loan, a copy,
    /// a commit).
    ///
    /// # Errors
    ///
    /// As [`Publisher::loan`].
    pub fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.send_until(msg, Deadline::Forever)
    }

    /// [`Publisher::send`] without waiting: [`Error::WouldBlock`] if there is no slot.
    ///
    /// # Errors
    ///
    /// As [`Publisher::send`], and `WouldBlock`.
    pub fn try_send(&mut self, msg: &[u8]) -> Result<()> {
        self.send_until(msg, Deadline::Try)
    }

    /// [`Publisher::send`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Publisher::send`], and `Timeout`.
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

impl Drop for Publisher {
    fn drop(&mut self) {
        if let Some(claim) = self.claim.take() {
            chan::detach(&self.ring.obj, Role::Producer, claim, &self.ring.data);
        }
    }
}

/// Takes a slot for message `cur.write`, if one is free now, and marks it "being written"
/// (stamp `2k + 1`); `None` leaves every stamp as it was.
fn place(ring: &Ring, cur: &mut Cursor) -> Option<usize> {
    let (obj, g) = (&ring.obj, &ring.g);
    let k = cur.write;
    match g.policy {
        Policy::Block => {
            if !room(obj, g, k, &mut cur.min_cache, &cur.clock) {
                return None;
            }
            // Every live subscriber has released message k - slots, the last one here; the
            // odd stamp is for a reader that is not live any more, and for inspection.
            // Release: a reader that sees it sees the count that goes with it.
            slot(obj, g, cur.at)
                .stamp()
                .store(2 * k + 1, Ordering::Release);
            Some(cur.at)
        }
        Policy::Overwrite => {
            // One liveness tick for the whole pass, so that every holder found on it is
            // tested (a long-lived live holder probed first cannot use up the tick).
            let mut test = None;
            for _ in 0..g.slots {
                let c = cur.at;
                let stamp = slot(obj, g, c).stamp();
                let j = cur.in_slot[c];
                // SYNC POINT (Dekker, publisher side): mark the slot's stamp "deciding whether
                // to overwrite message j" (`CHECKING | 2j + 2`), SeqCst fence, then look for
                // a holder of j. Pairs with the subscriber's store of its held word, SeqCst
                // fence, load of this stamp (`subscriber::Reader::see`): at least one of the
                // two sees the other. Release, so a reader that sees the mark also sees the
                // count of messages before it (`see` checks stamps against the count). A
                // slot with no message a subscriber could read (`j == NONE`) needs no mark.
                let mark = if j == NONE { 2 * k + 1 } else { checking(j, k) };
                stamp.store(mark, Ordering::Release);
                dekker_fence(Side::Publisher);
                if j == NONE || !held(obj, g, j, &mut test, &cur.clock) {
                    // Decided: message j is overwritten (a reader that sees this odd stamp
                    // reports it lost; one that saw the mark looks again).
                    stamp.store(2 * k + 1, Ordering::Release);
                    if j != NONE {
                        count_overwrite(ring, cur, j, k);
                    }
                    return Some(c);
                }
                // A live subscriber holds message j: give the slot its stamp back (Release:
                // a reader that sees it again also sees j's bytes, which were not touched)
                // and skip it. Another reader of j that saw the mark backed off without
                // calling j lost, and may be asleep: ring, so it looks again now (no system
                // call when nobody sleeps).
                stamp.store(2 * j + 2, Ordering::Release);
                ring.data.ring();
                cur.at = (c + 1) % g.slots;
            }
            None
        }
    }
}

/// Whether a live subscriber holds message `j` (overwrite policy). The held words are read
/// after the caller's SeqCst fence; a match is confirmed by the entry's role word (a stale
/// held word of a departed subscriber does not count), and a holder due a liveness test that
/// the kernel says is gone is evicted.
/// `test` is the pass's liveness tick: `None` until a holder needs it, then whether a test
/// was due.
fn held(obj: &Object, g: &Geometry, j: u64, test: &mut Option<bool>, clock: &Clock) -> bool {
    for i in 0..g.max_subs {
        let e = entry(obj, i);
        // SYNC POINT: Acquire pairs with the subscriber's Release store of NONE when it lets
        // go (`Reader::release`): its reads of the payload happen before our writes.
        if e.held().load(Ordering::Acquire) != j {
            continue;
        }
        let seen = e.word().load(Ordering::Acquire);
        if liveness::unpack(seen).0 != ACTIVE {
            continue;
        }
        if *test.get_or_insert_with(|| clock.due(Instant::now()))
            && !liveness::holder_alive(&obj.segment, sub_slot(i), seen)
        {
            // Evict the dead holder — unless a new subscriber took its place since `seen`.
            liveness::evict(e.word(), seen, FREE);
            continue;
        }
        return true;
    }
    false
}

/// The overwrite policy's `overwritten` counter: whether overwriting message `j` (to write
/// message `k`) takes it from an attached subscriber that has not received it yet (its
/// `next` is at or before `j`). `cur.unread_below` is a lower bound of every attached
/// subscriber's `next`: positions only grow, and a subscriber that joins starts at the count,
/// which is at least `k` of the scan that set the bound. So the entries are scanned only when
/// `j` reaches the bound: once per ring of messages while every subscriber keeps up, on every
/// overwrite while one lags (when messages are being lost anyway). Statistics: Relaxed loads
/// that order nothing; a subscriber moving meanwhile may be counted either way.
fn count_overwrite(ring: &Ring, cur: &mut Cursor, j: u64, k: u64) {
    if j < cur.unread_below {
        return;
    }
    let mut min = k;
    let mut test = None;
    for i in 0..ring.g.max_subs {
        let e = entry(&ring.obj, i);
        let seen = e.word().load(Ordering::Acquire);
        if liveness::unpack(seen).0 != ACTIVE {
            continue;
        }
        let next = e.next().load(Ordering::Relaxed);
        // A subscriber a whole ring behind may be dead (killed while holding nothing, so
        // `held` never meets it): tested as `room` tests one, when a test is due, and
        // evicted if gone, else its frozen position would count every later message as
        // overwritten and keep this scan running on every send.
        if k.saturating_sub(next) >= ring.g.slots as u64
            && *test.get_or_insert_with(|| cur.clock.due(Instant::now()))
            && !liveness::holder_alive(&ring.obj.segment, sub_slot(i), seen)
        {
            liveness::evict(e.word(), seen, FREE);
            continue;
        }
        min = min.min(next);
    }
    cur.unread_below = min;
    if j >= min {
        cur.overwritten += 1;
        // In the publisher's own line: a plain store (`channel::layout`, "Counters").
        ring.line
            .count()
            .store(cur.overwritten, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether message `write` may be written: under back-pressure, every live subscriber has
/// released everything a ring back (subscribers whose holder is gone are evicted on the way).
/// `min_cache` is the slowest position seen at the last scan; scanning only happens when it
/// says there is no room. Lagging subscribers are tested for liveness (a system call each)
/// only when `clock` says a test is due, so a publisher spinning under back-pressure tests
/// each at most once per `liveness::CHECK_EVERY`.
fn room(obj: &Object, g: &Geometry, write: u64, min_cache: &mut u64, clock: &Clock) -> bool {
    let slots = g.slots as u64;
    if write - *min_cache < slots {
        return true;
    }
    // SYNC POINT (join, publisher side): the count stored by the last commit, SeqCst fence,
    // then the entries' words. Pairs with a joining subscriber's ACTIVE store, SeqCst fence,
    // load of the count (`Options::subscribe_as`): either this scan sees it ACTIVE, or it
    // starts at a count that includes every message published before the scan. (The
    // SeqCst accesses alone order this in the C++ model; the fences make it an argument
    // about fences, which loom checks — it models SeqCst accesses as AcqRel.)
    fence(Ordering::SeqCst);
    let mut min = write;
    let mut test = None;
    for i in 0..g.max_subs {
        let e = entry(obj, i);
        // SYNC POINT: SeqCst, pairs with a joining subscriber's SeqCst stores.
        let seen = e.word().load(Ordering::SeqCst);
        if liveness::unpack(seen).0 != ACTIVE {
            continue;
        }
        // SYNC POINT: SeqCst (so Acquire) pairs with the subscriber's SeqCst store of `next`
        // when it releases a message: its reads happen before our writes.
        let next = e.next().load(Ordering::SeqCst).min(write);
        if write - next >= slots
            && *test.get_or_insert_with(|| clock.due(Instant::now()))
            && !liveness::holder_alive(&obj.segment, sub_slot(i), seen)
        {
            // Evict the dead subscriber — unless a new one took its place since `seen`.
            liveness::evict(e.word(), seen, FREE);
            continue;
        }
        min = min.min(next);
    }
    *min_cache = min;
    write - min < slots
}

/// The stamp stored while the publisher looks for a holder of message `j` before it writes
/// message `k` in its slot: `j`'s complete stamp marked [`CHECKING`]. (A loom negative test
/// stores the plain odd stamp of `k` instead, as before issue 19, to check that the spurious
/// loss the mark prevents is caught.)
#[inline(always)]
fn checking(j: u64, k: u64) -> u64 {
    #[cfg(shmkit_loom)]
    if atomic_shim::model::mutated(atomic_shim::model::Mutation::NoCheckingMark) {
        return 2 * k + 1;
    }
    let _ = k;
    CHECKING | (2 * j + 2)
}

/// Which side of the Dekker protocol a fence is on (for the loom negative tests).
#[derive(Clone, Copy)]
pub(super) enum Side {
    Publisher,
    Subscriber,
}

/// The SeqCst fence of the Overwrite Dekker protocol on `side`. Normally just the fence; a
/// loom negative test drops one side's to check that loom catches it.
#[inline(always)]
pub(super) fn dekker_fence(side: Side) {
    #[cfg(shmkit_loom)]
    {
        use crate::atomic_shim::model::{mutated, Mutation};
        let dropped = match side {
            Side::Publisher => Mutation::NoPublisherFence,
            Side::Subscriber => Mutation::NoSubscriberFence,
        };
        if mutated(dropped) {
            return;
        }
    }
    let _ = side;
    fence(Ordering::SeqCst);
}

impl Loan<'_> {
    fn payload(&self) -> *mut u8 {
        slot(&self.p.ring.obj, &self.p.ring.g, self.slot).payload()
    }

    /// The start of the slot's payload (`PAYLOAD_ALIGN`-aligned), for the typed layer to
    /// write an uninitialised value in place.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        atomic_shim::wrote(self.payload(), self.cap_len);
        self.payload()
    }

    /// Shrinks the message to `len` bytes (at most the loaned length) before committing.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Publishes the message to every subscriber.
    pub fn commit(mut self) {
        self.p.publish(self.slot, self.len);
        self.committed = true;
    }
}

impl Drop for Loan<'_> {
    fn drop(&mut self) {
        if !self.committed {
            self.p.give_back(self.slot);
        }
    }
}

impl Deref for Loan<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        atomic_shim::read(self.payload(), self.cap_len);
        // SAFETY: `cap_len <= slot_size` bytes of the slot's payload, inside the mapping. The
        // slot protocol gives this slot to the publisher (borrowed mutably by the loan) until
        // commit: no subscriber holds its old message, and none reads the payload of a slot
        // whose stamp is not the complete stamp of the message it wants (see `place`).
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
