//! The channel segment: header, the two sides' control lines, the ring — and the per-side
//! state that both processes read: who is attached, and the doorbells sleepers wait on.
//!
//! ```text
//! offset  size  what
//!      0    64  object header (magic, version, kind = channel, length, creator pid, ready,
//!               params = [capacity, flags, 0])
//!     64    64  who is attached: producer word u64 | consumer word u64, each
//!               `state | pid << 32` (one word, so a claim is a single compare-exchange)
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

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::WaitMode;
use crate::sync::object::Object;
use crate::sys::{self, Deadline, SysWaker};
use crate::{Error, Result};

/// How often a blocked side re-checks that its peer's process still runs.
const LIVENESS_SLICE: Duration = Duration::from_millis(50);
/// Spins of the adaptive wait before it sleeps.
const SPINS: u32 = 2_000;

const ATTACHMENTS: usize = 64;
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

    /// Offset of this side's attachment word (`state | pid << 32`).
    fn attachment(self) -> usize {
        match self {
            Role::Producer => ATTACHMENTS,
            Role::Consumer => ATTACHMENTS + 8,
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
}

impl Line {
    /// The words of `role` in `obj`.
    pub(crate) fn of(obj: &Object, role: Role) -> Line {
        Line {
            base: obj.ptr(role.line()),
            attachment: obj.ptr(role.attachment()),
        }
    }

    fn u32_at(&self, off: usize) -> &AtomicU32 {
        // SAFETY: lines are 128-byte aligned (page-aligned mapping + 128/256) and `off` is a
        // multiple of 4 below 128; the mapping holds at least RING bytes (checked on create
        // and open) and outlives every Line (they live in the same struct as the Object).
        unsafe { &*self.base.add(off).cast::<AtomicU32>() }
    }

    /// This side's attachment word: `state | pid << 32`.
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

/// An attachment word: a state in the low half, the holder's pid in the high half. Kept in
/// one word so that claiming a place held by a dead process is one compare-exchange of the
/// exact (state, pid) observed: two claimants cannot both win it.
pub(crate) fn pack(state: u32, pid: u32) -> u64 {
    u64::from(state) | u64::from(pid) << 32
}

/// The (state, pid) halves of an attachment word.
pub(crate) fn unpack(word: u64) -> (u32, u32) {
    (word as u32, (word >> 32) as u32)
}

/// Claims `role` of the channel for this process: a side that was never attached, was
/// closed, or whose process died may be (re)claimed; a side held by a live process may not.
/// Call it last when opening, so that no later failure leaves the side claimed.
pub(crate) fn attach(obj: &Object, role: Role) -> Result<()> {
    let line = Line::of(obj, role);
    let mine = pack(ATTACHED, sys::current_pid());
    take_over(line.attachment(), mine, |state| state == ATTACHED).map_err(|pid| Error::InUse {
        name: obj.name().to_owned(),
        role: role.label(),
        pid,
    })
}

/// Stores `mine` in the attachment-style `word` unless a live process holds it (`held` says
/// its state is a holding one and its pid runs); then returns that holder's pid. One
/// compare-exchange of the exact word seen, retried on a change: a place whose holder died
/// goes to exactly one claimant (the loom model `one_claimant_takes_over_a_dead_holders_place`).
/// Used by channel sides (`attach`) and broadcast subscriber entries.
pub(crate) fn take_over(
    word: &AtomicU64,
    mine: u64,
    held: impl Fn(u32) -> bool,
) -> std::result::Result<(), u32> {
    let mut seen = word.load(Ordering::Acquire);
    loop {
        let (state, pid) = unpack(seen);
        if held(state) && sys::process_alive(pid) {
            return Err(pid);
        }
        // SYNC POINT: AcqRel pairs with other claimers, with `detach`'s Release store and with
        // a broadcast entry's eviction and release. The exchange succeeds only if neither the
        // state nor the pid changed since `seen`; on failure look again at what changed.
        match word.compare_exchange(seen, mine, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(()),
            Err(now) => seen = now,
        }
    }
}

/// Marks `role` closed and wakes the peer so that it notices.
pub(crate) fn detach(obj: &Object, role: Role, peer_bell: &Doorbell) {
    // SYNC POINT: Release for everything this side did before; the fence in `ring` orders it
    // before the sleeper check.
    Line::of(obj, role)
        .attachment()
        .store(pack(CLOSED, sys::current_pid()), Ordering::Release);
    peer_bell.ring();
}

/// Whether the peer of `role` is gone: closed, or attached by a process that no longer runs.
/// With `check_pid` false only the attachment word is read (no syscall).
pub(crate) fn peer_gone(line: &Line, check_pid: bool) -> bool {
    let (state, pid) = unpack(line.attachment().load(Ordering::Acquire));
    match state {
        CLOSED => true,
        ATTACHED => check_pid && !sys::process_alive(pid),
        DETACHED => false,
        _ => true, // not a state shmkit writes: treat the peer as gone rather than wait
    }
}

/// When a waiting side last asked whether its peer's process still runs. Kept per handle,
/// across calls, so that a caller polling with `try_*` or short timeouts still notices a
/// peer that died without closing (at most one liveness syscall per `LIVENESS_SLICE`).
#[derive(Debug, Default)]
pub(crate) struct Liveness {
    next_check: Cell<Option<Instant>>,
}

impl Liveness {
    /// Whether a pid check is due at `now` (the first call on a handle always says yes).
    fn due(&self, now: Instant) -> bool {
        let due = self.next_check.get().is_none_or(|t| now >= t);
        if due {
            self.next_check.set(Some(now + LIVENESS_SLICE));
        }
        due
    }
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
/// at most `LIVENESS_SLICE` long), and the peer's pid (liveness, a syscall) is checked then
/// if `LIVENESS_SLICE` has passed since this handle last checked it.
#[allow(clippy::too_many_arguments)] // one call site per side; a struct would only rename them
pub(crate) fn wait_for(
    name: &str,
    peer: Option<(&Line, &Liveness)>,
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
    let gone = |check_pid: bool| peer.is_some_and(|(p, _)| peer_gone(p, check_pid));
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
        let check_pid = peer.is_some_and(|(_, l)| l.due(now));
        if check_pid && gone(true) {
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
