//! Process-shared synchronisation: a robust [`Mutex`], [`Event`]s, [`Semaphore`]s and
//! [`Shared<T>`], each a named segment that any process can open.
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
//! future segment is a typed error, and no value read from a segment can make shmkit access
//! memory outside it — with one exception. On Linux the `pthread_mutex_t` of a [`Mutex`] or
//! [`Shared<T>`] lives in the segment, and glibc links a held robust mutex into the locking
//! thread's robust list through pointers stored in the mutex itself; when the holder unlocks,
//! glibc writes through them. A process that can write the segment can therefore corrupt
//! the holder's memory, not only the mutex. Processes that share a `Mutex` or `Shared<T>`
//! with write access are trusted as you would trust code in your own process. Events and
//! semaphores keep only counters in the segment: a hostile writer can set, reset or drain
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

pub use event::{Event, EventOptions, Reset};
pub use lock::{LockError, LockGuard, LockResult};
pub use mutex::{Mutex, MutexGuard, MutexOptions};
pub use semaphore::{Semaphore, SemaphoreOptions};
pub use shared::{Shared, SharedGuard, SharedOptions};

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
