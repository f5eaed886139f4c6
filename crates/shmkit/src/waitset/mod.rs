//! Waiting on many: a [`WaitSet`] blocks until any of a set of channel sides, broadcast
//! subscribers, events and semaphores is ready, and says which.
//!
//! ```
//! use shmkit::channel;
//! use shmkit::WaitSet;
//! use std::time::Duration;
//! # let pid = std::process::id();
//! # let names: Vec<String> = (0..3).map(|i| format!("doc-waitset-{pid}-{i}")).collect();
//! let mut producers = Vec::new();
//! let mut consumers = Vec::new();
//! for name in &names {
//!     producers.push(channel::options().capacity(4096).create_producer(name)?);
//!     consumers.push(channel::options().open_consumer(name)?);
//! }
//! producers[2].send(b"hello")?; // e.g. from another process
//!
//! let mut set = WaitSet::new();
//! let mut buf = Vec::new();
//! loop {
//!     let ready = match set.wait_timeout(&consumers, Duration::from_millis(100)) {
//!         Ok(ready) => ready,
//!         Err(shmkit::Error::Timeout { .. }) => break, // nothing for 100 ms
//!         Err(e) => return Err(e),
//!     };
//!     for &i in ready {
//!         // Ready: a message is there (or the producer is gone: recv says Disconnected).
//!         consumers[i].recv_into(&mut buf)?;
//!         assert_eq!((i, &buf[..]), (2, &b"hello"[..]));
//!     }
//! }
//! # Ok::<(), shmkit::Error>(())
//! ```
//!
//! A wait set holds no members: each call is given the members to wait on (`&[Consumer]`,
//! or `&[&dyn Waitable]` to mix kinds) and returns the indices of the ready ones, so the
//! members stay free to receive between calls. A member is ready when its next `try_` call
//! returns something other than [`Error::WouldBlock`]: a message or permit, or an error
//! (`Corrupt`, `Lagged`, `Disconnected`), so a corrupt or dead peer is reported rather than
//! turned into a busy loop. The exceptions are races, as with `poll(2)`: another thread or
//! process may take what made a semaphore or an auto-reset event ready first; a service
//! client is ready when a response is there, which may answer another of its requests than
//! the one `try_wait` is asked for. So receive with the `try_` forms and loop.
//!
//! # Design
//!
//! Each member offers a word to sleep on and the sleeper count its wakers look at (a channel
//! side's bell, an event's or semaphore's state word): the same protocol as every
//! single-handle wait in shmkit (`wait::Notifier`), applied to all members at once — count in
//! on every member's sleeper count, one SeqCst fence, read every word and look at every
//! member's readiness, sleep on all words, count out. Either a waker sees the wait set counted
//! in (and wakes the word it sleeps on) or the wait set sees its change. Wakers' fast path is
//! unchanged: the wait set is one more counted sleeper, so a `send` or `set` costs exactly
//! what it did when no wait set waits (no syscall when nobody sleeps). (One change on the slow
//! path, Linux: a wake of every sleeper asks the kernel for all of them rather than for as
//! many as are counted, see `helpers.rs`.) loom checks the protocol over two words.
//!
//! Sets larger than one OS call takes are split across helper threads (`helpers.rs`): the
//! calling thread sleeps on the first chunk, each helper on one more, and a helper that is
//! woken wakes the caller. On Linux a helper whose chunk is unchanged stays queued between
//! waits, so an idle chunk costs nothing per wait. Idle, a wait set sleeps in the kernel and uses no CPU, apart from
//! a liveness test of the members' peers every [`LIVENESS_EVERY`] (one system call per
//! member with a peer).
//!
//! A wake-up of one sleeper (a semaphore's `post`, an auto-reset event's `set`) may go to the
//! wait set rather than to a thread blocked in `wait` on that object; the wait set therefore
//! passes such a wake on (wakes one other sleeper, if any) when it returns the member as
//! ready, so a blocked thread is not left asleep next to an available permit.
//!
//! # Platform notes
//!
//! | | sleeps with | members per OS call | beyond that |
//! |---|---|---|---|
//! | Linux ≥ 5.16 | `futex_waitv` on the shared words | 128 | a helper thread per 127 more |
//! | Linux < 5.16 | `FUTEX_WAIT` on one word, 2 ms slices, all words looked at in between (degraded) | all | — |
//! | Windows | `WaitForMultipleObjects` on the members' named semaphores | 64 | a helper thread per 63 more |
//! | macOS | polling every word, 1–10 ms apart (no public futex; as every shmkit wait there) | all | — |
//!
//! Helper threads are made on the first wait that needs them and kept until the wait set is
//! dropped; a member served by a helper costs one more thread wake-up. [`WaitSet::native`]
//! tells whether the wait sleeps in the OS (true) or polls.

