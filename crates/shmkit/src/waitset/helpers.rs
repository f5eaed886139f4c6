//! Waiting on more words than one OS call takes (`futex_waitv`: 128, `WaitForMultipleObjects`:
//! 64): helper threads, one per extra chunk, kept for the life of the wait set.
//!
//! The calling thread waits on the first chunk plus a private word, `fired`; helper `k` waits
//! on chunk `k` plus its own private word, `round`. Arming a helper stores its chunk and makes
//! `round` odd; disarming makes it even again. A helper whose wait returns while its round is
//! still the one it armed for bumps `fired` and wakes it, which ends the caller's wait; the
//! caller's next arming (or, on Windows, its disarming: below) ends the others' waits. The
//! values a chunk expects were read by the caller after it counted in on every member
//! (`wait::sleep_any`), and the helper's OS wait compares them atomically with going
//! to sleep, so a wake-up that lands in a helper's chunk is never lost: it ends the helper's
//! wait (or keeps it from starting), which ends the caller's.
//!
//! Why threads rather than waiting on each chunk in turn with short timeouts: a round robin
//! would see a member of another chunk only when its turn comes (latency of a slice times the
//! number of chunks) and would wake up every slice while idle. A helper costs one extra wake-up
//! (the helper's, then the caller's) for members outside the first chunk, and nothing while
//! idle. Arming and disarming cost a wake syscall per helper and sleep.
//!
//! With `futex_waitv` the kernel reads the words, so a helper may still be asleep on a chunk
//! when the caller returns and its members go away (an address no longer mapped is `EFAULT`,
//! a spurious return; a word mapped anew there is a different futex, so at worst a spurious
//! fire): the caller leaves its helpers armed when it returns, and the next arming moves the
//! round on, which ends their stale waits. That saves a wake-up of every helper per wait. A
//! helper left queued on a word is not counted in its sleeper count, so it must not be able
//! to take a wake meant for a counted sleeper: wakes of every sleeper reach it and the
//! counted ones alike (`sys::wake_count`: on Linux a wake of all asks the kernel for all, not
//! for as many as are counted), and a chunk holding a word whose wakers wake only one (a
//! semaphore, an auto-reset event) is disarmed and waited for before the wait returns, as on
//! Windows. On
//! Windows a helper waits on the members' handles, which must stay open until it is out of
//! its wait: there the caller disarms every helper it armed and waits (`busy`) until each has
//! left its chunk.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::sys::{self, Deadline, RawWaitOn, SysWaker, WaitOn};
use crate::Result;

/// A private word and its waker.
#[derive(Debug)]
struct Control {
    word: AtomicU32,
    waker: SysWaker,
}

impl Control {
    fn new() -> Result<Arc<Control>> {
        Ok(Arc::new(Control {
            word: AtomicU32::new(0),
            waker: SysWaker::private()?,
        }))
    }

    fn on(&self, expected: u32) -> WaitOn<'_> {
        WaitOn {
            word: &self.word,
            expected,
            waker: &self.waker,
        }
    }

    /// Changes the word (by one), then wakes its sleeper.
    fn bump(&self) {
        self.word.fetch_add(1, Ordering::SeqCst);
        self.waker.wake(&self.word, 1);
    }

    /// Starts a new round: the next odd value (a round left armed, where helpers are not
    /// disarmed, moves on by two), then wakes the helper. Returns the round.
    fn arm(&self) -> u32 {
        let r = self.word.load(Ordering::Relaxed);
        let step = if r % 2 == 1 { 2 } else { 1 };
        self.word.fetch_add(step, Ordering::SeqCst);
        self.waker.wake(&self.word, 1);
        r.wrapping_add(step)
    }
}

/// What a helper and the caller share.
#[derive(Debug)]
struct Shared {
    /// Odd while armed.
    round: Arc<Control>,
    /// The caller's word.
    fired: Arc<Control>,
    /// The chunk of the current round.
    chunk: Mutex<Vec<RawWaitOn>>,
    /// Whether the helper may be inside a wait on the chunk's members (see the module docs).
    busy: AtomicBool,
    /// The last round this helper fired in.
    fired_round: AtomicU32,
    quit: AtomicBool,
}

#[derive(Debug)]
struct Helper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// What the caller last armed it with: the chunk, the round, and `sys::unmaps()` then.
    armed: Vec<RawWaitOn>,
    armed_round: u32,
    armed_unmaps: u64,
    /// Disarmed and out of its wait since (so it must be armed again).
    quiesced: bool,
}

/// The helper threads of one wait set, made when a wait first needs them.
#[derive(Debug, Default)]
pub(crate) struct Helpers {
    fired: Option<Arc<Control>>,
    helpers: Vec<Helper>,
}

