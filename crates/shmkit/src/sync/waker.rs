//! Sleeping until a word in shared memory changes, with no syscall for the waker when nobody
//! sleeps. The OS part (futex, named semaphore, polling) is `sys::SysWaker`.
//!
//! Protocol (a Dekker pair, hence SeqCst on all four accesses):
//!
//! | sleeper                               | waker                                   |
//! |---------------------------------------|-----------------------------------------|
//! | `sleepers += 1`                       | change `word`                           |
//! | if `word == expected`: sleep          | if `sleepers > 0`: wake                 |
//! | `sleepers -= 1`                       |                                         |
//!
//! Either the waker sees the sleeper's increment and wakes it, or the sleeper's check (done
//! again atomically by `FUTEX_WAIT`) sees the new word and does not sleep.

use std::sync::atomic::{AtomicU32, Ordering};

use super::object::{Object, SLEEPERS};
use crate::sys::{Deadline, SysWaker};
use crate::Result;

/// Wake every sleeper.
pub(crate) const ALL: u32 = u32::MAX;

#[derive(Debug)]
pub(crate) struct Waker {
    sys: SysWaker,
}

impl Waker {
    /// The waker of the new object `name` (on Windows, the semaphore `<name>.wake`).
    pub(crate) fn create(name: &str) -> Result<Waker> {
        Ok(Waker {
            sys: SysWaker::create(&format!("{name}.wake"))?,
        })
    }

    /// The waker of the existing object `name`.
    pub(crate) fn open(name: &str) -> Result<Waker> {
        Ok(Waker {
            sys: SysWaker::open(&format!("{name}.wake"))?,
        })
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
        let sleepers = obj.word(SLEEPERS);
        // SYNC POINT: SeqCst increment, then SeqCst re-check of the word; pairs with the
        // waker's SeqCst change of the word then SeqCst load of `sleepers` in `wake`.
        sleepers.fetch_add(1, Ordering::SeqCst);
        let r = if word.load(Ordering::SeqCst) == expected {
            self.sys.wait(word, expected, deadline)
        } else {
            Ok(())
        };
        sleepers.fetch_sub(1, Ordering::SeqCst);
        r
    }

    /// Wakes up to `n` sleepers on `word`, skipping the syscall when there are none.
    /// Call after changing `word` with SeqCst.
    pub(crate) fn wake(&self, obj: &Object, word: &AtomicU32, n: u32) {
        // SYNC POINT: pairs with the sleeper's SeqCst increment in `wait`.
        let sleeping = obj.word(SLEEPERS).load(Ordering::SeqCst);
        if sleeping > 0 {
            self.sys.wake(word, n.min(sleeping));
        }
    }
}
