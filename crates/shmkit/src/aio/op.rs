//! One async operation: a future that tries the non-blocking `try_` form of an operation and,
//! while that says `WouldBlock`, waits through the reactor (`reactor.rs`).
//!
//! Registering is the sleeping side of `wait::Notifier`'s protocol, split between the future
//! and the reactor thread:
//!
//! | future (poll)                                        | waker (`send`, `set`, `post`)      |
//! |------------------------------------------------------|------------------------------------|
//! | `sleepers += 1`; fence(SeqCst); `seen = word`        | change the condition; fence(SeqCst) |
//! | `try_` again; still `WouldBlock`: hand (`word`, `seen`, task waker) to the reactor; `Pending` | if `sleepers > 0`: bump `word`, wake |
//! | reactor: sleep while `word == seen`; then wake the task |                                 |
//! | next poll, or drop: `sleepers -= 1`                  |                                    |
//!
//! Either the waker sees the count (and changes the word, which ends or prevents the
//! reactor's sleep on it), or the future's second `try_` sees the change. So a future never
//! sleeps next to a ready object, and the waker's fast path is untouched: an async waiter is
//! one more counted sleeper.
//!
//! Cancellation: the operation consumes (a message, a permit) only in the `try_` call whose
//! result the poll returns as `Ready`; a future dropped at any other point has consumed
//! nothing. Dropping counts the future out and takes its entry out of the reactor.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};
use std::time::Instant;

use super::reactor::{Entry, Reactor};
use super::Owner;
use crate::atomic_shim::{fence, AtomicU32, Ordering};
use crate::sys::WaitOn;
use crate::wait::{Awaitable, Point, Source};

use crate::{Error, Result};

// How a future that could not take an event's or semaphore's sleeper gate waits (it is not
// counted in, so wakers may skip it): it looks again after this, as a wait set does.
use crate::wait::UNGATED_NAP;

/// How an operation reaches its handle. `attempt` is unsafe: see [`Op`]'s invariant.
pub(crate) trait Attempt<'a, T: ?Sized> {
    type Output;
    /// # Safety
    ///
    /// `t` is the pointer an [`Op`] was made from, and no reference made from it by an
    /// earlier attempt of that `Op` is still alive.
    unsafe fn attempt(&mut self, t: NonNull<T>) -> Result<Self::Output>;
}

/// An operation on `&'a mut T` (receive, loan, send).
pub(crate) struct Mut<F>(pub(crate) F);
/// An operation on `&'a T` (an event's or a semaphore's wait).
pub(crate) struct Ref<F>(pub(crate) F);

