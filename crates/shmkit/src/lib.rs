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
//!   [`Semaphore`](sync::Semaphore)s and [`Shared<T>`](sync::Shared).
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
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod channel;
mod copy;
mod error;
mod file;
pub mod inspect;
pub mod name;
pub mod segment;
pub mod sync;
mod sys;
mod view;

pub use error::{Error, Result};
pub use file::{FileMapping, FileOptions};
pub use segment::{Segment, SegmentOptions};
pub use view::{Access, View};

/// The README's Rust examples are compiled as doctests, so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
