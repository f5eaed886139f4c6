//! Sleeping until a word in shared memory changes, with no syscall for the waker when nobody
//! sleeps. The OS part (futex, named semaphore, polling) is `sys::SysWaker`.
//!
//! Protocol (a Dekker pair, hence a SeqCst fence on each side):
//!
//! | sleeper                               | waker                                   |
//! |---------------------------------------|-----------------------------------------|
//! | `sleepers += 1`; fence(SeqCst)        | change `word`; fence(SeqCst)            |
//! | if `word == expected`: sleep          | if `sleepers > 0`: wake                 |
//! | `sleepers -= 1`                       |                                         |
//!
//! Either the waker sees the sleeper's increment and wakes it, or the sleeper's check (done
//! again atomically by `FUTEX_WAIT`) sees the new word and does not sleep.

use std::sync::atomic::{fence, AtomicU32, Ordering};

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
        sleepers.fetch_add(1, Ordering::Relaxed);
        // SYNC POINT: SeqCst fence between the registration and the re-check of the word;
        // pairs with the fence in `wake` (the doorbell model in tests/loom.rs).
        fence(Ordering::SeqCst);
        let r = if word.load(Ordering::Relaxed) == expected {
            self.sys.wait(word, expected, deadline)
        } else {
            Ok(())
        };
        sleepers.fetch_sub(1, Ordering::SeqCst);
        r
    }

    /// Takes what `word` guards: loops calling `take` (true = taken) and sleeping while `word`
    /// is 0, until taken or `deadline` — the wait loop of events and semaphores.
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
        loop {
            if take() {
                return Ok(());
            }
            if deadline.passed() {
                return Err(crate::Error::gave_up(obj.name(), deadline));
            }
            self.wait(obj, word, 0, deadline)?;
        }
    }

    /// Wakes up to `n` sleepers on `word`, skipping the syscall when there are none.
    /// Call after changing `word`.
    pub(crate) fn wake(&self, obj: &Object, word: &AtomicU32, n: u32) {
        // SYNC POINT: SeqCst fence between the caller's change of the word and the sleeper
        // count's load; pairs with the fence in `wait`.
        fence(Ordering::SeqCst);
        let sleeping = obj.word(SLEEPERS).load(Ordering::Relaxed);
        if sleeping > 0 {
            self.sys.wake(word, n.min(sleeping));
        }
    }
}
