//! Liveness: who holds a role of an object, told by the kernel — never by a bare pid.
//!
//! A pid is not a liveness test. In containers that share `/dev/shm` but not a pid namespace
//! (Kubernetes pods with a memory-backed `/dev/shm`, `docker run --ipc=container:…`), a
//! peer's pid means nothing or names another process; and pids are reused. So every holder
//! of a role holds something the kernel gives up when the process dies, and others test it
//! without taking it. Which thing, per OS, and what it survives: the table in the
//! [crate docs](crate#liveness), written once there.
//!
//! Each object also counts its *users* — every handle of it, in any role — by a shared OFD
//! lock on slot [`slot::USERS`] (Linux). `shmkit gc` removes an object only after taking that
//! slot exclusively, which it gets only if no handle in any process has the object open, and
//! which keeps new openers out until the name is gone (an opener that loses that race gets
//! `NotFound`). On Windows a named mapping exists only while some process has it open, so an
//! object that can be seen is in use. macOS cannot tell.
//!
//! # The role word
//!
//! Beside the kernel's record, each role has a word in the segment, read by everyone:
//! `state u8 | generation u24 << 8 | pid u32 << 32`. The pid is for display only. The
//! generation goes up by one with every claim, so a word never repeats: a compare-exchange on
//! the exact word seen — taking over a dead holder's place, evicting a dead subscriber,
//! releasing one's own role — cannot succeed against a successor that happens to have the
//! same pid (as two processes in two pid namespaces may).
//!
//! Claiming (`claim`): take the kernel's hold on the slot (Linux: the exclusive lock, which
//! fails if a live handle has it; Windows: the event of the next generation); if the word says
//! the role is held, ask the kernel whether its holder is alive (on Linux our own lock makes
//! that "no"); then compare-exchange the word seen for our own, retrying on a change.
//! Releasing (`release`): compare-exchange our own word for the released state — never a
//! blind store, so a successor is never clobbered — then give up the kernel's hold. Testing a
//! peer costs a system call, so callers rate-limit it with a [`Clock`]: at most one test per
//! handle per [`CHECK_EVERY`].
//!
//! # Transient refusals
//!
//! Two refusals can be an instant old, so [`claim`] looks again twice, 1 ms apart, before it
//! calls a place taken: on Linux, a lock held by a handle whose word does not say it holds
//! the role (it is between its word and its lock: releasing, or claiming); on Windows, a dead
//! holder's event that a tester has open for the instant of its test.
//!
//! # fork
//!
//! A child forked without `exec` (shmkit opens everything close-on-exec) shares its parent's
//! open file descriptions, so it shares the parent's OFD locks. When such a child drops its
//! copy of a handle, nothing is given back (`release_word` checks the claimant's pid, which
//! names the process in any namespace it runs in): the role stays the parent's. While the
//! child runs, a parent that died leaves its roles held.

use crate::atomic_shim::{AtomicU64, Ordering};
use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::sys::{self, role};
use crate::{Result, Segment};

/// How often a waiting side tests whether its peer is still there (a peer that dies without
/// closing is noticed within about this long).
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(50);

/// The role slots of an object: the byte each role locks (Linux) or names its event by
/// (Windows).
pub(crate) mod slot {
    /// Every handle of the object, shared.
    pub(crate) const USERS: u32 = 0;
    /// The creator's handle.
    pub(crate) const CREATOR: u32 = 1;
    /// A channel's producer, a broadcast's publisher.
    pub(crate) const PRODUCER: u32 = 2;
    /// A channel's consumer.
    pub(crate) const CONSUMER: u32 = 3;
    /// A service's server.
    pub(crate) const SERVER: u32 = 4;
    /// Broadcast subscriber `i` is slot `SUBSCRIBER + i`.
    pub(crate) const SUBSCRIBER: u32 = 16;
    /// Service client slot `i` is slot `CLIENT + i` (slots are bytes of one segment, and a
    /// segment is either a broadcast or a service, so this range may be the subscribers').
    pub(crate) const CLIENT: u32 = 16;
}

const GEN_MASK: u32 = (1 << 24) - 1;

/// A role word: `state | generation << 8 | pid << 32` (state and generation masked to 8 and
/// 24 bits).
pub(crate) fn pack(state: u32, gen: u32, pid: u32) -> u64 {
    u64::from(state & 0xff) | u64::from(gen & GEN_MASK) << 8 | u64::from(pid) << 32
}

/// The (state, generation, pid) of a role word.
pub(crate) fn unpack(word: u64) -> (u32, u32, u32) {
    (
        word as u32 & 0xff,
        (word as u32) >> 8 & GEN_MASK,
        (word >> 32) as u32,
    )
}

