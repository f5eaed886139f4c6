//! Async waits (feature `tokio`): [`Async`] wraps a channel side, a broadcast subscriber or
//! publisher, an event or a semaphore, and gives it `async` forms of its blocking calls —
//! `recv().await`, `loan(len).await`, `send(msg).await`, `wait().await` — that suspend the
//! task instead of the thread.
//!
//! ```no_run
//! use shmkit::{aio::Async, channel};
//!
//! # async fn run() -> shmkit::Result<()> {
//! let mut rx = Async::new(channel::open_consumer("frames")?); // the producer is another process
//! loop {
//!     match rx.recv().await {
//!         Ok(msg) => println!("{} bytes", msg.len()), // read in place; released on drop
//!         Err(shmkit::Error::Disconnected { .. }) => break, // the producer is gone
//!         Err(e) => return Err(e),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Every future here is **cancellation-safe**: it consumes (a message, a permit, ring space)
//! only in the poll that returns `Ready`, so a future dropped before — a losing `select!`
//! branch, a timeout — loses nothing. The futures work on any executor (they only use
//! `std::task::Waker`); every operation also has `_timeout` and `_deadline` forms, which use
//! `tokio::time` (so they need a runtime with time enabled) and expire on the monotonic clock
//! with [`Error::Timeout`]; the `try_` form is the handle's own ([`Async::get_mut`]).
//!
//! # Design
//!
//! A poll tries the operation's `try_` form. If that says `WouldBlock`, the future counts
//! itself in on the object's sleeper count, fences, reads the word its wakers change (a
//! channel side's bell, an event's or semaphore's state word), tries once more, and hands
//! the word, the value it read and the task's waker to the **reactor**: one thread per
//! process, started by the first wait that has to sleep, which sleeps on every registered
//! word at once — `futex_waitv` on Linux, `WaitForMultipleObjects` on the words' named
//! semaphores on Windows, polling on macOS (as every shmkit wait there) — and wakes the task
//! whose word changed. It is the protocol of every blocking wait in shmkit (`wait::Notifier`,
//! a Dekker pair), with the sleep done by another thread; the table is in `op.rs`.
//!
//! * **No cost on the synchronous path.** A `send`, `commit`, `set` or `post` already skips
//!   the wake-up syscall unless a sleeper is counted in; an async waiter is one more counted
//!   sleeper, and nothing in the synchronous code changed. With no async waiter, a sender
//!   pays exactly what it paid before this module existed.
//! * **No thread per channel**: one reactor thread for every async wait of the process
//!   (127 words per `futex_waitv` call, 63 per `WaitForMultipleObjects`; beyond that the rest
//!   are looked at every millisecond), idle in the kernel when nothing is pending.
//! * **Cancellation**: see above. Dropping a pending future counts it out and takes its entry
//!   out of the reactor; if the reactor is asleep on that entry at that moment, the drop waits
//!   for the reactor to wake (it bumps the reactor's control word: microseconds), because the
//!   reactor's sleep reads the handle's mapping (and on Windows waits on its handle).
//! * **Liveness**: the reactor wakes every waiting task every
//!   [`LIVENESS_EVERY`](crate::waitset::LIVENESS_EVERY), so that a peer killed without closing
//!   is reported as `Disconnected`, as by a blocking wait (the `try_` call tests the peer), and
//!   what a waker killed between its change and its wake-up left (a request, a set event, a
//!   posted permit) is still found.
//!
//! Why not `tokio::io::unix::AsyncFd`: a futex is not a file descriptor — epoll cannot wait
//! on a word in shared memory, and the wakers (other processes) only `FUTEX_WAKE`. A pollable
//! bell (an `eventfd` or a pipe the sender writes when an async waiter is registered)
//! would make every sender look up and write a descriptor that belongs to another process
//! (passed over a Unix socket, or reopened through `/proc/<pid>/fd`, which fails across pid
//! namespaces), per channel, and would not exist on Windows in that form. The reactor reuses
//! what every shmkit waker already does, so senders cannot tell an async waiter from a
//! blocked thread. What it costs: the wake-up goes to the reactor thread, which then wakes
//! the task's runtime thread — one more thread wake-up per message that finds the receiver
//! asleep. Measured (`shmkit-bench async`, table `async_hop_64B` in the repository's
//! `bench/README.md`): an async hop costs about what a blocking hop costs, and async waiters
//! elsewhere cost the synchronous path nothing.
//!
//! A new kind of member gets its async forms from the wait set's sealed `Waitable` half (its
//! wait point) and one `impl Async<_>` block calling [`Async`]'s private `op` / `op_ref` with
//! its `try_` calls: request/response clients and servers took eight lines each.