mod helpers;

use std::time::{Duration, Instant};

use crate::sys::{self, Deadline, WaitOn};
use crate::wait::{self, Member, Notifier, Point, Sealed, Source};
use crate::{Error, Result};

/// How often a sleeping wait set (and the async reactor) tests whether its members' peers are
/// still alive (one system call per channel member), so that a peer killed without closing
/// its side is reported within about this long, and looks again at members whose waker may
/// have died between its change and its wake-up (a service's clients).
///
/// Twice the interval at which one handle's blocking call tests its peer
/// (`liveness::CHECK_EVERY`, 50 ms), on purpose: one tick here tests every member, and under
/// Wine (where a test opens a named event) a tick of 256 members every 50 ms cost an idle
/// wait set 11 % of a CPU (`tests/it/waitset.rs`, `child_idle`); at 100 ms it is about half.
/// Each member's own handle still tests at most once per 50 ms.
pub const LIVENESS_EVERY: Duration = Duration::from_millis(100);

// The longest sleep of a wait set that could not take an event's or semaphore's sleeper gate
// (`wait::StateBell`), and so is not counted in on it.
use crate::wait::UNGATED_NAP;

/// Something a [`WaitSet`] can wait on: channel [`Consumer`](crate::channel::Consumer)s
/// (ready: a message, or the producer gone), [`Producer`](crate::channel::Producer)s (room
/// for a small message, or the consumer gone), broadcast
/// [`Subscriber`](crate::channel::broadcast::Subscriber)s (a message, a lag, or the
/// publisher gone) and [`Publisher`](crate::channel::broadcast::Publisher)s (a slot free for
/// the next `loan`), their typed forms, request/response [`Server`](crate::service::Server)s
/// (a request) and [`Client`](crate::service::Client)s (a response, or the server gone) and
/// their typed forms, [`Event`](crate::sync::Event)s (set) and
/// [`Semaphore`](crate::sync::Semaphore)s (a permit), and references to any of these.
///
/// Sealed: shmkit implements it for its own types only.
pub trait Waitable: Sealed {}

impl<T: Sealed + ?Sized> Waitable for T {}

/// Blocks until any of a set of [`Waitable`]s is ready; see the [module docs](self).
#[derive(Debug, Default)]
pub struct WaitSet {
    ready: Vec<usize>,
    seen: Vec<u32>,
    helpers: helpers::Helpers,
    next_liveness: Option<Instant>,
}

impl WaitSet {
    /// A wait set. It makes no system call and no thread until a wait needs them.
    pub fn new() -> WaitSet {
        WaitSet::default()
    }

    /// Whether waits here sleep in the OS until woken (`futex_waitv`,
    /// `WaitForMultipleObjects`), rather than polling (macOS; Linux before 5.16).
    pub fn native() -> bool {
        sys::wait_any_is_native()
    }

    /// Waits until at least one of `members` is ready; returns the indices of the ready ones
    /// (in order, none twice). Give each member once: Windows refuses a wait on one handle
    /// twice (an OS error).
    ///
    /// # Errors
    ///
    /// OS errors only. With no members it waits forever.
    pub fn wait<W: Waitable>(&mut self, members: &[W]) -> Result<&[usize]> {
        self.wait_until(members, Deadline::Forever)
    }

    /// Like [`WaitSet::wait`], giving up after `timeout` (monotonic clock).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if no member was ready in time.
    pub fn wait_timeout<W: Waitable>(
        &mut self,
        members: &[W],
        timeout: Duration,
    ) -> Result<&[usize]> {
        self.wait_until(members, Deadline::after(timeout))
    }

    /// Like [`Self::wait`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::wait_timeout`].
    pub fn wait_deadline<W: Waitable>(
        &mut self,
        members: &[W],
        deadline: std::time::Instant,
    ) -> Result<&[usize]> {
        self.wait_until(members, Deadline::At(deadline))
    }

