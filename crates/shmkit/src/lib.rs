//! Fast, safe, cross-platform inter-process communication over named shared memory.
//!
//! shmkit wraps the classic recipe — POSIX `shm_open` + `mmap`, Win32 `CreateFileMapping` +
//! `MapViewOfFile` — so that names, sizes, access rights and lifetime are checked and typed:
//!
//! * [`Segment`]: a named block of raw bytes that any process can open by name
//!   (also C programs and Python's `multiprocessing.shared_memory`);
//! * [`View`]: a mapped range of it, [`Access::ReadOnly`], [`Access::ReadWrite`] or
//!   [`Access::CopyOnWrite`], with copying reads and writes that stay sound while other
//!   processes write the same memory;
//! * [`FileMapping`]: the same views over a file, with [`View::flush`];
//! * [`sync`]: a robust process-shared [`Mutex`](sync::Mutex), [`Event`](sync::Event)s,
//!   [`Semaphore`](sync::Semaphore)s and [`Shared<T>`](sync::Shared) (and its byte form
//!   [`SharedBytes`](sync::SharedBytes), for layouts known at run time);
//! * [`channel`]: SPSC channels and broadcast, zero-copy, bytes or typed;
//! * [`service`]: request/response between one server and many clients;
//! * [`WaitSet`]: block until any of many channel sides, subscribers, events and semaphores is
//!   ready.
//!
//! ```
//! use shmkit::{Access, Segment};
//! # let name = format!("doc-lib-{}", std::process::id());
//! // Process A: create a 4 KiB segment and copy a message in (never a pointer).
//! let seg = Segment::create(&name, 4096)?;
//! seg.map(Access::ReadWrite)?.write_at(0, b"hello from A")?;
//!
//! // Process B: open it by name and copy the message out.
//! let view = Segment::open(&name)?.map(Access::ReadOnly)?;
//! assert_eq!(view.read_vec(0, 12)?, b"hello from A");
//! # Ok::<(), shmkit::Error>(())
//! ```
//!
//! Each kind's module docs begin with a quick start. The rules below hold for every kind.
//!
//! # Names
//!
//! A name is a plain token (1–253 bytes, 30 on macOS; no `/`, `\` or NUL; not `.` or `..`),
//! checked before any OS call ([`Error::NameInvalid`]). Name `foo` is the object a C program
//! opens with `shm_open("/foo", …)` (Windows: `OpenFileMappingA(…, "foo")`) and Python with
//! `SharedMemory("foo")`: see [`name`] for how each OS spells it.
//!
//! # Lifetime
//!
//! The creator owns the name: dropping the handle that created an object removes the name,
//! unless it was told to keep it (`keep(true)` on every kind's options). Openers never
//! remove a name, and mappings stay valid after it is gone. Windows has no unlink: an object
//! lives exactly while some process has it open. Details in [`segment`].
//!
//! # Conventions
//!
//! Every kind has the same shape: whoever has learnt one has learnt them all.
//!
//! * **One entry point per kind.** A kind that is one handle has `Type::options()`
//!   ([`Segment::options`], [`FileMapping::options`], [`Mutex::options`](sync::Mutex::options),
//!   [`Event::options`](sync::Event::options), [`Semaphore::options`](sync::Semaphore::options),
//!   [`Shared::options`](sync::Shared::options),
//!   [`SharedBytes::options`](sync::SharedBytes::options)); a pattern with several sides has a module
//!   function ([`channel::options`], [`channel::broadcast::options`], [`service::options`];
//!   typed: `channel::typed::<T>()`, `broadcast::typed::<T>()`,
//!   `service::typed::<Req, Resp>()`). Options take `&mut self` setters and end in a verb that
//!   takes the name.
//! * **The same verbs.** `create`, `open`, `open_or_create`; for patterns with roles
//!   `create_<role>`, `open_<role>`, `open_or_create_<role>` (`create_producer`,
//!   `open_consumer`, `create_publisher`, `open_subscriber`, `create_server`, `open_client`),
//!   module shortcuts included. `send` copies a message in; `loan(len)`, write in place,
//!   `commit()`; `recv` takes a message out (`recv_into` copies it out); `respond` answers.
//! * **Four forms of every wait.** `x()` blocks; `try_x()` never waits
//!   ([`Error::WouldBlock`]); `x_timeout(Duration)` and `x_deadline(Instant)` give up with
//!   [`Error::Timeout`]. One loop takes the deadline; the other forms are thin. A call that
//!   never waits (`Client::request` and `Client::loan`, `Semaphore::post`, `respond`) has no
//!   `try_` twin.
//! * **Waiting for an object.** Every options builder with an `open*` verb has
//!   `open_timeout(Duration)`: how long the open waits for the object to appear (default
//!   zero); when the time is up the error is the [`Error::NotFound`] the open would have
//!   returned. A broadcast publisher waits for subscribers with `wait_for_subscribers(n)`
//!   (all four forms).
//! * **The same knobs.** `mode` is permission bits, only. How a side waits is a
//!   [`WaitStrategy`](channel::WaitStrategy): an options setter `wait_strategy(..)`, and
//!   `set_wait_strategy(..)` / `wait_strategy()` on every side that spins before it sleeps
//!   (events, semaphores and mutexes sleep at once and have none). Broadcast's overflow
//!   rule is its `policy`. Sizes are `capacity` (ring bytes), `slots`, `slot_size`, and
//!   `max_*` for limits.
//! * **Every side that waits is [`Waitable`]** (and has `aio` forms, with their `_timeout`
//!   and `_deadline` twins): channel producers and
//!   consumers, broadcast publishers and subscribers, service servers and clients, their
//!   typed forms, events and semaphores. Ready means the next `try_` call would not return
//!   `WouldBlock` (exceptions, as with `poll(2)`, in the [`waitset`] docs).
//! * **One error, one meaning.** [`Error::NotFound`] is only ever about a named object; a
//!   request that is not outstanding is [`Error::NotOutstanding`]. A handle tests its peer
//!   at most every 50 ms, whatever the kind; a wait set or the async reactor, which test all
//!   their members at once, every [`waitset::LIVENESS_EVERY`] (100 ms).
//!
//! Exceptions, on purpose: `Client::call` (request, then wait) has no `try_` form, since a
//! request cannot be answered without waiting; use `request` and `wait_timeout` for the
//! others. [`sync::Mutex`] and [`sync::Shared`] have the four forms of `lock` but
//! are neither [`Waitable`] nor awaitable: on Linux their lock is a robust `pthread_mutex_t`,
//! whose futex protocol glibc owns (a wait set cannot sleep on it beside other words), and a
//! lock is meant to be held briefly, not waited on among other events. The crate's tests name every form of every kind (`tests/it/convention.rs`), so a
//! kind that leaves the convention does not compile.
//!
//! # Liveness
//!
//! Every holder of a role — an object's creator, a channel's producer and consumer, a
//! broadcast's publisher and each subscriber, a service's server and each client — holds
//! something the kernel gives up when its process dies, and peers test it without taking it.
//! A pid is never the test: pids mean nothing in another pid namespace (containers that share
//! `/dev/shm`: Kubernetes pods with a memory-backed `/dev/shm`, `docker run
//! --ipc=container:…`) and are reused.
//!
//! | OS | a role is held by | tested with | survives pid namespaces | immune to pid reuse |
//! |---|---|---|---|---|
//! | Linux | an open-file-description lock (`F_OFD_SETLK`) on one byte per role of the segment's descriptor; every handle also holds a shared lock as a *user* | `F_OFD_GETLK` | yes | yes |
//! | Windows | a named event per claim, `<name>.h<slot>.<generation>`, alive while its holder's handle is open | `OpenEventW` | (no pid namespaces) | yes |
//! | macOS | the holder's pid — the best there is without OFD locks | `kill(pid, 0)` | (no pid namespaces) | **no**: a reused pid keeps a dead holder "alive" until that process exits |
//!
//! A peer that dies without closing is noticed within ~50 ms (one test per handle per 50 ms,
//! rate-limited, also when polling with `try_` calls). The pid in a role word is kept for
//! display only. A role is released with a compare-exchange on the holder's own word, so a
//! successor is never clobbered. [`inspect`] (and `shmkit ls`, `info` and `gc`) ask the same
//! mechanism: [`inspect::remove_unused`] removes only shmkit objects that no process has
//! open, and never raw segments. A descriptor inherited across `fork` without `exec` shares
//! its lock (shmkit opens everything close-on-exec), so a forked child keeps its parent's
//! roles alive while it runs; when the child drops its copies of the parent's handles,
//! nothing is given back (no role, lock or name): they stay the parent's.
//!
//! # Space
//!
//! On Linux, creating a segment reserves its pages (`fallocate`), so a full `/dev/shm`
//! (64 MiB in many containers) is [`Error::NoSpace`] at creation instead of a SIGBUS on first
//! touch. [`SegmentOptions::reserve`]`(false)` skips that for a plain segment; objects
//! (channels, sync objects, services) always reserve.
//!
//! # Trust model
//!
//! Processes that open an object **with write access** are cooperating peers: shmkit
//! processes, or programs that follow the documented layout. Mode bits
//! ([`SegmentOptions::mode`] and the `mode` of every object's options) decide who that is;
//! give everyone else read-only access or none.
//!
//! A hostile writer — any process that can open the segment read-write — **can**:
//!
//! * change message bytes while a peer looks at them in place. [`channel::Sample`] and
//!   [`channel::broadcast::Sample`] (a received message, read in place) and [`channel::Loan`]
//!   and [`channel::broadcast::Loan`] dereference to `&[u8]` / `&mut [u8]`,
//!   [`channel::typed::Sample`] and [`channel::broadcast::typed::Sample`] to `&T`,
//!   [`service::Response`] to `&[u8]`, and
//!   [`sync::SharedGuard`] to `&T` / `&mut T`, over
//!   memory such a process can write. Rust promises that the bytes behind a `&[u8]` do not
//!   change, so a write there while the reference lives is undefined behaviour in the reading
//!   process, even though shmkit handed the reference out in safe code. With cooperating
//!   peers the protocol excludes such writes (the ring slot belongs to one side; a broadcast
//!   slot is written only when no subscriber holds it; the value is only written under the
//!   lock). When the peer is not trusted, copy the data out and validate the copy:
//!   [`channel::Consumer::recv_into`], [`channel::broadcast::Subscriber::recv_into`],
//!   [`channel::typed::Consumer::recv_copy`](crate::channel::typed_core::Receiver::recv_copy),
//!   [`channel::broadcast::typed::Subscriber::recv_copy`](
//!   crate::channel::typed_core::Receiver::recv_copy), [`sync::SharedGuard::get`],
//!   [`View::read_at`];
//! * make peers see [`Error::Corrupt`], [`Error::Disconnected`], lost or garbage messages,
//!   a mutex that is never released, or a lock or channel that looks busy forever (denial of
//!   service);
//! * shrink the segment with `ftruncate`, after which every process that touches a page
//!   beyond the new end dies of SIGBUS (see [`View`]'s docs; also true of files).
//!
//! It **cannot** make shmkit read or write outside the mapping, or panic: every header,
//! position, length and count read from a segment is checked before use (`Frame::decode`
//! and the position checks of the ring, the broadcast geometry and stamps, the object header),
//! and copies out of shared memory go into private buffers. One exception, a property of the
//! OS primitive: on Linux, [`sync::Mutex`] and [`sync::Shared`] use a robust
//! `pthread_mutex_t` inside the segment, and glibc links a held robust mutex into the
//! locking thread's robust list through pointers stored *in the mutex*. A process that can
//! write the segment can overwrite those pointers, and glibc then writes through them when
//! the holder unlocks: memory corruption in the holder. Share a `Mutex` or `Shared<T>` only
//! with processes you would trust with your own memory. (Windows uses a kernel mutex and
//! macOS a pid word; neither stores pointers in the segment.)
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod aio;
mod atomic_copy;
mod atomic_shim;
pub mod channel;
mod error;
mod file;
pub mod inspect;
mod liveness;
pub mod name;
mod object;
pub mod segment;
pub mod service;
pub mod sync;
mod sys;
mod view;
mod wait;
pub mod waitset;

#[cfg(all(test, shmkit_loom))]
mod loom_tests;

/// The `bytemuck` crate shmkit's typed objects are built on, re-exported so that a crate
/// depending on `shmkit` alone can derive [`sync::Pod`] and [`sync::Zeroable`]: add
/// `#[bytemuck(crate = "shmkit::bytemuck")]` beside the derive (see [`sync::Pod`]).
#[doc(no_inline)]
pub use bytemuck;
pub use error::{Error, Result};
pub use file::{FileMapping, FileOptions};
pub use segment::{Segment, SegmentOptions};
pub use sys::Deadline;
pub use view::{Access, View};
pub use waitset::{WaitSet, Waitable};

/// The README's Rust examples are compiled as doctests, so they cannot rot (with the `tokio`
/// feature, as `cargo test --workspace` builds the crate, so that an async example may be
/// among them).
#[cfg(all(doctest, feature = "tokio"))]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
