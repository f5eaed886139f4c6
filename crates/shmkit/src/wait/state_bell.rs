//! Sleeping on an event's or semaphore's state word: the shared protocol of
//! [`super::Notifier`] on the word itself, with the sleeper count in the object's header, and a
//! repair for counts that dead sleepers left raised.
//!
//! # Sleepers that die asleep
//!
//! A process killed while asleep never counts itself out, so `sleepers` would stay raised for
//! good and every later `set`/`post` would pay a wake syscall. A channel side clears its
//! bell's count when it attaches, because it alone sleeps there; an event or semaphore has
//! many sleepers, and a live one may be between `sleepers += 1` and its futex wait at any
//! moment. Resetting the count then would erase that sleeper's registration: it would sleep
//! with `sleepers == 0` and the next waker would skip the wake — a lost wake-up, far worse
//! than a syscall. A reset is therefore allowed only when no live process can be anywhere
//! between counting in and counting out, and that is what the kernel can tell:
//!
//! * every sleeper holds the object's *sleeper gate* — on Linux a shared `flock` on the
//!   segment, see `sys::SleeperGate` — from before `sleepers += 1` until after
//!   `sleepers -= 1`; the kernel drops it when the process dies;
//! * a waker whose futex wake finds nobody asleep while `sleepers > 0`, [`MISSES`] times in a
//!   row on this handle, tries to take the gate exclusively without waiting. If it gets it, no
//!   live sleeper is counted (and none can count itself in meanwhile), so every registration
//!   left is a dead process's: it stores 0, then opens the gate again. If it does not, a live
//!   sleeper is in flight; nothing changes, and a later wake tries again.
//!
//! A sleeper that cannot take the gate (a waker holds it for those few instructions, or the
//! OS refused) is not protected from a reset, so it does not count itself in at all: it naps
//! [`UNGATED_NAP`] and looks again. (Counted and then reset, its `-= 1` would wrap the count,
//! and the next sleeper's `+= 1` would bring it back to 0 while that one sleeps.) Processes
//! built before the gate existed cannot open these objects: the gate came with layout
//! version 3. Elsewhere than Linux the gate does nothing and the count is never reset:
//! macOS waiters poll (a wake costs nothing), and a Windows wake cannot tell whether it woke
//! anyone.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::notifier::Notifier;
use super::until::{until, StateWord};
use super::{Backoff, Point, Source};

use crate::object::{Object, SLEEPERS};
use crate::sys::{self, Deadline, SleeperGate};
use crate::Result;

/// Wake every sleeper.
pub(crate) const ALL: u32 = u32::MAX;

/// Wakes in a row that found `sleepers > 0` but nobody asleep before a waker tries to reset
/// the count (a live sleeper in flight explains a few; a dead one explains them all).
const MISSES: u32 = 4;

/// The longest sleep of a sleeper the gate does not protect (it is not counted in, so wakers
/// may skip it: it looks again after this). The one value for every such sleeper: a blocking
/// wait here, a wait set (`crate::waitset`) and an async wait (`crate::aio`).
pub(crate) const UNGATED_NAP: Duration = Duration::from_millis(1);

/// The bell of an event or a semaphore: sleepers sleep on the object's state word itself
/// (the flag, the count), with the sleeper count in the object's header and the sleeper gate
/// (module docs) around it.
#[derive(Debug)]
pub(crate) struct StateBell {
    notifier: Notifier,
    gate: SleeperGate,
    /// Wakes in a row on this handle that found the count raised and nobody asleep.
    misses: AtomicU32,
}

impl StateBell {
    /// The waker of the new object `name` (on Windows, the semaphore `<name>.wake`).
    pub(crate) fn create(name: &str) -> Result<StateBell> {
        Ok(StateBell::new(Notifier::create(&format!("{name}.wake"))?))
    }

    /// The waker of the existing object `name`.
    pub(crate) fn open(name: &str) -> Result<StateBell> {
        Ok(StateBell::new(Notifier::open(&format!("{name}.wake"))?))
    }

    fn new(notifier: Notifier) -> StateBell {
        StateBell {
            notifier,
            gate: SleeperGate::default(),
            misses: AtomicU32::new(0),
        }
    }

