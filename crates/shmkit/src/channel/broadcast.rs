//! 1 → N broadcast: one publisher, up to `max_subscribers` subscribers that join and leave at
//! any time; each sees every message from its join point on.
//!
//! # Design
//!
//! A ring of fixed-size slots (message `k` lives in slot `k % slots`), each stamped like a
//! seqlock: `2k + 1` while message `k` is being written, `2k + 2` once it is complete. A
//! reader copies a slot out and accepts it only if the stamp was `2k + 2` before and after
//! the copy, so a lapped reader can never take a torn or newer message for the one it wanted.
//! Subscribers keep their next sequence number in a table in the header.
//!
//! Two policies for a subscriber that falls a whole ring behind:
//!
//! * [`Policy::Block`] (back-pressure): the publisher waits for the slowest live subscriber
//!   (subscribers whose holder is gone — as the kernel says, see the crate's liveness notes —
//!   are evicted, so they cannot block it forever);
//! * [`Policy::Overwrite`]: the publisher never waits; a lapped subscriber's next `recv` says
//!   exactly how many messages it lost ([`Error::Lagged`]) and continues with the oldest one
//!   still in the ring.
//!
//! Copies: under back-pressure the publisher writes only slots no live subscriber reads any
//! more, so both sides copy with `memcpy`. Under overwrite a lapped subscriber's optimistic
//! copy can race with the publisher rewriting the slot (the seqlock's known race), so both
//! sides copy with atomic accesses there (`copy.rs`), which keeps even a publisher and a
//! subscriber in two threads of one process free of data races; the torn copy is discarded.
//!
//! ```text
//! offset  what
//!      0  object header; params = [slots, slot size, max subscribers | policy << 32]
//!     64  publisher attachment: a role word u64 (`crate::liveness`; kernel slot 2)
//!    128  publisher line: published count u64 | data doorbell (subscribers sleep here)
//!    256  space doorbell (the publisher sleeps here under back-pressure)
//!    384  subscriber table: 64 bytes each: role word u64 (kernel slot 16 + i), next
//!         sequence u64
//!      …  slots: stamp u64, len u32, 4 bytes padding, payload; stride a multiple of 64
//! ```

use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::layout::{self, Doorbell, Line, Peer, Role};
use super::WaitMode;
use crate::copy;
use crate::liveness::{self, slot, Claim, Claimed, Clock};
use crate::object::{creation_setters, Creation, Kind, Object};
use crate::sys::Deadline;
use crate::{Error, Result};

const TABLE: usize = 384;
const ENTRY: usize = 64;
const SLOT_HEADER: usize = 16;
const FREE: u32 = 0;
const ACTIVE: u32 = 1;
/// Being claimed: the publisher ignores it; nobody else reclaims it while its holder lives.
const JOINING: u32 = 2;

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
    wait: WaitMode,
    how: Creation,
}

/// Options for a broadcast channel: 64 slots of 4 KiB, 16 subscribers, back-pressure, mode
/// 0600, removed when the publisher is dropped.
///
/// There is no open-or-create: only [`Options::create`] makes a publisher (a publisher cannot
/// attach to an existing channel), and a subscriber that created the channel would wait for a
/// publisher that can never attach.
pub fn options() -> Options {
    Options {
        slots: 64,
        slot_size: 4096,
        max_subscribers: 16,
        policy: Policy::Block,
        wait: WaitMode::Adaptive,
        how: Creation::default(),
    }
}

struct Geometry {
    slots: usize,
    slot_size: usize,
    /// Bytes from one slot to the next: header and payload, rounded up to a cache line.
    stride: usize,
    max_subs: usize,
    /// Offset of the first slot (the end of the subscriber table).
    slots_at: usize,
    /// Bytes of the whole segment.
    len: usize,
    policy: Policy,
}