/// This handle's hold of a role: give it back with [`release`].
#[derive(Debug)]
pub(crate) struct Claim {
    hold: role::Hold,
    /// The role word as this claim last wrote it.
    word: u64,
}

impl Claim {
    /// Moves the role to `state` (keeping generation and pid), if the word is still ours.
    /// Returns whether it was.
    pub(crate) fn set_state(&mut self, word: &AtomicU64, state: u32, order: Ordering) -> bool {
        let (_, gen, pid) = unpack(self.word);
        let new = pack(state, gen, pid);
        let ok = word
            .compare_exchange(self.word, new, order, Ordering::Relaxed)
            .is_ok();
        if ok {
            self.word = new;
        }
        ok
    }
}

/// What [`claim`] found.
pub(crate) enum Claimed {
    /// The role is ours.
    Yes(Claim),
    /// A live process holds it; the pid its word records (for messages only).
    HeldBy(u32),
}

/// Claims role `slot` of the object in `segment`, whose word is `word`, in `state`: free places (`held` says
/// no to their state) and places whose holder is gone are taken over; a place a live holder
/// has is refused. See the module docs for the protocol.
///
/// # Errors
///
/// What the OS reports if it cannot take or test the hold.
pub(crate) fn claim(
    segment: &Segment,
    slot: u32,
    word: &AtomicU64,
    state: u32,
    held: impl Fn(u32) -> bool,
) -> Result<Claimed> {
    let mut attempt = 0;
    loop {
        match claim_once(segment, slot, word, state, &held)? {
            Attempt::Done(c) => return Ok(c),
            // Evidence that may be a moment old (module docs, "Transient refusals"): look
            // again shortly before calling the place taken.
            Attempt::Unsure(_) if attempt < UNSURE_RETRIES => {
                attempt += 1;
                std::thread::sleep(UNSURE_PAUSE);
            }
            Attempt::Unsure(pid) => return Ok(Claimed::HeldBy(pid)),
        }
    }
}

/// How often, and how far apart, [`claim`] looks again at a refusal that may be transient.
const UNSURE_RETRIES: u32 = 2;
const UNSURE_PAUSE: Duration = Duration::from_millis(1);

/// One pass of [`claim`].
enum Attempt {
    Done(Claimed),
    /// Refused, but possibly by something that lasts an instant; the pid in the word.
    Unsure(u32),
}

fn claim_once(
    segment: &Segment,
    slot: u32,
    word: &AtomicU64,
    state: u32,
    held: &impl Fn(u32) -> bool,
) -> Result<Attempt> {
    let (section, name) = (segment.section(), segment.name());
    let me = sys::current_pid();
    let mut hold: Option<role::Hold> = None;
    let mut seen = word.load(Ordering::Acquire);
    loop {
        let (st, gen, pid) = unpack(seen);
        let next = gen.wrapping_add(1) & GEN_MASK;
        if !hold.as_ref().is_some_and(|h| h.fits(next)) {
            if let Some(h) = hold.take() {
                kernel_point(name, slot, true);
                role::release(section, h);
            }
            kernel_point(name, slot, true);
            match role::hold(section, name, slot, next)? {
                Some(h) => hold = Some(h),
                // Linux: another handle has the lock. If its word does not say it holds the
                // role, it is between its word and its lock (releasing, or claiming).
                None if !held(word.load(Ordering::Acquire) as u32 & 0xff) => {
                    return Ok(Attempt::Unsure(pid))
                }
                None => return Ok(Attempt::Done(Claimed::HeldBy(pid))),
            }
        }
        if held(st) && {
            kernel_point(name, slot, false);
            role::holder_alive(section, name, slot, gen, pid)
        } {
            if let Some(h) = hold {
                kernel_point(name, slot, true);
                role::release(section, h);
            }
            // Windows: a tester's handle keeps a dead holder's event for an instant.
            return Ok(if cfg!(windows) {
                Attempt::Unsure(pid)
            } else {
                Attempt::Done(Claimed::HeldBy(pid))
            });
        }
        let mine = pack(state, next, me);
        // SYNC POINT: AcqRel pairs with other claimants, with `release` and with an eviction
        // (`evict`). It succeeds only if the word is still exactly `seen`; on failure, look
        // again at what changed.
        match word.compare_exchange(seen, mine, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                return Ok(Attempt::Done(Claimed::Yes(Claim {
                    hold: hold.expect("a hold was taken above"),
                    word: mine,
                })))
            }
            Err(now) => seen = now,
        }
    }
}