impl<'a, T: ?Sized + 'a, R, F: FnMut(&'a mut T) -> Result<R>> Attempt<'a, T> for Mut<F> {
    type Output = R;
    unsafe fn attempt(&mut self, t: NonNull<T>) -> Result<R> {
        // SAFETY: `t` came from a `&'a mut T` that the `Op` holds for `'a` (so nothing else
        // reaches `*t`), and the caller promises that no earlier reference is alive.
        (self.0)(unsafe { &mut *t.as_ptr() })
    }
}

impl<'a, T: ?Sized + 'a, R, F: FnMut(&'a T) -> Result<R>> Attempt<'a, T> for Ref<F> {
    type Output = R;
    unsafe fn attempt(&mut self, t: NonNull<T>) -> Result<R> {
        // SAFETY: `t` came from a `&'a T`.
        (self.0)(unsafe { t.as_ref() })
    }
}

/// The future of one async operation; see the module docs.
///
/// Invariant: `target` was made from a `&'a mut T` (with [`Mut`]) or a `&'a T` (with
/// [`Ref`]) that this future holds for `'a`. An attempt that returned `WouldBlock` left no
/// reference alive (an `Error` borrows nothing); once an attempt's result is returned
/// (`done`), the future never touches `target` again. So at most one reference made from
/// `target` is alive at a time — the borrow checker's own rule, which it cannot see through a
/// loop that returns a borrow (the "problem case #3" of NLL).
#[must_use = "futures do nothing unless polled"]
pub(crate) struct Op<'a, T: ?Sized + Awaitable, A> {
    target: NonNull<T>,
    owner: &'a Owner,
    attempt: A,
    reg: Option<Registration>,
    done: bool,
    _borrow: PhantomData<&'a mut T>,
}

// SAFETY: the future carries a `&'a mut T` in disguise, and may move to another thread when
// such a reference may (`T: Send`). The registration's addresses point into the mapping,
// whose words are atomics.
unsafe impl<T: ?Sized + Awaitable + Send, F: Send> Send for Op<'_, T, Mut<F>> {}
// SAFETY: as above, for a `&'a T` (`T: Sync`).
unsafe impl<T: ?Sized + Awaitable + Sync, F: Send> Send for Op<'_, T, Ref<F>> {}

/// A future counted in on a sleeper count, with an entry in the reactor.
#[derive(Debug)]
struct Registration {
    id: u64,
    /// The sleeper count (in the mapping), if counted in.
    sleepers: Option<NonNull<AtomicU32>>,
    /// An event's or semaphore's word: took its sleeper gate (when counted in); whether
    /// wakers wake only one sleeper, so a wake not used must be passed on.
    word_kind: Option<bool>,
}

impl<'a, T: ?Sized + Awaitable + 'a, A> Op<'a, T, A> {
    /// The member's wait point. Only while no attempt's result is alive (see the invariant).
    fn point(&self) -> Point<'_> {
        // SAFETY: no reference from an attempt is alive (callers), so a shared one may be
        // made; it lives as long as the returned point, which callers drop before attempting.
        unsafe { self.target.as_ref() }.wait_point()
    }

    /// Counts out and, for an event or semaphore, leaves the gate; `pass_on`: wakes another
    /// sleeper if the reactor may have taken a wake-up of one that this future does not use.
    /// A channel side's count lies in the mapping, so this does not touch `*target` then,
    /// and may run while a [`Mut`] attempt's result (a sample, a loan) is alive; an event's
    /// or semaphore's gate is in `*target`, reached through a shared reference ([`Ref`]).
    fn count_out(&mut self, reg: Registration, pass_on: bool) {
        if reg.id != u64::MAX {
            self.owner.pending.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(sleepers) = reg.sleepers {
            // SAFETY: the count lies in the mapping of the handle this future borrows.
            unsafe { sleepers.as_ref() }.fetch_sub(1, Ordering::SeqCst);
        }
        if let Some(wakes_one) = reg.word_kind {
            if let Source::State {
                bell, obj, word, ..
            } = self.point().source
            {
                if reg.sleepers.is_some() {
                    bell.leave(obj);
                }
                if pass_on && wakes_one && word.load(std::sync::atomic::Ordering::Acquire) != 0 {
                    bell.wake(obj, word, 1);
                }
            }
        }
    }
}

impl<'a, T: ?Sized + Awaitable + 'a, A: Attempt<'a, T>> Op<'a, T, A> {
    pub(crate) fn exclusive(t: &'a mut T, owner: &'a Owner, attempt: A) -> Self {
        Op::new(NonNull::from(t), owner, attempt)
    }

    pub(crate) fn shared(t: &'a T, owner: &'a Owner, attempt: A) -> Self {
        Op::new(NonNull::from(t), owner, attempt)
    }

    fn new(target: NonNull<T>, owner: &'a Owner, attempt: A) -> Self {
        Op {
            target,
            owner,
            attempt,
            reg: None,
            done: false,
            _borrow: PhantomData,
        }
    }

    fn finish(&mut self, r: Result<A::Output>) -> Poll<Result<A::Output>> {
        self.done = true;
        Poll::Ready(r)
    }

