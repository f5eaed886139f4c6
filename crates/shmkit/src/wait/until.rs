//! The wait loop: waits until a condition holds or a deadline passes, spinning as the
//! [`Backoff`] allows, then sleeping on a bell or a state word in liveness slices, and
//! watching the peer (if there is one) go away. Every blocking call in shmkit that waits for
//! one handle goes through [`until`]: channel sides, broadcast publishers and subscribers, a
//! service's server (`Backoff` budget as the side's `WaitStrategy` says), events and semaphores
//! (no spinning). A wait set waits for many handles at once with the same protocol
//! (`crate::waitset`).

use crate::atomic_shim::{AtomicU64, Ordering};
use std::time::Instant;

use super::{Backoff, Bell, Peer, StateBell};
use crate::liveness::CHECK_EVERY as LIVENESS_SLICE;
use crate::object::Object;
use crate::sys::Deadline;
use crate::{Error, Result};

/// What the wait loop sleeps on once its spin budget is spent.
pub(crate) trait Sleep {
    /// Sleeps until woken or `deadline`, if `still` holds after counting in (for a state
    /// word: while the word is 0); may return spuriously.
    fn sleep(&self, deadline: Deadline, still: impl FnOnce() -> bool) -> Result<()>;
}

impl Sleep for Bell {
    #[inline]
    fn sleep(&self, deadline: Deadline, still: impl FnOnce() -> bool) -> Result<()> {
        Bell::sleep(self, deadline, still)
    }
}

/// An event's or semaphore's state word, slept on while it is 0 (the condition is the word
/// itself: nothing is taken while 0, so `still` is not asked).
pub(crate) struct StateWord<'a> {
    pub(crate) bell: &'a StateBell,
    pub(crate) obj: &'a Object,
    pub(crate) word: &'a std::sync::atomic::AtomicU32,
}

impl Sleep for StateWord<'_> {
    fn sleep(&self, deadline: Deadline, _still: impl FnOnce() -> bool) -> Result<()> {
        self.bell.wait(self.obj, self.word, 0, deadline)
    }
}

/// Waits until `ready()` or `deadline`, sleeping on `bell` once `backoff`'s budget is spent;
/// if `peer` is given and goes away, returns `Disconnected` (after a last `ready()`, so that
/// what the peer committed before leaving is still drained). `ready` must be cheap; it is
/// re-evaluated when the watched word changes (after every spin without a watch), every
/// `CHECK_EVERY` spins, when the spin budget runs out and after every wake-up, and may be
/// called again after it returned true (so it must keep answering true without consuming
/// more).
///
/// `watch`, if given, is a word that changes whenever `ready` may have turned true (the
/// header word a consumer waits on, the position a producer waits to see move). Spinning
/// then re-reads only that word — load, compare, pause — and evaluates `ready` once it
/// differs from its value before the last evaluation, so a spinner sees the change as soon
/// as its cache line arrives. Without a watch, every spin evaluates `ready`.
///
/// Between evaluations the loop also reads the peer's role word; the clock (deadline) is
/// read every `CHECK_EVERY` spins, on every `try_` attempt and after every sleep (sleeps are
/// at most `LIVENESS_SLICE` long: a waker killed between its change and its ring never
/// rings, and a peer that dies is noticed), and the peer's holder is tested then (a system
/// call, `crate::liveness`) if `LIVENESS_SLICE` has passed since this handle last tested it.
#[allow(clippy::too_many_arguments)] // one call site per kind; a struct would only rename them
pub(crate) fn until(
    name: &str,
    peer: Option<Peer<'_>>,
    bell: &impl Sleep,
    mut backoff: Backoff,
    deadline: Deadline,
    watch: Option<&AtomicU64>,
    mut ready: impl FnMut() -> bool,
) -> Result<()> {
    let disconnected = || Error::Disconnected {
        name: name.to_owned(),
    };
    let gone = |test: bool| peer.is_some_and(|p| p.side.gone(test));
    loop {
        // Relaxed: only a hint of change; `ready` makes the synchronising loads.
        let seen = watch.map(|w| w.load(Ordering::Relaxed));
        if ready() {
            return Ok(());
        }
        let mut slow = deadline == Deadline::Try;
        if !slow && backoff.may_spin() {
            loop {
                if backoff.spin() {
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
        if backoff.exhausted() {
            // Sleep in slices, so that a peer that dies without ringing is noticed.
            let until = match deadline {
                Deadline::At(t) if t < now + LIVENESS_SLICE => Deadline::At(t),
                _ => Deadline::At(now + LIVENESS_SLICE),
            };
            bell.sleep(until, || !ready() && !gone(false))?;
        }
    }
}
