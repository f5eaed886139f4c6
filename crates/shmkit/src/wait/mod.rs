//! How shmkit waits: the layer below everything that waits (`sync`, `channel`, `service`,
//! `waitset`, `aio`), above the OS (`sys`) and the object header (`object`, `liveness`).
//! Nothing here knows a channel, a service or a wait set; they all build on these pieces:
//!
//! * [`Notifier`] (`notifier.rs`): "sleep until this word changes", across processes — the
//!   one implementation of the sleeping protocol (a Dekker pair with a sleeper count), on one
//!   word or on many at once ([`sleep_any`], for wait sets);
//! * the two kinds of *bell*, the one name for a place where a process sleeps until another
//!   wakes it: a [`Bell`] (`bell.rs`) is a sequence word that ringing bumps, with its sleeper
//!   count beside it (channel sides, a service's server); a [`StateBell`] (`state_bell.rs`)
//!   sleeps on an event's or a semaphore's state word itself, with the count in the object's
//!   header and a sleeper gate that repairs counts dead sleepers left raised;
//! * [`Backoff`] (`backoff.rs`): the spin / yield / sleep policy;
//! * peer-gone checks (`peer.rs`): whether the side a waiter waits for is still there;
//! * [`until`] (`until.rs`): the one wait loop for a single handle, built from the above,
//!   taking a deadline (`sys::Deadline`: try, until an instant, for ever);
//! * sleep points ([`Point`], `point.rs`): what a wait set or the async reactor needs to
//!   sleep for a handle, and the crate-internal traits that hand them out.

mod backoff;
mod bell;
mod notifier;
mod peer;
mod point;
mod state_bell;
mod until;

pub(crate) use backoff::{Backoff, SPINS};
pub(crate) use bell::Bell;
pub(crate) use notifier::{sleep_any, Member, Notifier};
pub(crate) use peer::{Peer, Side, ATTACHED, CLOSED};
#[cfg(feature = "tokio")]
pub(crate) use point::Awaitable;
pub(crate) use point::{Point, Sealed, Source};
pub(crate) use state_bell::{StateBell, ALL, UNGATED_NAP};
pub(crate) use until::until;
