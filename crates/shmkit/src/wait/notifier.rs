//! "Sleep until this word changes", across processes: the one implementation of the protocol
//! that both kinds of bell share, [`super::StateBell`] (events, semaphores) and
//! [`super::Bell`] (channel sides, a service's server). The OS part (futex, named semaphore, polling) is
//! `sys::SysWaker`; what is built on top differs only in which word is slept on and where the
//! sleeper count lives:
//!
//! * events and semaphores sleep on their state word (the flag, the count) itself, with the
//!   count in the object's header, and repair a count left raised by a dead sleeper with the
//!   sleeper gate (`state_bell.rs`);
//! * a [`super::Bell`] sleeps on a sequence word that ringing bumps, with the count beside
//!   it (in a channel, in the line of the side that rings); one side alone sleeps there, so
//!   it clears the count when it attaches.
//!
//! Protocol (a Dekker pair, hence a SeqCst fence on each side):
//!
//! | sleeper                                  | waker                                      |
//! |------------------------------------------|--------------------------------------------|
//! | `sleepers += 1`; fence(SeqCst)           | change the condition; fence(SeqCst)        |
//! | read `word`; if still waiting: sleep on it | if `sleepers > 0`: (bump `word`,) wake    |
//! | `sleepers -= 1`                          |                                            |
//!
//! Either the waker sees the sleeper's increment and wakes it, or the sleeper's check sees
//! the change and does not sleep; a wake between the sleeper's read of `word` and its sleep
//! changes `word` (a bumped sequence, a changed state), so the OS wait (which re-checks the
//! word atomically) does not sleep. loom checks exactly this on this code (through
//! `crate::atomic_shim`, with the OS wait modelled as a futex): `src/loom_tests/`.
//!
//! A wait set (`crate::waitset`) sleeps on many words at once with the same protocol,
//! [`sleep_any`]: it counts in on *every* member's sleeper count, then one fence, then reads
//! every member's word and checks every member's condition, then sleeps on all the words at
//! once (`futex_waitv`), then counts out of every count. Per member it is the table above, so
//! the argument holds member by member: a waker either sees the wait set counted in (and
//! wakes its word, which the multi-word wait watches) or its change is seen by the check. The
//! wakers' fast path is unchanged: a wait set is one more counted sleeper, so nothing costs
//! more when no wait set waits. loom checks it over two words (`futex_waitv` modelled too).

use crate::atomic_shim::{fence, AtomicU32, Ordering};

use crate::sys::{Deadline, SysWaker};
use crate::Result;

/// The OS side of a notifier, and the protocol above around it.
#[derive(Debug)]
pub(crate) struct Notifier {
    sys: SysWaker,
}

impl Notifier {
    /// The notifier named `name` (the full name of the kernel object on Windows) of a new
    /// object.
    pub(crate) fn create(name: &str) -> Result<Notifier> {
        Ok(Notifier {
            sys: SysWaker::create(name)?,
        })
    }

    /// The notifier named `name` of an existing object.
    pub(crate) fn open(name: &str) -> Result<Notifier> {
        Ok(Notifier {
            sys: SysWaker::open(name)?,
        })
    }

    /// Counts this thread in on `sleepers`, then sleeps on `word` if `still(seen)` holds for
    /// the value `seen` it reads after counting in, until woken or `deadline`; counts out.
    /// May return spuriously: callers loop and re-check.
    pub(crate) fn sleep(
        &self,
        sleepers: &AtomicU32,
        word: &AtomicU32,
        deadline: Deadline,
        still: impl FnOnce(u32) -> bool,
    ) -> Result<()> {
        sleepers.fetch_add(1, Ordering::Relaxed);
        // SYNC POINT: this SeqCst fence orders the registration before the condition's loads;
        // it pairs with the fence in `wake` (Dekker: at least one side sees the other).
        fence(Ordering::SeqCst);
        let seen = word.load(Ordering::Acquire);
        let r = if still(seen) {
            self.os_wait(word, seen, deadline)
        } else {
            Ok(())
        };
        sleepers.fetch_sub(1, Ordering::SeqCst);
        r
    }

