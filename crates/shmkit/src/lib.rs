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
//!   [`Semaphore`](sync::Semaphore)s and [`Shared<T>`](sync::Shared);
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
//! See the module docs of [`segment`] for lifetime rules and [`name`] for naming rules per OS.
//!
//! # Liveness
//!
//! Whether the holder of a role (a channel side, a broadcast subscriber, an object's creator)
//! is still there is asked of the kernel, never of a bare pid, so it holds between pid
//! namespaces (containers sharing `/dev/shm`) and after pid reuse: on Linux an
//! open-file-description lock per role, on Windows a named event per claim, on macOS — which
//! has neither — the holder's pid (a reused pid fools it). The README's "Liveness" section
//! has the table; [`inspect`] reports the holders.
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
//!   [`channel::typed::Consumer::recv_copy`](crate::channel::message::Receiver::recv_copy),
//!   [`channel::broadcast::typed::Subscriber::recv_copy`](
//!   crate::channel::message::Receiver::recv_copy), [`sync::SharedGuard::get`],
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
pub use view::{Access, View};
pub use waitset::{WaitSet, Waitable};

/// The README's Rust examples are compiled as doctests, so they cannot rot (with the `tokio`
/// feature, which its async example needs; `cargo test --workspace` turns it on).
#[cfg(all(doctest, feature = "tokio"))]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
