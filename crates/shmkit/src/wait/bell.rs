//! Bells: where one side sleeps until another rings. A bell is a sequence word and a sleeper
//! count side by side in a mapping (8 bytes: `seq u32, sleepers u32`) and a [`Notifier`] (the
//! protocol shared with events and semaphores, `notifier.rs`): ringing bumps the sequence
//! word, which is the wake-up, and skips the system call when nobody is counted in.
//!
//! Users: each channel side's line holds one (the data bell a consumer or subscriber sleeps
//! on, in the producer's line; the space bell a producer sleeps on, in the consumer's line,
//! `channel::layout`), and a service has one its server sleeps on (`service`).

use crate::atomic_shim::{AtomicU32, Ordering};
use crate::object::Object;
use crate::sys::Deadline;
use crate::Result;

use super::{Notifier, Point, Side, Source};

/// A sequence word and its sleeper count in a mapping, and the notifier that sleeps on them.
/// Valid while the mapping of the object it was made from lives: keep it beside its
/// [`Object`], in the same handle.
#[derive(Debug)]
pub(crate) struct Bell {
    seq: *const AtomicU32,
    sleepers: *const AtomicU32,
    notifier: Notifier,
}

// SAFETY: the pointers point into a shared mapping and are only used through atomics.
unsafe impl Send for Bell {}
// SAFETY: as above.
unsafe impl Sync for Bell {}

impl Bell {
    /// The bell whose sequence word is at offset `at` of `obj` (its sleeper count at
    /// `at + 4`), sleeping with `notifier`.
    ///
    /// # Panics
    ///
    /// If `at` is not 8-aligned or the words are not inside the mapping: offsets are the
    /// layouts' constants, so only a bug can.
    pub(crate) fn at(obj: &Object, at: usize, notifier: Notifier) -> Bell {
        assert!(at % 8 == 0 && at + 8 <= obj.view.len(), "not a bell: {at}");
        let seq = obj.ptr(at).cast::<AtomicU32>().cast_const();
        // SAFETY: `at + 4` is in bounds (asserted above).
        let sleepers = unsafe { seq.add(1) };
        let bell = Bell {
            seq,
            sleepers,
            notifier,
        };
        #[cfg(shmkit_loom)]
        {
            crate::atomic_shim::model::prime_u32(bell.seq());
            crate::atomic_shim::model::prime_u32(bell.sleepers());
        }
        bell
    }

    /// The sequence word.
    #[inline(always)]
    fn seq(&self) -> &AtomicU32 {
        // SAFETY: the mapping is page-aligned and `at` 8-aligned, so the word is aligned; it
        // is in bounds (checked in `at`) and the mapping outlives the bell (type docs).
        unsafe { &*self.seq }
    }

    /// The sleeper count.
    #[inline(always)]
    fn sleepers(&self) -> &AtomicU32 {
        // SAFETY: as in `seq`, four bytes further.
        unsafe { &*self.sleepers }
    }

    /// Sleeps until rung or `deadline`, if `still` holds after registering; may return
    /// spuriously.
    pub(crate) fn sleep(&self, deadline: Deadline, still: impl FnOnce() -> bool) -> Result<()> {
        self.notifier
            .sleep(self.sleepers(), self.seq(), deadline, |_| still())
    }

    /// Where a wait set or the reactor sleeps on this bell; `peer` is the side whose
    /// liveness a wait set tests, if any.
    pub(crate) fn point<'a>(&'a self, peer: Option<Side<'a>>) -> Point<'a> {
        Point {
            sleepers: self.sleepers(),
            word: self.seq(),
            notifier: &self.notifier,
            source: Source::Bell { peer },
        }
    }

    /// Clears the sleeper count. Only for a bell that one side alone sleeps on, by that
    /// side when it attaches: a predecessor killed while asleep never took itself off the
    /// count, which would cost every later `ring` a wake-up syscall.
    pub(crate) fn forget_sleepers(&self) {
        self.sleepers().store(0, Ordering::Relaxed);
    }

    /// Wakes every sleeper, if any (no system call when there are none). Every, not one: a
    /// wait set's helper thread or the async reactor may still be queued on the word after
    /// their wait returned (`waitset/helpers.rs`), and a wake of one could go to them instead
    /// of to the thread blocked on the bell.
    #[inline]
    pub(crate) fn ring(&self) {
        self.notifier
            .wake(self.sleepers(), self.seq(), u32::MAX, true);
    }
}