    /// Call after changing what sleepers wait for: if anyone is counted in on `sleepers`,
    /// bumps `word` (with `bump`: a sequence word, whose change is the wake-up) and wakes up
    /// to `n` of them (`sys::wake_count`: on Windows at most as many as are counted, so that
    /// no permit is left over; on Linux `n` itself, so that a wait set's helper thread still
    /// queued on the word, which is not counted, cannot take the only wake of `n = ALL`). No system call when nobody sleeps. Returns `None` then, else how many
    /// the OS woke, where it can tell.
    #[inline]
    pub(crate) fn wake(
        &self,
        sleepers: &AtomicU32,
        word: &AtomicU32,
        n: u32,
        bump: bool,
    ) -> Option<Option<usize>> {
        // SYNC POINT: this SeqCst fence orders the caller's change of the condition before
        // the sleeper count's load; pairs with the fence in `sleep`.
        fence(Ordering::SeqCst);
        let sleeping = sleepers.load(Ordering::Relaxed);
        (sleeping > 0).then(|| self.wake_slow(word, crate::sys::wake_count(n, sleeping), bump))
    }

    #[cold]
    fn wake_slow(&self, word: &AtomicU32, n: u32, bump: bool) -> Option<usize> {
        if bump {
            word.fetch_add(1, Ordering::Release);
        }
        self.os_wake(word, n)
    }

    /// The OS side, for a multi-word wait (`crate::waitset`).
    pub(crate) fn sys(&self) -> &SysWaker {
        &self.sys
    }

    #[cfg(not(shmkit_loom))]
    #[inline(always)]
    fn os_wait(&self, word: &AtomicU32, seen: u32, deadline: Deadline) -> Result<()> {
        self.sys.wait(word.as_std(), seen, deadline)
    }

    #[cfg(not(shmkit_loom))]
    #[inline(always)]
    fn os_wake(&self, word: &AtomicU32, n: u32) -> Option<usize> {
        self.sys.wake(word.as_std(), n)
    }

    /// Under loom, the OS wait is a futex model (`atomic_shim::model`).
    #[cfg(shmkit_loom)]
    fn os_wait(&self, word: &AtomicU32, seen: u32, deadline: Deadline) -> Result<()> {
        let _ = &self.sys;
        crate::atomic_shim::model::futex_wait(word, seen, deadline == Deadline::Forever);
        Ok(())
    }

    #[cfg(shmkit_loom)]
    fn os_wake(&self, word: &AtomicU32, _n: u32) -> Option<usize> {
        crate::atomic_shim::model::futex_wake(word);
        None
    }
}

/// One member of a multi-word sleep: the count to register in, and the word to sleep on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Member<'a> {
    pub(crate) sleepers: &'a AtomicU32,
    pub(crate) word: &'a AtomicU32,
}

/// The sleeping side of the protocol over many words (module docs): counts in on every
/// member's `sleepers`, fences once, reads every member's `word` into `seen` (in order), and
/// if `still()` holds after that — no member's condition is met — calls `sleep(seen)`, which
/// sleeps while every word holds its `seen` value (until woken or a deadline). Counts out of
/// every count. May return spuriously: callers loop and re-check.
pub(crate) fn sleep_any(
    members: &[Member<'_>],
    seen: &mut Vec<u32>,
    still: impl FnOnce() -> bool,
    sleep: impl FnOnce(&[u32]) -> Result<()>,
) -> Result<()> {
    for m in members {
        m.sleepers.fetch_add(1, Ordering::Relaxed);
    }
    // SYNC POINT: as in `Notifier::sleep`: this SeqCst fence orders every registration above
    // before the loads of the words and conditions below; it pairs with the fence in `wake`
    // of each member's waker.
    #[cfg(shmkit_loom)]
    let fenced =
        !crate::atomic_shim::model::mutated(crate::atomic_shim::model::Mutation::NoWaitSetFence);
    #[cfg(not(shmkit_loom))]
    let fenced = true;
    if fenced {
        fence(Ordering::SeqCst);
    }
    seen.clear();
    seen.extend(members.iter().map(|m| m.word.load(Ordering::Acquire)));
    let r = if still() { sleep(seen) } else { Ok(()) };
    for m in members {
        m.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
    r
}