mod broadcasts;
mod channels;
mod op;
mod reactor;
mod services;
mod sync_objects;

use std::future::Future;
use std::time::{Duration, Instant};

use bytemuck::Pod;

use crate::channel::{self, broadcast};
use crate::service;
use crate::sync::{Event, Semaphore};
use crate::wait::Awaitable;
use crate::{Error, Result};
use op::{Mut, Op, Ref};

/// A shmkit handle with `async` forms of its blocking calls; see the [module docs](self).
///
/// It dereferences to the handle, so the synchronous calls stay available. Async forms exist
/// for [`channel::Consumer`], [`channel::Producer`], [`broadcast::Subscriber`],
/// [`broadcast::Publisher`], [`service::Client`] (`wait(pending)`), [`service::Server`]
/// (`recv`), their typed forms ([`channel::typed::Consumer`],
/// [`channel::typed::Producer`], [`broadcast::typed::Subscriber`],
/// [`broadcast::typed::Publisher`], [`service::typed::Client`],
/// [`service::typed::Server`]), [`Event`] and [`Semaphore`].
#[derive(Debug)]
pub struct Async<T> {
    // Declared before `inner`, so dropped first: see `Owner`.
    owner: Owner,
    inner: T,
}

/// What the reactor knows an [`Async`] by. A future leaked with `mem::forget` leaves its
/// entry in the reactor, pointing into the handle's mapping; so before the handle can go away
/// or be replaced (drop, `into_inner`, `get_mut`, `deref_mut`: each needs every borrow of the
/// `Async` over, so any registration still counted is a leaked one), the `Async` takes its
/// entries out of the reactor. One atomic load when there are none.
#[derive(Debug)]
pub(crate) struct Owner {
    id: u64,
    /// Registrations with the reactor not yet given up by their futures.
    pending: std::sync::atomic::AtomicU32,
}

impl Owner {
    fn new() -> Owner {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Owner {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            pending: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Takes the entries of leaked futures out of the reactor.
    fn forget_leaked(&mut self) {
        if *self.pending.get_mut() != 0 {
            if let Ok(r) = reactor::Reactor::get() {
                r.remove_owner(self.id);
            }
            *self.pending.get_mut() = 0;
        }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.forget_leaked();
    }
}

impl<T> Async<T> {
    /// Wraps `inner`. Makes no system call and no thread (the reactor starts with the first
    /// wait that has to sleep).
    pub fn new(inner: T) -> Async<T> {
        Async {
            owner: Owner::new(),
            inner,
        }
    }

    /// The handle.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The handle, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        self.owner.forget_leaked();
        &mut self.inner
    }

    /// Unwraps the handle.
    pub fn into_inner(self) -> T {
        let Async { owner, inner } = self;
        drop(owner);
        inner
    }
}

impl<T> std::ops::Deref for Async<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> std::ops::DerefMut for Async<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.get_mut()
    }
}

impl<T: Awaitable> Async<T> {
    /// The future of an operation on `&'a mut T`, from its `try_` form.
    fn op<'a, R>(
        &'a mut self,
        f: impl FnMut(&'a mut T) -> Result<R> + Send + Unpin + 'a,
    ) -> impl Future<Output = Result<R>> + 'a
    where
        T: 'a,
    {
        Op::exclusive(&mut self.inner, &self.owner, Mut(f))
    }

    /// The future of an operation on `&'a T`, from its `try_` form.
    fn op_ref<'a, R>(
        &'a self,
        f: impl FnMut(&'a T) -> Result<R> + Send + Unpin + 'a,
    ) -> impl Future<Output = Result<R>> + 'a
    where
        T: 'a,
    {
        Op::shared(&self.inner, &self.owner, Ref(f))
    }
}

