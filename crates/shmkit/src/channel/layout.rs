//! The channel segment: header, the two sides' control lines, the ring — and the per-side
//! state that both processes read: who is attached, and the doorbells sleepers wait on.
//!
//! ```text
//! offset  size  what
//!      0    64  object header (magic, version, kind = channel, length, creator pid, ready,
//!               params = [capacity, message size | align << 32, fingerprint]; both 0 for
//!               a byte channel, see `fingerprint.rs`)
//!     64    16  who is attached: producer word u64 | consumer word u64, each a role word
//!               `state | generation << 8 | pid << 32` (`crate::liveness`; one word, so a
//!               claim is a single compare-exchange); the kernel's record of the holder is
//!               an OFD lock on role slot 2 (producer) / 3 (consumer)
//!     80    48  a typed channel's tag text, for error messages (`fingerprint.rs`)
//!    128   128  producer line: write_pos u64 | data doorbell: seq u32, sleepers u32
//!               (the consumer sleeps on this doorbell)
//!    256   128  consumer line: read_pos u64  | space doorbell: seq u32, sleepers u32
//!               (the producer sleeps on this doorbell)
//!    384   cap  the ring: frames of `len u32, kind u32, payload`, 8-byte aligned
//! ```
//!
//! The two position lines are 128 bytes apart so the producer's and the consumer's hot words
//! never share a cache line (nor an adjacent-line prefetch pair). Attachment words change only
//! on attach and detach, so reading them on every call costs no cache miss.

use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use std::time::Instant;

use super::WaitMode;
use crate::liveness::{self, slot, Claim, Claimed, Clock, CHECK_EVERY as LIVENESS_SLICE};
use crate::sync::object::Object;
use crate::sys::{self, Deadline, SysWaker};
use crate::{Error, Result};
/// Spins of the adaptive wait before it sleeps.
const SPINS: u32 = 2_000;

const ATTACHMENTS: usize = 64;
/// Where a typed channel keeps its tag text (`fingerprint::TAG_ROOM` bytes, up to 128).
pub(crate) const TAG_TEXT: usize = 80;
const _: () = assert!(TAG_TEXT + super::fingerprint::TAG_ROOM <= PRODUCER_LINE);
pub(crate) const PRODUCER_LINE: usize = 128;
pub(crate) const CONSUMER_LINE: usize = 256;
pub(crate) const RING: usize = 384;
const POS: usize = 0;
const SEQ: usize = 8;
const SLEEPERS: usize = 12;

/// The smallest ring shmkit makes.
pub const MIN_CAPACITY: usize = 64;

