//! Process-shared synchronisation: a robust [`Mutex`], [`Event`]s, [`Semaphore`]s and
//! [`Shared<T>`] (with [`SharedBytes`], the same object for a layout known only at run time:
//! bindings), each a named segment that any process can open.
//!
//! ```
//! use shmkit::sync::{Event, LockError, Pod, Reset, Shared, Zeroable};
//!
//! #[repr(C)]
//! #[derive(Clone, Copy, Pod, Zeroable)]
//! #[bytemuck(crate = "shmkit::bytemuck")] // the derives, through shmkit's re-export
//! struct Stats { frames: u64, dropped: u64 }
//!
//! # let name = format!("doc-sync-{}", std::process::id());
//! let stats = Shared::create(&name, Stats { frames: 0, dropped: 0 })?; // or Shared::<Stats>::open
//! let mut s = match stats.lock() {
//!     Ok(guard) => guard,
//!     // A holder was killed mid-update: repair the value here, then mark it consistent.
//!     Err(LockError::OwnerDied(guard)) => { guard.make_consistent(); guard }
//!     Err(LockError::Other(e)) => return Err(e),
//! };
//! s.frames += 1;
//! drop(s);
//! // `stats.lock()?` works too: on an owner death it releases the lock unrepaired, and the
//! // next holder (in any process) gets `OwnerDied` in turn.
//!
//! let ready = Event::create(&format!("{name}-ready"), Reset::Auto)?;
//! ready.set()?;  // another process: Event::open(..)?.wait()?
//! ready.wait()?;
//! # Ok::<(), shmkit::Error>(())
//! ```
//!
//! # Design
//!
//! Every object is a segment with a versioned header (see `object/header.rs` for the layout), so
//! opening the wrong thing is a typed error, and `shmkit ls` can tell what a segment is.
//!
//! * **Mutex** — the OS's robust mutex: Linux `pthread_mutex_t` with `PTHREAD_MUTEX_ROBUST`
//!   in the segment (glibc owns the robust list, so a home-made futex mutex could not be
//!   robust safely), a named kernel mutex on Windows (`WAIT_ABANDONED`), a pid-owner word on
//!   macOS. The owner-died / repair / unrecoverable rule is the same on all of them; see
//!   [`LockError`].
//! * **Event, Semaphore** — an atomic word in the segment is the state; waiting is "sleep while
//!   the word is X": a futex on Linux (without `FUTEX_PRIVATE_FLAG`, so it works across
//!   processes), a named kernel semaphore on Windows (`WaitOnAddress` is per-process), polling
//!   on macOS. A sleeper count next to the word lets `set`/`post` skip the syscall when nobody
//!   sleeps; on Linux a count left raised by a sleeper killed asleep is reset once provably
//!   stale. The protocol, its orderings and that repair are in the crate's wait layer
//!   (`wait/notifier.rs`, `wait/state_bell.rs`).
//! * Every wait has `try_`, blocking and timeout forms; deadlines use the monotonic clock
//!   (`Instant`, `CLOCK_MONOTONIC`), and spurious wake-ups are absorbed by re-checking the word.
//!
//! # Trust
//!
//! Headers, sizes and layouts are checked on open, so a foreign, truncated, mistyped or
//! future segment is a typed error. A [`Mutex`] or [`Shared<T>`] on Linux is the one
//! exception to "nothing read from a segment can make shmkit touch memory outside it": its
//! `pthread_mutex_t` holds glibc's robust-list pointers, so share it only with processes you
//! would trust with your own memory (the [trust model](crate#trust-model) says why). Events
//! and semaphores keep only counters in the segment: a hostile writer can set, reset or drain
//! them (denial of service), nothing more.
//!
//! [`SharedGuard`] dereferences to `&T` over the segment, sound while every writer follows
//! the lock; [`SharedGuard::get`] / [`SharedGuard::set`] copy instead. See the
//! [crate docs](crate#trust-model).
//!
//! # Platform notes
//!
//! | | Linux | Windows | macOS |
//! |---|---|---|---|
//! | mutex | robust pthread mutex | kernel mutex `<name>.lock` | pid word, polled; a reused pid looks alive |
//! | owner killed | `EOWNERDEAD` | `WAIT_ABANDONED` | pid found dead after ≤ 20 ms |
//! | event/semaphore wait | futex | kernel semaphore `<name>.wake` | polling 1–10 ms |

mod event;
mod lock;
mod mutex;
mod semaphore;
mod shared;
mod shared_bytes;

pub use event::{Event, EventOptions, Reset};
pub use lock::{LockError, LockGuard, LockResult};
pub use mutex::{Mutex, MutexGuard, MutexOptions};
pub use semaphore::{Semaphore, SemaphoreOptions};
pub use shared::{Shared, SharedGuard, SharedOptions};
pub use shared_bytes::{SharedBytes, SharedBytesGuard, SharedBytesOptions, MAX_ALIGN};

/// `bytemuck`'s traits for plain-old-data types, which typed objects carry. Their derive macros
/// name the `bytemuck` crate: with only `shmkit` in your `[dependencies]`, tell them where it
/// is, `#[bytemuck(crate = "shmkit::bytemuck")]`:
///
/// ```
/// use shmkit::sync::{Pod, Zeroable};
///
/// #[repr(C)]
/// #[derive(Clone, Copy, Pod, Zeroable)]
/// #[bytemuck(crate = "shmkit::bytemuck")]
/// struct Stats { frames: u64, dropped: u64 }
/// ```
pub use bytemuck::{Pod, Zeroable};