impl Geometry {
    /// The layout for these parameters, if they are all non-zero and the segment's size is
    /// representable (slot sizes and subscriber counts are stored as 32-bit values). All
    /// arithmetic is checked: the parameters may come from a segment another process wrote.
    fn new(slots: usize, slot_size: usize, max_subs: usize, policy: Policy) -> Option<Geometry> {
        if slots == 0 || slot_size == 0 || max_subs == 0 {
            return None;
        }
        u32::try_from(slot_size).ok()?;
        u32::try_from(max_subs).ok()?;
        let stride = SLOT_HEADER
            .checked_add(slot_size)?
            .checked_next_multiple_of(64)?;
        let slots_at = max_subs.checked_mul(ENTRY)?.checked_add(TABLE)?;
        let len = slots.checked_mul(stride)?.checked_add(slots_at)?;
        (len <= isize::MAX as usize).then_some(Geometry {
            slots,
            slot_size,
            stride,
            max_subs,
            slots_at,
            len,
            policy,
        })
    }

    fn from_params(name: &str, p: [u64; 3], total: u64) -> Result<Geometry> {
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
    pub fn wait_mode(&mut self, wait: WaitMode) -> &mut Self {
        self.wait = wait;
        self
    }

    /// Creates the broadcast channel `name`; returns its publisher.
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`] for zero slots, slot size or subscribers; else as
    /// [`Segment::create`](crate::Segment::create).
    pub fn create(&self, name: &str) -> Result<Publisher> {
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
        let policy = match self.policy {
            Policy::Block => 0u64,
            Policy::Overwrite => 1,
        };
        let params = [
            g.slots as u64,
            g.slot_size as u64,
            g.max_subs as u64 | policy << 32,
        ];
        let (obj, ((data, space), claim)) =
            Object::create(name, self.how, Kind::Broadcast, g.len, params, |o| {
                let bells = Doorbell::pair(o, true)?;
                Ok((bells, layout::attach(o, Role::Producer)?))
            })?;
        Ok(Publisher {
            claim: Some(claim),
            clock: Clock::default(),
            write: 0,
            min_cache: 0,
            line: Line::of(&obj, Role::Producer),
            data,
            space,
            g,
            wait: self.wait,
            obj,
        })
    }

    /// Joins the broadcast channel `name` as a subscriber: it receives every message published
    /// from now on.
    ///
    /// # Errors
    ///
    /// `NotFound`, `KindMismatch`, `Corrupt`, `VersionMismatch`, and [`Error::Full`] if all
    /// subscriber places are taken by live processes.
    pub fn subscribe(&self, name: &str) -> Result<Subscriber> {
        let (obj, header) = Object::open(name, Kind::Broadcast, TABLE + ENTRY)?;
        let g = Geometry::from_params(name, header.params, header.total_len)?;
        let line = Line::of(&obj, Role::Producer);
        let (data, space) = Doorbell::pair(&obj, false)?;
        for i in 0..g.max_subs {
            let e = entry(&obj, i);
            // Free, or held (or being joined) by a holder that is gone.
            let held = |state| state != FREE;
            let Claimed::Yes(mut claim) =
                liveness::claim(&obj, sub_slot(i), e.word(), JOINING, held)?
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
            if !claim.set_state(e.word(), ACTIVE, Ordering::SeqCst) {
                // Taken from under us: only if we were judged gone (pid liveness, macOS).
                liveness::release(&obj, claim, e.word(), FREE, 0);
                continue;
            }
            let start = line.pos().load(Ordering::SeqCst);
            e.next().store(start, Ordering::SeqCst);
            return Ok(Subscriber {
                index: i,
                next: start,
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

/// One subscriber's entry in the table.
struct Entry(*const u8);

impl Entry {
    /// The entry's `state | pid << 32` word.
    fn word(&self) -> &AtomicU64 {
        // SAFETY: entries are 64-byte aligned inside the mapping (checked geometry); the
        // mapping outlives the Entry (it is made and used within a method of its owner).
        unsafe { &*self.0.cast::<AtomicU64>() }
    }
    fn next(&self) -> &AtomicU64 {
        // SAFETY: as above, offset 8 (8-byte aligned).
        unsafe { &*self.0.add(8).cast::<AtomicU64>() }
    }
}

/// The roles of a broadcast segment of `len` bytes whose header has `params`, for inspection:
/// the publisher and every subscriber entry that fits in the segment.
pub(crate) fn roles(params: [u64; 3], len: usize) -> Vec<layout::RoleAt> {
    let mut roles = layout::roles();
    roles.truncate(1); // the publisher is the producer side
    roles[0].label = "publisher".to_owned();
    let max = (params[2] as u32 as usize).min(len.saturating_sub(TABLE) / ENTRY);
    roles.extend((0..max).map(|i| layout::RoleAt {
        label: format!("subscriber {i}"),
        slot: sub_slot(i),
        offset: TABLE + i * ENTRY,
        held: |s| s != FREE,
    }));
    roles
}

/// The liveness slot of subscriber entry `i`.
fn sub_slot(i: usize) -> u32 {
    slot::SUBSCRIBER.wrapping_add(i as u32)
}

fn entry(obj: &Object, i: usize) -> Entry {
    Entry(obj.ptr(TABLE + i * ENTRY))
}

fn slot(obj: &Object, g: &Geometry, seq: u64) -> (*const AtomicU64, *mut u8) {
    let at = g.slots_at + (seq % g.slots as u64) as usize * g.stride;
    let p = obj.ptr(at);
    // SAFETY: the slot lies inside the mapping (geometry checked against its length).
    (p.cast(), unsafe { p.add(8) })
}

/// Whether message `write` may be written: under back-pressure, every live subscriber is
/// less than a ring behind (subscribers whose holder is gone are evicted on the way).
/// `min_cache` is the slowest position seen at the last scan; scanning only happens when it
/// says there is no room. Lagging subscribers are tested for liveness (a system call each)
/// only when `clock` says a test is due, so a publisher spinning under back-pressure tests
/// each at most once per `liveness::CHECK_EVERY`.
fn room(obj: &Object, g: &Geometry, write: u64, min_cache: &mut u64, clock: &Clock) -> bool {
    if g.policy == Policy::Overwrite {
        return true;
    }
    let slots = g.slots as u64;
    if write - *min_cache < slots {
        return true;
    }
    let mut min = write;
    let mut test = None;
    for i in 0..g.max_subs {
        let e = entry(obj, i);
        // SYNC POINT: SeqCst, pairs with a joining subscriber's SeqCst stores.
        let seen = e.word().load(Ordering::SeqCst);
        if liveness::unpack(seen).0 != ACTIVE {
            continue;
        }
        let next = e.next().load(Ordering::SeqCst).min(write);
        if write - next >= slots
            && *test.get_or_insert_with(|| clock.due(Instant::now()))
            && !liveness::holder_alive(obj, sub_slot(i), seen)
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

/// The publishing side of a broadcast channel.
#[derive(Debug)]
pub struct Publisher {
    obj: Object,
    g: Geometry,
    line: Line,
    data: Doorbell,
    space: Doorbell,
    write: u64,
    /// The slowest subscriber's position when last scanned (back-pressure only).
    min_cache: u64,
    wait: WaitMode,
    /// The publisher role (given back on drop).
    claim: Option<Claim>,
    /// Rate-limits the liveness tests of lagging subscribers.
    clock: Clock,
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

// SAFETY: all shared state is reached through atomics or the slot protocol; nothing is tied
// to a thread.
unsafe impl Send for Publisher {}

impl Publisher {
    /// The channel's name.
    pub fn name(&self) -> &str {
        self.obj.name()
    }

    /// The largest message.
    pub fn max_message_len(&self) -> usize {
        self.g.slot_size
    }

    fn send_until(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        if msg.len() > self.g.slot_size {
            return Err(Error::size(
                self.name(),
                format!(
                    "a message of {} bytes is over the slot size {}",
                    msg.len(),
                    self.g.slot_size
                ),
            ));
        }
        let Publisher {
            obj,
            g,
            space,
            write,
            min_cache,
            wait,
            clock,
            ..
        } = self;
        if !room(obj, g, *write, min_cache, clock) {
            // Room appears when any subscriber moves: no single word to watch.
            layout::wait_for(obj.name(), None, space, *wait, deadline, None, || {
                room(obj, g, *write, min_cache, clock)
            })?;
        }
        let k = self.write;
        let (stamp, body) = slot(&self.obj, &self.g, k);
        // SAFETY: `stamp` is an aligned u64 in the slot.
        let stamp = unsafe { &*stamp };
        // SYNC POINT (seqlock writer): odd stamp, Release fence, data, even stamp (Release).
        // Readers: stamp (Acquire), data, Acquire fence, stamp again.
        stamp.store(2 * k + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        let racing = self.g.policy == Policy::Overwrite;
        // SAFETY: the slot's length word and payload lie inside the slot; under back-pressure
        // no subscriber reads this slot any more, under overwrite readers may be copying it
        // (atomically) and validate the stamp.
        unsafe {
            copy::store_shared(racing, &(msg.len() as u32).to_ne_bytes(), body);
            copy::store_shared(racing, msg, body.add(8));
        }
        stamp.store(2 * k + 2, Ordering::Release);
        self.write = k + 1;
        // SYNC POINT: SeqCst publish; pairs with subscribers' Acquire loads (and with their
        // SeqCst join protocol); the doorbell's fence orders it before the sleeper check.
        self.line.pos().store(self.write, Ordering::SeqCst);
        self.data.ring();
        Ok(())
    }

    /// Publishes `msg` to every subscriber (waiting for the slowest under back-pressure).
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`] over the slot size.
    pub fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.send_until(msg, Deadline::Forever)
    }

    /// [`Publisher::send`] without waiting: [`Error::WouldBlock`] if a subscriber is a ring behind.
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
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if let Some(claim) = self.claim.take() {
            layout::detach(&self.obj, Role::Producer, claim, &self.data);
        }
    }
}