/// A side's state word.
pub(crate) const DETACHED: u32 = 0;
pub(crate) const ATTACHED: u32 = 1;
pub(crate) const CLOSED: u32 = 2;

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
        Line {
            base: obj.ptr(role.line()),
            attachment: obj.ptr(role.attachment()),
            slot: role.slot(),
        }
    }

    fn u32_at(&self, off: usize) -> &AtomicU32 {
        // SAFETY: lines are 128-byte aligned (page-aligned mapping + 128/256) and `off` is a
        // multiple of 4 below 128; the mapping holds at least RING bytes (checked on create
        // and open) and outlives every Line (they live in the same struct as the Object).
        unsafe { &*self.base.add(off).cast::<AtomicU32>() }
    }

    /// This side's attachment word (a role word, `crate::liveness`).
    pub(crate) fn attachment(&self) -> &AtomicU64 {
        // SAFETY: as in `u32_at`: 64 and 72 are 8-byte aligned offsets inside the mapping.
        unsafe { &*self.attachment.cast::<AtomicU64>() }
    }

    pub(crate) fn pos(&self) -> &AtomicU64 {
        // SAFETY: as in `u32_at`; offset 0 of a 128-byte aligned line is 8-byte aligned.
        unsafe { &*self.base.add(POS).cast::<AtomicU64>() }
    }

    fn seq(&self) -> &AtomicU32 {
        self.u32_at(SEQ)
    }

    fn sleepers(&self) -> &AtomicU32 {
        self.u32_at(SLEEPERS)
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
    match liveness::claim(obj, line.slot, line.attachment(), ATTACHED, |s| {
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
pub(crate) fn detach(obj: &Object, role: Role, claim: Claim, peer_bell: &Doorbell) {
    let line = Line::of(obj, role);
    liveness::release(obj, claim, line.attachment(), CLOSED, sys::current_pid());
    peer_bell.ring();
}

/// Whether the side in `line` is gone: closed, or attached by a holder that is no longer
/// there. With `test` false only the attachment word is read (no system call).
pub(crate) fn peer_gone(obj: &Object, line: &Line, test: bool) -> bool {
    let word = line.attachment().load(Ordering::Acquire);
    match liveness::unpack(word).0 {
        CLOSED => true,
        ATTACHED => test && !liveness::holder_alive(obj, line.slot, word),
        DETACHED => false,
        _ => true, // not a state shmkit writes: treat the peer as gone rather than wait
    }
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

/// The side a waiting handle watches: its object, the side's line, and this handle's clock
/// for rate-limiting liveness tests.
#[derive(Clone, Copy)]
pub(crate) struct Peer<'a> {
    pub(crate) obj: &'a Object,
    pub(crate) line: &'a Line,
    pub(crate) clock: &'a Clock,
}

/// Where one side sleeps until the other rings: a sequence word, a sleeper count, and the
/// OS waker (futex on the sequence word; a named semaphore on Windows).
///
/// Sleeping side: `sleepers += 1`, SeqCst fence, read `seq`, check the condition, sleep on
/// `seq` if it still holds, `sleepers -= 1`. Ringing side: change the state the condition
/// reads, SeqCst fence, then, only if `sleepers > 0`, bump `seq` and wake. (Fences rather than
/// SeqCst accesses, so that the loom model in `tests/loom.rs` checks exactly this.)
/// Either the ringer sees the sleeper, or the sleeper's check sees the change; a ring between
/// the sleeper's `seq` read and its sleep changes `seq`, so the futex does not sleep.
#[derive(Debug)]
pub(crate) struct Doorbell {
    line: Line,
    sys: SysWaker,
}

impl Doorbell {
    /// The channel's two doorbells, (data, space): subscribers and consumers sleep on the
    /// first (in the producer's line), a producer waiting for room on the second.
    pub(crate) fn pair(obj: &Object, create: bool) -> Result<(Doorbell, Doorbell)> {
        Ok((
            Doorbell::new(obj, Role::Producer, "data", create)?,
            Doorbell::new(obj, Role::Consumer, "space", create)?,
        ))
    }

    /// The doorbell in `role`'s line of `obj`, named `<name>.<suffix>` on Windows.
    fn new(obj: &Object, role: Role, suffix: &str, create: bool) -> Result<Doorbell> {
        let name = format!("{}.{suffix}", obj.name());
        let sys = if create {
            SysWaker::create(&name)?
        } else {
            SysWaker::open(&name)?
        };
        Ok(Doorbell {
            line: Line::of(obj, role),
            sys,
        })
    }

    /// Sleeps until rung or `deadline`, if `still` holds after registering; may return
    /// spuriously.
    pub(crate) fn sleep(&self, deadline: Deadline, still: impl FnOnce() -> bool) -> Result<()> {
        let (seq, sleepers) = (self.line.seq(), self.line.sleepers());
        sleepers.fetch_add(1, Ordering::Relaxed);
        // SYNC POINT: this SeqCst fence orders the registration before the condition's loads;
        // it pairs with the fence in `ring` (Dekker: at least one side sees the other).
        fence(Ordering::SeqCst);
        let s = seq.load(Ordering::Acquire);
        let r = if still() {
            self.sys.wait(seq, s, deadline)
        } else {
            Ok(())
        };
        sleepers.fetch_sub(1, Ordering::SeqCst);
        r
    }

    /// Clears the sleeper count. Only for a bell that one side alone sleeps on, by that
    /// side when it attaches: a predecessor killed while asleep never took itself off the
    /// count, which would cost every later `ring` a wake-up syscall.
    pub(crate) fn forget_sleepers(&self) {
        self.line.sleepers().store(0, Ordering::Relaxed);
    }

    /// Wakes the sleepers, if any (no syscall when there are none).
    #[inline]
    pub(crate) fn ring(&self) {
        // SYNC POINT: this SeqCst fence orders the caller's change of the condition before
        // the sleeper count's load; pairs with the fence in `sleep`.
        fence(Ordering::SeqCst);
        let n = self.line.sleepers().load(Ordering::Relaxed);
        if n > 0 {
            self.line.seq().fetch_add(1, Ordering::Release);
            self.sys.wake(self.line.seq(), n);
        }
    }
}

/// Waits until `ready()` or `deadline`, sleeping on `bell` as `mode` says; if `peer` is given
/// and goes away, returns `Disconnected` (after a last `ready()`, so that what the peer
/// committed before leaving is still drained). `ready` must be cheap; it is re-evaluated
/// when the watched word changes (after every spin without a watch), every `CHECK_EVERY`
/// spins, when the spin budget runs out and after every wake-up, and may be called again
/// after it returned true (so it must keep answering true without consuming more).
///
/// `watch`, if given, is a word that changes whenever `ready` may have turned true (the
/// header word a consumer waits on, the position a producer waits to see move). Spinning
/// then re-reads only that word — load, compare, pause — and evaluates `ready` once it
/// differs from its value before the last evaluation, so a spinner sees the change as soon
/// as its cache line arrives. Without a watch, every spin evaluates `ready`.
///
/// Between evaluations the loop also reads the peer's attachment word; the clock (deadline) is
/// read every `CHECK_EVERY` spins, on every `try_` attempt and after every sleep (sleeps are
/// at most `LIVENESS_SLICE` long), and the peer's holder is tested then (a system call,
/// `crate::liveness`) if `LIVENESS_SLICE` has passed since this handle last tested it.
#[allow(clippy::too_many_arguments)] // one call site per side; a struct would only rename them
pub(crate) fn wait_for(
    name: &str,
    peer: Option<Peer<'_>>,
    bell: &Doorbell,
    mode: WaitMode,
    deadline: Deadline,
    watch: Option<&AtomicU64>,
    mut ready: impl FnMut() -> bool,
) -> Result<()> {
    const CHECK_EVERY: u32 = 1024;
    let disconnected = || Error::Disconnected {
        name: name.to_owned(),
    };
    let gone = |test: bool| peer.is_some_and(|p| peer_gone(p.obj, p.line, test));
    // How many spins each mode allows before it sleeps (None: never sleeps).
    let spin_limit = match mode {
        WaitMode::BusyPoll => None,
        WaitMode::Adaptive => Some(SPINS),
        WaitMode::Blocking => Some(0),
    };
    let mut spins = 0u32;
    loop {
        // Relaxed: only a hint of change; `ready` makes the synchronising loads.
        let seen = watch.map(|w| w.load(Ordering::Relaxed));
        if ready() {
            return Ok(());
        }
        let mut slow = deadline == Deadline::Try;
        if !slow && spin_limit.is_none_or(|l| spins < l) {
            loop {
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                if spins % CHECK_EVERY == 0 || spin_limit.is_some_and(|l| spins >= l) {
                    slow = true;
                    break;
                }
                match (watch, seen) {
                    (Some(w), Some(s)) if w.load(Ordering::Relaxed) == s => {}
                    _ => break,
                }
            }
        } else {
            slow = true;
        }
        if gone(false) {
            return if ready() { Ok(()) } else { Err(disconnected()) };
        }
        if !slow {
            continue;
        }
        let now = Instant::now();
        let test = peer.is_some_and(|p| p.clock.due(now));
        if test && gone(true) {
            return if ready() { Ok(()) } else { Err(disconnected()) };
        }
        if deadline.passed() {
            return Err(Error::gave_up(name, deadline));
        }
        let sleeping = spin_limit.is_some_and(|l| spins >= l);
        if sleeping {
            // Sleep in slices, so that a peer that dies without ringing is noticed.
            let until = match deadline {
                Deadline::At(t) if t < now + LIVENESS_SLICE => Deadline::At(t),
                _ => Deadline::At(now + LIVENESS_SLICE),
            };
            bell.sleep(until, || !ready() && !gone(false))?;
        }
    }
}
