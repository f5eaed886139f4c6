//! How a channel side waits: the doorbell it sleeps on, and the wait loop that spins, sleeps,
//! watches its peer's liveness and the deadline (`wait_for`). Shared by the SPSC ring and
//! broadcast. The layout these point into is in `layout.rs`; the sleeping protocol itself is
//! `sync::notify`.

use crate::atomic_shim::{AtomicU64, Ordering};
use std::time::Instant;

use crate::channel::layout::{peer_gone, Line, Role};
use crate::channel::WaitMode;
use crate::liveness::{Clock, CHECK_EVERY as LIVENESS_SLICE};
use crate::object::Object;
use crate::sys::Deadline;
use crate::wait::notifier::Notifier;
use crate::{Error, Result};

/// The adaptive wait's budget before it sleeps, in pauses: first `PAUSES` pauses
/// (`spin_loop`, about a µs: enough for a peer on another CPU to answer a small message), then
/// yields (`yield_now`), each counted as `YIELD_WEIGHT` pauses.
///
/// Yielding rather than pausing for the rest of the budget matters when waiters share a CPU
/// with the processes they wait for (four subscribers on one core, a consumer on the
/// producer's core): a pausing spinner burns the time slice the others need to finish the
/// work it waits for, while a yielding one hands it over. With the CPU otherwise idle, a yield
/// returns at once (~0.3 µs), so the wait still sees the change within about a microsecond.
/// Measured in `broadcast_1MiB` (four subscribers on one CPU: see the README's table) and
/// with a 64-byte round trip between two processes forced onto one CPU (the README's Python
/// section: 256 pauses before the yields were about twice as slow there as 64).
pub(crate) const SPINS: u32 = 2_000;
pub(crate) const PAUSES: u32 = 64;
pub(crate) const YIELD_WEIGHT: u32 = 32;

/// The side a waiting handle watches: its object, the side's line, and this handle's clock
/// for rate-limiting liveness tests.
#[derive(Clone, Copy)]
pub(crate) struct Peer<'a> {
    pub(crate) obj: &'a Object,
    pub(crate) line: &'a Line,
    pub(crate) clock: &'a Clock,
}

/// Where one side sleeps until the other rings: a sequence word and a sleeper count in the
/// line of the side that rings, and a [`Notifier`] (the protocol shared with events and
/// semaphores, `sync::notify`): ringing bumps the sequence word, which is the wake-up.
#[derive(Debug)]
pub(crate) struct Doorbell {
    line: Line,
    notifier: Notifier,
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
        let notifier = if create {
            Notifier::create(&name)?
        } else {
            Notifier::open(&name)?
        };
        Ok(Doorbell {
            line: Line::of(obj, role),
            notifier,
        })
    }

    /// Sleeps until rung or `deadline`, if `still` holds after registering; may return
    /// spuriously.
    pub(crate) fn sleep(&self, deadline: Deadline, still: impl FnOnce() -> bool) -> Result<()> {
        let (seq, sleepers) = (self.line.seq(), self.line.sleepers());
        self.notifier.sleep(sleepers, seq, deadline, |_| still())
    }

    /// Where a wait set sleeps on this bell (`crate::waitset`): `obj` is the channel, `peer`
    /// the line of the side whose liveness the waiter watches.
    pub(crate) fn point<'a>(
        &'a self,
        obj: &'a Object,
        peer: &'a Line,
    ) -> crate::waitset::Point<'a> {
        crate::waitset::Point {
            sleepers: self.line.sleepers(),
            word: self.line.seq(),
            notifier: &self.notifier,
            kind: crate::waitset::Kind::Bell { obj, peer },
        }
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
        let (seq, sleepers) = (self.line.seq(), self.line.sleepers());
        self.notifier.wake(sleepers, seq, u32::MAX, true);
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
    let mut next_check = CHECK_EVERY;
    loop {
        // Relaxed: only a hint of change; `ready` makes the synchronising loads.
        let seen = watch.map(|w| w.load(Ordering::Relaxed));
        if ready() {
            return Ok(());
        }
        let mut slow = deadline == Deadline::Try;
        if !slow && spin_limit.is_none_or(|l| spins < l) {
            loop {
                if spin_limit.is_some() && spins >= PAUSES {
                    std::thread::yield_now();
                    spins = spins.saturating_add(YIELD_WEIGHT);
                } else {
                    std::hint::spin_loop();
                    spins = spins.saturating_add(1);
                }
                if spins >= next_check || spin_limit.is_some_and(|l| spins >= l) {
                    // A busy poll has no budget: restart its count rather than saturate it.
                    if spin_limit.is_none() {
                        spins = 0;
                    }
                    next_check = spins.saturating_add(CHECK_EVERY);
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