/// A subscriber of a broadcast channel.
#[derive(Debug)]
pub struct Subscriber {
    obj: Object,
    g: Geometry,
    line: Line,
    data: Doorbell,
    space: Doorbell,
    index: usize,
    next: u64,
    wait: WaitMode,
    /// This subscriber's entry (given back on drop).
    claim: Option<Claim>,
    clock: Clock,
}

// SAFETY: as for Publisher.
unsafe impl Send for Subscriber {}

/// A subscriber's view of the shared state, borrowed apart from its position.
struct Reader<'a> {
    obj: &'a Object,
    g: &'a Geometry,
    line: &'a Line,
    space: &'a Doorbell,
    index: usize,
}

impl Reader<'_> {
    /// One attempt: copy message `*next` into `buf`, or report empty or lapped.
    fn try_read(&self, next: &mut u64, buf: &mut Vec<u8>) -> Result<Read> {
        // SYNC POINT: Acquire pairs with the publisher's SeqCst store of the count.
        let w = self.line.pos().load(Ordering::Acquire);
        let r = *next;
        if r >= w {
            return Ok(Read::Empty);
        }
        let slots = self.g.slots as u64;
        if w - r > slots - 1 && self.g.policy == Policy::Overwrite {
            return Ok(self.skip_to(next, oldest(w, slots)));
        }
        let (stamp, body) = slot(self.obj, self.g, r);
        // SAFETY: an aligned u64 in the slot.
        let stamp = unsafe { &*stamp };
        let s1 = stamp.load(Ordering::Acquire);
        // Wrapping: `r` started from a count another process wrote; a bogus one must end as
        // `Corrupt` below, not as an overflow.
        let done = r.wrapping_mul(2).wrapping_add(2);
        if s1 != done {
            if s1 > done {
                let w = self.line.pos().load(Ordering::Acquire);
                return Ok(self.skip_to(next, oldest(w, slots)));
            }
            return Err(self.corrupt(format!("slot of message {r} has stamp {s1}")));
        }
        let mut len = [0u8; 4];
        let racing = self.g.policy == Policy::Overwrite;
        // SAFETY: the length word lies inside the slot; a copy, validated below.
        unsafe { copy::load_shared(racing, body, &mut len) };
        let len = u32::from_ne_bytes(len) as usize;
        if len > self.g.slot_size {
            return Err(self.corrupt(format!(
                "message {r} claims {len} bytes in a {}-byte slot",
                self.g.slot_size
            )));
        }
        buf.clear();
        // SAFETY: `len` bytes fit in the slot (checked); the copy is accepted only if the
        // stamp did not change meanwhile.
        unsafe { copy::load_shared_vec(racing, body.add(8), len, buf) };
        fence(Ordering::Acquire);
        if stamp.load(Ordering::Relaxed) != s1 {
            buf.clear();
            let w = self.line.pos().load(Ordering::Acquire);
            return Ok(self.skip_to(next, oldest(w, slots)));
        }
        self.advance(next, r + 1);
        Ok(Read::Got(len))
    }

    fn corrupt(&self, reason: String) -> Error {
        Error::Corrupt {
            name: self.obj.name().to_owned(),
            reason,
        }
    }

    /// Moves past lost messages to `to`. If the count does not show a lap yet (a stamp from
    /// the next lap can be seen before the count that goes with it, or a corrupt stamp), there
    /// is nothing to skip: report empty, and the next attempt looks again.
    fn skip_to(&self, next: &mut u64, to: u64) -> Read {
        if to <= *next {
            return Read::Empty;
        }
        let missed = to - *next;
        self.advance(next, to);
        Read::Lagged(missed)
    }

    fn advance(&self, next: &mut u64, to: u64) {
        *next = to;
        // SYNC POINT: SeqCst; the publisher's SeqCst scan sees it, and the space doorbell
        // check is ordered after it.
        entry(self.obj, self.index)
            .next()
            .store(to, Ordering::SeqCst);
        if self.g.policy == Policy::Block {
            self.space.ring();
        }
    }
}

