//! The reactor: one thread per process, started by the first async wait that has to sleep,
//! that sleeps on the words of every pending async wait at once and wakes their tasks.
//!
//! An entry is a word in shared memory, the value the waiting future read after counting
//! itself in on the word's sleeper count (`op.rs`), the OS handle to wait on (Windows), and
//! the task's `std::task::Waker`. The reactor sleeps while every word holds its value
//! (`sys::wait_any_raw`: `futex_waitv`, `WaitForMultipleObjects`, polling on macOS) plus one
//! private control word that a registration or a cancellation bumps; a word that changed
//! fires its entry: the entry leaves the table and its task is woken (one-shot: the future
//! re-polls, and registers again if it still has to wait).
//!
//! Memory: an entry points into the mapping of the handle its future borrows. The table is
//! guarded by a mutex; while an entry is in the table its handle is alive (a future removes
//! its entry, under the mutex, before it lets go of the handle), so the reactor may read the
//! word under the mutex. Outside the mutex the reactor uses the entries only in a *round*:
//! the sleep between marking them `in_round` and clearing the marks. A future that removes an
//! entry marked `in_round` bumps the control word (which ends the sleep) and waits until the
//! round is over — the one place a future blocks, for as long as the reactor takes to wake up
//! (microseconds), and only when a future is dropped, or finishes, while its entry is still
//! in the reactor's sleep (a cancelled `select!` branch, a timeout).
//!
//! Liveness: every entry also fires every [`LIVENESS_EVERY`](crate::waitset::LIVENESS_EVERY):
//! a channel side's peer may die without ringing, and any waker (a client of a service, a
//! process setting an event or posting a semaphore) may die between its change and its
//! wake-up. The woken future's `try_` call tests the peer (rate-limited per handle, as every
//! wait) and reports `Disconnected`, or finds what the waker left.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::sys::{self, Deadline, RawWaitOn, SysWaker, WaitOn};
use crate::waitset::LIVENESS_EVERY;
use crate::{Error, Result};

/// A registered wait: see the module docs.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The OS side of the wait (the word and its value; the handle on Windows).
    pub(crate) raw: RawWaitOn,
    /// The word's address, in a mapping that stays alive while the entry is in the table.
    pub(crate) word: usize,
    /// The word's value when the future counted itself in.
    pub(crate) seen: u32,
    pub(crate) waker: Waker,
    /// Fire at this instant regardless (a future that could not count itself in).
    pub(crate) nap_until: Option<Instant>,
    /// The [`Async`](super::Async) whose handle holds the word.
    pub(crate) owner: u64,
}

#[derive(Debug)]
struct Slot {
    id: u64,
    entry: Entry,
    in_round: bool,
}

#[derive(Debug, Default)]
struct State {
    slots: Vec<Slot>,
    next_id: u64,
    /// The number of the round in progress (a sleep outside the mutex), if any.
    round: Option<u64>,
    /// Rounds started so far.
    rounds: u64,
}

/// The process's reactor (module docs).
#[derive(Debug)]
pub(crate) struct Reactor {
    state: Mutex<State>,
    round_over: Condvar,
    control: AtomicU32,
    control_waker: SysWaker,
}