    /// Counts in and registers with the reactor (module docs); `None` if registered, else the
    /// result of the second attempt (nothing registered then).
    fn register(&mut self, reactor: &Reactor, cx: &Context<'_>) -> Option<Result<A::Output>> {
        let p = self.point();
        let (word_kind, counted) = match p.source {
            Source::State {
                bell,
                obj,
                wakes_one,
                ..
            } => (Some(wakes_one), bell.enter(obj)),
            Source::Bell { .. } => (None, true),
        };
        let sleepers = counted.then(|| NonNull::from(p.sleepers));
        let raw_word = p.word;
        let notifier = p.notifier;
        if counted {
            p.sleepers.fetch_add(1, Ordering::Relaxed);
        }
        // SYNC POINT: as in `Notifier::sleep`: orders the count above before the loads of the
        // word and of the condition (in the attempt below); pairs with the fence in
        // `Notifier::wake`.
        fence(Ordering::SeqCst);
        let seen = raw_word.load(Ordering::Acquire);
        let raw = WaitOn {
            word: raw_word.as_std(),
            expected: seen,
            waker: notifier.sys(),
        }
        .raw();
        let word = raw_word.as_std() as *const std::sync::atomic::AtomicU32 as usize;
        let reg = Registration {
            id: u64::MAX,
            sleepers,
            word_kind,
        };
        // SAFETY: the point (a shared reference) is no longer used; no other is alive.
        match unsafe { self.attempt.attempt(self.target) } {
            Err(Error::WouldBlock { .. }) => {}
            r => {
                // Ready after all: nothing registered with the reactor yet.
                self.count_out(reg, false);
                return Some(r);
            }
        }
        self.owner.pending.fetch_add(1, Ordering::Relaxed);
        let id = reactor.add(Entry {
            owner: self.owner.id,
            raw,
            word,
            seen,
            waker: cx.waker().clone(),
            nap_until: (!counted).then(|| Instant::now() + UNGATED_NAP),
        });
        self.reg = Some(Registration { id, ..reg });
        None
    }
}

impl<'a, T: ?Sized + Awaitable + 'a, A: Attempt<'a, T> + Unpin> Future for Op<'a, T, A> {
    type Output = Result<A::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(
            !this.done,
            "shmkit: an async operation polled after it completed"
        );
        let reactor = match Reactor::get() {
            Ok(r) => r,
            Err(e) => return this.finish(Err(e)),
        };
        if let Some(reg) = this.reg.take() {
            if reactor.refresh(reg.id, cx.waker()) {
                // Still registered, not fired (a poll for another reason, e.g. a sibling
                // branch of a `select!`): try, and stay registered if nothing.
                // SAFETY: no earlier attempt's result is alive (they returned WouldBlock).
                match unsafe { this.attempt.attempt(this.target) } {
                    Err(Error::WouldBlock { .. }) => {
                        this.reg = Some(reg);
                        return Poll::Pending;
                    }
                    r => {
                        reactor.remove(reg.id);
                        this.count_out(reg, false);
                        return this.finish(r);
                    }
                }
            }
            // Fired (the word changed, a liveness tick, a nap): count out, then look.
            this.count_out(reg, false);
        }
        // SAFETY: as above.
        match unsafe { this.attempt.attempt(this.target) } {
            Err(Error::WouldBlock { .. }) => {}
            r => return this.finish(r),
        }
        match this.register(reactor, cx) {
            None => Poll::Pending,
            Some(r) => this.finish(r),
        }
    }
}

impl<T: ?Sized + Awaitable, A> Drop for Op<'_, T, A> {
    fn drop(&mut self) {
        let Some(reg) = self.reg.take() else { return };
        if let Ok(reactor) = Reactor::get() {
            reactor.remove(reg.id);
        }
        // Not done (a registration is only kept while the attempts say WouldBlock), so no
        // attempt's result is alive.
        self.count_out(reg, true);
    }
}