/// The oldest message a lapped subscriber can still read when the count is `w`: the slot of
/// `w - slots` may be being rewritten already. Saturating, because `w` comes from the segment.
fn oldest(w: u64, slots: u64) -> u64 {
    w.saturating_add(1).saturating_sub(slots)
}

/// What one attempt to read found.
enum Read {
    Empty,
    Got(usize),
    Lagged(u64),
}

impl Subscriber {
    /// The channel's name.
    pub fn name(&self) -> &str {
        self.obj.name()
    }

    fn recv_until(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<usize> {
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
        let mut outcome = reader.try_read(next, buf)?;
        if let Read::Empty = outcome {
            let mut err = None;
            layout::wait_for(
                obj.name(),
                Some(Peer { obj, line, clock }),
                data,
                *wait,
                deadline,
                // A message appears when the publisher's count moves.
                Some(line.pos()),
                // `wait_for` may ask again after a success; reading consumes, so answer
                // from what was already read.
                || {
                    if !matches!(outcome, Read::Empty) || err.is_some() {
                        return true;
                    }
                    match reader.try_read(next, buf) {
                        Ok(Read::Empty) => false,
                        Ok(r) => {
                            outcome = r;
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
        match outcome {
            Read::Got(n) => Ok(n),
            Read::Lagged(missed) => Err(Error::Lagged {
                name: obj.name().to_owned(),
                missed,
            }),
            Read::Empty => unreachable!("wait_for returns Ok only once a read succeeded"),
        }
    }

    /// Copies the next message into `buf` (cleared first) and returns its length, waiting as
    /// long as it takes.
    ///
    /// # Errors
    ///
    /// [`Error::Lagged`] (overwrite policy) when messages were lost — the next call continues
    /// with the oldest message still available; [`Error::Disconnected`] once the publisher is
    /// gone and everything it published was read.
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        self.recv_until(buf, Deadline::Forever)
    }

    /// [`Subscriber::recv_into`] without waiting: [`Error::WouldBlock`] if nothing is new.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv_into`], and `WouldBlock`.
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        self.recv_until(buf, Deadline::Try)
    }

    /// [`Subscriber::recv_into`] waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Subscriber::recv_into`], and `Timeout`.
    pub fn recv_into_timeout(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<usize> {
        self.recv_until(buf, Deadline::after(timeout))
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        if let Some(claim) = self.claim.take() {
            let e = entry(&self.obj, self.index);
            liveness::release(&self.obj, claim, e.word(), FREE, 0);
        }
        self.space.ring();
    }
}
