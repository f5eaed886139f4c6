//! The C API of shmkit: every kind of the Rust library behind opaque handles and status codes.
//!
//! This crate builds `libshmkit_c` (a shared and a static library) whose functions are
//! declared in `include/shmkit.h`, generated from this source by cbindgen and committed
//! (`tests/header.rs` fails when it is stale; `SHMKIT_BLESS=1 cargo test -p shmkit-c --test
//! header` rewrites it). `include/shmkit.hpp` is a C++17 header-only wrapper over it. It wraps
//! the public Rust API only, so C, C++, Rust and Python programs share every object.
//!
//! # Conventions (every function follows them)
//!
//! * **Names.** `shmkit_<kind>_<verb>`, with the Rust verbs: `create`, `open`,
//!   `open_or_create`, and for patterns with roles `create_producer`, `open_consumer`,
//!   `create_publisher`, `open_subscriber`, `create_server`, `open_client`; `send` copies a
//!   message in, `loan` / write in place / `commit`, `recv` reads one in place until
//!   `release`, `recv_into` copies it out.
//! * **Status codes.** Every call that can fail returns a [`shmkit_status`]: `SHMKIT_OK` (0)
//!   or the code of the Rust [`shmkit::Error`] variant. The message, with the object's name,
//!   is [`shmkit_last_error`] on the same thread; [`shmkit_last_error_value`] carries the
//!   number some errors have (messages missed for `SHMKIT_LAGGED`, …). A misused call (a NULL
//!   handle, a string that is not UTF-8, `commit` without a loan) is
//!   `SHMKIT_INVALID_ARGUMENT`; a panic inside shmkit never crosses into C: it is caught and
//!   returned as `SHMKIT_PANIC`.
//! * **Handles.** Opaque pointers returned through an out-parameter, which is written only on
//!   success. Each has one `shmkit_<kind>_close`, which accepts NULL and gives back what the
//!   handle holds (its role, a loan, a received message; the name, for the creator, unless
//!   `keep`). A handle is not to be used from two threads at the same time (as Rust's
//!   `&mut`), except where a function says it may; different handles are independent.
//! * **Options.** Every verb takes a `const shmkit_<kind>_options *`, NULL for the defaults;
//!   `shmkit_<kind>_options_default()` returns the defaults to change a field or two.
//! * **Waits.** Every call that may wait takes `int64_t timeout_ns`: [`SHMKIT_FOREVER`]
//!   (any negative value) blocks, [`SHMKIT_TRY`] (0) never waits (`SHMKIT_WOULD_BLOCK`),
//!   a positive value gives up with `SHMKIT_TIMEOUT`: the four Rust forms in one argument.
//! * **Pointers into shared memory.** A loan's or received message's pointer is valid until
//!   the call that ends it (`commit`/`abort`, `release`) or the handle's close, whichever
//!   comes first. Strings returned by `shmkit_*_name` live as long as their handle; those
//!   returned through an out-parameter (the JSON of `shmkit_inspect` and `shmkit_list`)
//!   belong to the caller, who frees them with `shmkit_string_free`.
//!
//! # What a hostile peer can do
//!
//! As in Rust (see the crate docs of `shmkit`, "Trust model"): a process that can open an
//! object read-write can change bytes a C program reads in place, make calls fail with
//! `SHMKIT_CORRUPT`, `SHMKIT_DISCONNECTED` or lost messages, and hold locks forever; it
//! cannot make shmkit read or write outside the mapping. Copy out (`recv_into`, `read`)
//! and validate what comes from an untrusted peer.

#![allow(non_camel_case_types)]

mod broadcast;
mod channel;
mod common;
mod file;
mod inspect;
mod rx;
mod segment;
mod service;
mod status;
mod sync;
mod tx;
mod waitset;

pub use broadcast::*;
pub use channel::*;
pub use common::*;
pub use file::*;
pub use inspect::*;
pub use segment::*;
pub use service::*;
pub use status::*;
pub use sync::*;
pub use waitset::*;