    /// Sleeps while `word == expected`, until woken or `deadline`. May return spuriously;
    /// callers loop and re-check their condition and the deadline.
    pub(crate) fn wait(
        &self,
        obj: &Object,
        word: &AtomicU32,
        expected: u32,
        deadline: Deadline,
    ) -> Result<()> {
        let section = obj.segment.section();
        if !self.gate.enter(section) {
            // Not protected from a reset of the count (module docs), so not counted either
            // (a reset would make this sleeper's `-= 1` wrap the count): nap, then look again.
            let nap = deadline.remaining().unwrap_or(UNGATED_NAP);
            std::thread::sleep(nap.min(UNGATED_NAP));
            return Ok(());
        }
        let r = self
            .notifier
            .sleep(shim(obj.word(SLEEPERS)), shim(word), deadline, |seen| {
                seen == expected
            });
        self.gate.leave(section);
        r
    }

    /// Takes what `word` guards: loops calling `take` (true = taken) and sleeping while `word`
    /// is 0, until taken or `deadline`, through the one wait loop (`until.rs`). Sleeps in
    /// liveness slices: a process killed between its change of the word and its wake-up
    /// never wakes anyone, and the change is seen at the next slice.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Timeout`] / [`crate::Error::WouldBlock`] when the deadline passes.
    pub(crate) fn take(
        &self,
        obj: &Object,
        word: &AtomicU32,
        deadline: Deadline,
        mut take: impl FnMut() -> bool,
    ) -> Result<()> {
        // Sleeping may take nothing, but `until` may ask again after a success: answer
        // true again without taking more.
        let mut taken = false;
        let sleep = StateWord {
            bell: self,
            obj,
            word,
        };
        until(
            obj.name(),
            None,
            &sleep,
            Backoff::new(Some(0)),
            deadline,
            None,
            || {
                taken = taken || take();
                taken
            },
        )
    }

    /// Takes the sleeper gate for a wait set that will count itself in on this object
    /// (`crate::waitset`); false if it could not (then it must not count itself in).
    pub(crate) fn enter(&self, obj: &Object) -> bool {
        self.gate.enter(obj.segment.section())
    }

    /// Gives back the gate [`StateBell::enter`] took.
    pub(crate) fn leave(&self, obj: &Object) {
        self.gate.leave(obj.segment.section());
    }

    /// Where a wait set sleeps on this object's state `word` (`crate::waitset`).
    pub(crate) fn point<'a>(
        &'a self,
        obj: &'a Object,
        word: &'a AtomicU32,
        wakes_one: bool,
    ) -> Point<'a> {
        Point {
            sleepers: shim(obj.word(SLEEPERS)),
            word: shim(word),
            notifier: &self.notifier,
            source: Source::State {
                bell: self,
                obj,
                word,
                wakes_one,
            },
        }
    }

    /// Wakes up to `n` sleepers on `word`, skipping the syscall when there are none.
    /// Call after changing `word`.
    pub(crate) fn wake(&self, obj: &Object, word: &AtomicU32, n: u32) {
        match self
            .notifier
            .wake(shim(obj.word(SLEEPERS)), shim(word), n, false)
        {
            None => {}
            // Counted sleepers, none asleep: a live one in flight, or a dead one's count.
            Some(Some(0)) if self.misses.fetch_add(1, Ordering::Relaxed) + 1 >= MISSES => {
                self.misses.store(0, Ordering::Relaxed);
                self.reset_dead_sleepers(obj);
            }
            Some(Some(0)) => {}
            Some(_) => self.misses.store(0, Ordering::Relaxed),
        }
    }

    /// Clears the sleeper count if every registration in it belongs to a dead process (see
    /// the module docs); does nothing if a live sleeper may be counted.
    #[cold]
    fn reset_dead_sleepers(&self, obj: &Object) {
        sys::with_no_sleepers(obj.segment.section(), || {
            // Under the exclusive gate: no live sleeper is counted, and none can count itself
            // in before the gate opens again (its `enter` fails or its shared lock waits).
            obj.word(SLEEPERS).store(0, Ordering::SeqCst);
        });
    }
}

/// The notifier's view of an event's or semaphore's word (the same memory: these words are
/// not shadowed under loom, see `crate::atomic_shim`).
#[inline(always)]
fn shim(word: &AtomicU32) -> &crate::atomic_shim::AtomicU32 {
    crate::atomic_shim::AtomicU32::from_std(word)
}