impl Helpers {
    /// Sleeps until a wake-up of any of `on` (or a word of `on` no longer holds its expected
    /// value), or `deadline`; may return spuriously. `one[i]`: whether wakers of `on[i]` wake
    /// one sleeper only (a semaphore, an auto-reset event); a helper is never left queued on
    /// such a word, where it could take a wake meant for a thread blocked on it.
    pub(crate) fn wait(
        &mut self,
        on: &[WaitOn<'_>],
        one: &[bool],
        deadline: Deadline,
    ) -> Result<()> {
        let max = sys::wait_any_max();
        if on.len() <= max {
            return sys::wait_any(on, deadline);
        }
        let per = max - 1;
        let chunks = on[per..].chunks(per);
        let n = chunks.len();
        // Whether each helper must be disarmed, and waited for, before this returns.
        let quiesce: Vec<bool> = one[per..]
            .chunks(per)
            .map(|o| sys::raw_needs_live() || o.iter().any(|&x| x))
            .collect();
        self.hire(n)?;
        let fired = self.fired.clone().expect("hired");
        let f0 = fired.word.load(Ordering::SeqCst);
        let unmaps = sys::unmaps();
        for ((h, chunk), &quiet) in self.helpers.iter_mut().zip(chunks).zip(&quiesce) {
            // A helper left armed (Linux) on the same words with the same values, that has
            // not fired since, and with nothing unmapped since (an address could name other
            // memory now), is still queued on those words: any wake-up of them from now on
            // ends its wait. (Fired before `f0` was read: re-armed here; after: `fired`
            // moves past `f0`. SeqCst: `f0`, then `fired_round`, against the helper's store
            // of `fired_round`, then its bump of `fired`.) Re-arming costs the helper a
            // wake-up and a fresh `futex_waitv` of its chunk, so an idle chunk is armed once.
            if !quiet
                && !h.quiesced
                && h.armed_unmaps == unmaps
                && h.shared.fired_round.load(Ordering::SeqCst) != h.armed_round
                && h.armed.len() == chunk.len()
                && h.armed.iter().zip(chunk).all(|(a, c)| *a == c.raw())
            {
                continue;
            }
            h.armed.clear();
            h.armed.extend(chunk.iter().map(WaitOn::raw));
            let mut c = h.shared.chunk.lock().unwrap_or_else(|e| e.into_inner());
            c.clone_from(&h.armed);
            drop(c);
            // SYNC POINT: the round's SeqCst RMW publishes the chunk (the helper reads it
            // under the lock after loading the odd round) and orders against `busy`.
            h.armed_round = h.shared.round.arm();
            h.armed_unmaps = unmaps;
            h.quiesced = false;
        }
        let mut first: Vec<WaitOn<'_>> = Vec::with_capacity(max);
        first.extend_from_slice(&on[..per]);
        first.push(fired.on(f0));
        let r = sys::wait_any(&first, deadline);
        for (h, _) in self.helpers.iter_mut().zip(&quiesce).filter(|(_, &q)| q) {
            h.shared.round.bump(); // even: disarmed
            h.quiesced = true;
        }
        for (h, _) in self.helpers.iter().zip(&quiesce).filter(|(_, &q)| q) {
            // SYNC POINT: SeqCst, against the helper's SeqCst store of `busy` before its load
            // of the round: either it sees the disarm, or this sees it busy.
            while h.shared.busy.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
        }
        r
    }

    /// Makes sure at least `n` helpers exist.
    fn hire(&mut self, n: usize) -> Result<()> {
        let fired = match &self.fired {
            Some(f) => f.clone(),
            None => self.fired.insert(Control::new()?).clone(),
        };
        while self.helpers.len() < n {
            let shared = Arc::new(Shared {
                round: Control::new()?,
                fired: fired.clone(),
                chunk: Mutex::new(Vec::new()),
                busy: AtomicBool::new(false),
                fired_round: AtomicU32::new(0),
                quit: AtomicBool::new(false),
            });
            let s = shared.clone();
            let thread = std::thread::Builder::new()
                .name("shmkit-waitset".into())
                .spawn(move || run(&s))
                .map_err(|e| crate::Error::os("spawn a wait set helper", "waitset", e))?;
            self.helpers.push(Helper {
                shared,
                thread: Some(thread),
                armed: Vec::new(),
                armed_round: 0,
                armed_unmaps: 0,
                quiesced: true,
            });
        }
        Ok(())
    }
}

impl Drop for Helpers {
    fn drop(&mut self) {
        for h in &self.helpers {
            h.shared.quit.store(true, Ordering::SeqCst);
            h.shared.round.bump();
        }
        for h in &mut self.helpers {
            if let Some(t) = h.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// A helper's life: sleep while disarmed (or done with this round), wait on the chunk of an
/// armed round, fire if the round is still the same when that wait ends.
fn run(s: &Shared) {
    let mut done = 0u32; // the last round waited for
    let mut chunk: Vec<RawWaitOn> = Vec::new();
    loop {
        s.busy.store(true, Ordering::SeqCst);
        let round = s.round.word.load(Ordering::SeqCst);
        if s.quit.load(Ordering::SeqCst) {
            s.busy.store(false, Ordering::SeqCst);
            return;
        }
        if round % 2 == 0 || round == done {
            s.busy.store(false, Ordering::SeqCst);
            // Sleep until the round changes (spurious returns loop).
            let _ = s.round.waker.wait(&s.round.word, round, Deadline::Forever);
            continue;
        }
        done = round;
        chunk.clear();
        chunk.extend_from_slice(&s.chunk.lock().unwrap_or_else(|e| e.into_inner()));
        chunk.push(s.round.on(round).raw());
        let mine = chunk.len() - 1;
        let still = loop {
            // SAFETY: `busy` is set, so a caller that needs the members kept (Windows) waits
            // for this to return before it lets them go (see `Helpers::wait`); the round word is
            // this helper's own (`s`).
            let woke = unsafe { sys::wait_any_raw(&chunk, Deadline::Forever) };
            let still = s.round.word.load(Ordering::SeqCst) == round;
            // Woken through the round's own word while the round is unchanged: a stale
            // permit (Windows), not a member; wait again.
            if !(still && woke == Some(mine)) {
                break still;
            }
        };
        s.busy.store(false, Ordering::SeqCst);
        if still {
            s.fired_round.store(round, Ordering::SeqCst);
            s.fired.bump();
        }
    }
}