thread_local! {
    static ON_REACTOR: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How long an entry waits, at most, when more words are registered than one OS call takes
/// (`futex_waitv`: 128, `WaitForMultipleObjects`: 64): the words past the first chunk are
/// looked at every `OVERFLOW_NAP` instead of slept on.
const OVERFLOW_NAP: Duration = Duration::from_millis(1);

impl Reactor {
    /// The process's reactor, started on first use.
    pub(crate) fn get() -> Result<&'static Reactor> {
        static REACTOR: OnceLock<
            std::result::Result<&'static Reactor, (std::io::ErrorKind, String)>,
        > = OnceLock::new();
        let r = REACTOR.get_or_init(|| {
            let waker =
                SysWaker::private().map_err(|e| (std::io::ErrorKind::Other, e.to_string()))?;
            let r: &'static Reactor = Box::leak(Box::new(Reactor {
                state: Mutex::new(State::default()),
                round_over: Condvar::new(),
                control: AtomicU32::new(0),
                control_waker: waker,
            }));
            std::thread::Builder::new()
                .name("shmkit-async".into())
                .spawn(move || r.run())
                .map_err(|e| (e.kind(), e.to_string()))?;
            Ok(r)
        });
        r.as_ref().copied().map_err(|(kind, msg)| {
            Error::os(
                "start the async reactor thread",
                "shmkit-async",
                std::io::Error::new(*kind, msg.clone()),
            )
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the reactor's sleep (a change of the table).
    fn bump(&self) {
        self.control.fetch_add(1, Ordering::SeqCst);
        self.control_waker.wake(&self.control, 1);
    }

    /// Adds an entry; returns its id.
    pub(crate) fn add(&self, entry: Entry) -> u64 {
        let mut st = self.lock();
        let id = st.next_id;
        st.next_id += 1;
        st.slots.push(Slot {
            id,
            entry,
            in_round: false,
        });
        // Between rounds the reactor looks at the table before it sleeps again: no need to
        // wake it.
        let asleep = st.round.is_some();
        drop(st);
        if asleep {
            self.bump();
        }
        id
    }

    /// If entry `id` is still waiting (not fired), points it at `waker` and returns true.
    pub(crate) fn refresh(&self, id: u64, waker: &Waker) -> bool {
        let mut st = self.lock();
        match st.slots.iter_mut().find(|s| s.id == id) {
            Some(s) => {
                if !s.entry.waker.will_wake(waker) {
                    s.entry.waker.clone_from(waker);
                }
                true
            }
            None => false,
        }
    }

    /// Removes entry `id` if it is still there (it has not fired); once this returns, the
    /// reactor no longer uses it (module docs: may wait for the end of a round).
    pub(crate) fn remove(&self, id: u64) {
        self.remove_where(|e| e.0 == id);
    }

    /// Removes every entry of `owner` (futures leaked with `mem::forget`, before the handle
    /// they point into goes away); as [`Reactor::remove`].
    pub(crate) fn remove_owner(&self, owner: u64) {
        self.remove_where(|e| e.1 == owner);
    }

    fn remove_where(&self, pick: impl Fn((u64, u64)) -> bool) {
        let mut st = self.lock();
        let mut in_round = false;
        st.slots.retain(|s| {
            let gone = pick((s.id, s.entry.owner));
            in_round |= gone && s.in_round;
            !gone
        });
        // The reactor thread itself (a task dropped by a wake-up it issued) is never inside
        // a round while it runs other code.
        if !in_round || ON_REACTOR.with(|c| c.get()) {
            return;
        }
        let Some(round) = st.round else { return };
        drop(st);
        self.bump();
        let mut st = self.lock();
        while st.round == Some(round) {
            st = self.round_over.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn run(&self) {
        ON_REACTOR.with(|c| c.set(true));
        let max = sys::wait_any_max();
        let mut next_tick: Option<Instant> = None;
        let mut fired: Vec<Waker> = Vec::new();
        let mut raws: Vec<RawWaitOn> = Vec::new();
        loop {
            let mut st = self.lock();
            let control = self.control.load(Ordering::SeqCst);
            let now = Instant::now();
            // The tick keeps its own clock, also while no entry waits: a future that fired and
            // registers again waits for the next tick. (Restarting the clock when the table
            // emptied made the re-registered entry fire at once, and the future and the
            // reactor woke each other in a loop: a busy loop whenever the reactor looked at
            // the empty table before the future came back.)
            let watching = !st.slots.is_empty();
            let tick = watching && next_tick.is_some_and(|t| now >= t);
            if next_tick.is_none_or(|t| now >= t) {
                next_tick = Some(now + LIVENESS_EVERY);
            }
            st.slots.retain_mut(|s| {
                let e = &s.entry;
                // SAFETY: the entry is in the table and the mutex is held, so the handle whose
                // mapping holds the word is alive (module docs); the word is an aligned
                // `AtomicU32` in that mapping (a `Point`'s word).
                let word = unsafe { &*(e.word as *const AtomicU32) };
                let fire = word.load(Ordering::Acquire) != e.seen
                    || tick
                    || e.nap_until.is_some_and(|t| now >= t);
                if fire {
                    fired.push(e.waker.clone());
                }
                !fire
            });
            if !fired.is_empty() {
                drop(st);
                for w in fired.drain(..) {
                    w.wake();
                }
                continue;
            }
            // Sleep on every word (each once: Windows refuses a handle twice) and the control
            // word, until one changes, or the next liveness tick or nap.
            let mut deadline = match next_tick {
                Some(t) if watching => Deadline::At(t),
                _ => Deadline::Forever,
            };
            raws.clear();
            for s in st.slots.iter_mut() {
                s.in_round = true;
                if let Some(t) = s.entry.nap_until {
                    deadline = deadline.min(Deadline::At(t));
                }
                if raws.contains(&s.entry.raw) {
                    continue;
                }
                if raws.len() + 1 < max {
                    raws.push(s.entry.raw);
                } else {
                    deadline = deadline.min(Deadline::At(now + OVERFLOW_NAP));
                }
            }
            raws.push(
                WaitOn {
                    word: &self.control,
                    expected: control,
                    waker: &self.control_waker,
                }
                .raw(),
            );
            st.rounds += 1;
            let round = st.rounds;
            st.round = Some(round);
            drop(st);
            // SAFETY: every entry slept on is marked `in_round`, and its future waits for the
            // end of this round before it lets its handle (mapping, OS handle) go (module
            // docs); the control word and its waker are the reactor's own, which lives forever.
            unsafe { sys::wait_any_raw(&raws, deadline) };
            let mut st = self.lock();
            for s in st.slots.iter_mut() {
                s.in_round = false;
            }
            st.round = None;
            drop(st);
            self.round_over.notify_all();
        }
    }
}