    /// The indices of the members ready now, without waiting (and without liveness tests).
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`] if none is.
    pub fn try_wait<W: Waitable>(&mut self, members: &[W]) -> Result<&[usize]> {
        self.wait_until(members, Deadline::Try)
    }

    fn wait_until<W: Waitable>(&mut self, members: &[W], deadline: Deadline) -> Result<&[usize]> {
        if members.is_empty() {
            // Nothing can become ready: wait out the deadline.
            self.ready.clear();
            loop {
                match deadline.remaining() {
                    Some(left) if left.is_zero() => {
                        return Err(Error::gave_up("waitset", deadline))
                    }
                    Some(left) => std::thread::sleep(left),
                    None => std::thread::park(),
                }
            }
        }
        loop {
            if self.collect(members) {
                return Ok(&self.ready);
            }
            if deadline.passed() {
                return Err(Error::gave_up("waitset", deadline));
            }
            let now = Instant::now();
            if self.next_liveness.is_none_or(|t| now >= t) {
                self.next_liveness = Some(now + LIVENESS_EVERY);
                if self.test_peers(members) {
                    return Ok(&self.ready);
                }
            }
            // Sleep in slices, so that a peer killed without closing its side is noticed.
            let slice = Deadline::At(self.next_liveness.unwrap_or(now + LIVENESS_EVERY));
            self.sleep(members, deadline.min(slice))?;
        }
    }

    /// Fills `ready` with the members ready now; whether there is one.
    fn collect<W: Waitable>(&mut self, members: &[W]) -> bool {
        self.ready.clear();
        self.ready
            .extend((0..members.len()).filter(|&i| members[i].ready()));
        !self.ready.is_empty()
    }

    /// Tests the peers of the channel members (a system call each); fills `ready` with those
    /// whose peer is gone, and says whether there is one.
    fn test_peers<W: Waitable>(&mut self, members: &[W]) -> bool {
        self.ready.clear();
        self.ready.extend((0..members.len()).filter(|&i| {
            matches!(members[i].point().source, Source::Bell { peer: Some(p) } if p.gone(true))
        }));
        !self.ready.is_empty()
    }

    /// One round of the protocol (module docs) over every member, sleeping at most until
    /// `deadline`; may return spuriously.
    fn sleep<W: Waitable>(&mut self, members: &[W], deadline: Deadline) -> Result<()> {
        let points: Vec<Point<'_>> = members.iter().map(|m| m.point()).collect();
        // Events and semaphores: take the sleeper gate first; a member whose gate this
        // cannot take is not counted in, and the sleep is cut to a nap (as in `StateBell::wait`).
        let mut counted: Vec<bool> = Vec::with_capacity(points.len());
        let mut deadline = deadline;
        for p in &points {
            let entered = match p.source {
                Source::State { bell, obj, .. } => bell.enter(obj),
                Source::Bell { .. } => true,
            };
            if !entered {
                deadline = Deadline::after(UNGATED_NAP).min(deadline);
            }
            counted.push(entered);
        }
        let ones: Vec<bool> = points
            .iter()
            .zip(&counted)
            .filter(|(_, &c)| c)
            .map(|(p, _)| {
                matches!(
                    p.source,
                    Source::State {
                        wakes_one: true,
                        ..
                    }
                )
            })
            .collect();
        let mine: Vec<(Member<'_>, &Notifier)> = points
            .iter()
            .zip(&counted)
            .filter(|(_, &c)| c)
            .map(|(p, _)| {
                let m = Member {
                    sleepers: p.sleepers,
                    word: p.word,
                };
                (m, p.notifier)
            })
            .collect();
        let list: Vec<Member<'_>> = mine.iter().map(|&(m, _)| m).collect();
        let mut seen = std::mem::take(&mut self.seen);
        let helpers = &mut self.helpers;
        let r = wait::sleep_any(
            &list,
            &mut seen,
            || !members.iter().any(|m| m.ready()),
            |seen| {
                let on: Vec<WaitOn<'_>> = mine
                    .iter()
                    .zip(seen)
                    .map(|(&(m, n), &expected)| WaitOn {
                        word: m.word.as_std(),
                        expected,
                        waker: n.sys(),
                    })
                    .collect();
                helpers.wait(&on, &ones, deadline)
            },
        );
        self.seen = seen;
        for (p, &c) in points.iter().zip(&counted) {
            if let (Source::State { bell, obj, .. }, true) = (p.source, c) {
                bell.leave(obj);
            }
        }
        // Pass on a wake of one that may have been meant for another sleeper (module docs).
        for (p, &c) in points.iter().zip(&counted) {
            if let Source::State {
                bell,
                obj,
                word,
                wakes_one: true,
            } = p.source
            {
                if c && word.load(std::sync::atomic::Ordering::Acquire) != 0 {
                    bell.wake(obj, word, 1);
                }
            }
        }
        r
    }
}