/// Gives role `claim` of the object in `segment` back: its word becomes `state` with `pid` — if it is still
/// the word this claim wrote (never clobbering a successor) — then the kernel's hold goes.
/// In a process forked from the claimant, nothing happens (see [`release_word`]).
pub(crate) fn release(segment: &Segment, claim: Claim, word: &AtomicU64, state: u32, pid: u32) {
    if let Some(hold) = release_word(claim, word, state, pid) {
        role::release(segment.section(), hold);
    }
}

/// The first half of [`release`], for a caller without the object at hand: sets the word and
/// returns the kernel's hold. Dropping that hold closes it on Windows; on Linux the lock goes
/// when the segment's descriptor closes, which such a caller is about to do.
///
/// `None`, touching nothing, in a process that is not the claimant: a child forked (without
/// `exec`) from it, dropping its copy of the handle. The word and the lock (which parent and
/// child share through the open file description) are the parent's, which still holds the
/// role.
pub(crate) fn release_word(
    claim: Claim,
    word: &AtomicU64,
    state: u32,
    pid: u32,
) -> Option<role::Hold> {
    let (_, gen, claimant) = unpack(claim.word);
    if claimant != sys::current_pid() {
        return None;
    }
    // SYNC POINT: Release for everything the holder did before; pairs with the Acquire loads
    // of peers and claimants.
    let _ = word.compare_exchange(
        claim.word,
        pack(state, gen, pid),
        Ordering::AcqRel,
        Ordering::Relaxed,
    );
    Some(claim.hold)
}

/// Whether the holder recorded in role word `seen` of `slot` of the object open as `segment`
/// is still there (a system call). Any handle of the segment may ask, an inspecting one too.
pub(crate) fn holder_alive(segment: &Segment, slot: u32, seen: u64) -> bool {
    let (_, gen, pid) = unpack(seen);
    kernel_point(segment.name(), slot, false);
    role::holder_alive(segment.section(), segment.name(), slot, gen, pid)
}

/// Under loom, marks the system call about to be made on the kernel's record of `slot`
/// (`atomic_shim::model::kernel`), so that loom orders it against the other handles' calls.
/// Giving a role back (`release`) is not marked: it follows the role word's release, which
/// loom sees, and a tester that reads the released word does not test the kernel.
#[inline(always)]
fn kernel_point(name: &str, slot: u32, write: bool) {
    #[cfg(shmkit_loom)]
    crate::atomic_shim::model::kernel(name, slot, write);
    #[cfg(not(shmkit_loom))]
    let _ = (name, slot, write);
}

/// Frees the place of a holder found dead: the word becomes `state` (pid 0, same generation)
/// unless it changed since `seen` — a new holder keeps it.
pub(crate) fn evict(word: &AtomicU64, seen: u64, state: u32) -> bool {
    let (_, gen, _) = unpack(seen);
    #[cfg(shmkit_loom)]
    if crate::atomic_shim::model::mutated(crate::atomic_shim::model::Mutation::BlindEvict) {
        word.store(pack(state, gen, 0), Ordering::Release);
        return true;
    }
    word.compare_exchange(
        seen,
        pack(state, gen, 0),
        Ordering::AcqRel,
        Ordering::Relaxed,
    )
    .is_ok()
}

/// When a handle last tested its peers, so that tests are rate-limited per handle across
/// calls: a caller polling with `try_*` or short timeouts still notices a peer that died
/// without closing, and a busy caller pays for at most one test per [`CHECK_EVERY`].
#[derive(Debug, Default)]
pub(crate) struct Clock {
    next_check: Cell<Option<Instant>>,
}

impl Clock {
    /// Whether a test is due at `now` (the first call on a handle always says yes); if so,
    /// the next one is due `CHECK_EVERY` later.
    pub(crate) fn due(&self, now: Instant) -> bool {
        // Under loom every test is due: an execution must not depend on real time.
        if cfg!(shmkit_loom) {
            return true;
        }
        let due = self.next_check.get().is_none_or(|t| now >= t);
        if due {
            self.next_check.set(Some(now + CHECK_EVERY));
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_words_round_trip_and_never_mix_fields() {
        for (state, gen, pid) in [(0, 0, 0), (2, GEN_MASK, u32::MAX), (1, 5, 77), (255, 1, 1)] {
            assert_eq!(unpack(pack(state, gen, pid)), (state, gen, pid));
        }
        // A generation past 24 bits wraps instead of spilling into the pid.
        assert_eq!(unpack(pack(1, GEN_MASK + 1, 9)), (1, 0, 9));
    }
}