/// `fut`, or [`Error::Timeout`] naming `name` once `deadline` has passed (tokio's timer: the
/// monotonic clock). Dropping `fut` there loses nothing: every future here is
/// cancellation-safe.
async fn within<R>(
    name: String,
    deadline: Instant,
    fut: impl Future<Output = Result<R>>,
) -> Result<R> {
    match tokio::time::timeout_at(deadline.into(), fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout { name }),
    }
}

/// `now + timeout`, or `None` if that is beyond what `Instant` holds (then: no deadline).
fn after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// The `_timeout` and `_deadline` forms of the async operation `$op` of an `Async<_>`, written
/// once so that every operation has both (the crate's convention: four forms of every wait;
/// the `try_` form is the handle's own, through [`Async::get_mut`]).
macro_rules! timed_forms {
    ($recv:ident; $op:ident, $timeout:ident, $deadline:ident ($($arg:ident: $ty:ty),*) -> $out:ty) => {
        #[doc = concat!("Like [`Self::", stringify!($op), "`], giving up after `timeout`.")]
        ///
        /// # Errors
        ///
        #[doc = concat!("As [`Self::", stringify!($op), "`], and [`Error::Timeout`].")]
        pub async fn $timeout(self: $recv!(), $($arg: $ty,)* timeout: Duration) -> Result<$out> {
            let name = self.name().to_owned();
            match $crate::aio::after(timeout) {
                Some(deadline) => $crate::aio::within(name, deadline, self.$op($($arg),*)).await,
                None => self.$op($($arg),*).await,
            }
        }

        #[doc = concat!("Like [`Self::", stringify!($op), "`], giving up at `deadline` \
            (monotonic clock).")]
        ///
        /// # Errors
        ///
        #[doc = concat!("As [`Self::", stringify!($op), "`], and [`Error::Timeout`].")]
        pub async fn $deadline(self: $recv!(), $($arg: $ty,)* deadline: Instant) -> Result<$out> {
            let name = self.name().to_owned();
            $crate::aio::within(name, deadline, self.$op($($arg),*)).await
        }
    };
}
use timed_forms;

/// `&mut Self`, for [`timed_forms`].
macro_rules! by_mut {
    () => {
        &mut Self
    };
}
use by_mut;

/// `&Self`, for [`timed_forms`].
macro_rules! by_ref {
    () => {
        &Self
    };
}
use by_ref;

/// The async forms of a typed receiving side (`$recv`, a typed channel consumer or broadcast
/// subscriber) and a typed sending side (`$send`), whose loan and sample types are in `$m`:
/// written once for channels and broadcasts, as `channel::typed_core` is.
macro_rules! typed_forms {
    ($recv:ident, $send:ident, $($m:ident)::+) => {
        impl<T: Pod> Async<$($m)::+::$recv<T>> {
            /// Receives the next value in place: [`channel::typed_core::Receiver::recv`], awaiting.
            /// Cancellation-safe.
            ///
            /// # Errors
            ///
            /// As [`channel::typed_core::Receiver::recv`].
            pub fn recv(
                &mut self,
            ) -> impl Future<Output = Result<$($m)::+::Sample<'_, T>>> + Send + '_ {
                self.op(|c| c.try_recv())
            }

            /// Receives the next value by copy: [`channel::typed_core::Receiver::recv_copy`], awaiting.
            /// Cancellation-safe.
            ///
            /// # Errors
            ///
            /// As [`channel::typed_core::Receiver::recv`].
            pub fn recv_copy(&mut self) -> impl Future<Output = Result<T>> + Send + '_ {
                self.op(|c| c.try_recv_copy())
            }

            timed_forms!(by_mut; recv, recv_timeout, recv_deadline () -> $($m)::+::Sample<'_, T>);
            timed_forms!(by_mut; recv_copy, recv_copy_timeout, recv_copy_deadline () -> T);
        }

        impl<T: Pod + Sync> Async<$($m)::+::$send<T>> {
            /// Loans room for one `T`: [`channel::typed_core::Sender::loan`], awaiting room (ring space, or a broadcast slot).
            /// Cancellation-safe.
            ///
            /// # Errors
            ///
            /// As [`channel::typed_core::Sender::loan`].
            pub fn loan(
                &mut self,
            ) -> impl Future<Output = Result<$($m)::+::Loan<'_, T>>> + Send + '_ {
                self.op(|p| p.try_loan())
            }

            /// Copies `value` in and publishes it: [`channel::typed_core::Sender::send`], awaiting room (ring space, or a broadcast slot).
            /// Cancellation-safe.
            ///
            /// # Errors
            ///
            /// As [`channel::typed_core::Sender::send`].
            pub fn send<'a>(&'a mut self, value: &'a T) -> impl Future<Output = Result<()>> + Send + 'a {
                self.op(move |p| p.try_send(value))
            }

            timed_forms!(by_mut; loan, loan_timeout, loan_deadline () -> $($m)::+::Loan<'_, T>);
            timed_forms!(by_mut; send, send_timeout, send_deadline (value: &T) -> ());
        }

        /// The copying and slice receives of a typed receiving side, awaiting.
        impl<T: Pod + Send> Async<$($m)::+::$recv<T>> {
            /// Receives the next value into `value`: [`channel::typed_core::Receiver::recv_into`],
            /// awaiting. Cancellation-safe.
            ///
            /// # Errors
            ///
            /// As [`channel::typed_core::Receiver::recv`].
            pub fn recv_into<'a>(
                &'a mut self,
                value: &'a mut T,
            ) -> impl Future<Output = Result<()>> + Send + 'a {
                self.op(move |s| s.try_recv_into(value))
            }

            /// Receives the next slice in place: [`channel::typed_core::Receiver::recv_slice`],
            /// awaiting. Cancellation-safe.
            ///
            /// # Errors
            ///
            /// As [`channel::typed_core::Receiver::recv_slice`].
            pub fn recv_slice(
                &mut self,
            ) -> impl Future<Output = Result<$($m)::+::SliceSample<'_, T>>> + Send + '_ {
                self.op(|s| s.try_recv_slice())
            }

            /// Receives the next slice into `buf`; returns its length:
            /// [`channel::typed_core::Receiver::recv_slice_into`], awaiting. Cancellation-safe.
            ///
            /// # Errors
            ///
            /// As [`channel::typed_core::Receiver::recv_slice`].
            pub fn recv_slice_into<'a>(
                &'a mut self,
                buf: &'a mut Vec<T>,
            ) -> impl Future<Output = Result<usize>> + Send + 'a {
                self.op(move |s| s.try_recv_slice_into(buf))
            }

            timed_forms!(by_mut; recv_into, recv_into_timeout, recv_into_deadline (value: &mut T) -> ());
            timed_forms!(by_mut; recv_slice, recv_slice_timeout, recv_slice_deadline () -> $($m)::+::SliceSample<'_, T>);
            timed_forms!(by_mut; recv_slice_into, recv_slice_into_timeout, recv_slice_into_deadline (buf: &mut Vec<T>) -> usize);
        }

        /// The slice loans and sends of a typed sending side, awaiting.
        impl<T: Pod + Sync> Async<$($m)::+::$send<T>> {
            /// Loans room for `len` values: [`channel::typed_core::Sender::loan_slice`], awaiting
            /// room. Cancellation-safe.
            ///
            /// # Errors
            ///
            /// As [`channel::typed_core::Sender::loan_slice`].
            pub fn loan_slice(
                &mut self,
                len: usize,
            ) -> impl Future<Output = Result<$($m)::+::SliceLoan<'_, T>>> + Send + '_ {
                self.op(move |p| p.try_loan_slice(len))
            }

            /// Copies `values` in and publishes them: [`channel::typed_core::Sender::send_slice`],
            /// awaiting room (ring space, or a broadcast slot). Cancellation-safe.
            ///
            /// # Errors
            ///
            /// As [`channel::typed_core::Sender::send_slice`].
            pub fn send_slice<'a>(
                &'a mut self,
                values: &'a [T],
            ) -> impl Future<Output = Result<()>> + Send + 'a {
                self.op(move |p| p.try_send_slice(values))
            }

            timed_forms!(by_mut; loan_slice, loan_slice_timeout, loan_slice_deadline (len: usize) -> $($m)::+::SliceLoan<'_, T>);
            timed_forms!(by_mut; send_slice, send_slice_timeout, send_slice_deadline (values: &[T]) -> ());
        }
    };
}
use typed_forms;
